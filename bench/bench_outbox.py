"""Outbox delivery rate of one worker to a local receiver, as a ratio to plain `requests`
GETs to the same receiver measured in the same run.

    python bench/bench_outbox.py [--entries 500]

Queues `--entries` crm_url entries (signed, with idempotency keys) in a fresh SQLite
database, lets one OutboxWorker deliver them all, and prints entries/s beside the baseline
(the same number of GETs from one keep-alive requests.Session). The ratio is what the
durable state machine costs per delivery: claim, attempt and record, each a transaction.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.core.outbox import enqueue  # noqa: E402
from services.integrations.outbox_worker import OutboxWorker  # noqa: E402
from storage.database import Database, sqlite_url  # noqa: E402
from storage.models import Company, OutboxEntry  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=500)
    count = parser.parse_args().entries
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/crm?n="

    with requests.Session() as session:
        started = time.perf_counter()
        for n in range(count):
            session.get(f"{url}{n}", timeout=5).close()
        baseline = count / (time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as folder:
        database = Database(sqlite_url(Path(folder)))
        database.migrate()
        with database.session() as session:
            session.add(Company(id=1, name="Bench", hmac_secret="bench-signing-secret-0123"))
            session.flush()
            for n in range(count):
                enqueue(session, "crm_url", f"{url}{n}", {}, company_id=1)
        worker = OutboxWorker(database, interval_s=0.01, timeout_s=5)
        started = time.perf_counter()
        while worker.run_once():
            pass
        elapsed = time.perf_counter() - started
        with database.session() as session:
            sent = session.query(OutboxEntry).filter(OutboxEntry.state == "sent").count()
        database.dispose()
    server.shutdown()
    rate = sent / elapsed
    print(f"plain requests GET:  {baseline:8.0f} requests/s")
    print(f"outbox deliveries:   {rate:8.0f} entries/s ({sent} of {count} sent)")
    print(f"ratio outbox/plain:  {rate / baseline:8.2f}")


if __name__ == "__main__":
    main()
