"""Where one blueButler AddLink GET spends its time, in process (no sockets, no waitress):

    pip install -e '.[bench]'
    python bench/profile_addlink.py [--requests 2000] [--html FILE]

Builds the system on a fresh SQLite data folder with the demo site and a live recorded call
on alice's extension (so each AddLink links for real), calls the WSGI application directly
with the seed URL and with SOAP 1.1, prints the CPU time of one AddLink of each next to a
plain-WSGI hello-world called the same way, then a pyinstrument profile of the GET loop.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.config import load_settings  # noqa: E402
from services.core import ledger  # noqa: E402
from services.core.provisioning import provision  # noqa: E402
from services.system import System  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from baselines import spyne_echo  # noqa: E402


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
        call(app, make_environ(n))
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


def echo_environ(_n: int) -> dict:
    environ = environ_for("/", "")
    environ.update({"REQUEST_METHOD": "POST", "CONTENT_TYPE": "text/xml; charset=utf-8",
                    "CONTENT_LENGTH": str(len(ECHO)), "HTTP_SOAPACTION": '"echo"', "wsgi.input": io.BytesIO(ECHO)})
    return environ


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML view here")
    parser.add_argument("--profile", choices=("get", "soap", "echo"), default="get",
                        help="which loop pyinstrument profiles: AddLink GET, AddLink SOAP 1.1 or the Spyne echo")
    args = parser.parse_args()
    from pyinstrument import Profiler

    work = Path(tempfile.mkdtemp(prefix="callsuite-profile-"))
    settings = load_settings(None, environ={}, overrides={"data_dir": work, "access_log": True,
                                                          "log_level": "WARNING"})
    system = System(settings).start()
    try:
        with system.database.session() as session:
            provision(session, json.loads((REPO / "demo" / "site.json").read_text()))
        now = datetime.now(timezone.utc)
        with system.database.session() as session:
            for kind, at in (("call.started", now - timedelta(seconds=30)), ("call.answered", now)):
                ledger.apply_event(session, ledger.CallEvent(kind=kind, source="cti", external_id="live", at=at,
                                                             extension="201"), default_region="US")
        app = system.wsgi_app()
        query = "host=WS-ALICE&activeCall=true"
        status, body = call(app, environ_for("/bluebutler/service/AddLink/id=probe", query))
        if not (status.startswith("200") and body.isdigit()):
            raise SystemExit(f"AddLink did not link: {status} {body!r}")

        def addlink(n: int) -> dict:
            return environ_for(f"/bluebutler/service/AddLink/id=P-{n}", query)

        loop(app, 200, lambda n: addlink(-n - 1))  # warm up
        loop(app, 200, lambda n: soap_environ(f"W-{n}"))
        echo = spyne_echo()
        loop(echo, 200, echo_environ)
        base = loop(hello, args.requests, lambda n: environ_for("/hello", ""))
        mean = loop(app, args.requests, addlink)
        soap = loop(app, args.requests, lambda n: soap_environ(f"S-{n}"))
        echoed = loop(echo, args.requests, echo_environ)
        print(f"in process, CPU per request: AddLink GET {mean * 1e6:.0f} µs, AddLink SOAP 1.1 {soap * 1e6:.0f} µs, "
              f"stock Spyne Soap11 echo {echoed * 1e6:.0f} µs, plain WSGI hello-world {base * 1e6:.1f} µs "
              f"({args.requests} requests each)")
        profiled = {"get": (app, lambda n: addlink(args.requests + n)),
                    "soap": (app, lambda n: soap_environ(f"T-{n}")), "echo": (echo, echo_environ)}[args.profile]
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
