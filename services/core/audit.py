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

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage.models import ActivityLink, AuditEntry, Recording

from . import events

REPLAY_WINDOW = timedelta(seconds=60)
CLAIM_TTL_S = 30.0


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

    def _write(self, session: Session, action: str, recording_id: Optional[int], *, origin: Optional[Origin] = None,
               detail: Optional[str] = None, now: Optional[datetime] = None) -> None:
        origin = origin or current() or SWITCH
        recording = session.get(Recording, recording_id) if recording_id is not None else None
        session.execute(insert(AuditEntry.__table__).values(
            at=now or datetime.now(timezone.utc), action=action, recording_id=recording_id,
            reference=recording.reference if recording is not None else None,
            call_id=recording.call_id if recording is not None else None,
            user=_cut(origin.user, 200), address=_cut(origin.address, 64), surface=_cut(origin.surface, 200),
            binding=_cut(origin.binding, 16), request_id=_cut(origin.request_id, 64), detail=_cut(detail, 1000)))

    def _linked(self, session: Session, event: events.LinkMade) -> None:
        row = session.execute(select(ActivityLink.activity_id, ActivityLink.recording_id)
                              .where(ActivityLink.id == event.link_id)).first()
        if row is not None:
            self._write(session, "linked", row.recording_id, detail=f"activity {row.activity_id}")

    def _switched(self, session: Session, event, action: str) -> None:
        origin = current() or self._claimed(event.call_id)
        self._write(session, action, event.recording_id, origin=origin)

    def _played(self, session: Session, event: events.RecordingPlayed) -> None:
        if event.medium == "phone":
            self._write(session, "played_by_phone", event.recording_id)
            return
        origin = current() or SWITCH
        now = datetime.now(timezone.utc)
        recent = session.scalar(select(AuditEntry.id).where(
            AuditEntry.action == "played", AuditEntry.recording_id == event.recording_id,
            _same(AuditEntry.user, origin.user), _same(AuditEntry.address, origin.address),
            AuditEntry.at > now - REPLAY_WINDOW).limit(1))
        if recent is None:
            self._write(session, "played", event.recording_id, origin=origin, now=now)


def _same(column, value):
    return column.is_(None) if value is None else column == value


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
