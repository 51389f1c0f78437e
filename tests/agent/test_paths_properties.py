"""Properties of the agent API's paths (seed 004), in process through the WSGI app (no
sockets): whatever path a client sends under /webservices/services/telephony/, the answer
is a CallActionResponse that validates against xsd/agent.xsd (or the router's 405 with
Allow for a method it does not take), never a 500; without a good token nothing is done or changed."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from helpers.agent import PASSWORDS, parse_xml
from helpers.database import fingerprint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from storage.models import AgentSession, AuthToken, Call, Lead, LeadPhone

BASE = "/webservices/services/telephony"
METHODS = ["getcalls", "goready", "campaigns", "users", "resultcodes", "acdqueues", "login", "logout",
           "connectcalls", "dial", "hangup", "dispose", "hold", "retrieve", "stoprecord", "startrecord",
           "leadphones", "changelead", "createnewlead", "GetCalls", "token", ""]
WORDS = ["user", "call", "phone", "lead", "leadphone", "7", "8", "0", "-1", "99999999999999999999", "..", "%2e%2e"]
READ_ONLY = ["getcalls", "campaigns", "users", "resultcodes", "acdqueues", "leadphones"]
AGENT_TABLES = (AgentSession, AuthToken, Call, Lead, LeadPhone)  # what an agent API call could change
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

segment = st.one_of(st.sampled_from(WORDS), st.text(max_size=12).map(lambda text: quote(text, safe="")),
                    st.integers(-10, 10 ** 20).map(str))
paths = st.tuples(st.sampled_from(METHODS), st.lists(segment, max_size=6)).map(
    lambda parts: "/".join([BASE, parts[0], *parts[1]]))


@pytest.fixture(scope="module")
def app(live):
    return Client(live.system.wsgi_app())


@pytest.fixture(scope="module")
def token(app):
    response = app.post("/webservices/services/token", data={"username": "alice", "password": PASSWORDS["alice"]})
    body, entities = parse_xml(response.data)
    return entities[0]["TokenKey"]


def answer(response, method="GET"):
    assert response.status_code < 500, (response.status_code, response.data[:300])
    if method == "HEAD" or response.status_code == 405:
        assert response.status_code != 405 or "Allow" in response.headers
        return None  # no body; or a method the API does not take (the router's 405, with Allow)
    body, _ = parse_xml(response.data)
    return body


@PROPERTY
@given(paths, st.sampled_from([None, "TokenKey=garbage", "TokenKey=", "TokenKey=%00", "other=1"]),
       st.sampled_from(["GET", "HEAD", "POST"]))
def test_any_path_without_a_good_token_is_refused_in_the_apis_own_answer(live, app, path, cookie, method):
    before = fingerprint(live.db, AGENT_TABLES)
    response = app.open(path, method=method, headers={"Cookie": cookie} if cookie else {})
    if (path.rstrip("/") == BASE or "//" in path or "%00" in path) and response.mimetype == "text/plain":
        # No method named, an empty segment, a NUL: the router answers.
        assert response.status_code in (404, 405)
        return
    body = answer(response, method)
    if body is not None:
        assert body["Success"] is False and body["ResponseCode"] != 0 and body["ResponseDetail"], body
        assert response.status_code in (400, 401, 404, 405), (path, response.status_code)
    assert fingerprint(live.db, AGENT_TABLES) == before


@PROPERTY
@given(st.sampled_from(READ_ONLY), st.lists(segment, max_size=5), st.sampled_from(["application/xml", "application/json"]))
def test_any_read_only_path_with_a_good_token_answers_a_valid_response(live, app, token, method, tail, accept):
    path = "/".join([BASE, method, "user", "7", *tail]) if tail[:1] != ["user"] else "/".join([BASE, method, *tail])
    response = app.get(path, headers={"Cookie": f"TokenKey={token}", "Accept": accept})
    assert response.status_code < 500, (path, response.status_code, response.data[:300])
    if "%00" in path:  # the router's 404 for a NUL in a path value
        assert response.status_code == 404 and response.mimetype == "text/plain"
        return
    if accept == "application/json":
        body = response.get_json()
        assert list(body) == ["Success", "Data", "ResponseCode", "ResponseDetail"], body
    else:
        body = answer(response)
    assert body["Success"] == (response.status_code == 200), (path, body)
    assert (body["ResponseCode"] == 0) == body["Success"], body
