"""A whole agent session over HTTP at the seed's URLs (seed 004), on the one ledger:
token -> login -> goready -> dial -> hold -> retrieve -> stoprecord -> startrecord ->
hangup -> dispose, then the call as the ledger, the recording (its paused gap heard in
the MP3), AddLink, RetrieveRecFile and the Callbutton report see it."""
from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests
from helpers.agent import AgentClient
from helpers.callbutton import request_doc
from helpers.server import start_server
from lxml import etree
from sqlalchemy import select

from services.telephony.audio import decode_dominant_frequencies, expected_frequency
from storage.models import AgentSession, Call, Lead, LeadPhone

CUSTOMER = "+442079460111"  # Carol Customer's home phone in demo/site.json (lead 1)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("agent-session"), agent_answer_after_s=0.0)
    yield server
    server.stop()


def sleep_until_call_second(live, answered_at, seconds: float) -> None:
    moment = answered_at + timedelta(seconds=seconds)
    while live.system.switch.now() < moment:
        time.sleep(0.002)


def ledger_call(live, call_id: int) -> Call:
    with live.db.read_session() as session:
        call = session.get(Call, call_id)
        _ = call.recording  # loaded before the session closes
        return call


def wait_answered(live, call_id: int) -> Call:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        call = ledger_call(live, call_id)
        if call.state == "answered":
            return call
        time.sleep(0.02)
    raise AssertionError(f"call {call_id} was not answered")


def test_a_full_agent_session(live):
    alice = AgentClient(live, "alice", 7)

    r = alice.do("login", campaign="3")
    assert r.ok and r.one["AgentStateName"] == "logged_in" and r.one["CampaignID"] == 3
    r = alice.do("goready", as_json=True)
    assert r.ok and (r.one["AgentState"], r.one["AgentStateName"]) == (2, "ready")

    r = alice.get(f"/dial/user/7/phone/{quote(CUSTOMER)}")
    assert r.ok, r.body
    dialled = r.one
    call_id = dialled["CallId"]
    assert dialled["PhoneNumber"] == CUSTOMER and dialled["CustomerName"] == "Carol Customer"
    assert dialled["CallStatus"] == 1 and dialled["RecordingState"] == 1
    answered = wait_answered(live, call_id).answered_at

    r = alice.do("getcalls", as_json=True)
    assert r.ok and [c["CallId"] for c in r.entities] == [call_id] and r.one["CallState"] == 2

    # The agent's workstation links a BMS activity to the call in progress.
    link = requests.get(live.url("/bluebutler/service/AddLink/id=ACT-AGENT-1"),
                        params={"host": "WS-ALICE", "activeCall": "true"}, timeout=10)
    assert link.status_code == 200 and link.text == ledger_call(live, call_id).recording.reference

    sleep_until_call_second(live, answered, 0.5)
    r = alice.call("hold", call_id)
    assert r.ok and r.one["CallState"] == 3
    assert ledger_call(live, call_id).held and live.system.switch.call(ledger_call(live, call_id).external_id).held
    r = alice.call("retrieve", call_id, as_json=True)
    assert r.ok and r.one["CallState"] == 2 and not ledger_call(live, call_id).held

    sleep_until_call_second(live, answered, 2.0)
    r = alice.call("stoprecord", call_id)
    assert r.ok and r.one["RecordingState"] == 2
    assert ledger_call(live, call_id).recording.state == "paused"
    sleep_until_call_second(live, answered, 4.0)
    r = alice.call("startrecord", call_id)
    assert r.ok and r.one["RecordingState"] == 1
    assert ledger_call(live, call_id).recording.state == "recording"

    sleep_until_call_second(live, answered, 6.0)
    r = alice.call("hangup", call_id)
    assert r.ok and (r.one["CallState"], r.one["CallStatus"]) == (4, 2)  # ended, wrapping
    r = alice.do("getcalls")
    assert [c["CallStatus"] for c in r.entities] == [2]
    r = alice.do("goready")
    assert (r.status, r.code) == (409, 22)  # wrapping: dispose first

    r = alice.call("dispose", call_id, resultcode="SALE")
    assert r.ok and r.one["CallStatus"] == 3
    assert alice.do("getcalls").entities == []
    with live.db.read_session() as session:
        assert session.get(AgentSession, 7).state == "ready"
    r = alice.do("goready", as_json=True)
    assert r.ok and r.one["AgentStateName"] == "ready"

    # The ledger: an ordinary outbound call of this agent, campaign and lead.
    call = ledger_call(live, call_id)
    assert (call.direction, call.state, call.result, call.result_code) == ("outbound", "ended", "Connected", "SALE")
    assert (call.agent_id, call.campaign_id, call.lead_id) == (7, 3, 1)
    assert (call.extension, call.target, call.did) == ("201", CUSTOMER, "+18005551234")
    assert call.disposed_at is not None and not call.held

    # The recording: two seconds paused, never encoded; the metadata says where.
    recording = call.recording
    assert recording.state == "available"
    (span,) = recording.paused_spans
    assert span["offset_s"] == pytest.approx(2.0, abs=0.5) and span["length_s"] == pytest.approx(2.0, abs=0.5)
    assert recording.duration_s == pytest.approx((call.ended_at - call.answered_at).total_seconds() - span["length_s"],
                                                 abs=0.05)
    heard = decode_dominant_frequencies(live.system.store.path_of(recording.file_path).read_bytes())

    def call_second(recording_second: int) -> int:
        middle = recording_second + 0.5
        return math.floor(middle if middle < span["offset_s"] else middle + span["length_s"])

    assert heard == [float(expected_frequency(call_second(k))) for k in range(len(heard))]
    assert len(heard) >= 4
    for paused in (2, 3):
        assert float(expected_frequency(paused)) not in heard

    # Recall finds it by extension and time; the number is the customer's.
    at = (call.answered_at + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    found = requests.get(live.url("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile"), timeout=10,
                         params={"sExtension": "201", "sPhoneNumber": "2079460111", "dtCallDateTime": at,
                                 "format": "json"})
    assert found.json()["d"] == str(live.system.store.path_of(recording.file_path))

    # Callbutton: the campaign's caller ID is client code 8005551234's tracking number.
    report = requests.post(live.url("/cb/main/jsp/xml/xml.jsp"), data=request_doc("8005551234", start="", end=""),
                           auth=("partner1", "demo-partner-pw"), headers={"Content-Type": "text/xml"}, timeout=30)
    assert report.status_code == 200, report.text
    rows = {c.get("ID"): c for c in etree.fromstring(report.content).iter("Call")}
    row = rows[str(call_id)]
    assert row.findtext("Campaign") == "3"  # the campaign id, as seed 002 says and row.findtext("Result") == "Connected"
    assert row.findtext("DID") == "8005551234"
    assert row.findtext("VoiceDirectory").endswith(f"?id={call_id}")


def test_dial_matches_the_newest_lead_else_creates_one(live):
    bob = AgentClient(live, "bob", 9)
    assert bob.do("login", campaign="3").ok
    with live.db.session() as session:  # a newer lead with Carol's number: dial picks it
        newer = Lead(campaign_id=3, first_name="Carol", last_name="Newer",
                     created_at=datetime.now(timezone.utc))
        newer.phones.append(LeadPhone(phone_number=CUSTOMER))
        session.add(newer)
        session.flush()
        newer_id = newer.id
    for phone, expected in ((CUSTOMER, "Carol Newer"), ("+442079460999", "")):
        r = bob.get(f"/dial/user/9/phone/{quote(phone)}", as_json=True)
        assert r.ok, r.body
        assert r.one["CustomerName"] == (expected or None)  # canon: empty is None
        call_id = r.one["CallId"]
        assert bob.call("dispose", call_id, resultcode="NOSALE").ok  # hangs up first
        call = ledger_call(live, call_id)
        assert call.state == "ended" and call.result_code == "NOSALE"
        if expected:
            assert call.lead_id == newer_id
        else:
            with live.db.read_session() as session:
                lead = session.get(Lead, call.lead_id)
                assert [p.phone_number for p in lead.phones] == ["+442079460999"] and lead.campaign_id == 3
    # ?leadid= names the lead outright.
    r = bob.get(f"/dial/user/9/phone/{quote(CUSTOMER)}", leadid="2")
    assert r.ok and r.one["CustomerName"] == "Dan Driver"
    assert bob.call("dispose", r.one["CallId"], resultcode="NOSALE").ok
    with live.db.read_session() as session:
        assert session.scalar(select(Call.lead_id).where(Call.id == r.one["CallId"])) == 2


def test_a_session_on_postgresql(tmp_path):
    from helpers.postgres import PostgresServer

    postgres = PostgresServer().start()
    try:
        server = start_server(tmp_path, database_url=postgres.create_database("callsuite_agent"),
                              agent_answer_after_s=0.0)
        try:
            alice = AgentClient(server, "alice", 7)
            assert alice.do("login", campaign="3").ok and alice.do("goready").ok
            call_id = alice.get(f"/dial/user/7/phone/{quote(CUSTOMER)}").one["CallId"]
            wait_answered(server, call_id)
            assert alice.call("hold", call_id).one["CallState"] == 3
            assert alice.call("hold", call_id).code == 31
            assert alice.call("retrieve", call_id).ok
            assert alice.call("stoprecord", call_id).one["RecordingState"] == 2
            assert alice.do("goready").code == 21
            assert alice.call("dispose", call_id, resultcode="SALE").one["CallStatus"] == 3
            assert alice.call("dispose", call_id, resultcode="SALE").code == 36
            call = ledger_call(server, call_id)
            assert (call.state, call.result_code, call.agent_id, call.lead_id) == ("ended", "SALE", 7, 1)
            assert len(call.recording.paused_spans) == 1 and call.recording.state == "available"
            assert alice.do("campaigns").one["ReadyUsers"] == [7]
        finally:
            server.stop()
    finally:
        postgres.stop()
