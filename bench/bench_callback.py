"""Buzzeasy callbacks: requests accepted per second over the seed's REST URL (against the
plain /health of the same server, in the same run), and callbacks executed per minute by
one process, with their dial latency after becoming due (p50/p99).

    python bench/bench_callback.py [--seconds 5] [--clients 8] [--callbacks 60] [--concurrency 16]

Starts `callsuite serve` in a subprocess (SQLite, simulated switch, a one-company site)
and drives it from this process with keep-alive clients on 127.0.0.1; both share the
machine's cores. Requests are accepted while the queue's EWT keeps the engine idle, then
the EWT drops to 0: that moment is when every waiting request becomes due, and each one's
dial latency is its user leg's start in the ledger minus that moment. Simulated calls:
the user answers after 0.2 s, the agent after 0.2 s, they talk 0.5 s.
"""
from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PASSWORD = "bench-company-pw"
PHONE = "+447779453115"
SITE = {"companies": [{"id": 1, "name": "Bench", "password": PASSWORD, "timezone": "Europe/London"}],
        "queues": [{"id": 1, "company": 1, "name": "Bench", "opening_hours": {"mon-sun": "00:00-23:59:59"},
                    "slot_capacity": 1000}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hammer(url: str, seconds: float, clients: int, make) -> tuple[int, float]:
    """Requests per second that `clients` keep-alive threads get through in `seconds`."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        http = requests.Session()
        while time.monotonic() < stop:
            response = make(http, url)
            assert response.status_code == 200, response.text
            done[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done), sum(done) / (time.monotonic() - began)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--callbacks", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    from sqlalchemy import func, select

    from storage.database import Database, sqlite_url
    from storage.models import Call, CallbackEvent, CallbackRequest

    with tempfile.TemporaryDirectory(prefix="callsuite-bench-") as tmp:
        data, port = Path(tmp) / "data", free_port()
        config = Path(tmp) / "callsuite.toml"
        config.write_text("[callsuite]\nhost = \"127.0.0.1\"\naccess_log = false\nlog_level = \"WARNING\"\n"
                          f"callback_concurrency = {args.concurrency}\ncallback_interval_s = 0.1\n"
                          "callback_answer_after_s = 0.2\ncallback_agent_answer_s = 0.2\ncallback_talk_s = 0.5\n")
        site = Path(tmp) / "site.json"
        site.write_text(json.dumps(SITE))
        common = ["--data-dir", str(data), "--config", str(config)]
        subprocess.run([sys.executable, "-m", "services.cli", "provision", *common, str(site)], cwd=REPO,
                       check=True, capture_output=True)
        server = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", *common, "--port", str(port), "--events-port", "0"],
                                  cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        rest = base + "/RequestCallbackService/Service.svc/rest/"
        try:
            for _ in range(300):
                try:
                    if requests.get(base + "/health", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            ewt = {"serviceQueue": "1", "company": "1", "password": PASSWORD}
            assert requests.post(rest + "UpdateEWTRecord", json={**ewt, "ewt": "60"}).json() is True

            def health(http, url):
                return http.get(url + "/health")

            def request_callback(http, url):
                return http.post(url + "RequestCallWhenAvailable", json={
                    "name": "Bench", "phoneNo": PHONE, "serviceQueue": "1", "company": "1", "password": PASSWORD})

            _, health_rate = hammer(base, args.seconds, args.clients, health)
            accepted, accept_rate = hammer(rest, args.seconds, args.clients, request_callback)
            print(f"GET /health:                       {health_rate:8.0f} requests/s ({args.clients} clients)")
            print(f"POST .../rest/RequestCallWhenAvailable: {accept_rate:8.0f} requests/s "
                  f"({accept_rate / health_rate:.2f} of /health); {accepted} accepted")

            # Execution: the accepted requests (all waiting on the EWT) are cancelled but
            # `--callbacks` of them, which become due together when the EWT drops.
            db = Database(sqlite_url(data))
            with db.session() as session:
                keep = [row for row in session.scalars(select(CallbackRequest.id).order_by(CallbackRequest.id)
                                                       .limit(args.callbacks))]
                session.query(CallbackRequest).filter(CallbackRequest.id.not_in(keep)).update(
                    {"state": "cancelled"}, synchronize_session=False)
            due_at = datetime.now(timezone.utc)
            assert requests.post(rest + "UpdateEWTRecord", json={**ewt, "ewt": "0"}).json() is True
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                with db.read_session() as session:
                    left = session.scalar(select(func.count()).select_from(CallbackRequest).where(
                        CallbackRequest.state.in_(("open", "calling"))))
                if not left:
                    break
                time.sleep(0.2)
            with db.read_session() as session:
                ended = session.scalar(select(func.max(CallbackEvent.at)).where(CallbackEvent.request_id.in_(keep)))
                succeeded = session.scalar(select(func.count()).select_from(CallbackRequest).where(
                    CallbackRequest.id.in_(keep), CallbackRequest.state == "succeeded"))
                dials = [row for row in session.execute(
                    select(Call.callback_request_id, func.min(Call.started_at))
                    .where(Call.callback_request_id.in_(keep), Call.target == PHONE)
                    .group_by(Call.callback_request_id))]
            db.dispose()
            latencies = [(started - due_at).total_seconds() for _, started in dials]
            minutes = (ended - due_at).total_seconds() / 60
            print(f"callbacks executed: {succeeded}/{len(keep)} succeeded in {minutes * 60:.1f} s = "
                  f"{succeeded / minutes:.0f} per minute (concurrency {args.concurrency}, ~0.9 s of calls each)")
            print(f"dial latency after becoming due: p50 {statistics.median(latencies) * 1000:.0f} ms, "
                  f"p99 {percentile(latencies, 99) * 1000:.0f} ms (waiting for a free attempt included)")
            first = sorted(latencies)[:args.concurrency]
            print(f"  the first {len(first)} (a free attempt each): p50 {statistics.median(first) * 1000:.0f} ms, "
                  f"p99 {percentile(first, 99) * 1000:.0f} ms")
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
