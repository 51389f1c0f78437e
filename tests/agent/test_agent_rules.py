"""The agent state machine's dense rules, in process on a real (SQLite) database: the
states that follow from calls, the dial claim, and who receives a queue's call."""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from helpers.server import DEMO_SITE

from services.core import agent_errors, agents, ledger
from services.core.provisioning import provision
from storage.database import Database
from storage.models import AgentSession, Call, QueueAgent, User


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The demo site provisioned once (argon2 is slow on purpose); each test gets a copy."""
    path = tmp_path_factory.mktemp("agent-rules") / "template.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.session() as session:
        provision(session, json.loads(DEMO_SITE.read_text()))
    database.dispose()  # the last connection closing folds the WAL into the file
    return path


@pytest.fixture
def db(template, tmp_path):
    copy = tmp_path / "agents.db"
    shutil.copyfile(template, copy)
    database = Database(f"sqlite:///{copy}")
    yield database
    database.dispose()


def start_call(session, name: str, user_id: int, *, at: datetime) -> object:
    outcome = ledger.apply_event(session, ledger.CallEvent(kind="call.started", source="sim", external_id=name, at=at,
                                                           extension="201", direction="outbound"))
    call = session.get(Call, outcome.call_id)
    call.agent_id = user_id
    return call


def test_on_call_and_wrapping_follow_from_the_calls(db):
    now = datetime.now(timezone.utc)
    with db.session() as session:
        alice = session.get(User, 7)
        agents.login(session, alice, 7, 3)
        assert agents.agent_view(session, alice).state == "logged_in"
        start_call(session, "c1", 7, at=now)
        assert agents.agent_view(session, alice).state == "on_call"
        # The customer hangs up: nobody touches the agent session, the agent is wrapping.
        ledger.apply_event(session, ledger.CallEvent(kind="call.ended", source="sim", external_id="c1",
                                                     at=now + timedelta(seconds=5)))
        assert agents.agent_view(session, alice).state == "wrapping"
        assert session.get(AgentSession, 7).state == "logged_in"  # what is stored is unchanged
        with pytest.raises(agent_errors.Wrapping) as refused:
            agents.go_ready(session, alice, 7)
        assert refused.value.code == 22


def test_a_second_dial_while_one_is_being_placed_is_refused(db):
    with db.session() as session:
        alice = session.get(User, 7)
        agents.login(session, alice, 7, 3)
    with db.session() as session:
        plan = agents.plan_dial(session, session.get(User, 7), 7, "+442079460111", None, default_region="GB")
        assert plan.number == "+442079460111" and plan.caller_id == "+18005551234" and plan.record
    with db.session() as session, pytest.raises(agent_errors.OnCall):
        agents.plan_dial(session, session.get(User, 7), 7, "+442079460111", None, default_region="GB")
    with db.session() as session:
        agents.release_dial(session, 7)
    with db.session() as session:  # released: dialling is possible again
        agents.plan_dial(session, session.get(User, 7), 7, "+442079460111", None, default_region="GB")


def test_a_stale_dial_claim_expires(db):
    with db.session() as session:
        agents.login(session, session.get(User, 7), 7, 3)
        session.get(AgentSession, 7).dialing_since = datetime.now(timezone.utc) - agents.DIAL_CLAIM_TTL * 2
    with db.session() as session:
        agents.plan_dial(session, session.get(User, 7), 7, "+442079460111", None, default_region="GB")


def test_queue_calls_go_to_ready_free_agents_longest_waiting_first(db):
    now = datetime.now(timezone.utc)
    with db.session() as session:
        for user_id in (7, 9):
            session.merge(QueueAgent(queue_id=1, user_id=user_id))  # the demo site may list some already
            agents.login(session, session.get(User, user_id), user_id, 3)
        assert agents.ready_agents(session, 1) == []
        agents.go_ready(session, session.get(User, 9), 9)
        agents.go_ready(session, session.get(User, 7), 7)
        session.get(AgentSession, 7).since = now - timedelta(minutes=5)
        assert agents.ready_agents(session, 1) == [7, 9]
        call = start_call(session, "cb-1", None, at=now)
        agents.assign_call(session, call, 7)
        assert agents.ready_agents(session, 1) == [9]  # alice is on the call now
        assert [c.call_id for c in agents.get_calls(session, session.get(User, 7), 7)] == [call.id]
        with pytest.raises(agent_errors.NotLoggedIn):
            agents.assign_call(session, call, 10)


def _ready(session, *user_ids, queue_id=1):
    for user_id in user_ids:
        session.merge(QueueAgent(queue_id=queue_id, user_id=user_id))
        agents.login(session, session.get(User, user_id), user_id, 3)
        agents.go_ready(session, session.get(User, user_id), user_id)


def test_an_engine_claims_each_ready_agent_once_across_transactions(db):
    now = datetime.now(timezone.utc)
    with db.session() as session:
        _ready(session, 9, 7)
        session.get(AgentSession, 7).since = now - timedelta(minutes=5)  # alice has waited longest
    # Two engines, each in its own committed transaction: each gets a different agent.
    with db.session() as session:
        first = agents.claim_ready_agent(session, 1, now)
    with db.session() as session:
        second = agents.claim_ready_agent(session, 1, now)
    with db.session() as session:
        assert agents.claim_ready_agent(session, 1, now) is None
        assert agents.ready_agents(session, 1, now) == [] and agents.queues_with_ready_agents(session, now) == []
    assert (first, second) == (agents.QueueAgentClaim(7, "201"), agents.QueueAgentClaim(9, "202"))
    # The agent's own dial meets the same claim: no second call while the engine rings her.
    with db.session() as session:
        with pytest.raises(agent_errors.OnCall):
            agents.plan_dial(session, session.get(User, 7), 7, "+442079460111", None, default_region="GB")
    with db.session() as session:
        agents.release_dial(session, 7)  # nobody answered
    with db.session() as session:
        assert agents.claim_ready_agent(session, 1, now) == first
    # A claim whose engine died stops blocking after the claim's lifetime.
    with db.session() as session:
        assert agents.claim_ready_agent(session, 1, now + agents.DIAL_CLAIM_TTL * 2) == first


def test_a_claim_holds_only_ready_agents_and_the_desk_phones_are_the_signed_out_ones(db):
    now = datetime.now(timezone.utc)
    with db.session() as session:
        for user_id in (7, 9):
            session.merge(QueueAgent(queue_id=1, user_id=user_id))
        assert agents.desk_phone_extensions(session, 1) == ["201", "202"]
        agents.login(session, session.get(User, 9), 9, 3)  # bob signs in: rung only once ready
        assert agents.desk_phone_extensions(session, 1) == ["201"]
        assert agents.claim_ready_agent(session, 1, now) is None
        agents.go_ready(session, session.get(User, 9), 9)
        claim = agents.claim_ready_agent(session, 1, now)
        assert claim == agents.QueueAgentClaim(9, "202")
        call = start_call(session, "cb-2", None, at=now)
        agents.assign_call(session, call, 9)
        agents.release_dial(session, 9)
        assert agents.agent_view(session, session.get(User, 9)).state == "on_call"
        assert agents.claim_ready_agent(session, 1, now + agents.DIAL_CLAIM_TTL * 2) is None  # busy, not claimed


def test_an_asap_request_is_due_when_a_ready_agent_or_the_ewt_allows(db):
    from services.core import callback_engine as engine
    from storage.models import CallbackRequest, ServiceQueue
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)  # a Tuesday: the demo queue is open
    policy = engine.Policy(asap_ewt_minutes=5)
    with db.session() as session:
        session.get(ServiceQueue, 1).ewt_minutes = 30
        session.add(CallbackRequest(confirmation_code="0000000001", pin="000001", company_id=1, queue_id=1,
                                    phone_e164="+447779453115", asap=True, requested_at=noon, state="open",
                                    next_attempt_at=noon))
    with db.session() as session:
        assert engine.due(session, noon, policy, 10) == []
        _ready(session, 7)
        assert len(engine.due(session, noon, policy, 10)) == 1  # a ready agent
        session.get(AgentSession, 7).state = "logged_in"
        assert engine.due(session, noon, policy, 10) == []
        session.get(ServiceQueue, 1).ewt_minutes = 5
        assert len(engine.due(session, noon, policy, 10)) == 1  # the EWT rule


def test_two_engines_racing_on_postgresql_claim_the_one_ready_agent_once():
    import threading

    from helpers.postgres import PostgresServer

    postgres = PostgresServer().start()
    database = Database(postgres.create_database("callsuite_claim"))
    try:
        database.migrate()
        site = json.loads(DEMO_SITE.read_text())
        site["users"] = [u for u in site["users"] if u["id"] == 7]
        site["workstations"], site["partners"] = [], []  # only alice: one password to hash
        with database.session() as session:
            provision(session, site)
            _ready(session, 7)
        now = datetime.now(timezone.utc)
        barrier, won = threading.Barrier(2), []

        def engine():
            with database.session() as session:
                agents.ready_agents(session, 1, now)  # both see alice ready
                barrier.wait()
                won.append(agents.claim_ready_agent(session, 1, now))

        threads = [threading.Thread(target=engine) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(won, key=lambda c: c is None) == [agents.QueueAgentClaim(7, "201"), None]
    finally:
        database.dispose()
        postgres.stop()
