"""The simulated switch through its HTTP API: real-time calls, real MP3 recordings in the
ledger, pause/resume gaps, and outbound outcomes."""
import time

import pytest
import requests
from helpers.server import start_server
from mutagen.mp3 import MP3
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.models import Call


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("sim"), outbound_outcomes=(
        {"pattern": "+1312555*", "outcome": "busy"}, {"pattern": "+1415555*", "outcome": "no_answer", "after_s": 0.5}))
    yield server
    server.stop()


def wait_for(live, call_id, predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(live.url(f"/sim/v1/calls/{call_id}")).json()
        if predicate(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"call {call_id} never reached the expected state: {body}")


def stored(live, call_id) -> Call:
    with live.db.session() as session:
        return session.scalar(select(Call).options(selectinload(Call.recording))
                              .where(Call.source == "sim", Call.external_id == call_id))


def test_a_simulated_call_is_recorded_into_the_ledger(live):
    r = requests.post(live.url("/sim/v1/calls"), json={"extension": "201", "ani": "+441632960123",
                                                       "did": "8005551234", "direction": "inbound",
                                                       "answer_after_s": 0.3, "duration_s": 1.5})
    assert r.status_code == 201, r.text
    body = r.json()
    call_id, reference = body["call_id"], body["reference"]
    assert reference and len(reference) == 10 and body["state"] == "ringing"
    done = wait_for(live, call_id, lambda b: b.get("recording_state") == "available")
    assert done["state"] == "ended" and done["reference"] == reference
    call = stored(live, call_id)
    assert (call.extension, call.direction, call.ani, call.did, call.result) == \
           ("201", "inbound", "+441632960123", "+18005551234", "Connected")
    assert call.answered_at is not None and call.talk_time_s in (1, 2)
    audio = live.system.store.path_of(call.recording.file_path)
    assert abs(MP3(audio).info.length - 1.5) < 0.2
    assert abs(call.recording.duration_s - 1.5) < 0.2


def test_pause_and_resume_leave_a_gap(live):
    # Bounds come from this test's own clock, so a loaded machine widens them instead of failing.
    started = time.monotonic()
    r = requests.post(live.url("/sim/v1/calls"), json={"extension": "202", "ani": "+13125550000",
                                                       "answer_after_s": 0, "duration_s": 3.0})
    call_id = r.json()["call_id"]
    time.sleep(0.8)
    pausing = time.monotonic()
    assert requests.post(live.url(f"/sim/v1/calls/{call_id}/pause")).status_code == 200
    paused = time.monotonic()
    time.sleep(1.0)
    resuming = time.monotonic()
    assert requests.post(live.url(f"/sim/v1/calls/{call_id}/resume")).status_code == 200
    resumed = time.monotonic()
    wait_for(live, call_id, lambda b: b.get("recording_state") == "available")
    recording = stored(live, call_id).recording
    [span] = recording.paused_spans
    assert span["from"] and span["to"]
    assert pausing - r.elapsed.total_seconds() - started - 0.05 <= span["offset_s"] <= paused - started + 0.05
    assert resuming - paused - 0.05 <= span["length_s"] <= resumed - pausing + 0.05
    audio = live.system.store.path_of(recording.file_path)
    assert abs(MP3(audio).info.length - (3.0 - span["length_s"])) < 0.25


def test_hangup_and_unknown_calls(live):
    r = requests.post(live.url("/sim/v1/calls"), json={"extension": "203", "answer_after_s": 0})
    call_id = r.json()["call_id"]
    time.sleep(0.3)
    assert requests.post(live.url(f"/sim/v1/calls/{call_id}/hangup")).status_code == 200
    assert wait_for(live, call_id, lambda b: b["state"] == "ended")["result"] == "Connected"
    assert requests.post(live.url(f"/sim/v1/calls/{call_id}/pause")).status_code == 409
    assert requests.get(live.url("/sim/v1/calls/nope")).status_code == 404
    assert requests.post(live.url("/sim/v1/calls/nope/hangup")).status_code == 404


def test_outbound_outcomes_follow_the_configured_rules(live):
    busy = requests.post(live.url("/sim/v1/calls"), json={"direction": "outbound", "target": "+13125550111",
                                                          "extension": "201", "answer_after_s": 0.2}).json()
    no_answer = requests.post(live.url("/sim/v1/calls"), json={"direction": "outbound", "target": "+14155550111",
                                                               "extension": "201", "answer_after_s": 0.2}).json()
    answered = requests.post(live.url("/sim/v1/calls"), json={"direction": "outbound", "target": "+442079460000",
                                                              "extension": "201", "answer_after_s": 0.2,
                                                              "duration_s": 0.5}).json()
    assert wait_for(live, busy["call_id"], lambda b: b["state"] == "ended")["result"] == "Busy"
    assert wait_for(live, no_answer["call_id"], lambda b: b["state"] == "ended")["result"] == "No Answer"
    assert wait_for(live, answered["call_id"], lambda b: b["state"] == "ended")["result"] == "Connected"
    busy_call = stored(live, busy["call_id"])
    assert busy_call.answered_at is None and busy_call.recording.state == "none"


def test_bad_requests_are_refused(live):
    for body, reason in (({"direction": "sideways"}, "direction"), ({"duration_s": -1}, "duration_s"),
                         ({"extension": 201}, "extension"), ([1, 2], "JSON object")):
        r = requests.post(live.url("/sim/v1/calls"), json=body)
        assert r.status_code == 400 and reason in r.text
    r = requests.post(live.url("/sim/v1/calls"), data="{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
