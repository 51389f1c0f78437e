"""blueButler's (seed 000) and Recall's (seed 003) wire text, spelled exactly as the seeds do;
the core speaks in outcomes and aware datetimes, this edge in these strings."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from services.core.errors import InvalidInput
from services.core.vocabulary import LinkOutcome, PlaybackOutcome

ERROR = "Error"
NO_ACTIVE_CALL = "No Active Call"
PLAYBACK = {PlaybackOutcome.PLAYING: "TRUE", PlaybackOutcome.FAILED: "FALSE",
            PlaybackOutcome.NO_CHANNEL: "ERROR: No Playback Channels"}


def link_answer(outcome: LinkOutcome, reference: Optional[str]) -> Optional[str]:
    """The reference number, `No Active Call`, or None (the seed's NULL: stored as pending)."""
    if outcome is LinkOutcome.LINKED:
        return reference
    if outcome is LinkOutcome.NO_ACTIVE_CALL:
        return NO_ACTIVE_CALL
    return None


RECALL_DATETIME = "%Y-%m-%d %H:%M:%S"  # the seed's 'yyyy-MM-dd HH:mm:ss'


def format_recall_datetime(moment: datetime, zone: str) -> str:
    """An aware datetime as Recall writes it, in the server's zone (CONTRACTS §4)."""
    return moment.astimezone(ZoneInfo(zone)).strftime(RECALL_DATETIME)


def parse_recall_datetime(text: str, zone: str, name: str = "dtCallDateTime") -> datetime:
    """'yyyy-MM-dd HH:mm:ss' in the server's zone, optionally JSON-quoted as the seed sends it."""
    value = text.strip()
    if value.startswith('"'):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidInput(f"{name}: unbalanced quotes") from None
    try:
        local = datetime.strptime(value, RECALL_DATETIME)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be 'yyyy-MM-dd HH:mm:ss'") from None
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
