"""Status events of callback requests (seed 001), read back for subscribers (the SignalR
hub `NotifyMe`, Server-Sent Events); callbacks.record_status writes them.

A subscriber's position is, per callback request, the id of the last CallbackEvent it
has received. Positions are kept per request rather than one global "last id": the events
of one request are written one after the other, so their ids commit in order, but events
of two requests may commit out of id order, and a single global position could skip one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Optional

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import CallbackEvent, CallbackRequest, HubSubscription

from . import callbacks
from .errors import InvalidInput

FINAL_STATUSES = frozenset({callbacks.CALL_SUCCEEDED, callbacks.CALL_FAILED})
CONFIRMATION_CODE = re.compile(r"\d{10}")
MAX_SUBSCRIPTIONS_PER_CONNECTION = 20


@dataclass(frozen=True)
class StatusEvent:
    event_id: int
    request_id: int
    confirmation_code: str
    status: str
    at: datetime

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


def find_request(session: Session, confirmation_code: str) -> Optional[CallbackRequest]:
    if not isinstance(confirmation_code, str) or not CONFIRMATION_CODE.fullmatch(confirmation_code):
        return None
    return callbacks.by_confirmation_code(session, confirmation_code)


def statuses_after(session: Session, positions: Mapping[int, int]) -> list[StatusEvent]:
    """The events of these requests after each one's position, oldest first."""
    if not positions:
        return []
    rows = session.execute(
        select(CallbackEvent.id, CallbackEvent.request_id, CallbackRequest.confirmation_code,
               CallbackEvent.status, CallbackEvent.at)
        .join(CallbackRequest, CallbackRequest.id == CallbackEvent.request_id)
        .where(CallbackEvent.request_id.in_(list(positions)), CallbackEvent.id > min(positions.values()))
        .order_by(CallbackEvent.id)).all()
    return [StatusEvent(*row) for row in rows if row[0] > positions[row[1]]]


def _chunks(values: Iterable, size: int = 500):
    """Long IN lists in slices (SQLite allows a limited number of bound parameters)."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def latest_event_ids(session: Session, request_ids: Iterable[int]) -> dict[int, int]:
    """The newest event id of each of these requests that has any."""
    result: dict[int, int] = {}
    for chunk in _chunks(request_ids):
        result.update(session.execute(
            select(CallbackEvent.request_id, func.max(CallbackEvent.id))
            .where(CallbackEvent.request_id.in_(chunk)).group_by(CallbackEvent.request_id)).all())
    return result


def final_request_ids(session: Session, request_ids: Iterable[int]) -> set[int]:
    ids = list(request_ids)
    if not ids:
        return set()
    return set(session.scalars(select(CallbackEvent.request_id).distinct().where(
        CallbackEvent.request_id.in_(ids), CallbackEvent.status.in_(FINAL_STATUSES))))


# --- hub subscriptions (one row per connection and request) ------------------------------

def subscribe(session: Session, connection_id: str, request: CallbackRequest) -> bool:
    """Subscribe the connection to the request's statuses; False if it already was."""
    existing = session.scalars(select(HubSubscription.request_id).where(
        HubSubscription.connection_id == connection_id)).all()
    if request.id in existing:
        return False
    if len(existing) >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
        raise InvalidInput(f"a connection may subscribe to at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} codes")
    session.add(HubSubscription(connection_id=connection_id, request_id=request.id,
                                created_at=datetime.now(timezone.utc)))
    return True


def subscribed_request_ids(session: Session, connection_id: str) -> list[int]:
    return list(session.scalars(select(HubSubscription.request_id).where(
        HubSubscription.connection_id == connection_id).order_by(HubSubscription.id)))


def subscription_counts(session: Session, connection_ids: Iterable[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for chunk in _chunks(connection_ids):
        result.update(session.execute(
            select(HubSubscription.connection_id, func.count())
            .where(HubSubscription.connection_id.in_(chunk)).group_by(HubSubscription.connection_id)).all())
    return result


def unsubscribe_all(session: Session, connection_id: str) -> None:
    session.execute(delete(HubSubscription).where(HubSubscription.connection_id == connection_id))


def purge_subscriptions(session: Session, older_than: timedelta) -> int:
    """Forget the subscriptions of connections that ended without an abort."""
    cutoff = datetime.now(timezone.utc) - older_than
    return session.execute(delete(HubSubscription).where(HubSubscription.created_at < cutoff)).rowcount
