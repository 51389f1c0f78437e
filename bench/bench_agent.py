"""Throughput of the agent remote control (seed 004) over real HTTP, as a ratio to the
server's own /health measured in the same run.

    python bench/bench_agent.py [--seconds 5] [--clients 8]

Starts `callsuite serve` in a subprocess (SQLite, simulated switch, demo site), signs alice
in, and drives the seed URLs and SOAP from keep-alive clients on 127.0.0.1 (client cost
included: both share the machine's cores). Then one agent's whole call cycles — dial,
then dispose (which hangs up) — placed one after another through the simulated switch.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
BASE = "/webservices/services/telephony"
ENVELOPE = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            '<GetCalls xmlns="urn:callsuite:agent:1"><TokenKey>{token}</TokenKey><UserID>7</UserID></GetCalls>'
            '</s:Body></s:Envelope>')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hammer(seconds: float, clients: int, request) -> tuple[float, int]:
    counts, errors = [0] * clients, [0] * clients
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            if request(session):
                counts[index] += 1
            else:
                errors[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started), sum(errors)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="callsuite-bench-agent-"))
    config = work / "callsuite.toml"
    config.write_text('[callsuite]\nhost = "127.0.0.1"\naccess_log = false\nlog_level = "WARNING"\n'
                      'agent_answer_after_s = 0.0\n')
    common = ["--data-dir", str(work / "data"), "--config", str(config)]
    subprocess.run([sys.executable, "-m", "services.cli", "provision", *common, str(REPO / "demo" / "site.json")],
                   cwd=REPO, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", *common, "--port", str(port), "--events-port", "0"],
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(base + "/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        token = requests.post(base + "/webservices/services/token",
                              json={"username": "alice", "password": "demo-alice-pw"}).json()["Data"]["TokenKey"]
        cookie = {"Cookie": f"TokenKey={token}"}
        assert requests.get(f"{base}{BASE}/login/user/7", params={"campaign": "3"}, headers=cookie).ok
        print(f"server pid {server.pid}, {os.cpu_count()} CPUs, {args.clients} clients, {args.seconds:.0f} s each")
        baseline, _ = hammer(args.seconds, args.clients, lambda s: s.get(base + "/health").ok)
        print(f"{'GET /health (baseline)':44} {baseline:9.0f} req/s")
        cases = [
            ("GET getcalls (XML)", lambda s: s.get(f"{base}{BASE}/getcalls/user/7", headers=cookie).ok),
            ("GET getcalls (JSON)", lambda s: s.get(f"{base}{BASE}/getcalls/user/7",
                                                    headers={**cookie, "Accept": "application/json"}).ok),
            ("GET campaigns (XML, 62 fields)", lambda s: s.get(f"{base}{BASE}/campaigns/user/7", headers=cookie).ok),
            ("SOAP 1.1 GetCalls (validated)", lambda s: s.post(base + "/soap/agent", data=ENVELOPE.format(token=token),
                                                               headers={"Content-Type": "text/xml"}).ok),
        ]
        for name, request in cases:
            rate, errors = hammer(args.seconds, args.clients, request)
            print(f"{name:44} {rate:9.0f} req/s   {rate / baseline:5.2f} x /health   errors {errors}")
        session = requests.Session()
        started, cycles = time.monotonic(), 0
        while time.monotonic() - started < args.seconds:
            call = session.get(f"{base}{BASE}/dial/user/7/phone/+442079460111",
                               headers={**cookie, "Accept": "application/json"}).json()["Data"]["CallId"]
            assert session.get(f"{base}{BASE}/dispose/user/7/call/{call}", params={"resultcode": "SALE"},
                               headers=cookie).ok
            cycles += 1
        rate = cycles / (time.monotonic() - started)
        print(f"{'dial + dispose cycles (one agent, recorded)':44} {rate:9.1f} /s     {rate * 2 / baseline:5.3f} x /health")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
