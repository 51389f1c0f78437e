"""Play by Phone as every binding does it (seed URL, SOAP, GET): read the audio the user may
hear, place the call with no transaction open, then announce the playing."""
from __future__ import annotations

from services.core import recordings
from services.core.errors import Forbidden, NotFound
from services.core.vocabulary import PlaybackOutcome


def play_by_phone(system, user, reference: str, phone: str) -> PlaybackOutcome:
    try:
        with system.database.read_session() as session:
            audio = recordings.playback_audio(session, system.store, user, reference)
    except (Forbidden, NotFound):
        return PlaybackOutcome.FAILED  # the seed answers FALSE, whatever the reason
    outcome = recordings.play_by_phone(system.switch, audio, phone, system.settings.default_region)
    if outcome is PlaybackOutcome.PLAYING:
        with system.database.session() as session:
            recordings.note_played_by_phone(session, audio)
    return outcome
