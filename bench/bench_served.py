"""What serving by waitress adds to a request's cost, by what the request does: an empty
answer, one read transaction sent through `sqlite3` directly, and the same through
SQLAlchemy's session (storage.database), each measured in a loop in process and served by
waitress (the settings of `callsuite serve`) to wrk at 8 keep-alive connections.

    python bench/bench_served.py [--seconds 4] [--threads 8]

Prints, per variant: CPU µs per request in the loop, and served (the process's CPU over the
run divided by its requests), and the served cost above the empty answer's, the baseline of
the same run; then the loop run by 1, 2 and 8 threads at once, in process, as requests/s
and as ratios to one thread. Needs wrk.

That last part isolates the thread hand-overs. pysqlite gives up the GIL around every
prepare, step and reset; with another thread waiting for it, each release is a hand-over (a
futex wake, a context switch) and the caller queues to get it back. The empty answer holds
its rate with 8 threads; a read transaction loses a quarter to more than half of it.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from helpers.server import serve_until  # noqa: E402  (stops waitress's threads before closing it)
from sqlalchemy import select  # noqa: E402

from services.config import load_settings  # noqa: E402
from services.http.app import create_http_server  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.models import Workstation  # noqa: E402

ONE = select(Workstation.host).limit(1)
OK = [("Content-Type", "text/plain"), ("Content-Length", "2")]
THREADS = (1, 2, 8)


def variants(database: Database, path: Path) -> dict:
    local = threading.local()

    def empty(environ, start_response):
        start_response("200 OK", OK)
        return [b"ok"]

    def raw_sqlite(environ, start_response):
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN")
        connection.execute("SELECT host FROM workstations LIMIT 1").fetchone()
        connection.execute("ROLLBACK")
        return empty(environ, start_response)

    def sqlalchemy_session(environ, start_response):
        with database.read_session() as session:
            session.execute(ONE).first()
        return empty(environ, start_response)

    return {"empty answer": empty, "sqlite3: BEGIN, SELECT, ROLLBACK": raw_sqlite,
            "SQLAlchemy read_session, one SELECT": sqlalchemy_session}


def call(app) -> bytes:
    """One GET / of `app`, called as a WSGI server would."""
    return b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": None},
                        lambda status, headers, exc_info=None: None))


def loop_cost(app, count: int = 3000) -> float:
    started = time.process_time()
    for _ in range(count):
        call(app)
    return (time.process_time() - started) / count * 1e6


def threaded_rate(app, threads: int, seconds: float = 1.5) -> float:
    """Requests per second of `threads` threads calling `app` in a loop at once."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        while time.monotonic() < stop:
            call(app)
            counts[index] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def served_cost(app, settings, seconds: int) -> tuple[float, float]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_http_server(app, settings, host="127.0.0.1", port=port)
    stopping = threading.Event()
    serving = threading.Thread(target=serve_until, args=(server, stopping), daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{port}/"
    subprocess.run(["wrk", "-t2", "-c8", "-d1s", url], capture_output=True, check=True)  # warm up
    started = os.times()
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", url], capture_output=True, text=True,
                         check=True).stdout
    ended = os.times()
    stopping.set()
    serving.join()
    requests = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    cpu = (ended.user - started.user) + (ended.system - started.system)
    return requests / seconds, cpu / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" at every request with few threads
    work = Path(tempfile.mkdtemp(prefix="callsuite-bench-served-"))
    path = work / "bench.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    settings = load_settings(None, environ={}, overrides={"data_dir": work, "threads": args.threads,
                                                          "access_log": False})
    rows = []
    for name, app in variants(database, path).items():
        in_loop = loop_cost(app)
        per_second, served = served_cost(app, settings, args.seconds)
        rows.append((name, in_loop, per_second, served))
    base = rows[0][3]
    print(f"waitress threads {args.threads}, wrk 2 threads 8 connections {args.seconds} s, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'request':38s} {'loop µs':>8s} {'req/s':>7s} {'served µs':>9s} {'above empty':>11s}")
    for name, in_loop, per_second, served in rows:
        print(f"{name:38s} {in_loop:8.0f} {per_second:7.0f} {served:9.0f} {served - base:11.0f}")
    print("\nin process, threads calling at once: requests/s (× one thread)")
    print(f"{'request':38s} " + " ".join(f"{f'{n} thread' + 's' * (n > 1):>17s}" for n in THREADS))
    for name, app in variants(database, path).items():
        rates = [threaded_rate(app, n) for n in THREADS]
        print(f"{name:38s} " + " ".join(f"{r:9.0f} ({r / rates[0]:.2f}×)" for r in rates))
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
