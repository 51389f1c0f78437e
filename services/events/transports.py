"""The two SignalR transports this hub offers (negotiate says TryWebSockets: false, so the
jQuery clients use serverSentEvents, falling back to longPolling), and the message
framing they share: persistent responses {C, M} (with S: 1 to initialize)."""
from __future__ import annotations

import asyncio
import json

from aiohttp import web

from . import cursor
from .feed import Waiter
from .hub import pending_messages
from .plumbing import answer

KEEP_ALIVE = b"data: {}\n\n"  # an empty persistent response: the clients' keep-alive
# The jQuery client reconnects by itself (a new /reconnect URL with its latest message id,
# after 2 s); EventSource's own retry of the old URL would replay from an older cursor.
NATIVE_RETRY = b"retry: 30000\n\n"
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
               "X-Accel-Buffering": "no"}


def _frame(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class Transports:
    def __init__(self, *, feed, run_db, database, keepalive_s: float, long_poll_s: float) -> None:
        self.feed = feed
        self.run_db = run_db
        self.database = database
        self.keepalive_s = keepalive_s
        self.long_poll_s = long_poll_s

    async def _pending(self, waiter: Waiter):
        batch = await self.run_db(pending_messages, self.database, waiter.connection_id, waiter.positions)
        if batch.positions != waiter.positions:
            waiter.positions = batch.positions
            self.feed.watch(waiter)
        return batch

    async def server_sent_events(self, request: web.Request, connection_id: str, positions: dict[int, int],
                                 *, initialize: bool) -> web.StreamResponse:
        """connect (initialize) and reconnect: one open stream, messages as they come."""
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        waiter = Waiter(positions, connection_id)
        self.feed.add(waiter)
        try:
            await response.write(NATIVE_RETRY + b"data: initialized\n\n")
            if initialize:
                await response.write(_frame({"C": cursor.encode(positions), "S": 1, "M": []}))
            while not waiter.closed:
                waiter.woken.clear()
                batch = await self._pending(waiter)
                if batch.messages:
                    await response.write(_frame({"C": cursor.encode(batch.positions), "M": batch.messages}))
                try:
                    await asyncio.wait_for(waiter.woken.wait(), self.keepalive_s)
                except asyncio.TimeoutError:
                    await response.write(KEEP_ALIVE)
        except ConnectionError:
            pass  # the client went away; its subscriptions stay for a reconnect
        finally:
            self.feed.remove(waiter)
        return response

    async def long_polling(self, request: web.Request, params: dict, connection_id: str,
                           positions: dict[int, int], *, initialize: bool) -> web.Response:
        """connect answers at once (initialized); poll and reconnect wait until there is
        something to send or ConnectionTimeout has passed."""
        if initialize:
            return answer(request, {"C": cursor.encode(positions), "S": 1, "M": []}, params)
        waiter = Waiter(positions, connection_id)
        self.feed.add(waiter)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.long_poll_s
        try:
            while True:
                waiter.woken.clear()
                batch = await self._pending(waiter)
                remaining = deadline - loop.time()
                if batch.messages or waiter.closed or remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(waiter.woken.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
        finally:
            self.feed.remove(waiter)
        return answer(request, {"C": cursor.encode(batch.positions), "M": batch.messages}, params)
