"""Who may use Recall's RetrieveRecFile (recall_allowed_networks, or Basic) and the
simulated switch's API (sim_allowed_networks, loopback by default), over real HTTP.
Remote clients come through the trusted proxy's X-Forwarded-For."""
from __future__ import annotations

import pytest
import requests
from helpers.server import start_server
from helpers.soap import BMS

RECALL = "/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile"
REMOTE = {"X-Forwarded-For": "203.0.113.77"}
OFFICE = {"X-Forwarded-For": "10.20.30.40"}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("networks"), trusted_proxy="127.0.0.1")
    yield server
    server.stop()


def retrieve(live, headers, auth=None, extension="201", **extra):
    return requests.get(live.url(RECALL), headers=headers, auth=auth, timeout=10,
                        params={"sExtension": extension, "dtCallDateTime": '"2011-10-10 18:52:00"',
                                "format": "json", **extra})


def test_retrieve_rec_file_answers_the_default_networks_without_credentials(live):
    for headers in ({}, OFFICE):  # loopback, a private range
        r = retrieve(live, headers)
        assert r.status_code == 200 and r.json() == {"d": ""}, r.text


def test_retrieve_rec_file_from_elsewhere_needs_basic(live):
    refused = retrieve(live, REMOTE)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert "d" not in refused.json()
    jsonp = retrieve(live, REMOTE, callback="cb")
    assert jsonp.status_code == 401 and jsonp.text.startswith("cb(")
    assert retrieve(live, REMOTE, auth=("bms", "wrong")).status_code == 401
    assert retrieve(live, REMOTE, auth=BMS).json() == {"d": ""}
    # Listening rights: alice hears extension 201 only.
    assert retrieve(live, REMOTE, auth=("alice", "demo-alice-pw")).status_code == 200
    assert retrieve(live, REMOTE, auth=("alice", "demo-alice-pw"), extension="202").status_code == 403


def test_retrieve_rec_file_hands_out_a_path_to_an_allowed_client(live):
    recorded = live.recorded_call("201", talk_s=1.0)
    with live.db.session() as session:
        from services.core import ledger
        recording = ledger.recording_by_reference(session, recorded.reference)
        when = recording.call.started_at.strftime("%Y-%m-%d %H:%M:%S")  # the server's zone is UTC
    params = {"sExtension": "201", "dtCallDateTime": f'"{when}"', "format": "json"}
    assert requests.get(live.url(RECALL), params=params, headers=REMOTE).status_code == 401
    path = requests.get(live.url(RECALL), params=params).json()["d"]
    assert path.endswith(".mp3")


def test_retrieve_rec_file_networks_are_configurable(tmp_path):
    server = start_server(tmp_path, trusted_proxy="127.0.0.1", recall_allowed_networks=["203.0.113.0/24"])
    try:
        assert retrieve(server, REMOTE).status_code == 200
        assert retrieve(server, OFFICE).status_code == 401
    finally:
        server.stop()


def sim_call(server, headers):
    return requests.post(server.url("/sim/v1/calls"), json={"direction": "inbound", "extension": "201",
                                                            "duration_s": 1}, headers=headers, timeout=10)


def test_sim_api_answers_loopback_only(live):
    for headers in (REMOTE, OFFICE):
        refused = sim_call(live, headers)
        assert refused.status_code == 403 and "sim_allowed_networks" in refused.json()["error"]
        assert requests.get(live.url("/sim/v1/calls/1"), headers=headers).status_code == 403
        assert requests.post(live.url("/sim/v1/calls/1/hangup"), headers=headers).status_code == 403
    started = sim_call(live, {})
    assert started.status_code == 201, started.text


def test_sim_api_networks_are_configurable(tmp_path):
    server = start_server(tmp_path, trusted_proxy="127.0.0.1", sim_allowed_networks=["10.0.0.0/8"])
    try:
        assert sim_call(server, OFFICE).status_code == 201
        assert sim_call(server, REMOTE).status_code == 403
    finally:
        server.stop()


def test_network_lists_from_the_environment_and_a_config_file(tmp_path):
    from services.config import load_settings

    settings = load_settings(None, environ={"CALLSUITE_SIM_ALLOWED_NETWORKS": "10.0.0.0/8, ::1"})
    assert settings.sim_allowed_networks == ("10.0.0.0/8", "::1")
    config = tmp_path / "callsuite.toml"
    config.write_text('recall_allowed_networks = ["192.0.2.0/24"]\n')
    assert load_settings(config, environ={}).recall_allowed_networks == ("192.0.2.0/24",)
