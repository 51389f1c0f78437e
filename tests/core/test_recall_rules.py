"""Recall's look-up in process (dense rules, services/core/recordings.retrieve_rec_file), on
the suite's database (SQLite, or PostgreSQL in the second half of CI):
which recording answers an extension, a date-time and a phone number, how its file is
named for the CRM, and what asking to protect it changes; and how GetRecordingInfo finds
and describes a recording."""
from datetime import datetime, timedelta, timezone

import pytest
from helpers import server as suite

from services.core import events, recordings
from storage.models import Call, Company, Extension, Recording
from storage.recordings import RecordingStore

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)
TOLERANCE = timedelta(seconds=30)


@pytest.fixture
def world(tmp_path):
    bus = events.EventBus()
    protected = []
    bus.subscribe(events.RecordingProtected, lambda session, event: protected.append(event))
    database = suite.suite_database(tmp_path, hooks=bus)
    with database.session() as session:
        session.add_all([Company(id=1, name="Share", recording_path_prefix="\\\\recorder\\calls"),
                         Company(id=2, name="Web", recording_path_prefix="https://rec.example/MP3/"),
                         Extension(number="201", company_id=1), Extension(number="202")])
    yield database, RecordingStore(tmp_path / "recordings"), protected
    database.dispose()


def recorded(database, name, extension, started, ended, *, ani="+13125550100", company_id=None,
             state="available"):
    with database.session() as session:
        call = Call(source="cti", external_id=name, company_id=company_id, direction="inbound", state="ended",
                    started_at=started, ended_at=ended, ani=ani, did="+18005551234", extension=extension)
        session.add(call)
        session.flush()
        session.add(Recording(reference=f"R-{name}", call_id=call.id, state=state, file_path=f"2026/12/03/{name}.mp3",
                              created_at=started))
    return f"2026/12/03/{name}.mp3"


def look_up(world, extension, when, phone=None, protect=False):
    database, store, _ = world
    return recordings.retrieve_rec_file(database, store, extension=extension, when=when, phone=phone,
                                        protect=protect, tolerance=TOLERANCE)


def test_the_call_started_nearest_the_time_answers_and_the_phone_number_picks_among_them(world):
    recorded(world[0], "early", "201", T0 - timedelta(minutes=5), T0 + timedelta(minutes=5), ani="+13125550111")
    recorded(world[0], "late", "201", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1), ani="+13125550122")
    assert look_up(world, "201", T0) == "\\\\recorder\\calls\\2026\\12\\03\\late.mp3"  # the extension's company
    assert look_up(world, "201", T0, phone="3125550111") == "\\\\recorder\\calls\\2026\\12\\03\\early.mp3"
    assert look_up(world, "201", T0, phone="(800) 555-1234").endswith("late.mp3")  # the other party matches too
    assert look_up(world, "201", T0, phone="3125550999") == ""


def test_a_call_counts_within_the_tolerance_only_and_only_its_available_recording(world):
    recorded(world[0], "before", "201", T0 - timedelta(minutes=10), T0 - timedelta(seconds=20))
    recorded(world[0], "after", "201", T0 + timedelta(seconds=25), T0 + timedelta(minutes=3))
    recorded(world[0], "live", "201", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1), state="recording")
    assert look_up(world, "201", T0).endswith("after.mp3")  # 25 s away beats 9 min 40 s
    assert look_up(world, "201", T0 - timedelta(minutes=9)).endswith("before.mp3")
    assert look_up(world, "201", T0 + timedelta(seconds=40)).endswith("after.mp3")
    assert look_up(world, "201", T0 - timedelta(minutes=11)) == ""  # 60 s before the first began
    assert look_up(world, "202", T0) == ""


def test_the_calls_own_company_names_the_file_else_the_server_path(world):
    database, store, _ = world
    recorded(database, "web", "201", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1), company_id=2)
    assert look_up(world, "201", T0) == "https://rec.example/MP3/R-web"
    path = recorded(database, "plain", "202", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert look_up(world, "202", T0) == str(store.path_of(path))


def test_protecting_marks_the_recording_once_and_a_plain_look_up_writes_nothing(world):
    database, _, protected = world
    recorded(database, "keep", "201", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    look_up(world, "201", T0)
    with database.read_session() as session:
        assert session.query(Recording).one().deletion_protected is False
    assert look_up(world, "201", T0, protect=True).endswith("keep.mp3")
    assert look_up(world, "201", T0, protect=True).endswith("keep.mp3")
    with database.read_session() as session:
        recording = session.query(Recording).one()
        assert recording.deletion_protected is True
    assert [(event.recording_id, event.call_id) for event in protected] == [(recording.id, recording.call_id)]


def test_a_recording_is_described_with_its_gaps_to_those_who_may_hear_it(world):
    from services.core.errors import Forbidden, NotFound
    from storage.models import User

    database = world[0]
    recorded(database, "paused", "201", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    with database.session() as session:
        recording = session.query(Recording).one()
        recording.paused_spans = [{"offset_s": 12.5, "length_s": 4.0}, {"at": "no offset: not a gap"}]
        recording.duration_s, recording.deletion_protected = 61.5, True
    alice = User(id=1, username="alice", password_hash="-", extension="201")
    bob = User(id=2, username="bob", password_hash="-", extension="202")
    supervisor = User(id=3, username="sue", password_hash="-", global_listening=True)
    with database.read_unit() as unit:
        facts = recordings.described_recording(unit, alice, "R-paused")
        assert recordings.described_recording(unit, supervisor, "R-paused") == facts
        with pytest.raises(Forbidden):
            recordings.described_recording(unit, bob, "R-paused")
        with pytest.raises(NotFound):
            recordings.described_recording(unit, supervisor, "R-none")
    assert (facts.reference, facts.extension, facts.ani, facts.state) == ("R-paused", "201", "+13125550100", "available")
    assert facts.started_at == T0 - timedelta(minutes=1) and facts.started_at.tzinfo is not None
    assert facts.duration_s == 61.5 and facts.deletion_protected is True
    assert facts.paused_spans == [{"offset_s": 12.5, "length_s": 4.0}, {"at": "no offset: not a gap"}]
