"""Callbutton (seed 002): US Central Time windows (services/calldata/central_time.py), daylight saving included.

Pure unit tests: no server, no database.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from helpers.callbutton import assert_clear, cc, request_doc

from services.calldata.central_time import CENTRAL, from_central, to_central
from services.calldata.refusal import ReportRequestError
from services.calldata.request import parse_request

UTC = timezone.utc
pytestmark = pytest.mark.usefixtures("no_network")


# ---------------------------------------------------------------- daylight saving


@pytest.mark.parametrize("central, utc", [
    # spring forward, Sunday 03/08/2026: 02:00 CST -> 03:00 CDT
    ("03/08/2026 01:59:59", datetime(2026, 3, 8, 7, 59, 59, tzinfo=UTC)),
    ("03/08/2026 03:00:00", datetime(2026, 3, 8, 8, 0, 0, tzinfo=UTC)),
    # fall back, Sunday 11/01/2026: 02:00 CDT -> 01:00 CST; 01:xx happens twice
    ("11/01/2026 00:59:59", datetime(2026, 11, 1, 5, 59, 59, tzinfo=UTC)),
    ("11/01/2026 01:30:00", datetime(2026, 11, 1, 6, 30, 0, tzinfo=UTC)),  # fold=0: the CDT one
    ("11/01/2026 01:59:59", datetime(2026, 11, 1, 6, 59, 59, tzinfo=UTC)),
    ("11/01/2026 02:00:00", datetime(2026, 11, 1, 8, 0, 0, tzinfo=UTC)),
    ("11/01/2026 02:30:00", datetime(2026, 11, 1, 8, 30, 0, tzinfo=UTC)),
    ("01/15/2026 12:00:00", datetime(2026, 1, 15, 18, 0, 0, tzinfo=UTC)),
    ("07/04/2026 23:59:59", datetime(2026, 7, 5, 4, 59, 59, tzinfo=UTC)),
])
def test_parse_central_time_with_dst(central, utc):
    assert parse_request(request_doc(cc("1"), start=central, end="")).start == utc


@pytest.mark.parametrize("gap", ["03/08/2026 02:00:00", "03/08/2026 02:30:00", "03/08/2026 02:59:59"])
def test_spring_forward_gap_is_refused(gap):
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("1"), start=gap, end=""))
    assert_clear(info.value, "Date range not valid", gap, "does not exist")
    with pytest.raises(ReportRequestError):
        parse_request(request_doc(cc("1"), start="", end=gap))


def test_range_across_fall_back():
    parsed = parse_request(request_doc(cc("1"), start="11/01/2026 00:00:00", end="11/01/2026 03:00:00"))
    assert parsed.end - parsed.start == timedelta(hours=4)  # the repeated hour counts twice


@pytest.mark.parametrize("utc, central", [
    (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "11/01/2026 01:30:00"),  # CDT
    (datetime(2026, 11, 1, 7, 30, tzinfo=UTC), "11/01/2026 01:30:00"),  # CST, same wall time
    (datetime(2026, 11, 1, 8, 0, tzinfo=UTC), "11/01/2026 02:00:00"),
    (datetime(2026, 3, 8, 7, 59, 59, tzinfo=UTC), "03/08/2026 01:59:59"),
    (datetime(2026, 3, 8, 8, 0, 0, tzinfo=UTC), "03/08/2026 03:00:00"),
    (datetime(2026, 7, 4, 22, 15, 5, tzinfo=UTC), "07/04/2026 17:15:05"),  # 24-hour clock
    (datetime(2026, 1, 1, 5, 59, 59, tzinfo=UTC), "12/31/2025 23:59:59"),
    (datetime(2026, 1, 1, 6, 0, 0, tzinfo=timezone(timedelta(hours=2))), "12/31/2025 22:00:00"),
    (datetime(2026, 1, 1, 6, 0, 0), "01/01/2026 00:00:00"),  # naive is taken as UTC
])
def test_to_central(utc, central):
    assert to_central(utc) == central


# ---------------------------------------------------------------- from_central, in process


def test_a_wall_time_that_happens_twice_is_its_first_occurrence():
    first = from_central(datetime(2026, 11, 1, 1, 0))
    assert first == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # CDT, UTC-5
    assert to_central(first + timedelta(hours=1)) == "11/01/2026 01:00:00"  # the second one, CST


def test_every_existing_wall_time_round_trips():
    start = datetime(2026, 3, 7)
    for minutes in range(0, 3 * 24 * 60, 7):  # across the spring-forward night, every 7 minutes
        wall = start + timedelta(minutes=minutes)
        if wall.replace(tzinfo=CENTRAL).astimezone(UTC).astimezone(CENTRAL).replace(tzinfo=None) != wall:
            continue  # in the gap: refused, below
        assert to_central(from_central(wall)) == wall.strftime("%m/%d/%Y %H:%M:%S")


def test_a_wall_time_in_the_gap_is_refused_naming_the_field_and_the_text():
    with pytest.raises(ReportRequestError) as info:
        from_central(datetime(2026, 3, 8, 2, 15), "startDate")
    assert_clear(info.value, "Date range not valid", "startDate", "03/08/2026 02:15:00", "does not exist")


def test_an_aware_time_is_converted_whatever_its_offset():
    assert from_central(datetime(2026, 3, 8, 2, 15, tzinfo=timezone(timedelta(hours=-6)))) == \
        datetime(2026, 3, 8, 8, 15, tzinfo=UTC)


def test_times_at_the_ends_of_the_calendar():
    assert from_central(datetime(1, 1, 1, 6, 0)) == datetime(1, 1, 1, 11, 50, 36, tzinfo=UTC)  # LMT
    with pytest.raises(ReportRequestError) as info:
        from_central(datetime(9999, 12, 31, 23, 0), "endDate")
    assert_clear(info.value, "Date range not valid", "endDate", "out of range")
