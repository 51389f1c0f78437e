"""The hostile corpus (tests/hardening/corpus.py) against every endpoint the server mounts
(issue 15, part 3): each input is answered with the protocol's own error (a SOAP Fault,
the seed's error document or string, an HTTP 4xx with a reason) within a bounded time,
never a 5xx with a trace, never a byte of a local file, and the database unchanged.

One server for the module; a local HTTP "canary" server stands for an attacker's host:
an external entity, DTD or XInclude that the server fetched would show up there.
"""
from __future__ import annotations

import collections
import http.server
import inspect
import json
import logging
import re
import socket
import threading
import time
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import pytest
import requests
from argon2 import PasswordHasher
from hardening import corpus
from helpers.callbutton import request_doc
from helpers.console import signed_in
from helpers.database import changed_tables, fingerprint
from helpers.server import CTI_TOKEN, DEMO_SITE, REPO, start_server
from helpers.soap import BMS, soap_body
from lxml import etree
from sqlalchemy import update

from services.soap.endpoint import SoapService
from storage.models import ActivityLink, Company, PartnerAccount, User

BOUND_S = 5.0  # a hang detector, not a speed test: every answer well inside it
PARTNER = ("partner1", "demo-partner-pw")
AGENT = ("alice", "demo-alice-pw", 7)
COMPANY_PASSWORD = "demo-company-pw"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
LEAKS = re.compile(rb"Traceback|File \"/|root:x?:0:0|/etc/passwd:|sqlalchemy|psycopg|sqlite3\.|"
                   rb"site-packages|" + re.escape(str(REPO).encode()), re.IGNORECASE)


class Canary(http.server.ThreadingHTTPServer):
    """Records every request: a hostile document made the server fetch it."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        canary = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                canary.hits.append(self.path)
                body = b'<!ENTITY leaked "fetched">'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def canary():
    server = Canary()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    # The corpus sends hundreds of wrong credentials: the sign-in limits would otherwise
    # lock the test's own good accounts out half-way (they are tested in tests/security).
    server = start_server(tmp_path_factory.mktemp("corpus"), signin_max_failures=100_000,
                          signin_max_address_failures=100_000)
    # Hundreds of credential checks: the site's hashes at argon2's lowest cost keep each
    # quick (the server reads the cost from the hash, so the path is the real one).
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    site = json.loads(DEMO_SITE.read_text())
    with server.db.session() as session:
        for model, key, rows in ((Company, "id", site["companies"]), (User, "username", site["users"]),
                                 (PartnerAccount, "username", site["partners"])):
            for row in (r for r in rows if r.get("password")):
                session.execute(update(model).where(getattr(model, key) == row[key])
                                .values(password_hash=cheap.hash(row["password"])))
    server.recording = server.recorded_call("201", talk_s=1.0)
    with server.db.read_session() as session:
        from storage.models import Call
        server.call_row_id = session.query(Call.id).filter(Call.external_id == server.recording.call_id).scalar()
    yield server
    server.stop()


class Walk:
    """Sends hostile requests and checks what every answer must be; counts them."""

    def __init__(self, live, canary, request) -> None:
        self.live, self.canary = live, canary
        self.tried: collections.Counter = collections.Counter()
        self.session = requests.Session()
        self.token = None

    def send(self, kind: str, method: str, url: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        if kwargs.get("params"):  # lone surrogates go out as the invalid UTF-8 they stand for
            url += ("&" if "?" in url else "?") + urlencode(kwargs.pop("params"), errors="surrogatepass")
        if isinstance(kwargs.get("data"), dict):
            kwargs["data"] = urlencode(kwargs["data"], errors="surrogatepass")
            kwargs["headers"] = {"Content-Type": "application/x-www-form-urlencoded", **kwargs.get("headers", {})}
        started = time.monotonic()
        response = self.session.request(method, url, allow_redirects=False, **kwargs)
        if kwargs.get("stream"):
            response._content = response.raw.read(200_000)  # a stream answered must end or be short
        elapsed = time.monotonic() - started
        self.tried[kind] += 1
        where = f"{kind}: {method} {url[:160]}"
        assert elapsed < BOUND_S, f"{where}: answered after {elapsed:.1f} s"
        sane(response, where)
        return response

    def url(self, path: str) -> str:
        return self.live.url(path)

    def events(self, path: str) -> str:
        return self.live.events_url + path

    def agent_token(self) -> str:
        if self.token is None:
            r = requests.post(self.url("/webservices/services/token"), data={"username": AGENT[0],
                                                                             "password": AGENT[1]}, timeout=10)
            assert r.ok, r.text
            self.token = etree.fromstring(r.content).findtext(".//{urn:callsuite:agent:1}TokenKey")
            assert self.token
        return self.token


def sane(r: requests.Response, where: str) -> None:
    """No 5xx but SOAP 1.1's Fault; no trace, file path, file content or driver name."""
    body = r.content
    if r.status_code >= 500:
        assert r.status_code == 500 and is_soap_fault(body), f"{where}: {r.status_code} {body[:300]!r}"
    if r.headers.get("Content-Type", "").startswith("audio/"):
        return
    leak = LEAKS.search(body)
    assert leak is None, f"{where}: the answer holds {leak.group()!r}: {body[:400]!r}"
    for name, value in r.headers.items():
        assert "injected" not in name.lower() and "injected" not in value.lower(), f"{where}: header {name}"


def is_soap_fault(body: bytes) -> bool:
    try:
        return etree.QName(soap_body(body)).localname == "Fault"
    except (etree.XMLSyntaxError, AssertionError):
        return False


def soap_fault(r: requests.Response, where: str, soap12: bool) -> str:
    """The faultstring (or 1.2 Reason) of a Client/Sender fault with the status SOAP gives it."""
    assert r.status_code == (400 if soap12 else 500), f"{where}: {r.status_code} {r.text[:300]}"
    fault = soap_body(r.content)
    assert etree.QName(fault).localname == "Fault", f"{where}: {r.text[:300]}"
    if soap12:
        assert fault.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value").endswith("Sender"), where
        return fault.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text")
    assert fault.findtext("faultcode").split(":")[-1].startswith("Client"), f"{where}: {r.text[:300]}"
    return fault.findtext("faultstring")


def reason(r: requests.Response, where: str, statuses=range(400, 500)) -> None:
    assert r.status_code in statuses, f"{where}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400 and r.status_code not in (401, 404, 403):  # the seeds answer those with an empty body
        assert r.content.strip(), f"{where}: {r.status_code} without a reason"


@pytest.fixture(scope="module")
def walk(live, canary, request):
    walker = Walk(live, canary, request)
    yield walker
    # Printed at the end of the run by tests/hardening/conftest.py.
    tried = getattr(request.config, "hostile_inputs_tried", collections.Counter())
    tried.update(walker.tried)
    request.config.hostile_inputs_tried = tried


@contextmanager
def unchanged(live, canary, *, may_write: tuple = ()):
    """The database as it was (but for the tables named), and nothing fetched from the canary."""
    before = fingerprint(live.db, ignore=("signin_failures", *may_write))
    hits = len(canary.hits)
    yield
    after = fingerprint(live.db, ignore=("signin_failures", *may_write))
    assert before == after, f"hostile input changed the database: {changed_tables(before, after)}"
    assert canary.hits[hits:] == [], f"the server fetched {canary.hits[hits:]}"


# ---------------------------------------------------------------- the served surface

def soap_services(live) -> dict[str, SoapService]:
    """{SOAP address: its SoapService} for every SOAP endpoint mounted."""
    found = {}
    for route in live.system.edges():
        target = inspect.unwrap(route.wsgi) if route.wsgi is not None else None
        if isinstance(getattr(target, "__self__", None), SoapService) and target.__name__ == "soap_endpoint":
            found[route.rule] = target.__self__
    assert len(found) >= 7, found
    return found


def rest_prefixes(live) -> dict[str, SoapService]:
    """{GET prefix: its SoapService}: /rest/{service}/ (BuzzMeInfo serves its own GET routes there)."""
    found = {}
    for route in live.system.edges():
        target = inspect.unwrap(route.wsgi) if route.wsgi is not None else None
        if isinstance(getattr(target, "__self__", None), SoapService) and target.__name__ == "rest_endpoint":
            found[route.rule.split("<", 1)[0]] = target.__self__
    if any(route.rule.startswith("/rest/info/") for route in live.system.edges()):
        found["/rest/info/"] = soap_services(live)["/soap/info"]
    assert len(found) == 5, found
    return found


def operations(service: SoapService) -> dict[str, tuple[str, list[str]]]:
    """{operation: (namespace, its parameters)} as Spyne serves them."""
    found = {}
    for soap_service in service.services:
        for name, method in soap_service.public_methods.items():
            message = method.in_message
            found[name] = (message.get_namespace(), list(message._type_info))
    return found


def string_operation(service: SoapService) -> tuple[str, str, str]:
    """(namespace, operation, parameter) of an operation with a string parameter."""
    for name, (namespace, _) in sorted(operations(service).items()):
        for soap_service in service.services:
            method = soap_service.public_methods.get(name)
            if method is None:
                continue
            for param, kind in method.in_message._type_info.items():
                if getattr(kind, "__type_name__", "") == "string":
                    return namespace, name, param
    raise AssertionError("no operation with a string parameter")


def envelope(namespace: str, operation: str, param: str, value: str, *, soap12: bool, prolog: str = "") -> bytes:
    ns = SOAP12 if soap12 else SOAP11
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<s:Envelope xmlns:s="{ns}"><s:Body>'
            f'<{operation} xmlns="{namespace}"><{param}>{value}</{param}></{operation}></s:Body></s:Envelope>'
            ).encode()


def soap_headers(soap12: bool, operation: str = "") -> dict:
    if soap12:
        return {"Content-Type": "application/soap+xml; charset=utf-8"}
    return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{operation}"'}


# ---------------------------------------------------------------- XML

DTD_PROLOGS = {name for name, (prolog, _) in corpus.XML_PROLOGS.items() if "<!DOCTYPE" in prolog}


def test_hostile_xml_on_every_soap_endpoint(live, canary, walk):
    with unchanged(live, canary, may_write=("activity_links", "audit_entries",)):
        seen = set()
        for address, service in soap_services(live).items():
            if id(service) in seen:
                continue  # a second address of the same service (the seeds' own paths)
            seen.add(id(service))
            namespace, operation, param = string_operation(service)
            for soap12 in (False, True):
                headers = soap_headers(soap12, operation)
                for name, (prolog, value) in corpus.XML_PROLOGS.items():
                    body = envelope(namespace, operation, param, value.format(canary=canary.url), soap12=soap12,
                                    prolog=prolog.format(canary=canary.url))
                    where = f"{address} {name} soap12={soap12}"
                    r = walk.send("soap-xml", "POST", walk.url(address), data=body, headers=headers, auth=BMS)
                    if name in DTD_PROLOGS:
                        assert "DTD" in soap_fault(r, where, soap12), where
                    elif r.status_code != 200:  # an XInclude or CDATA is text, or a fault
                        soap_fault(r, where, soap12)
                # Deep nesting inside a real operation, and whole hostile bodies.
                deep = envelope(namespace, operation, param, corpus.deep_xml().decode(), soap12=soap12)
                soap_fault(walk.send("soap-xml", "POST", walk.url(address), data=deep, headers=headers),
                           f"{address} deep envelope", soap12)
                for name, body in corpus.RAW_XML_BODIES.items():
                    r = walk.send("soap-xml", "POST", walk.url(address), data=body, headers=headers)
                    soap_fault(r, f"{address} {name}", soap12)


def callbutton_document(r: requests.Response, where: str) -> tuple[str, str]:
    """(status, message) of the seed's failure document GetCallDetailResponse."""
    assert r.status_code == 200, f"{where}: {r.status_code} {r.text[:300]}"
    failure = etree.fromstring(r.content).find("CallbuttonService/GetCallDetailResponse")
    assert failure is not None, f"{where}: {r.text[:300]}"
    return failure.get("status"), failure.text


def test_hostile_xml_on_the_callbutton_service(live, canary, walk):
    url = walk.url("/cb/main/jsp/xml/xml.jsp")
    with unchanged(live, canary):
        for name, (prolog, value) in corpus.XML_PROLOGS.items():
            document = request_doc(value.format(canary=canary.url)).replace(
                b'<?xml version="1.0"?>', b'<?xml version="1.0"?>' + prolog.format(canary=canary.url).encode())
            status, message = callbutton_document(walk.send("callbutton-xml", "POST", url, data=document,
                                                            auth=PARTNER), name)
            assert status in ("ERROR", "UNAUTHORIZED"), (name, message)
            if name in DTD_PROLOGS:
                assert status == "ERROR" and "DOCTYPE" in message, (name, message)
        deep = request_doc("<ClientCode>" + corpus.deep_xml(50_000).decode() + "</ClientCode>")
        for name, body in {**corpus.RAW_XML_BODIES, "deep_inside_request": deep}.items():
            r = walk.send("callbutton-xml", "POST", url, data=body, auth=PARTNER)
            assert callbutton_document(r, name)[0] == "ERROR", name
        # Anonymous: nothing is parsed, the challenge comes first.
        r = walk.send("callbutton-xml", "POST", url, data=corpus.RAW_XML_BODIES["deep_nesting"])
        assert r.status_code == 401 and "Basic" in r.headers["WWW-Authenticate"]


# ---------------------------------------------------------------- JSON

BUZZEASY_REST = "/RequestCallbackService/Service.svc/rest/"
BUZZEASY_OPERATIONS = ("RequestCallWhenAvailable", "RequestCallSchedule", "GetAvailableTimes",
                       "GetNextThreeTimeSlots", "UpdateEWTRecord", "GetEWTByServiceID")


def json_endpoints(walk) -> list[tuple[str, dict, bytes]]:
    """(path, headers, the name of a number the endpoint reads): the corpus's "company" becomes it."""
    bearer = {"Authorization": f"Bearer {CTI_TOKEN}"}
    return ([("/cti/v1/events", bearer, b"campaign"), ("/sim/v1/calls", {}, b"duration_s"),
             ("/webservices/services/token", {}, b"username")]
            + [(BUZZEASY_REST + operation, {}, b"companyID" if operation == "GetEWTByServiceID" else b"company")
               for operation in BUZZEASY_OPERATIONS])


def seed_refusal(answer) -> bool:
    """Buzzeasy answers a refused request with a value (CONTRACTS: -1, false, ResultCode -1)."""
    return answer in (-1, False) or (isinstance(answer, dict) and answer.get("ResultCode") not in (None, 0)
                                     and not answer.get("ConfirmationCode"))


def test_hostile_json_bodies(live, canary, walk):
    with unchanged(live, canary):
        for path, headers, number in json_endpoints(walk):
            for name, body in corpus.JSON_BODIES.items():
                if path.startswith("/sim/") and name in ("bom", "lone_surrogate"):
                    continue  # the simulated switch places a call for any object, {} included
                body = body.replace(b'"company"', b'"' + number + b'"')
                r = walk.send("json", "POST", walk.url(path), data=body,
                              headers={"Content-Type": "application/json", **headers})
                if path.startswith(BUZZEASY_REST) and r.status_code == 200:
                    assert seed_refusal(r.json()), f"{path} {name}: {r.text[:200]}"  # an object without a password
                    continue
                reason(r, f"{path} {name}")
        # The hub's invocations are JSON in a form field.
        negotiate = signalr_negotiate(walk)
        for name, body in corpus.JSON_BODIES.items():
            if len(body) > 15_000:
                body = body[:7_000] + body[-7_000:]  # the hub's form limit is 16 KiB: still deep
            r = walk.send("json", "POST", walk.events("/signalr/send"), params=signalr_params(negotiate),
                          data={"data": body.decode("utf-8", "replace")})
            if r.status_code == 200:  # SignalR's own error: the invocation's result names it
                assert "E" in r.json() and "R" not in r.json(), f"signalr send {name}: {r.text[:200]}"
                continue
            reason(r, f"signalr send {name}")


# ---------------------------------------------------------------- sizes and chunked bodies

def post_routes(live) -> list[tuple[str, str, int]]:
    """(path, method, body limit) of every route that takes a body, with a concrete path."""
    default = live.system.settings.max_body_bytes
    concrete = {"/cti/v1/calls/<call_id>/recording": "/cti/v1/calls/nope/recording",
                "/RequestCallbackService/Service.svc/rest/<operation>": BUZZEASY_REST + "GetEWTByServiceID",
                "/sim/v1/calls/<call_id>/<any(pause,resume,hangup):action>": "/sim/v1/calls/1/hangup",
                "/console/calls/<int:call_id>": "/console/calls/1"}
    found = []
    for route in live.system.edges():
        methods = [m for m in route.methods if m in ("POST", "PUT")] if route.wsgi is None else ["POST"]
        if not methods or (route.wsgi is not None and "soap" not in route.rule and "Service" not in route.rule
                           and ".asmx" not in route.rule):
            continue
        path = concrete.get(route.rule, route.rule)
        path = re.sub(r"<int:[^>]+>", "1", path)
        path = re.sub(r"<any\(([a-z]+)[^>]*>", r"\1", path)  # the first action
        if "<" in path:
            continue
        limit = route.max_body_bytes or default
        if limit <= 20 * 1024 * 1024:  # the recording upload's 200 MB is walked by its own test
            found.append((path, methods[0], limit))
    assert len(found) >= 15, found
    return found


def test_oversized_and_chunked_bodies_beyond_each_routes_limit(live, canary, walk):
    bearer = {"Authorization": f"Bearer {CTI_TOKEN}"}
    with unchanged(live, canary):
        for path, method, limit in post_routes(live):
            where = f"{method} {path} (limit {limit})"
            too_big = b"<" * (limit + 1)
            r = walk.send("size", method, walk.url(path), data=too_big, headers=bearer)
            assert r.status_code == 413, f"{where}: {r.status_code} {r.text[:200]}"

            def chunks(total=limit + 512 * 1024, size=256 * 1024):
                sent = 0
                while sent < total:
                    yield b" " * size
                    sent += size

            r = walk.send("size", method, walk.url(path), data=chunks(), headers={**bearer,
                                                                                 "Content-Type": "text/xml"})
            assert r.status_code == 413 or (r.status_code in (200, 500) and b"too large" in r.content.lower()
                                            ) or (r.status_code == 500 and is_soap_fault(r.content)), \
                f"{where} chunked: {r.status_code} {r.text[:200]}"
        # The events server's form limit, chunked too.
        negotiate = signalr_negotiate(walk)
        for data in (b"data=" + b"x" * 2_000_000, iter([b"data=", b"x" * 1_000_000, b"x" * 1_000_000])):
            r = walk.send("size", "POST", walk.events("/signalr/send"), params=signalr_params(negotiate), data=data,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status_code == 413, r.text[:200]


# ---------------------------------------------------------------- strings in every parameter

def credentials(walk, operation: str, params: list[str]) -> dict:
    """Good credentials for the parameters that carry them (so the hostile value is read)."""
    good = {"password": COMPANY_PASSWORD, "company": "1", "companyId": "1", "companyID": "1", "UserID": str(AGENT[2]),
            "TokenKey": walk.agent_token()}
    if operation == "GetCallDetails":
        good.update(username=PARTNER[0], password=PARTNER[1])
    if operation == "GetToken":
        good.update(username=AGENT[0], password=AGENT[1])
    return {name: good[name] for name in params if name in good}


def test_sql_traversal_and_control_strings_in_every_operations_parameters(live, canary, walk):
    """Every parameter of every operation, over GET /rest, holds hostile strings: all of them
    at once, then each alone (the credentials good, so the value gets past the door)."""
    cookie = {"Cookie": f"TokenKey={walk.agent_token()}"}
    # AddLink stores any activity id as a pending link: that table may grow, nothing else.
    with unchanged(live, canary, may_write=("activity_links", "audit_entries",)):
        links_before = count(live, ActivityLink)
        addlinks = 0
        for prefix, service in rest_prefixes(live).items():
            for operation, (_, params) in sorted(operations(service).items()):
                base = credentials(walk, operation, params)
                auth = BMS if prefix == "/rest/recording/" else None  # the others carry theirs in the query
                hostile = [name for name in params if name not in base]
                cases = ([{name: value for name in hostile} for value in corpus.PARAMETER_STRINGS] if hostile else [])
                cases += [{name: value} for name in params for value in corpus.PARAMETER_STRINGS[:2]]
                for case in cases:
                    where = f"{operation} {sorted(case)} = {next(iter(case.values()))[:40]!r}"
                    # The cookie would stand in for a TokenKey parameter that is empty: not then.
                    r = walk.send("parameter", "GET", walk.url(prefix + operation), params={**base, **case},
                                  auth=auth, headers=cookie if "TokenKey" not in case else {})
                    addlinks += operation == "AddLink" and r.status_code == 200
                    reason(r, where, statuses=[200, *range(400, 500)])
        assert count(live, ActivityLink) <= links_before + addlinks


def count(live, model) -> int:
    with live.db.read_session() as session:
        return session.query(model).count()


def test_sql_shaped_strings_match_nothing(live, canary, walk):
    """A search with an injection finds nothing, where the plain search finds the call."""
    recording = live.recording
    with unchanged(live, canary):
        plain = walk.send("sql", "GET", walk.url("/rest/recording/SearchRecordings"),
                          params={"sExtension": "201", "iPageSize": "50"}, auth=BMS)
        assert plain.ok and recording.reference in plain.text, plain.text[:300]
        for value in corpus.SQL:
            r = walk.send("sql", "GET", walk.url("/rest/recording/SearchRecordings"),
                          params={"sExtension": value, "iPageSize": "50"}, auth=BMS)
            assert recording.reference not in r.text, (value, r.text[:300])
            r = walk.send("sql", "GET", walk.url("/rest/recording/SearchRecordings"),
                          params={"sExtension": "201", "sCallingNumber": value, "iPageSize": "50"}, auth=BMS)
            assert recording.reference not in r.text, (value, r.text[:300])
            r = walk.send("sql", "GET", walk.url("/rest/recording/SearchRecordings"),
                          params={"sCalledNumber": value, "iPageSize": "50"}, auth=BMS)
            assert recording.reference not in r.text, (value, r.text[:300])
            r = walk.send("sql", "GET", walk.url("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile"),
                          params={"sExtension": value, "dtCallDateTime": '"2026-01-01 00:00:00"', "format": "json"})
            assert r.status_code in (200, 400) and recording.reference not in r.text
            r = walk.send("sql", "POST", walk.url("/cb/main/jsp/xml/xml.jsp"), auth=PARTNER,
                          data=request_doc(value.replace("'", "&apos;").replace('"', "&quot;").replace("<", "&lt;"),
                                           start="", end=""))
            status, message = callbutton_document(r, value)
            assert status in ("UNAUTHORIZED", "ERROR"), (value, message)
            r = walk.send("sql", "GET", walk.url("/BuzzMeInfo/InfoService.svc/rest/GetCallDataByNumber"),
                          params={"presentedNumber": value, "companyId": "1", "password": COMPANY_PASSWORD})
            reason(r, f"GetCallDataByNumber {value}", statuses=[200, 400, 404])
            r = walk.send("sql", "GET", walk.url("/BuzzMeInfo/InfoService.svc/rest/GetCallDataByPin"),
                          params={"pin": value, "companyId": "1", "password": COMPANY_PASSWORD})
            reason(r, f"GetCallDataByPin {value}", statuses=[200, 400, 404])
            assert "ConfirmationCode" not in r.text or '"ConfirmationCode": ""' in r.text or r.status_code != 200
    # DROP TABLE did not drop it.
    assert count(live, ActivityLink) >= 0


def seed_paths(walk, segment: str) -> list[str]:
    """Every route with a path value, the value being `segment` (already URL-encoded)."""
    reference, agent = walk.live.recording.reference, "/webservices/services/telephony"
    return [
        f"/bluebutler/service/MP3/{segment}", f"/bluebutler/service/PlayByPhone/{segment}/+442079460123",
        f"/bluebutler/service/PlayByPhone/{reference}/{segment}",
        f"/console/recordings/{segment}.mp3", f"/console/calls/{segment}", f"/console/static/{segment}",
        f"/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id={segment}", f"/sim/v1/calls/{segment}",
        f"/sim/v1/calls/{segment}/hangup", f"/rest/recording/{segment}", f"/rest/agent/{segment}",
        f"/soap/{segment}", f"{agent}/getcalls/user/{segment}", f"{agent}/dial/user/7/phone/{segment}",
        f"{agent}/hangup/user/7/call/{segment}", f"{agent}/leadphones/user/7/lead/{segment}",
        f"{agent}/changelead/user/7/call/{segment}/leadphone/{segment}",
        f"{agent}/createnewlead/user/7/call/{segment}/phone/{segment}", f"{agent}/{segment}",
        f"/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile?sExtension={segment}&dtCallDateTime={segment}",
        f"/console/?activity={segment}&phone={segment}&date={segment}&play={segment}&page={segment}",
        f"/console/calls?page={segment}", f"/console/callbacks?state={segment}", f"/console/agent?error={segment}",
    ]


def test_traversal_and_injection_in_path_values(live, canary, walk):
    http, _ = signed_in(live)
    assert http.get(live.url("/console/agent"), timeout=10).ok  # its first view makes the agent's session row
    cookies = "; ".join(f"{name}={value}" for name, value in http.cookies.get_dict().items())
    with unchanged(live, canary):
        for segment in corpus.PATH_SEGMENTS:
            for path in seed_paths(walk, segment):
                r = walk.send("path", "GET", walk.url(path), auth=BMS,
                              headers={"Cookie": f"TokenKey={walk.agent_token()}; {cookies}"})
                reason(r, path, statuses=[200, *range(400, 500)])
                if r.status_code == 200:
                    assert not r.headers["Content-Type"].startswith("audio/"), f"{path} served audio"
            for path in (f"/events/callbacks/{segment}", f"/signalr/{segment}"):
                r = walk.send("path", "GET", walk.events(path), stream=True)
                reason(r, path)
            r = walk.send("path", "PUT", walk.url(f"/cti/v1/calls/{segment}/recording"), data=b"\xff\xfb\x00",
                          headers={"Authorization": f"Bearer {CTI_TOKEN}", "Content-Type": "audio/mpeg"})
            reason(r, f"cti upload {segment}")
        # AddLink stores the id it is given, as text: a traversal is an odd activity id, no path.
    with unchanged(live, canary, may_write=("activity_links", "audit_entries",)):
        for segment in corpus.PATH_SEGMENTS:
            r = walk.send("path", "GET", walk.url(f"/bluebutler/service/AddLink/id={segment}"),
                          params={"host": "WS-ALICE"})
            # 404: an id that starts with "/" once decoded matches no AddLink path.
            assert r.status_code == 404 or r.text in ("", "No Active Call", "Error"), (segment, r.text)


def test_crlf_in_values_that_reach_headers_or_outbound_urls(live, canary, walk):
    """A line break in a value never becomes a header of ours, a redirect, or a line of an
    outbound request (the BMS link notice URL)."""
    crlf = "a\r\nSet-Cookie: injected=1\r\nLocation: http://127.0.0.1:1/injected"
    http, csrf = signed_in(live)
    with unchanged(live, canary, may_write=("activity_links", "audit_entries", "outbox", "recordings")):
        # Where a value could reach a response header: download names, redirects, the request id.
        for path in (f"/bluebutler/service/MP3/{quote(crlf)}", f"/console/recordings/{quote(crlf)}.mp3",
                     f"/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id={quote(crlf)}",
                     f"/console/?linked={quote(crlf)}", f"/console/signin?next={quote(crlf)}"):
            r = walk.send("crlf", "GET", walk.url(path), auth=BMS, cookies=http.cookies.get_dict())
            assert "Location" not in r.headers or "injected" not in r.headers["Location"]
        r = walk.send("crlf", "POST", walk.url("/console/link"), cookies=http.cookies.get_dict(),
                      data={"csrf": csrf, "link": crlf, "reference": crlf})
        assert r.status_code in (303, 400), r.status_code
        answer = raw_request(live.base_url, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\rSet-Cookie: "
                             b"injected=1\r\nConnection: close\r\n\r\n")
        assert b"injected" not in answer.split(b"\r\n\r\n", 1)[0].lower()
        # An activity id with line breaks, linked to a recording: the notice URL has none.
        with live.db.session() as session:
            from storage.models import Company
            session.get(Company, 1).bms_notify_url = ("http://127.0.0.1:9/notify?id={activity_id}&ref={ref}"
                                                      "&type={type}&d={data1}")
        activity = "ACT x?y#z&w=1/../"
        try:
            r = walk.send("crlf", "GET", walk.url(f"/bluebutler/service/AddLink/id={quote(activity, safe='')}"),
                          params={"host": "WS-ALICE", "data1": crlf, "type": crlf})
            assert r.status_code == 200
            with live.db.read_session() as session:
                link = session.query(ActivityLink).filter(ActivityLink.activity_id == activity).one()
            r = walk.send("crlf", "POST", walk.url("/console/link"), cookies=http.cookies.get_dict(),
                          data={"csrf": csrf, "link": str(link.id), "reference": live.recording.reference})
            assert r.status_code == 303, r.text
            with live.db.read_session() as session:
                from storage.models import OutboxEntry
                targets = [entry.target for entry in session.query(OutboxEntry).filter(OutboxEntry.kind == "bms_link")]
            assert targets and all(not set(t) & set("\r\n \t") for t in targets), targets
            assert all(t.split("?", 1)[0] == "http://127.0.0.1:9/notify" and t.count("&") == 3 for t in targets), targets
        finally:
            with live.db.session() as session:
                from storage.models import Company, OutboxEntry
                session.get(Company, 1).bms_notify_url = None
                session.query(OutboxEntry).filter(OutboxEntry.kind == "bms_link").delete()


def raw_request(base_url: str, data: bytes) -> bytes:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


# ---------------------------------------------------------------- JSONP

def jsonp_urls(walk) -> list[str]:
    return [walk.url(u) for u in (
        "/rest/recording/AddLink?id=ACT-JSONP", "/rest/recording/GetRecordingInfo?refNum=nope",
        "/rest/callback/GetEWTByServiceID?serviceQueueID=1&companyID=1&password=x",
        "/rest/info/GetCallDataByPin?pin=1&companyId=1&password=x", "/rest/calldata/GetCallDetails",
        "/rest/agent/GetCalls?UserID=7", "/bluebutler/service/AddLink/id=ACT-JSONP",
        "/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile?sExtension=201&dtCallDateTime=%22x%22",
        "/BuzzMeInfo/InfoService.svc/rest/GetCallDataByPin?pin=1&companyId=1&password=x",
    )] + [walk.events("/signalr/ping"), walk.events("/signalr/negotiate?clientProtocol=1.5&connectionData="
                                                     "%5B%7B%22name%22%3A%22notifyme%22%7D%5D")]


def test_jsonp_only_a_safe_identifier_callback_is_accepted(live, canary, walk):
    with unchanged(live, canary, may_write=("activity_links", "audit_entries",)):
        for url in jsonp_urls(walk):
            for callback in corpus.BAD_CALLBACKS:
                r = walk.send("jsonp", "GET", url, params={"callback": callback}, auth=BMS)
                assert r.status_code == 400, f"{url} callback={callback!r}: {r.status_code} {r.text[:200]}"
                assert "javascript" not in r.headers.get("Content-Type", ""), url
                assert not r.content.startswith(callback.encode() + b"(") or callback == "", (url, callback)
            for callback in corpus.GOOD_CALLBACKS:
                r = walk.send("jsonp", "GET", url, params={"callback": callback}, auth=BMS)
                assert r.content.startswith(callback.encode() + b"(") and r.content.endswith(b");"), (url, r.text)
                assert r.headers["Content-Type"].startswith("application/javascript")
                assert r.headers.get("X-Content-Type-Options") == "nosniff"
        # Line separators in a value that comes back in the payload are escaped in JSONP.
        r = walk.send("jsonp", "GET", walk.url("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile"),
                      params={"sExtension": "201", "dtCallDateTime": "\u2028\u2029</script>", "callback": "cb"})
        assert "\u2028".encode() not in r.content and "\u2029".encode() not in r.content, r.content


def test_a_huge_invalid_argument_logs_only_an_excerpt(live, canary, walk, caplog):
    with caplog.at_level(logging.INFO), unchanged(live, canary):
        for param in ("iPage", "sExtension", "dtFrom"):
            r = walk.send("query", "GET", walk.url("/rest/recording/SearchRecordings"), auth=BMS,
                          params={param: "9" * 200_000})
            reason(r, f"SearchRecordings {param}", statuses=[200, 400])
    logged = sum(len(record.getMessage()) for record in caplog.records)
    assert logged < 20_000, logged


# ---------------------------------------------------------------- sizes of the request line

def get_urls(walk) -> list[str]:
    reference = walk.live.recording.reference
    return [walk.url(p) for p in (
        "/health", "/soap/recording", f"/bluebutler/service/MP3/{reference}", "/bluebutler/service/AddLink/id=A",
        "/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile", "/rest/recording/SearchRecordings",
        "/rest/callback/GetEWTByServiceID", "/BuzzMeInfo/InfoService.svc/rest/GetCallDataByPin",
        "/cb/main/jsp/mates/cBEventCallRecordingURL.jsp", "/console/", "/console/signin",
        "/webservices/services/telephony/getcalls/user/7", "/sim/v1/calls/1", "/metrics")] + [
        walk.events(p) for p in ("/signalr/negotiate", "/signalr/connect", "/events/callbacks/1", "/health")]


def test_huge_query_strings(live, canary, walk):
    with unchanged(live, canary, may_write=("activity_links", "audit_entries",)):  # AddLink stores what it is sent
        for url in get_urls(walk):
            r = walk.send("query", "GET", url + "?" + "a" * corpus.HUGE_QUERY_BYTES, auth=BMS, stream=True)
            reason(r, f"{url} huge query")
            many = "&".join(f"p{i}=%27%20OR%201%3D1" for i in range(corpus.LONG_QUERY_BYTES // 20))
            r = walk.send("query", "GET", url + "?" + many, auth=BMS, stream=True)
            reason(r, f"{url} many parameters", statuses=[200, 303, 404, *range(400, 500)])
            assert r.status_code != 303 or r.headers["Location"] == "/console/signin"
            r = walk.send("query", "GET", url + "?" + "callback=cb&" * 3000 + "id=%ff%fe%00", auth=BMS, stream=True)
            reason(r, f"{url} repeated parameters", statuses=[200, 303, 404, *range(400, 500)])


# ---------------------------------------------------------------- credentials

def guarded(walk) -> list[tuple[str, str, dict]]:
    """(method, URL, request options) of a request every guard refuses without good credentials."""
    reference = walk.live.recording.reference
    soap = envelope("urn:callsuite:recording:1", "GetRecordingInfo", "refNum", reference, soap12=False)
    return [
        ("GET", walk.url(f"/bluebutler/service/MP3/{reference}"), {}),
        ("GET", walk.url(f"/rest/recording/GetRecordingInfo?refNum={reference}"), {}),
        ("POST", walk.url("/soap/recording"), {"data": soap, "headers": soap_headers(False, "GetRecordingInfo")}),
        ("POST", walk.url("/cb/main/jsp/xml/xml.jsp"), {"data": request_doc("8005551234")}),
        ("GET", walk.url(f"/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id={walk.live.call_row_id}"), {}),
        ("POST", walk.url("/cti/v1/events"), {"json": {"event": "call.started", "call_id": "auth-x",
                                                       "at": "2026-11-20T10:00:00+00:00", "extension": "201"}}),
        ("GET", walk.url("/webservices/services/telephony/getcalls/user/7"), {}),
        ("GET", walk.url("/console/calls"), {}),
    ]


def refused(r: requests.Response, where: str) -> None:
    if r.status_code == 400 and b"Invalid header" in r.content:
        return  # waitress: control characters in a header, refused before any application sees them
    if "xml.jsp" in where and r.status_code == 200:
        assert callbutton_document(r, where)[0] == "UNAUTHORIZED", where
        return
    if "/console/" in where:
        assert r.status_code in (303, 401, 403), f"{where}: {r.status_code}"
        assert r.status_code != 303 or r.headers["Location"] == "/console/signin"
        return
    if "/soap/" in where:
        assert r.status_code in (401, 400, 500) and is_soap_fault(r.content), f"{where}: {r.status_code}"
        return
    assert r.status_code in (400, 401, 403), f"{where}: {r.status_code} {r.text[:200]}"
    assert not r.headers.get("Content-Type", "").startswith("audio/"), where


def test_malformed_authorization_headers_and_cookies(live, canary, walk):
    with unchanged(live, canary):
        for method, url, options in guarded(walk):
            for name, value in corpus.AUTHORIZATION.items():
                r = walk.send("authorization", method, url, headers={**options.get("headers", {}),
                                                                     "Authorization": value},
                              **{k: v for k, v in options.items() if k != "headers"})
                refused(r, f"{url} {name}")
            for name, value in corpus.COOKIES.items():
                r = walk.send("authorization", method, url, headers={**options.get("headers", {}), "Cookie": value},
                              **{k: v for k, v in options.items() if k != "headers"})
                refused(r, f"{url} {name}")
        # Raw bytes that no client library sends: non-UTF-8 and control characters in the header.
        for header in (b"Authorization: Basic \xff\xfe\xfd", b"Authorization: Bearer \xc3\x28\x00x",
                       b"Cookie: TokenKey=\xff\xfe", b"Authorization: \x00\x01\x02"):
            for path in (f"/bluebutler/service/MP3/{live.recording.reference}",
                         "/webservices/services/telephony/getcalls/user/7", "/console/calls"):
                answer = raw_request(live.base_url, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + header
                                     + b"\r\nConnection: close\r\n\r\n")
                walk.tried["authorization"] += 1
                status = int(answer.split(b" ", 2)[1])
                assert status in (303, 400, 401, 403), (path, header, answer[:300])
                assert LEAKS.search(answer) is None, answer[:400]


# ---------------------------------------------------------------- Range on audio

def audio_sources(walk, live) -> list[tuple[str, dict]]:
    http, _ = signed_in(live)
    reference = live.recording.reference
    return [(walk.url(f"/bluebutler/service/MP3/{reference}"), {"auth": BMS}),
            (walk.url(f"/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id={live.call_row_id}"), {"auth": PARTNER}),
            (walk.url(f"/console/recordings/{reference}.mp3"), {"cookies": http.cookies.get_dict()})]


def test_range_abuse_on_audio(live, canary, walk):
    sources = audio_sources(walk, live)
    with unchanged(live, canary, may_write=("audit_entries",)):  # audio served is a listening
        for url, options in sources:
            whole = walk.send("range", "GET", url, **options)
            assert whole.status_code == 200 and whole.headers["Content-Type"] == "audio/mpeg", (url, whole.status_code)
            size = len(whole.content)
            assert size > 1000
            for name, value in corpus.RANGES.items():
                r = walk.send("range", "GET", url, headers={"Range": value}, **options)
                where = f"{url} {name} {value[:60]}"
                assert r.status_code in (200, 206, 416), f"{where}: {r.status_code}"
                if r.status_code == 200:
                    assert r.content == whole.content, where
                elif r.status_code == 416:
                    assert r.headers["Content-Range"] == f"bytes */{size}", where
                elif r.headers["Content-Type"].startswith("multipart/byteranges"):
                    assert len(r.content) <= 2 * size, f"{where}: amplified to {len(r.content)} bytes"
                else:
                    first, last = map(int, r.headers["Content-Range"].split(" ")[1].split("/")[0].split("-"))
                    assert r.headers["Content-Range"].endswith(f"/{size}"), where
                    assert r.content == whole.content[first:last + 1] and 0 <= first <= last < size, where
            suffix = walk.send("range", "GET", url, headers={"Range": "bytes=-999999999"}, **options)
            assert suffix.status_code in (200, 206) and suffix.content == whole.content, url


# ---------------------------------------------------------------- the event hub

def signalr_params(negotiate: dict, **extra) -> dict:
    return {"clientProtocol": "1.5", "transport": "longPolling", "connectionToken": negotiate["ConnectionToken"],
            "connectionData": '[{"name":"notifyme"}]', **extra}


def signalr_negotiate(walk) -> dict:
    r = requests.get(walk.events("/signalr/negotiate"), timeout=10,
                     params={"clientProtocol": "1.5", "connectionData": '[{"name":"notifyme"}]'})
    assert r.ok, r.text
    return r.json()


def test_hostile_parameters_on_the_event_hub(live, canary, walk):
    negotiate = signalr_negotiate(walk)
    good = signalr_params(negotiate)
    hostile_values = corpus.PARAMETER_STRINGS + ["[" * 3_000 + "]" * 3_000,
                                                 '[{"name":' * 1_000 + "1" + "}]" * 1_000,
                                                 '[{"name": "notifyme"}' * 500, "\x00" * 100, "</script>"]
    # Each parameter hostile in turn, the others good. The streams (connect, poll) would wait
    # for events once admitted: only what admits them is made hostile there.
    checked_first = ("clientProtocol", "transport", "connectionToken", "connectionData")
    everything = checked_first + ("messageId", "groupsToken", "data", "callback", "tid")
    with unchanged(live, canary, may_write=("hub_subscriptions",)):
        for endpoint in ("negotiate", "connect", "reconnect", "poll", "start", "send", "abort"):
            streams = endpoint in ("connect", "reconnect", "poll")
            for param in (checked_first + (("messageId",) if endpoint != "connect" else ()) if streams
                          else everything):
                for value in hostile_values:
                    params = {**good, param: value}
                    method = "POST" if endpoint in ("send", "abort", "poll") else "GET"
                    r = walk.send("hub", method, walk.events(f"/signalr/{endpoint}"), params=params,
                                  data={"data": '{"H":"notifyme","M":"subscribe","A":["' + value[:200] + '"],"I":0}'}
                                  if method == "POST" and param != "data" else None, stream=True, timeout=20)
                    reason(r, f"signalr {endpoint} {param}={value[:40]!r}", statuses=[200, *range(400, 500)])
        for value in hostile_values:
            r = walk.send("hub", "GET", walk.events(f"/events/callbacks/{quote(value, errors='surrogatepass', safe='')}"),
                          stream=True)
            reason(r, f"sse {value[:40]!r}")
            if "\n" in value or "\r" in value:
                continue  # no client sends a line break inside a header
            r = walk.send("hub", "GET", walk.events("/events/callbacks/1234567890"), stream=True,
                          headers={"Last-Event-ID": value.encode("utf-8", "replace").decode("latin-1")[:4000]})
            reason(r, f"sse Last-Event-ID {value[:40]!r}")
        for name, body in corpus.JSON_BODIES.items():
            if len(body) > 15_000:
                continue
            call = body.decode("utf-8", "replace")
            r = walk.send("hub", "POST", walk.events("/signalr/send"), params=good, data={"data": call})
            reason(r, f"signalr send {name}", statuses=[200, *range(400, 500)])
            for invocation in ('{"H":"notifyme","M":"subscribe","A":[%s],"I":0}' % call,
                               '{"H":"notifyme","M":%s,"A":[],"I":0}' % call,
                               '{"H":%s,"M":"subscribe","A":[],"I":%s}' % (call, call)):
                r = walk.send("hub", "POST", walk.events("/signalr/send"), params=good, data={"data": invocation})
                reason(r, f"signalr send invocation {name}", statuses=[200, *range(400, 500)])


def test_every_mounted_route_was_walked(live):
    """A new route must join the corpus: each rule is named here or in a walk above."""
    walked = {
        "/health", "/metrics", "/openapi.json", "/cti/v1/events", "/cti/v1/calls/<call_id>/recording", "/sim/v1/calls",
        "/sim/v1/calls/<call_id>", "/sim/v1/calls/<call_id>/<any(pause,resume,hangup):action>",
        "/soap/recording", "/RecallIPInterfaceWS/Recording.asmx", "/rest/recording/<path:operation>",
        "/bluebutler/service/AddLink/id=<path:activity_id>", "/bluebutler/service/MP3/<reference>",
        "/bluebutler/service/PlayByPhone/<reference>/<phone>",
        "/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile", "/soap/calldata", "/rest/calldata/<path:operation>",
        "/cb/main/jsp/xml/xml.jsp", "/cb/main/jsp/mates/cBEventCallRecordingURL.jsp", "/soap/agent",
        "/rest/agent/<path:operation>", "/webservices/services/token", "/RequestCallbackService/Service.svc",
        "/soap/callback", "/rest/callback/<path:operation>", "/RequestCallbackService/Service.svc/rest/<operation>",
        "/BuzzMeInfo/InfoService.svc", "/soap/info",
    }
    prefixes = ("/console/", "/webservices/services/telephony/", "/BuzzMeInfo/InfoService.svc/rest/", "/rest/info/")
    missing = [route.rule for route in live.system.edges()
               if route.rule not in walked and not route.rule.startswith(prefixes)]
    assert missing == [], f"routes the corpus does not walk: {missing}"
