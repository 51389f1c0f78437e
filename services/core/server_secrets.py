"""Random keys shared by every server process using the same database (table
server_secrets): created by whichever process asks first, then read by all."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy.exc import IntegrityError

from storage.models import ServerSecret


def shared_secret(database, name: str) -> bytes:
    with database.read_session() as session:
        row = session.get(ServerSecret, name)
    if row is None:
        try:
            with database.session() as session:
                session.add(ServerSecret(name=name, value=secrets.token_hex(32),
                                         created_at=datetime.now(timezone.utc)))
        except IntegrityError:
            pass  # another process created it first: use theirs
        with database.read_session() as session:
            row = session.get(ServerSecret, name)
    return bytes.fromhex(row.value)
