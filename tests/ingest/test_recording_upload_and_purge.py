"""Recordings uploaded by an external PBX through CTI ingest, and retention."""
import subprocess
import sys

import requests
from helpers.audio import tone_mp3
from helpers.server import CTI_TOKEN, REPO, cli_database_options, start_server
from sqlalchemy import select

from storage.models import Recording

AUTH = {"Authorization": f"Bearer {CTI_TOKEN}"}


def start_call(live, call_id, at="2026-11-20T09:00:00Z", extension="201"):
    r = live.cti({"event": "call.started", "call_id": call_id, "at": at, "extension": extension,
                  "ani": "+13125550199"})
    assert r.status_code == 201
    return r.json()["reference"]


def store_files(live):
    return sorted(p for p in live.system.store.root.rglob("*") if p.is_file())


def test_uploaded_mp3_is_stored_byte_for_byte(live):
    reference = start_call(live, "up-1")
    audio = tone_mp3(2.0, 660)
    r = live.upload("up-1", audio)
    assert r.status_code == 201, r.text
    assert r.json()["reference"] == reference and abs(r.json()["duration_s"] - 2.0) < 0.15
    with live.db.session() as session:
        recording = session.scalar(select(Recording).where(Recording.reference == reference))
        assert recording.state == "available" and recording.size_bytes == len(audio)
        assert live.system.store.path_of(recording.file_path).read_bytes() == audio
    got = requests.get(live.url(f"/bluebutler/service/MP3/{reference}"), auth=("bms", "demo-bms-pw"))
    assert got.content == audio


def test_non_mp3_uploads_are_refused_and_nothing_is_stored(live):
    start_call(live, "up-2")
    before = store_files(live)
    wav = b"RIFF\x24\x08\x00\x00WAVEfmt " + b"\x00" * 2000
    assert live.upload("up-2", wav, "audio/wav").status_code == 415
    assert live.upload("up-2", wav).status_code == 422
    assert live.upload("up-2", b"\xff\xfb" + b"\x00" * 5000).status_code == 422  # a frame sync, then junk
    assert live.upload("nope", tone_mp3(0.5)).status_code == 404
    assert requests.put(live.url("/cti/v1/calls/up-2/recording"), data=tone_mp3(0.5),
                        headers={"Content-Type": "audio/mpeg"}).status_code == 401
    assert store_files(live) == before
    with live.db.session() as session:
        state = session.scalar(select(Recording.state).join(Recording.call).where(Recording.call.has(external_id="up-2")))
    assert state == "recording"


def test_purge_spares_protected_recordings(tmp_path):
    live = start_server(tmp_path / "data", retention_days=30)
    try:
        old_ref = start_call(live, "old-1", at="2026-01-05T09:00:00Z", extension="301")
        kept_ref = start_call(live, "old-2", at="2026-01-06T09:00:00Z", extension="302")
        new_ref = start_call(live, "new-1", at="2099-01-01T09:00:00Z", extension="303")
        for call_id in ("old-1", "old-2", "new-1"):
            assert live.upload(call_id, tone_mp3(0.5)).status_code == 201
        for call_id, at in (("old-1", "2026-01-05T09:01:00Z"), ("old-2", "2026-01-06T09:01:00Z")):
            live.cti({"event": "call.ended", "call_id": call_id, "at": at})
        # Recall's CRM protects the second one from deletion.
        r = requests.get(live.url("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile"),
                         params={"sExtension": "302", "dtCallDateTime": '"2026-01-06 09:00:30"',
                                 "bDeletionProtected": "true", "format": "json"})
        assert r.json()["d"].endswith(".mp3")
        with live.db.session() as session:
            paths = {ref: live.system.store.path_of(path) for ref, path in
                     session.execute(select(Recording.reference, Recording.file_path))}
    finally:
        live.stop()
    def purge(*flags):
        return subprocess.run([sys.executable, "-m", "services.cli", "purge", *cli_database_options(tmp_path / "data"),
                               *flags], cwd=REPO, capture_output=True, text=True, timeout=60,
                              env={"CALLSUITE_RETENTION_DAYS": "30", "PATH": "/usr/bin:/bin"})

    dry = purge("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would delete {old_ref}" in dry.stdout and paths[old_ref].exists()
    result = purge()
    assert result.returncode == 0, result.stderr
    assert f"deleted {old_ref}" in result.stdout
    assert f"kept {kept_ref} (deletion-protected)" in result.stdout
    assert new_ref not in result.stdout
    assert "1 deleted, 1 protected kept" in result.stdout
    assert not paths[old_ref].exists() and paths[kept_ref].exists() and paths[new_ref].exists()


def test_recordings_larger_than_the_request_limit_upload(tmp_path):
    live = start_server(tmp_path, max_body_bytes=64 * 1024, max_recording_bytes=2 * 1024 * 1024)
    try:
        start_call(live, "big-1")
        audio = tone_mp3(40.0)  # about 160 KB: over the request limit, under the recording limit
        assert len(audio) > 64 * 1024
        assert live.upload("big-1", audio).status_code == 201
        start_call(live, "big-2")
        too_big = requests.put(live.url("/cti/v1/calls/big-2/recording"), data=b"\xff\xfb" * (1024 * 1024 + 1),
                               headers={**AUTH, "Content-Type": "audio/mpeg"})
        assert too_big.status_code == 413
        soap = requests.post(live.url("/soap/recording"), data=b"<x/>" * 20000, headers={"Content-Type": "text/xml"})
        assert soap.status_code == 413
    finally:
        live.stop()
