"""The cases the compiled clients (JAX-WS, Mono ASMX) run against every served WSDL: for each
operation at least one success and one failure (a SOAP fault, an HTTP 401 challenge, or
the in-band refusal the seed answers with), named <Operation>-<what>.

A case is stack-neutral: arguments by element name, the answer checked after `plain()`
(which folds each toolkit's array wrappers into lists). The builders take the state a
module prepared (a recorded call, the call-data ledger, a callback request) and the SOAP
version, so a version's cases never collide with the other's (their own ids, numbers,
agents). A `ref(...)` argument is a value an earlier case of the same run answered.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Optional, Union

import requests
from helpers.server import start_server
from interop.generated_clients import Target
from lxml import etree
from sqlalchemy import select

from storage.models import Call

REPO = Path(__file__).resolve().parents[2]
XS = "{http://www.w3.org/2001/XMLSchema}"
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
FAULT_NS = "urn:callsuite:fault:1"
ENVELOPES = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
CONTENT_TYPES = {"1.1": "text/xml", "1.2": "application/soap+xml"}
BMS = ["bms", "demo-bms-pw"]  # the demo site's listener with global rights
COMPANY = {"company": 1, "password": "demo-company-pw"}
WRONG_COMPANY = {"company": 1, "password": "wrong-password"}

TARGETS = {
    "recording": Target("recording", "/soap/recording", "RecordingService",
                        {"1.1": "RecordingServiceSoap", "1.2": "RecordingServiceSoap12"}),
    "calldata": Target("calldata", "/soap/calldata", "CallDataService",
                       {"1.1": "CallDataServiceSoap", "1.2": "CallDataServiceSoap12"}),
    "callback": Target("callback", "/RequestCallbackService/Service.svc", "RequestCallbackService",
                       {"1.1": "RequestCallbackServiceSoap", "1.2": "RequestCallbackServiceSoap12"}),
    "info": Target("info", "/soap/info", "BuzzMeInfo", {"1.1": "BuzzMeInfoSoap", "1.2": "BuzzMeInfoSoap12"}),
    "agent": Target("agent", "/soap/agent", "AgentService", {"1.1": "AgentServiceSoap", "1.2": "AgentServiceSoap12"}),
}


@dataclass(frozen=True)
class Element:
    """An operation's parameter or result as the authored xsd/ declares it."""
    name: str
    type: str       # xs:int, xs:string, ... or a complex type's name
    required: bool  # minOccurs 1
    repeated: bool  # maxOccurs unbounded
    default: Optional[str]
    items: Optional[str] = None  # an ArrayOf... type: the type of its one repeated element


# Optional value parameters without a default: left out means "not given" (no date bound,
# no lead, no sales count), which a .NET proxy can only say with an xSpecified flag. A new
# one belongs here only if the server has no default for it; otherwise declare default=.
NO_DEFAULT = {("GetCallDetails", "startDate"), ("GetCallDetails", "endDate"), ("Dial", "LeadID"),
              ("ConnectCalls", "NumSales1"), ("ConnectCalls", "NumSales2")}


def _element(node, types: dict) -> Element:
    kind = node.get("type").removeprefix("tns:")
    particles = types[kind].findall(f"{XS}sequence/{XS}element") if kind in types else []
    items = (particles[0].get("type").removeprefix("tns:") if len(particles) == 1
             and particles[0].get("maxOccurs") == "unbounded" else None)
    return Element(node.get("name"), kind, node.get("minOccurs", "1") != "0",
                   node.get("maxOccurs", "1") == "unbounded", node.get("default"), items)


def operations(service: str) -> dict[str, tuple[list[Element], Element]]:
    """Each operation of wsdl/<service>.wsdl: its request element's children and its result."""
    wsdl = etree.parse(str(REPO / "wsdl" / f"{service}.wsdl"))
    schema = etree.parse(str(REPO / "xsd" / f"{service}.xsd"))
    elements = {e.get("name"): e for e in schema.getroot().iterfind(f"{XS}element")}
    types = {t.get("name"): t for t in schema.getroot().iterfind(f"{XS}complexType")}
    found = {}
    for op in wsdl.getroot().iterfind(f"{WSDL}portType/{WSDL}operation"):
        name = op.get("name")
        params = [_element(e, types) for e in elements[name].iterfind(f"{XS}complexType/{XS}sequence/{XS}element")]
        (result,) = elements[f"{name}Response"].iterfind(f"{XS}complexType/{XS}sequence/{XS}element")
        found[name] = (params, _element(result, types))
    return found


@dataclass(frozen=True)
class Fault:
    """A SOAP fault: SOAP 1.1 faultcode Client.<code>, SOAP 1.2 Sender with subcode <code>."""
    code: str
    reason: str


@dataclass(frozen=True)
class Refused:
    """An HTTP refusal: 401 with `WWW-Authenticate: <scheme> realm=...`, or 403. The body is
    a SOAP fault too, which neither toolkit reads under these statuses."""
    status: int
    scheme: Optional[str] = None


def Challenge(scheme: str) -> Refused:  # noqa: N802 - reads as the other checks
    return Refused(401, scheme)


Check = Union[Callable[[Any], bool], Fault, Refused]


@dataclass
class Case:
    id: str
    operation: str
    args: dict
    check: Check
    failure: bool = False  # a refusal: a fault, a challenge or the seed's in-band "no"
    auth: Optional[list] = None
    retry: Optional[int] = None  # repeat while unsuccessful (an asynchronous switch), at most this often
    version: str = field(default="1.1")

    @property
    def key(self) -> str:
        return f"{self.version}/{self.id}"


def ref(version: str, case_id: str, path: str) -> str:
    return f"$ref:{version}/{case_id}:{path}"


def plain(value: Any) -> Any:
    """One shape for every toolkit: a wrapper object holding only a list is that list."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(next(iter(value.values())), list):
            return [plain(v) for v in next(iter(value.values()))]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def next_weekday(start: date) -> date:
    day = start + timedelta(days=1)
    while day.weekday() > 4 or (day.month, day.day) in ((12, 25), (12, 26), (1, 1)):
        day += timedelta(days=1)
    return day


# -- recording -------------------------------------------------------------------------

def recording_cases(version: str, state: dict) -> list[Case]:
    reference, tag = state["reference"], f"{state['stack']}-{version}"
    pending = f"{tag}-PENDING"
    return [
        Case("AddLink-active", "AddLink", {"id": f"{tag}-ACTIVE", "host": "WS-ALICE", "activeCall": True},
             lambda r: r == "No Active Call"),
        # activeCall left out is its default, false: the link waits for the call (the seed's NULL)
        Case("AddLink-pending", "AddLink", {"id": pending, "host": "WS-ALICE"}, lambda r: r is None),
        Case("AddLink-too-long", "AddLink", {"id": "x" * 201}, Fault("InvalidInput", "longer than 200"), True),
        Case("PlayByPhone-ok", "PlayByPhone", {"refNum": reference, "phoneNumber": "+442079460123"},
             lambda r: r == "TRUE", auth=BMS),
        Case("PlayByPhone-no-credentials", "PlayByPhone", {"refNum": reference, "phoneNumber": "+442079460123"},
             Challenge("Basic"), True),
        Case("LinkRecording-ok", "LinkRecording", {"activityId": pending, "refNum": reference},
             lambda r: (r["ActivityId"], r["State"], r["ReferenceNumber"]) == (pending, "linked", reference)
             and r["Host"] == "WS-ALICE", auth=BMS),
        Case("LinkRecording-unknown-activity", "LinkRecording", {"activityId": f"{tag}-NONE", "refNum": reference},
             Fault("NotFound", f"{tag}-NONE"), True, auth=BMS),
        Case("GetRecordingInfo-ok", "GetRecordingInfo", {"refNum": reference},
             lambda r: r["ReferenceNumber"] == reference and isinstance(r["CallId"], int) and r["Gaps"] == []
             and r["Direction"] == "inbound" and r["DeletionProtected"] is False, auth=BMS),
        Case("GetRecordingInfo-no-credentials", "GetRecordingInfo", {"refNum": reference}, Challenge("Basic"), True),
        Case("GetRecordingInfo-unknown", "GetRecordingInfo", {"refNum": "0000000000"},
             Fault("NotFound", "no recording"), True, auth=BMS),
        Case("RetrieveRecFile-none", "RetrieveRecFile", {"sExtension": "201", "dtCallDateTime": "2011-10-10 18:52:00"},
             lambda r: r == "", auth=BMS),
        Case("RetrieveRecFile-bad-date", "RetrieveRecFile", {"sExtension": "201", "dtCallDateTime": "yesterday"},
             Fault("InvalidInput", "yyyy-MM-dd HH:mm:ss"), True, auth=BMS),
        # iPage and iPageSize left out are their defaults, 1 and 20
        Case("SearchRecordings-ok", "SearchRecordings", {"sExtension": "201"},
             lambda r: (r["Page"], r["PageSize"]) == (1, 20) and r["TotalCount"] >= 1
             and reference in [c["ReferenceNumber"] for c in r["Records"]], auth=BMS),
        Case("SearchRecordings-no-credentials", "SearchRecordings", {"sExtension": "201"}, Challenge("Basic"), True),
    ]


# -- call data -------------------------------------------------------------------------

def calldata_cases(version: str, state: dict) -> list[Case]:
    calldata = state["calldata"]
    query = calldata.query()
    args, refused = calldata.not_granted_query()

    def report_matches(report) -> bool:
        calldata.check(report)  # raises with the difference
        return True

    return [
        Case("GetCallDetails-ok", "GetCallDetails", query, report_matches),
        Case("GetCallDetails-wrong-password", "GetCallDetails", {**query, "password": "wrong-password"},
             Fault("Unauthorized", "invalid username or password"), True),
        # clientCode is maxOccurs="unbounded": the refusal names the second one, so both were sent
        Case("GetCallDetails-not-granted", "GetCallDetails", args, Fault("Forbidden", refused), True),
    ]


# -- Buzzeasy callbacks (demo company 1, queue 1: Mon-Fri 08:00-18:00 Europe/London) ----

def callback_cases(version: str, state: dict) -> list[Case]:
    day = next_weekday(state["today"])
    ewt = 41 if version == "1.1" else 42
    phone = "+447779453121" if version == "1.1" else "+447779453122"
    ask = {"serviceQueue": 1, **COMPANY}

    def slots(r, at_most=None) -> bool:
        return bool(r) and (at_most is None or len(r) <= at_most) and all(
            s["TimeFrom"].count("-") == 4 and isinstance(s["TimeSlotID"], int) and isinstance(s["Available"], bool)
            for s in r)

    return [
        Case("UpdateEWTRecord-ok", "UpdateEWTRecord", {**ask, "ewt": ewt}, lambda r: r is True),
        Case("UpdateEWTRecord-wrong-password", "UpdateEWTRecord", {"serviceQueue": 1, "ewt": 99, **WRONG_COMPANY},
             lambda r: r is False, True),
        Case("GetEWTByServiceID-ok", "GetEWTByServiceID",
             {"serviceQueueID": 1, "companyID": 1, "password": COMPANY["password"]}, lambda r: r == ewt),
        Case("GetEWTByServiceID-wrong-password", "GetEWTByServiceID",
             {"serviceQueueID": 1, "companyID": 1, "password": "wrong-password"}, lambda r: r == -1, True),
        # the demo company's black list: admitted, answered with its result code
        Case("RequestCallWhenAvailable-ok", "RequestCallWhenAvailable",
             {"name": "Typed", "phoneNo": "+447779000999", **ask},
             lambda r: r == {"ConfirmationCode": "", "ResultCode": 5}),
        Case("RequestCallWhenAvailable-wrong-password", "RequestCallWhenAvailable",
             {"name": "Typed", "phoneNo": phone, "serviceQueue": 1, **WRONG_COMPANY},
             lambda r: r["ResultCode"] == -1 and not r["ConfirmationCode"], True),
        Case("GetAvailableTimes-ok", "GetAvailableTimes", {**ask, "requestedDate": f"{day}T09:30:00"}, slots),
        Case("GetAvailableTimes-wrong-password", "GetAvailableTimes",
             {"serviceQueue": 1, **WRONG_COMPANY, "requestedDate": f"{day}T09:30:00"},
             Fault("Unauthorized", "Authentication Failed"), True),
        Case("GetNextThreeTimeSlots-ok", "GetNextThreeTimeSlots", {**ask, "time": f"{day}T09:30:00"},
             lambda r: slots(r, at_most=3)),
        Case("GetNextThreeTimeSlots-wrong-password", "GetNextThreeTimeSlots",
             {"serviceQueue": 1, "time": f"{day}T09:30:00", **WRONG_COMPANY},
             Fault("Unauthorized", "Authentication Failed"), True),
        Case("RequestCallSchedule-ok", "RequestCallSchedule",
             {"name": "Typed", "phoneNo": phone, "timeslot": 2, "date": "2030-01-08T00:00:00", **ask,
              "field1": f"T-{version}"},
             lambda r: r["ResultCode"] == 0 and len(r["ConfirmationCode"]) >= 6),
        Case("RequestCallSchedule-wrong-password", "RequestCallSchedule",
             {"name": "Typed", "phoneNo": phone, "timeslot": 2, "date": "2030-01-08T00:00:00", "serviceQueue": 1,
              **WRONG_COMPANY}, lambda r: r["ResultCode"] == -1 and not r["ConfirmationCode"], True),
    ]


# -- BuzzMeInfo ------------------------------------------------------------------------

def info_cases(version: str, state: dict) -> list[Case]:
    code, phone = state["requests"][version]
    good = {"companyId": 1, "password": COMPANY["password"]}
    wrong = {"companyId": 1, "password": "wrong-password"}
    return [
        Case("GetCallDataByPin-ok", "GetCallDataByPin", {"pin": code[-6:], **good},
             lambda r: (r["ConfirmationCode"], r["serviceQueue"], r["field1"], r["UserPhoneNo"])
             == (code, 1, f"Account Number,I-{version}", phone) and r["field2"] is None),
        Case("GetCallDataByPin-none", "GetCallDataByPin", {"pin": "999999", **good}, lambda r: r is None),
        Case("GetCallDataByPin-wrong-password", "GetCallDataByPin", {"pin": code[-6:], **wrong},
             Fault("Unauthorized", "Authentication Failed"), True),
        Case("GetCallDataByNumber-ok", "GetCallDataByNumber", {"presentedNumber": phone, **good},
             lambda r: (r["ConfirmationCode"], r["field1"], r["ScheduledTime"])
             == (code, f"Account Number | I-{version}", "2030-01-07 08:30:00")),
        Case("GetCallDataByNumber-wrong-password", "GetCallDataByNumber", {"presentedNumber": phone, **wrong},
             Fault("Unauthorized", "Authentication Failed"), True),
    ]


# -- agent remote control: one agent's session per SOAP version -------------------------

AGENTS = {"1.1": ("alice", "demo-alice-pw", 7, 9), "1.2": ("bob", "demo-bob-pw", 9, 7)}


def agent_cases(version: str, state: dict) -> list[Case]:
    username, password, me, other = AGENTS[version]
    token = ref(version, "GetToken-ok", "Data.TokenKey")
    first, second, third = (ref(version, name, "Data.CallId") for name in ("Dial-ok", "Dial-second", "Dial-third"))
    a = {"TokenKey": token, "UserID": me}
    unknown, missing = {"TokenKey": "not-a-token", "UserID": me}, {"UserID": me}
    unknown_token = no_token = Challenge("TokenKey")

    def ok(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
        return lambda r: r["Success"] is True and r["ResponseCode"] == 0 and test(r["Data"])

    return [
        Case("GetToken-ok", "GetToken", {"username": username, "password": password},
             ok(lambda d: d["UserID"] == me and len(d["TokenKey"]) >= 16)),
        Case("GetToken-wrong-password", "GetToken", {"username": username, "password": "wrong-password"},
             Challenge("TokenKey"), True),
        Case("Login-ok", "Login", {**a, "CampaignID": 3}, ok(lambda d: d["AgentStateName"] == "logged_in")),
        Case("Login-unknown-token", "Login", {**unknown, "CampaignID": 3}, unknown_token, True),
        Case("GoReady-ok", "GoReady", a, ok(lambda d: d["AgentState"] == 2)),
        Case("GoReady-not-yours", "GoReady", {"TokenKey": token, "UserID": other}, Refused(403), True),
        Case("GetCalls-none", "GetCalls", a, ok(lambda d: not d)),
        Case("GetCalls-no-token", "GetCalls", missing, no_token, True),
        Case("Campaigns-ok", "Campaigns", a,
             ok(lambda d: [c["CampaignName"] for c in d] == ["Renewals"] and me in d[0]["ReadyUsers"]
                and d[0]["CallerID"] == "+18005551234")),
        Case("Campaigns-unknown-token", "Campaigns", unknown, unknown_token, True),
        Case("Users-ok", "Users", a, ok(lambda d: {"FullName": "Alice Agent", "ID": 7} in d
                                        and {"FullName": "Bob Agent", "ID": 9} in d)),
        Case("Users-no-token", "Users", missing, no_token, True),
        Case("ResultCodes-ok", "ResultCodes", a,
             ok(lambda d: {c["Code"]: c["IsSuccess"] for c in d}.get("SALE") is True)),
        Case("ResultCodes-unknown-token", "ResultCodes", unknown, unknown_token, True),
        Case("AcdQueues-ok", "AcdQueues", a, ok(lambda d: [(q["ID"], q["AcdName"]) for q in d] == [(1, "Claims")])),
        Case("AcdQueues-no-token", "AcdQueues", missing, no_token, True),
        Case("LeadPhones-ok", "LeadPhones", {**a, "LeadID": 1},
             ok(lambda d: [(p["LeadId"], p["PhoneNumber"], p["RecordType"]) for p in d]
                == [(1, "+442079460111", "Home"), (1, "+447911123456", "Mobile")])),
        Case("LeadPhones-unknown-token", "LeadPhones", {**unknown, "LeadID": 1}, unknown_token, True),
        # dial, hold, retrieve, recording off and on, hold again, dial a third party
        Case("Dial-ok", "Dial", {**a, "PhoneNum": "+442079460333"}, ok(lambda d: d["CallId"] > 0)),
        Case("Dial-no-token", "Dial", {**missing, "PhoneNum": "+442079460333"}, no_token, True),
        Case("Hold-ok", "Hold", {**a, "CallID": first}, ok(lambda d: d["CallState"] == 3), retry=500),
        Case("Hold-again", "Hold", {**a, "CallID": first},  # the seed's refusal: no fault, Success false
             lambda r: (r["Success"], r["ResponseCode"], r["Data"]) == (False, 31, None), True),
        Case("Retrieve-ok", "Retrieve", {**a, "CallID": first}, ok(lambda d: d["CallState"] == 2)),
        Case("Retrieve-no-token", "Retrieve", {**missing, "CallID": first}, no_token, True),
        Case("StopRecord-ok", "StopRecord", {**a, "CallID": first}, ok(lambda d: d["RecordingState"] == 2)),
        Case("StopRecord-unknown-token", "StopRecord", {**unknown, "CallID": first}, unknown_token, True),
        Case("StartRecord-ok", "StartRecord", {**a, "CallID": first}, ok(lambda d: d["RecordingState"] == 1)),
        Case("StartRecord-no-token", "StartRecord", {**missing, "CallID": first}, no_token, True),
        Case("Hold-before-second", "Hold", {**a, "CallID": first}, ok(lambda d: d["CallState"] == 3)),
        Case("Dial-second", "Dial", {**a, "PhoneNum": "+442079460444"}, ok(lambda d: d["CallId"] > 0)),
        Case("ChangeLead-ok", "ChangeLead", {**a, "CallID": first, "LeadPhoneID": 3},
             ok(lambda d: d["CustomerName"] == "Dan Driver")),
        Case("ChangeLead-unknown-token", "ChangeLead", {**unknown, "CallID": first, "LeadPhoneID": 3},
             unknown_token, True),
        Case("CreateNewLead-ok", "CreateNewLead", {**a, "CallID": second, "PhoneNum": "+442079460445"},
             ok(lambda d: (d["PhoneNumber"], d["CustomerName"]) == ("+442079460444", "")), retry=500),
        Case("CreateNewLead-no-token", "CreateNewLead", {**missing, "CallID": second, "PhoneNum": "+442079460445"},
             no_token, True),
        Case("GetCalls-two", "GetCalls", a, ok(lambda d: len(d) == 2)),
        Case("ConnectCalls-ok", "ConnectCalls",
             {**a, "Call1ID": first, "Call2ID": second, "ResultCode1": "XFER", "ResultCode2": "SALE",
              "Notes1": "warm transfer", "NumSales2": 2},
             ok(lambda d: [c["CallStatus"] for c in d] == [3, 3]), retry=500),
        Case("ConnectCalls-no-token", "ConnectCalls",
             {**missing, "Call1ID": first, "Call2ID": second, "ResultCode1": "XFER", "ResultCode2": "SALE"},
             no_token, True),
        # a third call: hang up, then dispose
        Case("Dial-third", "Dial", {**a, "PhoneNum": "+442079460333"}, ok(lambda d: d["CallId"] > 0)),
        Case("Hangup-ok", "Hangup", {**a, "CallID": third}, ok(lambda d: d["CallStatus"] == 2)),
        Case("Hangup-unknown-token", "Hangup", {**unknown, "CallID": third}, unknown_token, True),
        Case("Dispose-ok", "Dispose", {**a, "CallID": third, "ResultCode": "NOSALE"},
             ok(lambda d: d["CallStatus"] == 3)),
        Case("Dispose-no-token", "Dispose", {**missing, "CallID": third, "ResultCode": "NOSALE"}, no_token, True),
        Case("Logout-ok", "Logout", a, ok(lambda d: d["AgentStateName"] == "logged_out")),
        Case("Logout-no-token", "Logout", missing, no_token, True),
    ]


BUILDERS = {"recording": recording_cases, "calldata": calldata_cases, "callback": callback_cases,
            "info": info_cases, "agent": agent_cases}


def cases(service: str, version: str, state: dict) -> list[Case]:
    built = BUILDERS[service](version, state)
    for case in built:
        case.version = version
    return built


def failures(case: Case, out: dict) -> list[str]:
    """What is wrong with a driver's answer to a case (empty: as expected)."""
    def problem(text: str) -> list[str]:
        return [f"{case.key}: {text}: {out}"]

    if out.get("error"):
        return problem("the driver could not make the call")
    check = case.check
    if isinstance(check, Fault):
        fault = out.get("fault")
        if out["ok"] or not fault:
            return problem(f"a {check.code} fault expected")
        return fault_failures(case, check, fault, problem)
    if isinstance(check, Refused):
        transport = out.get("transport")
        if out["ok"] or not transport or transport.get("http_status") != check.status:
            return problem(f"HTTP {check.status} expected")
        # (JAX-WS does not show the headers; Mono does)
        scheme = transport.get("www_authenticate")
        if check.scheme and "www_authenticate" in transport and not (scheme or "").startswith(f"{check.scheme} realm="):
            return problem(f"a {check.scheme} challenge expected")
        return []
    if not out["ok"]:
        return problem("an answer expected")
    try:
        if not check(plain(out["result"])):
            return problem("unexpected answer")
    except (AssertionError, KeyError, TypeError, IndexError) as exc:
        return problem(f"unexpected answer ({exc!r})")
    return []


def fault_failures(case: Case, expected: Fault, fault: dict, problem) -> list[str]:
    if expected.reason not in fault["string"]:
        return problem(f"the fault string should name {expected.reason!r}")
    if fault["code_ns"] != ENVELOPES[case.version]:
        return problem("a fault code of the request's SOAP version expected")
    if case.version == "1.1" and fault["code"] != f"Client.{expected.code}":
        return problem(f"faultcode Client.{expected.code} expected")
    if case.version == "1.2" and (fault["code"], fault["subcodes"]) != ("Sender", [f"{{{FAULT_NS}}}{expected.code}"]):
        return problem(f"Sender with subcode {expected.code} expected")
    return []


def hang_up_everything(live) -> None:
    """The parties of the agents' calls hang up (bridged calls outlive the agent's session)."""
    with live.db.read_session() as session:
        talking = session.scalars(select(Call.external_id).where(Call.state.in_(("ringing", "answered")))).all()
    for switch_id in talking:
        if live.system.switch.call(switch_id) is not None:  # (CTI ingest's calls are not the switch's)
            live.system.switch.hangup(switch_id)


def prepare(live, service: str, stack: str, request) -> dict:
    """The state a service's cases start from, made through the server's own interfaces."""
    state: dict = {"stack": stack, "today": datetime.now().date()}
    if service == "recording":
        state["reference"] = live.recorded_call("201", talk_s=1.0).reference
    elif service == "calldata":
        state["calldata"] = request.getfixturevalue("calldata")
    elif service == "info":
        # one scheduled callback request per SOAP version, through the Buzzeasy seed's REST
        state["requests"] = {}
        for version, phone in (("1.1", "+447779453131"), ("1.2", "+447779453132")):
            r = requests.post(live.url("/RequestCallbackService/Service.svc/rest/RequestCallSchedule"), timeout=10,
                              json={"name": "Typed", "phoneNo": phone, "serviceQueue": "1", "company": "1",
                                    "password": COMPANY["password"], "field1": f"I-{version}",
                                    "date": "2030-01-07 00:00:00", "timeslot": "2"})
            assert r.status_code == 200 and r.json()["ConfirmationCode"], r.text
            state["requests"][version] = (r.json()["ConfirmationCode"], phone)
    return state


def start_live(folder: Path):
    """The server a compiled stack's module calls: the agents' simulated calls answered at
    once, and sign-in limits high, since every refusal case is a wrong credential from
    127.0.0.1, more than the limits allow one address (their own tests are in tests/security)."""
    return start_server(folder, agent_answer_after_s=0.0, signin_max_failures=100_000,
                        signin_max_address_failures=100_000)


def run_all(live, target: Target, stack: str, request, drive: Callable[[list[Case]], dict]) -> tuple[list[Case], dict]:
    """Every case of the service, both SOAP versions, in one run of the stack's driver
    (`drive`: the cases to the answers by key): (cases, answers by key)."""
    state = prepare(live, target.name, stack, request)
    cases_run = [case for version in ("1.1", "1.2") for case in cases(target.name, version, state)]
    answers = drive(cases_run)
    hang_up_everything(live)
    return cases_run, answers


def problems(run: tuple[list[Case], dict], version: str) -> list[str]:
    """What is wrong with the answers to one SOAP version's cases of a run."""
    cases_run, answers = run
    return [p for case in cases_run if case.version == version for p in failures(case, answers[case.key])]


def each_operation_succeeds_and_fails(run: tuple[list[Case], dict], operations: set[str]) -> None:
    """Every operation the generated client has, in each version, has a success case and a failure case."""
    assert operations
    for version in ("1.1", "1.2"):
        mine = [c for c in run[0] if c.version == version]
        assert {c.operation for c in mine if not c.failure} == operations
        assert {c.operation for c in mine if c.failure} == operations
