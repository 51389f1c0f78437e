"""SQLite's writers queue on a lock in the process (woken as soon as it is free, not by
SQLite's sleeping busy handler), with the same timeout as SQLite's, and a thread that
would wait for itself is told at once."""
import sqlite3
import threading

import pytest
from sqlalchemy import func, select, table, text
from sqlalchemy.exc import DBAPIError, OperationalError

from storage.database import Database, NestedWriteTransaction, unavailable, writer_lock_for
from storage.statements import Prepared
from storage.units import StatementUnit

INSERT = text("INSERT INTO notes (body) VALUES (:body)")
COUNT = text("SELECT count(*) FROM notes")
PREPARED_COUNT = Prepared(select(func.count()).select_from(table("notes")))


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'lock.db'}")
    with database.session() as session:
        session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    yield database
    database.dispose()


def count(database) -> int:
    with database.read_session() as session:
        return session.execute(COUNT).scalar_one()


def test_writers_of_many_threads_all_commit(database):
    failures = []

    def write(worker: int) -> None:
        try:
            for n in range(40):
                with database.session() as session:
                    session.execute(INSERT, {"body": f"{worker}-{n}"})
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert count(database) == 8 * 40


def test_a_nested_write_session_in_one_thread_is_refused_at_once(database):
    with database.session() as outer:
        outer.execute(INSERT, {"body": "outer"})
        with pytest.raises(NestedWriteTransaction):
            with database.session() as inner:
                inner.execute(INSERT, {"body": "inner"})
        # A read beside it is fine: readers take no write lock.
        with database.read_session() as reader:
            assert reader.execute(COUNT).scalar_one() == 0
    assert count(database) == 1
    with database.session() as session:  # the lock was given back
        session.execute(INSERT, {"body": "after"})
    assert count(database) == 2


def test_a_writer_waiting_longer_than_the_timeout_gets_database_is_locked(database, tmp_path):
    writer_lock_for(str(tmp_path / "lock.db")).timeout_s = 0.2
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with database.session() as session:
            session.execute(INSERT, {"body": "holder"})
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(OperationalError, match="database is locked") as refused:
            with database.session() as session:
                session.execute(INSERT, {"body": "waiter"})
        assert unavailable(refused.value)  # come again, as for SQLite's own busy lock
    finally:
        release.set()
        holder.join()
    with database.session() as session:
        session.execute(INSERT, {"body": "later"})
    assert count(database) == 2


def test_a_failed_write_session_gives_the_lock_back(database):
    with pytest.raises(LookupError):
        with database.session() as session:
            session.execute(INSERT, {"body": "rolled back"})
            raise LookupError("the unit of work failed")
    done = threading.Event()

    def write_elsewhere() -> None:
        with database.session() as session:
            session.execute(INSERT, {"body": "other thread"})
        done.set()

    thread = threading.Thread(target=write_elsewhere)
    thread.start()
    thread.join(30)
    assert done.is_set()
    assert count(database) == 1


def test_two_database_objects_on_one_file_share_the_lock(database, tmp_path):
    other = Database(f"sqlite:///{tmp_path / 'lock.db'}")
    try:
        with database.session() as session:
            session.execute(INSERT, {"body": "first"})
            with pytest.raises(NestedWriteTransaction):
                with other.session() as second:
                    second.execute(INSERT, {"body": "second"})
        with other.session() as second:
            second.execute(INSERT, {"body": "second"})
    finally:
        other.dispose()
    assert count(database) == 2


def test_a_read_unit_sees_each_commit_as_it_happens_and_a_read_session_does_not(database):
    # A read session keeps seeing the database as at its first statement; the sign-in's
    # read unit holds no read transaction between its statements.
    for reading, seen_after_write in ((database.read_session, 0), (database.read_unit, 1)):
        with database.session() as session:
            session.execute(text("DELETE FROM notes"))
        with reading() as reader:
            assert PREPARED_COUNT.first(reader, {}) == (0,)
            with database.session() as writer:
                writer.execute(INSERT, {"body": "meanwhile"})
            assert PREPARED_COUNT.first(reader, {}) == (seen_after_write,)
            driver = (reader.driver_connection() if isinstance(reader, StatementUnit)
                      else reader.connection().connection.driver_connection)
            assert driver.in_transaction is (seen_after_write == 0)

def test_only_sqlites_not_now_errors_are_unavailable(database, tmp_path):
    # A missing table is a bug or an unmigrated database: a 500, not "try again shortly".
    with pytest.raises(OperationalError, match="no such table") as missing:
        with database.read_session() as session:
            session.execute(text("SELECT * FROM missing"))
    assert not unavailable(missing.value)
    # Another process holding the write lock: SQLite's own SQLITE_BUSY, as SQLAlchemy wraps it.
    holder = sqlite3.connect(tmp_path / "lock.db", isolation_level=None)
    waiter = sqlite3.connect(tmp_path / "lock.db", isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as busy:
            waiter.execute("BEGIN IMMEDIATE")
    finally:
        holder.close()
        waiter.close()
    assert busy.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert unavailable(DBAPIError.instance("BEGIN IMMEDIATE", None, busy.value, sqlite3.Error))
