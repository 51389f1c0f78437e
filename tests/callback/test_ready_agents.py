"""Callback calls reach the ready agents of their queue (seed 001 meets seed 004): an agent
signs in through the agent API and goes ready, a callback is requested over the Buzzeasy
REST URL, the engine claims that agent, rings it, and the call is the agent's — in its
getcalls, the agent on it, then wrapping, and dispose works. With nobody ready, an ASAP
request waits for the EWT rule, and a signed-in agent who is not ready is never rung."""
from __future__ import annotations

import copy
import time

import pytest
from helpers import buzzeasy as b
from helpers.agent import AgentClient
from helpers.buzzeasy import rest, statuses, wait_for
from helpers.server import start_server
from sqlalchemy import select

from services.core import agent_errors, agents, callbacks
from storage.models import AgentSession, Call

SUCCESS = ["CallingUser", "UserConnected", "CallingAgent", "AgentConnected", "CallAccepted", "CallSucceeded"]
CAMPAIGN = 3


@pytest.fixture(scope="module")
def staffed(tmp_path_factory):
    """Queue 1 (always open) staffed by alice (user 7, extension 201), who works campaign 3.
    The agent leg talks for a minute: the agent (or the customer) ends it in each test."""
    site = copy.deepcopy(b.site(agents=[7]))
    site["campaigns"] = [{"id": CAMPAIGN, "name": "Callbacks", "company": 1, "caller_id": "+18005551234"}]
    site["result_codes"] = [{"code": "CALLBACK", "description": "Called back", "is_callback": True}]
    server = start_server(tmp_path_factory.mktemp("callsuite-data"), site=site,
                          **{**b.FAST_ENGINE, "callback_talk_s": 60.0, "callback_ring_timeout_s": 5.0})
    yield server
    server.stop()


def set_ewt(live, minutes: int) -> None:
    r = rest(live, "UpdateEWTRecord", {"serviceQueue": "1", "ewt": str(minutes), "company": "1",
                                       "password": b.COMPANY_PASSWORD})
    assert r.json() is True, r.text


def request_asap(live) -> str:
    answer = rest(live, "RequestCallWhenAvailable", {"name": "Customer", "phoneNo": b.ANSWERS, "serviceQueue": "1",
                                                     "company": "1", "password": b.COMPANY_PASSWORD}).json()
    assert answer["ResultCode"] == 0, answer
    return answer["ConfirmationCode"]


def legs(live, code: str) -> list[Call]:
    with live.db.read_session() as session:
        request = callbacks.by_confirmation_code(session, code)
        return list(session.scalars(select(Call).where(Call.callback_request_id == request.id).order_by(Call.id)))


def agent_state(live, user_id: int = 7) -> str:
    with live.db.read_session() as session:
        return agents.effective_state(session, session.get(AgentSession, user_id))


def test_a_callback_reaches_the_ready_agent_and_shows_in_its_getcalls(staffed):
    live = staffed
    set_ewt(live, 60)  # the EWT rule alone would hold the request: only a ready agent makes it due
    alice = AgentClient(live, "alice", 7)
    assert alice.do("login", campaign=CAMPAIGN).ok
    code = request_asap(live)
    time.sleep(1.0)  # ten engine polls: logged in but not ready, nobody can take the call
    assert b.request_row(live, code).state == "open" and statuses(live, code) == []

    assert alice.do("goready").ok
    wait_for(lambda: "CallAccepted" in statuses(live, code), what="the agent to accept the callback")
    user_leg, agent_leg = legs(live, code)
    assert agent_leg.target == "201"  # alice's extension was rung
    assert (user_leg.agent_id, user_leg.campaign_id, user_leg.extension) == (7, CAMPAIGN, "201")

    # The seed's getcalls, XML (schema-checked) and JSON: the callback call, connected and active.
    for as_json in (False, True):
        r = alice.do("getcalls", as_json=as_json)
        assert r.ok and [(c["CallId"], c["PhoneNumber"], c["CallState"], c["CallStatus"]) for c in r.entities] == \
            [(user_leg.id, b.ANSWERS, 2, 1)], r.entities
    assert agent_state(live) == "on_call"
    assert alice.do("dial", "/phone/+442079460111").code == agent_errors.OnCall.code  # one call at a time
    with live.db.read_session() as session:
        assert session.get(AgentSession, 7).dialing_since is None  # the engine's claim ended with the assignment

    # The agent hangs up through the API: the callback succeeded, the agent is wrapping.
    assert alice.call("hangup", user_leg.id).ok
    wait_for(lambda: b.request_row(live, code).state == "succeeded", what="the callback to finish")
    assert statuses(live, code) == SUCCESS
    r = alice.do("getcalls", as_json=True)
    assert [(c["CallId"], c["CallState"], c["CallStatus"]) for c in r.entities] == [(user_leg.id, 4, 2)]
    assert agent_state(live) == "wrapping"
    assert alice.do("goready").code == agent_errors.Wrapping.code

    r = alice.call("dispose", user_leg.id, resultcode="CALLBACK")
    assert r.ok and r.one["CallStatus"] == 3
    assert alice.do("getcalls").entities == []
    assert agent_state(live) == "ready"
    with live.db.read_session() as session:
        assert session.get(Call, user_leg.id).result_code == "CALLBACK"
    assert alice.do("logout").ok


def test_with_nobody_ready_the_ewt_rule_runs_it_on_the_queue_number_not_on_a_busy_agent(staffed):
    live = staffed
    alice = AgentClient(live, "alice", 7)
    assert alice.do("login", campaign=CAMPAIGN).ok  # signed in, not ready
    set_ewt(live, 0)
    code = request_asap(live)
    wait_for(lambda: "CallAccepted" in statuses(live, code), what="the queue to accept the callback")
    user_leg, agent_leg = legs(live, code)
    assert agent_leg.target == "queue-1"  # not alice's extension: she is not ready
    assert user_leg.agent_id is None
    assert alice.do("getcalls", as_json=True).entities == []
    live.system.switch.hangup(user_leg.external_id)  # the customer hangs up
    wait_for(lambda: b.request_row(live, code).state == "succeeded", what="the callback to finish")
    assert statuses(live, code) == SUCCESS
    assert agent_state(live) == "logged_in"
    assert alice.do("logout").ok


def test_a_desk_phone_callback_leaves_the_agent_free_to_sign_in_later(staffed):
    """Alice is not signed in to the agent API: the engine rings her desk phone. That call is
    hers in the ledger, but no disposition is owed through the API, so she logs in after it."""
    live = staffed
    set_ewt(live, 0)
    code = request_asap(live)
    wait_for(lambda: "CallAccepted" in statuses(live, code), what="the desk phone to accept the callback")
    user_leg, agent_leg = legs(live, code)
    assert agent_leg.target == "201" and user_leg.agent_id == 7
    live.system.switch.hangup(user_leg.external_id)
    wait_for(lambda: b.request_row(live, code).state == "succeeded", what="the callback to finish")
    alice = AgentClient(live, "alice", 7)
    assert alice.do("login", campaign=CAMPAIGN).ok
    assert alice.do("getcalls", as_json=True).entities == [] and agent_state(live) == "logged_in"
    assert alice.do("logout").ok
