"""The seed's REST binding of the Request Callback Service: its example bodies, every
result code, the aliases, bare answers, and what is stored."""
from datetime import datetime, timedelta, timezone

import pytest
from helpers import buzzeasy as b
from helpers.buzzeasy import rest
from helpers.server import start_server
from sqlalchemy import select

from storage.models import CallbackRequest, ServiceQueue

# The seed's example bodies, character for character (the passwords vary in the seed
# itself; `Password` / `P@ssword` are swapped for the test company's where noted).
SEED_REQUEST_CALL_WHEN_AVAILABLE = '''{
"name":"User",
"phoneNo":"+4477794531150",
"serviceQueue":"1",
"company":"1",
"password":"Password",
"field1":"test"
}'''
SEED_GET_AVAILABLE_TIMES = '''{
"serviceQueue": "1",
"requestedDate": "2017-04-11 09:00:00",
"company": "1",
"password": "P@ssword"
}'''
SEED_GET_NEXT_THREE = '''{
"serviceQueue":"1",
"requestedDate":"2017-04-11 09:00:00",
"company":"1",
"password":"P@ssword"
}'''
SEED_UPDATE_EWT = '''{
"serviceQueue":"1",
"ewt":"1",
"company":"1",
"password":"P@ssword"
}'''
SEED_GET_EWT = '''{
"serviceQueue":"1",
"company":"1",
"password":"P@ssword"
}'''
SEED_REQUEST_CALL_SCHEDULE = '''{
"name":"User",
"phoneNo":"+4477794531150",
"serviceQueue":"1",
"company":"1",
"password":"Password",
"field1":"test",
"date":"2017-04-11 00:00:00",
"timeslot":"1"
}'''


def with_password(body: str) -> str:
    return body.replace('"Password"', f'"{b.COMPANY_PASSWORD}"')


def asap(live, **changes):
    body = {"name": "User", "phoneNo": b.ANSWERS, "serviceQueue": "1", "company": "1",
            "password": b.COMPANY_PASSWORD, "field1": "test"}
    body.update(changes)
    return rest(live, "RequestCallWhenAvailable", {k: v for k, v in body.items() if v is not None})


def set_ewt(live, minutes: int) -> None:
    assert rest(live, "UpdateEWTRecord", {"serviceQueue": 1, "ewt": minutes, "company": 1,
                                          "password": b.COMPANY_PASSWORD}).json() is True


@pytest.fixture(autouse=True)
def busy_queue(live):
    """Keep ASAP requests of these tests waiting (the queue's EWT above the lead time), so
    the engine does not dial while they are checked."""
    set_ewt(live, 60)
    yield
    set_ewt(live, 0)


# -- the seed's example bodies -----------------------------------------------------------

def test_seed_request_call_when_available_body(live):
    # The seed's own number has one digit too many for a UK mobile: result 1, as the
    # table says for an invalid number, and no code.
    r = rest(live, "RequestCallWhenAvailable", with_password(SEED_REQUEST_CALL_WHEN_AVAILABLE))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"ConfirmationCode": "", "ResultCode": 1}
    fixed = with_password(SEED_REQUEST_CALL_WHEN_AVAILABLE).replace("+4477794531150", b.ANSWERS)
    answer = rest(live, "RequestCallWhenAvailable", fixed).json()
    assert answer["ResultCode"] == 0 and list(answer) == ["ConfirmationCode", "ResultCode"]
    stored = b.request_row(live, answer["ConfirmationCode"])
    assert (stored.name, stored.phone_e164, stored.queue_id, stored.company_id, stored.fields, stored.asap,
            stored.state) == ("User", b.ANSWERS, 1, 1, {"field1": "test"}, True, "open")


def test_seed_literal_password_is_refused(live):
    assert rest(live, "RequestCallWhenAvailable", SEED_REQUEST_CALL_WHEN_AVAILABLE).json() == \
        {"ConfirmationCode": "", "ResultCode": -1}


def test_seed_get_available_times_body_is_a_past_day(live):
    # 2017-04-11 is past: nothing is offered, and the answer is the bare (empty) array.
    r = rest(live, "GetAvailableTimes", SEED_GET_AVAILABLE_TIMES)
    assert r.status_code == 200 and r.json() == []


def test_seed_get_next_three_body_uses_the_requested_date_alias(live):
    slots = rest(live, "GetNextThreeTimeSlots", SEED_GET_NEXT_THREE).json()
    # From 2017 on, the next three are the next three still to come (queue 1 is always open).
    assert len(slots) == 3
    now = datetime.now()
    starts = [datetime.strptime(s["TimeFrom"], "%Y-%m-%d %H-%M-%S") for s in slots]
    assert starts == sorted(starts) and starts[0] > now - timedelta(hours=2)


def test_seed_update_and_get_ewt_bodies(live):
    assert rest(live, "UpdateEWTRecord", SEED_UPDATE_EWT).json() is True
    with live.db.read_session() as session:
        assert session.get(ServiceQueue, 1).ewt_minutes == 1
    r = rest(live, "GetEWTByServiceID", SEED_GET_EWT)
    assert r.status_code == 200 and r.text.strip() == "1"


def test_seed_request_call_schedule_body_is_a_past_slot(live):
    fixed = with_password(SEED_REQUEST_CALL_SCHEDULE).replace("+4477794531150", b.ANSWERS)
    assert rest(live, "RequestCallSchedule", fixed).json() == {"ConfirmationCode": "", "ResultCode": 3}


# -- result codes --------------------------------------------------------------------------

def test_ok_gives_a_ten_digit_code_whose_last_six_are_the_pin(live):
    code = asap(live).json()["ConfirmationCode"]
    assert len(code) == 10 and code.isdigit()
    assert b.request_row(live, code).pin == code[-6:]


@pytest.mark.parametrize("phone, region", [
    ("+4477794531150", None),  # too long
    ("07779453115", None),  # national without a region
    ("07779453115", "US"),  # a region the company does not allow
    ("not a number", "GB"),
    ("", None),
])
def test_invalid_number_is_1(live, phone, region):
    assert asap(live, phoneNo=phone, region=region).json() == {"ConfirmationCode": "", "ResultCode": 1}


def test_national_numbers_in_an_allowed_region_are_stored_as_e164(live):
    answer = asap(live, phoneNo=b.IRISH_NATIONAL, region="IE").json()
    assert answer["ResultCode"] == 0
    assert b.request_row(live, answer["ConfirmationCode"]).phone_e164 == "+353851234567"


def test_out_of_hours_is_3(live):
    assert asap(live, serviceQueue="2").json() == {"ConfirmationCode": "", "ResultCode": 3}


def test_not_in_white_list_is_4(live):
    body = dict(serviceQueue="3", company="2", password="other-pw")
    assert asap(live, phoneNo="+353851234567", **body).json() == {"ConfirmationCode": "", "ResultCode": 4}
    assert asap(live, phoneNo=b.ANSWERS, **body).json()["ResultCode"] == 0


def test_in_black_list_is_5(live):
    assert asap(live, phoneNo=b.BLACKLISTED).json() == {"ConfirmationCode": "", "ResultCode": 5}


@pytest.mark.parametrize("changes", [
    {"password": "wrong"}, {"company": "99"}, {"serviceQueue": "3"},  # queue 3 is company 2's
    {"password": None}, {"company": None},
])
def test_authentication_failed_is_minus_1(live, changes):
    with live.db.read_session() as session:
        before = session.query(CallbackRequest).count()
    assert asap(live, **changes).json() == {"ConfirmationCode": "", "ResultCode": -1}
    with live.db.read_session() as session:
        assert session.query(CallbackRequest).count() == before


def test_no_telephony_is_2(tmp_path):
    server = start_server(tmp_path, site=b.site(), switch="none")
    try:
        assert asap(server).json() == {"ConfirmationCode": "", "ResultCode": 2}
    finally:
        server.stop()


def test_numbers_may_be_numbers_and_missing_fields_are_null(live):
    answer = rest(live, "RequestCallWhenAvailable", {"name": None, "phoneNo": b.ANSWERS, "serviceQueue": 1,
                                                     "company": 1, "password": b.COMPANY_PASSWORD}).json()
    assert answer["ResultCode"] == 0
    stored = b.request_row(live, answer["ConfirmationCode"])
    assert stored.name is None and stored.fields == {}


# -- slots ------------------------------------------------------------------------------------

def test_timeslot_id_counts_from_the_opening_time(live):
    monday = b.next_weekday(0)
    slots = rest(live, "GetAvailableTimes", {"serviceQueue": "4", "requestedDate": f"{monday} 09:30:00",
                                             "company": "1", "password": b.COMPANY_PASSWORD}).json()
    assert slots[0] == {"TimeSlotID": 4, "TimeTo": f"{monday} 10-00-00", "TimeFrom": f"{monday} 09-30-00",
                        "Available": True}
    assert slots[-1]["TimeTo"] == f"{monday} 18-00-00" and len(slots) == 17


def test_scheduling_consumes_the_slot(live):
    tuesday = b.next_weekday(1)
    body = {"name": "User", "phoneNo": b.ANSWERS, "serviceQueue": "4", "company": "1",
            "password": b.COMPANY_PASSWORD, "date": f"{tuesday} 00:00:00", "timeslot": "4"}
    first = rest(live, "RequestCallSchedule", body).json()
    assert first["ResultCode"] == 0
    stored = b.request_row(live, first["ConfirmationCode"])
    assert (stored.asap, stored.scheduled_date, stored.timeslot_id) == (False, tuesday, 4)
    assert stored.scheduled_for == datetime.fromisoformat(f"{tuesday}T09:30:00").replace(
        tzinfo=b.zone("Europe/London")).astimezone(timezone.utc)
    # Capacity 1: full now, so refused and no longer offered.
    assert rest(live, "RequestCallSchedule", body).json() == {"ConfirmationCode": "", "ResultCode": 3}
    offered = rest(live, "GetAvailableTimes", {"serviceQueue": "4", "requestedDate": f"{tuesday} 09:00:00",
                                               "company": "1", "password": b.COMPANY_PASSWORD}).json()
    assert [s["TimeSlotID"] for s in offered[:3]] == [3, 5, 6]


@pytest.mark.parametrize("date, timeslot", [
    ("2026-12-25 00:00:00", 4),  # a holiday
    (None, 99),  # past closing time
    (None, 0),
    ("2020-01-06 00:00:00", 4),  # past
])
def test_unknown_closed_or_past_slots_are_3(live, date, timeslot):
    date = date or f"{b.next_weekday(2)} 00:00:00"
    body = {"name": "User", "phoneNo": b.ANSWERS, "serviceQueue": "4", "company": "1",
            "password": b.COMPANY_PASSWORD, "date": date, "timeslot": timeslot}
    assert rest(live, "RequestCallSchedule", body).json() == {"ConfirmationCode": "", "ResultCode": 3}


def test_weekends_offer_nothing(live):
    saturday = b.next_weekday(5)
    assert rest(live, "GetAvailableTimes", {"serviceQueue": "4", "requestedDate": f"{saturday} 00:00:00",
                                            "company": "1", "password": b.COMPANY_PASSWORD}).json() == []


def test_next_three_takes_the_time_alias_and_crosses_days(live):
    friday = b.next_weekday(4)
    slots = rest(live, "GetNextThreeTimeSlots", {"serviceQueue": "4", "time": f"{friday} 17:00:00",
                                                 "company": "1", "password": b.COMPANY_PASSWORD}).json()
    monday = b.next_weekday(0, holidays=()) if b.next_weekday(0) > friday else None
    assert [s["TimeSlotID"] for s in slots] == [19, 20, 1]
    assert slots[2]["TimeFrom"].endswith(" 08-00-00") and slots[2]["TimeFrom"] > f"{friday}"
    assert monday is None or slots[2]["TimeFrom"].startswith(str(monday))


def test_slot_operations_refuse_wrong_credentials_with_401(live):
    for operation in ("GetAvailableTimes", "GetNextThreeTimeSlots"):
        r = rest(live, operation, {"serviceQueue": "4", "requestedDate": "2030-01-07 09:00:00", "company": "1",
                                   "password": "wrong"})
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers
        assert r.json() == "Authentication Failed"


# -- EWT ----------------------------------------------------------------------------------------

def test_ewt_aliases_and_refusals(live):
    set_ewt(live, 7)
    for names in (("serviceQueueID", "companyID"), ("serviceQueue", "company"), ("serviceQueueID", "company")):
        body = {names[0]: "1", names[1]: "1", "password": b.COMPANY_PASSWORD}
        assert rest(live, "GetEWTByServiceID", body).json() == 7
    assert rest(live, "GetEWTByServiceID", {"serviceQueueID": 1, "companyID": 1, "password": "x"}).json() == -1
    assert rest(live, "UpdateEWTRecord", {"serviceQueue": 1, "ewt": 3, "company": 1, "password": "x"}).json() is False
    assert rest(live, "UpdateEWTRecord", {"serviceQueue": 1, "ewt": -3, "company": 1,
                                          "password": b.COMPANY_PASSWORD}).json() is False
    with live.db.read_session() as session:
        assert session.get(ServiceQueue, 1).ewt_minutes == 7


# -- bad requests ----------------------------------------------------------------------------

@pytest.mark.parametrize("body, reason", [
    ("not json", "JSON object"), ("[1]", "JSON object"),
    ('{"serviceQueue": "one", "ewt": 1, "company": 1, "password": "x"}', "serviceQueue"),
    ('{"serviceQueue": 1, "ewt": 1, "company": "99999999999999999999", "password": "x"}', "company"),
    ('{"serviceQueue": 1.5, "ewt": 1, "company": 1, "password": "x"}', "serviceQueue"),
])
def test_bad_bodies_get_400_with_a_reason(live, body, reason):
    r = rest(live, "UpdateEWTRecord", body)
    assert r.status_code == 400 and reason in r.text


def test_oversized_values_are_400_not_stored(live):
    with live.db.read_session() as session:
        before = session.query(CallbackRequest).count()
    for changes in ({"name": "x" * 201}, {"field4": "y" * 1001}, {"phoneNo": "1" * 65}):
        r = asap(live, **changes)
        assert r.status_code == 400 and "longer than" in r.text
    with live.db.read_session() as session:
        assert session.query(CallbackRequest).count() == before


def test_unknown_operation_is_404(live):
    assert rest(live, "CancelCallback", {}).status_code == 404


def test_generic_get_and_jsonp(live):
    import requests
    set_ewt(live, 4)
    params = {"serviceQueueID": 1, "companyID": 1, "password": b.COMPANY_PASSWORD}
    assert requests.get(live.url("/rest/callback/GetEWTByServiceID"), params=params, timeout=10).json() == 4
    r = requests.get(live.url("/rest/callback/GetEWTByServiceID"), params={**params, "callback": "cb"}, timeout=10)
    assert r.headers["Content-Type"].startswith("application/javascript") and r.text == "cb(4);"
    with live.db.read_session() as session:
        assert session.scalar(select(ServiceQueue.ewt_minutes).where(ServiceQueue.id == 1)) == 4


def test_generic_get_requests_a_callback_and_refuses_alike(live):
    import requests
    params = {"name": "Get", "phoneNo": b.ANSWERS, "serviceQueue": 1, "company": 1,
              "password": b.COMPANY_PASSWORD, "field3": "via GET"}
    answer = requests.get(live.url("/rest/callback/RequestCallWhenAvailable"), params=params, timeout=10).json()
    assert answer["ResultCode"] == 0 and b.request_row(live, answer["ConfirmationCode"]).fields == {"field3": "via GET"}
    refused = requests.get(live.url("/rest/callback/RequestCallWhenAvailable"), timeout=10,
                           params={**params, "password": "wrong"}).json()
    assert refused == {"ConfirmationCode": "", "ResultCode": -1}
    fault = requests.get(live.url("/rest/callback/GetAvailableTimes"), timeout=10, params={
        "serviceQueue": 4, "company": 1, "password": "wrong", "requestedDate": "2030-01-07T09:00:00",
        "callback": "f"}).text
    assert fault.startswith("f(") and "Authentication Failed" in fault
