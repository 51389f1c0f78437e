"""Callbutton (seed 002): the report document, built in memory (render.py) and streamed (stream.py).

Pure unit tests: no server, no database.
"""
from __future__ import annotations

import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from services.calldata.render import build_report_in_memory, ten_digits, voice_directory_url
from services.calldata.stream import iter_report
from services.core.calldetails import ReportCall

UTC = timezone.utc
BASE = "https://calls.example.com"
pytestmark = pytest.mark.usefixtures("no_network")


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
