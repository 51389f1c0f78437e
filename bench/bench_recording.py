"""Throughput of the blueButler recording service over real HTTP, and the server's memory
while it streams a long recording.

    python bench/bench_recording.py [--seconds 5] [--clients 8]

Starts `callsuite serve` in a subprocess (SQLite, simulated switch, demo site) and drives it
from this process with keep-alive HTTP clients on 127.0.0.1: both share the machine's
cores, so the figures are end to end, client cost included. Stops by itself.
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import lameenc
import requests

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-cti-token-0123456789"
BMS = ("bms", "demo-bms-pw")
ENVELOPE = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            '<AddLink xmlns="urn:callsuite:recording:1"><id>B-{n}</id><host>WS-ALICE</host>'
            '<activeCall>true</activeCall></AddLink></s:Body></s:Envelope>')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tone_mp3(seconds: int) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(16000)
    encoder.set_channels(1)
    encoder.set_quality(7)
    second = struct.pack("<16000h", *(int(9000 * math.sin(2 * math.pi * 440 * i / 16000)) for i in range(16000)))
    out = bytearray()
    for _ in range(seconds):
        out += encoder.encode(second)
    return bytes(out + encoder.flush())


def vm_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def hammer(name: str, seconds: float, clients: int, request) -> None:
    counts = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            if request(session, index * 1_000_000 + counts[index]):
                counts[index] += 1
            else:
                errors[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    print(f"{name:44} {sum(counts) / elapsed:9.0f} req/s   errors {sum(errors)}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="callsuite-bench-"))
    config = work / "callsuite.toml"
    config.write_text(f'[callsuite]\nhost = "127.0.0.1"\ncti_token = "{TOKEN}"\naccess_log = false\nlog_level = "WARNING"\n')
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
        auth = {"Authorization": f"Bearer {TOKEN}"}
        # A live call on Alice's extension, so AddLink links for real.
        requests.post(base + "/cti/v1/events", headers=auth, json={
            "event": "call.started", "call_id": "live", "at": "2026-11-20T10:00:00Z", "extension": "201"})
        requests.post(base + "/cti/v1/events", headers=auth, json={
            "event": "call.answered", "call_id": "live", "at": "2026-11-20T10:00:01Z"})
        # A one-hour recording to stream.
        audio = tone_mp3(3600)
        reference = requests.post(base + "/cti/v1/events", headers=auth, json={
            "event": "call.started", "call_id": "long", "at": "2026-11-20T09:00:00Z", "extension": "201"}).json()["reference"]
        requests.put(f"{base}/cti/v1/calls/long/recording", data=audio,
                     headers={**auth, "Content-Type": "audio/mpeg"}).raise_for_status()
        print(f"server pid {server.pid}, {os.cpu_count()} CPUs, {args.clients} clients, {args.seconds:.0f} s each")
        hammer("GET /health", args.seconds, args.clients, lambda s, n: s.get(base + "/health").ok)
        hammer("GET AddLink (seed URL, active call linked)", args.seconds, args.clients,
               lambda s, n: s.get(f"{base}/bluebutler/service/AddLink/id=A-{n}",
                                  params={"host": "WS-ALICE", "activeCall": "true"}).text.isdigit())
        hammer("SOAP 1.1 AddLink (validated, active call)", args.seconds, args.clients,
               lambda s, n: s.post(base + "/soap/recording", data=ENVELOPE.format(n=n),
                                   headers={"Content-Type": "text/xml"}).ok)
        hammer("GET MP3 Range 64 KiB (Basic auth, cached)", args.seconds, args.clients,
               lambda s, n: s.get(f"{base}/bluebutler/service/MP3/{reference}", auth=BMS,
                                  headers={"Range": "bytes=0-65535"}).status_code == 206)
        rss_before = vm_kb(server.pid, "VmRSS")
        peak_before = vm_kb(server.pid, "VmHWM")
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # restart the peak (VmHWM) from here
        started = time.monotonic()
        downloads, total = 0, 0
        while time.monotonic() - started < args.seconds:
            with requests.get(f"{base}/bluebutler/service/MP3/{reference}", auth=BMS, stream=True) as r:
                for chunk in r.iter_content(256 * 1024):
                    total += len(chunk)
            downloads += 1
        elapsed = time.monotonic() - started
        print(f"{'GET MP3 whole file (' + str(len(audio) // 1024) + ' KiB, one client)':44} "
              f"{total / elapsed / 1e6:9.1f} MB/s   {downloads} downloads")
        print(f"server RSS before streaming {rss_before / 1024:.0f} MB, peak while streaming "
              f"{vm_kb(server.pid, 'VmHWM') / 1024:.0f} MB (the file is {len(audio) / 1e6:.1f} MB); peak before "
              f"streaming {peak_before / 1024:.0f} MB (argon2 checks use 64 MB each, several at once)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
