"""BuzzMeInfo: the seed's REST GET URLs and SOAP (zeep, validated against xsd/info.xsd),
the two shapes and their field renderings, exactly as the seed writes them."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
import zeep
from helpers import buzzeasy as b
from helpers.buzzeasy import rest
from helpers.soap import ValidatingPlugin
from sqlalchemy.dialects import sqlite

from services.core import callbacks
from storage.models import ServiceQueue

PREFIX = "/BuzzMeInfo/InfoService.svc/rest"
FIELDS = {f"field{i}": f"v{i}" for i in range(1, 11)}


@pytest.fixture(scope="module")
def request_made(live):
    """One open request (the queue's EWT keeps the engine from running it)."""
    with live.db.session() as session:
        session.get(ServiceQueue, 1).ewt_minutes = 60
    answer = rest(live, "RequestCallWhenAvailable", {"name": "Info User", "phoneNo": b.ANSWERS, "serviceQueue": "1",
                                                     "company": "1", "password": b.COMPANY_PASSWORD,
                                                     **FIELDS}).json()
    assert answer["ResultCode"] == 0
    return b.request_row(live, answer["ConfirmationCode"])


def local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M:%S")


def test_by_number_at_the_seed_url(live, request_made):
    r = requests.get(live.url(f"{PREFIX}/GetCallDataByNumber"), timeout=10, params={
        "presentedNumber": b.ANSWERS, "companyId": "1", "password": b.COMPANY_PASSWORD})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    data = r.json()
    assert data == {
        "CustomerName": "Info User", "UserPhoneNo": b.ANSWERS, "serviceQueueName": "Claims", "Retries": 0,
        "field1": "Account Number | v1", "field2": "Policy | v2",
        **{f"field{i}": f"field{i} | v{i}" for i in range(3, 10)},
        "field10": "Notes,v10",
        "ConfirmationCode": request_made.confirmation_code, "ScheduledTime": local(request_made.requested_at)}
    assert list(data)[:4] == ["CustomerName", "UserPhoneNo", "serviceQueueName", "Retries"]


def test_by_pin_at_the_seed_url(live, request_made):
    data = requests.get(live.url(f"{PREFIX}/GetCallDataByPin"), timeout=10, params={
        "pin": request_made.pin, "companyId": "1", "password": b.COMPANY_PASSWORD}).json()
    assert data == {
        "CustomerName": "Info User", "UserPhoneNo": b.ANSWERS, "serviceQueue": 1, "Retries": 0,
        "field1": "Account Number,v1", "field2": "Policy,v2",
        **{f"field{i}": f"field{i},v{i}" for i in range(3, 10)}, "field10": "Notes,v10",
        "ConfirmationCode": request_made.confirmation_code, "TimeCalled": local(request_made.requested_at)}
    assert datetime.strptime(data["TimeCalled"], "%Y-%m-%d %H:%M:%S")


def test_a_national_presented_number_matches(live, request_made):
    data = requests.get(live.url(f"{PREFIX}/GetCallDataByNumber"), timeout=10, params={
        "presentedNumber": "07779453115", "companyId": "1", "password": b.COMPANY_PASSWORD}).json()
    assert data["ConfirmationCode"] == request_made.confirmation_code


def test_no_match_is_null(live, request_made):
    for path, key, value in (("GetCallDataByPin", "pin", "000000"),
                             ("GetCallDataByNumber", "presentedNumber", "+353851234567")):
        r = requests.get(live.url(f"{PREFIX}/{path}"), timeout=10,
                         params={key: value, "companyId": "1", "password": b.COMPANY_PASSWORD})
        assert r.status_code == 200 and r.text == "null"


def test_another_companys_request_is_not_visible(live, request_made):
    r = requests.get(live.url(f"{PREFIX}/GetCallDataByPin"), timeout=10,
                     params={"pin": request_made.pin, "companyId": "2", "password": "other-pw"})
    assert r.text == "null"


def test_a_company_id_that_is_not_an_int_is_400(live):
    for company in ("x", "99999999999999999999"):
        r = requests.get(live.url(f"{PREFIX}/GetCallDataByPin"), timeout=10,
                         params={"pin": "1", "companyId": company, "password": "x"})
        assert r.status_code == 400 and "companyId" in r.text


@pytest.mark.parametrize("params", [{"companyId": "1", "password": "wrong"}, {"companyId": "9", "password": "x"},
                                    {"password": b.COMPANY_PASSWORD}])
def test_wrong_credentials_are_401(live, request_made, params):
    r = requests.get(live.url(f"{PREFIX}/GetCallDataByPin"), params={"pin": request_made.pin, **params}, timeout=10)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert r.json() == "Authentication Failed" and request_made.confirmation_code not in r.text


def test_soap_both_operations_and_versions(live, request_made):
    plugin = ValidatingPlugin("info.xsd")
    for path in ("/BuzzMeInfo/InfoService.svc", "/soap/info"):
        client = zeep.Client(live.url(path + "?wsdl"), plugins=[plugin])
        for service in (client.service, client.bind("BuzzMeInfo", "BuzzMeInfoSoap12")):
            by_number = service.GetCallDataByNumber(presentedNumber=b.ANSWERS, companyId=1,
                                                    password=b.COMPANY_PASSWORD)
            assert (by_number.serviceQueueName, by_number.field1, by_number.field10, by_number.Retries) == (
                "Claims", "Account Number | v1", "Notes,v10", 0)
            by_pin = service.GetCallDataByPin(pin=request_made.pin, companyId=1, password=b.COMPANY_PASSWORD)
            assert (by_pin.serviceQueue, by_pin.field1, by_pin.ConfirmationCode) == (
                1, "Account Number,v1", request_made.confirmation_code)
            assert service.GetCallDataByPin(pin="000000", companyId=1, password=b.COMPANY_PASSWORD) is None
            with pytest.raises(zeep.exceptions.Fault) as fault:
                service.GetCallDataByPin(pin=request_made.pin, companyId=1, password="wrong")
            assert fault.value.message == "Authentication Failed"
    assert plugin.validated >= 12


def test_generic_get_and_jsonp(live, request_made):
    params = {"pin": request_made.pin, "companyId": 1, "password": b.COMPANY_PASSWORD}
    r = requests.get(live.url("/rest/info/GetCallDataByPin"), timeout=10, params=params)
    assert r.status_code == 200 and r.json()["ConfirmationCode"] == request_made.confirmation_code
    r = requests.get(live.url("/rest/info/GetCallDataByPin"), timeout=10, params={**params, "pin": "000000",
                                                                                  "callback": "show"})
    assert r.headers["Content-Type"].startswith("application/javascript") and r.text == "show(null);"
    r = requests.get(live.url("/rest/info/GetCallDataByNumber"), timeout=10, params={
        "presentedNumber": b.ANSWERS, "companyId": 1, "password": "wrong", "callback": "show"})
    assert r.status_code == 200 and r.text == 'show("Authentication Failed");'
    assert requests.get(live.url("/rest/info/GetCallDataByPin"), timeout=10,
                        params={**params, "callback": "alert(1)//"}).status_code == 400


def test_by_number_answers_the_callers_newest_open_request(live, request_made):
    phone = "+447779453117"  # the module's raised EWT keeps its requests open

    def ask(name: str) -> str:
        answer = rest(live, "RequestCallWhenAvailable", {"name": name, "phoneNo": phone, "serviceQueue": "1",
                                                         "company": "1", "password": b.COMPANY_PASSWORD}).json()
        assert answer["ResultCode"] == 0
        return answer["ConfirmationCode"]

    def by_number():
        return requests.get(live.url(f"{PREFIX}/GetCallDataByNumber"), timeout=10, params={
            "presentedNumber": phone, "companyId": "1", "password": b.COMPANY_PASSWORD}).json()

    older, newer = ask("Older"), ask("Newer")
    assert by_number()["ConfirmationCode"] == newer
    for code, done, answer in ((newer, "succeeded", older), (older, "failed", None)):
        with live.db.session() as session:  # called back and done with: no longer open
            callbacks.by_confirmation_code(session, code).state = done
        assert (by_number() or {}).get("ConfirmationCode") == answer


def test_the_look_ups_search_an_index_not_the_companys_open_requests(live):
    if not live.db.is_sqlite:
        pytest.skip("SQLite's query plan; PostgreSQL plans by its statistics")
    for prepared, index in ((callbacks._OPEN_REQUEST_BY_NUMBER, "ix_callback_company_phone"),
                            (callbacks._OPEN_REQUEST_BY_PIN, "ix_callback_company_pin")):
        sql = str(prepared.statement.compile(dialect=sqlite.dialect()))
        with live.db.engine.connect() as connection:
            plan = " / ".join(row[-1] for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + sql, (1,) * sql.count("?")))
        assert f"SEARCH callback_requests USING INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan
