"""After a crash: `callsuite serve` killed with SIGKILL while three simulated calls were
recording comes back with those calls ended as Interrupted, their recordings kept (what
was written before the kill, playable) and no temp files left."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from helpers.process import ServeProcess, provision
from helpers.soap import BMS
from mutagen.mp3 import MP3
from sqlalchemy import select

from services.telephony.audio import decode_dominant_frequencies, expected_frequency
from storage.database import Database, sqlite_url
from storage.models import Call

FRAME = 144  # bytes of one frame of the simulated switch's 16 kHz, 32 kbit/s MP3
SAMPLES_PER_FRAME, RATE, DELAY = 576, 16000, 576


def part_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "recordings").rglob(".*.part"))


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


@pytest.fixture
def data_dir(tmp_path):
    data = tmp_path / "data"
    provision(data)
    return data


def test_calls_left_in_progress_by_a_kill_are_ended_and_their_audio_kept(data_dir):
    server = ServeProcess(data_dir).start()
    try:
        ids = []
        for n in range(3):
            r = requests.post(server.url("/sim/v1/calls"), timeout=10, json={
                "extension": "201", "ani": f"+1312555010{n}", "did": "8005551234",
                "answer_after_s": 0.2, "duration_s": 3600})
            assert r.status_code == 201, r.text
            ids.append(r.json()["call_id"])
        wait_for(lambda: all(requests.get(server.url(f"/sim/v1/calls/{i}")).json()["state"] == "answered"
                             for i in ids))
        # A few seconds of each call on disk (the switch appends every 2 s of audio).
        wait_for(lambda: len(part_files(data_dir)) == 3
                 and all(p.stat().st_size >= FRAME + 4 * 4000 for p in part_files(data_dir)))
        assert requests.get(server.url("/bluebutler/service/AddLink/id=BEFORE"),
                            params={"host": "WS-ALICE", "activeCall": "TRUE"}).text != "No Active Call"
        server.kill()
        written = {p.name[1:].split(".")[0]: p.stat().st_size for p in part_files(data_dir)}
        assert sorted(written) == sorted(ids)  # the temp files are named after their calls
    finally:
        server.stop()

    again = ServeProcess(data_dir).start()
    try:
        r = requests.get(again.url("/bluebutler/service/AddLink/id=AFTER"),
                         params={"host": "WS-ALICE", "activeCall": "TRUE"})
        assert r.text == "No Active Call"
        database = Database(sqlite_url(data_dir))
        try:
            with database.read_session() as session:
                calls = {c.external_id: (c.state, c.result, c.ended_at, c.answered_at, c.recording.state,
                                         c.recording.reference, c.recording.duration_s)
                         for c in session.scalars(select(Call).where(Call.external_id.in_(ids)))}
        finally:
            database.dispose()
        assert len(calls) == 3
        for call_id, (state, result, ended_at, answered_at, recording_state, reference, duration) in calls.items():
            assert (state, result, recording_state) == ("ended", "Interrupted", "available")
            assert ended_at >= answered_at
            # Every whole frame written before the kill, less the encoder's delay.
            frames = (written[call_id] - FRAME) // FRAME
            expected = (frames * SAMPLES_PER_FRAME - DELAY) / RATE
            assert duration >= 3.5 and abs(duration - expected) < 0.05, (duration, expected)
            mp3 = requests.get(again.url(f"/bluebutler/service/MP3/{reference}"), auth=BMS, timeout=10)
            assert mp3.status_code == 200 and mp3.headers["Content-Type"] == "audio/mpeg"
            path = data_dir / "mp3-check.mp3"
            path.write_bytes(mp3.content)
            assert abs(MP3(str(path)).info.length - duration) < 0.01
            # It plays: the decoded tones are the call's own seconds, in order, from the start.
            tones = decode_dominant_frequencies(mp3.content)
            assert len(tones) >= 4
            assert tones[:4] == [expected_frequency(k) for k in range(4)]
        assert part_files(data_dir) == []
    finally:
        again.stop()
