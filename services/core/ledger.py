"""The call ledger: the one place where calls start, are answered, end and get recordings.

CTI ingest and the simulated switch both feed it `CallEvent`s; every API reads what it
holds. Events are checked against the call's state: an end before a start is refused, a
repeated event is harmless (idempotent), an event that contradicts an earlier one is a
`Conflict`.
"""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NamedTuple, Optional, Sequence

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session, joinedload

from storage.models import Call, Campaign, Recording
from storage.statements import Prepared
from storage.units import UnitOfWork

from . import events
from .callfacts import CallFacts
from .errors import Conflict, InvalidInput, NotFound
from .phone import normalize_party

EVENT_KINDS = ("call.started", "call.answered", "call.ended", "recording.paused", "recording.resumed")
DIRECTIONS = ("inbound", "outbound")
INTERRUPTED = "Interrupted"  # the switch stopped (a crash) with the call in progress
RESULTS = ("Connected", "Busy", "No Answer", "Abandoned", INTERRUPTED)
INFO_DIGITS = ("", "p", "c")  # Callbutton: normal, payphone, cell phone
ADDRESS_KEYS = ("first_name", "middle_initial", "last_name", "street_address", "secondary_address",
                "city", "state", "zip", "zip4")
IN_PROGRESS = ("ringing", "answered")


@dataclass(frozen=True)
class CallEvent(CallFacts):
    """What a PBX or a switch reports about a call, as the ledger takes it: the call's
    facts (keyword arguments) a `kind` of event brings; what an event leaves out is None."""
    kind: str
    source: str  # who numbered the call: "cti" (a PBX), "sim" (the simulated switch)
    external_id: str
    at: datetime

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise InvalidInput(f"unknown event {self.kind!r}; expected one of {', '.join(EVENT_KINDS)}")
        if not self.external_id or len(self.external_id) > 128:
            raise InvalidInput("call_id must be 1 to 128 characters")
        if self.at.tzinfo is None:
            raise InvalidInput("event time must carry a UTC offset")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise InvalidInput(f"direction must be one of {', '.join(DIRECTIONS)}")
        if self.result is not None and self.result not in RESULTS:
            raise InvalidInput(f"result must be one of {', '.join(RESULTS)}")
        for name in ("extension", "ani", "did", "target", "dtmf", "index_number"):
            value = getattr(self, name)
            if value is not None and len(value) > 32:
                raise InvalidInput(f"{name} is longer than 32 characters")
        if self.info_digits is not None and self.info_digits not in INFO_DIGITS:
            raise InvalidInput("info_digits must be '', 'p' (payphone) or 'c' (cell phone)")
        if self.other_data is not None and len(self.other_data) > 4000:
            raise InvalidInput("other_data is longer than 4000 characters")
        if self.caller_address is not None:
            unknown = set(self.caller_address) - set(ADDRESS_KEYS)
            if unknown:
                raise InvalidInput(f"caller_address has unknown key(s) {', '.join(sorted(unknown))}; "
                                   f"expected {', '.join(ADDRESS_KEYS)}")
            if any(not isinstance(v, str) or len(v) > 200 for v in self.caller_address.values()):
                raise InvalidInput("caller_address values must be strings of at most 200 characters")


@dataclass(frozen=True)
class Gap:
    offset_s: float  # where in the recording's own timeline the paused span was cut out
    length_s: float


@dataclass(frozen=True)
class Outcome:
    """What an event left its call as."""
    call_id: int
    state: str
    reference: Optional[str]  # its recording's, if it is recorded
    recording_id: Optional[int]
    changed: bool  # False when the event repeated one already applied


_CALLS, _RECORDINGS = Call.__table__, Recording.__table__  # Core: no ORM step on the hot paths

# Statements every call event runs, built once (a statement made per call is compiled for
# SQLAlchemy's cache each time).
_REFERENCE_TAKEN = Prepared(select(_RECORDINGS.c.id).where(_RECORDINGS.c.reference == bindparam("reference")))
_CALL_BY_SOURCE_ID = select(Call).where(Call.source == bindparam("source"), Call.external_id == bindparam("external_id"))


def new_reference(session: UnitOfWork) -> str:
    """A fresh 10-digit recording reference number (blueButler's refNum)."""
    while True:
        reference = str(secrets.randbelow(9_000_000_000) + 1_000_000_000)
        if _REFERENCE_TAKEN.first(session, {"reference": reference}) is None:
            return reference


def find_call(session: Session, source: str, external_id: str) -> Optional[Call]:
    return session.scalar(_CALL_BY_SOURCE_ID, {"source": source, "external_id": external_id})


def _check_known(event: CallEvent, started_at: Optional[datetime]) -> None:
    """What every event but a start needs: a known call, and a time not before its start."""
    if started_at is None:
        raise NotFound(f"{event.kind} for unknown call {event.external_id!r}: send call.started first")
    if event.at < started_at:
        raise Conflict(f"{event.kind} at {event.at.isoformat()} is before the call started")


def apply_event(session: UnitOfWork, event: CallEvent, *, default_region: str = "US") -> Outcome:
    """Every kind runs prepared statements only, as do the subscribers to what it announces
    (Recall's routes, the audit log): the feeds (CTI, the switch) apply events in a statement
    unit (Database.unit). An ORM session works too: where it may hold the call (ending an
    interrupted call) what it changed is flushed first (_amid_orm)."""
    outcome = _HANDLERS[event.kind](session, event, default_region)
    if outcome.changed:
        if event.kind.startswith("recording."):
            events.publish(session, _ANNOUNCED[event.kind](call_id=outcome.call_id, recording_id=outcome.recording_id))
        else:
            events.publish(session, _ANNOUNCED[event.kind](call_id=outcome.call_id))
    return outcome


# What every event reads first: the call and its recording.
_CALL_AND_RECORDING = Prepared(
    select(_CALLS.c.id, _CALLS.c.state, _CALLS.c.started_at, _CALLS.c.answered_at, _CALLS.c.ended_at,
           _RECORDINGS.c.reference, _RECORDINGS.c.id, _RECORDINGS.c.state, _RECORDINGS.c.paused_spans)
    .select_from(_CALLS.outerjoin(_RECORDINGS, _RECORDINGS.c.call_id == _CALLS.c.id))
    .where(_CALLS.c.source == bindparam("source"), _CALLS.c.external_id == bindparam("external_id")))


class _Found(NamedTuple):
    call_id: int
    state: str
    started_at: datetime
    answered_at: Optional[datetime]
    ended_at: Optional[datetime]
    reference: Optional[str]
    recording_id: Optional[int]
    recording_state: Optional[str]
    paused_spans: Optional[list]


def _found(session: UnitOfWork, event: CallEvent) -> Optional[_Found]:
    row = _CALL_AND_RECORDING.first(session, {"source": event.source, "external_id": event.external_id})
    return None if row is None else _Found(*row)


def _known(session: UnitOfWork, event: CallEvent) -> _Found:
    """The call of an event that is not a start (checked by _check_known)."""
    found = _found(session, event)
    _check_known(event, found.started_at if found is not None else None)
    return found


def _kept_unless_given(name: str):
    """SET name = the event's value, or the column's own when the event leaves it out (the
    tracking details may come with the start or only at the end, the index number spoken
    at the end of the call)."""
    column = _CALLS.c[name]
    return func.coalesce(bindparam(name, type_=column.type), column)


_DETAILS = ("info_digits", "index_number", "other_data", "caller_address")
_NEW_CALL_COLUMNS = ("source", "external_id", "direction", "state", "started_at", "extension", "ani", "did", "target",
                     "dtmf", "campaign_id", *_DETAILS, "reviewed", "held")
_INSERT_CALL = Prepared(insert(_CALLS).values(
    {name: bindparam(name, type_=_CALLS.c[name].type) for name in _NEW_CALL_COLUMNS}).returning(_CALLS.c.id))
_NEW_RECORDING_COLUMNS = ("reference", "call_id", "state", "format", "paused_spans", "deletion_protected", "created_at")
_INSERT_RECORDING = Prepared(insert(_RECORDINGS).values(
    {name: bindparam(name, type_=_RECORDINGS.c[name].type) for name in _NEW_RECORDING_COLUMNS})
    .returning(_RECORDINGS.c.id))
_CAMPAIGN_EXISTS = Prepared(select(Campaign.__table__.c.id).where(Campaign.__table__.c.id == bindparam("id")))


def _started(session: UnitOfWork, event: CallEvent, region: str) -> Outcome:
    """The event a PBX sends most."""
    existing = _found(session, event)
    if existing is not None:
        if existing.started_at != event.at:
            raise Conflict(f"call {event.external_id!r} already started at {existing.started_at.isoformat()}")
        return Outcome(existing.call_id, existing.state, existing.reference, existing.recording_id, False)
    _check_campaign(session, event)
    (call_id,) = _INSERT_CALL.first(session, {
        "source": event.source, "external_id": event.external_id, "direction": event.direction or "inbound",
        "state": "ringing", "started_at": event.at, "extension": event.extension,
        "ani": normalize_party(event.ani, region), "did": normalize_party(event.did, region),
        "target": normalize_party(event.target, region), "dtmf": event.dtmf, "campaign_id": event.campaign_id,
        **{name: getattr(event, name) for name in _DETAILS}, "reviewed": False, "held": False})
    reference = recording_id = None
    if event.record:
        reference = new_reference(session)
        (recording_id,) = _INSERT_RECORDING.first(session, {
            "reference": reference, "call_id": call_id, "state": "recording", "format": "mp3", "paused_spans": [],
            "deletion_protected": False, "created_at": event.at})
    return Outcome(call_id, "ringing", reference, recording_id, True)


def _check_campaign(session: UnitOfWork, event: CallEvent) -> None:
    if event.campaign_id is not None and _CAMPAIGN_EXISTS.first(session, {"id": event.campaign_id}) is None:
        raise InvalidInput(f"unknown campaign {event.campaign_id}")


# Only a ringing call is answered, checked again by the UPDATE itself (two answers at once: one wins).
_ANSWER = Prepared(
    update(_CALLS).where(_CALLS.c.id == bindparam("id"), _CALLS.c.state == "ringing")
    .values(state="answered", answered_at=bindparam("at", type_=_CALLS.c.answered_at.type),
            target=_kept_unless_given("target"), extension=_kept_unless_given("extension"))
    .returning(_CALLS.c.id))


def _answered(session: UnitOfWork, event: CallEvent, region: str) -> Outcome:
    call_id, state, _, answered_at, _, reference, recording_id, _, _ = _known(session, event)
    if state == "answered" and answered_at == event.at:
        return Outcome(call_id, state, reference, recording_id, False)
    if state != "ringing":
        raise Conflict(f"call {event.external_id!r} is {state}; it cannot be answered now")
    if _ANSWER.first(session, {
            "id": call_id, "at": event.at, "target": normalize_party(event.target, region) if event.target else None,
            "extension": event.extension or None}) is None:  # another event of the call came first
        raise Conflict(f"call {event.external_id!r} changed while it was being answered; send the event again")
    return Outcome(call_id, "answered", reference, recording_id, True)


# Only the call as read is ended, checked again by the UPDATE itself (of two ends at once, or
# an end and an answer, one wins: the end's result and talk time are of the state it read).
_END = Prepared(
    update(_CALLS).where(_CALLS.c.id == bindparam("id"), _CALLS.c.state == bindparam("seen"))
    .values(state="ended", ended_at=bindparam("at", type_=_CALLS.c.ended_at.type),
            result=bindparam("result", type_=_CALLS.c.result.type),
            duration_s=bindparam("duration_s", type_=_CALLS.c.duration_s.type),
            talk_time_s=bindparam("talk_time_s", type_=_CALLS.c.talk_time_s.type),
            **{name: _kept_unless_given(name) for name in ("dtmf", "campaign_id", *_DETAILS)})
    .returning(_CALLS.c.id))
# A recording's new state and pauses, if its state is still the one read (of an end, a
# pause or a resume at the same moment, one wins).
_SWITCH_RECORDING = Prepared(
    update(_RECORDINGS).where(_RECORDINGS.c.id == bindparam("id"), _RECORDINGS.c.state == bindparam("seen"))
    .values(state=bindparam("state", type_=_RECORDINGS.c.state.type),
            paused_spans=bindparam("spans", type_=_RECORDINGS.c.paused_spans.type))
    .returning(_RECORDINGS.c.id))


def _ended(session: UnitOfWork, event: CallEvent, region: str) -> Outcome:
    """Prepared statements, in a session all the same: the end's in-transaction
    subscriber (Recall's CRM notices) loads the call into it."""
    call_id, state, started_at, answered_at, ended_at, reference, recording_id, recording_state, spans = \
        _known(session, event)
    if state == "ended":
        if ended_at == event.at:
            return Outcome(call_id, state, reference, recording_id, False)
        raise Conflict(f"call {event.external_id!r} already ended at {ended_at.isoformat()}")
    if answered_at is not None and event.at < answered_at:
        raise Conflict("call.ended is before the call was answered")
    _check_campaign(session, event)
    with _amid_orm(session, call_id, recording_id):
        if _END.first(session, {
                "id": call_id, "seen": state, "at": event.at,
                "result": event.result or ("Connected" if answered_at else "No Answer"),
                "duration_s": round((event.at - started_at).total_seconds()),
                "talk_time_s": round((event.at - answered_at).total_seconds()) if answered_at else 0,
                "dtmf": event.dtmf or None, "campaign_id": event.campaign_id,
                **{name: getattr(event, name) for name in _DETAILS}}) is None:
            raise Conflict(f"call {event.external_id!r} changed while it was being ended; send the event again")
        if recording_id is not None and recording_state in ("recording", "paused"):
            # Nobody answered: there is no conversation, so no audio will come. A pause ends with the call.
            if _SWITCH_RECORDING.first(session, {"id": recording_id, "seen": recording_state,
                                                 "spans": _pause_closed(spans, event.at),
                                                 "state": "awaiting_audio" if answered_at else "none"}) is None:
                raise Conflict(f"the recording of call {event.external_id!r} changed while the call was being "
                               "ended; send the event again")
    return Outcome(call_id, "ended", reference, recording_id, True)


def _pause_closed(spans: Optional[list], at: datetime) -> list:
    """The pauses, the last one closed at `at` if it is still open."""
    spans = list(spans or [])
    if spans and spans[-1].get("to") is None:
        spans[-1] = {**spans[-1], "to": at.isoformat()}
    return spans


@contextmanager
def _amid_orm(session: UnitOfWork, call_id: int, recording_id: Optional[int]):
    """Prepared statements writing a call and its recording in an ORM session: what the
    caller changed is flushed first, and a Call or Recording the session holds reads what
    the statements wrote, next time."""
    if not isinstance(session, Session):
        yield
        return
    session.flush()
    yield
    for model, key in ((Call, call_id), (Recording, recording_id)):
        loaded = session.identity_map.get(session.identity_key(model, key)) if key is not None else None
        if loaded is not None:
            session.expire(loaded)


def _switch_recording(session: UnitOfWork, event: CallEvent, *, pausing: bool) -> Outcome:
    """recording.paused / recording.resumed. A pause opens a span {from, to: None}; the
    resume (or the call's end) closes it."""
    call_id, call_state, _, _, _, reference, recording_id, state, spans = _known(session, event)
    if recording_id is None:
        raise Conflict(f"call {event.external_id!r} is not being recorded")
    done, needed = ("paused", "recording") if pausing else ("recording", "paused")
    if state == done:
        return Outcome(call_id, call_state, reference, recording_id, False)
    if state != needed or (pausing and call_state == "ended"):
        raise Conflict(f"recording of call {event.external_id!r} is {state}; it cannot {'pause' if pausing else 'resume'}")
    spans = [*(spans or []), {"from": event.at.isoformat(), "to": None}] if pausing else _pause_closed(spans, event.at)
    with _amid_orm(session, call_id, recording_id):
        if _SWITCH_RECORDING.first(session, {"id": recording_id, "seen": state, "spans": spans, "state": done}) is None:
            raise Conflict(f"the recording of call {event.external_id!r} changed meanwhile; send the event again")
    return Outcome(call_id, call_state, reference, recording_id, True)


def _paused(session: UnitOfWork, event: CallEvent, region: str) -> Outcome:
    return _switch_recording(session, event, pausing=True)


def _resumed(session: UnitOfWork, event: CallEvent, region: str) -> Outcome:
    return _switch_recording(session, event, pausing=False)


_ANNOUNCED = {
    "call.started": events.CallStarted,
    "call.answered": events.CallAnswered,
    "call.ended": events.CallEnded,
    "recording.paused": events.RecordingPaused,
    "recording.resumed": events.RecordingResumed,
}

_HANDLERS = {
    "call.started": _started,
    "call.answered": _answered,
    "call.ended": _ended,
    "recording.paused": _paused,
    "recording.resumed": _resumed,
}


def attach_audio(session: Session, call: Call, *, file_path: str, size_bytes: int, duration_s: float,
                 gaps: Sequence[Gap] = (), at: Optional[datetime] = None) -> Recording:
    """The recording's audio is in the store: make it available."""
    recording = call.recording
    if recording is None:
        recording = Recording(reference=new_reference(session), created_at=call.started_at, paused_spans=[])
        call.recording = recording
    recording.file_path = file_path
    recording.size_bytes = size_bytes
    recording.duration_s = round(duration_s, 3)
    if gaps:
        recording.paused_spans = [
            {**span, "offset_s": gap.offset_s, "length_s": gap.length_s}
            for span, gap in zip(_padded(recording.paused_spans, len(gaps)), gaps, strict=False)
        ]
    recording.state = "available"
    recording.available_at = at or datetime.now(timezone.utc)
    session.flush()
    events.publish(session, events.RecordingReady(call_id=call.id, recording_id=recording.id))
    return recording


def _padded(spans: Optional[list], count: int) -> list:
    spans = list(spans or [])
    return spans + [{} for _ in range(count - len(spans))]


def calls_awaiting_audio(session: Session, source: str) -> list[Call]:
    """The calls of `source` still in progress, or ended with their audio not yet in."""
    return list(session.scalars(
        select(Call).outerjoin(Recording, Recording.call_id == Call.id)
        .where(Call.source == source,
               (Call.state.in_(IN_PROGRESS)) | (Recording.state.in_(("recording", "paused", "awaiting_audio"))))
        .order_by(Call.id)))


def end_interrupted(session: Session, call: Call, at: datetime) -> None:
    """End a call its switch lost (it crashed): result Interrupted, at `at` (its last sign
    of life, never before it started or was answered)."""
    at = max(at, call.answered_at or call.started_at)
    apply_event(session, CallEvent(kind="call.ended", source=call.source, external_id=call.external_id,
                                   at=at, result=INTERRUPTED))


def answered_call_on(extension):
    """The id of the call in progress (answered, not ended) on `extension` (a column or a
    value), the newest if several: a scalar subquery, so AddLink finds a workstation and its
    active call's recording in one SELECT."""
    return (select(_CALLS.c.id).where(_CALLS.c.extension == extension, _CALLS.c.state == "answered")
            .order_by(_CALLS.c.answered_at.desc(), _CALLS.c.id.desc()).limit(1).scalar_subquery())


# Built once, as the call events' statements above.
_RECORDING_BY_REFERENCE = (select(Recording).options(joinedload(Recording.call))
                           .where(Recording.reference == bindparam("reference")))


def recording_by_reference(session: Session, reference: str) -> Optional[Recording]:
    """With its call loaded in the same SELECT: every caller checks who may listen (the
    call's extension) or describes the call."""
    return session.scalar(_RECORDING_BY_REFERENCE, {"reference": reference})
