"""The simulated switch: calls that ring, answer and end in real time and are recorded to
real MP3 files, for development, demos and tests without a PBX.

One scheduler thread advances every live call each tick (encoding the audio that call
time has produced since the last tick), and one relay thread hands events to the sink, so
a thousand calls cost a fixed handful of threads. LAME releases the GIL while it encodes,
so with many calls the scheduler shares each tick out to a small pool (`workers`, one
per CPU up to 4) and uses every core. Finishing a recording (flush, Info tag, fsync,
rename) happens on one more thread, so an ending call never stalls the others' audio. Operations from other threads (hangup, pause, a
snapshot) first bring the call up to "now" under the call's lock, so they always act on
its exact state, not on the last tick's.

Time: the switch keeps a simulated timeline, `(clock() - start) * speed` seconds since
the switch was built, anchored to the UTC time of that moment. With `speed=1` it is real
time; tests may run faster (`speed=5`: 10 s of call in 2 s of wall time) or pass a
manual `clock` to step time themselves. Event times, answer/end schedules and the audio
are all on that timeline, so a 10 s call is 10 s of audio whatever the speed.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional

from services.core.callfacts import CallFacts, facts_of
from storage.recordings import NotMp3, RecordingStore, RecordingWriter, probe_mp3

from .audio import BITRATE_KBPS, SAMPLE_RATE, RecordingEncoder
from .channels import Channel, ChannelPool
from .driver import (
    CallEventSink,
    CallResult,
    CallState,
    ChannelInfo,
    Direction,
    EventRelay,
    Gap,
    InvalidCallState,
    PausedSpan,
    PlaybackOutcome,
    SwitchCallSnapshot,
    SwitchEvent,
    SwitchUnavailable,
    TelephonyError,
    UnknownCall,
)
from .outcomes import OutcomeDecision, OutcomeRules

log = logging.getLogger(__name__)

# Encoded audio is appended to the file every this many seconds of call, so a crash loses
# at most that much (plus LAME's last frames) of what was recorded; see System.start.
_WRITE_EVERY_S = 2.0
_LIVE = ("ringing", "answered")
_PARALLEL_FROM = 32  # below this many live calls a tick is too short to be worth sharing out


@dataclass
class SchedulerStats:
    ticks: int = 0
    late_ticks: int = 0  # ticks whose work took longer than tick_s: the switch fell behind
    busy_s: float = 0.0  # wall time spent advancing calls
    max_busy_s: float = 0.0
    live_calls: int = 0
    recent_busy_s: tuple[float, ...] = ()  # the last ticks' work times, oldest first


@dataclass(eq=False)
class _Call:
    call_id: str
    facts: CallFacts  # what every event and snapshot of the call carries; the result is set at the end
    purpose: str
    t_start: float
    decision: OutcomeDecision
    duration_s: Optional[float]  # from answer; None: until hangup
    channel: Optional[Channel] = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: CallState = "ringing"
    t_answer: Optional[float] = None
    t_end: Optional[float] = None
    answered_by: Optional[str] = None
    held: bool = False
    bridged_with: Optional[str] = None
    paused: bool = False
    spans: list[list[Optional[float]]] = field(default_factory=list)  # [start, end|None], switch time
    encoder: Optional[RecordingEncoder] = None
    writer: Optional[RecordingWriter] = None
    pending: bytearray = field(default_factory=bytearray)
    position: float = 0.0  # call time (since answer) up to which audio was encoded or skipped
    recording_path: Optional[str] = None
    recording_duration_s: Optional[float] = None
    finishing: Optional[Future] = None  # the recording being committed; its result is the ready ticket

    @property
    def answer_due(self) -> Optional[float]:
        return self.t_start + self.decision.after_s if self.decision.answers else None

    @property
    def give_up_due(self) -> Optional[float]:
        return None if self.decision.answers else self.t_start + self.decision.after_s

    @property
    def end_due(self) -> Optional[float]:
        if self.t_answer is None or self.duration_s is None:
            return None
        return self.t_answer + self.duration_s


class SimulatedSwitch:
    """A `SwitchDriver` that simulates a PBX with recording and a playback-channel pool."""

    def __init__(self, store: RecordingStore, sink: CallEventSink, playback_channels: int = 2,
                 outcomes: Optional[OutcomeRules] = None, clock: Callable[[], float] = time.monotonic,
                 tick_s: float = 0.1, *, speed: float = 1.0, max_calls: Optional[int] = None,
                 keep_ended: int = 10_000, playback_answer_after_s: float = 2.0,
                 playback_caller_id: Optional[str] = None, sample_rate: int = SAMPLE_RATE,
                 bitrate_kbps: int = BITRATE_KBPS, workers: Optional[int] = None, shared_channels=None,
                 call_id_prefix: str = "") -> None:
        """`call_id_prefix` (hex digits) starts every call id, 32 hex digits in all: it names
        the process whose switch the call lives in, so a process starting on a shared
        database tells crashed processes' calls from the live calls of the others
        (System.recover_interrupted_calls)."""
        if speed <= 0 or tick_s <= 0:
            raise ValueError("speed and tick_s must be positive")
        self._call_id_prefix = call_id_prefix
        self.workers = max(1, workers if workers is not None else self.default_workers())
        # Threads are started on first use, so a quiet switch keeps just its two threads.
        self._pool = (ThreadPoolExecutor(self.workers - 1, thread_name_prefix="simulated-switch-audio")
                      if self.workers > 1 else None)
        self._files = ThreadPoolExecutor(1, thread_name_prefix="simulated-switch-files")
        self.store = store
        self.outcomes = outcomes or OutcomeRules()
        self.pool = ChannelPool(playback_channels, shared=shared_channels)  # shared: with other processes
        self.tick_s = tick_s
        self.speed = speed
        self.max_calls = max_calls
        self.keep_ended = keep_ended
        self.playback_answer_after_s = playback_answer_after_s
        self.playback_caller_id = playback_caller_id
        self.sample_rate = sample_rate
        self.bitrate_kbps = bitrate_kbps
        self._write_bytes = int(bitrate_kbps * 1000 / 8 * _WRITE_EVERY_S)
        self._clock = clock
        self._clock0 = clock()
        self._utc0 = datetime.now(timezone.utc)
        self._lock = threading.Lock()  # guards the call tables; taken after a call's lock, never before
        self._live: dict[str, _Call] = {}
        self._ended: OrderedDict[str, _Call] = OrderedDict()
        self._closed = False
        self._stats = SchedulerStats()
        self._recent_busy: deque[float] = deque(maxlen=200)
        self._relay = EventRelay(sink)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulated-switch", daemon=True)
        self._thread.start()

    @staticmethod
    def default_workers() -> int:
        return min(4, os.cpu_count() or 1)

    # -- time ------------------------------------------------------------------------------
    def _now(self) -> float:
        return (self._clock() - self._clock0) * self.speed

    def _utc(self, t: float) -> datetime:
        return self._utc0 + timedelta(seconds=t)

    def now(self) -> datetime:
        """The switch's current time (UTC, on the simulated timeline)."""
        return self._utc(self._now())

    # -- placing calls ---------------------------------------------------------------------
    def place_call(self, *, extension: Optional[str], number: Optional[str], direction: Direction,
                   ani: Optional[str], did: Optional[str], answer_after_s: Optional[float],
                   duration_s: Optional[float], record: bool = True, dtmf: Optional[str] = None) -> str:
        if direction not in ("inbound", "outbound"):
            raise ValueError("direction must be 'inbound' or 'outbound'")
        for name, value in (("answer_after_s", answer_after_s), ("duration_s", duration_s)):
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must be a non-negative number of seconds or None")
        if direction == "outbound":
            decision = self.outcomes.decide(number, answer_after_s)
        else:
            decision = OutcomeDecision("answer", float("inf") if answer_after_s is None else float(answer_after_s))
        if decision.outcome == "voicemail" and duration_s is None:
            duration_s = decision.greeting_s + decision.message_s  # the machine hangs up after a message
        return self._start(direction=direction, extension=extension, ani=ani, did=did,
                           target=number if direction == "outbound" else None, dtmf=dtmf, record=record,
                           purpose="call", decision=decision, duration_s=duration_s)

    def _call_id(self) -> str:
        return self._call_id_prefix + uuid.uuid4().hex[len(self._call_id_prefix):]

    def _start(self, *, direction: Direction, extension: Optional[str], ani: Optional[str], did: Optional[str],
               target: Optional[str], dtmf: Optional[str], record: bool, purpose: str,
               decision: OutcomeDecision, duration_s: Optional[float], channel: Optional[Channel] = None) -> str:
        facts = CallFacts(direction=direction, extension=extension, ani=ani, did=did, target=target, dtmf=dtmf,
                          record=record)
        call = _Call(call_id=self._call_id(), facts=facts, purpose=purpose, t_start=self._now(),
                     decision=decision, duration_s=duration_s, channel=channel)
        with call.lock:  # the scheduler cannot touch the call before call.started is queued
            with self._lock:
                if self._closed:
                    raise SwitchUnavailable("the switch is closed")
                if self.max_calls is not None and len(self._live) >= self.max_calls:
                    raise SwitchUnavailable(f"the switch is at its limit of {self.max_calls} calls")
                self._live[call.call_id] = call
            if channel is not None:
                self.pool.attach(channel, call.call_id)
            ticket = self._post(call, "call.started", call.t_start)
        self._relay.wait(ticket)  # the server looks the call up as soon as we return
        return call.call_id

    # -- controlling calls -----------------------------------------------------------------
    def _find(self, call_id: str) -> _Call:
        with self._lock:
            call = self._live.get(call_id) or self._ended.get(call_id)
        if call is None:
            raise UnknownCall(f"no call {call_id!r} on this switch")
        return call

    def _act(self, call_id: str, action: Callable[[_Call, float, list[int]], None]) -> None:
        call = self._find(call_id)
        tickets: list[int] = []
        with call.lock:
            now = self._now()
            self._advance(call, now, tickets)
            action(call, now, tickets)
            finishing = call.finishing
        if finishing is not None:
            ready = self._await_recording(finishing)
            if ready is not None:
                tickets.append(ready)
        if tickets:  # the caller reads the ledger next: let it see what it just did
            self._relay.wait(max(tickets))

    @staticmethod
    def _await_recording(finishing: Future) -> Optional[int]:
        try:
            return finishing.result(timeout=30)
        except Exception:
            log.exception("waiting for a recording to be committed")
            return None

    def answer(self, call_id: str) -> None:
        def action(call: _Call, now: float, tickets: list[int]) -> None:
            if call.state != "ringing":
                raise InvalidCallState(f"call {call_id} is {call.state}; only a ringing call can be answered")
            self._answer(call, now, tickets)
        self._act(call_id, action)

    def hangup(self, call_id: str) -> None:
        def action(call: _Call, now: float, tickets: list[int]) -> None:
            if call.state not in _LIVE:
                raise InvalidCallState(f"call {call_id} has already {call.state}")
            # A caller who hangs up while it still rings has abandoned the call.
            self._end(call, now, "Connected" if call.state == "answered" else "Abandoned", "ended", tickets)
        self._act(call_id, action)

    def hold(self, call_id: str) -> None:
        def action(call: _Call, now: float, tickets: list[int]) -> None:
            if call.state != "answered" or call.held:
                raise InvalidCallState(f"call {call_id} is {'on hold' if call.held else call.state}; it cannot be held")
            call.held = True
        self._act(call_id, action)

    def retrieve(self, call_id: str) -> None:
        def action(call: _Call, now: float, tickets: list[int]) -> None:
            if call.state != "answered" or not call.held:
                raise InvalidCallState(f"call {call_id} is not on hold")
            call.held = False
        self._act(call_id, action)

    def bridge(self, call_a: str, call_b: str) -> None:
        if call_a == call_b:
            raise InvalidCallState("a call cannot be bridged to itself")
        first, second = sorted((self._find(call_a), self._find(call_b)), key=lambda c: c.call_id)
        with first.lock, second.lock:  # id order, so two bridges cannot deadlock
            now = self._now()
            for call in (first, second):
                self._advance(call, now, [])
                if call.state != "answered":
                    raise InvalidCallState(f"call {call.call_id} is {call.state}; only answered calls can be bridged")
            first.bridged_with, second.bridged_with = second.call_id, first.call_id
            first.held = second.held = False

    def pause_recording(self, call_id: str) -> None:
        def action(call: _Call, now: float, tickets: list[int]) -> None:
            self._require_recording(call)
            if call.paused:
                return  # already paused: nothing changes, nothing to report
            if call.state == "answered":
                self._record_to(call, now - call.t_answer)
            call.paused = True
            call.spans.append([now, None])
            tickets.append(self._post(call, "recording.paused", now))
        self._act(call_id, action)

    def resume_recording(self, call_id: str) -> None:
        def action(call: _Call, now: float, tickets: list[int]) -> None:
            self._require_recording(call)
            if not call.paused:
                return
            if call.state == "answered":
                self._record_to(call, now - call.t_answer)  # skips the paused span: never encoded
            call.paused = False
            call.spans[-1][1] = now
            tickets.append(self._post(call, "recording.resumed", now))
        self._act(call_id, action)

    @staticmethod
    def _require_recording(call: _Call) -> None:
        if call.state not in _LIVE:
            raise InvalidCallState(f"call {call.call_id} has {call.state}; its recording cannot change")
        if not call.facts.record:
            raise InvalidCallState(f"call {call.call_id} is not being recorded")

    # -- play by phone ---------------------------------------------------------------------
    def play(self, number: str, audio_path: Path) -> PlaybackOutcome:
        channel = self.pool.acquire(number, str(audio_path))
        if channel is None:
            return PlaybackOutcome.NO_CHANNEL
        try:
            if not isinstance(number, str) or not number.strip() or len(number) > 32:
                raise ValueError("a playback call needs a phone number")
            length = probe_mp3(audio_path).duration_s
            decision = self.outcomes.decide(number, self.playback_answer_after_s)
            if decision.outcome == "voicemail":
                length += decision.greeting_s  # the message plays after the machine's greeting
            self._start(direction="outbound", extension=None, ani=self.playback_caller_id, did=None,
                        target=number, dtmf=None, record=False, purpose="playback", decision=decision,
                        duration_s=length, channel=channel)
        except (NotMp3, OSError, ValueError, TelephonyError) as exc:
            log.warning("play-by-phone to %s failed: %s", number, exc)
            self.pool.release(channel)
            return PlaybackOutcome.FAILED
        return PlaybackOutcome.PLAYING

    def channels(self) -> list[ChannelInfo]:
        return self.pool.snapshot()

    # -- reading ---------------------------------------------------------------------------
    def call(self, call_id: str) -> Optional[SwitchCallSnapshot]:
        try:
            call = self._find(call_id)
        except UnknownCall:
            return None
        with call.lock:
            self._advance(call, self._now(), [])
            finishing = call.finishing
        if finishing is not None:  # an ended call's snapshot carries its recording path
            self._await_recording(finishing)
        with call.lock:
            return self._snapshot(call)

    def stats(self) -> SchedulerStats:
        with self._lock:
            live = len(self._live)
        s = self._stats
        return SchedulerStats(ticks=s.ticks, late_ticks=s.late_ticks, busy_s=s.busy_s, max_busy_s=s.max_busy_s,
                              live_calls=live, recent_busy_s=tuple(self._recent_busy))

    def reset_stats(self) -> None:
        self._stats = SchedulerStats()
        self._recent_busy.clear()

    def _snapshot(self, call: _Call) -> SwitchCallSnapshot:
        def call_time(t: Optional[float]) -> Optional[float]:
            if t is None or call.t_answer is None:
                return None
            return round(max(0.0, t - call.t_answer), 3)

        spans = tuple(PausedSpan(started_at=self._utc(s0), ended_at=None if s1 is None else self._utc(s1),
                                 start_call_s=call_time(s0), end_call_s=call_time(s1)) for s0, s1 in call.spans)
        return SwitchCallSnapshot(
            **facts_of(call.facts), call_id=call.call_id, state=call.state, started_at=self._utc(call.t_start),
            answered_at=None if call.t_answer is None else self._utc(call.t_answer),
            ended_at=None if call.t_end is None else self._utc(call.t_end),
            recording_paused=call.paused, recording_path=call.recording_path,
            recording_duration_s=call.recording_duration_s, paused_spans=spans, held=call.held,
            bridged_with=call.bridged_with, answered_by=call.answered_by, purpose=call.purpose)

    # -- the call engine (always under the call's lock) -------------------------------------
    def _post(self, call: _Call, kind: str, t: float, **extra) -> int:
        event = SwitchEvent(kind=kind, call_id=call.call_id, at=self._utc(t), **facts_of(call.facts), **extra)
        return self._relay.post(event)

    def _advance(self, call: _Call, now: float, tickets: list[int]) -> None:
        """Bring a call up to switch time `now`: due answers and ends happen at the time
        they were due, and the audio up to `now` is encoded (or skipped while paused)."""
        if call.state == "ringing":
            give_up = call.give_up_due
            if give_up is not None and now >= give_up:
                outcome = call.decision.outcome
                result = {"busy": "Busy", "no_answer": "No Answer"}.get(outcome, "Abandoned")
                self._end(call, give_up, result, "failed" if outcome == "unreachable" else "ended", tickets)
                return
            due = call.answer_due
            if due is not None and now >= due:
                self._answer(call, due, tickets)
        if call.state == "answered":
            end = call.end_due
            self._record_to(call, (now if end is None else min(now, end)) - call.t_answer)
            if end is not None and now >= end:
                self._end(call, end, "Connected", "ended", tickets)

    def _answer(self, call: _Call, t: float, tickets: list[int]) -> None:
        call.state = "answered"
        call.t_answer = t
        call.answered_by = "voicemail" if call.decision.outcome == "voicemail" else "person"
        if call.channel is not None:
            self.pool.set_state(call.channel, "playing")
        if call.facts.record:
            try:
                call.encoder = RecordingEncoder(self.sample_rate, self.bitrate_kbps)
                # Named after the call, so what a crash leaves is matched to it on the next start.
                call.writer = self.store.new_writer(self._utc(call.t_start), keep_open=False, stem=call.call_id)
                call.pending += call.encoder.tag_placeholder()  # the Info tag goes here at the end
            except OSError:
                log.exception("cannot record call %s; it goes on unrecorded", call.call_id)
                self._drop_recording(call)
        tickets.append(self._post(call, "call.answered", t))

    def _record_to(self, call: _Call, position: float) -> None:
        """Encode (or, while paused, skip) call time [call.position, position)."""
        if position <= call.position:
            return
        encoder = call.encoder
        if encoder is not None:
            try:
                if call.paused:
                    encoder.skip_to(position)
                else:
                    call.pending += encoder.feed_seconds(call.position, position)
                    if len(call.pending) >= self._write_bytes:
                        call.writer.write(bytes(call.pending))
                        call.pending.clear()
            except OSError:
                log.exception("recording of call %s failed; it goes on unrecorded", call.call_id)
                self._drop_recording(call)
        call.position = position

    def _drop_recording(self, call: _Call) -> None:
        if call.writer is not None:
            call.writer.abort()
        call.encoder = call.writer = None
        call.pending = bytearray()

    def _end(self, call: _Call, t: float, result: CallResult, state: CallState, tickets: list[int]) -> None:
        if call.state == "answered":
            self._record_to(call, t - call.t_answer)
        if call.paused:
            call.spans[-1][1] = t
            call.paused = False
        call.state, call.t_end, call.facts = state, t, replace(call.facts, result=result)
        tickets.append(self._post(call, "call.ended", t))
        if call.channel is not None:
            self.pool.release(call.channel)
            call.channel = None
        if call.encoder is not None and call.writer is not None:
            encoder, writer, pending = call.encoder, call.writer, bytes(call.pending)
            call.encoder = call.writer = None
            call.pending = bytearray()
            call.finishing = self._files.submit(self._finish_recording, call, encoder, writer, pending, t)
        with self._lock:
            self._live.pop(call.call_id, None)
            self._ended[call.call_id] = call
            while len(self._ended) > self.keep_ended:
                self._ended.popitem(last=False)

    def _finish_recording(self, call: _Call, encoder: RecordingEncoder, writer: RecordingWriter,
                          pending: bytes, t: float) -> Optional[int]:
        """On the files thread: flush, complete the Info tag, commit, report recording.ready."""
        try:
            writer.write(pending + encoder.flush())
            tag = encoder.info_tag()
            if tag:
                writer.write_at(0, tag)
            path = writer.commit()
        except Exception:
            log.exception("cannot store the recording of call %s", call.call_id)
            writer.abort()
            return None
        with call.lock:
            call.recording_path = path
            call.recording_duration_s = round(encoder.duration_s, 3)
            return self._post(call, "recording.ready", max(t, self._now()), recording_path=path,
                              duration_s=call.recording_duration_s, gaps=self._gaps(call))

    @staticmethod
    def _gaps(call: _Call) -> tuple[Gap, ...]:
        # Pauses in switch time -> cuts in the recording's own timeline: each cut sits at
        # its call-time offset less everything already cut before it.
        gaps: list[Gap] = []
        cut = 0.0
        for start, end in call.spans:
            c0 = max(start, call.t_answer)
            c1 = min(call.t_end if end is None else end, call.t_end)
            if c1 <= c0:
                continue  # a pause that ended before the answer cut nothing
            call_offset = c0 - call.t_answer
            gaps.append(Gap(offset_s=round(call_offset - cut, 3), length_s=round(c1 - c0, 3),
                            call_offset_s=round(call_offset, 3)))
            cut += c1 - c0
        return tuple(gaps)

    # -- the scheduler -----------------------------------------------------------------------
    def _run(self) -> None:
        next_tick = time.perf_counter()
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                self._tick()
            except Exception:  # the clock must keep running whatever one tick did
                log.exception("simulated switch tick failed")
            busy = time.perf_counter() - began
            s = self._stats
            s.ticks += 1
            s.busy_s += busy
            s.max_busy_s = max(s.max_busy_s, busy)
            self._recent_busy.append(busy)
            next_tick += self.tick_s
            delay = next_tick - time.perf_counter()
            if delay < 0:
                s.late_ticks += 1
                next_tick = time.perf_counter()  # behind: do not burst to catch up, audio is by call time anyway
                delay = 0.0
            self._stop.wait(delay)

    def _tick(self) -> None:
        now = self._now()
        with self._lock:
            calls = list(self._live.values())
        if self._pool is None or len(calls) < _PARALLEL_FROM:
            self._advance_all(calls, now)
            return
        shards = [calls[i::self.workers] for i in range(self.workers)]
        futures = [self._pool.submit(self._advance_all, shard, now) for shard in shards[1:]]
        self._advance_all(shards[0], now)
        for future in futures:
            future.result()

    def _advance_all(self, calls: list[_Call], now: float) -> None:
        for call in calls:
            with call.lock:
                try:
                    self._advance(call, now, [])
                except Exception:
                    # One broken call must not stop the others: end it and carry on.
                    log.exception("simulated call %s failed", call.call_id)
                    self._fail(call, now)

    def _fail(self, call: _Call, now: float) -> None:
        try:
            self._drop_recording(call)
            if call.state in _LIVE:
                self._end(call, now, "Abandoned", "failed", [])
        except Exception:
            log.exception("cannot end simulated call %s cleanly", call.call_id)
        with self._lock:
            self._live.pop(call.call_id, None)

    # -- shutting down -----------------------------------------------------------------------
    def close(self) -> None:
        """Stop the scheduler, end every live call (recordings are committed), deliver the
        last events, stop the relay. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        now = self._now()
        with self._lock:
            calls = list(self._live.values())
        for call in calls:
            with call.lock:
                try:
                    self._advance(call, now, [])
                    if call.state in _LIVE:
                        self._end(call, now, "Connected" if call.state == "answered" else "Abandoned", "ended", [])
                except Exception:
                    log.exception("ending simulated call %s at close", call.call_id)
                    self._fail(call, now)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._files.shutdown(wait=True)  # every recording committed before the last events go
        self._relay.close()

    def __enter__(self) -> "SimulatedSwitch":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

