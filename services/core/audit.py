"""The audit log: who played, downloaded, linked, paused, resumed, protected or deleted
which recording, from where (table audit_entries, read with `callsuite audit`).

Entries are written by in-transaction subscribers of the domain events (events.py), so an
entry exists exactly when its action was committed. Who acted is the *origin* of the
current request: the edge plumbing describes it (`acting`: the HTTP middleware for every
request, the CLI for its commands) and the sign-in code adds the user. An action the
simulated switch reports from its own thread (a pause an agent asked for) is credited to
the origin that `claim`ed that call while asking; anything else the switch reports alone
is the switch's.

Plays over HTTP are logged once per listener, recording and address a minute: a media
player's stream of Range requests is one listening, not hundreds.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Optional

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from storage.models import AuditEntry, Recording
from storage.statements import Prepared
from storage.units import UnitOfWork

from . import events

REPLAY_WINDOW = timedelta(seconds=60)
CLAIM_TTL_S = 30.0
MAX_REMEMBERED_PLAYS = 10_000


@dataclass(frozen=True)
class Origin:
    user: Optional[str] = None
    address: Optional[str] = None
    surface: Optional[str] = None  # the route ("GET /bluebutler/service/MP3/<reference>") or command
    binding: Optional[str] = None  # http, rest, jsonp, soap11, soap12, cli, switch
    request_id: Optional[str] = None


SWITCH = Origin(surface="the switch", binding="switch")

_origin: ContextVar[Optional[Callable[[], Origin]]] = ContextVar("callsuite_audit_origin", default=None)


@contextmanager
def acting(describe: Callable[[], Origin]) -> Iterator[None]:
    """Within the block, actions are credited to `describe()` (read when the action happens,
    so a user signed in halfway through the request is included)."""
    token = _origin.set(describe)
    try:
        yield
    finally:
        _origin.reset(token)


def current() -> Optional[Origin]:
    describe = _origin.get()
    return describe() if describe is not None else None


class AuditLog:
    """The subscribers that write audit entries, and the claims of calls whose recording
    the switch changes on a caller's behalf (one per System)."""

    def __init__(self) -> None:
        self._claims: dict[int, tuple[Origin, float]] = {}
        self._plays: dict[tuple, datetime] = {}
        self._lock = threading.Lock()

    def register(self, bus: events.EventBus) -> "AuditLog":
        bus.subscribe(events.LinkMade, self._linked)
        bus.subscribe(events.RecordingPaused, lambda s, e: self._switched(s, e, "paused"))
        bus.subscribe(events.RecordingResumed, lambda s, e: self._switched(s, e, "resumed"))
        bus.subscribe(events.RecordingPlayed, self._played)
        bus.subscribe(events.RecordingDownloaded, lambda s, e: self._write(s, "downloaded", e.recording_id))
        bus.subscribe(events.RecordingProtected, lambda s, e: self._write(s, "protected", e.recording_id))
        bus.subscribe(events.RecordingDeleted, lambda s, e: self._write(s, "deleted", e.recording_id))
        return self

    @contextmanager
    def claim(self, call_id: int) -> Iterator[None]:
        """Changes to this call's recording reported (by the switch, from its own thread)
        while the block runs are credited to the current origin."""
        origin = current()
        if origin is None:
            yield
            return
        with self._lock:
            self._claims[call_id] = (origin, time.monotonic() + CLAIM_TTL_S)
        try:
            yield
        finally:
            with self._lock:
                self._claims.pop(call_id, None)

    def _claimed(self, call_id: int) -> Optional[Origin]:
        with self._lock:
            claim = self._claims.get(call_id)
        return claim[0] if claim is not None and claim[1] > time.monotonic() else None

    # -- subscribers ---------------------------------------------------------------------

    def _write(self, session: UnitOfWork, action: str, recording_id: Optional[int], *, origin: Optional[Origin] = None,
               detail: Optional[str] = None, now: Optional[datetime] = None) -> None:
        origin = origin or current() or SWITCH
        values = {"at": now or datetime.now(timezone.utc), "action": action, "user": _cut(origin.user, 200),
                  "address": _cut(origin.address, 64), "surface": _cut(origin.surface, 200),
                  "binding": _cut(origin.binding, 16), "request_id": _cut(origin.request_id, 64),
                  "detail": _cut(detail, 1000)}
        if recording_id is None:
            _INSERT_ENTRY.run(session, {**values, "recording_id": None, "reference": None, "call_id": None})
        else:
            _INSERT_ENTRY_OF_RECORDING.run(session, {**values, "recording_id": recording_id})

    def _linked(self, session: UnitOfWork, event: events.LinkMade) -> None:
        self._write(session, "linked", event.recording_id, detail=f"activity {event.activity_id}")

    def _switched(self, session: Session, event, action: str) -> None:
        origin = current() or self._claimed(event.call_id)
        self._write(session, action, event.recording_id, origin=origin)

    def _played(self, session: UnitOfWork, event: events.RecordingPlayed) -> None:
        if event.medium == "phone":
            self._write(session, "played_by_phone", event.recording_id)
            return
        origin = current() or SWITCH
        now = datetime.now(timezone.utc)
        listening = (event.recording_id, origin.user, origin.address)
        if self._logged_since(listening, now - REPLAY_WINDOW):
            return  # no statement at all: a player's Range requests take no write lock
        (logged_at,) = _LAST_PLAY.first(session, {"recording_id": event.recording_id, "user": origin.user,
                                                  "address": origin.address, "since": now - REPLAY_WINDOW})
        if logged_at is not None:  # by another process, or before this one started
            self._remember(listening, logged_at)
            return
        self._write(session, "played", event.recording_id, origin=origin, now=now)
        events.after_commit(session, lambda: self._remember(listening, now))

    # Plays this process knows are logged (a committed entry, and when): the next minute of
    # a player's Range requests needs no database. Only a skip: a miss asks the database,
    # which holds every process's entries.
    def _logged_since(self, listening: tuple, since: datetime) -> bool:
        with self._lock:
            logged_at = self._plays.get(listening)
        return logged_at is not None and logged_at > since

    def _remember(self, listening: tuple, logged_at: datetime) -> None:
        with self._lock:
            if len(self._plays) >= MAX_REMEMBERED_PLAYS:
                since = datetime.now(timezone.utc) - REPLAY_WINDOW
                self._plays = {key: at for key, at in self._plays.items() if at > since}
            if len(self._plays) < MAX_REMEMBERED_PLAYS:
                self._plays[listening] = logged_at


# Every action of a request writes one entry: prepared once (storage.statements, only
# their parameters vary), the recording's reference and call copied in by the INSERT itself.
_ENTRIES, _RECORDINGS = AuditEntry.__table__, Recording.__table__
_ENTRY_VALUES = ("at", "action", "user", "address", "surface", "binding", "request_id", "detail")
_ENTRY_BINDS = [bindparam(name, type_=_ENTRIES.c[name].type) for name in _ENTRY_VALUES]
_INSERT_ENTRY = Prepared(insert(_ENTRIES).values(
    {bind.key: bind for bind in (*_ENTRY_BINDS, *(bindparam(name, type_=_ENTRIES.c[name].type)
                                                  for name in ("recording_id", "reference", "call_id")))}))
_INSERT_ENTRY_OF_RECORDING = Prepared(insert(_ENTRIES).from_select(
    [*_ENTRY_VALUES, "recording_id", "reference", "call_id"],
    select(*_ENTRY_BINDS, _RECORDINGS.c.id, _RECORDINGS.c.reference, _RECORDINGS.c.call_id)
    .where(_RECORDINGS.c.id == bindparam("recording_id"))))
# The newest play of a recording by this user at this address (either may be none: IS, not =).
_LAST_PLAY = Prepared(select(func.max(_ENTRIES.c.at)).where(
    _ENTRIES.c.action == "played", _ENTRIES.c.recording_id == bindparam("recording_id"),
    _ENTRIES.c.user.is_not_distinct_from(bindparam("user", type_=_ENTRIES.c.user.type)),
    _ENTRIES.c.address.is_not_distinct_from(bindparam("address", type_=_ENTRIES.c.address.type)),
    _ENTRIES.c.at > bindparam("since", type_=_ENTRIES.c.at.type)))


def _cut(value: Optional[str], limit: int) -> Optional[str]:
    return None if value is None else str(value)[:limit]


def entries(session: Session, *, since: Optional[datetime] = None, reference: Optional[str] = None,
            limit: int = 1000) -> list[AuditEntry]:
    """Oldest first; the newest `limit` of those matching."""
    query = select(AuditEntry)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if reference is not None:
        query = query.where(AuditEntry.reference == reference)
    rows = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)).all()
    return list(reversed(rows))
