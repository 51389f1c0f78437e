"""The simulated switch, end to end: real time (sped up), real MP3 files, real events."""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from mutagen.mp3 import MP3

from services.telephony.audio import decode_dominant_frequencies, encode_call_seconds, expected_frequency
from services.telephony.driver import (
    CallEventSink,
    InvalidCallState,
    PlaybackOutcome,
    SwitchDriver,
    SwitchEvent,
    SwitchUnavailable,
    UnknownCall,
)
from services.telephony.outcomes import OutcomeRules
from services.telephony.simulated import SimulatedSwitch
from storage.recordings import RecordingStore


class Sink:
    """Collects events; `wait_for` blocks until a kind arrives for a call."""

    def __init__(self, fail_on: tuple[str, ...] = ()) -> None:
        self.events: list[SwitchEvent] = []
        self.fail_on = fail_on
        self._cond = threading.Condition()

    def handle(self, event: SwitchEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()
        if event.kind in self.fail_on:
            raise RuntimeError(f"sink refuses {event.kind}")

    def kinds(self, call_id: str) -> list[str]:
        with self._cond:
            return [e.kind for e in self.events if e.call_id == call_id]

    def wait_for(self, call_id: str, kind: str, timeout: float = 10.0) -> SwitchEvent:
        with self._cond:
            assert self._cond.wait_for(lambda: any(e.call_id == call_id and e.kind == kind for e in self.events),
                                       timeout), f"no {kind} for {call_id}: {self.kinds(call_id)}"
            return next(e for e in self.events if e.call_id == call_id and e.kind == kind)


class ManualClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def store(tmp_path: Path) -> RecordingStore:
    return RecordingStore(tmp_path / "recordings")


@pytest.fixture
def sink() -> Sink:
    return Sink()


def inbound(switch: SimulatedSwitch, **overrides) -> str:
    args = dict(extension="201", number="+15551230000", direction="inbound", ani="+442079460000",
                did="+15551230000", answer_after_s=0.0, duration_s=None)
    args.update(overrides)
    return switch.place_call(**args)


def sleep_until(switch: SimulatedSwitch, moment) -> None:
    while switch.now() < moment:
        time.sleep(0.0005)


def test_the_switch_fits_the_driver_interface(store, sink):
    with SimulatedSwitch(store, sink) as switch:
        assert isinstance(switch, SwitchDriver)
        assert isinstance(sink, CallEventSink)


def test_a_paused_span_is_left_out_of_a_real_time_recording(store, sink):
    """10 s of call at 5x speed, recording paused from call-second 3 to 6."""
    with SimulatedSwitch(store, sink, speed=5.0, tick_s=0.05) as switch:
        call_id = inbound(switch, duration_s=10.0)
        assert sink.kinds(call_id) == ["call.started"]  # delivered before place_call returned
        answered_at = switch.call(call_id).answered_at
        # The pause and resume happen at switch times between these readings of its clock
        # (on a loaded machine a thread can be late by a few tenths of call time at 5x).
        sleep_until(switch, answered_at + timedelta(seconds=3))
        pause_window = (switch.now(), switch.pause_recording(call_id), switch.now())
        switch.pause_recording(call_id)  # repeating it changes nothing
        sleep_until(switch, answered_at + timedelta(seconds=6))
        resume_window = (switch.now(), switch.resume_recording(call_id), switch.now())
        ready = sink.wait_for(call_id, "recording.ready")

    assert sink.kinds(call_id) == ["call.started", "call.answered", "recording.paused", "recording.resumed",
                                   "call.ended", "recording.ready"]
    ended = sink.wait_for(call_id, "call.ended")
    assert ended.result == "Connected"
    assert ended.at - answered_at == timedelta(seconds=10)  # call time, not wall time
    (gap,) = ready.gaps
    paused_from, paused_by = ((t - answered_at).total_seconds() for t in pause_window[::2])
    resumed_from, resumed_by = ((t - answered_at).total_seconds() for t in resume_window[::2])
    assert paused_from - 0.01 <= gap.offset_s <= paused_by + 0.01 and 2.99 <= paused_from
    assert resumed_from - paused_by - 0.01 <= gap.length_s <= resumed_by - paused_from + 0.01
    assert ready.duration_s == pytest.approx(10.0 - gap.length_s, abs=0.1)

    path = store.path_of(ready.recording_path)
    assert MP3(path).info.length == pytest.approx(10.0 - gap.length_s, abs=0.2)
    assert MP3(path).info.length == pytest.approx(ready.duration_s, abs=0.001)  # the Info tag is exact
    heard = decode_dominant_frequencies(path.read_bytes())
    assert heard == [float(expected_frequency(k)) for k in (0, 1, 2, 6, 7, 8, 9)]
    for missing in (3, 4, 5):
        assert float(expected_frequency(missing)) not in heard


def test_gaps_are_placed_on_the_recordings_own_timeline(store, sink):
    clock = ManualClock()
    with SimulatedSwitch(store, sink, clock=clock) as switch:
        call_id = inbound(switch, answer_after_s=1.0, duration_s=10.0)
        clock.advance(1.0 + 2.0)
        switch.pause_recording(call_id)
        clock.advance(1.0)
        switch.resume_recording(call_id)
        clock.advance(2.0)
        switch.pause_recording(call_id)
        clock.advance(2.0)
        switch.resume_recording(call_id)
        clock.advance(3.0)
        snapshot = switch.call(call_id)
        ready = sink.wait_for(call_id, "recording.ready")
    assert snapshot.state == "ended" and snapshot.recording_path == ready.recording_path
    assert [(g.offset_s, g.length_s, g.call_offset_s) for g in ready.gaps] == [(2.0, 1.0, 2.0), (4.0, 2.0, 5.0)]
    assert ready.duration_s == 7.0
    assert [(s.start_call_s, s.end_call_s) for s in snapshot.paused_spans] == [(2.0, 3.0), (5.0, 7.0)]
    heard = decode_dominant_frequencies(store.path_of(ready.recording_path).read_bytes())
    assert heard == [float(expected_frequency(k)) for k in (0, 1, 3, 4, 7, 8, 9)]


def test_a_pause_before_answer_and_a_hangup_while_paused(store, sink):
    clock = ManualClock()
    with SimulatedSwitch(store, sink, clock=clock) as switch:
        call_id = inbound(switch, answer_after_s=2.0)
        switch.pause_recording(call_id)  # still ringing
        clock.advance(3.0)
        switch.resume_recording(call_id)  # one call-second lost
        clock.advance(2.0)
        switch.pause_recording(call_id)
        clock.advance(1.0)
        switch.hangup(call_id)
        ready = sink.wait_for(call_id, "recording.ready")
    assert [(g.offset_s, g.length_s) for g in ready.gaps] == [(0.0, 1.0), (2.0, 1.0)]
    assert ready.duration_s == 2.0
    assert sink.wait_for(call_id, "call.ended").result == "Connected"


def test_call_lifecycle_and_errors(store, sink):
    clock = ManualClock()
    switch = SimulatedSwitch(store, sink, clock=clock)
    ringing = inbound(switch, answer_after_s=None)
    assert switch.call(ringing).state == "ringing"
    switch.hangup(ringing)
    assert switch.call(ringing).result == "Abandoned"
    with pytest.raises(InvalidCallState):
        switch.hangup(ringing)
    with pytest.raises(InvalidCallState):
        switch.pause_recording(ringing)
    with pytest.raises(UnknownCall):
        switch.hangup("no-such-call")
    assert switch.call("no-such-call") is None

    unrecorded = inbound(switch, record=False, answer_after_s=None)
    with pytest.raises(InvalidCallState):
        switch.pause_recording(unrecorded)
    switch.answer(unrecorded)
    with pytest.raises(InvalidCallState):
        switch.answer(unrecorded)

    a, b = inbound(switch), inbound(switch, extension="202")
    clock.advance(0.5)
    switch.hold(a)
    assert switch.call(a).held
    with pytest.raises(InvalidCallState):
        switch.hold(a)
    switch.retrieve(a)
    switch.bridge(a, b)
    assert switch.call(a).bridged_with == b and switch.call(b).bridged_with == a
    with pytest.raises(InvalidCallState):
        switch.bridge(a, ringing)

    switch.close()  # ends the live calls and commits their recordings
    with pytest.raises(SwitchUnavailable):
        inbound(switch)
    assert switch.call(unrecorded).state == "ended"
    for call_id in (a, b):
        ready = sink.wait_for(call_id, "recording.ready", timeout=0)
        assert ready.duration_s == 0.5 and store.exists(ready.recording_path)
    assert "recording.ready" not in sink.kinds(unrecorded)
    assert "recording.ready" not in sink.kinds(ringing)  # never answered: nothing recorded


def test_outbound_outcomes_follow_the_first_matching_rule(store, sink):
    rules = OutcomeRules.from_config([
        {"pattern": "+4420*", "outcome": "busy", "after_s": 2},
        {"pattern": "+44*", "outcome": "no_answer", "after_s": 5},
        {"pattern": "+1555*", "outcome": "unreachable"},
        {"pattern": "+1666*", "outcome": "voicemail", "after_s": 1, "greeting_s": 3, "message_s": 4},
    ])
    clock = ManualClock()
    with SimulatedSwitch(store, sink, outcomes=rules, clock=clock) as switch:
        def dial(number: str, direction: str = "outbound") -> str:
            return switch.place_call(extension="201", number=number, direction=direction, ani="+13125550100",
                                     did=None, answer_after_s=0.5, duration_s=None)

        busy, no_answer, unreachable = dial("+442079460000"), dial("+441632960000"), dial("+15550000000")
        voicemail, person, inbound_call = dial("+16660000000"), dial("+33123456789"), dial("+442079460000", "inbound")
        clock.advance(0.6)
        assert switch.call(person).state == "answered" and switch.call(person).answered_by == "person"
        assert switch.call(inbound_call).state == "answered"  # rules are for outbound calls only
        assert switch.call(unreachable).state == "failed" and switch.call(unreachable).result == "Abandoned"
        assert switch.call(voicemail).state == "ringing"
        clock.advance(1.5)
        assert switch.call(busy).state == "ended" and switch.call(busy).result == "Busy"
        assert switch.call(busy).answered_at is None
        assert switch.call(no_answer).state == "ringing"
        assert switch.call(voicemail).answered_by == "voicemail"
        clock.advance(3.0)
        assert switch.call(no_answer).result == "No Answer" and switch.call(no_answer).answered_at is None
        assert switch.call(voicemail).state == "answered"
        clock.advance(3.0)  # greeting 3 s + message 4 s after the answer at 1 s
        assert switch.call(voicemail).state == "ended" and switch.call(voicemail).result == "Connected"
    assert sink.kinds(busy) == ["call.started", "call.ended"]
    assert sink.wait_for(busy, "call.ended").target == "+442079460000"


def test_outcome_rules_are_validated():
    for bad in ([{"pattern": "+44*", "outcome": "explode"}], [{"outcome": "busy"}],
                [{"pattern": "*", "outcome": "busy", "after_s": -1}], [{"pattern": "*", "outcome": "busy", "x": 1}]):
        with pytest.raises(ValueError):
            OutcomeRules.from_config(bad)
    assert OutcomeRules.from_config(None).decide("+44", 3.0).outcome == "answer"


def test_play_by_phone_takes_a_channel_or_says_none_is_free(store, sink, tmp_path):
    message = tmp_path / "message.mp3"
    message.write_bytes(encode_call_seconds([(0, 1.5)]))
    clock = ManualClock()
    with SimulatedSwitch(store, sink, playback_channels=1, clock=clock, playback_answer_after_s=2.0) as switch:
        results: list[PlaybackOutcome] = []
        threads = [threading.Thread(target=lambda: results.append(switch.play("+15551230001", message)))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r.value for r in results) == ["no_channel", "playing"]
        (channel,) = switch.channels()
        assert channel.state == "dialing" and channel.number == "+15551230001"
        call_id = channel.call_id
        assert sink.kinds(call_id) == ["call.started"]
        clock.advance(2.0)
        assert switch.call(call_id).state == "answered"
        assert switch.channels()[0].state == "playing"  # busy for as long as the message plays
        assert switch.play("+15551230002", message) is PlaybackOutcome.NO_CHANNEL
        clock.advance(1.4)
        assert switch.call(call_id).state == "answered"
        clock.advance(0.1)
        snapshot = switch.call(call_id)
        assert snapshot.state == "ended" and snapshot.result == "Connected" and snapshot.purpose == "playback"
        assert snapshot.ended_at - snapshot.answered_at == timedelta(seconds=1.5)  # the message's length
        assert snapshot.recording_path is None and snapshot.target == "+15551230001"
        assert switch.channels()[0].state == "idle"
        ended = sink.wait_for(call_id, "call.ended")
        assert ended.direction == "outbound" and not ended.record

        junk = tmp_path / "junk.mp3"
        junk.write_bytes(b"not audio")
        assert switch.play("+15551230001", junk) is PlaybackOutcome.FAILED
        assert switch.play("+15551230001", tmp_path / "missing.mp3") is PlaybackOutcome.FAILED
        assert switch.channels()[0].state == "idle"  # a failure gives the channel back
        assert switch.play("+15551230001", message) is PlaybackOutcome.PLAYING
    with SimulatedSwitch(store, sink, playback_channels=0) as no_channels:
        assert no_channels.play("+15551230001", message) is PlaybackOutcome.NO_CHANNEL


def test_a_playback_call_that_is_not_answered_frees_its_channel(store, sink, tmp_path):
    message = tmp_path / "message.mp3"
    message.write_bytes(encode_call_seconds([(0, 1.0)]))
    rules = OutcomeRules.from_config([{"pattern": "+44*", "outcome": "busy", "after_s": 1}])
    clock = ManualClock()
    with SimulatedSwitch(store, sink, playback_channels=1, outcomes=rules, clock=clock) as switch:
        assert switch.play("+442079460000", message) is PlaybackOutcome.PLAYING
        call_id = switch.channels()[0].call_id
        clock.advance(1.0)
        assert switch.call(call_id).result == "Busy"
        assert switch.channels()[0].state == "idle"


def test_a_failing_sink_does_not_stop_the_calls(store):
    sink = Sink(fail_on=("call.started", "call.answered"))
    clock = ManualClock()
    with SimulatedSwitch(store, sink, clock=clock) as switch:
        call_id = inbound(switch, duration_s=1.0)
        clock.advance(1.0)
        ready = sink.wait_for(call_id, "recording.ready")
    assert sink.kinds(call_id) == ["call.started", "call.answered", "call.ended", "recording.ready"]
    assert store.exists(ready.recording_path)


def test_a_sink_may_place_calls_from_inside_handle(store):
    """A listener reacting to an event by dialling must not deadlock the relay."""
    placed: list[str] = []

    class Redialler(Sink):
        def handle(self, event: SwitchEvent) -> None:
            super().handle(event)
            if event.kind == "call.ended" and not placed:
                placed.append(inbound(switch, extension="999"))

    sink = Redialler()
    clock = ManualClock()
    switch = SimulatedSwitch(store, sink, clock=clock)
    first = inbound(switch, duration_s=1.0)
    clock.advance(1.0)
    sink.wait_for(first, "call.ended")
    deadline = time.monotonic() + 5
    while not placed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert placed and sink.kinds(placed[0])[0] == "call.started"
    switch.close()


def test_many_calls_share_one_scheduler_thread(store, sink):
    before = threading.active_count()
    with SimulatedSwitch(store, sink, speed=10.0, tick_s=0.05) as switch:
        calls = [inbound(switch, extension=str(200 + i), duration_s=3.0) for i in range(60)]
        time.sleep(0.2)
        # the scheduler, the event relay, the audio pool and the file thread: not one per call
        assert threading.active_count() - before <= 3 + switch.workers - 1 < 10
        for call_id in calls:
            sink.wait_for(call_id, "recording.ready")
    for call_id in calls:
        ready = sink.wait_for(call_id, "recording.ready", timeout=0)
        assert ready.duration_s == pytest.approx(3.0, abs=0.01)
        assert MP3(store.path_of(ready.recording_path)).info.length == pytest.approx(3.0, abs=0.2)
