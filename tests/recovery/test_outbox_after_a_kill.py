"""The outbox after a kill: a server SIGKILLed while it delivers holds only the few
notices it had claimed, each for one delivery's lease, and once started again it
delivers every notice. A real local HTTP receiver, a real `callsuite serve` process."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers.process import ServeProcess, provision
from sqlalchemy import select

from services.core.outbox import enqueue
from services.integrations.outbox_worker import OutboxWorker
from storage.database import Database, sqlite_url
from storage.models import OutboxEntry

NOTICES = 20


class SlowReceiver:
    """Answers 200 to every GET after `delay_s`, remembering the `i` of each."""

    def __init__(self, delay_s: float) -> None:
        self.seen: list[int] = []
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                time.sleep(delay_s)
                with lock:
                    receiver.seen.append(int(parse_qs(urlsplit(self.path).query)["i"][0]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = SlowReceiver(delay_s=0.5)
    yield server
    server.close()


def states(database) -> list[str]:
    with database.read_session() as session:
        return list(session.scalars(select(OutboxEntry.state)))


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_killed_server_holds_a_few_notices_for_one_lease_and_the_rest_are_delivered(tmp_path, receiver):
    data_dir = tmp_path / "data"
    provision(data_dir)
    server = ServeProcess(data_dir, config="outbox_interval_s = 0.2\noutbox_timeout_s = 2\n").start()
    database = Database(sqlite_url(data_dir))
    defaults = OutboxWorker(database, timeout_s=2)  # the lease and batch the server's worker uses
    try:
        with database.session() as session:
            for i in range(NOTICES):
                enqueue(session, "bms_link", f"http://127.0.0.1:{receiver.port}/notice?i={i}", {})
        wait_for(lambda: len(receiver.seen) >= 2)
        server.kill()
        killed_at = datetime.now(timezone.utc)
        with database.read_session() as session:
            entries = session.query(OutboxEntry).all()
        held = [e for e in entries if e.state == "pending" and e.attempts > 0]
        # Only the claimed batch is held, each for at most one delivery's lease ...
        assert 1 <= len(held) <= defaults.batch_size
        assert all(e.next_attempt_at <= killed_at + defaults.lease for e in held)
        assert defaults.lease <= timedelta(seconds=defaults.timeout_s + 5)
        # ... and every notice not yet claimed is due now for whoever runs next.
        assert all(e.next_attempt_at <= killed_at for e in entries if e.state == "pending" and e.attempts == 0)
        assert sum(1 for e in entries if e.state == "pending" and e.attempts == 0) >= NOTICES - 2 - defaults.batch_size

        server.start()
        wait_for(lambda: set(receiver.seen) == set(range(NOTICES)))
        wait_for(lambda: all(state == "sent" for state in states(database)))
    finally:
        server.stop()
        database.dispose()
    # At least once: only a notice in flight at the kill may have come twice.
    assert len(receiver.seen) - NOTICES <= 1
