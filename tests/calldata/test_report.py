"""Callbutton Data XML Services (seed 002): request parsing, report writing, the XSD.

Pure unit tests: no server, no database.
"""
from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import xmlschema
from helpers.callbutton import request_doc
from lxml import etree

from services.calldata import report
from services.calldata.report import (
    CallDetailsRequest,
    ReportCall,
    ReportRequestError,
    RequestedClient,
    build_report_in_memory,
    error_document,
    iter_report,
    parse_request,
    ten_digits,
    to_central,
    voice_directory_url,
)

REPO = Path(__file__).resolve().parents[2]
XSD = REPO / "xsd" / "callbutton.xsd"
UTC = timezone.utc
BASE = "https://calls.example.com"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(str(XSD))


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Nothing here may open a socket (XXE/DTD fetching would)."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def cc(code: str, status: str | None = None) -> str:
    attr = f' status="{status}"' if status is not None else ""
    return f"<ClientCode{attr}>{code}</ClientCode>"


def assert_clear(exc: ReportRequestError, *needles: str) -> None:
    message = str(exc)
    assert message == exc.message and message.strip()
    assert "Traceback" not in message and 'File "' not in message
    assert str(REPO) not in message and "callbutton.xsd" not in message
    for needle in needles:
        assert needle in message, message


# ---------------------------------------------------------------- the seed's request


SEED_REQUEST = b"""<?xml version="1.0"?>
<Callbutton version="B">
  <CallbuttonService>
    <GetCallDetailsRequest>
      <ClientCode>8005551234</ClientCode>
      <ClientCode status="true">8665550000</ClientCode>
      <ClientCode status="false">8775559876</ClientCode>
      <StartDate>01/05/2026 08:00:00</StartDate>
      <EndDate>01/06/2026 17:30:00</EndDate>
    </GetCallDetailsRequest >
  </CallbuttonService>
</Callbutton>
"""


def test_seed_request_parses(schema):
    schema.validate(etree.fromstring(SEED_REQUEST))  # the authored XSD accepts it as written
    parsed = parse_request(SEED_REQUEST)
    assert parsed == CallDetailsRequest(
        clients=(RequestedClient("8005551234", False), RequestedClient("8665550000", True),
                 RequestedClient("8775559876", False)),
        start=datetime(2026, 1, 5, 14, 0, tzinfo=UTC),  # CST = UTC-6
        end=datetime(2026, 1, 6, 23, 30, tzinfo=UTC),
        all_clients=False,
    )
    assert parsed.start.tzinfo is not None and parsed.start.utcoffset() == timedelta(0)


def test_star_first_means_all_clients():
    parsed = parse_request(request_doc(cc("*", "true")))
    assert parsed.all_clients and parsed.clients == (RequestedClient("*", True),)


def test_star_not_first_is_refused():
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("8005551234"), cc("*")))
    assert_clear(info.value, "'*'", "first ClientCode")


def test_empty_and_absent_dates_are_null():
    parsed = parse_request(request_doc(cc("8005551234"), start="", end=""))
    assert parsed.start is None and parsed.end is None
    parsed = parse_request(request_doc(cc("8005551234"), start="01/05/2026 08:00:00", end=" "))
    assert parsed.start == datetime(2026, 1, 5, 14, tzinfo=UTC) and parsed.end is None
    body = (b'<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>'
            b'<ClientCode>8005551234</ClientCode></GetCallDetailsRequest></CallbuttonService></Callbutton>')
    parsed = parse_request(body)
    assert parsed.start is None and parsed.end is None and not parsed.all_clients


def test_whitespace_around_values_is_ignored():
    parsed = parse_request(request_doc('<ClientCode status=" true ">\n 8005551234 \n</ClientCode>',
                                       start=" 07/04/2026 12:00:00 ", end=""))
    assert parsed.clients == (RequestedClient("8005551234", True),)
    assert parsed.start == datetime(2026, 7, 4, 17, tzinfo=UTC)  # CDT = UTC-5


def test_end_before_start():
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("8005551234"), start="01/06/2026 00:00:00", end="01/05/2026 00:00:00"))
    assert_clear(info.value, "Date range not valid", "EndDate")


def test_equal_start_and_end_is_accepted():
    parsed = parse_request(request_doc(cc("1"), start="01/06/2026 00:00:00", end="01/06/2026 00:00:00"))
    assert parsed.start == parsed.end


@pytest.mark.parametrize("date", ["02/30/2026 00:00:00", "02/29/2025 10:00:00", "04/31/2026 00:00:00",
                                  "01/01/0000 00:00:00"])
def test_impossible_calendar_dates(date):
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("1"), start=date))
    assert_clear(info.value, "Date range not valid", date)


def test_date_at_the_edge_of_time():
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("1"), start="", end="12/31/9999 23:59:59"))
    assert_clear(info.value, "Date range not valid", "out of range")


# ---------------------------------------------------------------- daylight saving


@pytest.mark.parametrize("central, utc", [
    # spring forward, Sunday 03/08/2026: 02:00 CST -> 03:00 CDT
    ("03/08/2026 01:59:59", datetime(2026, 3, 8, 7, 59, 59, tzinfo=UTC)),
    ("03/08/2026 03:00:00", datetime(2026, 3, 8, 8, 0, 0, tzinfo=UTC)),
    # fall back, Sunday 11/01/2026: 02:00 CDT -> 01:00 CST; 01:xx happens twice
    ("11/01/2026 00:59:59", datetime(2026, 11, 1, 5, 59, 59, tzinfo=UTC)),
    ("11/01/2026 01:30:00", datetime(2026, 11, 1, 6, 30, 0, tzinfo=UTC)),  # fold=0: the CDT one
    ("11/01/2026 01:59:59", datetime(2026, 11, 1, 6, 59, 59, tzinfo=UTC)),
    ("11/01/2026 02:00:00", datetime(2026, 11, 1, 8, 0, 0, tzinfo=UTC)),
    ("11/01/2026 02:30:00", datetime(2026, 11, 1, 8, 30, 0, tzinfo=UTC)),
    ("01/15/2026 12:00:00", datetime(2026, 1, 15, 18, 0, 0, tzinfo=UTC)),
    ("07/04/2026 23:59:59", datetime(2026, 7, 5, 4, 59, 59, tzinfo=UTC)),
])
def test_parse_central_time_with_dst(central, utc):
    assert parse_request(request_doc(cc("1"), start=central, end="")).start == utc


@pytest.mark.parametrize("gap", ["03/08/2026 02:00:00", "03/08/2026 02:30:00", "03/08/2026 02:59:59"])
def test_spring_forward_gap_is_refused(gap):
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("1"), start=gap, end=""))
    assert_clear(info.value, "Date range not valid", gap, "does not exist")
    with pytest.raises(ReportRequestError):
        parse_request(request_doc(cc("1"), start="", end=gap))


def test_range_across_fall_back():
    parsed = parse_request(request_doc(cc("1"), start="11/01/2026 00:00:00", end="11/01/2026 03:00:00"))
    assert parsed.end - parsed.start == timedelta(hours=4)  # the repeated hour counts twice


@pytest.mark.parametrize("utc, central", [
    (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "11/01/2026 01:30:00"),  # CDT
    (datetime(2026, 11, 1, 7, 30, tzinfo=UTC), "11/01/2026 01:30:00"),  # CST, same wall time
    (datetime(2026, 11, 1, 8, 0, tzinfo=UTC), "11/01/2026 02:00:00"),
    (datetime(2026, 3, 8, 7, 59, 59, tzinfo=UTC), "03/08/2026 01:59:59"),
    (datetime(2026, 3, 8, 8, 0, 0, tzinfo=UTC), "03/08/2026 03:00:00"),
    (datetime(2026, 7, 4, 22, 15, 5, tzinfo=UTC), "07/04/2026 17:15:05"),  # 24-hour clock
    (datetime(2026, 1, 1, 5, 59, 59, tzinfo=UTC), "12/31/2025 23:59:59"),
    (datetime(2026, 1, 1, 6, 0, 0, tzinfo=timezone(timedelta(hours=2))), "12/31/2025 22:00:00"),
    (datetime(2026, 1, 1, 6, 0, 0), "01/01/2026 00:00:00"),  # naive is taken as UTC
])
def test_to_central(utc, central):
    assert to_central(utc) == central


# ---------------------------------------------------------------- small helpers


@pytest.mark.parametrize("e164, digits", [
    ("+18005551234", "8005551234"),
    ("+13125550100", "3125550100"),
    ("+14165550199", "4165550199"),  # Canada is in the North American plan
    (" +18005551234 ", "8005551234"),
    ("+447700900123", ""),
    ("+11235551234", ""),  # area code cannot start with 1
    ("+18001551234", ""),  # exchange cannot start with 1
    ("+1800555123", ""),
    ("8005551234", ""),
    ("201", ""),
    ("", ""),
    (None, ""),
])
def test_ten_digits(e164, digits):
    assert ten_digits(e164) == digits


def test_voice_directory_url():
    assert voice_directory_url(BASE, "12345") == \
        f"{BASE}/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id=12345"
    assert voice_directory_url(BASE + "/", "a b/&?=#é") == \
        f"{BASE}/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id=a%20b%2F%26%3F%3D%23%C3%A9"


# ---------------------------------------------------------------- the writer


ADDRESS = dict(first_name="Mr. John", middle_initial="Q", last_name="Public Jr.",
               street_address="1 Main St", secondary_address="Apt 2", city="Chicago",
               state="IL", zip="06001", zip4="1234")


def call(call_id="1001", **kw) -> ReportCall:
    values = dict(
        call_id=call_id, start_time=datetime(2026, 11, 1, 6, 30, tzinfo=UTC), campaign_id=7,
        did="+18005551234", ani="+13125550100", target="+16305550111", other_data="ref 7",
        info_digits="c", result="Connected", duration=125, talk_time=98, index_number="42",
        recorded=True, caller_address=ADDRESS, reviewed=True, dtmf="1#", sales_status="Made sale",
        journal="Called back.\r\nSold the plan.\r\n",
    )
    values.update(kw)
    return ReportCall(**values)


CALL_ORDER = ["StartTime", "Campaign", "DID", "ANI", "OtherData", "InfoDigits", "Target", "Result",
              "Duration", "TalkTime", "IndexNumber", "VoiceDirectory", "Address", "ReviewedStatus",
              "DTMF", "SalesStatus", "Journal"]


def stream(*args, **kw) -> bytes:
    return b"".join(iter_report(*args, **kw))


def render(clients, username="partner1", ip="203.0.113.7", base=BASE, schema=None, **kw):
    clients = [(code, flag, list(calls)) for code, flag, calls in clients]
    streamed = stream(username, ip, clients, base, **kw)
    built = build_report_in_memory(username, ip, clients, base)
    assert streamed == built  # byte-identical
    if schema is not None:
        schema.validate(streamed)
    return etree.fromstring(streamed), streamed


def test_full_document(schema):
    calls_a = [call("1001"), call("1002", recorded=False, caller_address=None, reviewed=False,
                                  sales_status=None, journal=None, ani=None, info_digits=None)]
    calls_b = [call("2001")]
    root, raw = render([("8005551234", True, calls_a), ("8665550000", False, calls_b)], schema=schema)

    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Callbutton version="B">')
    assert root.tag == "Callbutton" and root.get("version") == "B"
    assert [c.tag for c in root] == ["Username", "Authentication", "CallbuttonService"]
    assert root.findtext("Username") == "partner1" and root.findtext("Authentication") == "203.0.113.7"
    response = root.find("CallbuttonService/GetCallDetailsResponse")
    assert response.get("status") == "OK"
    clients = response.findall("Client")
    assert [c.findtext("ClientCode") for c in clients] == ["8005551234", "8665550000"]

    first, second = clients[0].findall("CallDetails/Call")
    assert first.get("ID") == "1001"
    assert [c.tag for c in first] == CALL_ORDER
    values = {c.tag: c.text or "" for c in first}
    assert values["StartTime"] == "11/01/2026 01:30:00"
    assert values["Campaign"] == "7"
    assert (values["DID"], values["ANI"], values["Target"]) == ("8005551234", "3125550100", "6305550111")
    assert values["OtherData"] == "ref 7" and values["InfoDigits"] == "c"
    assert values["Result"] == "Connected"
    assert (values["Duration"], values["TalkTime"], values["IndexNumber"]) == ("125", "98", "42")
    assert values["VoiceDirectory"] == f"{BASE}/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id=1001"
    assert [(a.tag, a.text) for a in first.find("Address")] == [
        ("FirstName", "Mr. John"), ("MiddleInitial", "Q"), ("LastName", "Public Jr."),
        ("StreetAddress", "1 Main St"), ("SecondaryAddress", "Apt 2"), ("City", "Chicago"),
        ("State", "IL"), ("ZIP", "06001"), ("ZIP4", "1234")]
    assert values["ReviewedStatus"] == "Reviewed" and values["DTMF"] == "1#"
    assert values["SalesStatus"] == "Made sale"
    assert values["Journal"] == "Called back.\r\nSold the plan.\r\n"  # carriage returns survive

    # not recorded, no address, status flag true: ReviewedStatus "Unreviewed", empty SalesStatus
    assert [c.tag for c in second] == ["StartTime", "Campaign", "DID", "ANI", "OtherData", "InfoDigits",
                                       "Target", "Result", "Duration", "TalkTime", "IndexNumber",
                                       "ReviewedStatus", "DTMF", "SalesStatus", "Journal"]
    assert second.findtext("ReviewedStatus") == "Unreviewed"
    assert second.findtext("SalesStatus") == "" and second.findtext("Journal") == ""
    assert second.findtext("ANI") == "" and second.findtext("InfoDigits") == ""

    # status flag false: no ReviewedStatus, SalesStatus, Journal
    (third,) = clients[1].findall("CallDetails/Call")
    assert [c.tag for c in third] == ["StartTime", "Campaign", "DID", "ANI", "OtherData", "InfoDigits",
                                      "Target", "Result", "Duration", "TalkTime", "IndexNumber",
                                      "VoiceDirectory", "Address", "DTMF"]


def test_empty_reports_validate(schema):
    root, raw = render([], schema=schema)
    assert root.find("CallbuttonService/GetCallDetailsResponse").get("status") == "OK"
    assert len(root.find("CallbuttonService/GetCallDetailsResponse")) == 0
    root, _ = render([("8005551234", False, []), ("8665550000", True, [call()])], schema=schema)
    assert [len(c.find("CallDetails")) for c in root.iter("Client")] == [0, 1]
    root, _ = render([("8005551234", False, [])], username="", ip="", schema=schema)
    assert root.findtext("Username") == ""


def test_minimal_call(schema):
    bare = ReportCall(call_id="x-1", start_time=datetime(2026, 3, 8, 8, tzinfo=UTC), campaign_id=None,
                      did=None, ani=None, target=None, other_data=None, info_digits=None, result=None,
                      duration=None, talk_time=None, index_number=None, recorded=False, caller_address=None,
                      reviewed=False, dtmf=None, sales_status=None, journal=None)
    for flag in (False, True):
        root, _ = render([("8005551234", flag, [bare])], schema=schema)
        (c,) = root.iter("Call")
        assert c.findtext("StartTime") == "03/08/2026 03:00:00"
        assert all((e.text or "") == "" for e in c if e.tag not in ("StartTime", "ReviewedStatus"))
        assert (c.find("ReviewedStatus") is not None) is flag


def test_out_of_schema_values_render_empty(schema):
    odd = call("odd", result="Failed", info_digits="x", sales_status="Maybe", duration=-5, talk_time=True,
               did="+447700900123", target="201", other_data="bad\x00\x07chars\ud800 é ✓ 😀",
               journal="tab\tok\x0bvt")
    root, raw = render([("8005551234", True, [odd])], schema=schema)
    (c,) = root.iter("Call")
    assert (c.findtext("Result"), c.findtext("InfoDigits"), c.findtext("SalesStatus")) == ("", "", "")
    assert (c.findtext("Duration"), c.findtext("TalkTime")) == ("", "")
    assert (c.findtext("DID"), c.findtext("Target")) == ("", "")
    assert c.findtext("OtherData") == "badchars é ✓ 😀" and c.findtext("Journal") == "tab\tokvt"
    assert "é ✓ 😀".encode() in raw  # UTF-8, not character references


def test_markup_in_values_is_escaped(schema):
    root, _ = render([("8005551234", True, [call('<a id="1">&', other_data="</Call><x>", journal="]]>")])],
                     schema=schema)
    (c,) = root.iter("Call")
    assert c.get("ID") == '<a id="1">&' and c.findtext("OtherData") == "</Call><x>"
    assert c.findtext("VoiceDirectory").endswith("?id=%3Ca%20id%3D%221%22%3E%26")


@pytest.mark.parametrize("flush_every", [1, 2, 3, 7, 200])
def test_stream_identical_whatever_the_chunking(schema, flush_every):
    t0 = datetime(2026, 3, 8, 6, tzinfo=UTC)
    clients = [(f"80055500{i:02d}", i % 2 == 0,
                [call(f"{i}-{j}", start_time=t0 + timedelta(minutes=17 * j), recorded=j % 2 == 0,
                      caller_address=ADDRESS if j % 3 else None) for j in range(i)])
               for i in range(6)]
    root, _ = render(clients, schema=schema, flush_every=flush_every)
    assert len(list(root.iter("Call"))) == sum(range(6))


def test_stream_is_lazy_and_bounded():
    produced = 0

    def calls(n):
        nonlocal produced
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(n):
            produced += 1
            yield call(str(i), start_time=t0 + timedelta(seconds=i))

    total_calls = 20_000
    chunks = iter_report("partner1", "203.0.113.7", iter([("8005551234", True, calls(total_calls))]),
                         BASE, flush_every=100)
    assert next(chunks) == b'<?xml version="1.0" encoding="UTF-8"?>\n'
    assert produced == 0  # nothing consumed before the body is asked for
    next(chunks)
    assert produced <= 101  # the first body chunk comes after ~100 calls, not all of them

    tracemalloc.start()
    try:
        largest = total = 0
        for chunk in chunks:
            largest = max(largest, len(chunk))
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert produced == total_calls
    assert total > 15_000_000  # the whole document is large...
    assert largest < 300_000  # ...but it leaves in small chunks
    assert peak < 5_000_000  # and memory stays bounded


def test_streamed_end_is_well_formed_for_large_input(schema):
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    calls = (call(str(i), start_time=t0 + timedelta(minutes=i)) for i in range(1500))
    raw = stream("u", "127.0.0.1", [("8005551234", True, calls), ("8665550000", False, [])], BASE,
                 flush_every=64)
    schema.validate(raw)
    assert raw.endswith(b"</GetCallDetailsResponse>\n  </CallbuttonService>\n</Callbutton>")


# ---------------------------------------------------------------- the failure document


@pytest.mark.parametrize("status", ["UNAUTHORIZED", "ERROR"])
def test_error_document(schema, status):
    raw = error_document("partner1", "198.51.100.9", status, "Date range not valid: <&> \"x\"")
    schema.validate(raw)
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = etree.fromstring(raw)
    assert [c.tag for c in root] == ["Username", "Authentication", "CallbuttonService"]
    (failure,) = root.find("CallbuttonService")
    assert failure.tag == "GetCallDetailResponse"  # no "s", as the seed spells it
    assert failure.get("status") == status and failure.text == "Date range not valid: <&> \"x\""
    assert root.find(".//GetCallDetailsResponse") is None


def test_error_document_for_unknown_user(schema):
    schema.validate(error_document("", "::1", "UNAUTHORIZED", "Authentication failed"))


def test_error_document_refuses_other_status():
    with pytest.raises(ValueError):
        error_document("u", "ip", "OK", "x")


def test_request_error_round_trips_into_error_document(schema):
    with pytest.raises(ReportRequestError) as info:
        parse_request(b"<Callbutton")
    schema.validate(error_document("u", "127.0.0.1", "ERROR", info.value.message))


# ---------------------------------------------------------------- the seed's documents vs the XSD


SEED_SUCCESS = b"""<?xml version="1.0"?>
<Callbutton version="B">
  <Username>partner1</Username>
  <Authentication>203.0.113.7</Authentication>
  <CallbuttonService>
    <GetCallDetailsResponse status="OK">
      <Client>
        <ClientCode>8005551234</ClientCode>
        <CallDetails>
          <Call ID="1001">
            <StartTime>01/05/2026 14:03:59</StartTime>
            <Campaign>12</Campaign>
            <DID>8005551234</DID>
            <ANI>3125550100</ANI>
            <OtherData>otherdata</OtherData>
            <InfoDigits>p</InfoDigits>
            <Target>6305550111</Target>
            <Result>No Answer</Result>
            <Duration>30</Duration>
            <TalkTime>0</TalkTime>
            <IndexNumber>7</IndexNumber>
            <VoiceDirectory>http://203.0.113.1/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id=1001</VoiceDirectory>
            <Address>
              <FirstName>Ann</FirstName>
              <MiddleInitial>B</MiddleInitial>
              <LastName>Cole</LastName>
              <StreetAddress>1 Main St</StreetAddress>
              <SecondaryAddress></SecondaryAddress>
              <City>Vancouver</City>
              <State>BC</State>
              <ZIP>V1M2H8</ZIP>
              <ZIP4></ZIP4>
            </Address>
            <ReviewedStatus>Unreviewed</ReviewedStatus>
            <DTMF>12</DTMF>
            <SalesStatus>Called back</SalesStatus>
            <Journal>notes
more notes</Journal>
          </Call>
        </CallDetails>
      </Client>
      <Client>
        <ClientCode>8665550000</ClientCode>
        <CallDetails>
        </CallDetails>
      </Client>
    </GetCallDetailsResponse>
  </CallbuttonService>
</Callbutton>
"""

SEED_FAILURE = b"""<?xml version="1.0"?>
<Callbutton version="B">
  <Username>partner1</Username>
  <Authentication>203.0.113.7</Authentication>
  <CallbuttonService>
    <GetCallDetailResponse status="UNAUTHORIZED">
      Authentication failed
    </GetCallDetailResponse>
  </CallbuttonService>
</Callbutton>
"""


def test_seed_response_documents_validate(schema):
    schema.validate(SEED_SUCCESS)
    schema.validate(SEED_FAILURE)
    lxml_schema = etree.XMLSchema(etree.parse(str(XSD)))  # plain XSD 1.0: libxml2 reads it too
    for doc in (SEED_REQUEST, SEED_SUCCESS, SEED_FAILURE, error_document("u", "ip", "ERROR", "x")):
        assert lxml_schema.validate(etree.fromstring(doc)), lxml_schema.error_log


@pytest.mark.parametrize("mutation", [
    (b'status="OK"', b'status="FINE"'),
    (b"<ANI>3125550100</ANI>", b"<ANI>(312) 555-0100</ANI>"),
    (b"<ANI>3125550100</ANI>", b""),
    (b"<Result>No Answer</Result>", b"<Result>Failed</Result>"),
    (b"<StartTime>01/05/2026 14:03:59</StartTime>", b"<StartTime>2026-01-05T14:03:59</StartTime>"),
    (b"<StartTime>01/05/2026 14:03:59</StartTime>", b"<StartTime>01/05/2026 2:03:59 PM</StartTime>"),
    (b"<InfoDigits>p</InfoDigits>", b"<InfoDigits>payphone</InfoDigits>"),
    (b"<ReviewedStatus>Unreviewed</ReviewedStatus>\n            <DTMF>12</DTMF>",
     b"<DTMF>12</DTMF>\n            <ReviewedStatus>Unreviewed</ReviewedStatus>"),
    (b"GetCallDetailsResponse", b"GetCallDetailResponse"),
])
def test_schema_rejects_off_contract_responses(schema, mutation):
    old, new = mutation
    assert old in SEED_SUCCESS
    assert not schema.is_valid(SEED_SUCCESS.replace(old, new))


def test_schema_rejects_misspelt_failure(schema):
    assert not schema.is_valid(SEED_FAILURE.replace(b"GetCallDetailResponse", b"GetCallDetailsResponse"))
    assert not schema.is_valid(SEED_FAILURE.replace(b"UNAUTHORIZED", b"DENIED"))


# ---------------------------------------------------------------- hostile and invalid requests


def refused(body: bytes, *needles: str, **kw) -> ReportRequestError:
    started = time.monotonic()
    with pytest.raises(ReportRequestError) as info:
        parse_request(body, **kw)
    assert time.monotonic() - started < 5
    assert_clear(info.value, *needles)
    return info.value


def test_xxe_etc_passwd():
    body = b"""<?xml version="1.0"?>
<!DOCTYPE Callbutton [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>
<ClientCode>&xxe;</ClientCode><StartDate></StartDate><EndDate></EndDate>
</GetCallDetailsRequest></CallbuttonService></Callbutton>"""
    error = refused(body, "refused")
    assert "root:" not in error.message


def test_xxe_never_reads_a_local_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    for body in [
        f'<!DOCTYPE Callbutton [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        f'<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>'
        f'<ClientCode>&x;</ClientCode></GetCallDetailsRequest></CallbuttonService></Callbutton>',
        f'<!DOCTYPE Callbutton [<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;]>'
        f'<Callbutton version="B"/>',
        f'<!DOCTYPE Callbutton SYSTEM "{secret.as_uri()}"><Callbutton version="B"/>',
    ]:
        error = refused(body.encode(), "refused")
        assert "TOP-SECRET" not in error.message and str(tmp_path) not in error.message


def test_external_dtd_over_network_is_not_fetched():
    refused(b'<!DOCTYPE Callbutton SYSTEM "http://198.51.100.1/evil.dtd"><Callbutton version="B"/>',
            "DOCTYPE")


def test_billion_laughs():
    lol = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>
<ClientCode>&lol9;</ClientCode></GetCallDetailsRequest></CallbuttonService></Callbutton>"""
    refused(lol, "refused")


def test_doctype_alone():
    body = b'<?xml version="1.0"?>\n<!DOCTYPE Callbutton>\n' + SEED_REQUEST.split(b"?>\n", 1)[1]
    refused(body, "DOCTYPE")


def test_over_the_size_limit():
    padded = SEED_REQUEST.replace(b"<Callbutton", b"<!--" + b"x" * 2_000_000 + b"-->\n<Callbutton")
    refused(padded, "too large", "1000000")
    refused(SEED_REQUEST, "too large", max_bytes=100)
    assert parse_request(SEED_REQUEST, max_bytes=len(SEED_REQUEST)).clients


@pytest.mark.parametrize("body", [
    b"<Callbutton",
    b"<Callbutton version='B'><CallbuttonService></Callbutton>",
    b"not xml at all",
    b'<?xml version="1.0" encoding="nonsense-9"?><Callbutton version="B"/>',
    b"\xff\xfe\x00garbage",
])
def test_malformed(body):
    refused(body, "not well-formed")


def test_empty_body():
    refused(b"", "empty")
    refused(b"  \n", "empty")


@pytest.mark.parametrize("body, needles", [
    (request_doc(cc("8005551234"), "<Unknown/>"), ["does not validate", "Unknown"]),
    (request_doc(cc("8005551234"), start="2026-01-05 08:00:00"), ["does not validate", "StartDate"]),
    (request_doc(cc("8005551234"), start="13/05/2026 08:00:00"), ["does not validate", "StartDate"]),
    (request_doc(cc("8005551234"), end="01/05/2026 8:00 PM"), ["does not validate", "EndDate"]),
    (request_doc(cc("8005551234", "yes")), ["does not validate", "status"]),
    (request_doc(), ["does not validate", "ClientCode"]),
    (request_doc(cc("")), ["does not validate", "ClientCode"]),
    (SEED_REQUEST.replace(b' version="B"', b""), ["does not validate", "version"]),
    (SEED_REQUEST.replace(b'version="B"', b'version="A"'), ["does not validate", "version"]),
    (SEED_REQUEST.replace(b"GetCallDetailsRequest", b"GetCallDetailRequest"),
     ["does not validate", "GetCallDetailRequest"]),
    (b'<GetCallDetailsRequest><ClientCode>1</ClientCode></GetCallDetailsRequest>',
     ["does not validate", "GetCallDetailsRequest"]),
    (SEED_REQUEST.replace(b"<Callbutton ", b'<Callbutton xmlns="urn:x" '), ["does not validate"]),
])
def test_non_validating_requests(body, needles):
    refused(body, *needles)


def test_response_documents_are_not_requests():
    refused(SEED_SUCCESS, "does not validate", "GetCallDetailsRequest")
    refused(error_document("u", "ip", "ERROR", "x"), "does not validate")


def test_huge_value_in_error_message_is_truncated():
    error = refused(request_doc(cc("8005551234"), start="9" * 50_000), "does not validate")
    assert len(error.message) < 1_000


# ---------------------------------------------------------------- schema cache


def test_schema_is_loaded_once_and_thread_safe():
    report._schemas.clear()
    results = []

    def load():
        results.append(report.get_schema())

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in results}) == 1
    assert report.get_schema(XSD) is results[0]
    assert Path(report.SCHEMA_PATH).resolve() == XSD.resolve()


def test_parse_request_is_thread_safe():
    errors = []

    def work():
        try:
            for _ in range(20):
                assert parse_request(SEED_REQUEST).clients[1].status is True
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
