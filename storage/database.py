"""Database setup: engine, one session per unit of work, migrations applied at start."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x43616C6C  # any constant shared by every process of this application


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'callsuite.db').resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (reports, console) run while the switch writes calls.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn) -> None:
    read_only = conn.get_execution_options().get("callsuite_read_only", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """Owns the engine; hands out sessions. No protocol knowledge lives here."""

    def __init__(self, url: str, *, echo: bool = False, hooks=None) -> None:
        """`hooks`, if given, has before_commit(session), after_commit(session) and
        after_soft_rollback(session, transaction): the domain event bus, called around every
        commit and rollback of a session from here."""
        self.url = url
        kwargs: dict = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling defers BEGIN; take it over so writers
            # lock at BEGIN IMMEDIATE and never deadlock on lock upgrade.
            event.listen(self.engine, "connect", lambda conn, _r: setattr(conn, "isolation_level", None))
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
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
