"""Recall's stored query, SearchRecordings, over SOAP (zeep, every response validated against
xsd/recording.xsd) and GET/JSONP: criteria combined, numbers in any format phonenumbers
reads, newest first, pages with the total count, HTTP Basic with listening rights."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import requests
import zeep
from helpers.audio import tone_mp3
from helpers.server import start_server
from helpers.soap import ValidatingPlugin, assert_valid_response
from zeep.transports import Transport

BMS = ("bms", "demo-bms-pw")  # global listening rights
ALICE = ("alice", "demo-alice-pw")  # extension 201 only
CALLS = {  # name: (extension, direction, ani, did, target, started, recorded)
    "A": ("201", "inbound", "+13125550100", "8005551234", None, "2026-11-01 09:00:00", True),
    "B": ("201", "outbound", "+18005551234", None, "+442079460000", "2026-11-02 10:00:00", True),
    "C": ("202", "inbound", "201", "202", None, "2026-11-03 11:00:00", True),
    "D": ("201", "inbound", "+13125550100", "8005551234", None, "2026-11-04 12:00:00", True),
    "E": ("201", "inbound", "+13125550100", "8005551234", None, "2026-11-05 12:00:00", False),
}


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    live = start_server(tmp_path_factory.mktemp("search"))
    references = {}
    for name, (extension, direction, ani, did, target, started, recorded) in CALLS.items():
        start = datetime.fromisoformat(started + "+00:00")
        call_id = f"search-{name}"
        for kind, at in (("call.started", start), ("call.answered", start + timedelta(seconds=1)),
                         ("call.ended", start + timedelta(seconds=31))):
            r = live.cti({"event": kind, "call_id": call_id, "at": at.isoformat(), "extension": extension,
                          "direction": direction, "ani": ani, "did": did, "target": target})
            assert r.ok, r.text
        if recorded:
            r = live.upload(call_id, tone_mp3(0.5))
            assert r.status_code == 201
            references[name] = r.json()["reference"]
    yield live, references
    live.stop()


def client(live, credentials=BMS):
    session = requests.Session()
    session.auth = credentials
    plugin = ValidatingPlugin("recording.xsd")
    return zeep.Client(live.url("/soap/recording?wsdl"), transport=Transport(session=session),
                       plugins=[plugin]), plugin


def names(result, references) -> list[str]:
    by_reference = {ref: name for name, ref in references.items()}
    return [by_reference[row.ReferenceNumber] for row in (result.Records.CallRecord if result.Records else [])]


def test_criteria_combine_over_soap(calls):
    live, refs = calls
    soap, plugin = client(live)
    search = soap.service.SearchRecordings
    for number in ("(312) 555-0100", "+1 312-555-0100", "312.555.0100", "1 (312) 555 0100"):
        result = search(sCallingNumber=number)
        assert (result.TotalCount, names(result, refs)) == (2, ["D", "A"]), number
    assert names(search(sCalledNumber="+44 20 7946 0000"), refs) == ["B"]
    assert names(search(sCalledNumber="020 7946 0000"), refs) == ["B"]  # national, in the company's region GB
    assert names(search(sCalledNumber="(800) 555-1234"), refs) == ["D", "A"]
    assert names(search(sCallType="internal"), refs) == ["C"]
    assert names(search(sCallType="inbound"), refs) == ["D", "A"]
    assert names(search(sCallType="outbound"), refs) == ["B"]
    assert names(search(sExtension="201", dtFrom="2026-11-01 12:00:00", dtTo='"2026-11-04 12:00:00"'), refs) == ["D", "B"]
    assert names(search(sExtension="201", sCallType="inbound", sCallingNumber="3125550100",
                        dtTo="2026-11-02 00:00:00"), refs) == ["A"]
    assert plugin.validated == 12


def test_each_row_is_the_call_details_record(calls):
    live, refs = calls
    soap, _ = client(live)
    [row] = soap.service.SearchRecordings(sCalledNumber="+442079460000").Records.CallRecord
    with live.db.session() as session:
        from services.core import ledger
        recording = ledger.recording_by_reference(session, refs["B"])
        path = str(live.system.store.path_of(recording.file_path))
    assert (row.ReferenceNumber, row.CallDateTime, row.DialledNumber, row.CallingNumber, row.Extension,
            row.CallType, row.DurationSeconds, row.RecordingFile) == (
        refs["B"], "2026-11-02 10:00:00", "+442079460000", "+18005551234", "201", "outbound", 30, path)


def test_pages_carry_the_total_count(calls):
    live, refs = calls
    soap, _ = client(live)
    first = soap.service.SearchRecordings(iPageSize=2)
    second = soap.service.SearchRecordings(iPage=2, iPageSize=2)
    beyond = soap.service.SearchRecordings(iPage=3, iPageSize=2)
    assert (first.TotalCount, first.Page, first.PageSize, names(first, refs)) == (4, 1, 2, ["D", "C"])
    assert (second.TotalCount, second.Page, names(second, refs)) == (4, 2, ["B", "A"])
    assert (beyond.TotalCount, names(beyond, refs)) == (4, [])
    assert soap.service.SearchRecordings(iPageSize=5000).PageSize == 100  # capped


def test_jsonp_pages(calls):
    live, refs = calls
    url = live.url("/rest/recording/SearchRecordings")
    r = requests.get(url, params={"sCallingNumber": "312-555-0100", "iPageSize": "1", "iPage": "2",
                                  "callback": "crm.show"}, auth=BMS)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/javascript")
    assert r.text.startswith("crm.show(") and r.text.endswith(");")
    body = json.loads(r.text[len("crm.show("):-2])
    assert (body["TotalCount"], body["Page"], body["PageSize"]) == (2, 2, 1)
    assert [row["ReferenceNumber"] for row in body["Records"]] == [refs["A"]]
    plain = requests.get(url, params={"sCallType": "internal"}, auth=BMS)
    assert plain.status_code == 200 and [row["CallType"] for row in plain.json()["Records"]] == ["internal"]


def test_bad_criteria_get_the_protocol_error(calls):
    live, _ = calls
    soap, _ = client(live)
    with pytest.raises(zeep.exceptions.Fault, match="call type"):
        soap.service.SearchRecordings(sCallType="sideways")
    with pytest.raises(zeep.exceptions.Fault, match="dtFrom must be 'yyyy-MM-dd HH:mm:ss'"):
        soap.service.SearchRecordings(dtFrom="yesterday")
    r = requests.get(live.url("/rest/recording/SearchRecordings"), params={"iPage": "0"}, auth=BMS)
    assert 400 <= r.status_code < 600 and "page numbers start at 1" in r.text and "Traceback" not in r.text


def test_listening_rights_decide_what_is_found(calls):
    live, refs = calls
    soap, _ = client(live, ALICE)
    result = soap.service.SearchRecordings()
    assert (result.TotalCount, names(result, refs)) == (3, ["D", "B", "A"])  # not C, on extension 202
    assert soap.service.SearchRecordings(sExtension="202").TotalCount == 0


ENVELOPE = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            '<SearchRecordings xmlns="urn:callsuite:recording:1"/></soap:Body></soap:Envelope>')


@pytest.mark.parametrize("auth", [None, ("bms", "wrong-password")])
def test_without_credentials_every_binding_answers_401_with_a_challenge(calls, auth):
    live, _ = calls
    soap = requests.post(live.url("/soap/recording"), data=ENVELOPE, auth=auth,
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "SearchRecordings"})
    assert soap.status_code == 401 and soap.headers["WWW-Authenticate"].startswith("Basic realm=")
    fault = assert_valid_response(soap.content, "recording.xsd")
    assert fault.findtext("faultcode").endswith("Client.Unauthorized")
    soap12 = requests.post(live.url("/RecallIPInterfaceWS/Recording.asmx"), auth=auth,
                           data=ENVELOPE.replace("http://schemas.xmlsoap.org/soap/envelope/",
                                                 "http://www.w3.org/2003/05/soap-envelope"),
                           headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    assert soap12.status_code == 401 and "WWW-Authenticate" in soap12.headers
    for params in ({}, {"callback": "cb"}):
        r = requests.get(live.url("/rest/recording/SearchRecordings"), params=params, auth=auth)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic realm="), params
        assert "ReferenceNumber" not in r.text
