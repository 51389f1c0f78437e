"""CTI ingest: a PBX posts call events over HTTP; the ledger keeps them, checked."""
import threading
import time
from datetime import datetime, timezone

import requests
from helpers.server import CTI_TOKEN
from sqlalchemy import select, text, update
from sqlalchemy.orm import selectinload

from storage.models import Call


def event(kind, call_id, at, **fields):
    return {"event": kind, "call_id": call_id, "at": at, **fields}


def stored(live, call_id) -> Call:
    with live.db.session() as session:
        return session.scalar(select(Call).options(selectinload(Call.recording))
                              .where(Call.source == "cti", Call.external_id == call_id))


def test_a_call_through_cti_lands_in_the_ledger(live):
    r = live.cti(event("call.started", "pbx-1", "2026-11-20T14:00:00Z", extension="201", direction="inbound",
                       ani="(312) 555-0142", did="8005551234"))
    assert r.status_code == 201, r.text
    reference = r.json()["reference"]
    assert reference and reference.isdigit() and len(reference) == 10
    assert live.cti(event("call.answered", "pbx-1", "2026-11-20T14:00:05Z")).status_code == 200
    r = live.cti(event("call.ended", "pbx-1", "2026-11-20T14:03:05+00:00", dtmf="12#"))
    assert r.status_code == 200 and r.json()["state"] == "ended"

    call = stored(live, "pbx-1")
    assert (call.direction, call.extension, call.state, call.result) == ("inbound", "201", "ended", "Connected")
    assert call.ani == "+13125550142" and call.did == "+18005551234"
    assert (call.duration_s, call.talk_time_s, call.dtmf) == (185, 180, "12#")
    assert call.recording.reference == reference
    with live.db.session() as session:  # details a PBX leaves out are SQL NULL, not JSON's null
        assert session.scalar(select(Call.id).where(Call.external_id == "pbx-1", Call.caller_address.is_(None),
                                                    Call.other_data.is_(None))) == call.id


def test_repeated_events_are_idempotent(live):
    started = event("call.started", "pbx-2", "2026-11-20T15:00:00Z", extension="202")
    assert live.cti(started).status_code == 201
    again = live.cti(started)
    assert again.status_code == 200 and again.json()["applied"] is False
    ended = event("call.ended", "pbx-2", "2026-11-20T15:00:30Z", result="No Answer")
    assert live.cti(ended).status_code == 200
    assert live.cti(ended).json()["applied"] is False
    assert stored(live, "pbx-2").result == "No Answer"


def test_bad_events_get_4xx_with_a_reason(live):
    url = live.url("/cti/v1/events")
    auth = {"Authorization": f"Bearer {CTI_TOKEN}"}
    cases = [
        (requests.post(url, json=event("call.started", "x", "2026-11-20T15:00:00Z")), 401, "Bearer"),
        (requests.post(url, json=event("call.started", "x", "2026-11-20T15:00:00Z"),
                       headers={"Authorization": "Bearer wrong-token-wrong-token"}), 401, "Bearer"),
        (requests.post(url, data="{not json", headers={**auth, "Content-Type": "application/json"}), 400, "malformed JSON"),
        (requests.post(url, data="a=b", headers={**auth, "Content-Type": "application/x-www-form-urlencoded"}), 415, "application/json"),
        (live.cti(event("call.exploded", "x", "2026-11-20T15:00:00Z")), 400, "unknown event"),
        (live.cti(event("call.started", "x", "yesterday")), 400, "ISO 8601"),
        (live.cti(event("call.started", "x", "2026-11-20T15:00:00")), 400, "UTC offset"),
        (live.cti(event("call.started", "x", "2026-11-20T15:00:00Z", direction="sideways")), 400, "direction"),
        (live.cti({**event("call.started", "x", "2026-11-20T15:00:00Z"), "color": "red"}), 400, "unknown field"),
        (live.cti(event("call.ended", "never-started", "2026-11-20T15:00:00Z")), 404, "send call.started first"),
    ]
    for response, status, reason in cases:
        assert response.status_code == status, (status, response.text)
        assert reason in response.text
        assert "Traceback" not in response.text


def test_out_of_order_events_are_refused_and_change_nothing(live):
    assert live.cti(event("call.started", "pbx-3", "2026-11-20T16:00:00Z", extension="203")).status_code == 201
    before_start = live.cti(event("call.answered", "pbx-3", "2026-11-20T15:59:00Z"))
    assert before_start.status_code == 409 and "before the call started" in before_start.text
    assert live.cti(event("call.ended", "pbx-3", "2026-11-20T16:01:00Z")).status_code == 200
    late_answer = live.cti(event("call.answered", "pbx-3", "2026-11-20T16:00:30Z"))
    assert late_answer.status_code == 409 and "cannot be answered" in late_answer.text
    restart = live.cti(event("call.started", "pbx-3", "2026-11-20T17:00:00Z"))
    assert restart.status_code == 409
    call = stored(live, "pbx-3")
    assert call.state == "ended" and call.answered_at is None and call.result == "No Answer"


def test_recording_pauses_from_a_pbx_are_kept_as_spans(live):
    assert live.cti(event("call.started", "pbx-4", "2026-11-20T18:00:00Z", extension="204")).status_code == 201
    assert live.cti(event("call.answered", "pbx-4", "2026-11-20T18:00:01Z")).ok
    assert live.cti(event("recording.resumed", "pbx-4", "2026-11-20T18:00:05Z")).json()["applied"] is False
    assert live.cti(event("recording.paused", "pbx-4", "2026-11-20T18:00:10Z")).json()["applied"] is True
    assert live.cti(event("recording.paused", "pbx-4", "2026-11-20T18:00:11Z")).json()["applied"] is False
    assert live.cti(event("recording.resumed", "pbx-4", "2026-11-20T18:00:20Z")).ok
    assert live.cti(event("call.ended", "pbx-4", "2026-11-20T18:01:00Z")).ok
    late = live.cti(event("recording.paused", "pbx-4", "2026-11-20T18:02:00Z"))
    assert late.status_code == 409 and "cannot pause" in late.text
    spans = stored(live, "pbx-4").recording.paused_spans
    assert spans == [{"from": "2026-11-20T18:00:10+00:00", "to": "2026-11-20T18:00:20+00:00"}]


def test_a_call_ended_while_paused_closes_the_pause_and_ends_once(live):
    assert live.cti(event("call.started", "pbx-6", "2026-11-20T18:30:00Z", extension="206", dtmf="1")).status_code == 201
    assert live.cti(event("call.answered", "pbx-6", "2026-11-20T18:30:05Z")).ok
    assert live.cti(event("recording.paused", "pbx-6", "2026-11-20T18:30:20Z")).ok
    ended = live.cti(event("call.ended", "pbx-6", "2026-11-20T18:31:05Z", result="Abandoned"))
    assert ended.status_code == 200 and ended.json()["state"] == "ended" and ended.json()["applied"] is True
    again = live.cti(event("call.ended", "pbx-6", "2026-11-20T18:31:05Z"))  # the PBX repeats itself
    assert again.status_code == 200 and again.json()["applied"] is False
    other = live.cti(event("call.ended", "pbx-6", "2026-11-20T18:32:00Z"))
    assert other.status_code == 409 and "already ended at 2026-11-20T18:31:05+00:00" in other.text
    late = live.cti(event("recording.resumed", "pbx-6", "2026-11-20T18:32:00Z"))
    assert late.status_code == 409 and "is awaiting_audio; it cannot resume" in late.text
    call = stored(live, "pbx-6")
    assert (call.state, call.result, call.duration_s, call.talk_time_s, call.dtmf) == ("ended", "Abandoned", 65, 60, "1")
    assert call.recording.state == "awaiting_audio"  # answered: its audio is to come
    assert call.recording.paused_spans == [{"from": "2026-11-20T18:30:20+00:00", "to": "2026-11-20T18:31:05+00:00"}]


def test_call_tracking_details_reach_the_callbutton_report(live):
    address = {"first_name": "Pat", "last_name": "Doe", "street_address": "1 Main St", "city": "Dallas",
               "state": "TX", "zip": "75201"}
    assert live.cti(event("call.started", "pbx-5", "2026-11-20T19:00:00Z", extension="205", ani="2145550142",
                          did="8005551234", campaign="3", info_digits="c", other_data="web lead",
                          caller_address=address)).status_code == 201
    assert live.cti(event("call.answered", "pbx-5", "2026-11-20T19:00:03Z")).ok
    # The campaign id may come as a number or as a string of digits.
    assert live.cti(event("call.ended", "pbx-5", "2026-11-20T19:02:00Z", index_number="4711", campaign=3)).ok
    call = stored(live, "pbx-5")
    assert (call.campaign_id, call.info_digits, call.other_data, call.index_number) == (3, "c", "web lead", "4711")
    assert call.caller_address == address
    body = ('<?xml version="1.0"?><Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>'
            '<ClientCode>8005551234</ClientCode><StartDate>11/20/2026 12:59:00</StartDate><EndDate>11/20/2026 13:01:00</EndDate>'
            '</GetCallDetailsRequest></CallbuttonService></Callbutton>')
    report = requests.post(live.url("/cb/main/jsp/xml/xml.jsp"), data=body, auth=("partner1", "demo-partner-pw"))
    from lxml import etree
    [row] = etree.fromstring(report.content).iter("Call")
    assert (row.findtext("Campaign"), row.findtext("InfoDigits"), row.findtext("OtherData"),
            row.findtext("IndexNumber"), row.findtext("ANI")) == ("3", "c", "web lead", "4711", "2145550142")
    assert (row.findtext("Address/FirstName"), row.findtext("Address/City"), row.findtext("Address/ZIP")) == \
           ("Pat", "Dallas", "75201")


def test_bad_tracking_details_are_refused(live):
    cases = [({"campaign": "Renewals"}, "campaign id"), ({"campaign": 999}, "unknown campaign"),
             ({"campaign": "999"}, "unknown campaign"), ({"campaign": "3.0"}, "campaign id"),
             ({"campaign": 0}, "campaign id"), ({"campaign": True}, "campaign id"),
             ({"info_digits": "x"}, "info_digits"), ({"caller_address": "1 Main St"}, "must be an object"),
             ({"caller_address": {"planet": "Mars"}}, "unknown key")]
    for fields, reason in cases:
        response = live.cti(event("call.started", "pbx-bad", "2026-11-20T19:00:00Z", **fields))
        assert response.status_code == 400 and reason in response.text, (fields, response.text)
    assert stored(live, "pbx-bad") is None


def sent_while_another_holds_the_call(live, call_id: str, others_change: dict, sent: dict):
    """POST `sent` while another transaction has changed the call (`others_change`) and not
    committed yet: (the answer, whether the request was seen waiting for the call's row)."""
    answers, raced = [], False
    url, auth = live.url("/cti/v1/events"), {"Authorization": f"Bearer {CTI_TOKEN}"}
    with live.db.session() as other:
        other.execute(update(Call).where(Call.source == "cti", Call.external_id == call_id).values(**others_change))
        request = threading.Thread(target=lambda: answers.append(requests.post(url, json=sent, headers=auth, timeout=60)))
        request.start()
        if live.db.is_sqlite:
            time.sleep(0.3)  # it waits for the writer lock, before its first statement
        else:  # it read the call before the other's change, and its UPDATE waits for the other's row lock
            # In autocommit: a transaction keeps the list of backends of its first read of
            # pg_stat_activity, so one polling inside it never sees a connection the server
            # opens later for the request (once in CI the wait went unseen for 10 s).
            with live.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
                deadline = time.monotonic() + 15
                while not raced:
                    assert time.monotonic() < deadline, "the request never waited for the row"
                    raced = bool(watcher.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")).scalar_one())
                    time.sleep(0.02)
    request.join(timeout=60)
    (answer,) = answers
    return answer, raced


def test_of_two_answers_at_once_one_wins_and_the_other_is_a_conflict(live):
    assert live.cti(event("call.started", "pbx-race", "2026-11-20T19:00:00Z", extension="205")).status_code == 201
    first_answer = datetime(2026, 11, 20, 19, 0, 2, tzinfo=timezone.utc)
    answer, raced = sent_while_another_holds_the_call(
        live, "pbx-race", {"state": "answered", "answered_at": first_answer},
        event("call.answered", "pbx-race", "2026-11-20T19:00:03Z"))
    assert answer.status_code == 409, answer.text
    # The UPDATE's own check refuses the answer that read the call as ringing (PostgreSQL);
    # SQLite lets one writer in at a time, so there the answer reads the call after the other.
    expected = "changed while it was being answered" if raced else "is answered; it cannot be answered now"
    assert expected in answer.text, answer.text
    call = stored(live, "pbx-race")
    assert call.state == "answered" and call.answered_at == first_answer


def test_of_two_ends_at_once_one_wins_and_the_other_is_a_conflict(live):
    assert live.cti(event("call.started", "pbx-race-end", "2026-11-20T19:10:00Z", extension="205")).status_code == 201
    assert live.cti(event("call.answered", "pbx-race-end", "2026-11-20T19:10:02Z")).ok
    first_end = datetime(2026, 11, 20, 19, 11, 0, tzinfo=timezone.utc)
    answer, raced = sent_while_another_holds_the_call(
        live, "pbx-race-end", {"state": "ended", "ended_at": first_end, "result": "Busy"},
        event("call.ended", "pbx-race-end", "2026-11-20T19:11:30Z"))
    assert answer.status_code == 409, answer.text
    expected = "changed while it was being ended" if raced else "already ended at 2026-11-20T19:11:00+00:00"
    assert expected in answer.text, answer.text
    call = stored(live, "pbx-race-end")
    assert (call.state, call.ended_at, call.result) == ("ended", first_end, "Busy")
