"""Domain events: published with the change, acted on inside its transaction, delivered
after commit — in this process, and on PostgreSQL in every process sharing the database."""
import queue
import threading
from datetime import datetime, timedelta, timezone

import pytest
from helpers.postgres import PostgresServer
from helpers.server import start_server
from sqlalchemy import select

from services.config import load_settings
from services.core import events, ledger, outbox
from services.core.errors import Conflict
from services.system import System
from storage.models import Call, OutboxEntry


def _started(call_id: str) -> ledger.CallEvent:
    return ledger.CallEvent(kind="call.started", source="cti", external_id=call_id,
                            at=datetime.now(timezone.utc) - timedelta(minutes=1), extension="201")


@pytest.fixture
def system(tmp_path):
    system = System(load_settings(None, environ={}, overrides={"data_dir": tmp_path, "switch": "none",
                                                               "events_port": 0})).start()
    yield system
    system.close()


def test_a_recorded_call_announces_each_step_after_commit(live):
    seen: list = []
    lock = threading.Lock()

    def remember(event):
        with lock:
            seen.append(event)

    for event_type in (events.CallStarted, events.CallAnswered, events.CallEnded, events.RecordingReady):
        live.system.events.on_commit(event_type, remember)
    recorded = live.recorded_call()
    with live.db.session() as session:
        call = session.scalar(select(Call).where(Call.external_id == recorded.call_id))
        call_id, recording_id = call.id, call.recording.id
    with lock:
        mine = [e for e in seen if e.call_id == call_id]
    assert mine == [events.CallStarted(call_id), events.CallAnswered(call_id), events.CallEnded(call_id),
                    events.RecordingReady(call_id, recording_id)]
    # A repeated CTI event changes nothing and announces nothing.
    assert live.cti({"event": "call.started", "call_id": recorded.call_id,
                     "at": call.started_at.isoformat()}).ok
    with lock:
        assert [e for e in seen if e.call_id == call_id] == mine


def test_an_in_transaction_subscriber_writes_with_the_change(system):
    system.events.subscribe(events.CallStarted, lambda session, event: outbox.enqueue(
        session, "crm_url", f"http://crm.invalid/{event.call_id}", {}))
    with system.database.session() as session:
        ledger.apply_event(session, _started("tx-1"))
    with system.database.session() as session:
        call = session.scalar(select(Call).where(Call.external_id == "tx-1"))
        targets = session.scalars(select(OutboxEntry.target)).all()
    assert targets == [f"http://crm.invalid/{call.id}"]


def test_a_failing_subscriber_rolls_the_change_back_and_nothing_is_delivered(system):
    delivered: list = []

    def refuse(session, event):
        raise Conflict("the CRM says no")

    system.events.subscribe(events.CallStarted, refuse)
    system.events.on_commit(events.CallStarted, delivered.append)
    with pytest.raises(Conflict):
        with system.database.session() as session:
            ledger.apply_event(session, _started("tx-2"))
    with system.database.session() as session:
        assert session.scalar(select(Call).where(Call.external_id == "tx-2")) is None
    assert delivered == []


def test_events_reach_the_other_process_on_postgresql(tmp_path):
    postgres = PostgresServer().start()
    try:
        url = postgres.create_database("events")
        first = start_server(tmp_path / "a", database_url=url)
        second = start_server(tmp_path / "b", database_url=url, site={})
        try:
            received: queue.Queue = queue.Queue()
            second.system.events.on_commit(events.CallEnded, received.put)
            assert second.system._listener.listening.wait(10)
            recorded = first.recorded_call()
            with first.db.session() as session:
                call_id = session.scalar(select(Call.id).where(Call.external_id == recorded.call_id))
            event = received.get(timeout=10)
            assert event == events.CallEnded(call_id)
            assert received.empty()  # one notice per commit, not one per process
        finally:
            second.stop()
            first.stop()
    finally:
        postgres.stop()


def test_a_savepoint_keeps_its_events_for_the_real_commit_or_takes_them_back(system):
    seen: list = []
    system.events.subscribe(events.CallStarted, lambda session, event: seen.append(("in transaction", event)))
    system.events.on_commit(events.CallStarted, lambda event: seen.append(("committed", event)))
    with system.database.session() as session:
        with session.begin_nested():
            kept = ledger.apply_event(session, _started("sp-kept")).call_id
        assert seen == []  # a savepoint's commit is not the commit
        try:
            with session.begin_nested():
                ledger.apply_event(session, _started("sp-undone"))
                raise Conflict("undo this part")
        except Conflict:
            pass
        assert seen == []
    assert seen == [("in transaction", events.CallStarted(kept)), ("committed", events.CallStarted(kept))]
    with system.database.session() as session:
        assert session.scalar(select(Call).where(Call.external_id == "sp-undone")) is None


@pytest.mark.parametrize("unit_of_work", ["session", "unit"])
def test_an_after_commit_callback_runs_once_after_the_real_commit_and_never_after_a_rollback(system, unit_of_work):
    ran: list = []
    opened = system.database.session if unit_of_work == "session" else system.database.unit
    with opened() as session:
        if unit_of_work == "session":
            with session.begin_nested():
                events.after_commit(session, lambda: ran.append("kept"))
            assert ran == []  # a savepoint's commit is not the commit
        else:
            events.after_commit(session, lambda: ran.append("kept"))
        events.after_commit(session, lambda: 1 / 0)  # a failing callback is logged, the others still run
        events.after_commit(session, lambda: ran.append("last"))
        assert ran == []
    assert ran == ["kept", "last"]
    with pytest.raises(Conflict):
        with opened() as session:
            events.after_commit(session, lambda: ran.append("rolled back"))
            raise Conflict("the change fails")
    with opened():
        pass
    assert ran == ["kept", "last"]
