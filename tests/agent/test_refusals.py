"""Every refusal of the agent API has its own ResponseCode and HTTP status, and changes
nothing: tokens (missing, unknown, expired, another agent's user), the agent's states
(logged out, on a call, wrapping) and the calls' (not connected, not held, ended, not
recorded, another agent's, disposed, from a PBX)."""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests
from helpers.agent import AgentClient, token
from helpers.server import start_server
from sqlalchemy import select, update

from services.core.security import hash_token
from storage.models import AgentSession, AuthToken, Call, Campaign, Lead, LeadPhone, Recording

RINGS_FOREVER = "+442079460550"  # matches the no-answer rule below


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("agent-refusals"), agent_answer_after_s=0.0,
                          outbound_outcomes=({"pattern": "+44207946055*", "outcome": "no_answer", "after_s": 600},))
    with server.db.session() as session:
        session.add(Campaign(id=4, name="Unrecorded", company_id=1, auto_record=False, caller_id="+18005551234"))
    yield server
    server.stop()


def fingerprint(live) -> str:
    digest = hashlib.sha256()
    with live.db.read_session() as session:
        for model in (Call, Recording, AgentSession, Lead, LeadPhone):
            table = model.__table__
            for row in session.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def refused(live, answer, status: int, code: int, before: str) -> None:
    assert (answer.status, answer.code, answer.body["Success"]) == (status, code, False), answer.body
    assert answer.entities == [] and answer.body["ResponseDetail"]
    assert fingerprint(live) == before, "a refusal changed the database"


def refuse(live, do, status: int, code: int) -> None:
    before = fingerprint(live)
    refused(live, do(), status, code, before)


def wait_state(live, call_id: int, state: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with live.db.read_session() as session:
            if session.get(Call, call_id).state == state:
                return
        time.sleep(0.02)
    raise AssertionError(f"call {call_id} never {state}")


def dial(agent, phone: str) -> int:
    r = agent.get(f"/dial/user/{agent.user_id}/phone/{quote(phone)}")
    assert r.ok, r.body
    return r.one["CallId"]


def test_tokens(live):
    alice = AgentClient(live, "alice", 7)
    r = alice.get("/getcalls/user/7", token_key="")
    refused(live, r, 401, 10, fingerprint(live))
    assert r.response.headers["WWW-Authenticate"].startswith("TokenKey")
    refuse(live, lambda: alice.get("/getcalls/user/7", token_key="not-a-token", as_json=True), 401, 11)
    refuse(live, lambda: alice.get("/goready/user/9"), 403, 14)  # bob's user with alice's token
    refuse(live, lambda: alice.get("/getcalls/user/x7"), 400, 1)

    expired = token(live, "alice")
    with live.db.session() as session:
        session.execute(update(AuthToken).where(AuthToken.token_hash == hash_token(expired))
                        .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    refuse(live, lambda: alice.get("/getcalls/user/7", token_key=expired), 401, 11)

    sam = AgentClient(live, "sam", 10)
    assert sam.get("/getcalls/user/9").ok  # a supervisor acts for others
    assert sam.get("/login/user/9", campaign="3").ok and sam.get("/logout/user/9").ok


def test_agent_states(live):
    bob = AgentClient(live, "bob", 9)
    refuse(live, lambda: bob.do("goready"), 409, 20)
    refuse(live, lambda: bob.get(f"/dial/user/9/phone/{quote('+442079460333')}"), 409, 20)
    refuse(live, lambda: bob.do("login"), 400, 1)
    refuse(live, lambda: bob.do("login", campaign="99"), 404, 2)
    assert bob.do("login", campaign="3").ok
    refuse(live, lambda: bob.get("/dial/user/9/phone/not-a-number"), 400, 1)
    refuse(live, lambda: bob.get(f"/dial/user/9/phone/{quote('+442079460333')}", leadid="999"), 404, 2)

    call = dial(bob, "+442079460333")
    wait_state(live, call, "answered")
    for doing in (lambda: bob.get(f"/dial/user/9/phone/{quote('+442079460334')}"), lambda: bob.do("goready"),
                  lambda: bob.do("logout"), lambda: bob.do("login", campaign="3")):
        refuse(live, doing, 409, 21)  # on a call
    assert bob.call("hangup", call).ok
    for doing in (lambda: bob.get(f"/dial/user/9/phone/{quote('+442079460334')}"), lambda: bob.do("goready"),
                  lambda: bob.do("logout")):
        refuse(live, doing, 409, 22)  # wrapping
    refuse(live, lambda: bob.call("hold", call), 409, 30)  # ended: not connected
    refuse(live, lambda: bob.call("hangup", call), 409, 33)
    refuse(live, lambda: bob.call("stoprecord", call), 409, 33)
    refuse(live, lambda: bob.call("dispose", call, resultcode="NO-SUCH-CODE"), 400, 35)
    refuse(live, lambda: bob.call("dispose", call), 400, 35)
    assert bob.call("dispose", call, resultcode="SALE").ok
    refuse(live, lambda: bob.call("dispose", call, resultcode="SALE"), 409, 36)
    refuse(live, lambda: bob.do("changelead", f"/call/{call}/leadphone/1"), 409, 36)
    assert bob.do("logout").ok


def test_call_states(live):
    alice = AgentClient(live, "alice", 7)
    bob = AgentClient(live, "bob", 9)
    assert alice.do("login", campaign="3").ok and bob.do("login", campaign="3").ok

    ringing = dial(alice, RINGS_FOREVER)
    wait_state(live, ringing, "ringing")
    refuse(live, lambda: alice.call("hold", ringing), 409, 30)
    refuse(live, lambda: alice.call("retrieve", ringing), 409, 32)
    assert alice.call("hangup", ringing).ok and alice.call("dispose", ringing, resultcode="NOSALE").ok

    call = dial(alice, "+442079460333")
    wait_state(live, call, "answered")
    refuse(live, lambda: alice.call("retrieve", call), 409, 32)  # not held
    assert alice.call("hold", call).ok
    refuse(live, lambda: alice.call("hold", call), 409, 31)  # already held
    refuse(live, lambda: bob.call("hold", call), 403, 34)  # bob's token, bob's user, alice's call
    refuse(live, lambda: bob.call("dispose", call, resultcode="SALE"), 403, 34)
    refuse(live, lambda: alice.call("hold", 999999), 404, 2)
    refuse(live, lambda: alice.do("connectcalls", call1=str(call), call2=str(call), resultcode1="SALE",
                                  resultcode2="SALE"), 409, 38)
    ringing = dial(alice, RINGS_FOREVER)  # allowed: the other call is held
    refuse(live, lambda: alice.do("connectcalls", call1=str(call), call2=str(ringing), resultcode1="SALE",
                                  resultcode2="SALE"), 409, 38)
    refuse(live, lambda: alice.do("connectcalls", call1=str(call), resultcode1="SALE"), 400, 1)
    for c in (call, ringing):
        assert alice.call("dispose", c, resultcode="NOSALE").ok

    # A campaign that does not record: nothing to pause.
    assert alice.do("login", campaign="4").ok
    quiet = dial(alice, "+442079460333")
    wait_state(live, quiet, "answered")
    refuse(live, lambda: alice.call("stoprecord", quiet), 409, 37)
    refuse(live, lambda: alice.call("startrecord", quiet), 409, 37)
    assert alice.call("dispose", quiet, resultcode="NOSALE").ok

    # A call a PBX reported through CTI ingest is in the ledger, but this switch cannot touch it.
    r = live.cti({"event": "call.started", "call_id": "pbx-agent-1", "at": datetime.now(timezone.utc).isoformat(),
                  "extension": "201", "direction": "inbound", "ani": "+442079460777"})
    assert r.ok, r.text
    with live.db.session() as session:
        session.execute(update(Call).where(Call.external_id == "pbx-agent-1").values(agent_id=7))
        pbx_call = session.scalar(select(Call.id).where(Call.external_id == "pbx-agent-1"))
    refuse(live, lambda: alice.call("hold", pbx_call), 409, 41)


def test_head_does_not_act(live):
    alice = AgentClient(live, "alice", 7)
    before = fingerprint(live)
    r = requests.head(live.url("/webservices/services/telephony/login/user/7"), params={"campaign": "3"},
                      headers={"Cookie": f"TokenKey={alice.token}"}, timeout=10)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    assert fingerprint(live) == before
    assert requests.head(live.url("/webservices/services/telephony/users/user/7"), timeout=10,
                         headers={"Cookie": f"TokenKey={alice.token}"}).status_code == 200


def test_an_unknown_method_or_shape_is_a_404_call_action_response(live):
    alice = AgentClient(live, "alice", 7)
    for path in ("/transfer/user/7", "/hold/user/7", "/dial/user/7"):
        r = alice.get(path)
        assert (r.status, r.code, r.body["Success"]) == (404, 2, False), path
