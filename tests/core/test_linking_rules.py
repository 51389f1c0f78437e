"""blueButler's activity links in process (dense rules, services/core/linking.py): which
workstation a request names, which call is "the active call", what linking later allows,
the recordings a person is offered, and the BMS notice URL."""
from datetime import datetime, timedelta, timezone

import pytest

from services.core import ledger, linking
from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.vocabulary import LinkOutcome
from storage.database import Database, sqlite_url
from storage.models import ActivityLink, Workstation

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path):
    database = Database(sqlite_url(tmp_path))
    database.migrate()
    with database.session() as session:
        session.add_all([Workstation(host="desk-201.example.com", address="10.0.0.21", extension="201"),
                         Workstation(host="desk-202", address="10.0.0.22", extension="202")])
    yield database
    database.dispose()


def call(session, name, extension, started, *, answered=True, ended=None):
    ledger.apply_event(session, ledger.CallEvent("call.started", "cti", name, started, extension=extension,
                                                 ani="+13125550100", did="+18005551234"))
    if answered:
        ledger.apply_event(session, ledger.CallEvent("call.answered", "cti", name, started + timedelta(seconds=5)))
    if ended is not None:
        ledger.apply_event(session, ledger.CallEvent("call.ended", "cti", name, ended))
    return ledger.find_call(session, "cti", name)


def add(session, activity="A-1", **kw):
    return linking.add_link(session, linking.AddLinkRequest(activity_id=activity, **kw), now=T0)


def extension_of(session, host, client_address):
    station = linking.workstation(session, host, client_address)
    return station.extension if station is not None else None


def test_the_workstation_is_named_by_host_any_case_by_its_address_or_by_the_client_address(db):
    with db.read_session() as session:
        assert extension_of(session, "DESK-201.Example.COM", None) == "201"
        assert extension_of(session, " 10.0.0.22 ", None) == "202"  # a host that is an address
        assert extension_of(session, None, "10.0.0.21") == "201"
        assert extension_of(session, "desk-999", "10.0.0.21") is None  # a named host wins
        assert extension_of(session, None, None) is None


def test_the_active_call_is_the_newest_answered_one_still_in_progress_on_that_extension(db):
    with db.session() as session:
        call(session, "old", "201", T0 - timedelta(minutes=10))
        newest = call(session, "new", "201", T0 - timedelta(minutes=2))
        call(session, "ended", "201", T0 - timedelta(minutes=1), ended=T0 - timedelta(seconds=30))
        call(session, "ringing", "201", T0 - timedelta(seconds=20), answered=False)
        call(session, "other desk", "202", T0 - timedelta(seconds=10))
        assert add(session, host="desk-201.example.com", active_call=True) == \
            (LinkOutcome.LINKED, newest.recording.reference)


def test_without_an_active_call_the_link_waits_for_a_person(db):
    with db.session() as session:
        call(session, "ended", "201", T0 - timedelta(minutes=5), ended=T0 - timedelta(minutes=1))
        assert add(session, "A-1", host="desk-201.example.com", active_call=True) == (LinkOutcome.NO_ACTIVE_CALL, None)
        call(session, "live", "201", T0 - timedelta(minutes=1))
        assert add(session, "A-2", host="desk-201.example.com") == (LinkOutcome.PENDING, None)  # not asked to link
        assert add(session, "A-3", host="unknown-desk", active_call=True) == (LinkOutcome.NO_ACTIVE_CALL, None)
        states = dict(session.query(ActivityLink.activity_id, ActivityLink.state).all())
    assert states == {"A-1": "pending", "A-2": "pending", "A-3": "pending"}


def test_linking_later_takes_the_newest_pending_request_and_twice_is_harmless(db):
    with db.session() as session:
        recording = call(session, "c1", "201", T0 - timedelta(hours=1), ended=T0 - timedelta(minutes=50)).recording
        other = call(session, "c2", "201", T0 - timedelta(hours=2), ended=T0 - timedelta(minutes=110)).recording
        third = call(session, "c3", "201", T0 - timedelta(hours=3), ended=T0 - timedelta(minutes=170)).recording
        linking.add_link(session, linking.AddLinkRequest("A-1", host="desk-201"), now=T0 - timedelta(minutes=5))
        linking.add_link(session, linking.AddLinkRequest("A-1", host="desk-201.example.com"), now=T0)
        link = linking.link_recording(session, "A-1", recording.reference, linked_by="ann", now=T0)
        assert (link.host, link.state, link.recording_id, link.linked_by) == \
            ("desk-201.example.com", "linked", recording.id, "ann")
        assert linking.link_recording(session, "A-1", recording.reference, linked_by="bob").id == link.id
        second = linking.link_recording(session, "A-1", other.reference, linked_by="bob")  # the older request
        assert second.id != link.id and second.recording_id == other.id
        with pytest.raises(Conflict, match="already linked"):
            linking.link_recording(session, "A-1", third.reference, linked_by="bob")  # none pending now
        with pytest.raises(NotFound):
            linking.link_recording(session, "A-1", "0000000000", linked_by="bob")
        with pytest.raises(NotFound):
            linking.link_recording(session, "never-sent", recording.reference, linked_by="bob")


def test_a_person_is_offered_the_extension_s_recordings_of_the_day_before_the_request(db):
    with db.session() as session:
        made = {}
        for name, minutes in (("too old", -24 * 60 - 1), ("day old", -24 * 60 + 1), ("hour", -60),
                              ("just after", 4), ("too late", 6)):
            started = T0 + timedelta(minutes=minutes)
            made[name] = call(session, name, "201", started, ended=started + timedelta(seconds=30))
            ledger.attach_audio(session, made[name], file_path=f"{name}.mp3", size_bytes=1, duration_s=25.0)
        elsewhere = call(session, "other extension", "202", T0 - timedelta(minutes=30), ended=T0)
        ledger.attach_audio(session, elsewhere, file_path="elsewhere.mp3", size_bytes=1, duration_s=25.0)
        add(session, host="desk-201.example.com")
        link = session.query(ActivityLink).one()
        offered = [r.call.external_id for r in linking.candidate_recordings(session, link)]
    assert offered == ["just after", "hour", "day old"]


def test_the_bms_notice_url_escapes_every_value():
    link = ActivityLink(activity_id="A 1/&?", bms_type=None, host="desk", data1="x=y", data2=None,
                        data3=None, data4=None, data5="é")
    url = linking.render_bms_url("https://bms/n?id={activity_id}&ref={ref}&t={type}&d1={data1}&d5={data5}",
                                 link, "1234567890")
    assert url == "https://bms/n?id=A%201%2F%26%3F&ref=1234567890&t=&d1=x%3Dy&d5=%C3%A9"


@pytest.mark.parametrize("text, value", [(None, False), ("", False), ("TRUE", True), (" true ", True),
                                         ("1", True), ("False", False), ("0", False)])
def test_the_seed_s_booleans(text, value):
    assert linking.parse_bool(text, "activeCall") is value


def test_a_boolean_that_is_neither_is_refused_by_name():
    with pytest.raises(InvalidInput, match="activeCall must be true or false"):
        linking.parse_bool("yes", "activeCall")
