"""One authorisation rule per operation, the same on every binding (CONTRACTS "Who may
call what"): every operation of every served WSDL - read from the WSDL, so a new
operation is walked too - on SOAP 1.1 and 1.2 at each of its addresses, GET /rest, JSONP
and its seed URL, without credentials, with wrong ones and with good ones.

The client is a remote one (203.0.113.50, through the trusted proxy's X-Forwarded-For):
no allowed-network exemption applies. An operation missing from ACCESS fails the walk.
"""
from __future__ import annotations

import copy
import functools
import itertools
import json
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
import requests
import zeep
from lxml import etree
from sqlalchemy import select

from helpers.server import DEMO_SITE, start_server
from helpers.soap import BMS, soap_body
from services.soap.access import BODY_CREDENTIALS, OPEN
from services.soap.endpoint import SoapService
from storage.models import ActivityLink

REMOTE = {"X-Forwarded-For": "203.0.113.50"}
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
PARTNER = ("partner1", "demo-partner-pw")
ids = itertools.count(1)

# How each operation is guarded: "open" answers anyone (as the seed has it); "basic"
# needs HTTP Basic with listening rights (401 + challenge otherwise); "body" carries the
# partner's credentials as request elements (the Client.Unauthorized fault otherwise).
ACCESS = {
    "AddLink": "open",
    "PlayByPhone": "basic",
    "GetRecordingInfo": "basic",
    "LinkRecording": "basic",
    "RetrieveRecFile": "basic",  # without credentials only from recall_allowed_networks
    "SearchRecordings": "basic",
    "GetCallDetails": "body",
}

# The seed's own URL of an operation, where it has one: (path, query) from the arguments.
SEED_URLS = {
    "AddLink": lambda a: (f"/bluebutler/service/AddLink/id={quote(a['id'], safe='')}",
                          {"host": a["host"], "activeCall": "false"}),
    "PlayByPhone": lambda a: (f"/bluebutler/service/PlayByPhone/{a['refNum']}/{quote(a['phoneNumber'], safe='')}",
                              {}),
    "RetrieveRecFile": lambda a: ("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile",
                                  {"sExtension": a["sExtension"], "dtCallDateTime": f'"{a["dtCallDateTime"]}"',
                                   "format": "json"}),
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
    yield server
    server.stop()


def soap_services(live) -> list[tuple[SoapService, list[str], str]]:
    """Every SoapService the application serves: its SOAP addresses and its /rest prefix."""
    found: dict[int, tuple[SoapService, list[str], list[str]]] = {}
    for route in live.system.edges():
        service = getattr(route.wsgi, "__self__", None)
        if isinstance(service, SoapService):
            entry = found.setdefault(id(service), (service, [], []))
            if route.wsgi.__name__ == "soap_endpoint":
                entry[1].append(route.rule)
            else:
                entry[2].append(route.rule.split("<", 1)[0])
    assert found, "no SOAP service found in the application's routes"
    return [(service, addresses, rest[0]) for service, addresses, rest in found.values()]


def wsdl_operations(live, address: str) -> list[str]:
    document = etree.fromstring(requests.get(live.url(address + "?wsdl"), timeout=10).content)
    return sorted({op.get("name") for op in document.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation")})


def arguments(live, operation: str, good: bool) -> dict:
    """Valid arguments; for "body" operations the credentials (good or wrong) are among them."""
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


def bindings(live, address_list, rest_prefix, operation, args, auth):
    """(binding name, response) for every way the operation is served."""
    for address in address_list:
        for version in ("1.1", "1.2"):
            yield f"SOAP {version} {address}", soap_request(live, address, version, operation, args, auth)
    query = rest_query(args)
    url = live.url(f"{rest_prefix}{operation}")
    yield "GET", requests.get(url, params=query, auth=auth, headers=REMOTE, timeout=30)
    yield "JSONP", requests.get(url, params=query + [("callback", "cb")], auth=auth, headers=REMOTE, timeout=30)
    if operation in SEED_URLS:
        path, params = SEED_URLS[operation](args)
        yield f"seed {path}", requests.get(live.url(path), params=params, auth=auth, headers=REMOTE, timeout=30)


def is_soap(binding: str) -> bool:
    return binding.startswith("SOAP")


def assert_challenged(binding: str, r: requests.Response) -> None:
    assert r.status_code == 401, f"{binding}: {r.status_code} {r.text[:300]}"
    assert r.headers.get("WWW-Authenticate", "").startswith("Basic realm="), f"{binding}: {r.headers}"
    if is_soap(binding):
        fault = soap_body(r.content)
        assert etree.QName(fault).localname == "Fault", f"{binding}: no SOAP Fault body"


def assert_body_refused(binding: str, r: requests.Response) -> None:
    # JSONP answers its faults with 200, or the page's callback would never run.
    assert not r.ok or " JSONP" in binding, f"{binding} answered {r.status_code} for wrong credentials"
    if is_soap(binding):
        fault = soap_body(r.content)
        assert etree.QName(fault).localname == "Fault" and "Unauthorized" in etree.tostring(fault).decode()
    else:
        assert "Unauthorized" in r.text, f"{binding}: {r.text[:300]}"


def assert_answered(binding: str, r: requests.Response) -> None:
    assert r.status_code == 200, f"{binding}: {r.status_code} {r.text[:300]}"
    if is_soap(binding):
        assert etree.QName(soap_body(r.content)).localname != "Fault", f"{binding}: {r.text[:300]}"


@pytest.fixture(scope="module")
def prepared(live):
    live.walk_reference = live.recorded_call("201", talk_s=1.0).reference
    live.walk_activity = f"WALK-{next(ids)}"
    r = requests.get(live.url(f"/bluebutler/service/AddLink/id={live.walk_activity}"), params={"host": "WS-ALICE"})
    assert r.ok
    return live


def walk(live):
    for service, address_list, rest_prefix in soap_services(live):
        operations = wsdl_operations(live, address_list[0])
        assert operations, f"{service.name}: no operations in its WSDL"
        for operation in operations:
            yield service, address_list, rest_prefix, operation


def test_every_operation_has_a_declared_rule(prepared):
    walked = [operation for *_, operation in walk(prepared)]
    assert {"AddLink", "PlayByPhone", "GetCallDetails"} <= set(walked)
    unknown = sorted(set(walked) - set(ACCESS))
    assert not unknown, f"operations served without an entry in ACCESS: {unknown}"
    # ... and each declares its rule once, where it is written, matching the table.
    for service, *_ in soap_services(prepared):
        for operation, rule in service.access_rules().items():
            assert rule is not None, f"{operation}: declare who may call it with @soap_operation(access=...)"
            kind = ("open" if rule is OPEN else "body" if rule is BODY_CREDENTIALS
                    else "basic" if getattr(rule, "http_credentials", False) else "?")
            assert kind == ACCESS[operation], f"{operation} declares {rule.__name__}, ACCESS says {ACCESS[operation]}"


def test_without_or_with_wrong_credentials_only_open_operations_answer(prepared):
    live = prepared
    for service, address_list, rest_prefix, operation in walk(live):
        rule = ACCESS.get(operation)
        assert rule is not None, f"{operation} is served but not in ACCESS"
        # Wrong HTTP credentials matter only where HTTP credentials are read; one SOAP
        # address of the two is enough for them (one endpoint serves both, and each wrong
        # password costs an argon2 check).
        cases = [(None, address_list)] + ([(("bms", "wrong-password"), address_list[:1])] if rule == "basic" else [])
        for auth, addresses in cases:
            for binding, r in bindings(live, addresses, rest_prefix, operation,
                                       arguments(live, operation, good=False), auth):
                if rule == "open":
                    assert_answered(f"{operation} {binding}", r)
                elif rule == "basic":
                    assert_challenged(f"{operation} {binding} auth={auth}", r)
                else:
                    assert_body_refused(f"{operation} {binding}", r)
    # ... and the refusals changed nothing: the activity is still pending, no call placed.
    with live.db.session() as session:
        link = session.scalar(select(ActivityLink).where(ActivityLink.activity_id == live.walk_activity))
        assert link.state == "pending"
    assert all(channel.state == "idle" for channel in live.system.switch.channels())


def test_with_good_credentials_every_operation_answers(prepared):
    live = prepared
    for service, address_list, rest_prefix, operation in walk(live):
        auth = None if ACCESS[operation] == "body" else BMS
        for binding, r in bindings(live, address_list, rest_prefix, operation,
                                   arguments(live, operation, good=True), auth):
            assert_answered(f"{operation} {binding}", r)
    with live.db.session() as session:
        link = session.scalar(select(ActivityLink).where(ActivityLink.activity_id == live.walk_activity))
        assert link.state == "linked"


def test_mp3_needs_listening_rights_too(prepared):
    live = prepared
    url = live.url(f"/bluebutler/service/MP3/{live.walk_reference}")
    assert_challenged("MP3", requests.get(url, headers=REMOTE))
    assert_challenged("MP3", requests.get(url, headers=REMOTE, auth=("bms", "wrong")))
    r = requests.get(url, headers=REMOTE, auth=BMS)
    assert r.status_code == 200 and r.headers["Content-Type"] == "audio/mpeg"
