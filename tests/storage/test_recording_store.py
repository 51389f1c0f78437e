"""The recording file store: generated names in date folders, atomic writes, safe paths."""
from __future__ import annotations

import io
import os
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.telephony.audio import encode_call_seconds
from storage.recordings import NotMp3, RecordingStore, RecordingTooLarge, UnsafeRecordingPath, is_mp3, probe_mp3

STARTED = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)
NAME = re.compile(r"^2026/11/22/[0-9a-f]{32}\.mp3$")


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> RecordingStore:
    return RecordingStore(tmp_path / "recordings")


def test_a_committed_recording_gets_a_generated_name_in_its_date_folder(store):
    with store.new_writer(STARTED) as writer:
        writer.write(b"ID3")
        writer.write(b"rest")
        relpath = writer.commit()
    assert NAME.match(relpath)
    assert store.exists(relpath) and store.size(relpath) == 7
    with store.open(relpath) as handle:
        assert handle.read() == b"ID3rest"
    assert files_under(store.root) == [relpath]  # no temp file left


def test_folders_are_by_utc_date(store):
    evening_in_chicago = datetime(2026, 11, 21, 20, 0, tzinfo=timezone(timedelta(hours=-6)))
    assert store.put(evening_in_chicago, b"x", max_bytes=10).startswith("2026/11/22/")
    assert store.put(datetime(2026, 1, 2, 3, 4), b"x", max_bytes=10).startswith("2026/01/02/")  # naive = UTC


def test_nothing_is_visible_under_a_real_name_until_commit(store):
    writer = store.new_writer(STARTED, keep_open=False)
    writer.write(b"half a recording")
    assert not any(name.endswith(".mp3") for name in files_under(store.root))
    assert not store.exists(writer.relpath)
    path = writer.commit()
    assert path == writer.relpath and store.exists(path)


def test_a_header_can_be_completed_before_commit(store):
    for keep_open in (True, False):
        writer = store.new_writer(STARTED, keep_open=keep_open)
        writer.write(b"....")
        writer.write(b"body")
        writer.write_at(0, b"HEAD")
        with pytest.raises(ValueError):
            writer.write_at(6, b"past the end")
        writer.write(b"!")
        assert store.open(writer.commit()).read() == b"HEADbody!"


def test_abort_and_an_exception_leave_nothing_behind(store):
    writer = store.new_writer(STARTED)
    writer.write(b"data")
    writer.abort()
    with pytest.raises(RuntimeError):
        with store.new_writer(STARTED) as failing:
            failing.write(b"data")
            raise RuntimeError("disk on fire")
    with store.new_writer(STARTED) as never_committed:
        never_committed.write(b"data")
    assert files_under(store.root) == []


def test_put_streams_and_refuses_what_is_too_large(store):
    data = os.urandom(200_000)
    relpath = store.put(STARTED, io.BytesIO(data), max_bytes=200_000)
    assert store.open(relpath).read() == data
    with pytest.raises(RecordingTooLarge):
        store.put(STARTED, io.BytesIO(data), max_bytes=199_999)
    with pytest.raises(RecordingTooLarge):
        store.put(STARTED, data, max_bytes=10)
    assert files_under(store.root) == [relpath]


@pytest.mark.parametrize("bad", [
    "", "/etc/passwd", "../outside.mp3", "2026/../../outside.mp3", "2026/11/22/../../../../x",
    "2026\\11\\22\\a.mp3", "2026/11/22/a\x00.mp3", ".", "2026/..",
])
def test_unsafe_paths_are_refused(store, bad):
    with pytest.raises(UnsafeRecordingPath):
        store.path_of(bad)
    with pytest.raises(ValueError):  # UnsafeRecordingPath is a ValueError
        store.delete(bad)


def test_a_symlink_out_of_the_store_is_refused(store, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not a recording")
    (store.root / "2026").mkdir()
    (store.root / "2026" / "link.mp3").symlink_to(secret)
    with pytest.raises(UnsafeRecordingPath):
        store.open("2026/link.mp3")


def test_a_folder_symlinked_out_of_the_store_is_refused(store, tmp_path):
    outside = tmp_path / "outside" / "11" / "22"
    outside.mkdir(parents=True)
    (outside / "x.mp3").write_bytes(b"ID3 not ours")
    (store.root / "2026").symlink_to(tmp_path / "outside")
    with pytest.raises(UnsafeRecordingPath):
        store.open("2026/11/22/x.mp3")


def test_an_open_recording_reads_from_any_position(store):
    data = bytes(range(256)) * 40
    relpath = store.put(STARTED, data, max_bytes=len(data))
    with store.open(relpath) as audio:
        assert (audio.size, audio.tell()) == (len(data), 0)
        assert audio.read(10) == data[:10] and audio.tell() == 10
        audio.seek(-5, io.SEEK_END)
        assert audio.read() == data[-5:] and audio.read(3) == b""
        audio.seek(1000)
        assert audio.read(24) == data[1000:1024]
        audio.seek(4, io.SEEK_CUR)
        assert audio.read(2) == data[1028:1030]
    assert audio.closed
    with pytest.raises(ValueError):
        audio.read(1)
    with pytest.raises(FileNotFoundError):
        store.open("2026/11/22/" + "0" * 32 + ".mp3")


def test_delete_reports_whether_there_was_a_file(store):
    relpath = store.put(STARTED, b"abc", max_bytes=10)
    assert store.delete(relpath) is True
    assert store.delete(relpath) is False
    assert not store.exists(relpath)


def test_discard_partials_removes_only_old_temp_files(store):
    stale = store.new_writer(STARTED, keep_open=False)
    stale.write(b"crashed mid-call")
    fresh = store.new_writer(STARTED, keep_open=False)
    temp = [p for p in store.root.rglob(".*.part")]
    assert len(temp) == 2
    old = os.stat(temp[0]).st_mtime - 7200
    stale_file = next(p for p in temp if p.name.startswith("." + stale.relpath.rsplit("/", 1)[1]))
    os.utime(stale_file, (old, old))
    assert store.discard_partials(older_than_s=3600) == 1
    assert fresh.commit()


def test_mp3_recognition_and_probe(store, tmp_path):
    mp3 = encode_call_seconds([(0, 2)])
    assert is_mp3(mp3[:4])
    assert is_mp3(b"ID3\x04\x00\x00\x00\x00\x01\x00")
    assert not is_mp3(b"ID3\x04\x00\x00\x80\x00\x00\x00")  # size bytes are syncsafe
    assert not is_mp3(b"\xff\xfd\x90\x00")  # MPEG-1 layer II, not layer III
    assert not is_mp3(b"\xff\xfb\xf0\x00")  # bitrate index 15 is invalid
    assert not is_mp3(b"RIFF\x00\x00\x00\x00WAVE")
    assert not is_mp3(b"\xff")
    relpath = store.put(STARTED, mp3, max_bytes=1 << 20)
    info = probe_mp3(store.path_of(relpath))
    assert info.duration_s == pytest.approx(2.0, abs=0.2)
    assert (info.channels, info.sample_rate, info.bitrate) == (1, 16000, 32000)
    for junk in (b"", b"not audio at all" * 100, random.Random(7).randbytes(4096), b"\xff\xfb\x90\x00" + bytes(50)):
        path = tmp_path / "junk.mp3"
        path.write_bytes(junk)
        with pytest.raises(NotMp3):
            probe_mp3(path)
    with pytest.raises(NotMp3):
        probe_mp3(tmp_path / "missing.mp3")
