"""Playback channels: a fixed pool (the seed's Dialogic ports) shared by play-by-phone calls.

A channel is taken before the call is placed and given back when that call ends, so a
busy pool answers "no channel" at once instead of queueing a caller's request. With
`shared` (several processes driving one switch), channel n is also taken in every process
(`shared.take(n)`, `shared.give_back(n)`), so the processes together use the pool once.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from .driver import ChannelInfo, ChannelState


@dataclass
class Channel:
    channel_id: int
    state: ChannelState = "idle"
    number: Optional[str] = None
    call_id: Optional[str] = None
    audio_path: Optional[str] = None
    since: Optional[datetime] = None


class ChannelPool:
    def __init__(self, size: int, shared=None) -> None:
        if size < 0:
            raise ValueError("a channel pool cannot have a negative size")
        self._lock = threading.Lock()
        self._shared = shared
        self._channels = [Channel(channel_id=i + 1) for i in range(size)]

    @property
    def size(self) -> int:
        return len(self._channels)

    def acquire(self, number: Optional[str] = None, audio_path: Optional[str] = None) -> Optional[Channel]:
        """An idle channel, now marked dialing, or None when every channel is busy."""
        with self._lock:
            for channel in self._channels:
                if channel.state == "idle" and (self._shared is None or self._shared.take(channel.channel_id)):
                    channel.state = "dialing"
                    channel.number = number
                    channel.audio_path = audio_path
                    channel.call_id = None
                    channel.since = datetime.now(timezone.utc)
                    return channel
        return None

    def attach(self, channel: Channel, call_id: str) -> None:
        with self._lock:
            channel.call_id = call_id

    def set_state(self, channel: Channel, state: ChannelState) -> None:
        with self._lock:
            if channel.state != "idle":  # a released channel stays idle
                channel.state = state
                channel.since = datetime.now(timezone.utc)

    def release(self, channel: Channel) -> None:
        with self._lock:
            channel.state = "idle"
            channel.number = channel.call_id = channel.audio_path = None
            channel.since = datetime.now(timezone.utc)
            if self._shared is not None:
                self._shared.give_back(channel.channel_id)

    def busy(self) -> int:
        with self._lock:
            return sum(1 for c in self._channels if c.state != "idle")

    def snapshot(self) -> list[ChannelInfo]:
        with self._lock:
            return [ChannelInfo(channel_id=c.channel_id, state=c.state, number=c.number, call_id=c.call_id,
                                audio_path=c.audio_path, since=c.since) for c in self._channels]
