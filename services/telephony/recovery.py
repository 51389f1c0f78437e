"""After a crash: what the simulated switch had recorded of the calls it was running.

Its calls live in its process, so a crash (SIGKILL, power) ends them with nobody to say
so; their recordings are left as temp files named after the call (storage/recordings.py).
The frames written up to the crash are playable: `salvage` finishes each file
(services/telephony/audio.py salvage_recording) and publishes it in the store.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

from storage.recordings import NotMp3, RecordingStore, probe_mp3

from .audio import salvage_recording

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SalvagedRecording:
    call_id: str  # the switch's id of the call
    relpath: str
    size_bytes: int
    duration_s: float
    stopped_at: datetime  # the last write before the crash


def salvage(store: RecordingStore, calls: Mapping[str, datetime]) -> dict[str, SalvagedRecording]:
    """The recordings of these calls (call id -> when it started) that a crash left: each
    partial finished and published (one with no whole frame is removed), or one already
    committed when the crash came before the ledger heard of it. Partials of other calls
    are left to `discard_partials`."""
    wanted = set(calls)
    found: dict[str, SalvagedRecording] = {}
    for partial in store.partials():
        if partial.stem not in wanted:
            continue
        data = salvage_recording(partial.path.read_bytes())
        if not data:
            log.info("call %s: nothing playable was recorded before the crash", partial.stem)
            partial.path.unlink(missing_ok=True)
            continue
        relpath = store.publish_partial(partial, data)
        try:
            duration = probe_mp3(store.path_of(relpath)).duration_s
        except NotMp3:
            log.warning("call %s: the salvaged recording does not read as MP3; removed", partial.stem)
            store.delete(relpath)
            continue
        found[partial.stem] = SalvagedRecording(partial.stem, relpath, len(data), duration, partial.modified)
        log.info("call %s: kept %.1f s recorded before the crash", partial.stem, duration)
    for call_id in wanted - set(found):
        relpath = store.named(calls[call_id], call_id)
        if relpath is None:
            continue
        try:
            duration = probe_mp3(store.path_of(relpath)).duration_s
        except NotMp3:
            continue
        path = store.path_of(relpath)
        found[call_id] = SalvagedRecording(call_id, relpath, store.size(relpath), duration,
                                           datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))
    return found
