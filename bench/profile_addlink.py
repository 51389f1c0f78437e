"""Where the hot requests spend their time, in process (no sockets, no waitress):

    pip install -e '.[bench]'
    python bench/profile_addlink.py [--requests 2000] [--html FILE] [--turns 8]
                                    [--profile get|soap|echo|mp3|info|report|callback|slots|buzzmeinfo|cti|cti-ended]

Builds the system on a fresh SQLite data folder with the demo site, a live recorded call on
alice's extension (so each AddLink links for real) and a finished call with its MP3, calls
the WSGI application directly, and prints the CPU time of one request of each kind: AddLink
by the seed URL and by SOAP 1.1, an MP3 Range request (64 KiB, Basic auth),
GetRecordingInfo (SOAP 1.1, Basic auth), the Callbutton report of that call, Buzzeasy's REST
RequestCallWhenAvailable (a new ASAP request each time) and GetNextThreeTimeSlots, BuzzMeInfo's GetCallDataByNumber
(SOAP 1.1, the latest of those requests) and a call's three CTI events
(call.started, call.answered, call.ended, each of its own loop), next to
AddLink's floor (bench/run.py's: its statements straight through sqlite3, on a copy of the
database), a stock Spyne Soap11 echo and a plain-WSGI hello-world called the same way; then
a pyinstrument profile of one of those loops. AddLink GET is measured a second time handed
from thread to thread among `--turns` threads, one request at a time, as waitress's workers
take a client's requests; `taskset -c 1 python bench/profile_addlink.py` keeps all those
threads on one CPU, which shows how much of the difference is the request changing cores.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.cli import settle_heap  # noqa: E402
from services.config import load_settings  # noqa: E402
from services.core import ledger  # noqa: E402
from services.core.provisioning import provision  # noqa: E402
from services.system import System  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))
from baselines import copy_for_floor, floor, spyne_echo  # noqa: E402
from demo_site import bench_site  # noqa: E402
from helpers.audio import tone_mp3  # noqa: E402  (the suite's MP3 maker)

CTI_TOKEN = "profile-cti-token-0123456789abcdef"
BMS_BASIC = "Basic " + base64.b64encode(b"bms:demo-bms-pw").decode()


def environ_for(path: str, query: str) -> dict:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000",
            "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False}


def call(app, environ: dict) -> tuple[str, bytes]:
    status = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return status[0], body


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def loop(app, count: int, make_environ) -> float:
    """CPU seconds per request (process time: on a busy machine wall time mostly measures
    the other processes)."""
    started = time.process_time()
    for n in range(count):
        answered(app, make_environ(n), n)
    return (time.process_time() - started) / count


def answered(app, environ: dict, n: int) -> None:
    status, body = call(app, environ)
    if not status.startswith("2"):  # a refusal is not what a row measures
        raise SystemExit(f"request {n} of a loop was refused: {status} {body[:200]!r}")


def loop_in_turns(app, count: int, make_environ, threads: int) -> float:
    """As loop(), the requests handed from thread to thread, one at a time (as waitress
    hands a keep-alive client's requests to whichever worker is free). The CPU per request
    over loop()'s is what crossing threads, and the kernel's cores with them, costs."""
    turns = [threading.Semaphore(0) for _ in range(threads)]
    failures: list[BaseException] = []  # a thread's refusal or error, raised by the caller

    def take_turns(index: int) -> None:
        for n in range(index, count, threads):
            turns[index].acquire()
            try:
                if not failures:
                    answered(app, make_environ(n), n)
            except BaseException as failure:  # SystemExit too: in a thread it would end only that thread
                failures.append(failure)
            finally:
                turns[(index + 1) % threads].release()

    workers = [threading.Thread(target=take_turns, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    started = time.process_time()
    turns[0].release()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]
    return (time.process_time() - started) / count


SOAP_ADDLINK = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
                '<s:Body><AddLink xmlns="urn:callsuite:recording:1"><id>{id}</id><host>WS-ALICE</host>'
                '<activeCall>true</activeCall></AddLink></s:Body></s:Envelope>')


def soap_environ(activity_id: str) -> dict:
    body = SOAP_ADDLINK.format(id=activity_id).encode()
    environ = environ_for("/soap/recording", "")
    environ.update({"REQUEST_METHOD": "POST", "CONTENT_TYPE": "text/xml; charset=utf-8",
                    "CONTENT_LENGTH": str(len(body)), "HTTP_SOAPACTION": '"AddLink"', "wsgi.input": io.BytesIO(body)})
    return environ


ECHO = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        '<s:Body><echo xmlns="urn:bench:echo"><text>hello</text></echo></s:Body></s:Envelope>').encode()


INFO = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        '<s:Body><GetRecordingInfo xmlns="urn:callsuite:recording:1"><refNum>{ref}</refNum></GetRecordingInfo>'
        '</s:Body></s:Envelope>')


def info_environ(reference: str) -> dict:
    environ = soap_environ("unused")
    body = INFO.format(ref=reference).encode()
    environ.update({"CONTENT_LENGTH": str(len(body)), "HTTP_SOAPACTION": '"GetRecordingInfo"',
                    "wsgi.input": io.BytesIO(body), "HTTP_AUTHORIZATION": BMS_BASIC})
    return environ


class FileWrapper:
    """A server's wsgi.file_wrapper that sends nothing (the file is the server's to send)."""

    def __init__(self, handle, _block_size: int = 8192) -> None:
        self.handle = handle

    def __iter__(self):
        return iter(())

    def close(self) -> None:
        self.handle.close()


def mp3_environ(reference: str) -> dict:
    environ = environ_for(f"/bluebutler/service/MP3/{reference}", "")
    environ.update({"HTTP_AUTHORIZATION": BMS_BASIC, "HTTP_RANGE": "bytes=0-65535", "wsgi.file_wrapper": FileWrapper})
    return environ


def recorded_call(app) -> str:
    """A finished call on bob's extension with its MP3, through the CTI API: its reference."""
    def cti(method: str, path: str, content_type: str, body: bytes) -> bytes:
        environ = environ_for(path, "")
        environ.update({"REQUEST_METHOD": method, "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
                        "HTTP_AUTHORIZATION": f"Bearer {CTI_TOKEN}", "wsgi.input": io.BytesIO(body)})
        status, answer = call(app, environ)
        if not status.startswith("20"):
            raise SystemExit(f"CTI {method} {path}: {status} {answer!r}")
        return answer

    now = datetime.now(timezone.utc)
    for kind, at in (("call.started", now - timedelta(minutes=3)), ("call.answered", now - timedelta(minutes=2)),
                     ("call.ended", now - timedelta(minutes=1))):
        cti("POST", "/cti/v1/events", "application/json", json.dumps({
            "event": kind, "call_id": "recorded", "at": at.isoformat(), "extension": "202",
            "direction": "inbound", "ani": "+13125550100", "did": "8005551234"}).encode())
    answer = cti("PUT", "/cti/v1/calls/recorded/recording", "audio/mpeg", tone_mp3(40.0))
    return json.loads(answer)["reference"]


PARTNER_BASIC = "Basic " + base64.b64encode(b"partner1:demo-partner-pw").decode()


def report_environ(_n: int) -> dict:
    """The Callbutton report of the toll-free client code over the last two days: the recorded call."""
    now = datetime.now(timezone.utc)
    body = ('<?xml version="1.0"?>\n<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>'
            '<ClientCode>8005551234</ClientCode>'
            f'<StartDate>{(now - timedelta(days=1)).strftime("%m/%d/%Y %H:%M:%S")}</StartDate>'
            f'<EndDate>{(now + timedelta(days=1)).strftime("%m/%d/%Y %H:%M:%S")}</EndDate>'
            '</GetCallDetailsRequest></CallbuttonService></Callbutton>').encode()
    environ = environ_for("/cb/main/jsp/xml/xml.jsp", "")
    environ.update({"REQUEST_METHOD": "POST", "CONTENT_TYPE": "text/xml", "CONTENT_LENGTH": str(len(body)),
                    "HTTP_AUTHORIZATION": PARTNER_BASIC, "wsgi.input": io.BytesIO(body)})
    return environ


CALLBACK_REST = "/RequestCallbackService/Service.svc/rest/"
COMPANY = {"company": "1", "password": "demo-company-pw"}
BUZZMEINFO = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
              '<s:Body><GetCallDataByNumber xmlns="urn:callsuite:info:1"><presentedNumber>+13125550188'
              '</presentedNumber><companyId>1</companyId><password>demo-company-pw</password>'
              '</GetCallDataByNumber></s:Body></s:Envelope>').encode()


def json_post(path: str, document: dict, **extra) -> dict:
    body = json.dumps(document).encode()
    environ = environ_for(path, "")
    environ.update({"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                    "wsgi.input": io.BytesIO(body), **extra})
    return environ


def callback_environ(n: int) -> dict:
    """Buzzeasy's REST RequestCallWhenAvailable: a new ASAP callback request each time."""
    return json_post(CALLBACK_REST + "RequestCallWhenAvailable", {
        "name": "Profile", "phoneNo": "+13125550188", "serviceQueue": "1", **COMPANY, "field1": str(n)})


def slots_environ(_n: int) -> dict:
    """Buzzeasy's REST GetNextThreeTimeSlots from the start of today."""
    return json_post(CALLBACK_REST + "GetNextThreeTimeSlots", {
        "serviceQueue": "1", "time": datetime.now(timezone.utc).strftime("%Y-%m-%d 00:00:00"), **COMPANY})


def buzzmeinfo_environ(_n: int) -> dict:
    """BuzzMeInfo's GetCallDataByNumber (SOAP 1.1): the latest of callback_environ's open requests."""
    environ = soap_environ("unused")
    environ.update({"PATH_INFO": "/soap/info", "CONTENT_LENGTH": str(len(BUZZMEINFO)),
                    "HTTP_SOAPACTION": '"GetCallDataByNumber"', "wsgi.input": io.BytesIO(BUZZMEINFO)})
    return environ


def cti_environ(n: int, kind: str = "call.started") -> dict:
    """A CTI event of call `n`: its start (a new call each time), answer or end."""
    facts = {"extension": "209", "direction": "inbound", "ani": "+13125550100",
             "did": "8005551234"} if kind == "call.started" else {}
    return json_post("/cti/v1/events", {
        "event": kind, "call_id": f"profile-{n}", "at": datetime.now(timezone.utc).isoformat(), **facts},
        HTTP_AUTHORIZATION=f"Bearer {CTI_TOKEN}")


def echo_environ(_n: int) -> dict:
    environ = environ_for("/", "")
    environ.update({"REQUEST_METHOD": "POST", "CONTENT_TYPE": "text/xml; charset=utf-8",
                    "CONTENT_LENGTH": str(len(ECHO)), "HTTP_SOAPACTION": '"echo"', "wsgi.input": io.BytesIO(ECHO)})
    return environ


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML view here")
    parser.add_argument("--turns", type=int, default=8, metavar="THREADS",
                        help="AddLink GET also handed from thread to thread among this many (default 8, "
                        "waitress's threads)")
    parser.add_argument("--profile", choices=("get", "soap", "echo", "mp3", "info", "report", "callback",
                                              "slots", "buzzmeinfo", "cti", "cti-ended"),
                        default="get", help="which loop pyinstrument profiles: AddLink GET, AddLink SOAP 1.1, the "
                        "Spyne echo, the MP3 Range request, GetRecordingInfo, the Callbutton report, Buzzeasy's "
                        "REST RequestCallWhenAvailable, its GetNextThreeTimeSlots, BuzzMeInfo's GetCallDataByNumber, a CTI call.started or a CTI "
                        "call.ended (of a call started and answered before the profile)")
    args = parser.parse_args()
    from pyinstrument import Profiler

    work = Path(tempfile.mkdtemp(prefix="callsuite-profile-"))
    settings = load_settings(None, environ={}, overrides={"data_dir": work, "access_log": True,
                                                          "log_level": "WARNING", "cti_token": CTI_TOKEN})
    system = System(settings).start()
    try:
        with system.database.session() as session:
            provision(session, bench_site())
        now = datetime.now(timezone.utc)
        with system.database.session() as session:
            for kind, at in (("call.started", now - timedelta(seconds=30)), ("call.answered", now)):
                ledger.apply_event(session, ledger.CallEvent(kind=kind, source="cti", external_id="live", at=at,
                                                             extension="201"), default_region="US")
        app = system.wsgi_app()
        settle_heap()  # as `callsuite serve` does before it listens
        query = "host=WS-ALICE&activeCall=true"
        status, body = call(app, environ_for("/bluebutler/service/AddLink/id=probe", query))
        if not (status.startswith("200") and body.isdigit()):
            raise SystemExit(f"AddLink did not link: {status} {body!r}")

        reference = recorded_call(app)
        # The queue's EWT raised (as bench/run.py does): the callback engine leaves the new
        # requests waiting instead of dialling them on the side of the loops.
        _, raised = call(app, json_post(CALLBACK_REST + "UpdateEWTRecord", {"serviceQueue": "1", "ewt": "60", **COMPANY}))
        if raised != b"true":
            raise SystemExit("UpdateEWTRecord was refused")
        for name, environ in (("MP3", mp3_environ(reference)), ("GetRecordingInfo", info_environ(reference)),
                              ("Callbutton report", report_environ(0)), ("RequestCallWhenAvailable",
                              callback_environ(-1)), ("CTI call.started", cti_environ(-1))):
            status, body = call(app, environ)
            refused = (not status.startswith(("200", "201", "206")) or b'status="ERROR"' in body
                       or (name == "RequestCallWhenAvailable" and json.loads(body)["ResultCode"] != 0))
            if refused:
                raise SystemExit(f"{name} was refused: {status} {body[:300]!r}")

        def addlink(n: int) -> dict:
            return environ_for(f"/bluebutler/service/AddLink/id=P-{n}", query)

        loop(app, 200, lambda n: addlink(-n - 1))  # warm up
        loop(app, 200, lambda n: soap_environ(f"W-{n}"))
        echo = spyne_echo()
        loop(echo, 200, echo_environ)
        loop(app, 200, lambda n: mp3_environ(reference))
        loop(app, 200, lambda n: info_environ(reference))
        loop(app, 200, report_environ)
        base = loop(hello, args.requests, lambda n: environ_for("/hello", ""))
        mean = loop(app, args.requests, addlink)
        in_turns = loop_in_turns(app, args.requests, lambda n: addlink(-10_000 - n), args.turns)
        soap = loop(app, args.requests, lambda n: soap_environ(f"S-{n}"))
        mp3 = loop(app, args.requests, lambda n: mp3_environ(reference))
        info = loop(app, args.requests, lambda n: info_environ(reference))
        report = loop(app, args.requests, report_environ)
        # After the report: CTI's new calls would join it.
        loop(app, 200, lambda n: callback_environ(-n - 2))
        callback = loop(app, args.requests, callback_environ)
        loop(app, 200, slots_environ)
        slots = loop(app, args.requests, slots_environ)
        loop(app, 200, buzzmeinfo_environ)
        buzzmeinfo = loop(app, args.requests, buzzmeinfo_environ)
        loop(app, 200, lambda n: cti_environ(-n - 2))
        cti = loop(app, args.requests, cti_environ)
        loop(app, 200, lambda n: cti_environ(-n - 2, "call.answered"))
        answered = loop(app, args.requests, lambda n: cti_environ(n, "call.answered"))
        loop(app, 200, lambda n: cti_environ(-n - 2, "call.ended"))
        ended = loop(app, args.requests, lambda n: cti_environ(n, "call.ended"))
        echoed = loop(echo, args.requests, echo_environ)
        # bench/run.py's floor (AddLink's statements straight through sqlite3) on a copy of this database.
        floor_copy = copy_for_floor(work / "callsuite.db", work / "floor.db")
        floor_app = floor(floor_copy, work / "recordings")
        loop(floor_app, 200, lambda n: environ_for(f"/addlink/FW-{n}", query))
        floored = loop(floor_app, args.requests, lambda n: environ_for(f"/addlink/F-{n}", query))
        print(f"in process, CPU per request: AddLink GET {mean * 1e6:.0f} µs (its floor {floored * 1e6:.0f} µs; "
              f"handed among {args.turns} threads {in_turns * 1e6:.0f} µs), "
              f"AddLink SOAP 1.1 {soap * 1e6:.0f} µs, "
              f"MP3 Range 64 KiB {mp3 * 1e6:.0f} µs, GetRecordingInfo SOAP 1.1 {info * 1e6:.0f} µs, "
              f"Callbutton small report {report * 1e6:.0f} µs, RequestCallWhenAvailable REST {callback * 1e6:.0f} µs, "
              f"GetNextThreeTimeSlots REST {slots * 1e6:.0f} µs, "
              f"BuzzMeInfo GetCallDataByNumber SOAP 1.1 {buzzmeinfo * 1e6:.0f} µs, "
              f"CTI call.started {cti * 1e6:.0f} µs, call.answered {answered * 1e6:.0f} µs, "
              f"call.ended {ended * 1e6:.0f} µs, stock Spyne Soap11 echo {echoed * 1e6:.0f} µs, plain WSGI hello-world {base * 1e6:.1f} µs "
              f"({args.requests} requests each)")
        profiled = {"get": (app, lambda n: addlink(args.requests + n)),
                    "soap": (app, lambda n: soap_environ(f"T-{n}")), "echo": (echo, echo_environ),
                    "mp3": (app, lambda n: mp3_environ(reference)),
                    "info": (app, lambda n: info_environ(reference)), "report": (app, report_environ),
                    "callback": (app, lambda n: callback_environ(args.requests + n)),
                    "slots": (app, slots_environ), "buzzmeinfo": (app, buzzmeinfo_environ),
                    "cti": (app, lambda n: cti_environ(args.requests + n)),
                    "cti-ended": (app, lambda n: cti_environ(args.requests + n, "call.ended"))}[args.profile]
        if args.profile == "cti-ended":  # the calls it ends, started and answered unprofiled
            loop(app, args.requests, lambda n: cti_environ(args.requests + n))
            loop(app, args.requests, lambda n: cti_environ(args.requests + n, "call.answered"))
        profiler = Profiler(interval=0.0002)
        profiler.start()
        loop(profiled[0], args.requests, profiled[1])
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        if args.html:
            args.html.write_text(profiler.output_html())
    finally:
        system.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
