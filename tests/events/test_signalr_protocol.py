"""The SignalR 2 wire protocol at /signalr, spoken with plain HTTP: versions, tokens,
message ids, CORS with credentials, JSONP."""
from __future__ import annotations

import json
import re

import pytest
import requests
from helpers.callbacks import SUCCESS, new_request, record
from helpers.events import HUBS, Connection, statuses
from helpers.server import start_server


@pytest.mark.parametrize("version", ["1.4", "1.5", "2.0", "2.1"])
def test_negotiate_answers_with_the_protocol_version_asked_for(live, version):
    negotiated = Connection(live.events_url, version).negotiated
    assert negotiated["ProtocolVersion"] == version
    assert negotiated["Url"] == "/signalr"
    assert negotiated["TryWebSockets"] is False
    assert set(negotiated) >= {"ConnectionToken", "ConnectionId", "KeepAliveTimeout", "DisconnectTimeout",
                               "ConnectionTimeout", "TransportConnectTimeout", "LongPollDelay"}


@pytest.mark.parametrize("params, reason", [
    ({"clientProtocol": "1.3", "connectionData": HUBS}, "Incompatible protocol version."),
    ({"connectionData": HUBS}, "Incompatible protocol version."),
    ({"clientProtocol": "1.5", "connectionData": json.dumps([{"name": "chathub"}])}, "'chathub' Hub could not"),
    ({"clientProtocol": "1.5", "connectionData": "not json"}, "connectionData"),
])
def test_negotiate_refuses_other_versions_and_hubs(live, params, reason):
    r = requests.get(live.events_url + "/signalr/negotiate", params=params, timeout=10)
    assert r.status_code == 400 and reason in r.text


def test_the_whole_conversation_and_a_poll_with_an_older_message_id_gets_what_it_missed(live):
    code = new_request(live.db)
    record(live.db, code, *SUCCESS[:2])
    client = Connection(live.events_url)
    assert client.connect()["S"] == 1
    assert client.start() == {"Response": "started"}
    assert client.invoke("Subscribe", code, call_id=7).json() == {"I": "7"}
    first = client.poll()
    assert statuses(first) == [(code, "CallingUser"), (code, "UserConnected")]
    after_two = client.message_id
    record(live.db, code, *SUCCESS[2:])
    rest = client.poll()
    assert statuses(rest) == [(code, s) for s in SUCCESS[2:]] + ["closeConnection"]
    # A client whose last response was lost polls again with the message id it had.
    assert client.poll(after_two)["M"] == rest["M"]
    assert requests.get(live.events_url + "/signalr/ping", timeout=10).json() == {"Response": "pong"}
    abort = requests.post(client.base + "/abort", params=client.params(), timeout=10)
    assert abort.status_code == 200


def test_a_forged_or_altered_token_is_refused_everywhere(live, tmp_path):
    client = Connection(live.events_url)
    connection_id, issued, mac = client.token.split(":")
    other = Connection(live.events_url)
    other_id = other.token.split(":")[0]
    forged = [f"{other_id}:{issued}:{mac}",  # someone else's connection under this signature
              f"{connection_id}:{int(issued) + 1}:{mac}", "made-up", ""]
    elsewhere = start_server(tmp_path / "elsewhere")  # another database: another key
    try:
        forged.append(Connection(elsewhere.events_url).token)
    finally:
        elsewhere.stop()
    for token in forged:
        for path, method in (("/connect", "post"), ("/start", "get"), ("/send", "post"), ("/poll", "post"),
                             ("/reconnect", "post"), ("/abort", "post")):
            params = {**client.params(), "connectionToken": token}
            r = getattr(requests, method)(client.base + path, params=params, timeout=10,
                                          data={"data": json.dumps({"H": "notifyme", "M": "Subscribe",
                                                                    "A": ["1234567890"], "I": 0})})
            assert r.status_code == 403, (path, token, r.status_code, r.text)


def test_the_hub_refuses_unknown_methods_and_codes_with_a_hub_error(live):
    client = Connection(live.events_url)
    client.connect()
    assert client.invoke("Unsubscribe", "1").json() == {"I": "0", "E": "'Unsubscribe' method could not be resolved."}
    assert client.invoke("Subscribe", "12345").json()["E"] == "Unknown confirmation code."
    assert client.invoke("Subscribe").json()["E"] == "'Subscribe' method could not be resolved."
    bad = requests.post(client.base + "/send", params=client.params(), data={"data": "{"}, timeout=10)
    assert bad.status_code == 400


def test_cors_echoes_the_origin_with_credentials_never_a_star(live):
    origin = "http://shop.example.test:8080"
    client = Connection(live.events_url, origin=origin)
    r = requests.get(client.base + "/start", params=client.params(), headers={"Origin": origin}, timeout=10)
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    preflight = requests.options(client.base + "/send", timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type"
    plain = requests.get(live.events_url + "/signalr/ping", timeout=10)
    assert "Access-Control-Allow-Origin" not in plain.headers


def test_jsonp_wraps_every_answer_and_refuses_bad_callback_names(live):
    client = Connection(live.events_url)
    r = requests.get(client.base + "/connect", params=client.params(callback="jQuery191_123"), timeout=10)
    assert r.headers["Content-Type"].startswith("application/javascript")
    body = re.fullmatch(r"jQuery191_123\((.*)\);", r.text)
    assert body and json.loads(body[1])["S"] == 1
    bad = requests.get(client.base + "/start", params=client.params(callback="alert(1)//"), timeout=10)
    assert bad.status_code == 400


def test_an_allow_list_of_origins_refuses_the_others_and_jsonp(tmp_path):
    allowed = "https://shop.example.test"
    server = start_server(tmp_path, events_allowed_origins=f"{allowed}, https://other.example.test")
    try:
        ok = Connection(server.events_url, origin=allowed)
        assert ok.negotiated["ProtocolVersion"] == "1.5"
        refused = requests.get(server.events_url + "/signalr/negotiate", timeout=10,
                               params={"clientProtocol": "1.5", "connectionData": HUBS},
                               headers={"Origin": "https://evil.example.test"})
        assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
        code = new_request(server.db)
        sse = requests.get(f"{server.events_url}/events/callbacks/{code}", timeout=10,
                           headers={"Origin": "https://evil.example.test"})
        assert sse.status_code == 403
        jsonp = requests.get(ok.base + "/connect", params=ok.params(callback="cb"), timeout=10)
        assert jsonp.status_code == 403
    finally:
        server.stop()


def test_guessing_codes_is_limited_per_connection_and_per_address(tmp_path):
    server = start_server(tmp_path, signin_max_failures=3, signin_max_address_failures=5)
    try:
        code = new_request(server.db)
        guesser = Connection(server.events_url)
        guesser.connect()
        for guess in ("0000000001", "0000000002", "0000000003"):
            assert guesser.invoke("Subscribe", guess).json()["E"] == "Unknown confirmation code."
        refused = guesser.invoke("Subscribe", code).json()["E"]  # even the right code, now
        assert re.fullmatch(r"Too many unknown confirmation codes: try again in \d+ seconds\.", refused)
        another = Connection(server.events_url)  # a new connection from the same address ...
        another.connect()
        assert another.invoke("Subscribe", code).json() == {"I": "0"}  # ... has its own three tries
        assert another.invoke("Subscribe", "0000000004").json()["E"] == "Unknown confirmation code."
        assert another.invoke("Subscribe", "0000000005").json()["E"] == "Unknown confirmation code."
        third = Connection(server.events_url)  # five failures from this address: all of it waits
        third.connect()
        assert third.invoke("Subscribe", code).json()["E"].startswith("Too many unknown confirmation codes")
        sse = requests.get(f"{server.events_url}/events/callbacks/{code}", timeout=10)
        assert sse.status_code == 429 and int(sse.headers["Retry-After"]) > 0
    finally:
        server.stop()


def test_keep_alives_on_open_streams_and_an_empty_answer_when_a_long_poll_times_out(tmp_path):
    server = start_server(tmp_path, events_keepalive_s=0.2, events_long_poll_s=0.5)
    try:
        client = Connection(server.events_url)
        assert (client.negotiated["KeepAliveTimeout"], client.negotiated["ConnectionTimeout"]) == (0.4, 0.5)
        client.connect()
        empty = client.poll()  # nothing happens: the poll ends after ConnectionTimeout
        assert empty["M"] == [] and empty["C"] == client.message_id
        with requests.get(client.base + "/connect", stream=True, timeout=10,
                          params={**client.params(), "transport": "serverSentEvents"}) as response:
            lines = response.iter_lines(decode_unicode=True)
            data = [line for line in (next(lines) for _ in range(12)) if line.startswith("data: ")]
        assert data[:2] == ["data: initialized", 'data: {"C":"c","S":1,"M":[]}']
        assert data[2:4] == ["data: {}", "data: {}"]  # the clients' keep-alive: an empty response
        code = new_request(server.db)
        with requests.get(f"{server.events_url}/events/callbacks/{code}", stream=True, timeout=10) as response:
            lines = response.iter_lines(decode_unicode=True)
            assert ": keep-alive" in [next(lines) for _ in range(6)]
    finally:
        server.stop()
