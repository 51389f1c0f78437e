"""The words the domain uses for outcomes, shared by the core, the telephony layer and the
edges. Each edge renders them in its own seed's wire text."""
from __future__ import annotations

import enum


class PlaybackOutcome(enum.Enum):
    PLAYING = "playing"  # a channel was taken and the call placed
    NO_CHANNEL = "no_channel"  # every playback channel is busy (or none is configured)
    FAILED = "failed"  # the audio could not be read or the call could not be placed


class LinkOutcome(enum.Enum):
    LINKED = "linked"  # linked to the recording of the call in progress
    PENDING = "pending"  # stored for a person to link later (the seed's NULL)
    NO_ACTIVE_CALL = "no_active_call"
