"""The cases every SOAP stack runs against every served service: one table per service
(recording, calldata, callback, info, agent), each case an operation, its arguments, the
HTTP Basic credentials it sends, and what must come back - an answer, a SOAP fault, or
HTTP 401 with a Basic challenge - plus, where the operation writes, what must be stored.

A table is a generator: it yields a `Case`, receives the answer the client decoded (in the
normalized form below) and may use it in a later case (the agent's token, a dialled call's
id). Each stack only turns a case into its own call and its own decoding into plain JSON
values (tests/interop/test_every_stack.py); `run_table` asserts, so every stack is held to
the same answers.

Normalized answers: a complex element is a dict of its children (absent, nil and empty ones
left out), an element the schema repeats (maxOccurs="unbounded") a list, an array type (a
complex type of one repeated element) that list, every leaf a
string (numbers as written in Python's str, booleans "true"/"false", xs:dateTime as UTC
"YYYY-MM-DDTHH:MM:SSZ") - so PHP's ints, zeep's datetimes and Perl's strings compare alike.
"""
from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Generator, Optional

from helpers.agent import wait_answered
from lxml import etree
from sqlalchemy import select

from storage.models import ActivityLink, AgentSession, Call, CallbackRequest, Lead, ServiceQueue

from .conftest import CLIENT_CODE, PARTNER, SERVICES, Service

XSD = Path(__file__).resolve().parents[2] / "xsd"
XS = "http://www.w3.org/2001/XMLSchema"
BMS = ("bms", "demo-bms-pw")  # global listening rights
ALICE = ("alice", "demo-alice-pw")  # listens to extension 201 only
WRONG = ("bms", "wrong-password")
COMPANY = {"company": 1, "password": "demo-company-pw"}
WRONG_COMPANY = {"company": 1, "password": "wrong-password"}

AGENT_SERVICE = Service(
    name="agent", tns="urn:callsuite:agent:1", xsd="agent.xsd", wsdl_service="AgentService",
    ports={"1.1": "AgentServiceSoap", "1.2": "AgentServiceSoap12"},
    operations=("GetToken", "Login", "Logout", "GoReady", "GetCalls", "Dial", "Hangup", "Dispose", "Hold",
                "Retrieve", "StopRecord", "StartRecord", "Campaigns", "Users", "ResultCodes", "AcdQueues",
                "LeadPhones", "ChangeLead", "CreateNewLead", "ConnectCalls"),
    types=("CallActionResponse",), prefix="ag", fault=None)
ALL_SERVICES: dict[str, Service] = {**SERVICES, "agent": AGENT_SERVICE}

_runs = itertools.count(1)


@dataclass(frozen=True)
class Fault:
    """A SOAP fault: `reason` in its string, SOAP 1.1 faultcode Client.<code>, SOAP 1.2
    Sender, under HTTP `status`: by default SOAP's own (1.1: 500, 1.2: 400 for a Sender
    fault); the agent API's token refusals: 401 with its TokenKey challenge, or 403."""
    reason: str
    code: str
    status: Optional[int] = None


@dataclass(frozen=True)
class Challenge:
    """HTTP 401 with `WWW-Authenticate: Basic realm=...` (and a SOAP fault body)."""


CHALLENGE = Challenge()


@dataclass
class Case:
    operation: str
    args: dict
    expect: Any  # a normalized answer (dicts match as subsets), a predicate, a Fault or CHALLENGE
    auth: Optional[tuple] = None  # HTTP Basic (user, password)
    stored: Optional[Callable[[Any, Any], None]] = None  # stored(session, answer): asserts what was written
    name: str = ""

    @property
    def label(self) -> str:
        return f"{self.operation} {self.name}".strip()


@dataclass
class Env:
    """What a table needs: the live server, a unique tag for this run (stack x SOAP version)
    and the data the module prepared (a recording's reference, the call-data ledger)."""
    live: Any
    stack: str
    version: str
    prepared: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run = next(_runs)
        self.tag = f"{self.stack}-{self.version}-{self.run}".replace(".", "")


# -- normalization ---------------------------------------------------------------------------

_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")


@lru_cache(maxsize=None)
def repeated_elements(xsd_name: str) -> frozenset:
    """Names of the elements the schema lets repeat: always lists once normalized."""
    tree = etree.parse(str(XSD / xsd_name))
    return frozenset(e.get("name") for e in tree.iter(f"{{{XS}}}element")
                     if e.get("maxOccurs") not in (None, "1"))


def normalized(value: Any, repeated: frozenset = frozenset()) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in repeated:
                items = item if isinstance(item, list) else [] if item is None else [item]
                item = [normalized(i, repeated) for i in items]
                if item:
                    out[key] = item
                continue
            item = normalized(item, repeated)
            if item is not None:
                out[key] = item
        if len(value) == 1 and next(iter(value)) in repeated:
            # an array type (one repeated element): a list, as zeep already reads it
            return next(iter(out.values()), None)
        return out or None
    if isinstance(value, (list, tuple)):
        return [normalized(i, repeated) for i in value]
    if value is None or isinstance(value, str) and value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return _number(value)
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, str):
        if _DATETIME.match(value):
            return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        if _DECIMAL.match(value):
            return _number(Decimal(value))
        return value
    raise TypeError(f"cannot normalize {value!r}")


def _number(value) -> str:
    return str(int(value)) if value == int(value) else str(float(value))


def _utc(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)  # an unzoned xs:dateTime: as UTC, like gSOAP
    return value.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def matches(answer: Any, expected: Any) -> bool:
    """Dicts: every expected key matches (more keys may come); lists: item by item."""
    if isinstance(expected, dict):
        return isinstance(answer, dict) and all(matches(answer.get(k), v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(answer, list) and len(answer) == len(expected) and all(
            matches(a, e) for a, e in zip(answer, expected, strict=True))
    return answer == expected


# -- the runner ------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What a stack reports for one call. `result`: the <Op>Result it decoded (before
    normalization); `fault`: (code, string, subcode) as the client exposes them."""
    ok: bool
    result: Any = None
    fault: Optional[tuple] = None
    http_status: Optional[int] = None
    challenge: Optional[str] = None  # the WWW-Authenticate header of a 401
    extra: dict = field(default_factory=dict)


def run_table(service: str, env: Env, call: Callable[[Case], Outcome], fault_statuses=None) -> int:
    """Runs the service's table through `call`, asserting every answer; returns the count.
    `fault_statuses`: the HTTP statuses whose fault body the client reads (None: all)."""
    repeated = repeated_elements(ALL_SERVICES[service].xsd)
    table = TABLES[service](env)
    count, answer = 0, None
    while True:
        try:
            case = table.send(answer)
        except StopIteration:
            return count
        where = f"{env.stack} SOAP {env.version} {service}: {case.label}"
        outcome = call(case)
        answer = check(case, outcome, env.version, repeated, where, fault_statuses)
        if case.stored is not None:
            with env.live.db.read_session() as session:
                case.stored(session, answer)
        count += 1


def check(case: Case, outcome: Outcome, version: str, repeated: frozenset, where: str,
          fault_statuses=None) -> Any:
    expect = case.expect
    if expect is CHALLENGE:
        assert not outcome.ok and outcome.http_status == 401, f"{where}: 401 expected, got {outcome}"
        assert (outcome.challenge or "").startswith("Basic realm="), f"{where}: no Basic challenge: {outcome}"
        return None
    if isinstance(expect, Fault):
        status = expect.status or (500 if version == "1.1" else 400)
        if outcome.http_status is not None:
            assert outcome.http_status == status, f"{where}: HTTP {status} expected, got {outcome}"
        if status == 401:
            assert (outcome.challenge or "").startswith("TokenKey realm="), f"{where}: no TokenKey challenge"
        if fault_statuses is not None and status not in fault_statuses:
            # A client that never reads the body of that status (suds: only 500's) reports the
            # status itself, checked above.
            assert not outcome.ok, f"{where}: a refusal expected, got {outcome}"
            return None
        assert not outcome.ok and outcome.fault, f"{where}: a fault expected, got {outcome}"
        code, text = outcome.fault[0] or "", outcome.fault[1] or ""
        assert expect.reason in text, f"{where}: fault {text!r} lacks {expect.reason!r}"
        if version == "1.1":
            assert code.rpartition(":")[2] == f"Client.{expect.code}", f"{where}: faultcode {code!r}"
        else:
            assert "Sender" in code, f"{where}: SOAP 1.2 fault code {code!r}"
            subcode = outcome.fault[2] if len(outcome.fault) > 2 else None
            if subcode:  # where the client exposes it: the kind, namespace-qualified
                assert str(subcode).endswith(expect.code), f"{where}: SOAP 1.2 subcode {subcode!r}"
        return None
    assert outcome.ok, f"{where}: an answer expected, got {outcome}"
    answer = normalized(outcome.result, repeated)
    if callable(expect):
        assert expect(answer), f"{where}: unexpected answer {answer!r}"
    else:
        assert matches(answer, expect), f"{where}: {answer!r} does not match {expect!r}"
    return answer


def _is(predicate: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return predicate


# -- recording (blueButler + Recall) ---------------------------------------------------------

def recording(env: Env) -> Generator[Case, Any, None]:
    reference, local_start = env.prepared["reference"], env.prepared["local_start"]
    pending = f"IOP-{env.tag}"

    def link_state(state):
        def stored(session, answer):
            link = session.scalar(select(ActivityLink).where(ActivityLink.activity_id == pending))
            assert link is not None and link.state == state, (pending, link and link.state)
        return stored

    yield Case("AddLink", {"id": f"IOP-{env.tag}-active", "host": "WS-ALICE", "activeCall": True},
               "No Active Call", name="with an active call asked for")
    yield Case("AddLink", {"id": pending, "data1": "ticket 42", "host": "WS-ALICE"}, None, name="left pending",
               stored=link_state("pending"))
    yield Case("AddLink", {"id": "x" * 201}, Fault("longer than 200", "InvalidInput"), name="id too long")
    yield Case("LinkRecording", {"activityId": pending, "refNum": reference}, {
        "ActivityId": pending, "Data1": "ticket 42", "Host": "WS-ALICE", "State": "linked",
        "ReferenceNumber": reference}, auth=BMS, stored=link_state("linked"))
    yield Case("LinkRecording", {"activityId": pending, "refNum": reference}, CHALLENGE, name="no credentials")
    info = yield Case("GetRecordingInfo", {"refNum": reference}, {
        "ReferenceNumber": reference, "Direction": "inbound", "Extension": "201", "CallingNumber": "+13125550100",
        "State": "available", "DeletionProtected": "false"}, auth=BMS)
    assert info["StartTime"].endswith("Z") and int(info["CallId"]) > 0, info
    yield Case("GetRecordingInfo", {"refNum": "NO-SUCH-REF"}, Fault("no recording", "NotFound"), auth=BMS,
               name="unknown reference")
    yield Case("GetRecordingInfo", {"refNum": reference}, CHALLENGE, auth=WRONG, name="wrong password")
    yield Case("PlayByPhone", {"refNum": "NO-SUCH-REF", "phoneNumber": "+442079460123"}, "FALSE", auth=BMS,
               name="unknown reference")
    yield Case("PlayByPhone", {"refNum": reference, "phoneNumber": "+442079460123"},
               _is(lambda a: a in ("TRUE", "ERROR: No Playback Channels")), auth=BMS)
    yield Case("PlayByPhone", {"refNum": reference, "phoneNumber": "+442079460123"}, CHALLENGE,
               name="no credentials")
    yield Case("RetrieveRecFile", {"sExtension": "201", "dtCallDateTime": local_start},
               _is(lambda a: isinstance(a, str) and a.endswith("/" + env.prepared["file_name"])), auth=BMS,
               name="the recording's file")
    yield Case("RetrieveRecFile", {"sExtension": "201", "dtCallDateTime": "2011-10-10 18:52:00"}, None, auth=BMS,
               name="no recording then (the empty string)")
    yield Case("RetrieveRecFile", {"sExtension": "202", "dtCallDateTime": local_start},
               Fault("may not look up", "Forbidden"), auth=ALICE, name="another agent's extension")
    yield Case("RetrieveRecFile", {"sExtension": "201", "dtCallDateTime": "10/10/2011"},
               Fault("yyyy-MM-dd HH:mm:ss", "InvalidInput"), auth=BMS, name="a malformed date")
    yield Case("RetrieveRecFile", {"sExtension": "201", "dtCallDateTime": local_start}, CHALLENGE,
               name="no credentials")
    yield Case("SearchRecordings", {"sExtension": "201", "sCallType": "inbound", "iPage": 1, "iPageSize": 5}, _is(lambda a: (
        a["Page"], a["PageSize"]) == ("1", "5") and int(a["TotalCount"]) >= 1 and any(
        r["ReferenceNumber"] == reference and r["Extension"] == "201" for r in a["Records"])),
        auth=BMS)
    yield Case("SearchRecordings", {"dtFrom": "yesterday"}, Fault("dtFrom", "InvalidInput"), auth=BMS,
               name="a malformed date")
    yield Case("SearchRecordings", {"sExtension": "201"}, CHALLENGE, auth=WRONG, name="wrong password")


# -- call data (Callbutton) ------------------------------------------------------------------

def calldata(env: Env) -> Generator[Case, Any, None]:
    data = env.prepared["calldata"]
    expected_calls = []
    for call in data.expected:
        fields = {k: v for k, v in call.items() if k != "Address"}
        if "Address" in call:
            fields["Address"] = dict(zip(("FirstName", "City", "State", "ZIP"), call["Address"], strict=True))
        expected_calls.append(normalized(fields))
    yield Case("GetCallDetails", data.query(), {
        "Username": PARTNER["username"], "ClientAddress": "127.0.0.1",
        "Clients": [{"ClientCode": CLIENT_CODE, "Calls": expected_calls}]})
    yield Case("GetCallDetails", data.query(password="wrong-password"),
               Fault("invalid username or password", "Unauthorized"), name="wrong password")
    args, refused = data.not_granted_query()
    yield Case("GetCallDetails", args, Fault(refused, "Forbidden"), name="a client code not the partner's")
    yield Case("GetCallDetails", data.query(startDate=data.end, endDate=data.start),
               Fault("Date range not valid", "InvalidInput"), name="end before start")


# -- Buzzeasy Request Callback Service -------------------------------------------------------
# The module's site opens queue 1 around the clock with room for every run in each slot,
# so the answers do not depend on when the suite runs.

FIRST_DAY = date(2030, 1, 7)  # a Monday in winter: London wall time is UTC
OPEN_ALL_DAY = {"mon-sun": "00:00-23:59"}


def _phone(env: Env, n: int) -> str:
    return f"+4477794{(env.run * 10 + n) % 100000:05d}"


def _callback_row(**expected):
    def stored(session, answer):
        code = answer["ConfirmationCode"]
        row = session.scalar(select(CallbackRequest).where(CallbackRequest.confirmation_code == code))
        assert row is not None, f"no callback request {code}"
        got = {k: row.fields.get(k) if k.startswith("field") else getattr(row, k) for k in expected}
        assert got == expected, got
    return stored


def callback(env: Env) -> Generator[Case, Any, None]:
    ewt = 10 + env.run

    def ewt_stored(session, answer):
        assert session.get(ServiceQueue, 1).ewt_minutes == ewt

    yield Case("UpdateEWTRecord", {"serviceQueue": 1, "ewt": ewt, **COMPANY}, "true", stored=ewt_stored)
    yield Case("UpdateEWTRecord", {"serviceQueue": 1, "ewt": 99, **WRONG_COMPANY}, "false", stored=ewt_stored,
               name="refused (the seed's false)")
    yield Case("GetEWTByServiceID", {"serviceQueueID": 1, "companyID": 1, "password": COMPANY["password"]},
               str(ewt))
    yield Case("GetEWTByServiceID", {"serviceQueueID": 1, "companyID": 1, "password": "wrong-password"}, "-1",
               name="refused (the seed's -1)")
    phone = _phone(env, 1)
    yield Case("RequestCallWhenAvailable", {
        "name": "Interop", "phoneNo": phone, "serviceQueue": 1, **COMPANY, "field1": env.tag},
        _is(lambda a: a["ResultCode"] == "0" and len(a["ConfirmationCode"]) == 10),
        stored=_callback_row(phone_e164=phone, queue_id=1, field1=env.tag))
    yield Case("RequestCallWhenAvailable", {"name": "Interop", "phoneNo": "+447779000999", "serviceQueue": 1,
                                            **COMPANY}, {"ResultCode": "5"}, name="a black-listed number")
    yield Case("RequestCallWhenAvailable", {"name": "n" * 300, "phoneNo": phone, "serviceQueue": 1, **COMPANY},
               Fault("name is longer than", "InvalidInput"), name="name too long")
    day = FIRST_DAY + timedelta(days=env.run % 300)
    phone = _phone(env, 2)
    yield Case("RequestCallSchedule", {
        "name": "Interop", "phoneNo": phone, "timeslot": 20, "date": f"{day}T00:00:00", "serviceQueue": 1,
        **COMPANY}, _is(lambda a: a["ResultCode"] == "0" and len(a["ConfirmationCode"]) == 10),
        stored=_callback_row(phone_e164=phone, scheduled_date=day, timeslot_id=20))
    yield Case("RequestCallSchedule", {"name": "n" * 300, "phoneNo": phone, "timeslot": 20,
                                       "date": f"{day}T00:00:00", "serviceQueue": 1, **COMPANY},
               Fault("name is longer than", "InvalidInput"), name="name too long")
    yield Case("RequestCallSchedule", {"name": "Interop", "phoneNo": _phone(env, 3), "timeslot": 20,
                                       "date": f"{day}T00:00:00", "serviceQueue": 1, **WRONG_COMPANY},
               {"ResultCode": "-1"}, name="refused (the seed's -1)")

    def slot(day, n):
        start = datetime(day.year, day.month, day.day) + timedelta(minutes=30 * (n - 1))
        end = start + timedelta(minutes=30)
        return {"TimeSlotID": str(n), "TimeFrom": start.strftime("%Y-%m-%d %H-%M-%S"),
                "TimeTo": end.strftime("%Y-%m-%d %H-%M-%S"), "Available": "true"}

    yield Case("GetAvailableTimes", {"serviceQueue": 1, **COMPANY, "requestedDate": f"{FIRST_DAY}T09:00:00"},
               [slot(FIRST_DAY, n) for n in range(19, 48)])
    yield Case("GetAvailableTimes", {"serviceQueue": 1, **WRONG_COMPANY, "requestedDate": f"{FIRST_DAY}T09:00:00"},
               Fault("Authentication Failed", "Unauthorized"), name="wrong password")
    yield Case("GetNextThreeTimeSlots", {"serviceQueue": 1, "time": f"{FIRST_DAY}T23:00:00", **COMPANY},
               [slot(FIRST_DAY, 47), slot(FIRST_DAY + timedelta(days=1), 1), slot(FIRST_DAY + timedelta(days=1), 2)])
    yield Case("GetNextThreeTimeSlots", {"serviceQueue": 1, "time": f"{FIRST_DAY}T09:00:00", **WRONG_COMPANY},
               Fault("Authentication Failed", "Unauthorized"), name="wrong password")


# -- BuzzMeInfo ------------------------------------------------------------------------------

def info(env: Env) -> Generator[Case, Any, None]:
    import requests
    phone, account = _phone(env, 4), f"A-{env.tag}"
    r = requests.post(env.live.url("/RequestCallbackService/Service.svc/rest/RequestCallSchedule"), timeout=10, json={
        "name": "Interop", "phoneNo": phone, "serviceQueue": "1", "company": "1", "password": COMPANY["password"],
        "field1": account, "date": f"{FIRST_DAY} 00:00:00", "timeslot": "19"})
    code = r.json()["ConfirmationCode"]
    assert code, r.text
    yield Case("GetCallDataByPin", {"pin": code[-6:], "companyId": 1, "password": COMPANY["password"]},
               {"ConfirmationCode": code, "serviceQueue": "1", "field1": f"Account Number,{account}"})
    yield Case("GetCallDataByPin", {"pin": code[-6:], "companyId": 1, "password": "wrong-password"},
               Fault("Authentication Failed", "Unauthorized"), name="wrong password")
    yield Case("GetCallDataByNumber", {"presentedNumber": phone, "companyId": 1, "password": COMPANY["password"]},
               {"ConfirmationCode": code, "serviceQueueName": "Claims", "field1": f"Account Number | {account}",
                "ScheduledTime": f"{FIRST_DAY} 09:00:00"})
    yield Case("GetCallDataByNumber", {"presentedNumber": "+447700900999", "companyId": 1,
                                       "password": COMPANY["password"]}, None, name="no request for that number")
    yield Case("GetCallDataByNumber", {"presentedNumber": phone, "companyId": 1, "password": "wrong-password"},
               Fault("Authentication Failed", "Unauthorized"), name="wrong password")


# -- agent remote control (seed 004) ---------------------------------------------------------

AGENT_USER = 7  # alice; every run logs her in and out again



def _no_open_calls(live) -> None:
    """Until the agent has no call left undisposed (a run's bridged calls end on the switch
    after the run)."""
    deadline = time.monotonic() + 10
    while True:
        with live.db.read_session() as session:
            calls = session.scalars(select(Call).where(Call.agent_id == AGENT_USER, Call.disposed_at.is_(None))).all()
            left = [(c.id, c.state, c.external_id) for c in calls]
        if not left:
            return
        assert time.monotonic() < deadline, f"agent {AGENT_USER} still has calls: {left}"
        time.sleep(0.05)


def ok(data: Any = None) -> dict:
    """An agent API answer: successful, with (a subset of) this Data."""
    answer = {"Success": "true", "ResponseCode": "0", "ResponseDetail": "OK"}
    return {**answer, "Data": data} if data is not None else answer


def agent(env: Env) -> Generator[Case, Any, None]:
    live, me = env.live, str(AGENT_USER)
    _no_open_calls(live)
    yield Case("GetToken", {"username": ALICE[0], "password": "wrong-password"}, Fault("12:", "Unauthorized", 401),
               name="wrong password")
    answer = yield Case("GetToken", {"username": ALICE[0], "password": ALICE[1]},
                        ok({"UserID": me}))
    key = answer["Data"]["TokenKey"]
    token = {"TokenKey": key, "UserID": AGENT_USER}
    bad = {"TokenKey": "not-a-token", "UserID": AGENT_USER}
    refused = Fault("11:", "Unauthorized", 401)

    def session_state(state):
        def stored(session, answer):
            row = session.scalar(select(AgentSession).where(AgentSession.user_id == AGENT_USER))
            assert row is not None and row.state == state, row and row.state
        return stored

    yield Case("Login", {**token, "CampaignID": 3}, ok({"UserID": me, "AgentStateName": "logged_in", "CampaignID": "3"}),
               stored=session_state("logged_in"))
    yield Case("Login", {**bad, "CampaignID": 3}, refused, name="unknown token")
    yield Case("GoReady", token, ok({"AgentState": "2", "AgentStateName": "ready"}),
               stored=session_state("ready"))
    yield Case("GoReady", {"TokenKey": key, "UserID": 9}, Fault("14:", "Forbidden", 403), name="another agent's user")
    yield Case("GetCalls", token, ok(), name="none yet")
    yield Case("GetCalls", {"UserID": AGENT_USER}, Fault("10:", "Unauthorized", 401), name="no token")
    answer = yield Case("Dial", {**token, "PhoneNum": "+442079460111"},
                        ok({"CustomerName": "Carol Customer", "PhoneNumber": "+442079460111"}))
    first = int(answer["Data"]["CallId"])
    yield Case("Dial", {**bad, "PhoneNum": "+442079460111"}, refused, name="unknown token")
    wait_answered(live, first)
    on_call = {**token, "CallID": first}
    call_state = lambda **fields: ok({"CallId": str(first), **fields})  # noqa: E731
    yield Case("Hold", on_call, call_state(CallState="3"))
    yield Case("Hold", {**bad, "CallID": first}, refused, name="unknown token")
    yield Case("Retrieve", on_call, call_state(CallState="2"))
    yield Case("Retrieve", {**bad, "CallID": first}, refused, name="unknown token")
    yield Case("StopRecord", on_call, call_state(RecordingState="2"))
    yield Case("StopRecord", {**bad, "CallID": first}, refused, name="unknown token")
    yield Case("StartRecord", on_call, call_state(RecordingState="1"))
    yield Case("StartRecord", {**bad, "CallID": first}, refused, name="unknown token")
    yield Case("GetCalls", token, ok([{"CallId": str(first)}]))
    yield Case("ChangeLead", {**on_call, "LeadPhoneID": 3}, call_state(CustomerName="Dan Driver"))
    yield Case("ChangeLead", {**bad, "CallID": first, "LeadPhoneID": 3}, refused, name="unknown token")
    new_phone = f"+4420794{60500 + env.run % 400:05d}"

    def new_lead(session, answer):
        numbers = [p.phone_number for p in session.get(Lead, session.get(Call, first).lead_id).phones]
        assert numbers == [new_phone], numbers

    yield Case("CreateNewLead", {**on_call, "PhoneNum": new_phone}, call_state(), stored=new_lead)
    yield Case("CreateNewLead", {**bad, "CallID": first, "PhoneNum": new_phone}, refused, name="unknown token")
    yield Case("Hangup", on_call, call_state(CallStatus="2"))
    yield Case("Hangup", {**bad, "CallID": first}, refused, name="unknown token")

    def disposed(session, answer):
        assert session.get(Call, first).result_code == "SALE"

    yield Case("Dispose", {**on_call, "ResultCode": "SALE"}, call_state(CallStatus="3"), stored=disposed)
    yield Case("Dispose", {**bad, "CallID": first, "ResultCode": "SALE"}, refused, name="unknown token")
    # Two calls bridged: the customer held while the agent dials a third party.
    answer = yield Case("Dial", {**token, "PhoneNum": "+442079460333"}, ok(), name="a second call")
    second = int(answer["Data"]["CallId"])
    wait_answered(live, second)
    yield Case("Hold", {**token, "CallID": second}, ok(), name="the second call")
    answer = yield Case("Dial", {**token, "PhoneNum": "+442079460444"}, ok(), name="a third party")
    third = int(answer["Data"]["CallId"])
    wait_answered(live, third)

    def bridged(session, answer):
        one, two = session.get(Call, second), session.get(Call, third)
        assert (one.result_code, one.notes, one.bridged_call_id) == ("XFER", "to the broker", third)
        assert (two.result_code, two.num_sales, two.bridged_call_id) == ("SALE", 2, second)

    yield Case("ConnectCalls", {**token, "Call1ID": second, "Call2ID": third, "ResultCode1": "XFER",
                                "ResultCode2": "SALE", "Notes1": "to the broker", "NumSales2": 2},
               ok([{"CallId": str(second), "CallStatus": "3"}, {"CallId": str(third), "CallStatus": "3"}]),
               stored=bridged)
    yield Case("ConnectCalls", {**bad, "Call1ID": second, "Call2ID": third, "ResultCode1": "XFER",
                                "ResultCode2": "SALE"}, refused, name="unknown token")
    with live.db.read_session() as session:
        switch_ids = [session.get(Call, c).external_id for c in (second, third)]
    for switch_id in switch_ids:
        live.system.switch.hangup(switch_id)
    yield Case("Campaigns", token, _is(lambda a: [(c["CampaignID"], c["CampaignName"], c["CallerID"]) for c in
                                                   a["Data"]] == [("3", "Renewals", "+18005551234")]))
    yield Case("Campaigns", bad, refused, name="unknown token")
    yield Case("Users", token, _is(lambda a: {"FullName": "Alice Agent", "ID": "7"} in a["Data"]
                                   and {"FullName": "Bob Agent", "ID": "9"} in a["Data"]))
    yield Case("Users", bad, refused, name="unknown token")
    yield Case("ResultCodes", token, _is(lambda a: {(c["Code"], c.get("IsSuccess")) for c in a["Data"]}
                                         >= {("SALE", "true"), ("NOSALE", "false")}))
    yield Case("ResultCodes", bad, refused, name="unknown token")
    yield Case("AcdQueues", token, ok([{"ID": "1", "AcdName": "Claims", "Active": "true"}]))
    yield Case("AcdQueues", bad, refused, name="unknown token")
    yield Case("LeadPhones", {**token, "LeadID": 1}, ok([
        {"LeadId": "1", "PhoneNumber": "+442079460111", "RecordType": "Home"},
        {"LeadId": "1", "PhoneNumber": "+447911123456", "RecordType": "Mobile", "RecordTypeId": "2"}]))
    yield Case("LeadPhones", {**bad, "LeadID": 1}, refused, name="unknown token")
    yield Case("Logout", token, ok({"AgentStateName": "logged_out"}), stored=session_state("logged_out"))
    yield Case("Logout", bad, refused, name="unknown token")


TABLES = {"recording": recording, "calldata": calldata, "callback": callback, "info": info, "agent": agent}
