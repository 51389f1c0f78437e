"""Properties of the Buzzeasy date parser (seed 001): request dates `yyyy-MM-dd HH:mm:ss`
(also with a T, or a bare date), the company's wall time; TimeSlot renderings."""
from __future__ import annotations

import re
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from services.callback.wire import REQUEST_DATE_FORMAT, TIMESLOT_FORMAT, parse_request_date

FAST = settings(max_examples=200, deadline=None)
moments = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0))


@FAST
@given(moments, st.sampled_from(["", " ", "\t", "\n "]))
def test_a_written_date_reads_back_as_itself(moment, padding):
    assert parse_request_date(padding + moment.strftime(REQUEST_DATE_FORMAT) + padding) == moment
    assert parse_request_date(moment.strftime("%Y-%m-%dT%H:%M:%S")) == moment
    assert parse_request_date(moment.strftime("%Y-%m-%d")) == moment.replace(hour=0, minute=0, second=0)


@FAST
@given(st.one_of(st.text(max_size=40), st.from_regex(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}", fullmatch=True),
                 st.integers(), st.floats()))
def test_any_value_is_a_date_or_a_value_error_naming_it(value):
    try:
        parsed = parse_request_date(value)
    except ValueError as exc:
        assert "yyyy-MM-dd HH:mm:ss" in str(exc)
        return
    assert isinstance(parsed, datetime) and parsed.tzinfo is None


@FAST
@given(moments)
def test_a_time_slot_is_rendered_with_hyphens_in_the_time(moment):
    text = moment.strftime(TIMESLOT_FORMAT)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}-\d{2}-\d{2}", text), text
    assert datetime.strptime(text, TIMESLOT_FORMAT) == moment
