"""What a crash leaves of a recording being written becomes a playable MP3 (in-process)."""
from datetime import datetime, timezone

from mutagen.mp3 import MP3

from services.telephony.audio import (
    RecordingEncoder,
    decode_dominant_frequencies,
    expected_frequency,
    salvage_recording,
)
from services.telephony.recovery import salvage
from storage.recordings import RecordingStore

CALL_ID = "0123456789abcdef0123456789abcdef"


def partial_bytes(seconds: float, torn: bytes = b"") -> bytes:
    encoder = RecordingEncoder()
    return encoder.tag_placeholder() + encoder.feed_seconds(0, seconds) + torn


def test_a_torn_last_frame_is_cut_and_the_info_tag_written(tmp_path):
    data = salvage_recording(partial_bytes(6.0, torn=b"\xff\xf3\x44\x00\x00"))
    path = tmp_path / "salvaged.mp3"
    path.write_bytes(data)
    length = MP3(str(path)).info.length
    assert 5.5 < length <= 6.0  # LAME still held the last frames at the "crash"
    assert decode_dominant_frequencies(data)[:5] == [expected_frequency(k) for k in range(5)]


def test_nothing_playable_gives_nothing():
    assert salvage_recording(b"") == b""
    assert salvage_recording(RecordingEncoder().tag_placeholder()) == b""
    assert salvage_recording(b"not an mp3 at all" * 100) == b""


def test_salvage_publishes_the_calls_partials_and_leaves_others(tmp_path):
    store = RecordingStore(tmp_path / "recordings")
    started = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
    mine = store.new_writer(started, stem=CALL_ID)
    mine.write(partial_bytes(3.0))
    other = store.new_writer(started)
    other.write(partial_bytes(1.0))
    found = salvage(store, {CALL_ID: started})
    kept = found[CALL_ID]
    assert kept.relpath == mine.relpath and store.exists(kept.relpath)
    assert 2.5 < kept.duration_s <= 3.0 and kept.size_bytes == store.size(kept.relpath)
    assert [p.stem for p in store.partials()] == [other.relpath.rsplit("/", 1)[1][:-4]]


def test_a_recording_committed_just_before_the_crash_is_attached(tmp_path):
    from services.config import load_settings
    from services.core import ledger
    from services.system import System

    system = System(load_settings(None, environ={}, overrides={"data_dir": tmp_path, "switch": "none"}))
    system.database.migrate()
    started = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
    with system.database.session() as session:
        for kind, seconds in (("call.started", 0), ("call.answered", 1), ("call.ended", 5)):
            ledger.apply_event(session, ledger.CallEvent(kind=kind, source="sim", external_id=CALL_ID,
                                                         at=started.replace(second=seconds)))
    # The switch committed the file; the crash came before recording.ready reached the ledger.
    writer = system.store.new_writer(started, stem=CALL_ID)
    writer.write(salvage_recording(partial_bytes(3.0)))
    relpath = writer.commit()
    try:
        assert system.recover_interrupted_calls() == 0  # the call itself had ended
        with system.database.read_session() as session:
            call = ledger.find_call(session, "sim", CALL_ID)
            assert (call.result, call.recording.state, call.recording.file_path) == ("Connected", "available", relpath)
            assert 2.5 < call.recording.duration_s <= 3.0
    finally:
        system.close()
