"""Play by Phone (seed 000) through the telephony layer's playback channels."""
import pytest
import requests
from helpers.audio import tone_mp3
from helpers.server import start_server
from helpers.soap import zeep_client

BMS = ("bms", "demo-bms-pw")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("pbp"), playback_channels=1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reference(live):
    r = live.cti({"event": "call.started", "call_id": "pbp-1", "at": "2026-11-20T10:00:00Z", "extension": "201"})
    live.upload("pbp-1", tone_mp3(3.0)).raise_for_status()
    return r.json()["reference"]


def play(live, reference, phone, auth=BMS):
    return requests.get(live.url(f"/bluebutler/service/PlayByPhone/{reference}/{phone}"), auth=auth)


def test_one_channel_two_plays(live, reference):
    first = play(live, reference, "+442079460123")
    second = play(live, reference, "+442079460456")
    assert (first.status_code, first.text) == (200, "TRUE")
    assert (second.status_code, second.text) == (200, "ERROR: No Playback Channels")
    [channel] = live.system.switch.channels()
    assert channel.state != "idle" and channel.number == "+442079460123"


def test_failures_are_false(live, reference):
    assert play(live, "0000000000", "+442079460123").text == "FALSE"
    assert play(live, reference, "not-a-number").text == "FALSE"


def test_play_by_phone_needs_listening_rights(live, reference):
    assert play(live, reference, "+442079460123", auth=None).status_code == 401
    assert play(live, reference, "+442079460123", auth=("alice", "wrong")).status_code == 401


def test_play_by_phone_over_soap(live, reference):
    client = zeep_client(live.url("/soap/recording?wsdl"))
    assert client.service.PlayByPhone(refNum="0000000000", phoneNumber="+442079460123") == "FALSE"
    # The single channel is still playing the 3 s recording of the first test (or is free again).
    assert client.service.PlayByPhone(refNum=reference, phoneNumber="+442079460789") in (
        "TRUE", "ERROR: No Playback Channels")
