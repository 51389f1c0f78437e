"""Every Request Callback Service operation over SOAP 1.1 and 1.2 with zeep, at both
addresses, each answer validated against xsd/callback.xsd; the raw envelope checks."""
from datetime import datetime

import pytest
import requests
import zeep
from helpers import buzzeasy as b
from helpers.soap import ValidatingPlugin, assert_valid_response
from lxml import etree

from storage.models import ServiceQueue

TNS = "urn:callsuite:callback:1"
AUTH = {"company": 1, "password": b.COMPANY_PASSWORD}


@pytest.fixture(scope="module")
def plugin():
    return ValidatingPlugin("callback.xsd")


@pytest.fixture(scope="module", params=["/RequestCallbackService/Service.svc", "/soap/callback"])
def client(request, live, plugin):
    return zeep.Client(live.url(request.param + "?wsdl"), plugins=[plugin])


@pytest.fixture(params=["soap11", "soap12"])
def service(request, client):
    if request.param == "soap11":
        return client.service
    return client.bind("RequestCallbackService", "RequestCallbackServiceSoap12")


@pytest.fixture(autouse=True)
def busy_queue(live):
    """ASAP requests wait (EWT above the lead time) while these tests look at them."""
    with live.db.session() as session:
        session.get(ServiceQueue, 1).ewt_minutes = 60
    yield
    with live.db.session() as session:
        session.get(ServiceQueue, 1).ewt_minutes = 0


def test_wsdl_is_the_authored_contract_at_both_addresses(live):
    for path in ("/RequestCallbackService/Service.svc", "/soap/callback"):
        r = requests.get(live.url(path + "?wsdl"), timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
        root = etree.fromstring(r.content)
        assert root.get("targetNamespace") == TNS
        ports = [p.get("name") for p in root.iter("{http://schemas.xmlsoap.org/wsdl/}port")]
        assert ports == ["RequestCallbackServiceSoap", "RequestCallbackServiceSoap12"]  # SOAP 1.1 first
        addresses = [a.get("location") for a in root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address",
                                                          "{http://schemas.xmlsoap.org/wsdl/soap12/}address")]
        assert addresses == [live.url(path)] * 2


def test_request_call_when_available(live, service, plugin):
    before = plugin.validated
    answer = service.RequestCallWhenAvailable(name="Soap User", phoneNo=b.ANSWERS, serviceQueue=1, **AUTH,
                                              field2="P-77")
    assert plugin.validated == before + 1
    assert answer.ResultCode == 0 and len(answer.ConfirmationCode) == 10
    stored = b.request_row(live, answer.ConfirmationCode)
    assert (stored.name, stored.fields) == ("Soap User", {"field2": "P-77"})
    refused = service.RequestCallWhenAvailable(name="x", phoneNo=b.BLACKLISTED, serviceQueue=1, **AUTH)
    assert (refused.ConfirmationCode, refused.ResultCode) in (("", 5), (None, 5))  # zeep reads <X></X> as None
    wrong = service.RequestCallWhenAvailable(name="x", phoneNo=b.ANSWERS, serviceQueue=1, company=1, password="no")
    assert wrong.ResultCode == -1


def test_slots_and_scheduling(live, service):
    wednesday = b.next_weekday(2)
    slots = service.GetAvailableTimes(serviceQueue=4, **AUTH, requestedDate=datetime.fromisoformat(f"{wednesday}T09:30"))
    first = slots[0]
    assert (first.TimeSlotID, first.TimeFrom, first.TimeTo, first.Available) == (
        4, f"{wednesday} 09-30-00", f"{wednesday} 10-00-00", True)
    three = service.GetNextThreeTimeSlots(serviceQueue=4, time=datetime.fromisoformat(f"{wednesday}T17:00"), **AUTH)
    assert [s.TimeSlotID for s in three] == [19, 20, 1]
    thursday = b.next_weekday(3)
    free = {s.TimeSlotID for s in service.GetAvailableTimes(
        serviceQueue=4, **AUTH, requestedDate=datetime.fromisoformat(f"{thursday}T08:00"))}
    timeslot = max(free)  # one the other bindings' runs have not taken yet
    answer = service.RequestCallSchedule(name="Later", phoneNo=b.ANSWERS, timeslot=timeslot,
                                         date=datetime.fromisoformat(f"{thursday}T00:00"), serviceQueue=4, **AUTH)
    assert answer.ResultCode == 0
    assert b.request_row(live, answer.ConfirmationCode).timeslot_id == timeslot
    again = service.RequestCallSchedule(name="Later", phoneNo=b.ANSWERS, timeslot=timeslot,
                                        date=datetime.fromisoformat(f"{thursday}T00:00"), serviceQueue=4, **AUTH)
    assert again.ResultCode == 3


def test_ewt(live, service):
    assert service.UpdateEWTRecord(serviceQueue=1, ewt=42, **AUTH) is True
    assert service.GetEWTByServiceID(serviceQueueID=1, companyID=1, password=b.COMPANY_PASSWORD) == 42
    assert service.UpdateEWTRecord(serviceQueue=1, ewt=1, company=1, password="no") is False
    assert service.GetEWTByServiceID(serviceQueueID=1, companyID=1, password="no") == -1


def test_oversized_name_is_a_client_fault(service):
    with pytest.raises(zeep.exceptions.Fault) as fault:
        service.RequestCallWhenAvailable(name="x" * 201, phoneNo=b.ANSWERS, serviceQueue=1, **AUTH)
    assert "longer than 200" in fault.value.message
    assert fault.value.code.endswith(("Client.InvalidInput", "Sender"))  # SOAP 1.1 / 1.2


def test_slot_operations_refuse_wrong_credentials_with_a_fault(service):
    with pytest.raises(zeep.exceptions.Fault) as fault:
        service.GetAvailableTimes(serviceQueue=4, company=1, password="no", requestedDate=datetime(2030, 1, 7, 9))
    assert fault.value.message == "Authentication Failed"


def envelope(inner: str) -> bytes:
    return (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="{TNS}">'
            f'<soap:Body>{inner}</soap:Body></soap:Envelope>').encode()


def test_raw_envelopes_validate_and_bad_ones_fault(live):
    url = live.url("/RequestCallbackService/Service.svc")
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "GetEWTByServiceID"}
    ok = requests.post(url, data=envelope(f"<c:GetEWTByServiceID><c:serviceQueueID>1</c:serviceQueueID>"
                                          f"<c:companyID>1</c:companyID><c:password>{b.COMPANY_PASSWORD}</c:password>"
                                          "</c:GetEWTByServiceID>"), headers=headers, timeout=10)
    payload = assert_valid_response(ok.content, "callback.xsd")
    assert etree.QName(payload).localname == "GetEWTByServiceIDResponse"
    missing = requests.post(url, data=envelope("<c:GetEWTByServiceID><c:serviceQueueID>1</c:serviceQueueID>"
                                               "</c:GetEWTByServiceID>"), headers=headers, timeout=10)
    assert missing.status_code == 500 and b"Fault" in missing.content and b"Traceback" not in missing.content
    dtd = requests.post(url, data=b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + envelope(""),
                        headers=headers, timeout=10)
    assert dtd.status_code == 500 and b"DTD" in dtd.content
