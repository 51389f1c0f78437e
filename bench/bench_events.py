"""1,000 subscribers to callback statuses on one server process, beside the HTTP services.

    .venv/bin/python bench/bench_events.py [--subscribers 1000] [--statuses 3] [--seconds 5]

This process runs the server (System + waitress + the events server, SQLite, demo site)
and writes the statuses through the core (callbacks.record_status, as the callback
engine does: each in its own transaction, waking the streams on commit). Two child
processes drive it over 127.0.0.1:
  subscribers  asyncio + aiohttp: half the subscribers on SSE /events/callbacks/{code},
               half on SignalR (negotiate, long-polling connect, Subscribe, poll ...)
  load         keep-alive HTTP clients on /health of the WSGI server (waitress)
Printed: connect time per subscriber (p50/p99) and for all of them; event latency
(from the write to the arrival, p50/p99); server RSS before and with the subscribers; /health
requests/s alone and while the subscribers receive, as a ratio. All processes share the
machine's cores, so the figures are end to end, client cost included.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

STATUSES = ["CallingUser", "UserConnected", "CallingAgent", "AgentConnected", "CallAccepted", "CallSucceeded"]
HUBS = json.dumps([{"name": "notifyme"}])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------- subscribers


async def _sse_subscriber(session, events_url: str, code: str, final: str, connected: list, arrivals: list):
    started = time.time()
    async with session.get(f"{events_url}/events/callbacks/{code}") as response:
        assert response.status == 200, response.status
        connected.append(time.time() - started)
        event: dict = {}
        async for raw in response.content:
            line = raw.decode().rstrip("\r\n")
            if line == "":
                if event.get("event") == "status":
                    data = json.loads(event["data"])
                    arrivals.append((time.time(), code, data["status"]))
                    if data["status"] == final:
                        return
                event = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(":")
                event[field] = value.lstrip(" ")


async def _signalr_subscriber(session, events_url: str, code: str, final: str, connected: list, arrivals: list):
    base = events_url + "/signalr"
    started = time.time()
    params = {"clientProtocol": "1.5", "connectionData": HUBS}
    async with session.get(base + "/negotiate", params=params) as r:
        token = (await r.json(content_type=None))["ConnectionToken"]
    params.update(transport="longPolling", connectionToken=token)
    async with session.post(base + "/connect", params=params) as r:
        message_id = (await r.json(content_type=None))["C"]
    async with session.get(base + "/start", params=params) as r:
        await r.read()
    invocation = json.dumps({"H": "notifyme", "M": "Subscribe", "A": [code], "I": 0})
    async with session.post(base + "/send", params=params, data={"data": invocation}) as r:
        assert "E" not in await r.json(content_type=None)
    connected.append(time.time() - started)
    while True:
        async with session.post(base + "/poll", params=params, data={"messageId": message_id}) as r:
            body = await r.json(content_type=None)
        message_id = body["C"]
        now = time.time()
        for message in body["M"]:
            if message["M"] == "updateStatus":
                arrivals.append((now, code, message["A"][1]))
            elif message["M"] == "closeConnection":
                return


async def _subscribers(events_url: str, codes: list[str], final: str, ready_file: Path) -> dict:
    import aiohttp

    connected: list[float] = []
    arrivals: list[tuple] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        half = len(codes) // 2
        started = time.time()
        tasks = [asyncio.create_task(_sse_subscriber(session, events_url, code, final, connected, arrivals))
                 for code in codes[:half]]
        tasks += [asyncio.create_task(_signalr_subscriber(session, events_url, code, final, connected, arrivals))
                  for code in codes[half:]]
        while len(connected) < len(codes):
            await asyncio.sleep(0.05)
            failed = [t for t in tasks if t.done() and t.exception()]
            if failed:
                raise failed[0].exception()
        all_connected_s = time.time() - started
        ready_file.write_text("ready")
        await asyncio.gather(*tasks)
    return {"connect_s": connected, "all_connected_s": all_connected_s, "arrivals": arrivals}


def subscribers_main(args) -> None:
    codes = json.loads(Path(args.codes).read_text())
    result = asyncio.run(_subscribers(args.events_url, codes, args.final, Path(args.ready)))
    Path(args.out).write_text(json.dumps(result))


# --------------------------------------------------------------------------- /health load


def load_main(args) -> None:
    import requests

    stop_at = time.monotonic() + args.seconds
    counts = [0] * args.clients

    def client(n: int) -> None:
        with requests.Session() as http:
            while time.monotonic() < stop_at:
                assert http.get(args.url + "/health", timeout=10).status_code == 200
                counts[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"requests_per_s": sum(counts) / (time.monotonic() - started)}))


def health_throughput(url: str, seconds: float, clients: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--role", "load", "--url", url, "--seconds", str(seconds),
                          "--clients", str(clients)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["requests_per_s"]


# --------------------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", default="server", choices=["server", "subscribers", "load"])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--statuses", type=int, default=3, help="statuses per request (the last is final)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each /health measurement")
    parser.add_argument("--clients", type=int, default=4, help="/health clients")
    parser.add_argument("--events-url"), parser.add_argument("--url"), parser.add_argument("--codes")
    parser.add_argument("--final"), parser.add_argument("--ready"), parser.add_argument("--out")
    args = parser.parse_args()
    if args.role == "subscribers":
        return subscribers_main(args)
    if args.role == "load":
        return load_main(args)

    import logging

    from helpers.callbacks import new_request, record
    from helpers.server import start_server

    logging.disable(logging.WARNING)
    statuses = STATUSES[: max(1, args.statuses - 1)] + ["CallSucceeded"]
    work = Path(tempfile.mkdtemp(prefix="bench-events-"))
    live = start_server(work / "data", threads=8)
    try:
        codes = [new_request(live.db) for _ in range(args.subscribers)]
        (work / "codes.json").write_text(json.dumps(codes))
        rss_before = rss_mb()
        baseline = health_throughput(live.base_url, args.seconds, args.clients)
        log(f"/health alone: {baseline:.0f} requests/s; server RSS {rss_before:.0f} MB")

        ready, out = work / "ready", work / "out.json"
        subscribers = subprocess.Popen([sys.executable, __file__, "--role", "subscribers", "--events-url",
                                        live.events_url, "--codes", str(work / "codes.json"),
                                        "--final", statuses[-1], "--ready", str(ready), "--out", str(out)])
        while not ready.exists():
            assert subscribers.poll() is None, "subscribers failed"
            time.sleep(0.1)
        rss_with = rss_mb()
        log(f"{args.subscribers} subscribers connected; server RSS {rss_with:.0f} MB")

        recorded_at: dict = {}
        load_result: dict = {}
        load = threading.Thread(target=lambda: load_result.update(
            rps=health_throughput(live.base_url, args.seconds, args.clients)))
        load.start()
        writing_started = time.monotonic()
        for status in statuses:  # one round of every request, then the next status
            for code in codes:
                recorded_at[(code, status)] = time.time()  # just before the write and its commit
                record(live.db, code, status)
        writing_s = time.monotonic() - writing_started
        subscribers.wait(timeout=600)
        load.join()
        rss_peak = rss_mb()
    finally:
        live.stop()

    result = json.loads(out.read_text())
    half = len(codes) // 2
    sse_codes = set(codes[:half])
    latency = {"SSE": [], "SignalR": []}
    for arrived, code, status in result["arrivals"]:
        latency["SSE" if code in sse_codes else "SignalR"].append(arrived - recorded_at[(code, status)])
    total_events = len(codes) * len(statuses)
    connect = result["connect_s"]
    print(f"subscribers           {len(codes)} (half SSE, half SignalR long polling), {len(statuses)} statuses each")
    print(f"connect per client    p50 {percentile(connect, 50) * 1000:.1f} ms, p99 {percentile(connect, 99) * 1000:.1f} ms;"
          f" all connected in {result['all_connected_s']:.2f} s")
    print(f"events delivered      {len(result['arrivals'])} of {total_events} "
          f"(written in {writing_s:.2f} s, {total_events / writing_s:.0f}/s)")
    for name, values in latency.items():
        print(f"event latency {name:<8}p50 {statistics.median(values) * 1000:.1f} ms, "
              f"p99 {percentile(values, 99) * 1000:.1f} ms (write to arrival, {len(values)} events)")
    print(f"server RSS            {rss_before:.0f} MB before, {rss_with:.0f} MB with the subscribers "
          f"({(rss_with - rss_before) * 1024 / len(codes):.1f} KB each), {rss_peak:.0f} MB at the end")
    print(f"/health requests/s    {baseline:.0f} alone, {load_result['rps']:.0f} while delivering: "
          f"ratio {load_result['rps'] / baseline:.2f}")


if __name__ == "__main__":
    main()
