"""What a refused or hostile request must leave alone: the database, table by table."""
from __future__ import annotations

import hashlib
from typing import Iterable, Optional

from sqlalchemy import select

from storage.models import Base

# A failed sign-in is recorded (services/core/throttle.py): that row is the refusal working.
SIGN_IN_FAILURES = "signin_failures"


def fingerprint(database, models: Optional[Iterable] = None, *,
                ignore: Iterable[str] = (SIGN_IN_FAILURES,)) -> dict[str, tuple[int, str]]:
    """{table: (row count, hash of every row)} for `models` (default: every table but
    `ignore`). Compare two fingerprints with ==; a difference names the table."""
    tables = ([model.__table__ for model in models] if models is not None
              else [table for table in Base.metadata.sorted_tables if table.name not in set(ignore)])
    prints = {}
    with database.read_session() as session:
        for table in tables:
            digest, count = hashlib.sha256(), 0
            for row in session.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
                count += 1
            prints[table.name] = (count, digest.hexdigest())
    return prints


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
