"""Every method of seed 004 answers a CallActionResponse in XML (valid against
xsd/agent.xsd) and in JSON, with the seed's entity shapes; connectcalls bridges two calls
on the switch and disposes both."""
from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from helpers.agent import AgentClient, token, wait_answered
from helpers.server import start_server

from storage.models import Call, Lead

SEED_FIELDS = {
    "Call": ["CallId", "CallStartTime", "CallState", "CallStatus", "CustomerName", "CustomerName2", "PhoneNumber",
             "RecordingState"],
    "AgentNameIDPair": ["FullName", "ID"],
    "LeadPhone": ["LeadId", "PhoneNumber", "RecordType", "RecordTypeId"],
    # The seed lists Leads twice; a JSON object (and our XML) has it once.
    "Campaign": """Active AlwaysRun AutoRecord BlackoutDates BlackoutDateses CalculatedLines CallerID
        CallsPlacedThisMinute CampaignID CampaignIcon CampaignName Cps DefaultListID DefaultPhoneType Description
        DropQueue EndLine EstimatedRecordCount FirstCreated InitialPacing IvrSessions LastFetch LastModified
        LastPacingAdjust Leads LeadsInProgress LinesToReturn Lists ListsForStats LiveStats LiveStatsTemp MOTD
        MaxCallCap NumToCall Pacing PlacedPredictiveCallsLock PlacingInterval PreviewQueue ReadyUsers ResultSessions
        Schedule SchedulePlanID Schedules SchedulesUI SessionID SessionStats SoftCap StartLine Status
        TargetDropPercent TeleParamPlanID TenantID Type UncalledLeads UseAutoPacing UseGlobalBlackoutDates
        UserAddress UserName ZipTone ZipToneBeep ZipToneWav""".split(),
    "ACDQueue": """AbandonThreshold AcceptableQueueTime AcdIcon AcdName Active DefaultTimeout DefaultTimeoutIvr ID
        SessionStats SkipIndex SnapshotStats TenMinuteOffers TenMinuteOffersVirtualQueue UserAddress UserName ZipTone
        ZipToneBeep ZipToneWav""".split(),
    "ResultCode": """Code Description IsAgentViewable IsCallAgain IsCallback IsSuccess IsSystemResultCode IsTransfer
        ResultCodeID Sales StatusID SuccessType""".split(),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("agent-methods"), agent_answer_after_s=0.0)
    yield server
    server.stop()


def shaped(answer, entity: str, as_json: bool) -> list[dict]:
    """The entities of a successful answer, checked against the seed's field list (XML
    answers were validated against xsd/agent.xsd by the client already)."""
    assert answer.ok, answer.body
    if as_json:
        data = answer.body["Data"]
        for item in data if isinstance(data, list) else [data]:
            assert list(item) == SEED_FIELDS[entity], item
    return answer.entities



@pytest.mark.parametrize("as_json", [False, True], ids=["xml", "json"])
def test_every_method(live, as_json):
    agent = AgentClient(live, "alice" if not as_json else "bob", 7 if not as_json else 9)
    me = agent.user_id
    kw = {"as_json": as_json}

    assert agent.do("login", campaign="3", **kw).one["AgentStateName"] == "logged_in"
    assert agent.do("goready", **kw).one["AgentStateName"] == "ready"
    assert shaped(agent.do("getcalls", **kw), "Call", as_json) == []

    (campaign,) = shaped(agent.do("campaigns", **kw), "Campaign", as_json)
    assert (campaign["CampaignID"], campaign["CampaignName"], campaign["CallerID"]) == (3, "Renewals", "+18005551234")
    assert campaign["Active"] is True and campaign["AutoRecord"] is True and me in campaign["ReadyUsers"]
    users = shaped(agent.do("users", **kw), "AgentNameIDPair", as_json)
    assert {"FullName": "Alice Agent", "ID": 7} in users and {"FullName": "Bob Agent", "ID": 9} in users
    codes = {c["Code"]: c for c in shaped(agent.do("resultcodes", **kw), "ResultCode", as_json)}
    assert codes["SALE"]["IsSuccess"] is True and codes["CALLBACK"]["IsCallback"] is True
    (queue,) = shaped(agent.do("acdqueues", **kw), "ACDQueue", as_json)
    assert (queue["ID"], queue["AcdName"], queue["Active"]) == (1, "Claims", True)
    phones = shaped(agent.do("leadphones", "/lead/1", **kw), "LeadPhone", as_json)
    assert [(p["LeadId"], p["PhoneNumber"], p["RecordType"]) for p in phones] == [
        (1, "+442079460111", "Home"), (1, "+447911123456", "Mobile")]

    # dial, hold it, dial a third party, change leads, connect the two, both disposed.
    customer = shaped(agent.get(f"/dial/user/{me}/phone/{quote('+442079460333')}", **kw), "Call", as_json)[0]
    first = customer["CallId"]
    wait_answered(live, first)
    assert shaped(agent.call("hold", first, **kw), "Call", as_json)[0]["CallState"] == 3
    assert agent.call("retrieve", first, **kw).one["CallState"] == 2
    assert agent.call("stoprecord", first, **kw).one["RecordingState"] == 2
    assert agent.call("startrecord", first, **kw).one["RecordingState"] == 1
    assert agent.call("hold", first, **kw).ok
    third = agent.get(f"/dial/user/{me}/phone/{quote('+442079460444')}", **kw).one["CallId"]
    wait_answered(live, third)
    changed = shaped(agent.do("changelead", f"/call/{first}/leadphone/3", **kw), "Call", as_json)[0]
    assert changed["CustomerName"] == "Dan Driver"
    created = agent.do("createnewlead", f"/call/{third}/phone/{quote('+442079460445')}", **kw).one
    with live.db.read_session() as session:
        lead = session.get(Lead, session.get(Call, third).lead_id)
        assert [p.phone_number for p in lead.phones] == ["+442079460445"] and created["CallId"] == third
    assert len(agent.do("getcalls", **kw).entities) == 2

    r = agent.do("connectcalls", **kw, call1=str(first), call2=str(third), resultcode1="XFER", resultcode2="SALE",
                 notes1="warm transfer to the broker", numsales2="2")
    bridged = shaped(r, "Call", as_json)
    assert [c["CallId"] for c in bridged] == [first, third] and [c["CallStatus"] for c in bridged] == [3, 3]
    with live.db.read_session() as session:
        one, two = session.get(Call, first), session.get(Call, third)
        assert (one.result_code, one.notes, one.bridged_call_id) == ("XFER", "warm transfer to the broker", third)
        assert (two.result_code, two.num_sales, two.bridged_call_id) == ("SALE", 2, first)
        assert one.state == two.state == "answered"  # still talking to each other, without the agent
        switch_ids = one.external_id, two.external_id
    assert live.system.switch.call(switch_ids[0]).bridged_with == switch_ids[1]
    assert agent.do("getcalls", **kw).entities == []
    for switch_id in switch_ids:  # the two parties hang up
        live.system.switch.hangup(switch_id)

    # hangup, then dispose.
    again = agent.get(f"/dial/user/{me}/phone/{quote('+442079460333')}", **kw).one["CallId"]
    assert agent.call("hangup", again, **kw).one["CallStatus"] == 2
    assert agent.call("dispose", again, resultcode="NOSALE", **kw).one["CallStatus"] == 3
    assert agent.do("logout", **kw).one["AgentStateName"] == "logged_out"


def test_content_type_json_as_the_seed_says(live):
    agent = AgentClient(live, "alice", 7)
    r = agent.get("/users/user/7", as_json=True, header="Content-Type")
    assert r.ok and r.response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert [u["ID"] for u in r.entities][:2] == [7, 8]


def test_tokens_from_a_form_or_json(live):
    for as_json in (False, True):
        key = token(live, "alice", as_json=as_json)
        assert AgentClient(live, "alice", 7, key).do("users").ok
    r = requests.post(live.url("/webservices/services/token"), data={"username": "alice", "password": "wrong"},
                      timeout=10)
    assert r.status_code == 401 and "<ResponseCode>12</ResponseCode>" in r.text
    assert r.headers["WWW-Authenticate"].startswith("TokenKey")


def test_failed_sign_ins_are_rate_limited(live):
    url = live.url("/webservices/services/token")
    statuses = [requests.post(url, data={"username": "bob", "password": "wrong"}, timeout=10).status_code
                for _ in range(live.system.throttle.max_failures)]
    assert statuses == [401] * live.system.throttle.max_failures
    r = requests.post(url, json={"username": "bob", "password": "demo-bob-pw"}, timeout=10)
    assert r.status_code == 429 and r.json()["ResponseCode"] == 13 and int(r.headers["Retry-After"]) > 0
