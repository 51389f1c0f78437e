"""Durable outbound notifications: written in the same transaction as the change they
announce, delivered later by the outbox worker with retries and backoff.

States: `pending` (due at `next_attempt_at`), `sent`, and `failed` — the dead letter an
entry reaches after its last attempt; `retry` makes a dead letter pending again (the CLI's
`callsuite outbox retry`). Every entry carries an idempotency key, sent with each attempt,
so a receiver can drop a repeated delivery.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import OutboxEntry

from .errors import Conflict, InvalidInput, NotFound

KINDS = ("bms_link", "crm_url", "crm_web_service")
STATES = ("pending", "sent", "failed")


def enqueue(session: Session, kind: str, target: str, payload: dict[str, Any],
            now: Optional[datetime] = None, *, company_id: Optional[int] = None,
            idempotency_key: Optional[str] = None) -> OutboxEntry:
    """`idempotency_key` names the notice (e.g. one CRM notice per recording): an entry with
    the same key already queued is returned instead of a second one."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    if idempotency_key is not None:
        existing = session.scalar(select(OutboxEntry).where(OutboxEntry.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    now = now or datetime.now(timezone.utc)
    entry = OutboxEntry(kind=kind, target=target, payload=payload, state="pending", attempts=0,
                        created_at=now, next_attempt_at=now, company_id=company_id,
                        idempotency_key=idempotency_key or f"{kind}-{uuid.uuid4().hex}")
    session.add(entry)
    return entry


def entries(session: Session, states: Sequence[str] = (), limit: int = 200) -> list[OutboxEntry]:
    unknown = set(states) - set(STATES)
    if unknown:
        raise InvalidInput(f"unknown state(s) {', '.join(sorted(unknown))}; expected {', '.join(STATES)}")
    query = select(OutboxEntry)
    if states:
        query = query.where(OutboxEntry.state.in_(list(states)))
    return list(session.scalars(query.order_by(OutboxEntry.id.desc()).limit(limit)))


def retry(session: Session, entry_id: int, now: Optional[datetime] = None) -> OutboxEntry:
    """A dead letter becomes pending again, due now, with a fresh count of attempts; its
    idempotency key stays, so the receiver still recognises it."""
    entry = session.get(OutboxEntry, entry_id)
    if entry is None:
        raise NotFound(f"no outbox entry {entry_id}")
    if entry.state != "failed":
        raise Conflict(f"outbox entry {entry_id} is {entry.state}; only failed entries are retried")
    _requeue(session, [entry_id], now)
    session.refresh(entry)
    return entry


def retry_all_failed(session: Session, now: Optional[datetime] = None) -> int:
    ids = list(session.scalars(select(OutboxEntry.id).where(OutboxEntry.state == "failed")))
    return _requeue(session, ids, now)


def _requeue(session: Session, ids: list[int], now: Optional[datetime]) -> int:
    if not ids:
        return 0
    now = now or datetime.now(timezone.utc)
    # Conditional on the state, like every outbox transition: a worker never sees it half-done.
    result = session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(ids), OutboxEntry.state == "failed")
                             .values(state="pending", attempts=0, next_attempt_at=now)
                             .execution_options(synchronize_session=False))
    return result.rowcount
