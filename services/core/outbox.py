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

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from storage.models import OutboxEntry
from storage.statements import Prepared
from storage.units import UnitOfWork

from .errors import Conflict, InvalidInput, NotFound

KINDS = ("bms_link", "crm_url", "crm_web_service")
STATES = ("pending", "sent", "failed")


_OUTBOX = OutboxEntry.__table__
_ENTRY_OF_KEY = Prepared(select(_OUTBOX.c.id).where(_OUTBOX.c.idempotency_key == bindparam("key")))
_NEW_ENTRY_COLUMNS = ("kind", "target", "payload", "state", "attempts", "created_at", "next_attempt_at",
                      "company_id", "idempotency_key")
_INSERT_ENTRY = Prepared(insert(_OUTBOX).values(
    {name: bindparam(name, type_=_OUTBOX.c[name].type) for name in _NEW_ENTRY_COLUMNS}).returning(_OUTBOX.c.id))


def enqueue(session: UnitOfWork, kind: str, target: str, payload: dict[str, Any],
            now: Optional[datetime] = None, *, company_id: Optional[int] = None,
            idempotency_key: Optional[str] = None) -> int:
    """The id of a new pending entry, due now. `idempotency_key` names the notice (e.g. one
    CRM notice per recording): the entry already queued with that key is kept instead of a
    second one. Prepared statements, in an ORM session too (a call's end queues its CRM
    notices in a statement unit)."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    if idempotency_key is not None:
        existing = _ENTRY_OF_KEY.first(session, {"key": idempotency_key})
        if existing is not None:
            return existing[0]
    now = now or datetime.now(timezone.utc)
    return _INSERT_ENTRY.first(session, {
        "kind": kind, "target": target, "payload": payload, "state": "pending", "attempts": 0, "created_at": now,
        "next_attempt_at": now, "company_id": company_id,
        "idempotency_key": idempotency_key or f"{kind}-{uuid.uuid4().hex}"})[0]


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
