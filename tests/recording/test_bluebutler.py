"""blueButler (seed 000) over real HTTP: AddLink, MP3 and Play by Phone at the seed's URLs,
and the same operations over SOAP with zeep, every response validated against xsd/."""
import hashlib
import itertools

import pytest
import requests
import zeep
from helpers.audio import tone_mp3
from helpers.server import start_server
from helpers.soap import zeep_client
from sqlalchemy import select

from storage.models import ActivityLink, Recording

counter = itertools.count(1)
ALICE = ("alice", "demo-alice-pw")
BMS = ("bms", "demo-bms-pw")


def cti_call(live, extension="201", answered=True, ended=False, audio: bytes | None = None, ani="+13125550100"):
    call_id = f"bb-{next(counter)}"
    r = live.cti({"event": "call.started", "call_id": call_id, "at": "2026-11-20T10:00:00Z",
                  "extension": extension, "direction": "inbound", "ani": ani, "did": "8005551234"})
    assert r.status_code == 201, r.text
    reference = r.json()["reference"]
    if answered:
        assert live.cti({"event": "call.answered", "call_id": call_id, "at": "2026-11-20T10:00:02Z"}).ok
    if ended:
        assert live.cti({"event": "call.ended", "call_id": call_id, "at": "2026-11-20T10:01:00Z"}).ok
    if audio is not None:
        r = live.upload(call_id, audio)
        assert r.status_code == 201, r.text
    return call_id, reference


def hang_up(live, call_id):
    live.cti({"event": "call.ended", "call_id": call_id, "at": "2026-11-20T10:05:00Z"})


def add_link(live, activity, **params):
    return requests.get(live.url(f"/bluebutler/service/AddLink/id={activity}"), params=params)


# --- AddLink ----------------------------------------------------------------------------

def test_add_link_to_the_active_call_returns_its_reference(live):
    call_id, reference = cti_call(live)
    try:
        r = add_link(live, "ACT-1", type="AMS360", data1="ACC-9", data2="POL-7", host="WS-ALICE", activeCall="TRUE")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
        assert r.text == reference
    finally:
        hang_up(live, call_id)
    with live.db.session() as session:
        link = session.scalar(select(ActivityLink).where(ActivityLink.activity_id == "ACT-1"))
        assert (link.state, link.bms_type, link.data1, link.data2, link.host, link.extension) == \
               ("linked", "AMS360", "ACC-9", "POL-7", "WS-ALICE", "201")
        assert link.recording.reference == reference


def test_add_link_finds_the_workstation_by_client_address(live):
    # The demo workstation WS-ALICE is at 127.0.0.1, where this test calls from.
    call_id, reference = cti_call(live)
    try:
        assert add_link(live, "ACT-2", activeCall="true").text == reference
    finally:
        hang_up(live, call_id)


def test_add_link_without_an_active_call_says_so(live):
    r = add_link(live, "ACT-3", host="WS-ALICE", activeCall="True")
    assert r.status_code == 200 and r.text == "No Active Call"
    with live.db.session() as session:
        assert session.scalar(select(ActivityLink.state).where(ActivityLink.activity_id == "ACT-3")) == "pending"


def test_add_link_with_active_call_false_is_null_and_pending(live):
    call_id, _ = cti_call(live)
    try:
        for params in ({"host": "WS-ALICE"}, {"host": "WS-ALICE", "activeCall": "false"}):
            r = add_link(live, "ACT-4", **params)
            assert r.status_code == 200 and r.text == ""
            assert add_link(live, "ACT-4", format="json", **params).json() == {"d": None}
    finally:
        hang_up(live, call_id)
    with live.db.session() as session:
        states = session.scalars(select(ActivityLink.state).where(ActivityLink.activity_id == "ACT-4")).all()
        assert states and set(states) == {"pending"}


def test_add_link_errors_are_the_seed_string(live):
    assert add_link(live, "ACT-5", activeCall="maybe").text == "Error"
    assert add_link(live, "x" * 300, activeCall="true").text == "Error"
    assert requests.get(live.url("/bluebutler/service/AddLink/id=")).status_code == 404


def test_add_link_json_and_jsonp(live):
    call_id, reference = cti_call(live)
    try:
        assert add_link(live, "ACT-6", host="WS-ALICE", activeCall="true", format="json").json() == {"d": reference}
        r = add_link(live, "ACT-7", host="WS-ALICE", activeCall="true", callback="bms.onLink")
        assert r.headers["Content-Type"].startswith("application/javascript")
        assert r.text == f'bms.onLink({{"d": "{reference}"}});'
        assert add_link(live, "ACT-8", callback="alert(document.cookie)").status_code == 400
    finally:
        hang_up(live, call_id)


# --- MP3 ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def recorded(live):
    audio = tone_mp3(3.0)
    _, reference = cti_call(live, ended=True, audio=audio)
    return reference, audio


def test_mp3_needs_credentials(live, recorded):
    reference, _ = recorded
    r = requests.get(live.url(f"/bluebutler/service/MP3/{reference}"))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(live.url(f"/bluebutler/service/MP3/{reference}"), auth=("bms", "wrong")).status_code == 401


def test_mp3_is_byte_identical_to_the_stored_file(live, recorded):
    reference, audio = recorded
    r = requests.get(live.url(f"/bluebutler/service/MP3/{reference}"), auth=BMS)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "audio/mpeg"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert int(r.headers["Content-Length"]) == len(audio)
    assert r.headers["ETag"] and r.headers["Last-Modified"]
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(audio).digest()
    with live.db.session() as session:
        path = session.scalar(select(Recording.file_path).where(Recording.reference == reference))
    assert live.system.store.path_of(path).read_bytes() == r.content
    again = requests.get(live.url(f"/bluebutler/service/MP3/{reference}"), auth=BMS,
                         headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_mp3_range_requests_get_exactly_the_bytes_asked_for(live, recorded):
    reference, audio = recorded
    for header, expected in (("bytes=100-199", audio[100:200]), ("bytes=-50", audio[-50:]),
                             (f"bytes={len(audio) - 10}-", audio[-10:])):
        r = requests.get(live.url(f"/bluebutler/service/MP3/{reference}"), auth=BMS, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.content == expected
        assert r.headers["Content-Range"].endswith(f"/{len(audio)}")
    r = requests.get(live.url(f"/bluebutler/service/MP3/{reference}"), auth=BMS,
                     headers={"Range": f"bytes={len(audio) + 5}-"})
    assert r.status_code == 416


def test_mp3_listening_rights(live, recorded):
    reference, audio = recorded  # a call on 201, Alice's extension
    assert requests.get(live.url(f"/bluebutler/service/MP3/{reference}"), auth=ALICE).content == audio
    _, other = cti_call(live, extension="299", ended=True, audio=tone_mp3(1.0))
    assert requests.get(live.url(f"/bluebutler/service/MP3/{other}"), auth=ALICE).status_code == 403
    assert requests.get(live.url(f"/bluebutler/service/MP3/{other}"), auth=BMS).status_code == 200


def test_mp3_unknown_reference_is_404_with_empty_body(live):
    r = requests.get(live.url("/bluebutler/service/MP3/0000000000"), auth=BMS)
    assert r.status_code == 404 and r.content == b""
    assert requests.get(live.url("/bluebutler/service/MP3/..%2F..%2Fetc%2Fpasswd"), auth=BMS).status_code == 404


# --- SOAP ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def soap(live):
    return zeep_client(live.url("/soap/recording?wsdl"))


def test_soap_add_link_every_return(live, soap):
    call_id, reference = cti_call(live)
    try:
        assert soap.service.AddLink(id="S-1", type="EZLynx", data1="A1", host="WS-ALICE", activeCall=True) == reference
        assert soap.service.AddLink(id="S-2", host="WS-ALICE", activeCall=False) is None
    finally:
        hang_up(live, call_id)
    assert soap.service.AddLink(id="S-3", host="WS-ALICE", activeCall=True) == "No Active Call"
    with pytest.raises(zeep.exceptions.Fault) as fault:
        soap.service.AddLink(id="x" * 300, activeCall=True)
    assert "longer than 200" in fault.value.message
    assert soap.validated.validated >= 3


def test_soap_link_recording_and_recording_info(live, soap):
    _, reference = cti_call(live, ended=True, audio=tone_mp3(2.0))
    assert soap.service.AddLink(id="S-10", host="WS-ALICE") is None
    link = soap.service.LinkRecording(activityId="S-10", refNum=reference)
    assert (link.ActivityId, link.State, link.ReferenceNumber, link.Host) == ("S-10", "linked", reference, "WS-ALICE")
    info = soap.service.GetRecordingInfo(refNum=reference)
    assert info.ReferenceNumber == reference and info.Extension == "201" and info.State == "available"
    assert info.CallingNumber == "+13125550100" and info.CalledNumber == "+18005551234"
    assert 1.9 < info.DurationSeconds < 2.2
    with pytest.raises(zeep.exceptions.Fault) as fault:
        soap.service.GetRecordingInfo(refNum="nope")
    assert "no recording" in fault.value.message
    with pytest.raises(zeep.exceptions.Fault) as fault:
        soap.service.LinkRecording(activityId="never-sent", refNum=reference)
    assert "no activity" in fault.value.message


def test_soap12_port_works(live):
    client = zeep_client(live.url("/soap/recording?wsdl"), service_name="RecordingService",
                         port_name="RecordingServiceSoap12")
    assert client.service.AddLink(id="S12-1", host="WS-ALICE", activeCall=True) == "No Active Call"


def test_generic_get_json(live):
    r = requests.get(live.url("/rest/recording/AddLink"), params={"id": "G-1", "host": "WS-ALICE", "activeCall": "true"})
    assert r.status_code == 200 and r.json() == "No Active Call"


def test_behind_a_reverse_proxy_the_forwarded_address_finds_the_workstation(tmp_path):
    site = {"workstations": [{"host": "WS-BOB", "address": "10.1.2.3", "extension": "207"}]}
    proxied = start_server(tmp_path, site=site, trusted_proxy="127.0.0.1")
    try:
        proxied.cti({"event": "call.started", "call_id": "px-1", "at": "2026-11-20T10:00:00Z", "extension": "207"})
        reference = proxied.cti({"event": "call.answered", "call_id": "px-1", "at": "2026-11-20T10:00:01Z"}).json()["reference"]
        r = requests.get(proxied.url("/bluebutler/service/AddLink/id=PX-1"), params={"activeCall": "true"},
                         headers={"X-Forwarded-For": "10.1.2.3"})
        assert r.text == reference
    finally:
        proxied.stop()


def test_forwarded_headers_are_ignored_without_a_proxy(live):
    call_id, reference = cti_call(live, extension="201")
    try:
        # Without a trusted proxy the header is only the client's word: the demo workstation
        # WS-ALICE (127.0.0.1) is still the one found.
        r = requests.get(live.url("/bluebutler/service/AddLink/id=PX-2"), params={"activeCall": "true"},
                         headers={"X-Forwarded-For": "10.9.9.9"})
        assert r.text == reference
    finally:
        hang_up(live, call_id)


def test_mp3_of_a_recording_whose_file_is_gone_is_not_found(live):
    _, reference = cti_call(live, ended=True, audio=tone_mp3(1.0))
    with live.db.session() as session:
        recording = session.scalar(select(Recording).where(Recording.reference == reference))
        live.system.store.delete(recording.file_path)
    assert requests.get(live.url(f"/bluebutler/service/MP3/{reference}"), auth=BMS).status_code == 404
