"""Durable outbound notifications: written in the same transaction as the change they
announce, delivered later by the outbox worker with retries and backoff."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy.orm import Session

from storage.models import OutboxEntry

KINDS = ("bms_link", "crm_url", "crm_web_service")


def enqueue(session: Session, kind: str, target: str, payload: dict[str, Any],
            now: Optional[datetime] = None) -> OutboxEntry:
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    now = now or datetime.now(timezone.utc)
    entry = OutboxEntry(kind=kind, target=target, payload=payload, state="pending", attempts=0,
                        created_at=now, next_attempt_at=now)
    session.add(entry)
    return entry
