"""Database setup: engine, one session per unit of work, migrations applied at start."""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Optional

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, literal_column, make_url, select, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from .statements import Prepared
from .units import StatementUnit

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x43616C6C  # any constant shared by every process of this application


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'callsuite.db').resolve()}"


BUSY_TIMEOUT_S = 10  # how long SQLite's busy handler lets a writer wait for another process's
# How long a writer waits for another writer of this process before "database is locked".
# SQLite counts its busy timeout in nominal sleeps, which on a loaded machine stretch far
# past 10 s of wall time (demo provisioning hashes passwords in its transaction); this
# lock counts wall time, so it allows more.
WRITER_LOCK_TIMEOUT_S = 30


def sqlite_pragmas(dbapi_connection, _record=None) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (reports, console) run while the switch writes calls.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.close()


class NestedWriteTransaction(RuntimeError):
    """A thread that holds a SQLite write transaction began a second one on another
    connection: on SQLite the second waits for the first, which waits for it (a certain
    stall, then "database is locked"). Raised at once instead."""


class WriterLock:
    """The SQLite write lock of one database file, taken in this process before BEGIN
    IMMEDIATE and released right after COMMIT or ROLLBACK.

    SQLite already lets one writer in at a time; what this changes is how the others wait:
    SQLite's busy handler sleeps in growing steps (1, 2, 5 ... 100 ms) and retries, so a
    writer queued behind a few others sleeps long after the lock was free (the p99 tail of
    every writing request). Here a waiting writer wakes the moment the lock is released.
    A wait has a limit (WRITER_LOCK_TIMEOUT_S, then the same "database is locked" error as
    SQLite's), so code that would stall on SQLite's lock ends in the same error here.
    A thread asking for it while it holds it already (a nested write session) is refused
    at once (NestedWriteTransaction). Other processes on the file still meet SQLite's own
    lock and busy handler."""

    def __init__(self, timeout_s: float = WRITER_LOCK_TIMEOUT_S) -> None:
        self._lock = threading.Lock()
        self.timeout_s = timeout_s
        self.owner: Optional[int] = None  # the thread holding it (for the nesting check)

    def acquire(self) -> None:
        if self.owner == threading.get_ident():
            raise NestedWriteTransaction(
                "this thread already holds a write transaction on this SQLite database; "
                "finish it before opening another write session")
        if not self._lock.acquire(timeout=self.timeout_s):
            busy = sqlite3.OperationalError(
                f"database is locked (another writer of this process held it for over {self.timeout_s:g} s)")
            busy.sqlite_errorcode, busy.sqlite_errorname = sqlite3.SQLITE_BUSY, "SQLITE_BUSY"
            raise busy
        self.owner = threading.get_ident()

    def release(self) -> None:
        self.owner = None
        self._lock.release()


_writer_locks: dict[str, WriterLock] = {}
_writer_locks_guard = threading.Lock()


def writer_lock_for(path: str) -> WriterLock:
    """One lock per database file in this process, however many Database objects open it."""
    key = str(Path(path).resolve())
    with _writer_locks_guard:
        return _writer_locks.setdefault(key, WriterLock())


class WriterLockedConnection(sqlite3.Connection):
    """A pysqlite connection that gives the writer lock back as its transaction ends
    (after the COMMIT or ROLLBACK itself: a writer woken earlier would meet SQLite's busy
    lock and sleep). Closing it (the pool discarding it) ends the transaction too."""

    writer_lock: Optional[WriterLock] = None
    holds_writer_lock = False

    def take_writer_lock(self) -> None:
        self.writer_lock.acquire()
        self.holds_writer_lock = True

    def _give_back(self) -> None:
        if self.holds_writer_lock:
            self.holds_writer_lock = False
            self.writer_lock.release()

    def commit(self) -> None:
        super().commit()
        self._give_back()  # a failed COMMIT keeps it until the rollback that follows

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()


def begin_sqlite(dbapi, *, read_only: bool = False) -> None:
    """BEGIN for readers, BEGIN IMMEDIATE (under the writer lock) for writers, sent on the
    driver's connection itself: a statement through SQLAlchemy's execution path costs more
    than the rest of a short transaction."""
    locked = not read_only and getattr(dbapi, "writer_lock", None) is not None
    try:
        if locked:
            dbapi.take_writer_lock()
        dbapi.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        if locked:
            dbapi.rollback()  # gives the lock back
        raise OperationalError("BEGIN", None, exc) from None
    except BaseException:
        if locked:
            dbapi.rollback()
        raise


def _sqlite_begin(conn) -> None:
    """A Session's or Core connection's BEGIN on SQLite (the engine's "begin" event)."""
    begin_sqlite(conn.connection.driver_connection,
                 read_only=conn.get_execution_options().get("callsuite_read_only", False))


_PING = Prepared(select(literal_column("1")))


# SQLite's primary result codes that mean "not now" (another writer, the file or its disk
# away or full). Its generic SQLITE_ERROR (a missing table, a syntax error) is also an
# OperationalError, but a bug or an unmigrated database, which waiting does not mend.
_SQLITE_TRANSIENT = frozenset({
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL})


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not answer just now (a connection refused or
    cut, the pool exhausted, a lock or serialization conflict, SQLite's "database is
    locked"), so the same request may well succeed a moment later."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError) and isinstance(exc.orig, sqlite3.Error):
        code = getattr(exc.orig, "sqlite_errorcode", None)  # None: the module's own refusal
        return code is not None and (code & 0xFF) in _SQLITE_TRANSIENT
    return isinstance(exc, (OperationalError, InterfaceError, PoolTimeout))


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and (parsed.database in (None, "", ":memory:")
                                                      or "mode=memory" in str(parsed))


class Database:
    """Owns the engine; hands out sessions. No protocol knowledge lives here."""

    def __init__(self, url: str, *, echo: bool = False, hooks=None, pool_size: int = 10) -> None:
        """`hooks`, if given, has before_commit(session), after_commit(session) and
        after_soft_rollback(session, transaction): the domain event bus, called around every
        commit and rollback of a session from here. `pool_size`: the connections kept open,
        at least the threads that use them at once (more are opened and closed per use,
        which on SQLite costs more than a short request)."""
        self.url = url
        kwargs: dict = {"echo": echo, "future": True}
        if not _in_memory(url):  # an in-memory SQLite database lives in one connection per thread
            kwargs.update(pool_size=pool_size, max_overflow=10)
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_S,
                                      "factory": WriterLockedConnection}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", sqlite_pragmas)
            # pysqlite's own transaction handling defers BEGIN; take it over so writers
            # lock at BEGIN IMMEDIATE and never deadlock on lock upgrade.
            event.listen(self.engine, "connect", lambda conn, _r: setattr(conn, "isolation_level", None))
            database_path = self.engine.url.database
            if database_path and database_path != ":memory:" and not database_path.startswith("file:"):
                lock = writer_lock_for(database_path)
                event.listen(self.engine, "connect", lambda conn, _r: setattr(conn, "writer_lock", lock))
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._hooks = hooks
        if hooks is not None:
            event.listen(self._sessions, "before_commit", hooks.before_commit)
            event.listen(self._sessions, "after_commit", hooks.after_commit)
            event.listen(self._sessions, "after_soft_rollback", hooks.after_soft_rollback)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One explicit transaction: committed on success, rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A transaction that only reads (reports, look-ups, credential checks): on SQLite it
        takes no write lock, so long reads never hold up the switch writing calls."""
        session = self._sessions()
        try:
            session.connection(execution_options={"callsuite_read_only": True})
            yield session
        finally:
            session.close()  # ends the transaction; loaded objects stay readable, detached

    @contextmanager
    def unit(self) -> Iterator[StatementUnit]:
        """session() for a hot path that runs only prepared statements
        (storage.units): one transaction, committed on success with the same domain-event
        hooks, rolled back on any error; opened at its first statement, so a unit that
        runs none touches no connection."""
        unit = StatementUnit(self.engine, begin_sqlite if self.is_sqlite else None)
        try:
            yield unit
            if self._hooks is not None:
                self._hooks.before_commit(unit)  # its subscribers' statements join the transaction
            unit.commit()
            if self._hooks is not None:
                self._hooks.after_commit(unit)
        except BaseException:
            unit.rollback()
            raise
        finally:
            unit.close()

    @contextmanager
    def read_unit(self) -> Iterator[StatementUnit]:
        """Reads by prepared statements that need not see one snapshot together (a
        sign-in's look-ups, a listing that is one SELECT, a report's batch): on SQLite no
        BEGIN and no ROLLBACK, each statement sees the database as it is when it runs; no
        write lock. Statements fewer matter on a request as short as an MP3 Range request."""
        unit = StatementUnit(self.engine)  # no BEGIN: pysqlite, told no isolation level, autocommits
        try:
            yield unit
        finally:
            unit.close()

    def ping(self) -> None:
        """One round trip to the database; raises if it does not answer."""
        with self.read_unit() as unit:
            _PING.first(unit, {})

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent). On PostgreSQL under an
        advisory lock held for the transaction, so processes starting together on one
        database migrate one after the other (SQLite's BEGIN IMMEDIATE does the same)."""
        with self.engine.begin() as connection:
            if not self.is_sqlite:
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def pending_migrations(self) -> list[str]:
        """Revisions not yet applied to this database, oldest first (empty: up to date)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(alembic_config(self.url))
        with self.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        pending = []
        for revision in script.walk_revisions():  # newest first
            if revision.revision in current:
                break
            pending.append(revision.revision)
        return list(reversed(pending))

    def dispose(self) -> None:
        self.engine.dispose()


def advance_id_sequences(session: Session, tables: Iterable[str]) -> None:
    """After rows were written with explicit ids (provisioning), move PostgreSQL's id
    sequences past them, or the next row without an id would collide. SQLite needs nothing."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
