"""The callback engine executes requests through the simulated switch: the exact status
sequence, retries with Rescheduled, EWT gating, a scheduled request at its slot, and the
calls it places are ordinary (recorded) ledger calls."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
from helpers import buzzeasy as b
from helpers.buzzeasy import rest, statuses, wait_for
from helpers.callbutton import request_doc
from helpers.server import start_server
from sqlalchemy import select

from services.core import callback_engine as engine
from services.core import callbacks
from services.integrations.callback_worker import CallbackWorker
from storage.models import Call, CallbackRequest, ServiceQueue

SUCCESS = ["CallingUser", "UserConnected", "CallingAgent", "AgentConnected", "CallAccepted", "CallSucceeded"]


def request_asap(live, phone: str) -> str:
    answer = rest(live, "RequestCallWhenAvailable", {"name": "Customer", "phoneNo": phone, "serviceQueue": "1",
                                                     "company": "1", "password": b.COMPANY_PASSWORD,
                                                     "field1": "A-1"}).json()
    assert answer["ResultCode"] == 0, answer
    return answer["ConfirmationCode"]


def finished(live, code: str):
    row = b.request_row(live, code)
    return row if row.state in ("succeeded", "failed") else None


def calls_of(live, code: str) -> list[Call]:
    with live.db.read_session() as session:
        request = callbacks.by_confirmation_code(session, code)
        legs = list(session.scalars(select(Call).where(Call.callback_request_id == request.id).order_by(Call.id)))
        for leg in legs:
            _ = leg.recording  # loaded while the session is open
        return legs


def test_a_callback_runs_end_to_end_with_the_exact_status_sequence(live):
    code = request_asap(live, b.ANSWERS)
    row = wait_for(lambda: finished(live, code), what="the callback to finish")
    assert row.state == "succeeded" and row.attempts == 1 and row.retries == 0
    assert statuses(live, code) == SUCCESS
    with live.db.read_session() as session:
        events = callbacks.history(session, row.id)
    assert [e.at for e in events] == sorted(e.at for e in events) and all(e.attempt == 1 for e in events)
    # Two ordinary ledger calls: the user's leg (recorded, now on the agent's extension)
    # and the leg that rang the queue's agent.
    user_leg, agent_leg = calls_of(live, code)
    assert (user_leg.direction, user_leg.target, user_leg.extension, user_leg.agent_id, user_leg.queue_id,
            user_leg.company_id) == ("outbound", b.ANSWERS, "201", 7, 1, 1)
    assert user_leg.answered_at is not None and user_leg.result == "Connected"
    assert user_leg.did == "+18005551234"  # the company's client code: in its Callbutton report
    report = requests.post(live.url("/cb/main/jsp/xml/xml.jsp"), auth=("partner1", "partner-pw"), timeout=10,
                           data=request_doc("8005551234", start="01/01/2020 00:00:00", end=""))
    assert f'<Call ID="{user_leg.id}">' in report.text and "<VoiceDirectory>" in report.text
    assert agent_leg.target == "201" and agent_leg.recording is None
    wait_for(lambda: calls_of(live, code)[0].recording.state == "available", what="the recording")


@pytest.mark.parametrize("phone", [b.BUSY, b.NO_ANSWER, b.VOICEMAIL, b.UNREACHABLE],
                         ids=["busy", "no-answer", "voicemail", "unreachable"])
def test_a_user_who_cannot_be_reached_is_retried_then_fails(live, phone):
    code = request_asap(live, phone)
    row = wait_for(lambda: finished(live, code), what="the callback to fail")
    assert statuses(live, code) == ["CallingUser", "CallingUserFailed", "Rescheduled",
                                    "CallingUser", "CallingUserFailed", "CallFailed"]
    assert (row.state, row.attempts, row.retries) == ("failed", 2, 2)
    legs = calls_of(live, code)
    assert [c.target for c in legs] == [phone, phone]  # one dial per attempt
    with live.db.read_session() as session:
        events = callbacks.history(session, row.id)
    rescheduled = events[2].at
    assert events[3].at - rescheduled >= timedelta(seconds=b.FAST_ENGINE["callback_retry_delay_s"])
    assert [e.attempt for e in events] == [1, 1, 1, 2, 2, 2]


def test_retries_are_reported_by_buzzmeinfo_while_open(live):
    code = request_asap(live, b.NO_ANSWER)
    wait_for(lambda: "Rescheduled" in statuses(live, code), what="a reschedule")
    data = requests.get(live.url("/BuzzMeInfo/InfoService.svc/rest/GetCallDataByPin"), timeout=10,
                        params={"pin": code[-6:], "companyId": 1, "password": b.COMPANY_PASSWORD}).json()
    assert data is None or data["Retries"] == 1  # None: it had already failed for good
    wait_for(lambda: finished(live, code))


def test_asap_requests_wait_while_the_queue_ewt_is_above_the_lead_time(live):
    assert rest(live, "UpdateEWTRecord", {"serviceQueue": 1, "ewt": 30, "company": 1,
                                          "password": b.COMPANY_PASSWORD}).json() is True
    try:
        code = request_asap(live, b.ANSWERS)
        # Several engine polls go by without the request being touched.
        later = datetime.now(timezone.utc) + timedelta(seconds=1)
        wait_for(lambda: datetime.now(timezone.utc) > later)
        assert statuses(live, code) == [] and b.request_row(live, code).state == "open"
    finally:
        rest(live, "UpdateEWTRecord", {"serviceQueue": 1, "ewt": 0, "company": 1, "password": b.COMPANY_PASSWORD})
    wait_for(lambda: finished(live, code))
    assert statuses(live, code) == SUCCESS


def test_a_scheduled_request_fires_at_its_slot(tmp_path):
    server = start_server(tmp_path, site=b.site(), **b.FAST_ENGINE)
    zone = ZoneInfo("Europe/London")
    # Queue 1 opens in 4 s, with one-minute slots: its slot 1 starts then.
    opening = (datetime.now(zone) + timedelta(seconds=4)).replace(microsecond=0)
    if opening.date() != (opening + timedelta(minutes=2)).date():
        server.stop()
        pytest.skip("too close to midnight for a same-day slot")
    with server.db.session() as session:
        queue = session.get(ServiceQueue, 1)
        queue.opening_hours, queue.slot_minutes = {"mon-sun": f"{opening:%H:%M:%S}-23:59:59"}, 1
    try:
        answer = rest(server, "RequestCallSchedule", {
            "name": "Later", "phoneNo": b.ANSWERS, "serviceQueue": "1", "company": "1",
            "password": b.COMPANY_PASSWORD, "date": f"{opening:%Y-%m-%d} 00:00:00", "timeslot": "1"}).json()
        assert answer["ResultCode"] == 0
        code = answer["ConfirmationCode"]
        row = b.request_row(server, code)
        assert row.scheduled_for == opening.astimezone(timezone.utc)
        wait_for(lambda: finished(server, code), what="the scheduled callback")
        assert statuses(server, code) == SUCCESS
        with server.db.read_session() as session:
            first = callbacks.history(session, row.id)[0]
            assert first.at >= opening.astimezone(timezone.utc)  # not a moment before its slot
            assert session.get(CallbackRequest, row.id).next_attempt_at is None
    finally:
        server.stop()


def test_the_connected_call_is_linkable_by_addlink_from_the_agents_workstation(tmp_path):
    site = b.site(agents=[7])
    site["workstations"] = [{"host": "WS-ALICE", "address": "127.0.0.1", "extension": "201"}]
    server = start_server(tmp_path, site=site, **{**b.FAST_ENGINE, "callback_talk_s": 4.0})
    try:
        code = request_asap(server, b.ANSWERS)
        wait_for(lambda: "CallAccepted" in statuses(server, code), what="the agent to take the call")
        reference = requests.get(server.url("/bluebutler/service/AddLink/id=CB-LINK-1"), timeout=10,
                                 params={"host": "WS-ALICE", "activeCall": "true"}).text
        user_leg = calls_of(server, code)[0]
        assert reference == user_leg.recording.reference
        wait_for(lambda: finished(server, code))
    finally:
        server.stop()


def test_a_busy_worker_keeps_its_own_attempt_whose_renewal_came_late(tmp_path):
    """The lease tells a dead worker's attempt from a live one's. A live worker whose renewal
    is late (a process starved of CPU for longer than the lease) still runs its attempt:
    its own sweep must not close it as interrupted and end a call that is going on. The
    late renewal is made by moving this worker's clock past the lease mid-call."""
    server = start_server(tmp_path, site=b.site(agents=[7]),
                          **{**b.FAST_ENGINE, "callback_interval_s": 3600})  # the server's own worker stays idle
    ahead = [timedelta(0)]
    worker = CallbackWorker(server.system, policy=engine.Policy(max_attempts=2, retry_delay=timedelta(seconds=0.3),
                                                                lease=timedelta(seconds=3)),
                            interval_s=0.05, ring_timeout_s=3.0, answer_after_s=0.2, agent_answer_s=0.2, talk_s=2.0,
                            clock=lambda: datetime.now(timezone.utc) + ahead[0])
    worker.start()
    try:
        code = request_asap(server, b.ANSWERS)
        wait_for(lambda: "CallAccepted" in statuses(server, code), what="the agent to take the call")
        ahead[0] = timedelta(seconds=10)  # the lease has run out by this worker's clock
        row = wait_for(lambda: finished(server, code), what="the callback to finish")
        assert (row.state, row.attempts) == ("succeeded", 1)
        assert statuses(server, code) == SUCCESS  # no Rescheduled: the attempt was never taken away
    finally:
        worker.stop()
        server.stop()
