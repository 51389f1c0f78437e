"""Server-Sent Events for modern clients: GET /events/callbacks/{confirmationCode}.

One `status` event per status with its CallbackEvent id (so `Last-Event-ID` resumes after
it), then, once the request is final, an `end` event and the stream closes. Resuming
after the end answers 204, which tells EventSource to stop reconnecting. The code is the
secret: unknown codes count against the address (the sign-in throttle)."""
from __future__ import annotations

import asyncio
import json
from typing import Optional

from aiohttp import web

from services.core import callback_status
from services.core.throttle import TooManyAttempts

from .feed import Waiter
from .hub import too_many
from .plumbing import refusal
from .transports import SSE_HEADERS

THROTTLE_SURFACE = "callback-events"
RETRY_MS = 3000


def _event(kind: str, payload: dict, event_id: Optional[int] = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return (head + f"event: {kind}\ndata: " + json.dumps(payload, separators=(",", ":")) + "\n\n").encode()


def _payload(status: callback_status.StatusEvent) -> dict:
    return {"confirmationCode": status.confirmation_code, "status": status.status,
            "at": status.at.isoformat().replace("+00:00", "Z")}


class CallbackEvents:
    def __init__(self, *, database, throttle, feed, run_db, address_of, keepalive_s: float) -> None:
        self.database = database
        self.throttle = throttle
        self.feed = feed
        self.run_db = run_db
        self.address_of = address_of
        self.keepalive_s = keepalive_s

    def routes(self) -> list:
        return [web.get("/events/callbacks/{code}", self.stream)]

    def _find(self, code: str, address: Optional[str]):
        """(request id, its final status's event id or None), or None for an unknown code."""
        with self.database.read_session() as session:
            self.throttle.check(session, THROTTLE_SURFACE, None, address)
        with self.database.session() as session:
            request = callback_status.find_request(session, code)
            if request is None:
                self.throttle.failed(session, THROTTLE_SURFACE, None, address)
                return None
            return request.id, bool(callback_status.final_request_ids(session, [request.id]))

    def _after(self, request_id: int, position: int) -> list[callback_status.StatusEvent]:
        with self.database.read_session() as session:
            return callback_status.statuses_after(session, {request_id: position})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        last_id = request.headers.get("Last-Event-ID", request.query.get("lastEventId", "0")).strip() or "0"
        if not last_id.isdigit() or len(last_id) > 15:
            return refusal(400, "Last-Event-ID must be the id of an event of this stream.")
        position = int(last_id)
        try:
            found = await self.run_db(self._find, request.match_info["code"], self.address_of(request))
        except TooManyAttempts as refused:
            return web.Response(status=429, text=too_many(refused) + "\n",
                                headers={"Retry-After": str(refused.retry_after_s)})
        if found is None:
            return refusal(404, "Unknown confirmation code.")
        request_id, ended = found
        waiter = Waiter({request_id: position})
        self.feed.add(waiter)  # before the first read: a status committed meanwhile wakes it
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            pending = await self.run_db(self._after, request_id, position)
            if ended and not pending:
                return web.Response(status=204)  # resumed after the end: nothing more, ever
            await response.prepare(request)
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            while not waiter.closed:
                for status in pending:
                    await response.write(_event("status", _payload(status), status.event_id))
                    waiter.positions[request_id] = status.event_id
                    if status.final:
                        await response.write(_event("end", _payload(status)))
                        return response
                try:
                    await asyncio.wait_for(waiter.woken.wait(), self.keepalive_s)
                except asyncio.TimeoutError:
                    await response.write(b": keep-alive\n\n")
                waiter.woken.clear()
                pending = await self.run_db(self._after, request_id, waiter.positions[request_id])
        except ConnectionError:
            pass
        finally:
            self.feed.remove(waiter)
        return response
