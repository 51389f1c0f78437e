"""blueButler's seed URLs as HTTP tools use them (issue 8, D.7): HEAD is side-effect free,
multi-range and unsatisfiable Range requests on recordings, activity ids holding "/"."""
import requests
from helpers.console import signed_in
from sqlalchemy import func, select

from storage.models import ActivityLink

BMS = ("bms", "demo-bms-pw")


def links_named(live, activity):
    with live.db.session() as session:
        return session.scalar(select(func.count()).select_from(ActivityLink)
                              .where(ActivityLink.activity_id == activity))


def test_head_on_add_link_stores_nothing(live):
    url = live.url("/bluebutler/service/AddLink/id=ACT-HEAD?host=WS-ALICE&activeCall=FALSE")
    response = requests.head(url, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert links_named(live, "ACT-HEAD") == 0
    # GET does what it always did.
    assert requests.get(url, timeout=10).status_code == 200
    assert links_named(live, "ACT-HEAD") == 1


def test_an_activity_id_with_a_slash_can_be_linked(live):
    call = live.recorded_call()
    response = requests.get(live.url("/bluebutler/service/AddLink/id=ACT%2F1?host=WS-ALICE&activeCall=FALSE"),
                            timeout=10)
    assert response.status_code == 200 and response.text == ""
    with live.db.session() as session:
        link = session.scalar(select(ActivityLink).where(ActivityLink.activity_id == "ACT/1"))
        assert link is not None and link.state == "pending"
    # ... and linked to a recording over the generic GET, by that id.
    response = requests.get(live.url("/rest/recording/LinkRecording"), auth=BMS, timeout=10,
                            params={"activityId": "ACT/1", "refNum": call.reference})
    assert response.status_code == 200, response.text
    with live.db.session() as session:
        link = session.scalar(select(ActivityLink).where(ActivityLink.activity_id == "ACT/1"))
        assert link.state == "linked" and link.recording.reference == call.reference


def test_an_activity_id_in_utf8_is_stored_as_sent(live):
    # The path arrives as WSGI's latin-1 string: the router decodes it as UTF-8.
    response = requests.get(live.url("/bluebutler/service/AddLink/id=Caf%C3%A9-%E2%84%961?host=WS-ALICE&activeCall=FALSE"),
                            timeout=10)
    assert response.status_code == 200 and response.text == ""
    assert links_named(live, "Café-№1") == 1


def _recording_urls(live, reference, call_id):
    with live.db.session() as session:
        from services.core import ledger
        ledger_id = ledger.find_call(session, "cti", call_id).id
    console, _ = signed_in(live)
    return [(requests, live.url(f"/bluebutler/service/MP3/{reference}"), BMS),
            (requests, live.url(f"/cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id={ledger_id}"),
             ("partner1", "demo-partner-pw")),
            (console, live.url(f"/console/recordings/{reference}.mp3"), None)]


def test_multi_range_requests_get_the_whole_recording(live):
    call = live.recorded_call(talk_s=3.0)
    for client, url, auth in _recording_urls(live, call.reference, call.call_id):
        whole = client.get(url, auth=auth, timeout=10)
        assert whole.status_code == 200 and len(whole.content) > 100
        response = client.get(url, auth=auth, timeout=10, headers={"Range": "bytes=0-10,20-30"})
        assert response.status_code == 200, (url, response.status_code)
        assert response.content == whole.content
        single = client.get(url, auth=auth, timeout=10, headers={"Range": "bytes=0-10"})
        assert single.status_code == 206 and single.content == whole.content[:11]


def test_an_unsatisfiable_range_says_how_long_the_recording_is(live):
    call = live.recorded_call(talk_s=2.0)
    for client, url, auth in _recording_urls(live, call.reference, call.call_id):
        length = len(client.get(url, auth=auth, timeout=10).content)
        response = client.get(url, auth=auth, timeout=10, headers={"Range": f"bytes={length + 10}-"})
        assert response.status_code == 416, url
        assert response.headers["Content-Range"] == f"bytes */{length}"


def test_ranges_anywhere_in_the_recording_send_exactly_their_bytes_on_one_connection(live):
    call = live.recorded_call(talk_s=3.0)
    for client, url, auth in _recording_urls(live, call.reference, call.call_id):
        with requests.Session() as connection:  # keep-alive: a byte too many would spoil the next answer
            if client is not requests:
                connection.cookies.update(client.cookies)
            whole = connection.get(url, auth=auth, timeout=10).content
            length = len(whole)
            for header, expected, content_range in (
                    (f"bytes=100-{length // 2}", whole[100:length // 2 + 1], f"bytes 100-{length // 2}/{length}"),
                    ("bytes=-300", whole[-300:], f"bytes {length - 300}-{length - 1}/{length}"),
                    (f"bytes={length - 5}-", whole[-5:], f"bytes {length - 5}-{length - 1}/{length}"),
                    (f"bytes=7-{length + 1000}", whole[7:], f"bytes 7-{length - 1}/{length}")):
                response = connection.get(url, auth=auth, timeout=10, headers={"Range": header})
                assert response.status_code == 206, (url, header, response.status_code)
                assert response.headers["Content-Range"] == content_range, (url, header)
                assert response.content == expected, (url, header)
                assert int(response.headers["Content-Length"]) == len(expected)
            assert connection.get(url, auth=auth, timeout=10).content == whole
