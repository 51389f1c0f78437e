"""Slots: the calendar rules (in-process, dense), and capacity consumed atomically: threads
racing for the last places against the live server, on SQLite and on PostgreSQL."""
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import buzzeasy as b
from helpers.buzzeasy import rest
from helpers.postgres import PostgresServer
from helpers.server import start_server
from sqlalchemy import func, select

from services.core.errors import InvalidInput
from services.core.slots import QueueCalendar, opening_by_weekday
from storage.models import CallbackRequest, CallbackSlot

LONDON = ZoneInfo("Europe/London")


def calendar(hours=None, slot_minutes=30, holidays=()):
    return QueueCalendar(hours or {"mon-fri": "08:00-18:00"}, holidays, slot_minutes, "Europe/London")


def test_timeslot_ids_count_from_opening():
    slot = calendar().slot(date(2026, 12, 1), 4)  # a Tuesday
    assert (slot.start.time().isoformat(), slot.end.time().isoformat()) == ("09:30:00", "10:00:00")
    assert [s.timeslot_id for s in calendar().slots_on(date(2026, 12, 1))] == list(range(1, 21))


def test_a_slot_must_end_by_closing_time():
    slots = list(calendar({"mon": "08:00-09:45"}).slots_on(date(2026, 11, 30)))
    assert [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in slots] == [
        ("08:00", "08:30"), ("08:30", "09:00"), ("09:00", "09:30")]


def test_weekdays_ranges_lists_and_overrides():
    table = opening_by_weekday({"mon-fri": "08:00-18:00", "sat,sun": "10:00-12:00", "fri": "08:00-16:00"})
    assert sorted(table) == [0, 1, 2, 3, 4, 5, 6]
    assert table[4][1].isoformat() == "16:00:00" and table[6][0].isoformat() == "10:00:00"
    assert sorted(opening_by_weekday({"fri-mon": "09:00-10:00"})) == [0, 4, 5, 6]


@pytest.mark.parametrize("hours", [{"mon": "18:00-08:00"}, {"funday": "08:00-18:00"}, {"mon": "8-18"},
                                   {"mon": 9}])
def test_malformed_hours_are_refused(hours):
    with pytest.raises(InvalidInput):
        opening_by_weekday(hours)


def test_holidays_and_closed_days_have_no_slots_and_are_out_of_hours():
    cal = calendar(holidays=["2026-12-25"])
    assert list(cal.slots_on(date(2026, 12, 25))) == [] and list(cal.slots_on(date(2026, 12, 26))) == []
    assert not cal.is_open(datetime(2026, 12, 25, 10, tzinfo=LONDON))
    assert cal.is_open(datetime(2026, 12, 24, 10, tzinfo=LONDON))
    assert not cal.is_open(datetime(2026, 12, 24, 18, tzinfo=LONDON))  # closing time is closed
    assert not cal.is_open(datetime(2026, 12, 24, 7, 59, 59, tzinfo=LONDON))


def test_opening_hours_are_in_the_company_zone():
    # 08:30 in London on a summer day is 07:30 UTC.
    cal = calendar()
    assert cal.is_open(datetime.fromisoformat("2026-07-01T07:30:00+00:00"))
    assert not cal.is_open(datetime.fromisoformat("2026-07-01T06:59:00+00:00"))
    slot = cal.slot(date(2026, 7, 1), 1)
    assert slot.start.utcoffset() == timedelta(hours=1)


def test_slots_keep_wall_time_across_a_clock_change():
    # 29 March 2026: London moves to BST at 01:00; the 08:00 slot is still 08:00 local.
    slot = calendar({"sun": "08:00-09:00"}).slot(date(2026, 3, 29), 1)
    assert slot.start.hour == 8 and slot.start.utcoffset() == timedelta(hours=1)


def race(live, day, timeslot: int, racers: int) -> list[int]:
    body = {"name": "Racer", "phoneNo": b.ANSWERS, "serviceQueue": "1", "company": "1",
            "password": b.COMPANY_PASSWORD, "date": f"{day} 00:00:00", "timeslot": str(timeslot)}
    start = threading.Barrier(racers)
    results: list[int] = []

    def one():
        start.wait()
        results.append(rest(live, "RequestCallSchedule", body).json()["ResultCode"])

    threads = [threading.Thread(target=one) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def check_race(live, capacity: int) -> None:
    day = b.next_weekday(1)
    results = race(live, day, 20, 8)
    assert sorted(results) == [0] * capacity + [3] * (8 - capacity)
    with live.db.read_session() as session:
        assert session.scalar(select(CallbackSlot.used).where(
            CallbackSlot.queue_id == 1, CallbackSlot.slot_date == day, CallbackSlot.timeslot_id == 20)) == capacity
        assert session.scalar(select(func.count()).select_from(CallbackRequest).where(
            CallbackRequest.scheduled_date == day, CallbackRequest.timeslot_id == 20)) == capacity


@pytest.mark.parametrize("capacity", [1, 3])
def test_racing_for_the_last_places_on_sqlite(tmp_path, capacity):
    live = start_server(tmp_path, site=b.site(slot_capacity=capacity), **b.FAST_ENGINE)
    try:
        check_race(live, capacity)
    finally:
        live.stop()


def test_racing_for_the_last_place_on_postgresql(tmp_path):
    postgres = PostgresServer().start()
    try:
        live = start_server(tmp_path, site=b.site(slot_capacity=1), database_url=postgres.create_database("race"),
                            **b.FAST_ENGINE)
        try:
            check_race(live, 1)
        finally:
            live.stop()
    finally:
        postgres.stop()


def test_a_full_slot_is_offered_no_more(tmp_path):
    """Capacity 1: once a slot is booked neither slot operation offers it, on its own day or
    when the next three slots run on into the next day."""
    live = start_server(tmp_path, site=b.site(slot_capacity=1), **b.FAST_ENGINE)
    try:
        tuesday = b.next_weekday(1)
        wednesday = tuesday + timedelta(days=1)
        credentials = {"serviceQueue": "1", "company": "1", "password": b.COMPANY_PASSWORD}

        def offered(day) -> list[dict]:
            return rest(live, "GetAvailableTimes", {**credentials, "requestedDate": f"{day} 00:00:00"}).json()

        on_tuesday, on_wednesday = offered(tuesday), offered(wednesday)
        for day, slot in ((tuesday, on_tuesday[-1]), (wednesday, on_wednesday[0])):
            body = {"name": "Booker", "phoneNo": b.ANSWERS, **credentials, "date": f"{day} 00:00:00",
                    "timeslot": str(slot["TimeSlotID"])}
            assert rest(live, "RequestCallSchedule", body).json()["ResultCode"] == 0
        assert offered(tuesday) == on_tuesday[:-1] and offered(wednesday) == on_wednesday[1:]

        # From the start of Tuesday's last slot but one: it, then Wednesday's second and third.
        moment = on_tuesday[-2]["TimeFrom"].split(" ")[1].replace("-", ":")
        three = rest(live, "GetNextThreeTimeSlots", {**credentials, "time": f"{tuesday} {moment}"}).json()
        assert three == [on_tuesday[-2], *on_wednesday[1:3]]
    finally:
        live.stop()
