"""One cache folder for what the tests install or build (npm packages, compiled clients),
shared by every pytest worker: a build runs once, under a file lock, and the others wait
for it instead of racing into the same folder."""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

ROOT = Path(os.environ.get("CALLSUITE_TEST_CACHE", Path.home() / ".cache" / "callsuite-tests"))


@contextlib.contextmanager
def exclusive(folder: Path):
    """Hold the lock of `folder` (created if missing) while building into it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
