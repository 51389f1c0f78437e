"""Server-Sent Events at /events/callbacks/{confirmationCode}, read with plain HTTP."""
from __future__ import annotations

import requests
from helpers.callbacks import SUCCESS, new_request, record
from helpers.events import events_of


def test_every_status_with_its_id_then_an_end_event_then_the_stream_closes(live):
    code = new_request(live.db)
    ids = record(live.db, code, *SUCCESS[:2])
    with requests.get(f"{live.events_url}/events/callbacks/{code}", stream=True, timeout=20) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        stream = events_of(response)
        first = [next(stream), next(stream)]  # the history, at once
        ids += record(live.db, code, *SUCCESS[2:])  # then live
        rest = list(stream)  # ends when the server closes the stream
    received = first + rest
    assert [e["data"]["status"] for e in received] == SUCCESS + ["CallSucceeded"]
    assert [e["event"] for e in received] == ["status"] * len(SUCCESS) + ["end"]
    assert [int(e["id"]) for e in received[:-1]] == ids
    assert all(e["data"]["confirmationCode"] == code for e in received)


def test_last_event_id_resumes_after_that_event_and_204_after_the_end(live):
    code = new_request(live.db)
    ids = record(live.db, code, *SUCCESS)
    with requests.get(f"{live.events_url}/events/callbacks/{code}", stream=True, timeout=20,
                      headers={"Last-Event-ID": str(ids[2])}) as response:
        received = list(events_of(response))
    assert [e["data"]["status"] for e in received if e["event"] == "status"] == SUCCESS[3:]
    assert [int(e["id"]) for e in received if e["event"] == "status"] == ids[3:]
    # An EventSource that reconnects after the end is told to stop (204), not sent anything again.
    again = requests.get(f"{live.events_url}/events/callbacks/{code}", headers={"Last-Event-ID": str(ids[-1])},
                         timeout=10)
    assert again.status_code == 204 and again.content == b""


def test_unknown_and_malformed_codes_are_404_and_a_bad_last_event_id_400(live):
    assert requests.get(f"{live.events_url}/events/callbacks/0000000002", timeout=10).status_code == 404
    assert requests.get(f"{live.events_url}/events/callbacks/12345", timeout=10).status_code == 404
    code = new_request(live.db)
    bad = requests.get(f"{live.events_url}/events/callbacks/{code}", headers={"Last-Event-ID": "x1"}, timeout=10)
    assert bad.status_code == 400


def test_a_stream_that_waits_receives_a_status_written_later(live):
    code = new_request(live.db)
    with requests.get(f"{live.events_url}/events/callbacks/{code}", stream=True, timeout=20) as response:
        stream = events_of(response)
        (first_id,) = record(live.db, code, "CallingUser")
        event = next(stream)
        assert (event["event"], event["data"]["status"], int(event["id"])) == ("status", "CallingUser", first_id)
        record(live.db, code, "CallingUserFailed", "Rescheduled", "CallingUser", "CallFailed")
        assert [e["data"]["status"] for e in stream] == ["CallingUserFailed", "Rescheduled", "CallingUser",
                                                         "CallFailed", "CallFailed"]


def test_open_streams_are_counted_in_the_metrics(live):
    code = new_request(live.db)
    record(live.db, code, "CallingUser")
    with requests.get(f"{live.events_url}/events/callbacks/{code}", stream=True, timeout=20) as response:
        next(events_of(response))  # the stream is open and waiting
        metrics = requests.get(live.url("/metrics"), timeout=10).text
        assert "callsuite_event_subscribers 1.0" in metrics.splitlines()
