"""The switch driver interface every service uses, and the events a switch reports.

A driver places and controls calls; what happens on the switch comes back as
`SwitchEvent`s through a `CallEventSink` that the composition root hands the driver. The
driver knows no storage schema and no protocol: ids are the switch's own, times are
aware UTC datetimes, recordings are paths relative to the `RecordingStore`.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Optional, Protocol, runtime_checkable

from services.core.callfacts import CallFacts, Direction  # noqa: F401  (part of the driver's interface)
from services.core.vocabulary import PlaybackOutcome  # noqa: F401  (part of the driver's interface)

log = logging.getLogger(__name__)

EVENT_KINDS = ("call.started", "call.answered", "call.ended",
               "recording.paused", "recording.resumed", "recording.ready")
EventKind = Literal["call.started", "call.answered", "call.ended",
                    "recording.paused", "recording.resumed", "recording.ready"]
CallResult = Literal["Connected", "Busy", "No Answer", "Abandoned"]
CallState = Literal["ringing", "answered", "ended", "failed"]
ChannelState = Literal["idle", "dialing", "playing"]


# -- errors ------------------------------------------------------------------------------
class TelephonyError(Exception):
    pass


class UnknownCall(TelephonyError, LookupError):
    pass


class InvalidCallState(TelephonyError):
    """The call exists but cannot do that now (hang up an ended call, pause an unrecorded one)."""


class SwitchUnavailable(TelephonyError):
    """The switch cannot take the request (closed, at capacity, link down)."""


# -- values ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gap:
    """A paused span cut out of a recording."""
    offset_s: float  # where, in the recording's own timeline, the cut is
    length_s: float  # how much call time is missing there
    call_offset_s: Optional[float] = None  # where the pause began, in call time since answer


@dataclass(frozen=True)
class SwitchEvent(CallFacts):
    """One thing that happened on the switch, with the call's facts (keyword arguments)."""
    kind: EventKind
    call_id: str  # the switch's id
    at: datetime  # aware UTC
    recording_path: Optional[str] = None  # recording.ready: relative to the RecordingStore
    duration_s: Optional[float] = None  # recording.ready: audio length (pauses excluded)
    gaps: tuple[Gap, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown switch event {self.kind!r}")
        if self.at.tzinfo is None:
            raise ValueError("switch event times must be aware (UTC)")


@dataclass(frozen=True)
class PausedSpan:
    started_at: datetime
    ended_at: Optional[datetime]  # None while still paused
    start_call_s: Optional[float]  # in call time since answer; None if paused before answer
    end_call_s: Optional[float]


@dataclass(frozen=True)
class SwitchCallSnapshot(CallFacts):
    """A call as the switch has it now: its facts (keyword arguments) and its state."""
    call_id: str
    state: CallState
    started_at: datetime
    answered_at: Optional[datetime]
    ended_at: Optional[datetime]
    recording_paused: bool
    recording_path: Optional[str]  # set once the file is committed
    recording_duration_s: Optional[float]
    paused_spans: tuple[PausedSpan, ...]
    held: bool = False
    bridged_with: Optional[str] = None
    answered_by: Optional[Literal["person", "voicemail"]] = None
    purpose: Literal["call", "playback"] = "call"


@dataclass(frozen=True)
class ChannelInfo:
    channel_id: int
    state: ChannelState
    number: Optional[str] = None
    call_id: Optional[str] = None
    audio_path: Optional[str] = None
    since: Optional[datetime] = None


# -- protocols ---------------------------------------------------------------------------
@runtime_checkable
class CallEventSink(Protocol):
    def handle(self, event: SwitchEvent) -> None: ...


@runtime_checkable
class SwitchDriver(Protocol):
    def place_call(self, *, extension: Optional[str], number: Optional[str], direction: Direction,
                   ani: Optional[str], did: Optional[str], answer_after_s: Optional[float],
                   duration_s: Optional[float], record: bool = True, dtmf: Optional[str] = None) -> str:
        """Start a call and return the switch's id; `call.started` has reached the sink by then."""
        ...

    def answer(self, call_id: str) -> None: ...

    def hangup(self, call_id: str) -> None: ...

    def hold(self, call_id: str) -> None: ...

    def retrieve(self, call_id: str) -> None: ...

    def bridge(self, call_a: str, call_b: str) -> None: ...

    def pause_recording(self, call_id: str) -> None: ...

    def resume_recording(self, call_id: str) -> None: ...

    def play(self, number: str, audio_path: Path) -> PlaybackOutcome: ...

    def channels(self) -> list[ChannelInfo]: ...

    def call(self, call_id: str) -> Optional[SwitchCallSnapshot]: ...

    def close(self) -> None: ...


# -- ordered delivery --------------------------------------------------------------------
@dataclass
class _Stats:
    delivered: int = 0
    failed: int = 0


class EventRelay:
    """Delivers events to a sink from one thread, in the order they were posted.

    The switch's own threads never wait on the sink (a slow database must not stall the
    audio), yet a caller can `wait(ticket)` until its event, and everything posted before
    it, has been handled; that is how `call.started` is delivered before `place_call`
    returns. A sink that raises is logged and the next event goes on.
    """

    def __init__(self, sink: CallEventSink, name: str = "switch-events") -> None:
        self._sink = sink
        self._queue: deque[tuple[int, SwitchEvent]] = deque()
        self._cond = threading.Condition()
        self._posted = 0
        self._handled = 0
        self._closing = False
        self._dispatching = threading.local()
        self.stats = _Stats()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def post(self, event: SwitchEvent) -> int:
        """Queue an event (never blocks); returns a ticket for `wait`."""
        with self._cond:
            self._posted += 1
            self._queue.append((self._posted, event))
            self._cond.notify_all()
            return self._posted

    def wait(self, ticket: int, timeout: float = 30.0) -> bool:
        """Block until the event with this ticket has been handled."""
        if getattr(self._dispatching, "active", False):
            # Called from inside the sink (a listener placing a call): waiting for our own
            # thread would deadlock, so deliver the queue up to the ticket right here.
            while True:
                with self._cond:
                    if self._handled >= ticket or not self._queue:
                        return self._handled >= ticket
                    item = self._queue.popleft()
                self._deliver(item)
        with self._cond:
            return self._cond.wait_for(lambda: self._handled >= ticket, timeout=timeout)

    def _deliver(self, item: tuple[int, SwitchEvent]) -> None:
        ticket, event = item
        try:
            self._sink.handle(event)
            self.stats.delivered += 1
        except Exception:
            self.stats.failed += 1
            log.exception("the event sink failed on %s for call %s", event.kind, event.call_id)
        with self._cond:
            self._handled = max(self._handled, ticket)
            self._cond.notify_all()

    def _run(self) -> None:
        self._dispatching.active = True
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closing)
                if not self._queue:
                    return  # closing and drained
                item = self._queue.popleft()
            self._deliver(item)

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued, then stop."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
