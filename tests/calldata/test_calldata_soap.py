"""The call-data service over SOAP 1.1 and 1.2 (zeep, from the served WSDL) and over
GET/JSON(P), on a real server; every SOAP response validated against xsd/calldata.xsd."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
import zeep
from helpers.audio import tone_mp3
from helpers.server import start_server
from helpers.soap import ValidatingPlugin, assert_valid_response, is_fault, soap_body
from lxml import etree
from sqlalchemy import select, update

from services.calldata import soap as calldata_soap
from storage.models import Call

UTC = timezone.utc
TNS = "urn:callsuite:calldata:1"
P1 = {"username": "partner1", "password": "p1-secret"}
SITE = {
    "companies": [
        {"id": 1, "name": "Acme Insurance", "password": "acme-pw", "client_codes": ["8005551234", "8665550000"]},
        {"id": 2, "name": "Other Co", "password": "other-pw", "client_codes": ["8775559876"]},
    ],
    "partners": [
        {"username": "partner1", "password": "p1-secret", "allowed_ips": ["127.0.0.1", "::1"],
         "client_codes": ["8005551234", "8665550000"]},
        {"username": "faraway", "password": "far-secret", "allowed_ips": ["203.0.113.0/24"],
         "client_codes": ["8005551234"]},
    ],
    "campaigns": [{"id": 3, "name": "Renewals", "company": 1}],
}


def cti(live, kind, call_id, at, **fields):
    r = live.cti({"event": kind, "call_id": call_id, "at": at, **fields})
    assert r.status_code in (200, 201), r.text


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("calldata-soap"), site=SITE)
    cti(server, "call.started", "full", "2026-01-05T15:00:00Z", ani="+13125550100", did="8005551234",
        target="+16305550111", extension="201")
    cti(server, "call.answered", "full", "2026-01-05T15:00:05Z")
    cti(server, "call.ended", "full", "2026-01-05T15:02:10Z", dtmf="1#")
    server.audio = tone_mp3(1.0)
    r = server.upload("full", server.audio)
    assert r.status_code == 201, r.text
    cti(server, "call.started", "early", "2026-01-05T13:30:00Z", ani="+447700900123", did="8005551234")
    cti(server, "call.started", "other", "2026-01-05T15:00:00Z", did="8775559876")
    with server.db.session() as session:
        session.execute(update(Call).where(Call.external_id == "full").values(
            campaign_id=3, other_data="ref 7", info_digits="p", index_number="42", reviewed=True,
            caller_address={"first_name": "Ann", "city": "Dallas", "state": "TX", "zip": "75201"},
            sales_status="Made sale", journal="line 1\r\nline 2"))
        server.ids = {name: str(session.scalar(select(Call.id).where(Call.external_id == name)))
                      for name in ("full", "early", "other")}
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plugin():
    return ValidatingPlugin("calldata.xsd")


@pytest.fixture(scope="module")
def client(live, plugin):
    return zeep.Client(live.url("/soap/calldata?wsdl"), plugins=[plugin])


@pytest.fixture(scope="module")
def client12(client):
    return client.bind("CallDataService", "CallDataServiceSoap12")


def test_wsdl_is_the_authored_contract(live):
    r = requests.get(live.url("/soap/calldata?wsdl"))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(r.content)
    assert root.get("targetNamespace") == TNS
    addresses = [a.get("location") for a in root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address",
                                                      "{http://schemas.xmlsoap.org/wsdl/soap12/}address")]
    assert addresses == [live.url("/soap/calldata")] * 2


@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_get_call_details(live, client, client12, plugin, binding):
    service = client.service if binding == "soap11" else client12
    before = plugin.validated
    # A start without an offset is US Central Time: 08:00 CST = 14:00 UTC, so "early" (13:30 UTC) is out.
    report = service.GetCallDetails(**P1, clientCode=["8005551234", "8665550000"],
                                    startDate=datetime(2026, 1, 5, 8, 0), endDate=datetime(2026, 1, 6, 0, 0),
                                    includeStatus=True)
    assert plugin.validated == before + 1
    assert (report.Username, report.ClientAddress) == ("partner1", "127.0.0.1")
    first, second = report.Clients.Client
    assert (first.ClientCode, second.ClientCode) == ("8005551234", "8665550000")
    assert second.Calls is None or second.Calls.Call == []  # zeep reads an empty <Calls/> as None
    (call,) = first.Calls.Call
    assert call.ID == live.ids["full"]
    assert call.StartTime == datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    assert (call.Campaign, call.DID, call.ANI, call.Target) == ("3", "8005551234", "3125550100", "6305550111")
    assert (call.OtherData, call.InfoDigits, call.IndexNumber, call.DTMF) == ("ref 7", "p", "42", "1#")
    assert (call.Result, call.Duration, call.TalkTime) == ("Connected", 130, 125)
    assert (call.ReviewedStatus, call.SalesStatus, call.Journal) == ("Reviewed", "Made sale", "line 1\r\nline 2")
    a = call.Address
    # every Address element is present (the schema requires them); zeep reads the empty ones as None
    assert (a.FirstName, a.LastName, a.City, a.State, a.ZIP, a.ZIP4) == ("Ann", None, "Dallas", "TX", "75201", None)
    assert call.VoiceDirectory == live.url(f"/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id={call.ID}")
    played = requests.get(call.VoiceDirectory, auth=(P1["username"], P1["password"]))
    assert played.status_code == 200 and played.content == live.audio
    assert requests.get(call.VoiceDirectory, auth=("faraway", "far-secret")).status_code == 403


def test_dates_with_an_offset_and_without_status(client):
    report = client.service.GetCallDetails(**P1, clientCode=["8005551234"],
                                           startDate=datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    early, full = report.Clients.Client[0].Calls.Call
    assert early.StartTime == datetime(2026, 1, 5, 13, 30, tzinfo=UTC)
    assert early.ANI is None and early.VoiceDirectory is None and early.Address is None  # +44, no recording
    assert full.ReviewedStatus is None and full.SalesStatus is None and full.Journal is None


def test_star_means_every_granted_code(client):
    report = client.service.GetCallDetails(**P1, clientCode=["*"])
    assert [c.ClientCode for c in report.Clients.Client] == ["8005551234", "8665550000"]


@pytest.mark.parametrize("args, code, needle", [
    ({"username": "partner1", "password": "wrong", "clientCode": ["8005551234"]}, "Client.Unauthorized",
     "invalid username or password"),
    ({"username": "faraway", "password": "far-secret", "clientCode": ["8005551234"]}, "Client.Forbidden",
     "not allowed"),
    ({**P1, "clientCode": ["8005551234", "8775559876"]}, "Client.Forbidden", "8775559876"),
    ({**P1, "clientCode": ["8005551234"], "startDate": datetime(2026, 3, 8, 2, 30)}, "Client.InvalidInput",
     "does not exist"),
    ({**P1, "clientCode": ["8005551234"], "startDate": datetime(2026, 1, 6), "endDate": datetime(2026, 1, 5)},
     "Client.InvalidInput", "Date range not valid"),
    ({**P1, "clientCode": ["8005551234", "*"]}, "Client.InvalidInput", "first"),
])
def test_faults(client, client12, args, code, needle):
    for service in (client.service, client12):
        with pytest.raises(zeep.exceptions.Fault) as fault:
            service.GetCallDetails(**args)
        assert needle in fault.value.message
    with pytest.raises(zeep.exceptions.Fault) as fault:
        client.service.GetCallDetails(**args)
    assert fault.value.code.endswith(code)


def test_too_many_calls_for_one_answer(client, monkeypatch):
    monkeypatch.setattr(calldata_soap, "MAX_CALLS", 1)
    with pytest.raises(zeep.exceptions.Fault) as fault:
        client.service.GetCallDetails(**P1, clientCode=["8005551234"])
    assert "xml.jsp" in fault.value.message


def envelope(inner: str) -> bytes:
    return (f'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:c="{TNS}"><soap:Body>{inner}</soap:Body></soap:Envelope>').encode()


def post_soap(live, body: bytes) -> requests.Response:
    return requests.post(live.url("/soap/calldata"), data=body,
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"GetCallDetails"'})


def test_raw_envelopes_are_validated_against_the_contract(live):
    r = post_soap(live, envelope("<c:GetCallDetails><c:username>partner1</c:username><c:password>p1-secret"
                                 "</c:password><c:clientCode>8005551234</c:clientCode></c:GetCallDetails>"))
    assert r.status_code == 200
    payload = assert_valid_response(r.content, "calldata.xsd")
    assert len(payload.findall(f".//{{{TNS}}}Call")) == 2
    # no clientCode: refused by the authored schema
    r = post_soap(live, envelope("<c:GetCallDetails><c:username>partner1</c:username><c:password>p1-secret"
                                 "</c:password></c:GetCallDetails>"))
    assert r.status_code == 500 and is_fault(r.content)
    # a DTD: refused before parsing
    r = post_soap(live, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                  + envelope("<c:GetCallDetails><c:username>&e;</c:username></c:GetCallDetails>")[21:])
    assert is_fault(r.content) and b"root:" not in r.content
    assert "DTD" in soap_body(r.content).findtext("faultstring")


def test_rest_json_and_jsonp(live):
    url = live.url("/rest/calldata/GetCallDetails")
    params = [("username", "partner1"), ("password", "p1-secret"), ("clientCode", "8005551234"),
              ("clientCode", "8665550000"), ("startDate", "2026-01-05T08:00:00"), ("includeStatus", "true")]
    r = requests.get(url, params=params)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["Username"] == "partner1" and body["ClientAddress"] == "127.0.0.1"
    assert [c["ClientCode"] for c in body["Clients"]] == ["8005551234", "8665550000"]
    (call,) = body["Clients"][0]["Calls"]  # naive start: Central Time, so "early" is out
    assert call["ID"] == live.ids["full"] and call["SalesStatus"] == "Made sale" and call["Duration"] == 130
    r = requests.get(url, params=params + [("callback", "cb.onCalls")])
    assert r.headers["Content-Type"].startswith("application/javascript")
    assert r.text.startswith("cb.onCalls({") and r.text.endswith("});")
    assert requests.get(url, params=params + [("callback", "alert(1)//")]).status_code == 400
    r = requests.get(url, params=[("username", "partner1"), ("password", "nope"), ("clientCode", "8005551234")])
    assert r.status_code >= 400 and "Unauthorized" in r.text and "Made sale" not in r.text
