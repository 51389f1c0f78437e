"""PHP's SoapClient reads the callback and info WSDLs and calls every operation with
SOAP 1.1 and 1.2 (tests/interop/clients/php_call.php, a fresh php process per call)."""
import json
import shutil
import subprocess

import pytest
from helpers import buzzeasy as b
from helpers.server import REPO

from storage.models import ServiceQueue

CLIENT = REPO / "tests" / "interop" / "clients" / "php_call.php"
ENVELOPES = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
AUTH = {"company": 1, "password": b.COMPANY_PASSWORD}


@pytest.fixture(scope="module")
def php():
    binary = shutil.which("php")
    if binary is None:
        pytest.fail("php not found: install the Debian packages php-cli and php-soap (.ci/run does)")
    return binary


@pytest.fixture(autouse=True)
def busy_queue(live):
    with live.db.session() as session:
        session.get(ServiceQueue, 1).ewt_minutes = 60
    yield
    with live.db.session() as session:
        session.get(ServiceQueue, 1).ewt_minutes = 0


@pytest.fixture(params=["1.1", "1.2"], ids=lambda v: f"soap{v}")
def call(request, php, live):
    version = request.param

    def run(path: str, operation: str, **args):
        proc = subprocess.run([php, str(CLIENT), live.url(path + "?wsdl"), operation, json.dumps(args), version],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stderr.strip() == "", f"PHP complained: {proc.stderr}"
        out = json.loads(proc.stdout)
        assert ENVELOPES[version] in out["request"] and ENVELOPES[version] in out["response"]
        assert f"POST {path} HTTP/1.1" in out["request_headers"]
        return out
    return run


CALLBACK = "/RequestCallbackService/Service.svc"


def test_every_callback_operation(call, live):
    out = call(CALLBACK, "RequestCallWhenAvailable", name="Php", phoneNo=b.ANSWERS, serviceQueue=1, **AUTH,
               field1="from php")
    assert out["ok"] and out["result"]["ResultCode"] == 0
    assert b.request_row(live, out["result"]["ConfirmationCode"]).fields == {"field1": "from php"}
    assert sorted(out["functions"]) == sorted(
        f"{op}Response {op}({op} $parameters)" for op in (
            "RequestCallWhenAvailable", "GetAvailableTimes", "GetNextThreeTimeSlots", "UpdateEWTRecord",
            "GetEWTByServiceID", "RequestCallSchedule") for _ in range(2))
    assert any("struct TimeSlot {" in t for t in out["types"])

    friday = b.next_weekday(4)
    out = call(CALLBACK, "GetAvailableTimes", serviceQueue=4, **AUTH, requestedDate=f"{friday}T09:30:00")
    first = out["result"]["TimeSlot"][0]  # SOAP_SINGLE_ELEMENT_ARRAYS: always a list
    assert first == {"TimeSlotID": 4, "TimeTo": f"{friday} 10-00-00", "TimeFrom": f"{friday} 09-30-00",
                     "Available": True}
    out = call(CALLBACK, "GetNextThreeTimeSlots", serviceQueue=4, time=f"{friday}T17:30:00", **AUTH)
    assert [s["TimeSlotID"] for s in out["result"]["TimeSlot"]][:1] == [20]

    thursday = b.next_weekday(3)
    free = [s["TimeSlotID"] for s in call(CALLBACK, "GetAvailableTimes", serviceQueue=4, **AUTH,
                                          requestedDate=f"{thursday}T08:00:00")["result"]["TimeSlot"]]
    out = call(CALLBACK, "RequestCallSchedule", name="Php", phoneNo="07779453115", region="GB",
               timeslot=free[-1], date=f"{thursday}T00:00:00", serviceQueue=4, **AUTH)
    assert out["result"]["ResultCode"] == 0
    assert b.request_row(live, out["result"]["ConfirmationCode"]).phone_e164 == b.ANSWERS

    assert call(CALLBACK, "UpdateEWTRecord", serviceQueue=1, ewt=33, **AUTH)["result"] is True
    assert call(CALLBACK, "GetEWTByServiceID", serviceQueueID=1, companyID=1,
                password=b.COMPANY_PASSWORD)["result"] == 33
    assert call(CALLBACK, "GetEWTByServiceID", serviceQueueID=1, companyID=1, password="no")["result"] == -1


def test_refusals_reach_php(call):
    out = call(CALLBACK, "RequestCallWhenAvailable", name="Php", phoneNo=b.ANSWERS, serviceQueue=1, company=1,
               password="wrong")
    assert out["result"] == {"ConfirmationCode": "", "ResultCode": -1}
    out = call(CALLBACK, "GetAvailableTimes", serviceQueue=4, company=1, password="wrong",
               requestedDate="2030-01-07T09:00:00")
    assert not out["ok"] and out["fault"]["string"] == "Authentication Failed"


def test_both_info_operations(call, live):
    made = call(CALLBACK, "RequestCallWhenAvailable", name="Info Php", phoneNo=b.ANSWERS, serviceQueue=1, **AUTH,
                field1="ACC-9", field10="note")["result"]
    code = made["ConfirmationCode"]
    by_pin = call("/BuzzMeInfo/InfoService.svc", "GetCallDataByPin", pin=code[-6:], companyId=1,
                  password=b.COMPANY_PASSWORD)
    assert "result" in by_pin, by_pin
    assert by_pin["result"]["ConfirmationCode"] == code
    assert (by_pin["result"]["serviceQueue"], by_pin["result"]["field1"], by_pin["result"]["field10"]) == (
        1, "Account Number,ACC-9", "Notes,note")
    by_number = call("/BuzzMeInfo/InfoService.svc", "GetCallDataByNumber", presentedNumber=b.ANSWERS,
                     companyId=1, password=b.COMPANY_PASSWORD)
    assert by_number["result"]["serviceQueueName"] == "Claims"
    assert by_number["result"]["field1"] == "Account Number | ACC-9"
    none = call("/BuzzMeInfo/InfoService.svc", "GetCallDataByPin", pin="000000", companyId=1,
                password=b.COMPANY_PASSWORD)
    assert none["ok"] and not none["result_present"]
