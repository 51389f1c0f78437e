"""Callbutton call-detail report: streamed over real HTTP vs built in memory with lxml.

    /work/venv/bin/python bench/bench_calldata.py [--calls 1000000] [--report 100000]

Builds (once; cached under /tmp) a SQLite ledger of --calls calls, --report of which belong
to one toll-free client code in March 2026 (a third recorded, half with an address), then
runs each variant in its own process and prints calls/second and peak RSS:

  query      the batched ledger query alone (calldetails.iter_calls), no XML
  stream     stream.iter_report over the same query, in-process, output discarded
  in-memory  render.build_report_in_memory over the same query (one lxml tree)
  http       `callsuite serve` in a subprocess; POST /cb/main/jsp/xml/xml.jsp, the response
             read by this process as it streams (per-<Call> validation on, as in production)

Peak RSS: ru_maxrss of the worker processes; VmHWM of the server process (read from
/proc after the report; its VmRSS before the request is shown as the baseline).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

UTC = timezone.utc
CODE = "8005550100"
PARTNER = ("bench", "bench-partner-pw")
START, END = "03/01/2026 00:00:00", "03/31/2026 23:59:59"
SCHEMA_VERSION = 1


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the data


def generate(data_dir: Path, calls: int, report_calls: int) -> None:
    from sqlalchemy import insert

    from services.core.provisioning import provision
    from storage.database import Database, sqlite_url
    from storage.models import Call, Recording

    data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(sqlite_url(data_dir))
    database.migrate()
    with database.session() as session:
        provision(session, {
            "companies": [{"id": 1, "name": "Bench Co", "password": "x", "client_codes": [CODE]}],
            "partners": [{"username": PARTNER[0], "password": PARTNER[1], "allowed_ips": ["127.0.0.1", "::1"],
                          "client_codes": [CODE]}],
            "campaigns": [{"id": i, "name": f"Campaign {i}", "company": 1} for i in range(1, 6)],
        })
    others = [f"+1800555{n:04d}" for n in range(200, 245)]
    target_from = datetime(2026, 3, 1, 12, tzinfo=UTC)
    target_span = (datetime(2026, 3, 31, tzinfo=UTC) - target_from).total_seconds()
    other_from = datetime(2026, 1, 1, tzinfo=UTC)
    other_span = (datetime(2026, 7, 1, tzinfo=UTC) - other_from).total_seconds()
    address = {"FirstName": "Jane", "MiddleInitial": "Q", "LastName": "Caller", "StreetAddress": "1 Main St",
               "SecondaryAddress": "", "City": "Chicago", "State": "IL", "ZIP": "60601", "ZIP4": "1234"}
    chunk = 50_000
    stride = max(1, calls // report_calls)  # every stride-th call is the report's
    started = time.perf_counter()
    made_report = 0
    next_id = 1
    with database.engine.begin() as connection:
        while next_id <= calls:
            call_rows, recording_rows = [], []
            for call_id in range(next_id, min(calls, next_id + chunk - 1) + 1):
                is_target = call_id % stride == 0 and made_report < report_calls
                if is_target:
                    at = target_from + timedelta(seconds=target_span * made_report / report_calls)
                    did = f"+1{CODE}"
                    made_report += 1
                else:
                    at = other_from + timedelta(seconds=(call_id * 7919) % int(other_span))
                    did = others[call_id % len(others)]
                call_rows.append(dict(
                    id=call_id, source="bench", external_id=f"b{call_id}", direction="inbound", state="ended",
                    started_at=at, answered_at=at + timedelta(seconds=5), ended_at=at + timedelta(seconds=95),
                    did=did, ani=f"+1312555{call_id % 10000:04d}", target="+16305550111", extension="201",
                    campaign_id=call_id % 6 or None, result="Connected", duration_s=95, talk_time_s=90,
                    dtmf="1#" if call_id % 4 == 0 else None, info_digits="c" if call_id % 5 == 0 else None,
                    index_number=str(call_id % 1000), other_data=f"order {call_id}",
                    caller_address=address if call_id % 2 == 0 else None, reviewed=call_id % 3 == 0,
                    sales_status="Made sale" if call_id % 7 == 0 else None,
                    journal="Called back.\r\nLeft a message." if call_id % 11 == 0 else None))
                if call_id % 3 == 0:
                    recording_rows.append(dict(
                        id=call_id, reference=str(1_000_000_000 + call_id), call_id=call_id, state="available",
                        file_path=f"2026/03/01/{call_id:032x}.mp3", format="mp3", size_bytes=380_000,
                        duration_s=95.0, paused_spans=[], deletion_protected=False, created_at=at,
                        available_at=at + timedelta(seconds=96)))
            connection.execute(insert(Call.__table__), call_rows)
            if recording_rows:
                connection.execute(insert(Recording.__table__), recording_rows)
            next_id += len(call_rows)
            log(f"  {next_id - 1:>9,} calls written ({time.perf_counter() - started:.0f} s)")
    raw = database.engine.raw_connection()  # outside any transaction (autocommit)
    try:
        cursor = raw.cursor()
        cursor.execute("ANALYZE")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()
    database.dispose()
    (data_dir / "bench-complete").write_text(json.dumps({"calls": calls, "report": made_report}))


# --------------------------------------------------------------------------- workers


def rss_kb() -> int:
    return proc_status("self")["VmRSS"]


def reset_peak(pid) -> None:
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS, so the peak seen
    afterwards is the report's, not start-up's (argon2's 64 MB dummy hash at import)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError as exc:
        log(f"cannot reset the peak RSS of {pid} ({exc}); peaks include start-up")


def worker(mode: str, data_dir: Path) -> None:
    """One variant in this (fresh) process; prints one JSON line."""
    from services.calldata import render, stream, validation
    from services.calldata.request import parse_request
    from services.core import calldetails
    from storage.database import Database, sqlite_url

    database = Database(sqlite_url(data_dir))
    parsed = parse_request(request_body())
    validation.call_validator()
    baseline = rss_kb()
    startup_peak = proc_status("self")["VmHWM"]
    reset_peak("self")
    clients = [(c.code, c.status, calldetails.iter_calls(database, c.code, parsed.start, parsed.end))
               for c in parsed.clients]
    started = time.perf_counter()
    count = 0
    size = 0
    if mode == "query":
        for _code, _flag, calls in clients:
            for _ in calls:
                count += 1
    elif mode == "stream":
        validate = validation.call_validator()

        def counting(calls):
            nonlocal count
            for call in calls:
                count += 1
                yield call

        for chunk in stream.iter_report(PARTNER[0], "127.0.0.1", [(c, f, counting(it)) for c, f, it in clients],
                                        "http://127.0.0.1:8000", validate_call=validate):
            size += len(chunk)
    elif mode == "in-memory":
        materialised = []
        for code, flag, calls in clients:
            calls = list(calls)
            count += len(calls)
            materialised.append((code, flag, calls))
        document = render.build_report_in_memory(PARTNER[0], "127.0.0.1", materialised, "http://127.0.0.1:8000")
        size = len(document)
    else:
        raise SystemExit(f"unknown mode {mode}")
    elapsed = time.perf_counter() - started
    print(json.dumps({"mode": mode, "calls": count, "seconds": elapsed, "bytes": size,
                      "baseline_kb": baseline, "run_peak_kb": proc_status("self")["VmHWM"],
                      # clear_refs resets ru_maxrss too, so the start-up peak is kept aside
                      "process_peak_kb": max(startup_peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}))


def request_body() -> bytes:
    return (f'<?xml version="1.0"?>\n<Callbutton version="B">\n  <CallbuttonService>\n'
            f'    <GetCallDetailsRequest>\n      <ClientCode status="true">{CODE}</ClientCode>\n'
            f'      <StartDate>{START}</StartDate>\n      <EndDate>{END}</EndDate>\n'
            f'    </GetCallDetailsRequest >\n  </CallbuttonService>\n</Callbutton>\n').encode()


def run_worker(mode: str, data_dir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", mode, "--data-dir", str(data_dir)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"worker {mode} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- HTTP


def proc_status(pid) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_http(data_dir: Path) -> dict:
    import requests

    port = free_port()
    env = {**os.environ, "CALLSUITE_SWITCH": "none", "CALLSUITE_ACCESS_LOG": "false",
           "CALLSUITE_LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--data-dir", str(data_dir),
                               "--host", "127.0.0.1", "--port", str(port), "--events-port", "0"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"server exited: {server.stderr.read().decode(errors='replace')}")
            try:
                if requests.get(base + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.1)
        # warm-up: one small request (schema compilation, first argon2 verification)
        requests.post(base + "/cb/main/jsp/xml/xml.jsp", auth=PARTNER, timeout=60,
                      data=request_body().replace(END.encode(), b"03/01/2026 00:00:01"))
        before = proc_status(server.pid)
        reset_peak(server.pid)
        sampled = {"max": 0}
        streaming = threading.Event()
        done = threading.Event()

        def sample():  # the server's RSS while the body streams (after authentication)
            while not done.wait(0.02):
                if streaming.is_set():
                    sampled["max"] = max(sampled["max"], proc_status(server.pid)["VmRSS"])

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        first_byte = None
        count = size = 0
        tail = last = b""
        # http.client, not requests: its read(1) returns the first byte as it comes (requests'
        # iter_content(n) waits for n bytes), and read(n) then goes on through the chunks.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        try:
            connection.request("POST", "/cb/main/jsp/xml/xml.jsp", body=request_body(),
                               headers={"Content-Type": "text/xml", "Authorization": "Basic " + base64.b64encode(
                                   f"{PARTNER[0]}:{PARTNER[1]}".encode()).decode()})
            response = connection.getresponse()
            if response.status != 200:
                raise SystemExit(f"HTTP {response.status}: {response.read(500)!r}")
            chunk = response.read(1)
            first_byte = time.perf_counter() - started
            streaming.set()
            while chunk:
                size += len(chunk)
                data = tail + chunk
                count += data.count(b"</Call>")
                tail = data[-6:]  # shorter than the needle: no match is counted twice
                last = (last + chunk)[-64:]
                chunk = response.read(256 * 1024)
        finally:
            connection.close()
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        if not last.rstrip().endswith(b"</Callbutton>"):
            raise SystemExit(f"the document did not end with </Callbutton>: {last!r}")
        after = proc_status(server.pid)
        return {"mode": "http", "calls": count, "seconds": elapsed, "bytes": size, "first_byte_s": first_byte,
                "baseline_kb": before["VmRSS"], "run_peak_kb": after["VmHWM"], "stream_peak_kb": sampled["max"],
                "process_peak_kb": max(before["VmHWM"], after["VmHWM"])}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--report", type=int, default=100_000)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also save the figures to this file (bench/run.py reads it)")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data_dir)
        return

    data_dir = args.cache_dir / f"callsuite-bench-calldata-v{SCHEMA_VERSION}-{args.calls}-{args.report}"
    if not (data_dir / "bench-complete").exists():
        if data_dir.exists():
            import shutil
            shutil.rmtree(data_dir)
        log(f"generating {args.calls:,} calls in {data_dir} (cached for the next run)")
        started = time.perf_counter()
        generate(data_dir, args.calls, args.report)
        log(f"generated in {time.perf_counter() - started:.0f} s")
    else:
        log(f"using the cached ledger in {data_dir}")
    info = json.loads((data_dir / "bench-complete").read_text())
    db_size = (data_dir / "callsuite.db").stat().st_size

    results = []
    for mode in ("query", "stream", "in-memory"):
        log(f"running {mode} ...")
        results.append(run_worker(mode, data_dir))
    log("running http ...")
    results.append(run_http(data_dir))

    print(f"Callbutton report: {info['report']:,} calls of one client code out of {info['calls']:,} "
          f"(SQLite {db_size / 1e6:.0f} MB), Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"{'variant':<10} {'calls':>8} {'seconds':>8} {'calls/s':>9} {'MB out':>7} "
          f"{'RSS before':>11} {'peak during':>12} {'(growth)':>9} {'process peak':>13}")
    mb = lambda kb: f"{kb / 1024:.0f} MB"  # noqa: E731
    for r in results:
        if r["calls"] != info["report"]:
            raise SystemExit(f"{r['mode']}: {r['calls']} calls, expected {info['report']}")
        print(f"{r['mode']:<10} {r['calls']:>8,} {r['seconds']:>8.2f} {r['calls'] / r['seconds']:>9,.0f} "
              f"{r['bytes'] / 1e6:>7.1f} {mb(r['baseline_kb']):>11} {mb(r['run_peak_kb']):>12} "
              f"{'+' + mb(r['run_peak_kb'] - r['baseline_kb']):>9} {mb(r['process_peak_kb']):>13}")
    http = results[-1]
    print(f"http: first byte after {http['first_byte_s'] * 1000:.0f} ms; server RSS while the body streamed "
          f"(sampled every 20 ms) at most {mb(http['stream_peak_kb'])}; its 'peak during' includes the "
          f"request's argon2 password check (64 MB, transient)")
    print("peak during = VmHWM after resetting it (/proc/PID/clear_refs) just before the report; "
          "process peak = ru_maxrss (workers) / lifetime VmHWM (server), start-up included")
    if args.json:
        args.json.write_text(json.dumps({"report": info["report"], "calls": info["calls"], "results": results}))


if __name__ == "__main__":
    main()
