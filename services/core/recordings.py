"""Recordings as the APIs see them: who may listen, playing by phone, Recall's lookup."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Optional, TypeVar

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Call, Company, Extension, Recording, User
from storage.statements import Prepared, detached
from storage.units import UnitOfWork

from . import crm, events
from .errors import Forbidden, InvalidInput, NotFound, Unauthorized
from .phone import to_e164
from .security import verify_password_cached
from .vocabulary import PlaybackOutcome

R = TypeVar("R", "Playable", "RecordingFacts")

# Every signed-in request reads its account, and every MP3 request its recording: prepared
# once (storage.statements), no ORM load.
_USERS, _RECORDINGS, _CALLS = User.__table__, Recording.__table__, Call.__table__
_USER_COLUMNS = tuple(_USERS.c)
_USER_NAMED = Prepared(select(*_USER_COLUMNS).where(_USERS.c.username == bindparam("username")))


@dataclass(frozen=True)
class Playable:
    """What sending a recording needs: its file, its call, and the call's extension (who
    may listen)."""
    id: int
    call_id: int
    reference: str
    file_path: str
    available_at: Optional[datetime]
    extension: Optional[str]


_PLAYABLE = Prepared(
    select(_RECORDINGS.c.id, _RECORDINGS.c.call_id, _RECORDINGS.c.reference, _RECORDINGS.c.file_path,
           _RECORDINGS.c.available_at, _CALLS.c.extension)
    .select_from(_RECORDINGS.join(_CALLS, _CALLS.c.id == _RECORDINGS.c.call_id))
    .where(_RECORDINGS.c.reference == bindparam("reference"), _RECORDINGS.c.state == "available",
           _RECORDINGS.c.file_path.is_not(None)))


def user_named(session: UnitOfWork, username: Optional[str]) -> Optional[User]:
    """The account a sign-in names (None for none), read before its password is checked;
    a User of no session (its columns only)."""
    row = _USER_NAMED.first(session, {"username": username}) if username else None
    return None if row is None else detached(User, _USER_COLUMNS, row)


def verified_user(user: Optional[User], password: Optional[str]) -> User:
    """The user, if the password is theirs. Outside any transaction: argon2 is deliberately
    slow (and runs for an unknown user too, so timing does not tell)."""
    if not verify_password_cached(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("unknown user or wrong password")
    return user


# The Database, not a session: the password is checked (argon2, slow) after the read has ended.
def authenticate(database, username: Optional[str], password: Optional[str]) -> User:
    """The user with these credentials (detached)."""
    if not username or password is None:
        raise Unauthorized("credentials required")
    with database.read_unit() as unit:
        user = user_named(unit, username)
    return verified_user(user, password)


def may_listen(user: User, recording: Recording) -> bool:
    """Global listening rights open every recording; others hear their own extension's."""
    return _may_hear_extension(user, recording.call.extension if recording.call is not None else None)


def _may_hear_extension(user: User, extension: Optional[str]) -> bool:
    return user.global_listening or (bool(user.extension) and extension == user.extension)


def may_ask_for_extension(user: Optional[User], extension: str) -> None:
    """Recall's look-up by a signed-in user (None: an allowed network) names only
    extensions whose recordings that user may hear."""
    if user is not None and not user.global_listening and extension != user.extension:
        raise Forbidden("this user may not look up recordings of that extension")


def recording_for_listener(session: Session, user: User, reference: str) -> Playable:
    """The available recording `user` may hear; NotFound, or Forbidden for another's."""
    return listenable(user, playable(session, reference), reference)


class RecordingFacts(NamedTuple):
    """A recording as GetRecordingInfo describes it: its columns and its call's."""
    reference: str
    call_id: int
    direction: str
    extension: Optional[str]
    ani: Optional[str]
    did: Optional[str]
    target: Optional[str]
    started_at: datetime
    ended_at: Optional[datetime]
    state: str
    duration_s: Optional[float]
    deletion_protected: bool
    paused_spans: Optional[list]


_RECORDING_FACTS = Prepared(
    select(_RECORDINGS.c.reference, _RECORDINGS.c.call_id, _CALLS.c.direction, _CALLS.c.extension, _CALLS.c.ani,
           _CALLS.c.did, _CALLS.c.target, _CALLS.c.started_at, _CALLS.c.ended_at, _RECORDINGS.c.state,
           _RECORDINGS.c.duration_s, _RECORDINGS.c.deletion_protected, _RECORDINGS.c.paused_spans)
    .select_from(_RECORDINGS.join(_CALLS, _CALLS.c.id == _RECORDINGS.c.call_id))
    .where(_RECORDINGS.c.reference == bindparam("reference")))


def described_recording(session: UnitOfWork, user: User, reference: str) -> RecordingFacts:
    """The recording of this reference, in any state, if `user` may hear it; NotFound, or
    Forbidden for another's."""
    row = _RECORDING_FACTS.first(session, {"reference": reference})
    return listenable(user, None if row is None else RecordingFacts(*row), reference)


def playable(session: UnitOfWork, reference: str) -> Optional[Playable]:
    """The available recording of this reference, whoever asks (None: there is none)."""
    row = _PLAYABLE.first(session, {"reference": reference})
    return None if row is None else Playable(*row)


def listenable(user: User, recording: Optional[R], reference: str) -> R:
    """`recording` (found by `playable` or described, with its call's extension) if `user`
    may hear it; NotFound, or Forbidden for another's."""
    if recording is None:
        raise NotFound(f"no recording {reference!r}")
    if not _may_hear_extension(user, recording.extension):
        raise Forbidden("this user may not listen to that recording")
    return recording


def note_listening(session: UnitOfWork, recording: Playable | Recording, *, download: bool) -> None:
    """The audio is being sent to someone: announce it (the audit log records who)."""
    kind = events.RecordingDownloaded if download else events.RecordingPlayed
    events.publish(session, kind(call_id=recording.call_id, recording_id=recording.id))


_PROTECT = Prepared(update(_RECORDINGS).where(_RECORDINGS.c.id == bindparam("recording_id"),
                                              _RECORDINGS.c.deletion_protected.is_(False))
                    .values(deletion_protected=True).returning(_RECORDINGS.c.id))


def protect_from_deletion(session: UnitOfWork, *, recording_id: int, call_id: int) -> bool:
    """Protect a recording from retention deletion and announce it (the audit log records
    who): one conditional UPDATE, so of two at once one protects. False if it already was."""
    if _PROTECT.first(session, {"recording_id": recording_id}) is None:
        return False
    events.publish(session, events.RecordingProtected(call_id=call_id, recording_id=recording_id))
    return True


@dataclass(frozen=True)
class PlaybackAudio:
    path: Path
    call_id: int
    recording_id: int


def playback_audio(session: Session, store, user: User, reference: str) -> PlaybackAudio:
    """The audio file Play by Phone plays to the user: the recording must be one they may hear."""
    recording = recording_for_listener(session, user, reference)
    return PlaybackAudio(store.path_of(recording.file_path), recording.call_id, recording.id)


def play_by_phone(switch, audio: PlaybackAudio, phone: str, default_region: str) -> PlaybackOutcome:
    """PLAYING when a playback channel was taken and the call placed. No session: the caller
    has read `audio` (playback_audio) in a transaction that has ended, as the switch's call
    is written to the ledger by the switch's own thread."""
    if switch is None:
        return PlaybackOutcome.NO_CHANNEL  # no playback hardware configured
    try:
        number = to_e164(phone, default_region)
    except InvalidInput:
        return PlaybackOutcome.FAILED
    return switch.play(number, audio.path)


def note_played_by_phone(session: Session, audio: PlaybackAudio) -> None:
    """A Play by Phone call was placed: announce it (the audit log records who asked)."""
    events.publish(session, events.RecordingPlayed(call_id=audio.call_id, recording_id=audio.recording_id,
                                                   medium="phone"))


# --- Recall (seed 003) ------------------------------------------------------------------

def _digits(number: Optional[str]) -> str:
    return "".join(ch for ch in number or "" if ch.isdigit())


class RecallCandidate(NamedTuple):
    """A recording Recall's look-up may answer: its own columns, its call's and the prefix of
    the call's company (the call's own, or its extension's; crm.company_for_call)."""
    id: int
    call_id: int
    reference: str
    file_path: Optional[str]
    state: str
    started_at: datetime
    ani: Optional[str]
    did: Optional[str]
    target: Optional[str]
    recording_path_prefix: Optional[str]


# Recall's look-up runs on every CRM screen pop: one prepared SELECT (storage.statements),
# the recordings, their calls and companies together, no ORM load per candidate.
_EXTENSIONS, _COMPANIES = Extension.__table__, Company.__table__
_RECALL_CANDIDATES = Prepared(
    select(_RECORDINGS.c.id, _RECORDINGS.c.call_id, _RECORDINGS.c.reference, _RECORDINGS.c.file_path,
           _RECORDINGS.c.state, _CALLS.c.started_at, _CALLS.c.ani, _CALLS.c.did, _CALLS.c.target,
           _COMPANIES.c.recording_path_prefix)
    .select_from(_RECORDINGS.join(_CALLS, _RECORDINGS.c.call_id == _CALLS.c.id)
                 .outerjoin(_EXTENSIONS, _EXTENSIONS.c.number == _CALLS.c.extension)
                 .outerjoin(_COMPANIES, _COMPANIES.c.id == func.coalesce(_CALLS.c.company_id,
                                                                         _EXTENSIONS.c.company_id)))
    .where(_CALLS.c.extension == bindparam("extension"), _RECORDINGS.c.state == "available",
           _CALLS.c.started_at <= bindparam("latest_start", type_=_CALLS.c.started_at.type),
           or_(_CALLS.c.ended_at.is_(None),
               _CALLS.c.ended_at >= bindparam("earliest_end", type_=_CALLS.c.ended_at.type)))
    .order_by(_CALLS.c.started_at.desc()).limit(50))


def recall_candidates(session: UnitOfWork, *, extension: str, when: datetime,
                      tolerance: timedelta) -> list[RecallCandidate]:
    """The available recordings of calls on `extension` that span `when` (or began within
    `tolerance` of it), newest first, at most 50."""
    return [RecallCandidate(*row) for row in _RECALL_CANDIDATES.all(session, {
        "extension": extension, "latest_start": when + tolerance, "earliest_end": when - tolerance})]


# The Database, not a session: a look-up that protects nothing is a read unit (no write lock).
def retrieve_rec_file(database, store, *, extension: str, when: datetime, phone: Optional[str],
                      protect: bool, tolerance: timedelta) -> str:
    """Full path of the recording of the call on `extension` that spans `when` (or began
    within `tolerance` of it), matching `phone` against either party, as the company's CRM
    can open it (crm.audio_file); "" when none."""
    if not extension:
        raise InvalidInput("sExtension is required")
    with database.unit() if protect else database.read_unit() as unit:
        return _recall(unit, store, extension=extension, when=when, phone=phone, protect=protect,
                       tolerance=tolerance)


def _recall(session: UnitOfWork, store, *, extension: str, when: datetime, phone: Optional[str],
            protect: bool, tolerance: timedelta) -> str:
    candidates = recall_candidates(session, extension=extension, when=when, tolerance=tolerance)
    wanted = _digits(phone)
    for found in sorted(candidates, key=lambda c: abs((c.started_at - when).total_seconds())):
        if wanted and not any(_digits(n).endswith(wanted) or (wanted.endswith(_digits(n)) and _digits(n))
                              for n in (found.ani, found.did, found.target)):
            continue
        if protect:
            protect_from_deletion(session, recording_id=found.id, call_id=found.call_id)
        return crm.audio_file_at(found.recording_path_prefix, found.reference, found.file_path, found.state, store)
    return ""
