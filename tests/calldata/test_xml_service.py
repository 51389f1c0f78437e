"""Callbutton Data XML Services (seed 002) over real HTTP: POST /cb/main/jsp/xml/xml.jsp and
the recording URL, on a real server whose ledger is fed through CTI ingest (and, for bulk
data, through the ledger itself). Every document the server answers is validated
against xsd/callbutton.xsd."""
from __future__ import annotations

import hashlib
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
import xmlschema
from helpers.audio import tone_mp3
from helpers.callbutton import request_doc
from helpers.server import REPO, start_server
from lxml import etree
from sqlalchemy import insert, select, update

from services.calldata import render
from services.calldata.error_document import error_document
from services.core import calldetails, ledger
from storage.models import Base, Call

UTC = timezone.utc
URL = "/cb/main/jsp/xml/xml.jsp"
RECORDING = "/cb/main/jsp/mates/cBEventCallRecordingURL.jsp"
P1 = ("partner1", "p1-secret")

SITE = {
    "companies": [
        {"id": 1, "name": "Acme Insurance", "password": "acme-pw", "timezone": "America/Chicago",
         "regions": ["US"], "client_codes": ["8005551234", "8665550000"]},
        {"id": 2, "name": "Other Co", "password": "other-pw", "timezone": "America/Chicago",
         "regions": ["US"], "client_codes": ["8775559876"]},
    ],
    "partners": [
        {"username": "partner1", "password": "p1-secret", "allowed_ips": ["127.0.0.1", "::1"],
         "client_codes": ["8005551234", "8665550000"]},
        {"username": "netpartner", "password": "net-secret", "allowed_ips": ["10.0.0.0/8", "127.0.0.0/8"],
         "client_codes": ["8775559876"]},
        {"username": "faraway", "password": "far-secret", "allowed_ips": ["203.0.113.0/24", "198.51.100.7"],
         "client_codes": ["8005551234"]},
        {"username": "everything", "password": "all-secret", "allowed_ips": ["127.0.0.1"],
         "client_codes": ["*"]},
        {"username": "nothing", "password": "none-secret", "allowed_ips": ["127.0.0.1"], "client_codes": []},
    ],
    "campaigns": [{"id": 3, "name": "Renewals", "company": 1}],
}

ADDRESS = {"FirstName": "Mr. John", "MiddleInitial": "Q", "LastName": "Public Jr.", "StreetAddress": "1 Main St",
           "SecondaryAddress": "Apt 2", "City": "Chicago", "State": "IL", "ZIP": "06001", "ZIP4": ""}
CALL_ORDER = ["StartTime", "Campaign", "DID", "ANI", "OtherData", "InfoDigits", "Target", "Result", "Duration",
              "TalkTime", "IndexNumber", "VoiceDirectory", "Address", "ReviewedStatus", "DTMF", "SalesStatus",
              "Journal"]


@pytest.fixture(scope="module")
def schema():
    return xmlschema.XMLSchema10(str(REPO / "xsd" / "callbutton.xsd"))


def cti(live, kind, call_id, at, **fields):
    r = live.cti({"event": kind, "call_id": call_id, "at": at, **fields})
    assert r.status_code in (200, 201), r.text
    return r


def call_row(live, external_id) -> Call:
    with live.db.session() as session:
        return session.scalar(select(Call).where(Call.external_id == external_id))


def ledger_call(session, external_id, at, did, **fields):
    """A finished call straight through the ledger (bulk data, no recording)."""
    ledger.apply_event(session, ledger.CallEvent("call.started", "cti", external_id, at, extension="201",
                                                 direction="inbound", did=did, ani="+13125550100", record=False))
    ledger.apply_event(session, ledger.CallEvent("call.ended", "cti", external_id, at + timedelta(seconds=30),
                                                 result=fields.pop("result", "No Answer")))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("calldata"), site=SITE)
    audio = tone_mp3(2.0)
    # 1. The full call: answered, DTMF, a recording, every field the report shows.
    cti(server, "call.started", "full", "2026-01-05T15:00:00Z", extension="201", direction="inbound",
        ani="(312) 555-0100", did="8005551234", target="+16305550111")
    cti(server, "call.answered", "full", "2026-01-05T15:00:05Z")
    cti(server, "call.ended", "full", "2026-01-05T15:02:10Z", dtmf="1#", result="Connected")
    r = server.upload("full", audio)
    assert r.status_code == 201, r.text
    # 2. A bare call: no recording, no address, a caller outside North America.
    cti(server, "call.started", "bare", "2026-01-05T16:30:00Z", extension="201", ani="+447700900123",
        did="8005551234")
    cti(server, "call.ended", "bare", "2026-01-05T16:30:20Z", result="Abandoned")
    # 3. Outside the seed request's range (01/06/2026 17:30:00 CST = 23:30 UTC): excluded.
    cti(server, "call.started", "late", "2026-01-06T23:30:01Z", did="8005551234")
    # 4. At the range's last second: included (the end second is inclusive).
    cti(server, "call.started", "edge", "2026-01-06T23:30:00Z", did="8005551234")
    # 5. Another company's call with a recording (partner1 may not hear it).
    cti(server, "call.started", "other", "2026-01-05T15:10:00Z", did="8775559876")
    cti(server, "call.ended", "other", "2026-01-05T15:11:00Z")
    r = server.upload("other", audio)
    assert r.status_code == 201, r.text
    with server.db.session() as session:
        session.execute(update(Call).where(Call.external_id == "full").values(
            campaign_id=3, other_data="ref 7 <&>", info_digits="c", index_number="42", caller_address=ADDRESS,
            reviewed=True, sales_status="Made sale", journal="Called back.\r\nSold the plan.\r\n"))
        session.execute(update(Call).where(Call.external_id == "bare").values(
            sales_status="Called back", journal="not shown without the status flag"))
        # Daylight saving on 8665550000: spring forward 03/08/2026, fall back 11/01/2026.
        for name, at in (("spring-1", "2026-03-08T07:59:59Z"), ("spring-2", "2026-03-08T08:00:00Z"),
                         ("fall-0", "2026-11-01T05:59:59Z"), ("fall-1", "2026-11-01T06:30:00Z"),
                         ("fall-2", "2026-11-01T07:30:00Z"), ("fall-3", "2026-11-01T08:00:00Z")):
            ledger_call(session, name, datetime.fromisoformat(at), "+18665550000")
    server.audio = audio
    yield server
    server.stop()


def post(live, body, auth=P1, **kw) -> requests.Response:
    return requests.post(live.url(URL), data=body, auth=auth, headers={"Content-Type": "text/xml"}, timeout=30, **kw)


def ok(live, schema, body, auth=P1):
    r = post(live, body, auth)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/xml; charset=UTF-8"
    schema.validate(r.content)
    root = etree.fromstring(r.content)
    response = root.find("CallbuttonService/GetCallDetailsResponse")
    assert response is not None and response.get("status") == "OK", r.text
    return root


def failure(live, schema, body, auth=P1, status="ERROR", http=200):
    r = post(live, body, auth)
    assert r.status_code == http, r.text
    assert r.headers["Content-Type"] == "text/xml; charset=UTF-8"
    schema.validate(r.content)
    root = etree.fromstring(r.content)
    element = root.find("CallbuttonService/GetCallDetailResponse")  # the seed's spelling, no "s"
    assert element is not None, r.text
    assert element.get("status") == status, r.text
    assert root.find("CallbuttonService/GetCallDetailsResponse") is None
    message = element.text or ""
    assert message.strip() and "Traceback" not in message and 'File "' not in message
    return root, message


def clients_of(root) -> dict[str, list[etree._Element]]:
    return {c.findtext("ClientCode"): c.findall("CallDetails/Call")
            for c in root.iterfind("CallbuttonService/GetCallDetailsResponse/Client")}


def db_fingerprint(live) -> str:
    digest = hashlib.sha256()
    with live.db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------- the seed's request


def test_seed_request_literally(live, schema):
    root = ok(live, schema, request_doc("8005551234", "8665550000"))
    assert [c.tag for c in root] == ["Username", "Authentication", "CallbuttonService"]
    assert root.get("version") == "B"
    assert root.findtext("Username") == "partner1"
    assert root.findtext("Authentication") == "127.0.0.1"
    clients = clients_of(root)
    assert list(clients) == ["8005551234", "8665550000"]  # in the order asked
    assert clients["8665550000"] == []
    full, bare, edge = clients["8005551234"]  # by start time; "late" is after the range
    ids = {name: str(call_row(live, name).id) for name in ("full", "bare", "edge")}
    assert [c.get("ID") for c in (full, bare, edge)] == [ids["full"], ids["bare"], ids["edge"]]

    # status flag absent: no ReviewedStatus, SalesStatus, Journal
    assert [c.tag for c in full] == [t for t in CALL_ORDER if t not in ("ReviewedStatus", "SalesStatus", "Journal")]
    values = {c.tag: c.text or "" for c in full}
    assert values["StartTime"] == "01/05/2026 09:00:00"  # 15:00 UTC in CST
    assert values["Campaign"] == "3"  # the campaign's id, not its name "Renewals" (seed 002)
    assert (values["DID"], values["ANI"], values["Target"]) == ("8005551234", "3125550100", "6305550111")
    assert (values["OtherData"], values["InfoDigits"], values["IndexNumber"]) == ("ref 7 <&>", "c", "42")
    assert (values["Result"], values["Duration"], values["TalkTime"], values["DTMF"]) == ("Connected", "130", "125", "1#")
    assert values["VoiceDirectory"] == live.url(f"{RECORDING}?id={ids['full']}")
    assert {a.tag: a.text or "" for a in full.find("Address")} == ADDRESS
    assert [a.tag for a in full.find("Address")] == list(ADDRESS)

    assert [c.tag for c in bare] == ["StartTime", "Campaign", "DID", "ANI", "OtherData", "InfoDigits", "Target",
                                     "Result", "Duration", "TalkTime", "IndexNumber", "DTMF"]
    assert bare.findtext("ANI") == "" and bare.findtext("Result") == "Abandoned"  # +44: not North American
    assert bare.find("VoiceDirectory") is None and bare.find("Address") is None
    assert edge.findtext("StartTime") == "01/06/2026 17:30:00"


def test_response_is_streamed_in_chunks(live, schema):
    r = post(live, request_doc("8005551234"), stream=True)
    assert r.status_code == 200
    assert r.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in r.headers
    assert r.headers["Cache-Control"] == "no-store"
    schema.validate(r.content)


def test_status_flag_controls_reviewed_sales_and_journal(live, schema):
    root = ok(live, schema, request_doc('<ClientCode status="true">8005551234</ClientCode>'))
    full, bare, edge = clients_of(root)["8005551234"]
    assert [c.tag for c in full] == CALL_ORDER
    assert (full.findtext("ReviewedStatus"), full.findtext("SalesStatus")) == ("Reviewed", "Made sale")
    assert full.findtext("Journal") == "Called back.\r\nSold the plan.\r\n"  # carriage returns survive
    assert (bare.findtext("ReviewedStatus"), bare.findtext("SalesStatus")) == ("Unreviewed", "Called back")
    assert bare.findtext("Journal") == "not shown without the status flag"
    root = ok(live, schema, request_doc('<ClientCode status="false">8005551234</ClientCode>'))
    for call in clients_of(root)["8005551234"]:
        assert call.find("ReviewedStatus") is None and call.find("SalesStatus") is None
        assert call.find("Journal") is None


def test_flags_are_per_client_and_duplicates_are_merged(live, schema):
    root = ok(live, schema, request_doc("8665550000", '<ClientCode status="true">8005551234</ClientCode>',
                                        "8005551234", start="", end=""))
    clients = clients_of(root)
    assert list(clients) == ["8665550000", "8005551234"]
    assert all(c.find("Journal") is not None for c in clients["8005551234"])
    assert all(c.find("Journal") is None for c in clients["8665550000"])


def test_null_dates(live, schema):
    # Both empty: every call of the client; the end empty: until now.
    everything = clients_of(ok(live, schema, request_doc("8005551234", start="", end="")))["8005551234"]
    assert len(everything) == 4  # full, bare, edge, late
    starts = [c.findtext("StartTime") for c in everything]
    assert starts == ["01/05/2026 09:00:00", "01/05/2026 10:30:00", "01/06/2026 17:30:00", "01/06/2026 17:30:01"]
    since = clients_of(ok(live, schema, request_doc("8005551234", start="01/06/2026 00:00:00", end="")))
    assert len(since["8005551234"]) == 2


# ---------------------------------------------------------------- daylight saving


def times(root, code="8665550000"):
    return [c.findtext("StartTime") for c in clients_of(root)[code]]


def test_spring_forward(live, schema):
    # 02:00 CST jumps to 03:00 CDT: 07:59:59 UTC is 01:59:59, 08:00:00 UTC is 03:00:00.
    root = ok(live, schema, request_doc("8665550000", start="03/08/2026 01:00:00", end="03/08/2026 03:00:00"))
    assert times(root) == ["03/08/2026 01:59:59", "03/08/2026 03:00:00"]
    root = ok(live, schema, request_doc("8665550000", start="03/08/2026 03:00:00", end="03/08/2026 04:00:00"))
    assert times(root) == ["03/08/2026 03:00:00"]
    _, message = failure(live, schema, request_doc("8665550000", start="03/08/2026 02:30:00", end=""))
    assert "Date range not valid" in message and "does not exist" in message


def test_fall_back(live, schema):
    # 01:00-01:59 happens twice; StartTime shows the wall clock, so two calls an hour apart
    # both read 01:30:00, in the order they happened.
    root = ok(live, schema, request_doc("8665550000", start="11/01/2026 00:00:00", end="11/01/2026 02:00:00"))
    assert times(root) == ["11/01/2026 00:59:59", "11/01/2026 01:30:00", "11/01/2026 01:30:00", "11/01/2026 02:00:00"]
    # A request time in the repeated hour is its first occurrence (CDT): 01:59:59 is 06:59:59 UTC.
    root = ok(live, schema, request_doc("8665550000", start="11/01/2026 01:00:00", end="11/01/2026 01:59:59"))
    assert times(root) == ["11/01/2026 01:30:00"]
    root = ok(live, schema, request_doc("8665550000", start="11/01/2026 01:59:59", end="11/01/2026 02:00:00"))
    assert times(root) == ["11/01/2026 01:30:00", "11/01/2026 02:00:00"]  # 06:59:59Z..08:00:00Z


# ---------------------------------------------------------------- "*" and grants


def test_star_is_every_granted_client(live, schema):
    root = ok(live, schema, request_doc('<ClientCode status="true">*</ClientCode>', start="", end=""))
    clients = clients_of(root)
    assert list(clients) == ["8005551234", "8665550000"]  # not 8775559876
    assert len(clients["8005551234"]) == 4 and len(clients["8665550000"]) >= 6  # (+ bulk calls, if run before)
    assert all(c.find("ReviewedStatus") is not None for calls in clients.values() for c in calls)
    root = ok(live, schema, request_doc("*", start="", end=""), auth=("everything", "all-secret"))
    assert list(clients_of(root)) == ["8005551234", "8665550000", "8775559876"]
    assert root.findtext("Username") == "everything"
    root = ok(live, schema, request_doc("8775559876"), auth=("everything", "all-secret"))  # a code by name
    assert list(clients_of(root)) == ["8775559876"]
    _, message = failure(live, schema, request_doc("8009990000"), auth=("everything", "all-secret"),
                         status="UNAUTHORIZED")  # every code there is: not one that does not exist
    assert "not authorized for client code(s) 8009990000" in message
    root = ok(live, schema, request_doc("*"), auth=("nothing", "none-secret"))
    assert clients_of(root) == {}
    _, message = failure(live, schema, request_doc("8005551234", "*"))
    assert "'*'" in message


def test_cidr_allow_list(live, schema):
    root = ok(live, schema, request_doc("8775559876"), auth=("netpartner", "net-secret"))
    assert list(clients_of(root)) == ["8775559876"] and len(clients_of(root)["8775559876"]) == 1


# ---------------------------------------------------------------- refused


def test_no_credentials_is_challenged(live, schema):
    root, message = failure(live, schema, request_doc("8005551234"), auth=None, status="UNAUTHORIZED", http=401)
    r = post(live, request_doc("8005551234"), auth=None)
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert "HTTP Basic" in message
    assert root.findtext("Username") == "" and root.findtext("Authentication") == "127.0.0.1"


@pytest.mark.parametrize("auth", [("partner1", "wrong"), ("nobody", "p1-secret"), ("partner1", "")])
def test_wrong_credentials(live, schema, auth):
    root, message = failure(live, schema, request_doc("8005551234"), auth=auth, status="UNAUTHORIZED")
    assert "invalid username or password" in message
    assert root.findtext("Username") == auth[0] and root.findtext("Authentication") == "127.0.0.1"


def test_address_not_allowed(live, schema):
    _, message = failure(live, schema, request_doc("8005551234"), auth=("faraway", "far-secret"),
                         status="UNAUTHORIZED")
    assert "127.0.0.1" in message and "not allowed" in message


@pytest.mark.parametrize("code", ["8775559876", "9995550000"])  # another company's; no one's
def test_client_code_not_granted(live, schema, code):
    root, message = failure(live, schema, request_doc("8005551234", code), status="UNAUTHORIZED")
    assert f"not authorized for client code(s) {code}" in message
    assert root.findtext("Username") == "partner1"


# ---------------------------------------------------------------- bad and hostile bodies


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text("TOP-SECRET-8005551234")
    return path


@pytest.fixture(scope="module")
def listener():
    """A TCP port that records every connection (nothing should ever connect)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    hits = []
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hits.append(conn.recv(1000))
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join()
    server.close()


def hostile_bodies(secret_file, port):
    seed_tail = b"<CallbuttonService><GetCallDetailsRequest><ClientCode>&x;</ClientCode>" \
                b"</GetCallDetailsRequest></CallbuttonService></Callbutton>"
    laughs = b'<?xml version="1.0"?>\n<!DOCTYPE Callbutton [\n<!ENTITY a "lollollollollollollollollollol">\n' + \
        b"".join(b'<!ENTITY %c "%s">\n' % (ord("b") + i, (b"&%c;" % (ord("a") + i)) * 10) for i in range(9)) + \
        b"<!ENTITY x \"&j;\">]>\n<Callbutton version=\"B\">" + seed_tail
    return {
        "xxe": (f'<?xml version="1.0"?><!DOCTYPE Callbutton [<!ENTITY x SYSTEM "file://{secret_file}">]>'
                f'<Callbutton version="B">').encode() + seed_tail,
        "external dtd": (f'<?xml version="1.0"?><!DOCTYPE Callbutton SYSTEM "http://127.0.0.1:{port}/evil.dtd">'
                         f'<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>'
                         f'<ClientCode>8005551234</ClientCode></GetCallDetailsRequest></CallbuttonService>'
                         f'</Callbutton>').encode(),
        "parameter entity": (f'<?xml version="1.0"?><!DOCTYPE Callbutton [<!ENTITY % p SYSTEM '
                             f'"http://127.0.0.1:{port}/p.dtd"> %p;]><Callbutton version="B"/>').encode(),
        "billion laughs": laughs,
    }


@pytest.mark.parametrize("name", ["xxe", "external dtd", "parameter entity", "billion laughs"])
def test_hostile_xml_is_refused(live, schema, secret_file, listener, name):
    port, hits = listener
    before = db_fingerprint(live)
    started = time.monotonic()
    r = post(live, hostile_bodies(secret_file, port)[name])
    assert time.monotonic() - started < 5
    assert b"TOP-SECRET" not in r.content and b"lollol" not in r.content
    _, message = failure(live, schema, hostile_bodies(secret_file, port)[name])
    assert "DOCTYPE" in message or "entit" in message
    time.sleep(0.3)
    assert hits == []  # nothing was fetched
    assert db_fingerprint(live) == before


@pytest.mark.parametrize("body, needle", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b'<Callbutton version="B"><CallbuttonService>', "not well-formed"),
    (b"\xff\xfe\x00garbage", "not well-formed"),
    (b"8005551234", "not well-formed"),
    (b'<Callbutton version="B"><CallbuttonService><GetCallDetails><ClientCode>8005551234</ClientCode>'
     b"</GetCallDetails></CallbuttonService></Callbutton>", "does not validate"),
    (b'<Callbutton version="C"><CallbuttonService><GetCallDetailsRequest><ClientCode>8005551234</ClientCode>'
     b"</GetCallDetailsRequest></CallbuttonService></Callbutton>", "does not validate"),
    (b'<Callbutton version="B" xmlns="urn:x"><CallbuttonService><GetCallDetailsRequest><ClientCode>1</ClientCode>'
     b"</GetCallDetailsRequest></CallbuttonService></Callbutton>", "does not validate"),
    (request_doc("8005551234", start="2026-01-05 08:00:00"), "MM/DD/YYYY"),
    (request_doc("8005551234", start="02/30/2026 00:00:00"), "Date range not valid"),
    (request_doc("8005551234", start="01/06/2026 00:00:00", end="01/05/2026 00:00:00"), "Date range not valid"),
    (request_doc("8005551234", start="13/01/2026 00:00:00"), "does not validate"),
    (request_doc("<ClientCode></ClientCode>"), "does not validate"),
    (request_doc('<ClientCode status="yes">8005551234</ClientCode>'), "does not validate"),
    (error_document("partner1", "127.0.0.1", "ERROR", "x"), "response document"),
])
def test_bad_requests_get_the_error_document(live, schema, body, needle):
    before = db_fingerprint(live)
    _, message = failure(live, schema, body)
    assert needle in message
    assert db_fingerprint(live) == before


def test_a_body_over_one_megabyte_is_an_error(live, schema):
    body = request_doc("8005551234").replace(b"<CallbuttonService>", b"<!--" + b"x" * 1_100_000 + b"-->"
                                             b"<CallbuttonService>")
    _, message = failure(live, schema, body)
    assert "Request too large" in message


def test_a_fifty_megabyte_body_meets_the_server_limit(live, schema):
    before = db_fingerprint(live)
    r = post(live, b"<" * (50 * 1024 * 1024))
    assert r.status_code == 413
    assert db_fingerprint(live) == before
    ok(live, schema, request_doc("8005551234"))  # and the server still serves


def test_unauthenticated_bodies_are_not_parsed(live, schema, secret_file, listener):
    port, _ = listener
    _, message = failure(live, schema, hostile_bodies(secret_file, port)["billion laughs"], auth=("x", "y"),
                         status="UNAUTHORIZED")
    assert "invalid username or password" in message


def test_only_post(live):
    assert requests.get(live.url(URL), auth=P1).status_code == 405


# ---------------------------------------------------------------- run-time validation


def test_a_call_that_fails_validation_stops_the_stream(live, monkeypatch):
    real = render.call_element

    def broken(*args, **kwargs):
        element = real(*args, **kwargs)
        element.find("Result").text = "Exploded"
        return element

    monkeypatch.setattr(render, "call_element", broken)
    r = post(live, request_doc("8005551234"))
    assert r.status_code == 200  # the headers had gone before the first call was written
    assert b"Exploded" not in r.content and b"</Callbutton>" not in r.content
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(r.content)  # the client's parser notices


def test_a_database_failure_before_the_stream_is_an_error(live, schema, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("database is down")
        yield  # pragma: no cover

    monkeypatch.setattr(calldetails, "iter_calls", fail)
    _, message = failure(live, schema, request_doc("8005551234"))
    assert "Internal error" in message and "database is down" not in message


# ---------------------------------------------------------------- many calls, batches


def test_thousands_of_calls_in_batches_with_equal_start_times(live, schema):
    base = datetime(2026, 6, 1, 12, tzinfo=UTC)
    rows = [dict(source="bulk", external_id=f"bulk-{i}", direction="inbound", state="ended",
                 started_at=base + timedelta(seconds=i // 500), did="+18665550000", ani="+13125550100",
                 result="Connected", duration_s=i % 600, talk_time_s=i % 500, reviewed=False)
            for i in range(2500)]
    rows.reverse()  # ids do not follow start times
    with live.db.session() as session:
        session.execute(insert(Call), rows)
    root = ok(live, schema, request_doc("8665550000", start="06/01/2026 07:00:00", end="06/01/2026 07:00:04"))
    calls = clients_of(root)["8665550000"]
    assert len(calls) == 2500  # 3 batches of up to 1,000, boundaries inside runs of equal times
    keys = [(c.findtext("StartTime"), int(c.get("ID"))) for c in calls]
    assert keys == sorted(keys) and len(set(keys)) == 2500
    # The domain query directly, with tiny batches: the same calls in the same order.
    small = list(calldetails.iter_calls(live.db, "8665550000", base, base + timedelta(seconds=4), batch_size=7))
    assert [c.call_id for c in small] == [c.get("ID") for c in calls]


# ---------------------------------------------------------------- the recording URL


def recording_url(live, name):
    return live.url(f"{RECORDING}?id={call_row(live, name).id}")


def test_voice_directory_url_plays_for_the_partner(live, schema):
    root = ok(live, schema, request_doc("8005551234"))
    url = clients_of(root)["8005551234"][0].findtext("VoiceDirectory")
    r = requests.get(url, auth=P1)
    assert r.status_code == 200 and r.headers["Content-Type"] == "audio/mpeg"
    assert r.content == live.audio and int(r.headers["Content-Length"]) == len(live.audio)
    assert r.headers["Accept-Ranges"] == "bytes" and r.headers["ETag"] and r.headers["Last-Modified"]
    r = requests.get(url, auth=P1, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == live.audio[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(live.audio)}"
    assert requests.head(url, auth=P1).status_code == 200


def test_recording_url_refuses_others(live):
    url = recording_url(live, "full")
    r = requests.get(url)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(url, auth=("partner1", "wrong")).status_code == 401
    assert requests.get(url, auth=("faraway", "far-secret")).status_code == 403  # address not allowed
    assert requests.get(url, auth=("netpartner", "net-secret")).status_code == 403  # not its client code
    assert requests.get(recording_url(live, "other"), auth=P1).status_code == 403
    assert requests.get(recording_url(live, "other"), auth=("netpartner", "net-secret")).status_code == 200
    assert requests.get(url, auth=("everything", "all-secret")).status_code == 200


def test_recording_url_not_found(live):
    assert requests.get(recording_url(live, "bare"), auth=P1).status_code == 404  # not recorded
    for query in ("?id=99999999", "?id=abc", "?id=../../etc/passwd", "?id=", ""):
        r = requests.get(live.url(RECORDING + query), auth=P1)
        assert r.status_code == 404 and r.content == b"", query


# ---------------------------------------------------------------- domain helpers


@pytest.mark.parametrize("allowed, address, expected", [
    (["127.0.0.1"], "127.0.0.1", True),
    (["127.0.0.1"], "127.0.0.2", False),
    (["10.0.0.0/8"], "10.200.3.4", True),
    (["10.0.0.0/8"], "11.0.0.1", False),
    (["127.0.0.1"], "::ffff:127.0.0.1", True),  # IPv4-mapped IPv6 is the IPv4 address
    (["::ffff:10.0.0.0/104"], "10.1.2.3", True),
    (["::1"], "::1", True),
    (["2001:db8::/32"], "2001:db8:1::5", True),
    (["2001:db8::/32"], "127.0.0.1", False),
    (["not an address", "127.0.0.1"], "127.0.0.1", True),  # bad entries are skipped
    ([], "127.0.0.1", False),  # an empty list allows nobody
    (["0.0.0.0/0"], "198.51.100.9", True),
    (["127.0.0.1"], "", False),
    (["127.0.0.1"], "garbage", False),
])
def test_address_allowed(allowed, address, expected):
    assert calldetails.address_allowed(allowed, address) is expected


def test_report_address_only_when_something_is_known():
    assert calldetails.report_address(None) is None
    assert calldetails.report_address({}) is None
    assert calldetails.report_address({"FirstName": " ", "City": ""}) is None
    assert calldetails.report_address("1 Main St") is None
    assert calldetails.report_address({"first_name": "Ann", "zip": "75201"}) == \
        calldetails.ReportAddress(first_name="Ann", zip="75201")
    assert calldetails.report_address(ADDRESS) == calldetails.ReportAddress(
        first_name="Mr. John", middle_initial="Q", last_name="Public Jr.", street_address="1 Main St",
        secondary_address="Apt 2", city="Chicago", state="IL", zip="06001", zip4="")


def test_did_and_code():
    assert calldetails.did_for_code("8005551234") == "+18005551234"
    assert calldetails.code_for_did("+18005551234") == "8005551234"
    assert calldetails.did_for_code("custcode_1") == "custcode_1" == calldetails.code_for_did("custcode_1")
    assert calldetails.code_for_did(None) is None
