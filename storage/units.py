"""The lighter unit of work of the hot paths: the pool's driver connection, no ORM Session
and no SQLAlchemy Connection.

A Session costs ~40 µs of Python a request beyond its statements (its transaction objects,
flush bookkeeping, events; bench/profile_addlink.py), and a Core Connection ~13 µs more per
unit than the pool's own connection (its begin, commit and close events, transaction
objects), on requests that spend ~300 µs in all. A `StatementUnit` is what is left once
that goes: a connection checked out of the engine's pool at the first statement, its
transaction begun by the database's own rule (`begin`: on SQLite BEGIN IMMEDIATE under
the writer lock for a write unit; nothing for a read unit, whose statements each see the
database as it is; on PostgreSQL the driver begins one itself), and the session's `info`
and transaction look-ups that the domain events need (events.publish and the EventBus
hooks treat it as a session without savepoints). It runs prepared statements
(storage.statements) only: it has no ORM methods and no Core `execute`, so a use case
that loads or adds models, or builds a statement per call, cannot be handed one by
mistake (AttributeError, never a silently different result). Database.unit() and
Database.read_unit() hand them out.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


class StatementUnit:
    def __init__(self, engine: Engine, begin: Optional[Callable[[Any], None]] = None) -> None:
        self._engine = engine
        self._begin = begin
        self.dialect = engine.dialect
        self._pooled = None  # the pool's connection, once a statement needs it
        self.info: dict[Any, Any] = {}  # as Session.info: the domain events pending and committed

    def driver_connection(self):
        """The driver's connection, its transaction begun at the first statement (as a Session's)."""
        if self._pooled is None:
            pooled = self._driver_call("connect", self._engine.raw_connection)
            try:
                if self._begin is not None:
                    self._begin(pooled.driver_connection)
            except BaseException:
                pooled.close()
                raise
            self._pooled = pooled
        return self._pooled.driver_connection

    # What events.publish and EventBus.before_commit ask of a session: one transaction, no savepoints.
    def get_transaction(self) -> "StatementUnit":
        return self

    def get_nested_transaction(self) -> None:
        return None

    def in_nested_transaction(self) -> bool:
        return False

    def commit(self) -> None:
        if self._pooled is not None:
            self._driver_call("COMMIT", self._pooled.driver_connection.commit)

    def rollback(self) -> None:
        self.info.clear()  # its events go with it
        if self._pooled is not None:
            self._driver_call("ROLLBACK", self._pooled.driver_connection.rollback)

    def close(self) -> None:
        if self._pooled is not None:
            pooled, self._pooled = self._pooled, None
            pooled.close()  # back to the pool, which rolls back a transaction still open

    def _driver_call(self, what: str, call: Callable[[], Any]) -> Any:
        # Driver errors come out as SQLAlchemy's (a refused connection as OperationalError),
        # as from a Session: the pool's own connect does not translate them.
        error = self.dialect.loaded_dbapi.Error
        try:
            return call()
        except error as exc:
            raise DBAPIError.instance(what, None, exc, error, dialect=self.dialect) from exc


# What a use case that runs only prepared statements takes: either unit of work.
UnitOfWork = Union[Session, StatementUnit]
