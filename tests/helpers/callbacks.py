"""Callback requests for the event-notification tests: executed by the engine through the
simulated switch (request_callback), or left alone while the test writes their statuses
through the core (services.core.callbacks.record_status, as the engine does); and the
browser side: the jQuery SignalR client installed from the npm registry, the customer's
page served from another origin, and driving that page in Chromium."""
from __future__ import annotations

import itertools
import secrets
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import select

from services.core import callbacks
from storage.models import CallbackEvent, CallbackRequest

from . import buzzeasy, cache

VERSIONS = ["2.2.1", "2.4.3"]  # the npm `signalr` clients tested: the oldest published and the newest
SUCCESS = ["CallingUser", "UserConnected", "CallingAgent", "AgentConnected", "CallAccepted", "CallSucceeded"]
NPM_CACHE = cache.ROOT / "npm"
_numbers = itertools.count(1)

# The callback engine through the simulated switch, slowed so statuses arrive while the page watches.
ENGINE = {**buzzeasy.FAST_ENGINE, "callback_answer_after_s": 1.0, "callback_talk_s": 1.5}


def request_callback(live, phone: str) -> str:
    """RequestCallWhenAvailable over the seed's REST URL: the confirmation code."""
    answer = buzzeasy.rest(live, "RequestCallWhenAvailable", {
        "name": "Customer", "phoneNo": phone, "serviceQueue": "1", "company": "1",
        "password": buzzeasy.COMPANY_PASSWORD}).json()
    assert answer["ResultCode"] == 0, answer
    return answer["ConfirmationCode"]


def new_request(database, company_id: int = 1, queue_id: int = 1) -> str:
    """A callback request of company 1 that the engine leaves alone (no next attempt):
    the test writes its statuses. Its confirmation code."""
    code = f"{secrets.randbelow(10 ** 10):010d}"
    with database.session() as session:
        session.add(CallbackRequest(
            confirmation_code=code, pin=code[-6:], company_id=company_id, queue_id=queue_id,
            name=f"Customer {next(_numbers)}", phone_e164="+447700900123", requested_at=datetime.now(timezone.utc),
            state="open"))
    return code


def record(database, code: str, *statuses: str) -> list[int]:
    """Record these statuses, each in its own transaction (as the engine does); their ids."""
    ids = []
    for status in statuses:
        with database.session() as session:
            request = callbacks.by_confirmation_code(session, code)
            ids.append(callbacks.record_status(session, request, status, datetime.now(timezone.utc)).id)
    return ids


def stored_statuses(database, code: str) -> list[str]:
    with database.read_session() as session:
        return list(session.scalars(select(CallbackEvent.status).join(CallbackRequest)
                                    .where(CallbackRequest.confirmation_code == code).order_by(CallbackEvent.id)))


def signalr_client(version: str) -> Path:
    """jQuery 1.9.1 and the `signalr` npm package at `version`, installed once into a cache
    folder: the folder holding jquery.min.js and jquery.signalR.min.js."""
    prefix = NPM_CACHE / f"signalr-{version}"
    target = prefix / "scripts"
    with cache.exclusive(prefix):
        if (target / "jquery.signalR.min.js").exists():
            return target
        npm = shutil.which("npm")
        assert npm, "npm is needed to install the jQuery SignalR client (Debian: nodejs npm)"
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
                        "jquery@1.9.1", f"signalr@{version}"], check=True, capture_output=True, timeout=300)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(prefix / "node_modules" / "jquery" / "jquery.min.js", target / "jquery.min.js")
        shutil.copy(prefix / "node_modules" / "signalr" / "jquery.signalR.min.js", target / "jquery.signalR.min.js")
        return target


class PageServer:
    """A plain static web server on another port: the customer's website (another origin)."""

    def __init__(self, root: Path) -> None:
        handler = partial(_QuietHandler, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="page-server")
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


# --- the customer's page in Chromium (tests/events/customer_page.html) --------------------

def open_page(browser, website, version: str, hub: str, **options):
    page = browser.new_page()
    page.console = []  # the client's log, shown when an assertion fails
    page.on("console", lambda message: page.console.append(message.text))
    query = "&".join([f"hub={hub}"] + [f"{key}={value}" for key, value in options.items()])
    page.goto(f"{website.url}/{version}/index.html?{query}")
    page.wait_for_function("started || errors.length", timeout=20000)
    page.evaluate("connection.logging = true")
    assert page.evaluate("errors") == [], page.console
    return page


def follow(page, code: str) -> None:
    page.fill("#code", code)
    page.click("#subscribecode")


def finish(page, *, network_errors: bool = False) -> list[str]:
    page.wait_for_function("finished || errors.length", timeout=20000)
    if network_errors:  # a cut long poll is reported to the page's error handler, then retried
        page.wait_for_function("finished", timeout=20000)
        assert set(page.evaluate("errors")) <= {"Long polling request failed."}, page.console
    else:
        assert page.evaluate("errors") == [], page.console
    return page.evaluate("received")
