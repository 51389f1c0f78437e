"""SignalR message ids (the `C` of a persistent response, sent back as `messageId` on
poll and reconnect): per subscribed callback request, the last CallbackEvent id delivered.

Not signed: a client can only move its own positions (positions of requests its
connection has not subscribed to are ignored), and gains nothing by it."""
from __future__ import annotations

import re

_ENTRY = re.compile(r"(\d{1,12})\.(\d{1,15})")
MAX_ENTRIES = 64


class InvalidCursor(ValueError):
    pass


def encode(positions: dict[int, int]) -> str:
    # Never empty: the client treats a missing message id as "not connected yet".
    return "c" + "_".join(f"{request}.{event}" for request, event in sorted(positions.items()))


def decode(message_id: str | None) -> dict[int, int]:
    if not message_id:
        return {}
    if not message_id.startswith("c") or len(message_id) > 2048:
        raise InvalidCursor(message_id[:40])
    body = message_id[1:]
    positions: dict[int, int] = {}
    for part in body.split("_") if body else ():
        match = _ENTRY.fullmatch(part)
        if match is None or len(positions) >= MAX_ENTRIES:
            raise InvalidCursor(message_id[:40])
        positions[int(match[1])] = int(match[2])
    return positions
