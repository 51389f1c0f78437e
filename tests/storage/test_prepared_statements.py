"""storage.statements.Prepared on the suite's database (SQLite, or PostgreSQL in the second
half of CI): the same rows and conversions as SQLAlchemy's own execution, inside the
session's transaction, and SQLAlchemy's exceptions for the driver's errors."""
from datetime import datetime, timedelta, timezone

import pytest
from helpers import server as suite
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from storage.models import AuditEntry, Workstation
from storage.statements import Prepared

_STATIONS = Workstation.__table__
T0 = datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path):
    database = suite.suite_database(tmp_path)
    yield database
    database.dispose()


def test_rows_and_types_are_those_of_sqlalchemys_own_execution(db):
    entries = AuditEntry.__table__
    with db.session() as session:
        session.add_all([AuditEntry(at=T0, action="played", user="alice", recording_id=7),
                         AuditEntry(at=T0 + timedelta(minutes=1), action="linked", user=None)])
    since = (select(entries.c.id, entries.c.at, entries.c.user, entries.c.recording_id)
             .where(entries.c.at >= bindparam("since", type_=entries.c.at.type)).order_by(entries.c.at).limit(1))
    prepared = Prepared(since)
    with db.read_session() as session:
        for at in (T0 - timedelta(days=1), T0 + timedelta(seconds=30), T0 + timedelta(days=1)):
            own = session.execute(since, {"since": at}).first()
            assert prepared.first(session, {"since": at}) == (tuple(own) if own is not None else None)
        assert prepared.first(session, {"since": T0})[1] == T0  # an aware UTC datetime, microseconds kept
    assert len(prepared._by_dialect) == 1  # compiled once for this database's dialect, then reused


def test_an_insert_returns_its_id_converts_datetimes_and_rolls_back_with_the_session(db):
    entries = AuditEntry.__table__
    add = Prepared(insert(entries).values({name: bindparam(name, type_=entries.c[name].type)
                                           for name in ("at", "action", "user")}).returning(entries.c.id))
    with db.session() as session:
        (first,) = add.first(session, {"at": T0, "action": "played", "user": "alice"})
        (second,) = add.first(session, {"at": T0 + timedelta(seconds=1), "action": "played", "user": None})
    assert second == first + 1
    with db.read_session() as session:
        stored = session.get(AuditEntry, first)
        assert stored.at == T0 and stored.at.tzinfo is not None and stored.user == "alice"
    with pytest.raises(RuntimeError):
        with db.session() as session:
            add.run(session, {"at": T0, "action": "deleted", "user": "bob"})
            raise RuntimeError("the request fails after the insert")
    with db.read_session() as session:
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "deleted")) is None


def test_a_driver_error_is_sqlalchemys_and_the_session_rolls_back(db):
    add = Prepared(insert(_STATIONS).values(host=bindparam("host"), address=bindparam("address"),
                                            extension=bindparam("extension")))
    with db.session() as session:
        add.run(session, {"host": "desk-1", "address": "10.0.0.1", "extension": "201"})
    with pytest.raises(IntegrityError):
        with db.session() as session:
            add.run(session, {"host": "desk-2", "address": "10.0.0.2", "extension": "202"})
            add.run(session, {"host": "desk-1", "address": "10.0.0.3", "extension": "203"})  # the same host
    with db.read_session() as session:
        assert session.scalars(select(Workstation.host)).all() == ["desk-1"]
