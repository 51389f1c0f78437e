"""Callback requests and their status events for the event-notification tests, written
through the core (services.core.callback_status.record_status, the function the callback
engine calls), plus the two browser-side pieces: the jQuery SignalR client installed from
the npm registry, and a page served from another origin."""
from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from services.core import callback_status
from storage.models import CallbackRequest, CallbackEvent
from sqlalchemy import select

SUCCESS = ["CallingUser", "UserConnected", "CallingAgent", "AgentConnected", "CallAccepted", "CallSucceeded"]
NPM_CACHE = Path(os.environ.get("CALLSUITE_TEST_CACHE", Path.home() / ".cache" / "callsuite-tests")) / "npm"
_numbers = itertools.count(1)


def new_request(database, company_id: int = 1, queue_id: int = 1) -> str:
    """A fresh ASAP callback request of the demo company; its confirmation code."""
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
            request = session.scalar(select(CallbackRequest).where(CallbackRequest.confirmation_code == code))
            ids.append(callback_status.record_status(session, request, status).id)
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
    if not (target / "jquery.signalR.min.js").exists():
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
