"""Recall's CRM integration routes (seed 003, CONTRACTS §3 Recall) for real calls, against a
real local HTTP receiver and a real local SOAP CRM: what each route delivers, exactly."""
from __future__ import annotations

import copy
import csv
import hashlib
import hmac
import io
import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from helpers.receivers import HttpReceiver, SoapCrm, read_text, wait_until
from helpers.server import DEMO_SITE, start_server
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.models import Call, OutboxEntry

SHARE = "\\\\recorder\\recordings\\"
MP3_URL = "http://recorder.example:8000/bluebutler/service/MP3/"
SECRET = "json-crm-signing-secret-0123"
TEMPLATE = ("/crm/call?number=[phone number]&agent=[extension]&date=[date & time]&duration=[call duration]"
            "&audiofile=[audio file]&type=[call type]&dialled=[dialled number]&calling=[calling number]")
MAPPING = {"Phone": "phone_number", "Agent": "extension", "When": "date_time", "Seconds": "duration",
           "AudioFile": "audio_file", "Kind": "call_type", "Reference": "reference", "RequestId": "idempotency_key"}


def recall_site(receiver: HttpReceiver, crm: SoapCrm, texts: Path) -> dict:
    """The demo site with three companies, one per web-service kind: 1 (extension 201) has
    the URL route, the SOAP CRM and comma text files under a share; 2 (301) JSON, signed,
    tab text files, the MP3 URL as prefix; 3 (401) JSONP."""
    site = copy.deepcopy(json.loads(DEMO_SITE.read_text()))
    site["companies"][0].update(
        crm_url_template=receiver.base_url + TEMPLATE, text_files_dir=str(texts / "acme"),
        recording_path_prefix=SHARE,
        crm_web_service={"kind": "soap", "wsdl": crm.wsdl, "operation": "RecordCall", "mapping": MAPPING})
    site["companies"].append({"id": 2, "name": "Json Ltd", "text_files_dir": str(texts / "json"),
                              "text_files_separator": "tab", "recording_path_prefix": MP3_URL,
                              "hmac_secret": SECRET,
                              "crm_web_service": {"kind": "json", "url": receiver.base_url + "/json/calls"}})
    site["companies"].append({"id": 3, "name": "Jsonp Ltd",
                              "crm_web_service": {"kind": "jsonp", "url": receiver.base_url + "/jsonp/calls?src=cs",
                                                  "callback": "cb"}})
    site["users"] += [{"id": 30, "username": "jane", "password": "demo-jane-pw", "extension": "301", "company": 2},
                      {"id": 40, "username": "joe", "password": "demo-joe-pw", "extension": "401", "company": 3}]
    return site


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("recall")
    receiver, crm = HttpReceiver(), SoapCrm()
    live = start_server(root / "data", site=recall_site(receiver, crm, root / "texts"), outbox_interval_s=0.1)
    yield live, receiver, crm, root / "texts"
    live.stop()
    receiver.close()
    crm.close()


def cti_call(live, extension: str, *, ani: str, did: str | None = "8005551234", direction: str = "inbound",
             target: str | None = None, talk_s: int = 3, audio_first: bool = False) -> str:
    """A call through CTI ingest: started, answered a second later, ended, its MP3 uploaded
    (before the end, if `audio_first`)."""
    from helpers.audio import tone_mp3
    call_id = f"recall-{extension}-{datetime.now().timestamp()}"
    started = datetime.now(timezone.utc)  # the newest call of its extension: it owns the text file
    for kind, at in (("call.started", started), ("call.answered", started + timedelta(seconds=1)),
                     ("call.ended", started + timedelta(seconds=1 + talk_s))):
        if kind == "call.ended" and audio_first:
            assert live.upload(call_id, tone_mp3(1.0)).status_code == 201
        r = live.cti({"event": kind, "call_id": call_id, "at": at.isoformat(), "extension": extension,
                      "direction": direction, "ani": ani, "did": did, "target": target})
        assert r.ok, r.text
    if not audio_first:
        assert live.upload(call_id, tone_mp3(1.0)).status_code == 201
    return call_id


def stored(live, source: str, call_id: str) -> Call:
    with live.db.session() as session:
        return session.scalar(select(Call).options(selectinload(Call.recording))
                              .where(Call.source == source, Call.external_id == call_id))


def local(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")  # the server's zone is UTC here


def parse_line(text: str, delimiter: str = ",") -> list[str]:
    assert text.endswith("\r\n") and text.count("\r\n") == 1 or '"' in text, repr(text)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert len(rows) == 1, rows
    return rows[0]


def test_a_simulated_call_reaches_every_route_of_its_company(world):
    live, receiver, crm, texts = world
    text_file = texts / "acme" / "201.txt"
    seen: list[str] = []
    stop = threading.Event()

    def reader():  # a CRM polling the file the whole time: never half a line
        while not stop.is_set():
            content = read_text(text_file)
            if content is not None and (not seen or seen[-1] != content):
                seen.append(content)

    threading.Thread(target=reader, daemon=True).start()
    before = len(receiver.received)
    r = requests.post(live.url("/sim/v1/calls"), json={"extension": "201", "ani": "+441632960123",
                                                       "did": "8005551234", "direction": "inbound",
                                                       "answer_after_s": 0.3, "duration_s": 2.0})
    assert r.status_code == 201, r.text
    call_id = r.json()["call_id"]
    wait_until(lambda: text_file.exists())
    start_version = open(text_file, "rb")  # held open: a rewrite in place would change what it reads
    at_start = start_version.read().decode()
    [request] = receiver.wait_for(before + 1)[before:]
    [soap] = crm.wait_for(1)
    call = stored(live, "sim", call_id)
    recording = call.recording
    audio = SHARE + recording.file_path.replace("/", "\\")
    date = local(call.started_at)

    # Text file: written when the call is answered (details, no duration yet), then overwritten.
    assert parse_line(at_start) == [date, "201", "inbound", "+441632960123", "+18005551234", "", "",
                                    recording.reference]
    # Rewritten after the commit that stored the audio (in parallel with the deliveries).
    at_end = wait_until(lambda: (lambda t: t if t and audio in t else None)(read_text(text_file)))
    assert parse_line(at_end) == [date, "201", "inbound", "+441632960123", "+18005551234",
                                  str(call.talk_time_s), audio, recording.reference]
    stop.set()
    start_version.seek(0)
    assert start_version.read().decode() == at_start  # replaced by a new file, not rewritten in place
    start_version.close()
    assert all(parse_line(version)[0] == date for version in seen)  # every read was a whole line
    assert sorted(p.name for p in text_file.parent.iterdir()) == ["201.txt"]  # no temp file left

    # URL route: the template's parameters, each value as the ledger has it.
    assert request.method == "GET" and request.path == "/crm/call"
    assert request.query == {"number": ["+441632960123"], "agent": ["201"], "date": [date],
                             "duration": [str(call.talk_time_s)], "audiofile": [audio], "type": ["inbound"],
                             "dialled": ["+18005551234"], "calling": ["+441632960123"]}
    with live.db.session() as session:
        entries = {e.kind: e for e in session.scalars(select(OutboxEntry).where(
            OutboxEntry.idempotency_key.like(f"%-recording-{recording.id}")))}
    assert request.headers["idempotency-key"] == entries["crm_url"].idempotency_key
    assert "x-callsuite-signature" not in request.headers  # company 1 has no secret

    # SOAP CRM: the operation and parameters the company mapped, as the CRM parsed them.
    assert soap == {"Phone": "+441632960123", "Agent": "201", "When": date, "Seconds": call.talk_time_s,
                    "AudioFile": audio, "Kind": "inbound", "Reference": recording.reference,
                    "RequestId": entries["crm_web_service"].idempotency_key}
    assert crm.headers[-1]["idempotency-key"] == entries["crm_web_service"].idempotency_key
    wait_until(lambda: all(e.state == "sent" for e in live_entries(live, recording.id)))


def live_entries(live, recording_id: int) -> list[OutboxEntry]:
    with live.db.session() as session:
        return list(session.scalars(select(OutboxEntry).where(
            OutboxEntry.idempotency_key.like(f"%-recording-{recording_id}"))))


def test_hostile_values_stay_inside_their_parameter(world):
    live, receiver, _crm, _texts = world
    hostile = 'p&q=1#f\r\nX-Evil: 1@e.vil/?"'
    before = len(receiver.received)
    cti_call(live, "201", ani=hostile)
    [request] = [r for r in receiver.wait_for(before + 1)[before:]]
    assert request.path == "/crm/call"  # same host (it arrived here), same path
    assert set(request.query) == {"number", "agent", "date", "duration", "audiofile", "type", "dialled", "calling"}
    assert request.query["number"] == [hostile] and request.query["calling"] == [hostile]
    assert "x-evil" not in request.headers and "#" not in request.target
    assert request.query["agent"] == ["201"]


def test_an_internal_call_is_typed_internal(world):
    live, receiver, crm, texts = world
    before = len(receiver.received)
    reference = stored(live, "cti", cti_call(live, "201", ani="301", did="201")).recording.reference
    [request] = receiver.wait_for(before + 1)[before:]
    assert request.query["type"] == ["internal"] and request.query["number"] == ["301"]
    soap = wait_until(lambda: [c for c in crm.calls if c["Reference"] == reference])
    assert soap[0]["Kind"] == "internal"
    line = wait_until(lambda: (lambda t: t if t and reference in t else None)(read_text(texts / "acme" / "201.txt")))
    assert parse_line(line)[2] == "internal"


def test_a_call_whose_audio_came_first_is_sent_at_its_end_once(world):
    """The end, not the audio, completes this call: its CRM notices are queued by the end's
    transaction, with the duration the end gave."""
    live, receiver, crm, texts = world
    before = len(receiver.received)
    call = stored(live, "cti", cti_call(live, "201", ani="+441632960199", talk_s=7, audio_first=True))
    [request] = receiver.wait_for(before + 1)[before:]
    assert request.query["number"] == ["+441632960199"] and request.query["duration"] == ["7"]
    assert request.query["type"] == ["inbound"] and request.query["agent"] == ["201"]
    assert request.query["audiofile"] == [SHARE + call.recording.file_path.replace("/", "\\")]
    soap = wait_until(lambda: [c for c in crm.calls if c["Reference"] == call.recording.reference])
    assert soap[0]["Seconds"] == 7 and soap[0]["Phone"] == "+441632960199"
    with live.db.session() as session:
        keys = session.scalars(select(OutboxEntry.idempotency_key)
                               .where(OutboxEntry.idempotency_key.like(f"%-recording-{call.recording.id}"))).all()
    assert sorted(keys) == [f"crm_url-recording-{call.recording.id}", f"crm_web_service-recording-{call.recording.id}"]


def test_json_route_is_signed_and_names_the_recording_by_url(world):
    live, receiver, _crm, texts = world
    before = len(receiver.received)
    call_id = cti_call(live, "301", ani="+13125550000", did=None, target="+13125550177",
                       direction="outbound")
    [request] = receiver.wait_for(before + 1)[before:]
    call = stored(live, "cti", call_id)
    body = json.loads(request.body)
    assert request.method == "POST" and request.path == "/json/calls"
    assert request.headers["content-type"] == "application/json"
    assert body == {"call_id": call.id, "reference": call.recording.reference, "date_time": local(call.started_at),
                    "dialled_number": "+13125550177", "calling_number": "+13125550000",
                    "phone_number": "+13125550177", "extension": "301", "call_type": "outbound", "duration": 3,
                    "audio_file": MP3_URL + call.recording.reference,
                    "idempotency_key": request.headers["idempotency-key"]}
    timestamp = request.headers["x-callsuite-timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-callsuite-signature"] == f"sha256={expected}"
    assert abs(int(timestamp) - datetime.now().timestamp()) < 300
    # Tab-separated text file of company 2, with the MP3 URL as the file's name.
    line = read_text(texts / "json" / "301.txt")
    assert line.split("\t")[5:7] == ["3", MP3_URL + call.recording.reference]


def test_jsonp_route_is_a_get_with_the_callback(world):
    live, receiver, _crm, _texts = world
    before = len(receiver.received)
    call_id = cti_call(live, "401", ani="+442079460123")
    [request] = receiver.wait_for(before + 1)[before:]
    call = stored(live, "cti", call_id)
    assert request.method == "GET" and request.path == "/jsonp/calls"
    query = {k: v[0] for k, v in request.query.items()}
    assert query.pop("cb") == "callsuiteDelivered" and query.pop("src") == "cs"
    assert query == {"call_id": str(call.id), "reference": call.recording.reference,
                     "date_time": local(call.started_at), "dialled_number": "+18005551234",
                     "calling_number": "+442079460123", "phone_number": "+442079460123", "extension": "401",
                     "call_type": "inbound", "duration": "3", "audio_file": str(
                         live.system.store.path_of(call.recording.file_path)),
                     "idempotency_key": request.headers["idempotency-key"]}


def test_retrieve_rec_file_names_the_file_as_the_crm_opens_it(world):
    live, _receiver, _crm, _texts = world
    call_id = cti_call(live, "201", ani="+13125550199")
    call = stored(live, "cti", call_id)
    r = requests.get(live.url("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile"),
                     params={"sExtension": "201", "sPhoneNumber": "3125550199",
                             "dtCallDateTime": f'"{local(call.started_at + timedelta(seconds=2))}"', "format": "json"})
    assert r.status_code == 200, r.text
    assert r.json() == {"d": SHARE + call.recording.file_path.replace("/", "\\")}


def test_provisioning_refuses_templates_that_could_choose_the_host(tmp_path):
    from services.core.errors import InvalidInput
    from services.core.provisioning import provision
    from storage.database import Database, sqlite_url

    database = Database(sqlite_url(tmp_path))
    database.migrate()
    for template, reason in (("http://[extension].crm.example/x", "path and query"),
                             ("ftp://crm.example/?n=[phone number]", "http"),
                             ("http://crm.example/?n=[phone number] &x", "spaces")):
        with pytest.raises(InvalidInput, match=reason):
            with database.session() as session:
                provision(session, {"companies": [{"id": 9, "name": "X", "crm_url_template": template}]})
    with pytest.raises(InvalidInput, match="unknown field"):
        with database.session() as session:
            provision(session, {"companies": [{"id": 9, "name": "X", "crm_web_service": {
                "kind": "soap", "wsdl": "http://crm.example/?wsdl", "operation": "Op", "mapping": {"a": "nope"}}}]})
    database.dispose()
