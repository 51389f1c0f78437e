"""The audit log as an operator reads it: every way a recording is played, downloaded,
linked, paused, protected or deleted leaves one entry (who, from where, which surface and
binding, the request id), read back with `callsuite audit` in a shell."""
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import requests
from helpers.agent import AgentClient, wait_answered
from helpers.audio import tone_mp3
from helpers.console import csrf_of, signed_in
from helpers.server import REPO, cli_database_options, start_server
from sqlalchemy import select

from storage.models import AuditEntry

BMS = ("bms", "demo-bms-pw")


def callsuite(*args, env=None):
    return subprocess.run([sys.executable, "-m", "services.cli", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=env)


def audit_json(data_dir, *flags):
    result = callsuite("audit", *cli_database_options(data_dir), "--json", *flags)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]



def cti_call(live, call_id, *, at, extension="201", end=True):
    for kind, moment in (("call.started", at), ("call.answered", at + timedelta(seconds=1))):
        assert live.cti({"event": kind, "call_id": call_id, "at": moment.isoformat(), "extension": extension,
                         "direction": "inbound", "ani": "+13125550100", "did": "8005551234"}).ok
    if end:
        assert live.cti({"event": "call.ended", "call_id": call_id,
                         "at": (at + timedelta(seconds=3)).isoformat()}).ok
        r = live.upload(call_id, tone_mp3(0.5))
        assert r.status_code == 201, r.text
        return r.json()["reference"]
    return None


def test_every_access_to_a_recording_is_audited_and_read_back_with_the_cli(tmp_path):
    data = tmp_path / "data"
    live = start_server(data, retention_days=30, agent_answer_after_s=0.0)
    try:
        ref = live.recorded_call("201").reference
        mp3 = live.url(f"/bluebutler/service/MP3/{ref}")
        # A player: several Range requests are one listening; a whole-file GET is a download.
        for first in (0, 100, 200):
            r = requests.get(mp3, auth=BMS, headers={"Range": f"bytes={first}-{first + 99}",
                                                     "X-Request-Id": f"player-{first}"})
            assert r.status_code == 206
        assert requests.get(mp3, auth=BMS, headers={"X-Request-Id": "download-1"}).status_code == 200
        # Refused or failed requests leave nothing.
        assert requests.get(mp3, auth=("bms", "wrong")).status_code == 401
        assert requests.get(live.url("/bluebutler/service/MP3/0000000"), auth=BMS).status_code == 404

        # Linked: AddLink stores a pending link, LinkRecording over GET links it.
        assert requests.get(live.url("/bluebutler/service/AddLink/id=ACT-77")).text == ""
        r = requests.get(live.url("/rest/recording/LinkRecording"), params={"activityId": "ACT-77", "refNum": ref},
                         auth=BMS)
        assert r.status_code == 200, r.text
        call_id = requests.get(live.url("/rest/recording/GetRecordingInfo"), params={"refNum": ref},
                               auth=BMS).json()["CallId"]

        # Played by phone, downloaded by a Callbutton partner, played in the console.
        r = requests.get(live.url(f"/bluebutler/service/PlayByPhone/{ref}/+13125550111"), auth=BMS)
        assert r.text == "TRUE"
        r = requests.get(live.url("/cb/main/jsp/mates/cBEventCallRecordingURL.jsp"), params={"id": call_id},
                         auth=("partner1", "demo-partner-pw"))
        assert r.status_code == 200 and r.headers["Content-Type"] == "audio/mpeg"
        console, _ = signed_in(live, "alice", "demo-alice-pw")
        assert console.get(live.url(f"/console/recordings/{ref}.mp3"), headers={"Range": "bytes=0-9"}).status_code == 206

        # Protected in the console (another recording), and by Recall's CRM (an allowed network).
        other = live.recorded_call("202").reference
        supervisor, _ = signed_in(live, "bms", "demo-bms-pw")
        other_call = requests.get(live.url("/rest/recording/GetRecordingInfo"), params={"refNum": other},
                                  auth=BMS).json()["CallId"]
        page = supervisor.get(live.url(f"/console/calls/{other_call}"))
        assert 'id="protect"' in page.text
        r = supervisor.post(live.url(f"/console/calls/{other_call}/protect"), data={"csrf": csrf_of(page.text)})
        assert r.status_code == 200 and "Protected from deletion." in r.text
        started = datetime.now(timezone.utc) - timedelta(minutes=3)
        r = requests.get(live.url("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile"), params={
            "sExtension": "201", "bDeletionProtected": "true", "format": "json",
            "dtCallDateTime": f'"{started.strftime("%Y-%m-%d %H:%M:%S")}"'})
        assert r.json()["d"].endswith(".mp3"), r.text

        # Paused: by a PBX through CTI ingest, and through the simulated switch's API (the
        # switch reports it from its own thread; the request that asked is credited).
        cti_call(live, "cti-live-1", at=datetime.now(timezone.utc) - timedelta(seconds=5), extension="205", end=False)
        assert live.cti({"event": "recording.paused", "call_id": "cti-live-1",
                         "at": datetime.now(timezone.utc).isoformat()}).ok
        sim = requests.post(live.url("/sim/v1/calls"), json={"extension": "206", "answer_after_s": 0,
                                                              "duration_s": 3.0}).json()
        time.sleep(0.5)
        assert requests.post(live.url(f"/sim/v1/calls/{sim['call_id']}/pause"),
                             headers={"X-Request-Id": "sim-pause"}).status_code == 200

        # Paused and resumed by an agent through the agent API (seed 004).
        agent = AgentClient(live, "alice", 7)
        assert agent.do("login", campaign="3").one["AgentStateName"] == "logged_in"
        dialled = agent.get("/dial/user/7/phone/%2B442079460333").one["CallId"]
        wait_answered(live, dialled)
        assert agent.call("stoprecord", dialled).one["RecordingState"] == 2
        assert agent.call("startrecord", dialled).ok

        # An old recording for the purge.
        old_ref = cti_call(live, "old-1", at=datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc), extension="301")
    finally:
        live.stop()

    purge = callsuite("purge", *cli_database_options(data),
                      env={"CALLSUITE_RETENTION_DAYS": "30", "PATH": "/usr/bin:/bin", "USER": "operator"})
    assert purge.returncode == 0, purge.stderr
    assert f"deleted {old_ref}" in purge.stdout

    mine = audit_json(data, "--recording", ref)
    assert [(e["action"], e["user"], e["surface"], e["binding"]) for e in mine] == [
        ("played", "bms", "GET /bluebutler/service/MP3/<reference>", "http"),
        ("downloaded", "bms", "GET /bluebutler/service/MP3/<reference>", "http"),
        ("linked", "bms", "GET /rest/recording/<path:operation>", "rest"),
        ("played_by_phone", "bms", "GET /bluebutler/service/PlayByPhone/<reference>/<phone>", "http"),
        ("downloaded", "partner:partner1", "GET /cb/main/jsp/mates/cBEventCallRecordingURL.jsp", "http"),
        ("played", "alice", "GET /console/recordings/<reference>.mp3", "http"),
        ("protected", None, "GET /RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile", "http"),
    ]
    assert all(e["address"] == "127.0.0.1" and e["recording"] == ref and e["call_id"] == call_id for e in mine)
    assert [mine[0]["request_id"], mine[1]["request_id"]] == ["player-0", "download-1"]
    assert mine[2]["detail"] == "activity ACT-77"

    everything = audit_json(data, "--since", "1h")
    paused = [e for e in everything if e["action"] == "paused" and e["user"] != "alice"]
    assert [(e["user"], e["surface"], e["request_id"]) for e in paused] == [
        ("cti", "POST /cti/v1/events", paused[0]["request_id"]),
        (None, "POST /sim/v1/calls/<call_id>/<any(pause,resume,hangup):action>", "sim-pause")]
    by_agent = [(e["action"], e["user"], e["surface"]) for e in everything if e["call_id"] == dialled]
    assert by_agent == [
        ("paused", "alice", "GET /webservices/services/telephony/<any(hangup,dispose,hold,retrieve,stoprecord,"
                            "startrecord):method>/user/<user_id>/call/<call_id>"),
        ("resumed", "alice", "GET /webservices/services/telephony/<any(hangup,dispose,hold,retrieve,stoprecord,"
                             "startrecord):method>/user/<user_id>/call/<call_id>")]
    assert [(e["action"], e["user"], e["surface"]) for e in everything if e["recording"] == other] == [
        ("protected", "bms", "POST /console/calls/<int:call_id>/protect")]
    [deleted] = [e for e in everything if e["action"] == "deleted"]
    assert (deleted["recording"], deleted["user"], deleted["address"], deleted["surface"], deleted["binding"]) == (
        old_ref, "operator", "local", "callsuite purge", "cli")
    assert audit_json(data, "--since", (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()) == []

    # The plain listing, as a person reads it.
    table = callsuite("audit", *cli_database_options(data), "--recording", ref)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("at\taction\trecording\tuser\taddress") and len(lines) == 1 + len(mine)
    assert "\tplayed_by_phone\t" + ref + "\tbms\t127.0.0.1\t" in lines[4]
    bad = callsuite("audit", *cli_database_options(data), "--since", "yesterday-ish")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_refused_actions_leave_no_entry(tmp_path):
    """Only what happened is logged: a refused link or playback leaves nothing."""
    live = start_server(tmp_path / "data")
    try:
        ref = live.recorded_call("201").reference
        # alice may not listen to extension 202's recording: the console refuses the link.
        other = live.recorded_call("202").reference
        assert requests.get(live.url("/bluebutler/service/AddLink/id=ACT-9")).text == ""
        r = requests.get(live.url("/rest/recording/LinkRecording"), params={"activityId": "ACT-9", "refNum": other},
                         auth=("alice", "demo-alice-pw"))
        assert r.status_code == 400 and "Forbidden" in r.text
        assert requests.get(live.url(f"/bluebutler/service/MP3/{other}"), auth=("alice", "demo-alice-pw"),
                            headers={"Range": "bytes=0-9"}).status_code == 403
        with live.db.read_session() as session:
            assert session.scalars(select(AuditEntry)).all() == []
        assert ref
    finally:
        live.stop()
