"""getcalls in process (services/core/agents.get_calls, one prepared SELECT) on the suite's
database (SQLite, or PostgreSQL in the second half of CI): which calls an agent's desk
shows, how each reads (state, status, recording, customer, phone), and who may ask. The
other agent operations describe a call through the ORM (`call_view`); both must agree."""
from datetime import datetime, timedelta, timezone

import pytest
from helpers import server as suite

from services.core import agent_errors, agents
from storage.models import Call, Lead, Recording, User

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    folder = tmp_path_factory.mktemp("agent-views")
    database = suite.suite_database(folder)
    with database.session() as session:
        session.add_all([User(id=7, username="alice", password_hash="-"), User(id=8, username="bob", password_hash="-"),
                         User(id=9, username="sue", password_hash="-", supervisor=True)])
        session.add(Lead(id=1, first_name="Ann", last_name="Lee", created_at=T0))
        session.flush()
        shapes = [  # name, state, held, disposed, direction, recording state, lead
            ("ringing-out", "ringing", False, False, "outbound", None, 1),
            ("talking-in", "answered", False, False, "inbound", "recording", None),
            ("held", "answered", True, False, "outbound", "paused", None),
            ("wrapping", "ended", False, False, "outbound", "available", 1),
            ("unrecorded", "answered", False, False, "outbound", "none", None),
            ("disposed", "ended", False, True, "outbound", "available", None),
        ]
        for k, (name, state, held, disposed, direction, recording, lead) in enumerate(shapes):
            call = Call(source="sim", external_id=name, direction=direction, state=state, held=held,
                        started_at=T0 + timedelta(minutes=k), ani="+13125550100", target="+13125550199",
                        agent_id=7, lead_id=lead, campaign_id=None, result_code="SALE" if disposed else None,
                        disposed_at=T0 + timedelta(hours=1) if disposed else None)
            session.add(call)
            session.flush()
            if recording is not None:
                session.add(Recording(reference=f"R-{name}", call_id=call.id, state=recording, created_at=T0))
        session.add(Call(source="sim", external_id="bobs", direction="outbound", state="answered", started_at=T0,
                         agent_id=8))
    yield database
    database.dispose()


def user(database, user_id):
    with database.read_session() as session:
        return session.get(User, user_id)


def desk_calls(database, actor_id, user_id):
    with database.read_unit() as unit:
        return agents.get_calls(unit, user(database, actor_id), user_id)


def test_the_desk_shows_the_agents_calls_not_yet_dispositioned_each_as_the_orm_view_reads_it(database):
    shown = desk_calls(database, 7, 7)
    with database.read_session() as session:
        calls = {c.id: c for c in session.query(Call).filter(Call.agent_id == 7)}
        assert shown == [agents.call_view(session, calls[view.call_id]) for view in shown]
        names = [calls[view.call_id].external_id for view in shown]
    assert names == ["ringing-out", "talking-in", "held", "wrapping", "unrecorded"]  # by start; not "disposed"
    read = [(v.state_name, v.status_name, v.recording_name, v.customer_name, v.phone_number) for v in shown]
    assert read == [("ringing", "active", "not_recorded", "Ann Lee", "+13125550199"),
                    ("connected", "active", "recording", "", "+13125550100"),  # inbound: the caller's number
                    ("held", "active", "paused", "", "+13125550199"),
                    ("ended", "wrapping", "stopped", "Ann Lee", "+13125550199"),
                    ("connected", "active", "not_recorded", "", "+13125550199")]


def test_an_agent_asks_for_its_own_calls_and_a_supervisor_for_anyones(database):
    assert [v.call_id for v in desk_calls(database, 9, 8)] == [v.call_id for v in desk_calls(database, 8, 8)]
    assert len(desk_calls(database, 9, 8)) == 1
    with pytest.raises(agent_errors.NotYourAgent):
        desk_calls(database, 7, 8)
    with pytest.raises(agent_errors.NoSuchThing):
        desk_calls(database, 9, 99)
    assert desk_calls(database, 9, 9) == []
