"""After a crash: what the simulated switch had recorded of the calls it was running.

Its calls live in its process, so a crash (SIGKILL, power) ends them with nobody to say
so; their recordings are left as temp files named after the call (storage/recordings.py).
The frames written up to the crash are playable: `salvage` finishes each file
(services/telephony/audio.py salvage_recording) and publishes it in the store.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

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


def salvage(store: RecordingStore, call_ids: Iterable[str]) -> dict[str, SalvagedRecording]:
    """Finish and publish the partial recordings of these calls; a partial with no whole
    frame is removed. Partials of other calls are left to `discard_partials`."""
    wanted = set(call_ids)
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
    return found
