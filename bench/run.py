"""One benchmark command, one table: requests/s, p50 and p99 of each service's hot
operations at fixed concurrency, each as a ratio to a baseline measured in the same run,
then the figures of the other benchmarks.

    python bench/run.py [--seconds 5] [--connections 8] [--threads 2] [--json FILE]
                        [--only TEXT] [--skip-others] [--server-cpus LIST]

Starts `callsuite serve` in a subprocess (fresh temporary data folder, SQLite, simulated
switch, `callsuite provision` of the demo site first (bench/demo_site.py: its callback queue open
round the clock), default settings: access log on) and
two baselines on the same waitress settings (bench/baselines.py): a plain-WSGI
hello-world (and the recording itself through `wsgi.file_wrapper`, whole and its first
64 KiB: the baselines of the MP3 rows) and a stock Spyne Soap11 echo service (the baseline
of the SOAP rows). Loads each with `wrk` (keep-alive, `--latency`), POST bodies and
per-request unique ids from a small Lua script. The baselines are run before and after the
Callsuite rows; a ratio is to their mean. wrk and the servers share the machine's cores,
so the figures are end to end. "CPU µs/req" is the server process's CPU time (all threads,
/proc/PID/stat) over the row divided by its requests, and "CPU ×" the baseline's over the
row's: on a busy machine these move far less than requests/s. `--server-cpus 1` keeps every
server's threads on one CPU (wrk gets the other): a request then no longer crosses cores
between waitress's I/O thread and its worker, which on a 2-vCPU VM cuts the CPU time
of the same Python code by a third to a half (README, "One benchmark table").
Everything started is stopped at the end (process groups), whatever happens.

Then, one after the other in their own processes: bench_calldata.py (the 100,000-call
Callbutton report streamed over HTTP vs built in memory with lxml: calls/s, first byte,
server RSS), bench_telephony.py (concurrent recorded calls the simulated switch keeps in
real time) and bench_events.py (1,000 event subscribers: latency, RSS). `--skip-others`
leaves them out.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import quote

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from baselines import copy_for_floor  # noqa: E402
from demo_site import bench_site  # noqa: E402  (the demo site, its queue open round the clock)
from helpers.audio import tone_mp3  # noqa: E402  (the suite's MP3 maker: one way to make test audio)

CTI_TOKEN = "bench-cti-token-0123456789abcdef"
BMS = ("bms", "demo-bms-pw")
PARTNER = ("partner1", "demo-partner-pw")
COMPANY_PASSWORD = "demo-company-pw"
ALICE = ("alice", "demo-alice-pw")
PHONE = "+447779453115"  # a valid UK mobile; the demo company's regions are GB and IE
CALLBACK_REST = "/RequestCallbackService/Service.svc/rest/"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
ADDLINK_BODY = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{env}"><s:Body>'
                '<AddLink xmlns="urn:callsuite:recording:1"><id>{{n}}</id><host>WS-ALICE</host>'
                '<activeCall>true</activeCall></AddLink></s:Body></s:Envelope>')
INFO_BODY = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="' + SOAP11 + '"><s:Body>'
             '<GetRecordingInfo xmlns="urn:callsuite:recording:1"><refNum>{ref}</refNum></GetRecordingInfo>'
             '</s:Body></s:Envelope>')
BUZZMEINFO_BODY = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="' + SOAP11 + '"><s:Body>'
                   '<GetCallDataByNumber xmlns="urn:callsuite:info:1"><presentedNumber>' + PHONE
                   + '</presentedNumber><companyId>1</companyId><password>' + COMPANY_PASSWORD
                   + '</password></GetCallDataByNumber></s:Body></s:Envelope>')
ECHO_BODY = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="' + SOAP11 + '"><s:Body>'
             '<echo xmlns="urn:bench:echo"><text>hello</text></echo></s:Body></s:Envelope>')
WRK_INSTALL = ("wrk is not installed. Install it, then run again:\n"
               "  Debian/Ubuntu: sudo apt-get install -y wrk\n"
               "  macOS:         brew install wrk\n"
               "  elsewhere:     https://github.com/wg/wrk (make; put wrk on PATH)")


@dataclass
class Load:
    """One wrk load: `{n}` in path or body becomes a unique id per request."""
    name: str
    baseline: Optional[str]  # the Load name this row is compared with; None for a baseline
    server: str  # "callsuite", "wsgi" or "spyne"
    path: str
    method: str = "GET"
    body: Optional[str] = None
    headers: dict = field(default_factory=dict)
    expect: int = 200
    answer: Callable[[requests.Response], str] = lambda r: r.text[:40]
    # The row's own Lua request(), for requests that refer to earlier ones (`tid`, the wrk
    # thread's number, and `prefix`, unique to the run, are set); the probe sends path and body.
    request_lua: Optional[str] = None


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def xml_text(tag: str) -> Callable[[requests.Response], str]:
    def answer(r: requests.Response) -> str:
        found = re.search(rf"<(?:\w+:)?{tag}>([^<]*)<", r.text)
        return f"{tag} {found.group(1)!r}" if found else r.text[:40]
    return answer


def short_json(r: requests.Response) -> str:
    return json.dumps(r.json(), separators=(",", ":"))[:48]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_line() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}, Python {platform.python_version()}"


# -- wrk ---------------------------------------------------------------------------------

def lua_string(text: str) -> str:
    level = "=" * 4
    return f"[{level}[{text}]{level}]"


def lua_script(load: Load, prefix: str) -> str:
    """Sets the method, headers and body; with `{n}`, a request() that makes each path/body
    unique (thread number, then a counter); done() prints the figures as one JSON line."""
    headers = "\n".join(f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in load.headers.items())
    lines = [f"wrk.method = {lua_string(load.method)}", f"wrk.path = {lua_string(load.path)}", headers]
    if load.body is not None:
        lines.append(f"wrk.body = {lua_string(load.body)}")
    unique = "{n}" in load.path or "{n}" in (load.body or "")
    if load.request_lua is not None or unique:
        # Each wrk thread's number (`tid`) and the run's prefix, for ids no other request uses.
        lines.append(f"""
local prefix = "{prefix}"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end""")
    if load.request_lua is not None:
        lines.append(load.request_lua)
    elif unique:
        lines.append(f"""
local path_template = {lua_string(load.path)}
local body_template = {lua_string(load.body or "")}
local has_body = {"true" if load.body is not None else "false"}
local counter = 0
function request()
  counter = counter + 1
  local n = prefix .. tid .. "-" .. counter
  local body = nil
  if has_body then body = string.gsub(body_template, "{{n}}", n) end
  return wrk.format(nil, (string.gsub(path_template, "{{n}}", n)), nil, body)
end""")
    lines.append("""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"non_2xx_3xx":%d,"socket_errors":%d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end""")
    return "\n".join(lines) + "\n"


def call_events_lua(started: str, answered: str, ended: str) -> str:
    """A request() that starts, answers and ends calls in turn: the call a request answers was
    started 3 × LAG + 1 requests earlier on the same wrk thread, and is ended 3 × LAG + 1
    requests after its answer, so each event's predecessor has been answered long before (4
    connections a thread). Until then (the first 6 × LAG requests) a turn starts one more call."""
    return ("""
local LAG = 50
local templates = {STARTED, ANSWERED, ENDED}
-- From -1: wrk's first thread calls request() once, unsent, to check it (script_verify_request).
local counter = -1
local function event(template, n)
  return wrk.format(nil, nil, nil, (string.gsub(template, "{n}", prefix .. tid .. "-" .. n)))
end
function request()
  local turn, k = counter % 3, math.floor(counter / 3)
  counter = counter + 1
  if k < 0 then return event(templates[1], "early-verified") end
  if turn == 1 and k >= LAG then return event(templates[2], k - LAG) end
  if turn == 2 and k >= 2 * LAG then return event(templates[3], k - 2 * LAG) end
  if turn == 0 then return event(templates[1], k) end
  return event(templates[1], "early" .. counter)
end
""".replace("STARTED", lua_string(started)).replace("ANSWERED", lua_string(answered))
            .replace("ENDED", lua_string(ended)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(load: Load, base: str, args, work: Path, prefix: str, server_pid: int) -> dict:
    script = work / f"{prefix}.lua"
    script.write_text(lua_script(load, prefix))
    url = base + "/"  # names the server only: the path comes from the script (wrk.path or request())
    cpu_before = cpu_seconds(server_pid)
    result = subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s",
                             "--latency", "--timeout", "10s", "-s", str(script), url],
                            capture_output=True, text=True, timeout=args.seconds + 60)
    cpu = cpu_seconds(server_pid) - cpu_before
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no figures for {load.name}:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(line[len("BENCH "):])
    seconds = figures["duration_us"] / 1e6
    return {"requests_per_s": figures["requests"] / seconds, "p50_ms": figures["p50_us"] / 1000,
            "p99_ms": figures["p99_us"] / 1000, "requests": figures["requests"],
            "errors": figures["non_2xx_3xx"] + figures["socket_errors"],
            "cpu_us": cpu * 1e6 / max(1, figures["requests"])}


def probe(load: Load, base: str) -> str:
    """One request like the load's, checked, so no row measures a refusal."""
    path = load.path.replace("{n}", "probe")
    body = load.body.replace("{n}", "probe") if load.body is not None else None
    r = requests.request(load.method, base + path, data=body.encode() if body else None,
                         headers=load.headers, timeout=30)
    if r.status_code != load.expect:
        raise RuntimeError(f"{load.name}: expected HTTP {load.expect}, got {r.status_code}: {r.text[:500]}")
    return f"{r.status_code} {load.answer(r)}"


# -- servers -----------------------------------------------------------------------------

def cpu_list(text: str) -> set[int]:
    try:
        cpus = {int(part) for part in text.split(",")}
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of CPU numbers: {text!r}") from None
    unknown = cpus - os.sched_getaffinity(0)
    if unknown:
        raise argparse.ArgumentTypeError(f"no such CPU here: {', '.join(map(str, sorted(unknown)))}")
    return cpus


def start(command: list[str], log: Path, env: Optional[dict] = None,
          cpus: Optional[set[int]] = None) -> subprocess.Popen:
    # Own process group: the whole group is stopped at the end, children included.
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    if cpus:
        # Set while the interpreter is still starting: every thread it starts later inherits it.
        os.sched_setaffinity(process.pid, cpus)
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass


def wait_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url}: no answer within 60 s")


# -- demo data the loads need ------------------------------------------------------------

def prepare(base: str, audio: bytes) -> dict:
    """A live recorded call on alice's extension (AddLink links to it), a finished call with
    its MP3 (for Range), alice's agent token, and the demo queue's EWT raised so the
    callback engine leaves the benchmark's requests waiting instead of dialling them."""
    cti = {"Authorization": f"Bearer {CTI_TOKEN}"}
    now = datetime.now(timezone.utc)

    def event(kind: str, call_id: str, at: datetime, extension: str) -> dict:
        r = requests.post(base + "/cti/v1/events", headers=cti, timeout=30, json={
            "event": kind, "call_id": call_id, "at": at.isoformat(), "extension": extension,
            "direction": "inbound", "ani": "+13125550100", "did": "8005551234"})
        r.raise_for_status()
        return r.json()

    started = now - timedelta(minutes=3)
    for kind, at in (("call.started", started), ("call.answered", started + timedelta(seconds=1)),
                     ("call.ended", started + timedelta(seconds=41))):
        event(kind, "bench-recorded", at, "202")
    r = requests.put(base + "/cti/v1/calls/bench-recorded/recording", data=audio, timeout=30,
                     headers={**cti, "Content-Type": "audio/mpeg"})
    r.raise_for_status()
    reference = r.json()["reference"]
    event("call.started", "bench-live", now - timedelta(seconds=30), "201")
    event("call.answered", "bench-live", now - timedelta(seconds=29), "201")

    r = requests.post(base + "/webservices/services/token", json=dict(zip(("username", "password"), ALICE, strict=True)),
                      timeout=30)
    r.raise_for_status()
    data = r.json()["Data"]
    token = (data[0] if isinstance(data, list) else data)["TokenKey"]

    r = requests.post(base + CALLBACK_REST + "UpdateEWTRecord", timeout=30, json={
        "serviceQueue": "1", "ewt": "60", "company": "1", "password": COMPANY_PASSWORD})
    if r.json() is not True:
        raise RuntimeError(f"UpdateEWTRecord: {r.text}")
    # An open callback request from PHONE, for BuzzMeInfo to find (the raised EWT keeps it open).
    r = requests.post(base + CALLBACK_REST + "RequestCallWhenAvailable", timeout=30, json={
        "name": "Bench Caller", "phoneNo": PHONE, "serviceQueue": "1", "company": "1",
        "password": COMPANY_PASSWORD, "field1": "bench"})
    if r.json().get("ResultCode") != 0:
        raise RuntimeError(f"RequestCallWhenAvailable: {r.text}")
    return {"reference": reference, "token": token, "audio_bytes": len(audio),
            "recorded_at": (started + timedelta(seconds=10)).strftime("%Y-%m-%d %H:%M:%S")}


def loads(demo: dict) -> list[Load]:
    now = datetime.now(timezone.utc)
    callbutton_doc = ('<?xml version="1.0"?>\n<Callbutton version="B">\n  <CallbuttonService>\n'
                      '    <GetCallDetailsRequest>\n      <ClientCode>8005551234</ClientCode>\n'
                      f'      <StartDate>{(now - timedelta(days=1)).strftime("%m/%d/%Y %H:%M:%S")}</StartDate>\n'
                      f'      <EndDate>{(now + timedelta(days=1)).strftime("%m/%d/%Y %H:%M:%S")}</EndDate>\n'
                      '    </GetCallDetailsRequest >\n  </CallbuttonService>\n</Callbutton>\n')
    json_type = {"Content-Type": "application/json"}
    at = now.isoformat()
    started_facts = {"extension": "209", "direction": "inbound", "ani": "+13125550100", "did": "8005551234"}

    def call_event(kind: str, call_id: str, **facts) -> str:
        return json.dumps({"event": kind, "call_id": call_id, "at": at, **facts})
    cti_headers = {**json_type, "Authorization": f"Bearer {CTI_TOKEN}"}
    return [
        Load("plain WSGI hello-world", None, "wsgi", "/hello"),
        Load("plain WSGI file_wrapper 64 KiB", None, "wsgi", "/file", expect=206,
             answer=lambda r: f"{len(r.content)} bytes"),
        Load("plain WSGI file_wrapper full file", None, "wsgi", "/full", answer=lambda r: f"{len(r.content)} bytes"),
        Load("stock Spyne Soap11 echo", None, "spyne", "/", "POST", ECHO_BODY,
             {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"echo"'}, answer=xml_text("echoResult")),
        Load("GET /health", "plain WSGI hello-world", "callsuite", "/health", answer=short_json),
        Load("AddLink GET (seed URL)", "plain WSGI hello-world", "callsuite",
             "/bluebutler/service/AddLink/id=G{n}?host=WS-ALICE&activeCall=true"),
        Load("AddLink GET JSONP (callback=)", "plain WSGI hello-world", "callsuite",
             "/bluebutler/service/AddLink/id=J{n}?host=WS-ALICE&activeCall=true&callback=cb"),
        Load("AddLink GET /rest/recording", "plain WSGI hello-world", "callsuite",
             "/rest/recording/AddLink?id=R{n}&host=WS-ALICE&activeCall=true"),
        Load("floor: AddLink's SQL via sqlite3, GET", "plain WSGI hello-world", "floor",
             "/addlink/F{n}?host=WS-ALICE"),
        Load("AddLink SOAP 1.1", "stock Spyne Soap11 echo", "callsuite", "/soap/recording", "POST",
             ADDLINK_BODY.format(env=SOAP11), {"Content-Type": "text/xml; charset=utf-8",
                                               "SOAPAction": '"AddLink"'}, answer=xml_text("AddLinkResult")),
        Load("AddLink SOAP 1.2", "stock Spyne Soap11 echo", "callsuite", "/soap/recording", "POST",
             ADDLINK_BODY.format(env=SOAP12), {"Content-Type": 'application/soap+xml; charset=utf-8'},
             answer=xml_text("AddLinkResult")),
        Load("floor: AddLink's SQL via sqlite3, SOAP 1.1 on lxml", "stock Spyne Soap11 echo", "floor", "/soap",
             "POST", ADDLINK_BODY.format(env=SOAP11), {"Content-Type": "text/xml; charset=utf-8",
                                                      "SOAPAction": '"AddLink"'}, answer=xml_text("AddLinkResult")),
        Load("GetRecordingInfo SOAP 1.1 (Basic auth)", "stock Spyne Soap11 echo", "callsuite", "/soap/recording",
             "POST", INFO_BODY.format(ref=demo["reference"]),
             {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"GetRecordingInfo"',
              "Authorization": basic(*BMS)}, answer=xml_text("ReferenceNumber")),
        Load("MP3 full file (Basic auth)", "plain WSGI file_wrapper full file", "callsuite",
             f"/bluebutler/service/MP3/{demo['reference']}", headers={"Authorization": basic(*BMS)},
             answer=lambda r: f"{len(r.content)} bytes"),
        Load("RetrieveRecFile JSONP (Recall)", "plain WSGI hello-world", "callsuite",
             "/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile?sExtension=202&sPhoneNumber=3125550100"
             f"&dtCallDateTime=%22{quote(demo['recorded_at'])}%22&bDeletionProtected=false&format=json&callback=cb"),
        Load("MP3 Range 64 KiB (Basic auth)", "plain WSGI file_wrapper 64 KiB", "callsuite",
             f"/bluebutler/service/MP3/{demo['reference']}", headers={"Authorization": basic(*BMS),
                                                                       "Range": "bytes=0-65535"},
             expect=206, answer=lambda r: f"{len(r.content)} bytes"),
        Load("floor: MP3 Range's SQL via sqlite3 + file_wrapper", "plain WSGI file_wrapper 64 KiB", "floor",
             f"/mp3/{demo['reference']}", expect=206, answer=lambda r: f"{len(r.content)} bytes"),
        Load("Callbutton xml.jsp small report", "plain WSGI hello-world", "callsuite",
             "/cb/main/jsp/xml/xml.jsp", "POST", callbutton_doc,
             {"Authorization": basic(*PARTNER), "Content-Type": "text/xml"},
             answer=lambda r: f"{r.text.count('<CallDetails')} <CallDetails"),
        Load("agent API getcalls (Cookie)", "plain WSGI hello-world", "callsuite",
             "/webservices/services/telephony/getcalls/user/7", headers={"Cookie": f"TokenKey={demo['token']}"},
             answer=xml_text("ResponseCode")),
        Load("Buzzeasy REST GetEWTByServiceID", "plain WSGI hello-world", "callsuite",
             CALLBACK_REST + "GetEWTByServiceID", "POST",
             json.dumps({"serviceQueue": "1", "companyID": "1", "password": COMPANY_PASSWORD}), json_type,
             answer=short_json),
        Load("Buzzeasy REST RequestCallWhenAvailable", "plain WSGI hello-world", "callsuite",
             CALLBACK_REST + "RequestCallWhenAvailable", "POST",
             json.dumps({"name": "Bench", "phoneNo": PHONE, "serviceQueue": "1", "company": "1",
                         "password": COMPANY_PASSWORD, "field1": "{n}"}), json_type, answer=short_json),
        Load("Buzzeasy REST GetNextThreeTimeSlots", "plain WSGI hello-world", "callsuite",
             CALLBACK_REST + "GetNextThreeTimeSlots", "POST",
             json.dumps({"serviceQueue": "1", "time": now.strftime("%Y-%m-%d 00:00:00"), "company": "1",
                         "password": COMPANY_PASSWORD}), json_type, answer=short_json),
        Load("BuzzMeInfo GetCallDataByNumber SOAP 1.1", "stock Spyne Soap11 echo", "callsuite", "/soap/info",
             "POST", BUZZMEINFO_BODY, {"Content-Type": "text/xml; charset=utf-8",
                                       "SOAPAction": '"GetCallDataByNumber"'}, answer=xml_text("ConfirmationCode")),
        Load("CTI ingest call.started", "plain WSGI hello-world", "callsuite", "/cti/v1/events", "POST",
             call_event("call.started", "{n}", **started_facts), cti_headers, expect=201, answer=short_json),
        Load("CTI ingest started, answered, ended in turn", "plain WSGI hello-world", "callsuite", "/cti/v1/events",
             "POST", call_event("call.started", "T{n}", **started_facts), cti_headers, expect=201,
             answer=short_json, request_lua=call_events_lua(*(call_event(kind, "T{n}", **facts) for kind, facts in (
                 ("call.started", started_facts), ("call.answered", {}), ("call.ended", {}))))),
    ]


# -- the table ---------------------------------------------------------------------------

def table(rows: list[dict]) -> str:
    head = ("operation", "req/s", "p50 ms", "p99 ms", "× baseline", "CPU µs/req", "CPU ×", "errors", "baseline",
            "answer (probe)")
    body = []
    for row in rows:
        ratio = f"{row['ratio']:.2f}×" if row.get("ratio") is not None else "—"
        cpu_ratio = f"{row['cpu_ratio']:.2f}×" if row.get("cpu_ratio") is not None else "—"
        body.append((row["name"], f"{row['requests_per_s']:.0f}", f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}",
                     ratio, f"{row['cpu_us']:.0f}", cpu_ratio, str(row["errors"]), row["baseline"] or "(baseline)",
                     row["answer"]))
    widths = [max(len(str(r[i])) for r in (head, *body)) for i in range(len(head))]
    right = {1, 2, 3, 4, 5, 6, 7}

    def fmt(r):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
    return "\n".join([fmt(head), fmt(tuple("-" * w for w in widths)), *map(fmt, body)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each row's wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--json", type=Path, help="also save the figures to this file")
    parser.add_argument("--server-cpus", type=cpu_list, metavar="LIST",
                        help="run every server (Callsuite and the baselines) on these CPUs only, e.g. 1 or "
                        "0,1 (default: wherever the kernel puts their threads)")
    parser.add_argument("--only", help="run only the rows whose name contains this (and their baselines)")
    parser.add_argument("--skip-others", action="store_true",
                        help="only the wrk table, not the streaming, recording-capacity and fan-out benchmarks")
    parser.add_argument("--calldata-calls", type=int, default=1_000_000, help="bench_calldata: calls in the ledger")
    parser.add_argument("--calldata-report", type=int, default=100_000, help="bench_calldata: calls in the report")
    parser.add_argument("--telephony-budget-s", type=float, default=60.0, help="bench_telephony: ramp budget")
    parser.add_argument("--events-subscribers", type=int, default=1000, help="bench_events: subscribers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(WRK_INSTALL, file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="callsuite-bench-"))
    processes: list[subprocess.Popen] = []
    header, rows = "", []
    try:
        data_dir = work / "data"
        env = {**os.environ, "CALLSUITE_CTI_TOKEN": CTI_TOKEN, "PYTHONPATH": str(REPO)}
        cli = [sys.executable, "-m", "services.cli"]
        site = work / "site.json"
        site.write_text(json.dumps(bench_site()))
        subprocess.run([*cli, "provision", "--data-dir", str(data_dir), str(site)],
                       cwd=REPO, env=env, check=True, capture_output=True)
        ports = {name: free_port() for name in ("callsuite", "wsgi", "spyne", "floor")}
        audio = tone_mp3(40.0)  # 32 kbit/s: 160 KB, enough for a 64 KiB range
        baseline_file = work / "file.bin"
        baseline_file.write_bytes(audio)  # the baselines send the very recording Callsuite sends
        logs = {name: work / f"{name}.log" for name in ports}
        cpus = args.server_cpus
        processes.append(start([*cli, "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1",
                                "--port", str(ports["callsuite"])], logs["callsuite"], env, cpus))
        processes.append(start([sys.executable, str(REPO / "bench" / "baselines.py"), "wsgi",
                                "--port", str(ports["wsgi"]), "--file", str(baseline_file)], logs["wsgi"], cpus=cpus))
        processes.append(start([sys.executable, str(REPO / "bench" / "baselines.py"), "spyne",
                                "--port", str(ports["spyne"])], logs["spyne"], cpus=cpus))
        bases = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for process, name in zip(processes, ports, strict=False):
            wait_ready(process, bases[name] + "/", logs[name])
        demo = prepare(bases["callsuite"], audio)
        # The floor runs AddLink's statements on a copy of this database, demo data and all.
        floor_database = copy_for_floor(data_dir / "callsuite.db", work / "floor.db")
        processes.append(start([sys.executable, str(REPO / "bench" / "baselines.py"), "floor",
                                "--port", str(ports["floor"]), "--database", str(floor_database),
                                "--recordings", str(data_dir / "recordings")], logs["floor"], cpus=cpus))
        wait_ready(processes[-1], bases["floor"] + "/addlink/ready?host=WS-ALICE", logs["floor"])
        pids = {name: process.pid for name, process in zip(ports, processes, strict=True)}

        every = loads(demo)
        chosen = [load for load in every if load.baseline is not None and (not args.only or args.only in load.name)]
        baselines = [load for load in every if load.baseline is None and any(c.baseline == load.name for c in chosen)]
        header = (f"Callsuite bench: {machine_line()}; wrk {args.threads} threads, {args.connections} "
                  f"connections, {args.seconds} s per row; waitress threads 8 (default settings); "
                  + (f"servers pinned to CPU {','.join(map(str, sorted(cpus)))}; " if cpus else "") +
                  f"baselines run before and after, ratios to their mean; load average "
                  f"{os.getloadavg()[0]:.1f} at the start")
        print(header, flush=True)
        # Each row's probe runs just before its load: an account's first request after a minute
        # idle pays argon2 once (the password cache's minute), which a probe at the start would
        # leave to the row's p99 for every row a minute or more into the run.
        answers = {load.name: probe(load, bases[load.server]) for load in baselines}
        figures: dict[str, dict] = {}
        runs = 0

        def measure(load: Load) -> dict:
            nonlocal runs
            runs += 1
            result = run_wrk(load, bases[load.server], args, work, f"r{runs}x", pids[load.server])
            print(f"  {load.name}: {result['requests_per_s']:.0f} req/s, p99 {result['p99_ms']:.1f} ms",
                  file=sys.stderr, flush=True)
            return result

        before = {load.name: measure(load) for load in baselines}
        for load in chosen:
            answers[load.name] = probe(load, bases[load.server])
            figures[load.name] = measure(load)
        after = {load.name: measure(load) for load in baselines}
        for load in baselines:
            a, b = before[load.name], after[load.name]
            figures[load.name] = {
                "requests_per_s": (a["requests_per_s"] + b["requests_per_s"]) / 2,
                "p50_ms": (a["p50_ms"] + b["p50_ms"]) / 2, "p99_ms": (a["p99_ms"] + b["p99_ms"]) / 2,
                "requests": a["requests"] + b["requests"], "errors": a["errors"] + b["errors"],
                "cpu_us": (a["cpu_us"] + b["cpu_us"]) / 2, "runs": [a, b]}
        for load in baselines + chosen:
            row = {"name": load.name, "baseline": load.baseline, "answer": answers[load.name], **figures[load.name]}
            if load.baseline is not None:
                row["ratio"] = row["requests_per_s"] / figures[load.baseline]["requests_per_s"]
                row["cpu_ratio"] = figures[load.baseline]["cpu_us"] / max(row["cpu_us"], 1e-9)
            rows.append(row)
        print(table(rows), flush=True)
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)
    others = {} if args.skip_others else other_benchmarks(args)  # after the servers above have stopped
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_line(), "header": header,
                                         "command": " ".join(["python", "bench/run.py", *sys.argv[1:]]),
                                         "seconds": args.seconds, "connections": args.connections,
                                         "threads": args.threads, "rows": rows, "others": others}, indent=2))
    return 0


# -- the other benchmarks, one after the other, each in its own process -------------------

def run_script(name: str, *options: str, timeout: int = 3600) -> str:
    result = subprocess.run([sys.executable, str(REPO / "bench" / name), *options], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}"})
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-3000:]}")
    return result.stdout


def other_benchmarks(args) -> dict:
    """The streaming report (bench_calldata), recording capacity of the simulated switch
    (bench_telephony) and event fan-out (bench_events): their own output, and the report's
    figures against its targets (calls/s vs the same document built in memory with lxml,
    first byte, server RSS while streaming)."""
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="callsuite-bench-others-") as scratch:
        saved = Path(scratch) / "calldata.json"
        print(f"\n## Streaming report (bench/bench_calldata.py --calls {args.calldata_calls} "
              f"--report {args.calldata_report})", flush=True)
        output = run_script("bench_calldata.py", "--calls", str(args.calldata_calls),
                            "--report", str(args.calldata_report), "--json", str(saved))
        print(output.rstrip())
        calldata = json.loads(saved.read_text())
        by_mode = {r["mode"]: r for r in calldata["results"]}
        http, memory = by_mode["http"], by_mode["in-memory"]
        ratio = (http["calls"] / http["seconds"]) / (memory["calls"] / memory["seconds"])
        growth_mb = (http["stream_peak_kb"] - http["baseline_kb"]) / 1024
        memory_growth_mb = (memory["run_peak_kb"] - memory["baseline_kb"]) / 1024
        print(f"report over HTTP: {ratio:.2f}× the in-memory lxml build (target ≥ 1.0), first byte "
              f"{http['first_byte_s'] * 1000:.0f} ms (target < 200 ms), server RSS +{growth_mb:.0f} MB while "
              f"streaming {http['calls']:,} calls (the in-memory build grew by {memory_growth_mb:.0f} MB)")
        figures["calldata"] = {**calldata, "ratio_to_in_memory": ratio, "stream_growth_mb": growth_mb}
    print(f"\n## Recording capacity (bench/bench_telephony.py --budget-s {args.telephony_budget_s:g})", flush=True)
    output = run_script("bench_telephony.py", "--budget-s", str(args.telephony_budget_s))
    print(output.rstrip())
    figures["telephony"] = output
    print(f"\n## Event fan-out (bench/bench_events.py --subscribers {args.events_subscribers})", flush=True)
    output = run_script("bench_events.py", "--subscribers", str(args.events_subscribers))
    print(output.rstrip())
    figures["events"] = output
    return figures


if __name__ == "__main__":
    sys.exit(main())
