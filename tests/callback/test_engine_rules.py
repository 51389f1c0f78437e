"""The callback engine's state machine in process (dense rules): one claim per due
request, the attempt counted with CallingUser before anything is dialled, leases, retries
and closing an interrupted attempt."""
from datetime import datetime, timedelta, timezone

import pytest
from helpers import buzzeasy as b

from services.core import callback_engine as engine
from services.core import callbacks
from services.core.provisioning import provision
from storage.database import Database, sqlite_url
from storage.models import CallbackRequest, ServiceQueue

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
POLICY = engine.Policy(max_attempts=2, retry_delay=timedelta(seconds=60), lease=timedelta(seconds=30),
                       asap_ewt_minutes=5)


@pytest.fixture
def db(tmp_path):
    database = Database(sqlite_url(tmp_path))
    database.migrate()
    site = {"companies": [{k: v for k, v in c.items() if k != "password"} for c in b.SITE["companies"]],
            "queues": b.SITE["queues"]}  # no passwords: nothing here signs in, and argon2 is slow
    with database.session() as session:
        provision(session, site)
    yield database
    database.dispose()


def new_request(db, *, asap=True, due=T0, queue=1) -> int:
    with db.session() as session:
        row = CallbackRequest(confirmation_code=f"{int(due.timestamp()) % 10**10 + queue:010d}", pin="000001",
                              company_id=1, queue_id=queue, phone_e164=b.ANSWERS, asap=asap, requested_at=T0,
                              state="open", next_attempt_at=due)
        session.add(row)
        session.flush()
        return row.id


def claim_one(db, worker: str, now=T0):
    with db.session() as session:
        due = engine.due(session, now, POLICY, 10)
        return [c for c in (engine.claim(session, rid, seen, worker, now, POLICY) for rid, seen in due) if c]


def history(db, request_id):
    with db.read_session() as session:
        return [(e.status, e.attempt) for e in callbacks.history(session, request_id)]


def test_a_request_is_claimed_once_and_the_attempt_recorded_first(db):
    rid = new_request(db)
    with db.session() as session:
        (seen,) = [s for r, s in engine.due(session, T0, POLICY, 10) if r == rid]
    with db.session() as session:
        first = engine.claim(session, rid, seen, "w1", T0, POLICY)
    with db.session() as session:
        second = engine.claim(session, rid, seen, "w2", T0, POLICY)  # read the same row, too late
    assert first.attempt == 1 and second is None
    assert history(db, rid) == [("CallingUser", 1)]
    with db.read_session() as session:
        row = session.get(CallbackRequest, rid)
        assert (row.state, row.attempts, row.claimed_by) == ("calling", 1, "w1")
        assert row.claimed_until == T0 + POLICY.lease


def test_not_due_before_its_time_nor_while_the_ewt_is_high(db):
    later = new_request(db, due=T0 + timedelta(minutes=5))
    assert claim_one(db, "w", now=T0) == []
    with db.session() as session:
        session.get(ServiceQueue, 1).ewt_minutes = 6
    assert claim_one(db, "w", now=T0 + timedelta(minutes=6)) == []
    scheduled = new_request(db, asap=False, due=T0 + timedelta(minutes=1))  # a slot ignores the EWT
    assert [c.request_id for c in claim_one(db, "w", now=T0 + timedelta(minutes=6))] == [scheduled]
    with db.session() as session:
        session.get(ServiceQueue, 1).ewt_minutes = 5
    assert [c.request_id for c in claim_one(db, "w", now=T0 + timedelta(minutes=6))] == [later]


def test_failed_attempts_are_rescheduled_then_fail(db):
    rid = new_request(db)
    (claim,) = claim_one(db, "w")
    with db.session() as session:
        assert engine.failed(session, claim, "w", T0, POLICY, user_reached=False) == "Rescheduled"
    with db.read_session() as session:
        row = session.get(CallbackRequest, rid)
        assert (row.state, row.retries, row.next_attempt_at) == ("open", 1, T0 + POLICY.retry_delay)
    assert claim_one(db, "w", now=T0 + timedelta(seconds=59)) == []
    (claim,) = claim_one(db, "w", now=T0 + timedelta(seconds=60))
    with db.session() as session:
        assert engine.failed(session, claim, "w", T0, POLICY, user_reached=True) == "CallFailed"
    assert history(db, rid) == [("CallingUser", 1), ("CallingUserFailed", 1), ("Rescheduled", 1),
                                ("CallingUser", 2), ("CallFailed", 2)]  # reached: no CallingUserFailed
    with db.read_session() as session:
        assert session.get(CallbackRequest, rid).state == "failed"


def test_a_lost_lease_stops_the_old_worker(db):
    rid = new_request(db)
    (claim,) = claim_one(db, "w1")
    with db.session() as session:
        assert engine.step(session, claim, "w1", "UserConnected", T0, POLICY)
    later = T0 + POLICY.lease + timedelta(seconds=1)
    with db.session() as session:
        assert engine.interrupted(session, T0, 10) == []
        assert engine.interrupted(session, later, 10, running={rid}) == []  # the asker still runs it
        ((found, until),) = engine.interrupted(session, later, 10)
        assert found == rid
        assert engine.close_interrupted(session, rid, until, later, POLICY) == "Rescheduled"
    with db.session() as session:
        assert engine.close_interrupted(session, rid, until, later, POLICY) is None  # once only
    # The old worker comes back: its attempt is no longer its own.
    with db.session() as session:
        assert not engine.renew(session, claim, "w1", later, POLICY)
        assert not engine.step(session, claim, "w1", "CallingAgent", later, POLICY)
        assert not engine.succeeded(session, claim, "w1", later)
    # The user had been connected, so no CallingUserFailed for the interrupted attempt.
    assert history(db, rid) == [("CallingUser", 1), ("UserConnected", 1), ("Rescheduled", 1)]


def test_asap_requests_of_a_closed_queue_wait_for_the_opening(db):
    new_request(db, queue=4, due=T0)  # queue 4: Mon-Fri 08:00-18:00 London; T0 is a Tuesday noon
    assert [c.queue_id for c in claim_one(db, "w", now=T0)] == [4]
    evening = new_request(db, queue=4, due=T0 + timedelta(hours=7))  # 19:00: closed
    assert claim_one(db, "w", now=T0 + timedelta(hours=7)) == []
    next_morning = datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)
    assert [c.request_id for c in claim_one(db, "w", now=next_morning)] == [evening]
