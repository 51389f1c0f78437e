"""The SIP switch against independent SIP parties: kamailio standing in for the PBX,
rtpengine recording, baresip user agents as the customer, the agent and a listener, each
its own process. What each party heard (its own capture) and what was stored (the MP3) is
checked by FFT against the frequency clocks the parties play (tests/helpers/sip.py)."""
from __future__ import annotations

import json
import math
import time
from urllib.parse import quote

import lameenc
import numpy as np
import pytest
import requests
from helpers import buzzeasy as b
from helpers.agent import AgentClient
from helpers.buzzeasy import rest, statuses, wait_for
from helpers.server import DEMO_SITE, start_server
from helpers.sip import SipLab, clock_seconds, missing_tools, read_wav, runs
from sqlalchemy import select

from services.core import callbacks
from services.telephony.audio import decode_pcm
from storage.models import Call

CUSTOMER = b.ANSWERS  # auto-answers, plays 300 + 30k Hz in second k
CUSTOMER_CLOCK = (300.0, 30.0)
AGENT = "201"  # the queue's agent's extension (user 7): auto-answers, plays 1800 + 40k Hz
AGENT_CLOCK = (1800.0, 40.0)
LISTENER = "+442079460123"  # answers play-by-phone calls, silent
PLAYED_CLOCK = (500.0, 50.0)  # the recording played by phone
THIRD = "+442079460444"  # a second party an agent dials: auto-answers with the agent's clock
SUCCESS = ["CallingUser", "UserConnected", "CallingAgent", "AgentConnected", "CallAccepted", "CallSucceeded"]
FAILED_TWICE = ["CallingUser", "CallingUserFailed", "Rescheduled", "CallingUser", "CallingUserFailed", "CallFailed"]
ENGINE = {"callback_interval_s": 0.1, "callback_retry_delay_s": 0.3, "callback_max_attempts": 2,
          "callback_ring_timeout_s": 2.5, "callback_lease_s": 6.0, "callback_talk_s": 4.0}


def user(number: str) -> str:
    return number.lstrip("+")  # the test PBX strips the "+" of E.164 numbers


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    missing = missing_tools()
    if missing:
        pytest.fail(f"the SIP tests need {', '.join(missing)} (Debian packages; .ci/run installs them)")
    lab = SipLab(tmp_path_factory.mktemp("sip-lab"))
    parties = {user(CUSTOMER): "customer-pw", AGENT: "agent-pw", user(LISTENER): "listener-pw",
               user(b.BUSY): "busy-pw", user(b.NO_ANSWER): "ringing-pw", "442079460901": "dies-pw",
               "442079460902": "crash-pw", user(THIRD): "third-pw"}
    try:
        lab.start(parties)
        lab.customer = lab.party(user(CUSTOMER), clock=CUSTOMER_CLOCK)
        lab.agent = lab.party(AGENT, clock=AGENT_CLOCK)
        lab.listener = lab.party(user(LISTENER))
        lab.third = lab.party(user(THIRD), clock=AGENT_CLOCK)
        lab.reject_calls(lab.party(user(b.BUSY), answer="manual"))
        lab.party(user(b.NO_ANSWER), answer="manual")  # rings until the caller gives up
        yield lab
    finally:
        lab.stop()


@pytest.fixture(autouse=True)
def no_raw_capture_outlives_its_call(request):
    yield
    if "lab" in request.fixturenames:
        lab = request.getfixturevalue("lab")
        wait_for(lambda: not lab.captures(), timeout_s=10, what="the raw captures to be deleted")


@pytest.fixture(scope="module")
def live(lab, tmp_path_factory):
    site = b.site(agents=[7])
    demo = json.loads(DEMO_SITE.read_text())
    site.update(campaigns=demo["campaigns"], result_codes=demo["result_codes"])  # for the agent API's dial
    server = start_server(tmp_path_factory.mktemp("sip-callsuite"), site=site, playback_channels=1,
                          signin_max_failures=10_000, signin_max_address_failures=10_000, **ENGINE, **lab.settings)
    yield server
    server.stop()


def clock_mp3(seconds: int, base: float, step: float, rate: int = 16000) -> bytes:
    t = np.arange(rate) / rate
    pcm = np.concatenate([np.sin(2 * math.pi * (base + step * k) * t) for k in range(seconds)])
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode((pcm * 12000).astype("<i2").tobytes()) + encoder.flush())


def stored_audio(live, call: Call) -> tuple[np.ndarray, int]:
    data = live.system.store.path_of(call.recording.file_path).read_bytes()
    samples, rate = decode_pcm(data)
    return np.asarray(samples, dtype=np.int16), rate


def calls_of(live, code: str) -> list[Call]:
    with live.db.read_session() as session:
        request = callbacks.by_confirmation_code(session, code)
        legs = list(session.scalars(select(Call).where(Call.callback_request_id == request.id).order_by(Call.id)))
        for leg in legs:
            _ = leg.recording
        return legs


def finished(live, code: str):
    row = b.request_row(live, code)
    return row if row.state in ("succeeded", "failed") else None


def request_asap(live, phone: str) -> str:
    answer = rest(live, "RequestCallWhenAvailable", {"name": "Customer", "phoneNo": phone, "serviceQueue": "1",
                                                     "company": "1", "password": b.COMPANY_PASSWORD}).json()
    assert answer["ResultCode"] == 0, answer
    return answer["ConfirmationCode"]


def test_play_by_phone_delivers_the_recording_to_the_callee_and_holds_the_channel(live, lab):
    r = live.cti({"event": "call.started", "call_id": "sip-pbp-1", "at": "2026-11-20T10:00:00Z", "extension": "201"})
    live.upload("sip-pbp-1", clock_mp3(4, *PLAYED_CLOCK)).raise_for_status()
    reference = r.json()["reference"]
    auth = ("alice", "demo-alice-pw")  # she may listen to every recording
    first = requests.get(live.url(f"/bluebutler/service/PlayByPhone/{reference}/{quote(LISTENER)}"), auth=auth)
    second = requests.get(live.url(f"/bluebutler/service/PlayByPhone/{reference}/{quote(b.ANSWERS)}"), auth=auth)
    assert (first.status_code, first.text) == (200, "TRUE")
    assert (second.status_code, second.text) == (200, "ERROR: No Playback Channels")
    [channel] = live.system.switch.channels()
    assert channel.number == LISTENER and channel.state != "idle"
    # The call ends by itself when the file has played; the channel is free again.
    wait_for(lambda: live.system.switch.channels()[0].state == "idle", timeout_s=20, what="the playback to end")
    samples, rate = read_wav(lab.listener.heard())
    assert runs(clock_seconds(samples, rate, *PLAYED_CLOCK)) == [0, 1, 2, 3]
    media = live.system.switch.config.media_dir
    wait_for(lambda: not list(media.glob("play-*.wav")), what="the converted file to be removed")


def test_a_callback_bridges_customer_and_agent_with_the_seed_status_sequence(live, lab):
    code = request_asap(live, CUSTOMER)
    row = wait_for(lambda: finished(live, code), timeout_s=40, what="the callback to finish")
    assert statuses(live, code) == SUCCESS and row.state == "succeeded"
    user_leg, agent_leg = calls_of(live, code)
    assert (user_leg.target, user_leg.extension, user_leg.result) == (CUSTOMER, AGENT, "Connected")
    assert agent_leg.target == AGENT and agent_leg.recording is None
    # Each party heard the other's clock, seconds in order.
    customer_heard = runs(clock_seconds(*read_wav(lab.customer.heard()), *AGENT_CLOCK))
    agent_heard = runs(clock_seconds(*read_wav(lab.agent.heard()), *CUSTOMER_CLOCK))
    assert len(customer_heard) >= 2 and customer_heard == sorted(customer_heard), customer_heard
    assert len(agent_heard) >= 2 and agent_heard == sorted(agent_heard), agent_heard
    # The recording of the customer's leg holds both: the customer, and the agent bridged in.
    wait_for(lambda: calls_of(live, code)[0].recording.state == "available", what="the recording")
    samples, rate = stored_audio(live, calls_of(live, code)[0])
    assert len(runs(clock_seconds(samples, rate, *CUSTOMER_CLOCK))) >= 4
    assert len(runs(clock_seconds(samples, rate, *AGENT_CLOCK))) >= 2
    wait_for(lambda: not lab.captures(), timeout_s=10, what="the raw captures to be deleted")  # rtpengine's raw captures are deleted once the MP3 is stored


def test_an_agent_dial_with_the_recording_paused_leaves_exactly_the_paused_seconds_out(live, lab):
    agent = AgentClient(live, "alice", 7)
    assert agent.do("login", campaign="3").ok
    call_id = agent.get(f"/dial/user/7/phone/{quote(CUSTOMER)}").one["CallId"]
    with live.db.read_session() as session:
        switch_id = session.get(Call, call_id).external_id
    wait_for(lambda: live.system.switch.call(switch_id).state == "answered", timeout_s=20, what="the answer")
    time.sleep(2.2)
    assert agent.call("stoprecord", call_id).one["RecordingState"] == 2
    time.sleep(3.0)
    assert agent.call("startrecord", call_id).one["RecordingState"] == 1
    time.sleep(2.2)
    assert agent.call("hangup", call_id).ok
    snapshot = live.system.switch.call(switch_id)
    [span] = snapshot.paused_spans
    talk_s = (snapshot.ended_at - snapshot.answered_at).total_seconds()
    with live.db.read_session() as session:
        call = session.get(Call, call_id)
        _ = call.recording
    assert call.recording.state == "available"
    heard = set(runs(clock_seconds(*stored_audio(live, call), *CUSTOMER_CLOCK)))
    paused = {k for k in range(40) if span.start_call_s + 0.4 <= k and k + 1 <= span.end_call_s - 0.4}
    kept = {k for k in range(40) if k + 1 <= span.start_call_s - 0.4 or span.end_call_s + 0.4 <= k < talk_s - 1.4}
    assert paused and kept
    assert not heard & paused, (heard, span)
    assert kept <= heard, (heard, span)
    assert call.recording.duration_s == pytest.approx(talk_s - (span.end_call_s - span.start_call_s), abs=0.5)
    wait_for(lambda: not lab.captures(), timeout_s=10, what="the raw captures to be deleted")
    assert agent.call("dispose", call_id, resultcode="NOSALE").ok


def test_an_agent_holds_retrieves_and_connects_two_parties_who_then_hear_each_other(live, lab):
    agent = AgentClient(live, "alice", 7)
    agent.do("login", campaign="3")
    first = agent.get(f"/dial/user/7/phone/{quote(CUSTOMER)}").one["CallId"]
    switch = live.system.switch
    with live.db.read_session() as session:
        first_id = session.get(Call, first).external_id
    wait_for(lambda: switch.call(first_id).state == "answered", timeout_s=20, what="the answer")
    assert agent.call("hold", first).one["CallState"] == 3 and switch.call(first_id).held
    assert agent.call("retrieve", first).one["CallState"] == 2 and not switch.call(first_id).held
    assert agent.call("hold", first).ok  # to consult a second party
    second = agent.get(f"/dial/user/7/phone/{quote(THIRD)}").one["CallId"]
    with live.db.read_session() as session:
        switch_ids = [first_id, session.get(Call, second).external_id]
    wait_for(lambda: switch.call(switch_ids[1]).state == "answered", timeout_s=20, what="the answer")
    try:
        r = agent.do("connectcalls", call1=str(first), call2=str(second), resultcode1="XFER", resultcode2="SALE")
        assert [c["CallId"] for c in r.entities] == [first, second], r.body
        assert switch.call(switch_ids[0]).bridged_with == switch_ids[1]
        time.sleep(3.5)
    finally:
        for switch_id in switch_ids:  # the two parties hang up
            if switch.call(switch_id).state == "answered":
                switch.hangup(switch_id)
    with live.db.read_session() as session:
        one, two = session.get(Call, first), session.get(Call, second)
        _ = one.recording, two.recording
    # Each leg's recording holds its own party and, once connected, the other one.
    assert len(runs(clock_seconds(*stored_audio(live, one), *AGENT_CLOCK))) >= 2
    assert len(runs(clock_seconds(*stored_audio(live, two), *CUSTOMER_CLOCK))) >= 2


@pytest.mark.parametrize(("phone", "result"), [(b.BUSY, "Busy"), (b.NO_ANSWER, "No Answer"),
                                               (b.UNREACHABLE, "Abandoned")], ids=["busy", "no-answer", "unreachable"])
def test_a_customer_who_cannot_be_reached_is_retried_then_fails(live, phone, result):
    code = request_asap(live, phone)
    row = wait_for(lambda: finished(live, code), timeout_s=40, what="the callback to fail")
    assert statuses(live, code) == FAILED_TWICE
    assert (row.state, row.attempts) == ("failed", 2)
    legs = calls_of(live, code)
    assert [(leg.target, leg.result) for leg in legs] == [(phone, result), (phone, result)]


def place(switch, number: str) -> str:
    call_id = switch.place_call(extension=None, number=number, direction="outbound", ani=None, did=None,
                                answer_after_s=None, duration_s=None, record=True)
    wait_for(lambda: switch.call(call_id).state != "ringing", timeout_s=20, what="the answer")
    assert switch.call(call_id).state == "answered"
    return call_id


def test_a_sidecar_that_dies_is_restarted_and_its_calls_end(live, lab):
    party = lab.party("442079460901", clock=CUSTOMER_CLOCK)
    switch = live.system.switch
    call_id = place(switch, "+442079460901")
    time.sleep(1.5)
    switch._sidecar.process.kill()  # the sidecar crashes mid-call
    wait_for(lambda: switch.call(call_id).state == "failed", timeout_s=10, what="the call to end")
    with live.db.read_session() as session:
        call = session.scalar(select(Call).where(Call.external_id == call_id))
        _ = call.recording
    assert call.state == "ended" and call.result == "Connected"
    wait_for(lambda: switch.restarts == 1, timeout_s=10, what="the sidecar to restart")
    wait_for(lambda: calls_of_switch(live, call_id).recording.state == "available", what="what was recorded")
    party.stop()  # it never heard a BYE: the killed sidecar could not send one
    # The restarted sidecar carries calls again.
    again = place(switch, CUSTOMER)
    switch.hangup(again)  # at once: no audio may have reached rtpengine yet
    assert switch.call(again).result == "Connected"
    wait_for(lambda: calls_of_switch(live, again).recording.state == "available", what="the short call's recording")


def calls_of_switch(live, switch_id: str) -> Call:
    with live.db.read_session() as session:
        call = session.scalar(select(Call).where(Call.external_id == switch_id))
        _ = call.recording
        return call


def test_a_call_in_progress_when_callsuite_crashes_is_hung_up_and_ended_at_the_next_start(lab, tmp_path):
    party = lab.party("442079460902", clock=CUSTOMER_CLOCK)
    first = start_server(tmp_path, site={}, **lab.settings)  # no site: its password hashing is slow
    call_id = place(first.system.switch, "+442079460902")
    sidecar = first.system.switch._sidecar.process
    # The crash: Callsuite's threads stop where they are; the sidecar, in its own session, lives on.
    first._stopping.set()
    first._thread.join(10)
    for worker in first.system._workers:
        worker.stop()
    first.system.switch._stop.set()
    first.system.switch._sidecar.control.close()
    assert sidecar.poll() is None and not party.calls_seen("CALL_CLOSED")
    second = start_server(tmp_path, site={}, **lab.settings)
    try:
        wait_for(lambda: party.calls_seen("CALL_CLOSED"), timeout_s=10, what="the party to be hung up")
        assert sidecar.wait(5) is not None  # the old sidecar is gone
        call = calls_of_switch(second, call_id)
        assert call.state == "ended" and call.ended_at is not None
        wait_for(lambda: not lab.captures(), timeout_s=10, what="the raw captures to be deleted")  # what rtpengine had captured of it is dropped
        again = place(second.system.switch, "+442079460902")
        second.system.switch.hangup(again)
    finally:
        second.stop()
        party.stop()
        if first.system._listener is not None:  # what the "crashed" process still held
            first.system._listener.stop()
        first.system.database.dispose()
