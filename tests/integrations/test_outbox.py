"""The durable outbox (CONTRACTS §1, §3 blueButler): a LinkRecording reaches the BMS through
a real local HTTP receiver, with retries and backoff, across a restart, and gives up
("failed") after max_attempts without leaking secrets. Also: several workers sharing one
database deliver each entry exactly once, and a claim lost with its process is retaken
once its lease has run out."""
from __future__ import annotations

import copy
import itertools
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from helpers.postgres import PostgresServer
from helpers.server import DEMO_SITE, start_server
from helpers.soap import zeep_client
from sqlalchemy import select

from services.core.outbox import enqueue
from services.integrations.outbox_worker import OutboxWorker, safe_url
from storage.database import Database, sqlite_url
from storage.models import ActivityLink, OutboxEntry

counter = itertools.count(1)
SECRET = "s3cret-never-logged"


class Receiver:
    """A real HTTP server on 127.0.0.1: answers `statuses` in order, then `then`."""

    def __init__(self, statuses=(), then=200) -> None:
        self.statuses = list(statuses)
        self.then = then
        self.requests: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                with receiver._lock:
                    receiver.requests.append(self.path)
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.then
                body = b"ok" if status < 300 else b"nope"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def queries(self) -> list[dict]:
        with self._lock:
            return [{k: v[0] for k, v in parse_qs(urlsplit(p).query).items()} for p in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(statuses=(), then=200):
        made.append(Receiver(statuses, then))
        return made[-1]

    yield make
    for r in made:
        r.close()


def site_notifying(url: str) -> dict:
    site = copy.deepcopy(json.loads(DEMO_SITE.read_text()))
    site["companies"][0]["bms_notify_url"] = url
    return site


def with_worker(live):
    """The lead wires the outbox worker into System; until then (or if a build does not),
    add one here exactly as the server does."""
    system = live.system
    if not any(isinstance(w, OutboxWorker) for w in system._workers):
        system.add_worker(OutboxWorker(system.database, interval_s=system.settings.outbox_interval_s,
                                       max_attempts=system.settings.outbox_max_attempts))
    return live


def pending_link(live, activity: str) -> None:
    r = requests.get(live.url("/rest/recording/AddLink"), params={"id": activity, "host": "WS-ALICE"}, timeout=10)
    assert r.status_code == 200 and r.json() is None, r.text


def soap_link(live, activity: str, reference: str) -> None:
    client = zeep_client(live.url("/soap/recording?wsdl"))
    link = client.service.LinkRecording(activityId=activity, refNum=reference)
    assert (link.State, link.ReferenceNumber) == ("linked", reference)


def entries_in(database) -> list[OutboxEntry]:
    with database.session() as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def outbox_entries(live) -> list[OutboxEntry]:
    return entries_in(live.db)


def wait_for(predicate, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def test_link_reaches_the_bms_after_two_failures(tmp_path, receiver):
    bms = receiver(statuses=[500, 500], then=200)
    url = f"http://127.0.0.1:{bms.port}/bms/link?activity={{activity_id}}&ref={{ref}}&type={{type}}"
    live = with_worker(start_server(tmp_path / "data", site=site_notifying(url), outbox_interval_s=0.1))
    try:
        reference = live.recorded_call().reference
        activity = "ACT-OB 1&x=/?"  # travels URL-encoded
        pending_link(live, activity)
        started = time.monotonic()
        soap_link(live, activity, reference)
        entry = wait_for(lambda: next((e for e in outbox_entries(live) if e.state == "sent"), None))
        elapsed = time.monotonic() - started
    finally:
        live.stop()
    assert len(bms.requests) == 3
    assert all(q == {"activity": activity, "ref": reference} for q in bms.queries())
    assert (entry.kind, entry.attempts, entry.last_error) == ("bms_link", 3, None)
    assert entry.sent_at is not None and entry.payload == {"activity_id": activity, "reference": reference}
    # Backoff: 0.1 s then 0.2 s (each 50-100 %), plus polling: well under 3 s, but not instant.
    assert 0.1 < elapsed < 3.0


def test_an_entry_pending_at_shutdown_is_delivered_after_restart(tmp_path, receiver):
    bms = receiver(then=200)
    url = f"http://127.0.0.1:{bms.port}/bms/link?activity={{activity_id}}&ref={{ref}}"
    data_dir = tmp_path / "data"
    first = with_worker(start_server(data_dir, site=site_notifying(url), outbox_interval_s=60))
    try:
        reference = first.recorded_call().reference
        pending_link(first, "ACT-RESTART")
        soap_link(first, "ACT-RESTART", reference)
        [entry] = outbox_entries(first)
        assert (entry.state, entry.attempts) == ("pending", 0)  # the worker sleeps for 60 s
    finally:
        started = time.monotonic()
        first.stop()
    assert time.monotonic() - started < 3  # stopping does not wait for the next poll
    assert bms.requests == []

    second = with_worker(start_server(data_dir, site=site_notifying(url), outbox_interval_s=0.1))
    try:
        entry = wait_for(lambda: next((e for e in outbox_entries(second) if e.state == "sent"), None))
    finally:
        second.stop()
    assert bms.queries() == [{"activity": "ACT-RESTART", "ref": reference}]
    assert entry.attempts == 1


def test_a_bms_that_never_accepts_ends_failed_without_leaking_secrets(tmp_path, receiver, caplog):
    caplog.set_level(logging.INFO)
    bms = receiver(then=503)
    url = f"http://bmsuser:{SECRET}@127.0.0.1:{bms.port}/bms?activity={{activity_id}}&ref={{ref}}&apikey={SECRET}"
    live = with_worker(start_server(tmp_path / "data", site=site_notifying(url), outbox_interval_s=0.1,
                                    outbox_max_attempts=3))
    try:
        reference = live.recorded_call().reference
        pending_link(live, "ACT-FAIL")
        soap_link(live, "ACT-FAIL", reference)
        entry = wait_for(lambda: next((e for e in outbox_entries(live) if e.state == "failed"), None))
        time.sleep(0.5)  # nothing more is attempted once failed
        assert len(bms.requests) == 3
    finally:
        live.stop()
    assert entry.attempts == 3 and entry.sent_at is None
    assert entry.last_error.startswith("HTTP 503 from GET http://127.0.0.1:")
    assert "apikey=***" in entry.last_error
    assert SECRET not in entry.last_error and "bmsuser" not in entry.last_error
    assert SECRET not in caplog.text
    with live.db.session() as session:  # the link itself stays linked: only the notice failed
        assert session.scalar(select(ActivityLink.state).where(ActivityLink.activity_id == "ACT-FAIL")) == "linked"


def test_unreachable_targets_and_malformed_entries_are_failures(tmp_path):
    database = Database(sqlite_url(tmp_path))
    try:
        database.migrate()
        with database.session() as session:
            enqueue(session, "bms_link", f"http://u:{SECRET}@127.0.0.1:9/x?password={SECRET}", {})
            enqueue(session, "crm_web_service", "http://127.0.0.1:9/soap", {})
        # A first retry delay of 30-60 s (interval x 2^0, jittered 50-100 %): far longer than
        # a loaded machine takes between the attempt and the assertion.
        worker = OutboxWorker(database, interval_s=60, max_attempts=5, timeout_s=2)
        attempted_from = datetime.now(timezone.utc)
        assert worker.run_once() == 2
        attempted_until = datetime.now(timezone.utc)
        unreachable, web_service = entries_in(database)
    finally:
        database.dispose()
    assert unreachable.state == web_service.state == "pending" and unreachable.attempts == 1
    assert unreachable.last_error == "ConnectionError: GET http://127.0.0.1:9/x?password=***"
    assert web_service.last_error.startswith("malformed crm_web_service entry")
    # rescheduled with backoff, not lost
    assert attempted_from + timedelta(seconds=30) <= unreachable.next_attempt_at
    assert unreachable.next_attempt_at <= attempted_until + timedelta(seconds=60)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    postgres = PostgresServer().start()  # .ci/run installs PostgreSQL; missing is an error
    try:
        yield postgres.create_database("outbox")
    finally:
        postgres.stop()


def test_several_workers_on_one_database_deliver_each_entry_once(database_url, receiver):
    bms = receiver(then=200)
    # Three workers, as three server processes would run them, each with its own engine.
    databases = [Database(database_url) for _ in range(3)]
    try:
        databases[0].migrate()
        with databases[0].session() as session:
            for i in range(60):
                enqueue(session, "bms_link", f"http://127.0.0.1:{bms.port}/n?i={i}", {"i": i})
        workers = [OutboxWorker(db, interval_s=0.05, batch_size=5) for db in databases]
        for worker in workers:
            worker.start()
        wait_for(lambda: all(e.state == "sent" for e in entries_in(databases[0])), timeout=15)
        started = time.monotonic()
        for worker in workers:
            worker.stop()
        assert time.monotonic() - started < 1.5  # stop() joins quickly
        entries = entries_in(databases[0])
    finally:
        for db in databases:
            db.dispose()
    delivered = sorted(int(q["i"]) for q in bms.queries())
    assert delivered == list(range(60))  # every entry exactly once
    assert all(e.attempts == 1 for e in entries)


def test_claims_are_exclusive_and_a_lost_one_is_retaken_after_its_lease(tmp_path, receiver):
    bms = receiver(then=200)
    database = Database(sqlite_url(tmp_path))
    try:
        database.migrate()
        with database.session() as session:
            enqueue(session, "bms_link", f"http://127.0.0.1:{bms.port}/lease", {})
        slow, crashed = OutboxWorker(database), OutboxWorker(database, lease_s=60)
        with database.session() as session:
            [(entry_id, seen_at)] = slow._due(session, datetime.now(timezone.utc))  # read, not yet claimed
        assert len(crashed._claim_batch()) == 1  # another process claims it, then "dies"
        with database.session() as session:  # the stale claim takes nothing
            assert not slow._claim(session, entry_id, seen_at, seen_at + timedelta(seconds=60))
        assert [(e.state, e.attempts) for e in entries_in(database)] == [("pending", 1)]
        assert OutboxWorker(database).run_once() == 0  # the lease keeps everyone off
        later = OutboxWorker(database, clock=lambda: datetime.now(timezone.utc) + timedelta(seconds=61))
        assert later.run_once() == 1  # after it, the entry is taken again
        [entry] = entries_in(database)
    finally:
        database.dispose()
    assert entry.state == "sent" and entry.attempts == 2 and len(bms.requests) == 1


def test_claims_not_attempted_at_stop_are_handed_back(tmp_path):
    database = Database(sqlite_url(tmp_path))
    try:
        database.migrate()
        with database.session() as session:
            enqueue(session, "bms_link", "http://127.0.0.1:9/never", {})
        worker = OutboxWorker(database)
        worker.stop()  # stopping: whatever it claims now, it hands back untried
        assert worker.run_once() == 1
        [entry] = entries_in(database)
    finally:
        database.dispose()
    assert (entry.state, entry.attempts, entry.last_error) == ("pending", 0, None)
    assert entry.next_attempt_at <= datetime.now(timezone.utc)


def test_safe_url_and_backoff():
    assert safe_url("https://u:p@h.example:8443/p?a=1&Password=x&token=y") == \
        "https://h.example:8443/p?a=1&Password=***&token=***"
    worker = OutboxWorker(object(), interval_s=1.0)
    for attempts, ceiling in ((1, 1), (2, 2), (5, 16), (9, 256), (10, 300), (40, 300)):
        delays = [worker.backoff_s(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jitter
