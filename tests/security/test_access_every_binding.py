"""One authorisation rule per operation, the same on every binding (CONTRACTS "Who may
call what"): every operation of every served WSDL - read from the WSDL, so a new
operation is walked too - on SOAP 1.1 and 1.2 at each of its addresses, its GET binding
(a SoapService's /rest, or the plain GET routes named after it), JSONP and its seed URL,
without credentials, with wrong ones and with good ones. A refusal is answered as each
seed answers one, and changes nothing in the database.

The client is a remote one (203.0.113.50, through the trusted proxy's X-Forwarded-For):
no allowed-network exemption applies. An operation missing from ACCESS fails the walk.
"""
from __future__ import annotations

import collections
import copy
import functools
import inspect
import itertools
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests
import zeep
from helpers.agent import answer_of as agent_answer
from helpers.database import fingerprint as database_fingerprint
from helpers.server import DEMO_SITE, cheapen_passwords, start_server
from helpers.soap import BMS, soap_body
from lxml import etree
from sqlalchemy import select

from services.soap.access import BODY_CREDENTIALS, OPEN
from services.soap.endpoint import SoapService
from storage.models import (
    ActivityLink,
    AgentSession,
    Call,
    CallbackEvent,
    CallbackRequest,
    CallbackSlot,
    Lead,
    LeadPhone,
    Recording,
    ServiceQueue,
)

REMOTE = {"X-Forwarded-For": "203.0.113.50"}
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
PARTNER = ("partner1", "demo-partner-pw")
COMPANY_PASSWORD = "demo-company-pw"
AGENT = ("alice", "demo-alice-pw", 7)
NO_SUCH_CALL = 999_999
ANSWERS = "+447779453115"  # a number a callback request would be stored for
BLACKLISTED = "+441632960999"  # the demo company's black list: admitted, stores nothing
TOKEN_CODES = {10, 11, 12, 14}  # the agent API's token refusals (missing, unknown, sign-in, not yours)
ids = itertools.count(1)

# How each operation is guarded: "open" answers anyone (as the seed has it); "basic"
# needs HTTP Basic with listening rights (401 + challenge otherwise); "body" carries the
# credentials as request elements (Callbutton's partner, Buzzeasy's and BuzzMeInfo's
# company password: refused as the seed refuses, see REFUSED_ANSWER); "token" needs the
# agent API's TokenKey (element or cookie: 401 with a TokenKey challenge otherwise).
ACCESS = {
    "AddLink": "open",
    "PlayByPhone": "basic",
    "GetRecordingInfo": "basic",
    "LinkRecording": "basic",
    "RetrieveRecFile": "basic",  # without credentials only from recall_allowed_networks
    "SearchRecordings": "basic",
    "GetCallDetails": "body",
    # Buzzeasy Request Callback Service
    "RequestCallWhenAvailable": "body",
    "RequestCallSchedule": "body",
    "GetAvailableTimes": "body",
    "GetNextThreeTimeSlots": "body",
    "UpdateEWTRecord": "body",
    "GetEWTByServiceID": "body",
    # BuzzMeInfo
    "GetCallDataByNumber": "body",
    "GetCallDataByPin": "body",
    # agent remote control
    "GetToken": "open",  # the sign-in itself
    **{operation: "token" for operation in (
        "Login", "Logout", "GoReady", "GetCalls", "Dial", "Hangup", "Dispose", "Hold", "Retrieve", "StopRecord",
        "StartRecord", "Campaigns", "Users", "ResultCodes", "AcdQueues", "LeadPhones", "ChangeLead",
        "CreateNewLead", "ConnectCalls")},
}

# Body-credential operations whose seed answers a refusal with a value, not a fault: how
# that value looks (on SOAP, GET, JSONP and the seed URL alike, HTTP 200).
REFUSED_ANSWER = {
    "RequestCallWhenAvailable": lambda v: v["ResultCode"] == -1 and not v.get("ConfirmationCode"),
    "RequestCallSchedule": lambda v: v["ResultCode"] == -1 and not v.get("ConfirmationCode"),
    "UpdateEWTRecord": lambda v: v is False,
    "GetEWTByServiceID": lambda v: v == -1,
}


def _buzzeasy(operation: str, args: dict, renames=()) -> dict:
    """The seed's JSON body: every value a string, as its examples send them; dates as
    `yyyy-MM-dd HH:mm:ss`; the seed's own spelling of a parameter where it differs."""
    body = {dict(renames).get(k, k): v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else str(v)
            for k, v in args.items()}
    return {"method": "POST", "path": f"/RequestCallbackService/Service.svc/rest/{operation}", "json": body}


def _agent(path: str, args: dict, **params) -> dict:
    key = args.get("TokenKey")
    return {"method": "GET", "path": f"/webservices/services/telephony/{path}", "agent": True,
            "params": {k: v for k, v in params.items() if v is not None},
            "headers": {"Cookie": f"TokenKey={key}"} if key else {}}


# The seed's own URL of an operation, where it has one: a request built from the arguments.
SEED_URLS = {
    "AddLink": lambda a: {"path": f"/bluebutler/service/AddLink/id={quote(a['id'], safe='')}",
                          "params": {"host": a["host"], "activeCall": "false"}},
    "PlayByPhone": lambda a: {"path": f"/bluebutler/service/PlayByPhone/{a['refNum']}/"
                                      f"{quote(a['phoneNumber'], safe='')}"},
    "RetrieveRecFile": lambda a: {"path": "/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile",
                                  "params": {"sExtension": a["sExtension"],
                                             "dtCallDateTime": f'"{a["dtCallDateTime"]}"', "format": "json"}},
    **{operation: functools.partial(_buzzeasy, operation) for operation in (
        "RequestCallWhenAvailable", "RequestCallSchedule", "GetAvailableTimes", "UpdateEWTRecord")},
    "GetNextThreeTimeSlots": lambda a: _buzzeasy("GetNextThreeTimeSlots", a, [("time", "requestedDate")]),
    "GetEWTByServiceID": lambda a: _buzzeasy("GetEWTByServiceID", a,
                                             [("serviceQueueID", "serviceQueue"), ("companyID", "company")]),
    # BuzzMeInfo's seed GET URLs are its plain GET routes (walked as GET bindings).
    "GetToken": lambda a: {"method": "POST", "path": "/webservices/services/token", "agent": True,
                           "data": {"username": a["username"], "password": a["password"]}},
    **{operation: (lambda method: lambda a: _agent(f"{method}/user/{a['UserID']}", a))(operation.lower())
       for operation in ("GetCalls", "GoReady", "Campaigns", "Users", "ResultCodes", "AcdQueues", "Logout")},
    "Login": lambda a: _agent(f"login/user/{a['UserID']}", a, campaign=a["CampaignID"]),
    "Dial": lambda a: _agent(f"dial/user/{a['UserID']}/phone/{quote(a['PhoneNum'], safe='')}", a),
    **{operation: (lambda method: lambda a: _agent(f"{method}/user/{a['UserID']}/call/{a['CallID']}", a))(
        operation.lower()) for operation in ("Hangup", "Hold", "Retrieve", "StopRecord", "StartRecord")},
    "Dispose": lambda a: _agent(f"dispose/user/{a['UserID']}/call/{a['CallID']}", a, resultcode=a["ResultCode"]),
    "LeadPhones": lambda a: _agent(f"leadphones/user/{a['UserID']}/lead/{a['LeadID']}", a),
    "ChangeLead": lambda a: _agent(f"changelead/user/{a['UserID']}/call/{a['CallID']}/leadphone/{a['LeadPhoneID']}",
                                   a),
    "CreateNewLead": lambda a: _agent(f"createnewlead/user/{a['UserID']}/call/{a['CallID']}/phone/"
                                      f"{quote(a['PhoneNum'], safe='')}", a),
    "ConnectCalls": lambda a: _agent(f"connectcalls/user/{a['UserID']}", a, call1=a["Call1ID"], call2=a["Call2ID"],
                                     resultcode1=a["ResultCode1"], resultcode2=a["ResultCode2"]),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    site = json.loads(DEMO_SITE.read_text())
    partners = copy.deepcopy(site["partners"])
    partners[0]["allowed_ips"] = [*partners[0]["allowed_ips"], "203.0.113.0/24"]
    site["partners"] = partners
    server = start_server(tmp_path_factory.mktemp("walk"), site=site, trusted_proxy="127.0.0.1",
                          recall_allowed_networks=["127.0.0.0/8"],
                          signin_max_failures=10_000, signin_max_address_failures=10_000)
    # The walk sends about a hundred wrong passwords: cheap hashes keep each refusal quick.
    cheapen_passwords(server, site)
    yield server
    server.stop()


class Served:
    """One SoapService as the application serves it: its SOAP addresses, its /rest prefix
    (None when it has none) and the plain GET routes named after its operations."""

    def __init__(self, service: SoapService) -> None:
        self.service, self.addresses, self.rest_prefix, self.get_routes = service, [], None, {}


def soap_services(live) -> list[Served]:
    """Every SoapService the application serves (found through any wrapper of its entry points)."""
    found: dict[int, Served] = {}
    routes = live.system.edges()
    for route in routes:
        target = inspect.unwrap(route.wsgi) if route.wsgi is not None else None
        service = getattr(target, "__self__", None)
        if isinstance(service, SoapService):
            served = found.setdefault(id(service), Served(service))
            if target.__name__ == "soap_endpoint":
                served.addresses.append(route.rule)
            else:
                served.rest_prefix = route.rule.split("<", 1)[0]
    assert found, "no SOAP service found in the application's routes"
    for served in found.values():
        for operation in served.service.access_rules():
            served.get_routes[operation] = [route.rule for route in routes
                                            if route.handler is not None and "GET" in route.methods
                                            and route.rule.rsplit("/", 1)[-1] == operation]
    return list(found.values())


def wsdl_operations(live, address: str) -> list[str]:
    document = etree.fromstring(requests.get(live.url(address + "?wsdl"), timeout=10).content)
    return sorted({op.get("name") for op in document.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation")})


def arguments(live, operation: str, good: bool | None) -> dict:
    """Valid arguments; for "body" and "token" operations the credentials are among them:
    good (True), wrong (False) or, for a token, none at all (None). Admitted, they change
    little (a blacklisted number, no such call); refused, they would store something."""
    if operation == "AddLink":
        return {"id": f"WALK-OPEN-{next(ids)}", "host": "WS-ALICE"}
    if operation in ("PlayByPhone", "GetRecordingInfo"):
        return {"refNum": live.walk_reference, **({"phoneNumber": "+442079460123"} if operation == "PlayByPhone" else {})}
    if operation == "LinkRecording":
        return {"activityId": live.walk_activity, "refNum": live.walk_reference}
    if operation == "RetrieveRecFile":
        return {"sExtension": "201", "dtCallDateTime": "2011-10-10 18:52:00"}
    if operation == "SearchRecordings":
        return {"sExtension": "201", "iPageSize": 5}
    if operation == "GetCallDetails":
        return {"username": PARTNER[0], "password": PARTNER[1] if good else "wrong-password",
                "clientCode": ["8005551234"], "startDate": datetime(2026, 1, 1, tzinfo=timezone.utc),
                "endDate": datetime(2026, 1, 2, tzinfo=timezone.utc)}
    company = {"company": 1, "password": COMPANY_PASSWORD if good else "wrong-password"}
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    # Refused, these would be stored: a number that answers.
    person = {"name": "Walk", "phoneNo": BLACKLISTED if good else ANSWERS}
    buzzeasy = {
        "RequestCallWhenAvailable": {**person, "serviceQueue": 1, **company},
        "RequestCallSchedule": {**person, "timeslot": 4, "date": tomorrow, "serviceQueue": 1, **company},
        "GetAvailableTimes": {"serviceQueue": 1, **company, "requestedDate": tomorrow},
        "GetNextThreeTimeSlots": {"serviceQueue": 1, "time": tomorrow, **company},
        "UpdateEWTRecord": {"serviceQueue": 1, "ewt": 0 if good else 45, **company},
        "GetEWTByServiceID": {"serviceQueueID": 1, "companyID": 1, "password": company["password"]},
        "GetCallDataByNumber": {"presentedNumber": ANSWERS, "companyId": 1, "password": company["password"]},
        "GetCallDataByPin": {"pin": "123456", "companyId": 1, "password": company["password"]},
    }
    if operation in buzzeasy:
        return buzzeasy[operation]
    if operation == "GetToken":  # open: the sign-in's own credentials are its input, not a guard
        return {"username": AGENT[0], "password": AGENT[1]}
    user = AGENT[2]
    agent = {
        "Login": {"CampaignID": 3}, "Logout": {}, "GoReady": {}, "GetCalls": {}, "Campaigns": {}, "Users": {},
        "ResultCodes": {}, "AcdQueues": {}, "Dial": {"PhoneNum": "+442079460111"},
        **{op: {"CallID": NO_SUCH_CALL} for op in ("Hangup", "Hold", "Retrieve", "StopRecord", "StartRecord")},
        "Dispose": {"CallID": NO_SUCH_CALL, "ResultCode": "NOSALE"}, "LeadPhones": {"LeadID": 1},
        "ChangeLead": {"CallID": NO_SUCH_CALL, "LeadPhoneID": 1},
        "CreateNewLead": {"CallID": NO_SUCH_CALL, "PhoneNum": "+442079460333"},
        "ConnectCalls": {"Call1ID": NO_SUCH_CALL, "Call2ID": NO_SUCH_CALL + 1, "ResultCode1": "XFER",
                         "ResultCode2": "XFER"},
    }
    if operation in agent:
        key = live.walk_token if good else (None if good is None else "not-a-token")
        return {**({"TokenKey": key} if key else {}), "UserID": user, **agent[operation]}
    pytest.fail(f"{operation}: add it to ACCESS (who may call it) and give it arguments here")


def rest_query(args: dict) -> list[tuple[str, str]]:
    pairs = []
    for name, value in args.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(item, datetime) else str(item)))
    return pairs


@functools.lru_cache(maxsize=None)
def soap_proxy(wsdl_url: str, version: str):
    client = zeep.Client(wsdl_url)
    service = next(iter(client.wsdl.services.values()))
    port = [p for p in service.ports.values() if (p.binding.__class__.__name__ == "Soap12Binding") == (version == "1.2")][0]
    return client, client.bind(service.name, port.name)


def soap_request(live, address: str, version: str, operation: str, args: dict, auth) -> requests.Response:
    client, proxy = soap_proxy(live.url(address + "?wsdl"), version)
    envelope = etree.tostring(client.create_message(proxy, operation, **args))
    content_type = "application/soap+xml; charset=utf-8" if version == "1.2" else "text/xml; charset=utf-8"
    return requests.post(live.url(address), data=envelope, auth=auth, timeout=30,
                         headers={**REMOTE, "Content-Type": content_type, "SOAPAction": f'"{operation}"'})


def bindings(live, served: Served, operation, args, auth, addresses=None):
    """(binding name, response) for every way the operation is served."""
    for address in served.addresses if addresses is None else addresses:
        for version in ("1.1", "1.2"):
            yield f"SOAP {version} {address}", soap_request(live, address, version, operation, args, auth)
    query = rest_query(args)
    get_urls = ([served.rest_prefix + operation] if served.rest_prefix else []) + served.get_routes[operation]
    assert get_urls, f"{operation}: no GET binding found (a SoapService /rest route, or a GET route named after it)"
    for path in get_urls:
        url = live.url(path)
        yield f"GET {path}", requests.get(url, params=query, auth=auth, headers=REMOTE, timeout=30)
        yield f"JSONP {path}", requests.get(url, params=query + [("callback", "cb")], auth=auth, headers=REMOTE,
                                            timeout=30)
    if operation in SEED_URLS:
        seed = SEED_URLS[operation](args)
        r = requests.request(seed.get("method", "GET"), live.url(seed["path"]), params=seed.get("params"),
                             json=seed.get("json"), data=seed.get("data"), auth=auth, timeout=30,
                             headers={**REMOTE, **seed.get("headers", {})})
        yield f"seed{' agent' if seed.get('agent') else ''} {seed['path']}", r


def on(binding: str, kind: str) -> bool:
    """Whether a case's name ("Dial SOAP 1.1 /soap/agent ...") is of that binding kind."""
    return f" {kind} " in f" {binding} "


def is_soap(binding: str) -> bool:
    return on(binding, "SOAP")


def answer(binding: str, r: requests.Response):
    """What an operation answered, as a Python value, on any binding: SOAP's result element
    (a dict of its children's texts, or its text as JSON), JSON, or JSONP's argument."""
    if is_soap(binding):
        (result,) = soap_body(r.content)
        if len(result):
            return {etree.QName(child).localname: json.loads(child.text) if child.text and
                    child.text.lstrip("-").isdigit() else child.text for child in result}
        return json.loads(result.text)
    if on(binding, "JSONP"):
        assert r.text.startswith("cb(") and r.text.endswith(");"), f"{binding}: {r.text[:300]}"
        return json.loads(r.text[3:-2])
    return r.json()


def assert_challenged(binding: str, r: requests.Response, scheme: str = "Basic") -> None:
    assert r.status_code == 401, f"{binding}: {r.status_code} {r.text[:300]}"
    assert r.headers.get("WWW-Authenticate", "").startswith(f"{scheme} realm="), f"{binding}: {r.headers}"
    if is_soap(binding):
        fault = soap_body(r.content)
        assert etree.QName(fault).localname == "Fault", f"{binding}: no SOAP Fault body"


def assert_body_refused(operation: str, binding: str, r: requests.Response) -> None:
    if operation in REFUSED_ANSWER:  # the seed's refusal is a value: a result code, false, -1
        assert r.status_code == 200, f"{binding}: {r.status_code} {r.text[:300]}"
        assert REFUSED_ANSWER[operation](answer(binding, r)), f"{binding}: {r.text[:300]}"
        return
    if is_soap(binding):  # the Client.Unauthorized fault, under SOAP's own status
        fault = soap_body(r.content)
        assert r.status_code in (400, 500) and etree.QName(fault).localname == "Fault" \
            and "Unauthorized" in etree.tostring(fault).decode(), f"{binding}: {r.status_code} {r.text[:300]}"
    elif on(binding, "JSONP"):  # 200, or the page's callback would never run
        assert r.status_code == 200 and ("Unauthorized" in r.text or "Authentication Failed" in r.text), \
            f"{binding}: {r.status_code} {r.text[:300]}"
    elif r.status_code == 401:  # the Buzzeasy seed's REST and BuzzMeInfo's GET: 401, the body's scheme named
        assert r.headers.get("WWW-Authenticate", "").startswith("Buzzeasy realm=") \
            and r.json() == "Authentication Failed", f"{binding}: {r.headers} {r.text[:300]}"
    else:  # a SoapService's GET: its JSON fault
        assert r.status_code == 400 and r.json()["faultcode"] == "Client.Unauthorized", \
            f"{binding}: {r.status_code} {r.text[:300]}"


def assert_token_refused(binding: str, r: requests.Response) -> None:
    """The agent API: a token refusal is 401 with its TokenKey challenge - a SOAP fault on
    SOAP, an unsuccessful CallActionResponse on the seed URLs, a JSON fault on GET; JSONP
    carries the fault with 200."""
    if on(binding, "JSONP"):
        assert r.status_code == 200 and answer(binding, r)["faultcode"] == "Client.Unauthorized", \
            f"{binding}: {r.status_code} {r.text[:300]}"
        return
    assert_challenged(binding, r, "TokenKey")
    if is_soap(binding):
        fault = etree.tostring(soap_body(r.content)).decode()
        assert "Unauthorized" in fault and any(f">{code}: " in fault for code in TOKEN_CODES), \
            f"{binding}: {r.text[:300]}"
    elif on(binding, "seed"):
        refusal = agent_answer(r, as_json=False)
        assert refusal.body["Success"] is False and refusal.code in TOKEN_CODES, f"{binding}: {refusal.body}"
    else:
        assert r.json()["faultcode"] == "Client.Unauthorized", f"{binding}: {r.text[:300]}"


def assert_answered(operation: str, binding: str, r: requests.Response) -> None:
    if ACCESS[operation] == "token":
        # Admitted: whatever the agent's state makes of it (no such call, not logged in),
        # never a token refusal.
        assert r.status_code not in (401, 403, 429) and r.status_code < 500, f"{binding}: {r.status_code} {r.text[:300]}"
        if is_soap(binding):
            assert etree.QName(soap_body(r.content)).localname != "Fault", f"{binding}: {r.text[:300]}"
        code = (agent_answer(r, as_json=False).code if on(binding, "seed")
                else answer(binding, r)["ResponseCode"])
        assert code not in TOKEN_CODES, f"{binding}: {r.text[:300]}"
        return
    assert r.status_code == 200, f"{binding}: {r.status_code} {r.text[:300]}"
    if is_soap(binding):
        assert etree.QName(soap_body(r.content)).localname != "Fault", f"{binding}: {r.text[:300]}"
    if operation in REFUSED_ANSWER:
        assert not REFUSED_ANSWER[operation](answer(binding, r)), f"{binding} refused good credentials: {r.text[:300]}"


def fingerprint(live) -> dict:
    """What a refusal must leave alone: calls, recordings, links, callback requests, their
    events and slots, queues (EWT), agent sessions, leads."""
    return database_fingerprint(live.db, (Call, Recording, ActivityLink, CallbackRequest, CallbackEvent, CallbackSlot,
                                          ServiceQueue, AgentSession, Lead, LeadPhone))


@pytest.fixture(scope="module")
def prepared(live):
    live.walk_reference = live.recorded_call("201", talk_s=1.0).reference
    live.walk_activity = f"WALK-{next(ids)}"
    r = requests.get(live.url(f"/bluebutler/service/AddLink/id={live.walk_activity}"), params={"host": "WS-ALICE"})
    assert r.ok
    r = requests.post(live.url("/webservices/services/token"), data={"username": AGENT[0], "password": AGENT[1]})
    live.walk_token = agent_answer(r, as_json=False).one["TokenKey"]
    return live


def walk(live):
    for served in soap_services(live):
        assert served.addresses, f"{served.service.name}: no SOAP address"
        operations = wsdl_operations(live, served.addresses[0])
        assert operations, f"{served.service.name}: no operations in its WSDL"
        for operation in operations:
            yield served, operation


def test_every_operation_has_a_declared_rule(prepared):
    walked = [operation for _, operation in walk(prepared)]
    assert {"AddLink", "PlayByPhone", "GetCallDetails", "RequestCallWhenAvailable", "GetCallDataByPin",
            "GetToken", "Dial"} <= set(walked)
    unknown = sorted(set(walked) - set(ACCESS))
    assert not unknown, f"operations served without an entry in ACCESS: {unknown}"
    # ... and each declares its rule once, where it is written, matching the table.
    for served in soap_services(prepared):
        for operation, rule in served.service.access_rules().items():
            assert rule is not None, f"{operation}: declare who may call it with @soap_operation(access=...)"
            kind = ("open" if rule is OPEN else "body" if rule is BODY_CREDENTIALS
                    else "token" if getattr(rule, "token", False)
                    else "basic" if getattr(rule, "http_credentials", False) else "?")
            assert kind == ACCESS[operation], f"{operation} declares {rule.__name__}, ACCESS says {ACCESS[operation]}"


def test_without_or_with_wrong_credentials_only_open_operations_answer(prepared):
    live = prepared
    cases = collections.Counter()
    for served, operation in walk(live):
        rule = ACCESS.get(operation)
        assert rule is not None, f"{operation} is served but not in ACCESS"
        # (HTTP auth, arguments' credentials: wrong, or none at all (None, tokens only),
        # SOAP addresses). Wrong HTTP credentials matter only where HTTP credentials are
        # read; wrong ones need one SOAP address of the two (one endpoint serves both, and
        # each wrong password costs an argon2 check). Body credentials are always sent, wrong.
        tries = {"basic": [(None, False, None), (("bms", "wrong-password"), False, served.addresses[:1])],
                 "token": [(None, None, None), (None, False, served.addresses[:1])]}.get(rule, [(None, False, None)])
        for auth, good, addresses in tries:
            args = arguments(live, operation, good=good)
            before = fingerprint(live) if rule != "open" else None
            for binding, r in bindings(live, served, operation, args, auth, addresses):
                cases[served.service.name] += 1
                name = f"{operation} {binding} auth={auth} token={args.get('TokenKey')}"
                if rule == "open":
                    assert_answered(operation, name, r)
                elif rule == "basic":
                    assert_challenged(name, r)
                elif rule == "token":
                    assert_token_refused(name, r)
                else:
                    assert_body_refused(operation, name, r)
            if before is not None:
                assert fingerprint(live) == before, f"{operation}: a refusal changed the database"
    # ... nothing stored, no call placed, the activity still pending.
    with live.db.session() as session:
        link = session.scalar(select(ActivityLink).where(ActivityLink.activity_id == live.walk_activity))
        assert link.state == "pending"
        assert session.scalars(select(CallbackRequest)).all() == []
    assert all(channel.state == "idle" for channel in live.system.switch.channels())
    print(f"\nrefusal cases (operation x binding x credentials): {sum(cases.values())} {dict(cases)}")


def test_with_good_credentials_every_operation_answers(prepared):
    live = prepared
    cases = collections.Counter()
    for served, operation in walk(live):
        auth = BMS if ACCESS[operation] in ("basic", "open") else None
        for binding, r in bindings(live, served, operation, arguments(live, operation, good=True), auth):
            cases[served.service.name] += 1
            assert_answered(operation, f"{operation} {binding}", r)
    with live.db.session() as session:
        link = session.scalar(select(ActivityLink).where(ActivityLink.activity_id == live.walk_activity))
        assert link.state == "linked"
    print(f"\nadmitted cases (operation x binding): {sum(cases.values())} {dict(cases)}")


def test_mp3_needs_listening_rights_too(prepared):
    live = prepared
    url = live.url(f"/bluebutler/service/MP3/{live.walk_reference}")
    assert_challenged("MP3", requests.get(url, headers=REMOTE))
    assert_challenged("MP3", requests.get(url, headers=REMOTE, auth=("bms", "wrong")))
    r = requests.get(url, headers=REMOTE, auth=BMS)
    assert r.status_code == 200 and r.headers["Content-Type"] == "audio/mpeg"
