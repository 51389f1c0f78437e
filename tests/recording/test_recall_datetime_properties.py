"""Properties of Recall's date-time (seed 003): `yyyy-MM-dd HH:mm:ss` in the server's zone,
JSON-quoted in the query as the seed sends it (`%222011-10-10%2018:52:00%22`) or not."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.errors import InvalidInput
from services.recording.wire import format_recall_datetime, parse_recall_datetime

FAST = settings(max_examples=200, deadline=None)
ZONES = st.sampled_from(["Europe/London", "America/Chicago", "Asia/Kolkata", "UTC", "Australia/Lord_Howe"])
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31),
                        timezones=st.just(timezone.utc)).map(lambda moment: moment.replace(microsecond=0))


@FAST
@given(instants, ZONES)
def test_a_written_instant_reads_back_quoted_or_not(moment, zone):
    text = format_recall_datetime(moment, zone)
    quoted = json.dumps(text)
    back = parse_recall_datetime(text, zone)
    assert parse_recall_datetime(quoted, zone) == back == parse_recall_datetime(f"  {quoted} ", zone)
    if moment.astimezone(ZoneInfo(zone)).fold == 0:
        assert back == moment
    else:  # the repeated hour when clocks go back: the wall time's first occurrence
        assert timedelta(0) < moment - back <= timedelta(hours=1)
    assert format_recall_datetime(back, zone) == text


@FAST
@given(st.one_of(st.text(max_size=40), st.text(max_size=30).map(json.dumps),
                 st.just('"2011-10-10 18:52:00'), st.just('"2011-10-10 18:52:00"x')), ZONES)
def test_any_text_is_a_date_time_or_the_parameters_error(text, zone):
    try:
        parsed = parse_recall_datetime(text, zone)
    except InvalidInput as exc:
        assert str(exc).startswith("dtCallDateTime")
        return
    assert parsed.tzinfo is not None
