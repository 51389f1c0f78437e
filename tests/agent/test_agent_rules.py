"""The agent state machine's dense rules, in process on a real (SQLite) database: the
states that follow from calls, the dial claim, and who receives a queue's call."""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from helpers.server import DEMO_SITE
from services.core import agents, ledger
from services.core.provisioning import provision
from storage.database import Database
from storage.models import AgentSession, QueueAgent, User


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
    call = ledger.apply_event(session, ledger.CallEvent(kind="call.started", source="sim", external_id=name, at=at,
                                                        extension="201", direction="outbound")).call
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
        with pytest.raises(agents.Wrapping) as refused:
            agents.go_ready(session, alice, 7)
        assert refused.value.code == 22


def test_a_second_dial_while_one_is_being_placed_is_refused(db):
    with db.session() as session:
        alice = session.get(User, 7)
        agents.login(session, alice, 7, 3)
    with db.session() as session:
        plan = agents.plan_dial(session, session.get(User, 7), 7, "+442079460111", None, default_region="GB")
        assert plan.number == "+442079460111" and plan.caller_id == "+18005551234" and plan.record
    with db.session() as session, pytest.raises(agents.OnCall):
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
        with pytest.raises(agents.NotLoggedIn):
            agents.assign_call(session, call, 10)
