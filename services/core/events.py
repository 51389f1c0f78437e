"""Domain events: what happened to a call, a recording, a link or a callback request.

The core publishes an event into the session of the change it announces. When that
session commits, the event bus first runs the in-transaction subscribers (which may write,
e.g. outbox entries: an event is never lost, nor acted on for a rolled-back change), then,
after the commit, the on-commit subscribers (wake-ups: event streams, workers). With
PostgreSQL the events also reach the on-commit subscribers of every other process sharing
the database (storage.notify: LISTEN/NOTIFY, sent inside the same transaction).
"""
from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.orm import Session

from storage.units import UnitOfWork

log = logging.getLogger(__name__)

_PENDING = "callsuite.events.pending"
_COMMITTED = "callsuite.events.committed"
_AFTER_COMMIT = "callsuite.events.after_commit"  # callbacks of the transaction being made
_CALLBACKS_DUE = "callsuite.events.callbacks_due"  # ... moved here by its (outermost) commit


@dataclass(frozen=True)
class CallStarted:
    call_id: int


@dataclass(frozen=True)
class CallAnswered:
    call_id: int


@dataclass(frozen=True)
class CallEnded:
    call_id: int


@dataclass(frozen=True)
class RecordingReady:
    call_id: int
    recording_id: int


@dataclass(frozen=True)
class RecordingPaused:
    call_id: int
    recording_id: int


@dataclass(frozen=True)
class RecordingResumed:
    call_id: int
    recording_id: int


@dataclass(frozen=True)
class LinkMade:
    link_id: int
    recording_id: int
    activity_id: str


@dataclass(frozen=True)
class RecordingPlayed:
    """Someone listened: streamed over HTTP (`medium` "http") or played down a phone line ("phone")."""
    call_id: int
    recording_id: int
    medium: str = "http"


@dataclass(frozen=True)
class RecordingDownloaded:
    call_id: int
    recording_id: int


@dataclass(frozen=True)
class RecordingProtected:
    """Marked protected from retention deletion (Recall's bDeletionProtected)."""
    call_id: int
    recording_id: int


@dataclass(frozen=True)
class RecordingDeleted:
    """Its audio was deleted (retention purge)."""
    call_id: int
    recording_id: int


@dataclass(frozen=True)
class CallbackStatusChanged:
    request_id: int
    confirmation_code: str
    status: str
    event_id: int


EVENT_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    CallStarted, CallAnswered, CallEnded, RecordingReady, RecordingPaused, RecordingResumed, LinkMade,
    CallbackStatusChanged, RecordingPlayed, RecordingDownloaded, RecordingProtected, RecordingDeleted)}

InTransactionHandler = Callable[[UnitOfWork, Any], None]
OnCommitHandler = Callable[[Any], None]


def publish(session: UnitOfWork, event: Any) -> None:
    """Announce `event` as part of the change being made in `session` (tagged with the
    innermost transaction, so a rolled-back savepoint takes its events with it)."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((transaction, event))


def after_commit(session: UnitOfWork, callback: Callable[[], None]) -> None:
    """Run `callback()` once the change being made in `session` is committed (never if it
    rolls back): for what a subscriber may only remember once its write is durable."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def to_message(event: Any) -> dict:
    return {"type": type(event).__name__, **dataclasses.asdict(event)}


def from_message(message: dict) -> Any:
    fields = dict(message)
    cls = EVENT_TYPES[fields.pop("type")]
    return cls(**fields)


class EventBus:
    """Subscribers by event type. Held by the System; the database calls its hooks."""

    def __init__(self) -> None:
        self._in_transaction: dict[type, list[InTransactionHandler]] = defaultdict(list)
        self._on_commit: dict[type, list[OnCommitHandler]] = defaultdict(list)
        self.forward: Callable[[UnitOfWork, list], None] | None = None  # set where events cross processes

    def subscribe(self, event_type: type, handler: InTransactionHandler) -> None:
        """`handler(session, event)` runs inside the publishing transaction, before commit;
        if it raises, the whole change rolls back."""
        self._in_transaction[event_type].append(handler)

    def on_commit(self, event_type: type, handler: OnCommitHandler) -> None:
        """`handler(event)` runs once the change is committed; its errors are logged, never
        raised into the publisher."""
        self._on_commit[event_type].append(handler)

    # -- hooks the database calls ------------------------------------------------------

    def before_commit(self, session: UnitOfWork) -> None:
        if session.in_nested_transaction():
            return  # a savepoint: its events wait for the real commit
        committed = session.info.setdefault(_COMMITTED, [])
        # Subscribers may publish in turn; keep going until nothing new is pending.
        while session.info.get(_PENDING):
            batch = [event for _, event in session.info.pop(_PENDING)]
            for event in batch:
                for handler in self._in_transaction.get(type(event), ()):
                    handler(session, event)
            committed.extend(batch)
        if committed and self.forward is not None:
            self.forward(session, committed)
        session.info.setdefault(_CALLBACKS_DUE, []).extend(session.info.pop(_AFTER_COMMIT, []))

    def after_commit(self, session: UnitOfWork) -> None:
        for callback in session.info.pop(_CALLBACKS_DUE, []):  # empty after a savepoint's commit
            try:
                callback()
            except Exception:
                log.exception("after-commit callback %r failed", callback)
        self.deliver(session.info.pop(_COMMITTED, []))  # empty after a savepoint's commit

    def after_soft_rollback(self, session: Session, rolled_back) -> None:
        """Events published in the rolled-back transaction (or a savepoint inside it) go."""
        def inside(transaction) -> bool:
            while transaction is not None:
                if transaction is rolled_back:
                    return True
                transaction = transaction.parent
            return False

        pending = [(t, e) for t, e in session.info.pop(_PENDING, []) if not inside(t)]
        if pending:
            session.info[_PENDING] = pending
        if not rolled_back.nested:
            session.info.pop(_COMMITTED, None)
            session.info.pop(_AFTER_COMMIT, None)
            session.info.pop(_CALLBACKS_DUE, None)

    def deliver(self, events: list) -> None:
        """Run the on-commit subscribers (for this process's commits and for events that
        other processes committed)."""
        for event in events:
            for handler in self._on_commit.get(type(event), ()):
                try:
                    handler(event)
                except Exception:
                    log.exception("on-commit subscriber %r failed for %r", handler, event)
