"""The lighter unit of work of the hot paths: one Core connection, no ORM Session.

A Session costs ~40 µs of Python a request beyond its statements (its transaction objects,
flush bookkeeping, events; bench/profile_addlink.py), on requests that spend ~300 µs in
all. A `StatementUnit` is what is left once that goes: the connection, begun at the first
statement, and the session's `info` and transaction look-ups that the domain events need
(events.publish and the EventBus hooks treat it as a session without savepoints). It runs prepared statements
(storage.statements) and Core statements through `connection()`; it has no ORM methods,
so a use case that loads or adds models cannot be handed one by mistake (AttributeError,
never a silently different result). Database.unit() and Database.read_unit() hand them out.
"""
from __future__ import annotations

from typing import Any, Optional, Union

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session


class StatementUnit:
    def __init__(self, engine: Engine, execution_options: Optional[dict] = None) -> None:
        self._engine = engine
        self._execution_options = execution_options
        self._connection: Optional[Connection] = None
        self.info: dict[Any, Any] = {}  # as Session.info: the domain events pending and committed

    def connection(self) -> Connection:
        """The unit's connection, its transaction begun (on SQLite: BEGIN IMMEDIATE under the
        writer lock, or nothing for a read unit) at the first statement, as a Session's."""
        if self._connection is None:
            connection = self._engine.connect()
            if self._execution_options:
                connection.execution_options(**self._execution_options)
            try:
                connection.begin()
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    # What events.publish and EventBus.before_commit ask of a session: one transaction, no savepoints.
    def get_transaction(self) -> "StatementUnit":
        return self

    def get_nested_transaction(self) -> None:
        return None

    def in_nested_transaction(self) -> bool:
        return False

    def commit(self) -> None:
        if self._connection is not None:
            self._connection.commit()

    def rollback(self) -> None:
        self.info.clear()  # its events go with it
        if self._connection is not None:
            self._connection.rollback()

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()  # back to the pool (a transaction still open is rolled back)


# What a use case that runs only prepared or Core statements takes: either unit of work.
UnitOfWork = Union[Session, StatementUnit]
