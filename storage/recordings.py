"""The recording file store: MP3 files in folders by date, `root/YYYY/MM/DD/<uuid4 hex>.mp3`.

The store alone chooses file names (never from input), so a path it hands out is always
safe to join to `root`; `path_of` still checks every path it is given, because paths come
back from the database and from requests. Writes are atomic: bytes go to a hidden temp
file in the target folder, are fsynced, and `os.replace` puts the file in place, so a
reader (or a crash) never sees half a recording under a real name.
"""
from __future__ import annotations

import errno
import io
import os
import re
import stat
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import BinaryIO, Optional, Union

_CHUNK = 64 * 1024
_PART_SUFFIX = ".part"  # temp files: ".<hex>.mp3.part", hidden and never a valid relpath target
_STEM = re.compile(r"[0-9a-f]{32}")  # file names: uuid4 hex, the store's or the switch's call id


class RecordingStoreError(Exception):
    pass


class UnsafeRecordingPath(RecordingStoreError, ValueError):
    """A relative path that could leave the store (absolute, `..`, backslash, NUL, symlink out)."""


class RecordingTooLarge(RecordingStoreError):
    pass


class NotMp3(RecordingStoreError, ValueError):
    """The file is not audio that mutagen can read as MP3."""


@dataclass(frozen=True)
class Mp3Info:
    duration_s: float
    channels: int
    sample_rate: int
    bitrate: int  # bits per second


def _utc(moment: datetime) -> datetime:
    # Folders are by UTC date so two servers in different zones file a call in the same place;
    # naive datetimes are taken as UTC (the ledger stores UTC).
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RecordingWriter:
    """One recording being written. `commit()` publishes it; `abort()` (or an exception in a
    `with` block) removes every trace. `keep_open=False` closes the file between writes, so
    thousands of simultaneous calls do not hold thousands of descriptors."""

    def __init__(self, store: "RecordingStore", folder: Path, relfolder: str, *, keep_open: bool = True,
                 stem: Optional[str] = None) -> None:
        if stem is not None and not _STEM.fullmatch(stem):
            raise ValueError("a recording's file name is 32 lower-case hex digits")
        self._store = store
        self._folder = folder
        self._name = f"{stem or uuid.uuid4().hex}.mp3"
        self._relpath = f"{relfolder}/{self._name}"
        self._temp = folder / f".{self._name}{_PART_SUFFIX}"
        self._keep_open = keep_open
        self._file: Optional[BinaryIO] = open(self._temp, "xb")  # x: never reuse an existing file
        if not keep_open:
            self._file.close()
            self._file = None
        self._size = 0
        self._done = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def relpath(self) -> str:
        """Where the file will be once committed."""
        return self._relpath

    def _handle(self) -> BinaryIO:
        if self._file is None:
            self._file = open(self._temp, "ab")
        return self._file

    def write(self, data: bytes) -> None:
        if self._done:
            raise RecordingStoreError("the recording is already committed or aborted")
        if not data:
            return
        handle = self._handle()
        handle.write(data)
        self._size += len(data)
        if not self._keep_open:
            handle.close()
            self._file = None

    def write_at(self, offset: int, data: bytes) -> None:
        """Overwrite bytes already written (a header completed once the end is known)."""
        if self._done:
            raise RecordingStoreError("the recording is already committed or aborted")
        if offset < 0 or offset + len(data) > self._size:
            raise ValueError("write_at may only overwrite bytes already written")
        if self._file is not None:
            self._file.seek(offset)
            self._file.write(data)
            self._file.seek(0, os.SEEK_END)
        else:
            with open(self._temp, "r+b") as handle:
                handle.seek(offset)
                handle.write(data)

    def commit(self) -> str:
        if self._done:
            raise RecordingStoreError("the recording is already committed or aborted")
        try:
            handle = self._handle()
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            self._file = None
            os.replace(self._temp, self._folder / self._name)
            _fsync_dir(self._folder)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self._relpath

    def abort(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
        if not self._done:
            self._done = True
            try:
                self._temp.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        # Anything not committed by the end of the block is discarded, error or not.
        if not self._done:
            self.abort()


class StoredAudio:
    """A recording open for reading (read, seek, tell, close), with its size and
    modification time and the ETag werkzeug's send_file would give it. Dropped unsent (an
    error between opening and answering), it closes itself.

    Its read position lives in Python and reads are `os.pread`: the server's file_wrapper
    asks tell and seek around every read, and each of those as a system call would hand the
    GIL to another request's thread (bench/bench_served.py measures what a hand-over costs).
    """

    def __init__(self, fd: int, path: str, status: os.stat_result) -> None:
        self._fd: Optional[int] = fd
        self._position = 0
        self.path = path
        self.size = status.st_size
        self.mtime = status.st_mtime
        self.etag = f"{status.st_mtime}-{status.st_size}-{zlib.adler32(path.encode()) & 0xFFFFFFFF}"

    @property
    def closed(self) -> bool:
        return self._fd is None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def read(self, size: int = -1) -> bytes:
        if self._fd is None:
            raise ValueError("read of a closed recording")
        wanted = self.size - self._position if size is None or size < 0 else size
        if wanted <= 0:
            return b""
        data = os.pread(self._fd, wanted, self._position)
        self._position += len(data)
        return data

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:  # an error between open and send drops the handle: its fd too
        self.close()

    def __enter__(self) -> "StoredAudio":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class RecordingStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._resolved_root = self.root.resolve()
        self._absolute_root = Path(os.path.abspath(self.root))
        # Folders `open` has found inside the store (the store makes them; a folder is
        # resolved, symlinks and all, the first time this process opens a file in it).
        self._folders_inside: set[str] = set()
        self._folders_lock = threading.Lock()

    # -- writing -------------------------------------------------------------------------
    def _folder_for(self, started_at: datetime) -> tuple[Path, str]:
        moment = _utc(started_at)
        relfolder = f"{moment.year:04d}/{moment.month:02d}/{moment.day:02d}"
        folder = self.root / relfolder
        folder.mkdir(parents=True, exist_ok=True)
        return folder, relfolder

    def new_writer(self, started_at: datetime, *, keep_open: bool = True,
                   stem: Optional[str] = None) -> RecordingWriter:
        """`stem` (32 hex digits) names the file after its call, so the partial file a
        crash leaves can be matched to the call it recorded (see `partials`)."""
        folder, relfolder = self._folder_for(started_at)
        return RecordingWriter(self, folder, relfolder, keep_open=keep_open, stem=stem)

    def put(self, started_at: datetime, stream: Union[BinaryIO, bytes, bytearray, memoryview],
            max_bytes: int) -> str:
        """Copy a whole recording in, streaming; nothing is left behind if it is too large."""
        if isinstance(stream, (bytes, bytearray, memoryview)):
            if len(stream) > max_bytes:
                raise RecordingTooLarge(f"the recording is larger than {max_bytes} bytes")
            stream = io.BytesIO(bytes(stream))
        with self.new_writer(started_at) as writer:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                if writer.size + len(chunk) > max_bytes:
                    raise RecordingTooLarge(f"the recording is larger than {max_bytes} bytes")
                writer.write(chunk)
            return writer.commit()

    # -- reading -------------------------------------------------------------------------
    @staticmethod
    def _relative(relpath: str) -> PurePosixPath:
        if not isinstance(relpath, str) or not relpath:
            raise UnsafeRecordingPath("a recording path must be a non-empty string")
        if "\x00" in relpath or "\\" in relpath:
            raise UnsafeRecordingPath(f"unsafe recording path {relpath!r}")
        pure = PurePosixPath(relpath)
        if pure.is_absolute() or relpath.startswith("/") or ".." in pure.parts:
            raise UnsafeRecordingPath(f"unsafe recording path {relpath!r}")
        return pure

    def _inside(self, path: Path, relpath: str) -> None:
        resolved = path.resolve()  # follows symlinks, so a link out of the store is caught too
        if resolved == self._resolved_root or not resolved.is_relative_to(self._resolved_root):
            raise UnsafeRecordingPath(f"recording path {relpath!r} is outside the store")

    def path_of(self, relpath: str) -> Path:
        candidate = self.root / self._relative(relpath)
        self._inside(candidate, relpath)
        return candidate

    def open(self, relpath: str) -> StoredAudio:
        """The recording, open for reading: one open and one fstat, everything an edge
        sending it needs. FileNotFoundError if there is no such file; UnsafeRecordingPath
        for a path out of the store or a symlink (the store makes none)."""
        candidate = self._absolute_root / self._relative(relpath)
        folder = str(candidate.parent)
        if folder not in self._folders_inside:
            self._inside(candidate.parent, relpath)
            with self._folders_lock:
                if len(self._folders_inside) >= 4096:  # a folder a day: years of them
                    self._folders_inside.clear()
                self._folders_inside.add(folder)
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafeRecordingPath(f"recording path {relpath!r} is a symlink") from None
            raise
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):
                raise FileNotFoundError(errno.ENOENT, "not a recording file", str(candidate))
            return StoredAudio(fd, str(candidate), status)
        except BaseException:
            os.close(fd)
            raise

    def exists(self, relpath: str) -> bool:
        return self.path_of(relpath).is_file()

    def size(self, relpath: str) -> int:
        return self.path_of(relpath).stat().st_size

    def delete(self, relpath: str) -> bool:
        try:
            self.path_of(relpath).unlink()
        except FileNotFoundError:
            return False
        return True

    def named(self, started_at: datetime, stem: str) -> Optional[str]:
        """The relpath of the committed recording a writer named `stem` made for a call
        that started at `started_at`, if it is in the store."""
        if not _STEM.fullmatch(stem or ""):
            return None
        moment = _utc(started_at)
        relpath = f"{moment.year:04d}/{moment.month:02d}/{moment.day:02d}/{stem}.mp3"
        return relpath if self.exists(relpath) else None

    def partials(self) -> list["PartialRecording"]:
        """The temp files of recordings a crash interrupted, oldest first."""
        found = []
        for part in self.root.glob(f"*/*/*/.*{_PART_SUFFIX}"):
            name = part.name[1:-len(_PART_SUFFIX)]  # "<stem>.mp3"
            stem = name[:-4] if name.endswith(".mp3") else ""
            try:
                modified = datetime.fromtimestamp(part.stat().st_mtime, timezone.utc)
            except FileNotFoundError:
                continue
            relfolder = part.parent.relative_to(self.root).as_posix()
            if _STEM.fullmatch(stem):
                found.append(PartialRecording(part, f"{relfolder}/{name}", stem, modified))
        return sorted(found, key=lambda p: p.modified)

    def publish_partial(self, partial: "PartialRecording", data: bytes) -> str:
        """Put `data` (the salvaged audio) in place under the partial's own name, durably,
        and remove the temp file; returns the relpath."""
        target = self.path_of(partial.relpath)
        temp = partial.path.with_name(partial.path.name + ".salvage")
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        partial.path.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return partial.relpath

    def discard_partials(self, older_than_s: float = 24 * 3600) -> int:
        """Remove temp files left by a crash mid-recording; returns how many went."""
        cutoff = time.time() - older_than_s
        removed = 0
        for part in self.root.glob(f"*/*/*/.*{_PART_SUFFIX}"):
            try:
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed


@dataclass(frozen=True)
class PartialRecording:
    path: Path  # the temp file
    relpath: str  # where the recording goes once published
    stem: str  # its file name less ".mp3": the call id, when the switch named it
    modified: datetime  # its last write: when the recording stopped


# -- MP3 recognition ---------------------------------------------------------------------
def is_mp3(head: bytes) -> bool:
    """True when `head` (at least 4 bytes; 10 for ID3) starts an MP3 file: an ID3v2 tag or
    an MPEG audio frame header that is a valid layer III header."""
    if len(head) >= 10 and head[:3] == b"ID3":
        major, revision = head[3], head[4]
        # ID3v2.2-2.4; the size is four syncsafe bytes (high bit clear).
        return major in (2, 3, 4) and revision != 0xFF and all(b < 0x80 for b in head[6:10])
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version = (head[1] >> 3) & 0x03  # 0: MPEG 2.5, 1: reserved, 2: MPEG 2, 3: MPEG 1
    layer = (head[1] >> 1) & 0x03  # 1 means layer III
    bitrate_index = head[2] >> 4
    rate_index = (head[2] >> 2) & 0x03
    emphasis = head[3] & 0x03
    return (version != 1 and layer == 1 and 0 < bitrate_index < 15 and rate_index != 3
            and emphasis != 2)


def probe_mp3(path: Union[str, Path]) -> Mp3Info:
    """Duration and format read by mutagen; `NotMp3` for anything it cannot read as MP3."""
    from mutagen import MutagenError
    from mutagen.mp3 import MP3

    try:
        with open(path, "rb") as handle:
            head = handle.read(10)
        if not is_mp3(head):
            # mutagen hunts for a frame sync anywhere, so random bytes can pass it; an MP3
            # file starts with its tag or its first frame.
            raise NotMp3("the file does not start with an ID3 tag or an MPEG layer III frame")
        audio = MP3(str(path))
    except (MutagenError, OSError, ValueError, EOFError) as exc:
        raise NotMp3(f"not an MP3 file: {exc}") from None
    info = audio.info
    if info is None or not info.length or info.length <= 0 or not info.sample_rate:
        raise NotMp3("no MPEG audio frames found")
    return Mp3Info(duration_s=float(info.length), channels=int(info.channels),
                   sample_rate=int(info.sample_rate), bitrate=int(info.bitrate))
