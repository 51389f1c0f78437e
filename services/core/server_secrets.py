"""Random keys shared by every server process using the same database (table
server_secrets): created by whichever process asks first, then read by all."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import ServerSecret


def shared_secret(session: Session, name: str) -> bytes:
    row = session.get(ServerSecret, name)
    if row is None:
        try:
            with session.begin_nested():  # a savepoint: losing the race keeps the caller's transaction
                session.add(ServerSecret(name=name, value=secrets.token_hex(32),
                                         created_at=datetime.now(timezone.utc)))
        except IntegrityError:
            pass  # another process created it first: use theirs
        row = session.get(ServerSecret, name, populate_existing=True)
    return bytes.fromhex(row.value)
