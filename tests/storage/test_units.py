"""storage.units.StatementUnit, handed out by Database.unit(): on the suite's database
(SQLite, or PostgreSQL in the second half of CI) it commits what a Session would, with the
same domain-event hooks, and rolls back the same way."""
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from helpers import server as suite
from sqlalchemy import bindparam, event, func, insert, select

from services.core import events
from storage.database import Database, NestedWriteTransaction, sqlite_url
from storage.models import AuditEntry
from storage.statements import Prepared

_ENTRIES = AuditEntry.__table__
ADD_ENTRY = Prepared(insert(_ENTRIES).values({name: bindparam(name, type_=_ENTRIES.c[name].type)
                                              for name in ("at", "action", "detail")}))
AT = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Noted:
    detail: str


class Subscribers:
    """An in-transaction subscriber that writes an entry of its own, and an on-commit one
    that records whether the publisher's entry was already visible to another connection."""

    def __init__(self, bus: events.EventBus) -> None:
        self.database = None
        self.delivered: list[tuple[Noted, int]] = []
        self.fail_in_transaction = False
        bus.subscribe(Noted, self.in_transaction)
        bus.on_commit(Noted, self.committed)

    def in_transaction(self, unit, event: Noted) -> None:
        if self.fail_in_transaction:
            raise RuntimeError("the subscriber refuses")
        ADD_ENTRY.run(unit, {"at": AT, "action": "subscriber", "detail": event.detail})

    def committed(self, event: Noted) -> None:
        self.delivered.append((event, entries(self.database, event.detail)))


def entries(database: Database, detail: str) -> int:
    with database.read_session() as session:
        return session.scalar(select(func.count()).select_from(_ENTRIES).where(_ENTRIES.c.detail == detail))


@pytest.fixture
def bus_and_db(tmp_path):
    bus = events.EventBus()
    subscribers = Subscribers(bus)
    database = suite.suite_database(tmp_path, hooks=bus)
    subscribers.database = database
    yield subscribers, database
    database.dispose()


def test_a_unit_commits_its_statements_and_its_subscribers_in_one_transaction(bus_and_db):
    subscribers, database = bus_and_db
    with database.unit() as unit:
        ADD_ENTRY.run(unit, {"at": AT, "action": "publisher", "detail": "one"})
        events.publish(unit, Noted("one"))
        assert subscribers.delivered == []  # not before the commit
    assert entries(database, "one") == 2  # the publisher's and the subscriber's
    assert subscribers.delivered == [(Noted("one"), 2)]  # delivered once, after the commit


@pytest.mark.parametrize("failing", ["publisher", "subscriber"])
def test_a_failing_unit_stores_nothing_delivers_nothing_and_frees_the_writer(bus_and_db, failing):
    subscribers, database = bus_and_db
    subscribers.fail_in_transaction = failing == "subscriber"
    with pytest.raises(RuntimeError):
        with database.unit() as unit:
            ADD_ENTRY.run(unit, {"at": AT, "action": "publisher", "detail": "two"})
            events.publish(unit, Noted("two"))
            if failing == "publisher":
                raise RuntimeError("the request fails after its insert")
    assert entries(database, "two") == 0
    assert subscribers.delivered == []
    subscribers.fail_in_transaction = False
    with database.unit() as unit:  # the next writer gets in at once
        ADD_ENTRY.run(unit, {"at": AT, "action": "publisher", "detail": "three"})
    assert entries(database, "three") == 1


def test_a_unit_that_runs_no_statement_checks_out_no_connection(bus_and_db):
    _, database = bus_and_db
    checkouts = []
    event.listen(database.engine.pool, "checkout", lambda *args: checkouts.append(args))
    with database.unit():
        pass
    with database.read_unit():
        pass
    assert checkouts == []
    with database.unit() as unit:
        ADD_ENTRY.run(unit, {"at": AT, "action": "publisher", "detail": "four"})
    assert len(checkouts) == 1


def test_a_unit_takes_the_same_writer_lock_as_a_session(tmp_path):
    database = Database(sqlite_url(tmp_path))  # the lock is SQLite's: PostgreSQL locks rows
    database.migrate()
    try:
        with database.session() as session:
            session.add(AuditEntry(at=AT, action="outer"))
            session.flush()
            with pytest.raises(NestedWriteTransaction):
                with database.unit() as unit:
                    ADD_ENTRY.run(unit, {"at": AT, "action": "inner", "detail": None})
        with database.read_session() as session:
            assert session.scalars(select(AuditEntry.action)).all() == ["outer"]
    finally:
        database.dispose()
