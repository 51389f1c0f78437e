"""Which open streams to wake, and when: the statuses themselves are always read from the
database (CallbackEvent rows), so nothing here is state that another process would miss.

A waiter is one open stream or pending long poll: its positions (request id -> last event
id delivered) and, for a SignalR connection, its connection id. It is woken
- by CallbackStatusChanged once committed (this process, or others through the events
  module's LISTEN/NOTIFY on PostgreSQL),
- by a Subscribe or abort of its connection (same process),
- by the slow safety-net poll, which compares the newest event ids (and, per connection,
  the number of subscriptions) in the database with what each waiter has.
Everything here runs on the event loop's thread.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Callable, Optional

from services.core import callback_status

log = logging.getLogger(__name__)


class Waiter:
    def __init__(self, positions: dict[int, int], connection_id: Optional[str] = None) -> None:
        self.positions = dict(positions)
        self.connection_id = connection_id
        self.woken = asyncio.Event()
        self.closed = False  # aborted, or the server is stopping

    def wake(self) -> None:
        self.woken.set()

    def close(self) -> None:
        self.closed = True
        self.woken.set()


class Feed:
    def __init__(self, run_db: Callable, database) -> None:
        self._run_db = run_db  # awaitable: runs a blocking function on the DB thread pool
        self._database = database
        self._by_request: dict[int, set[Waiter]] = defaultdict(set)
        self._by_connection: dict[str, set[Waiter]] = defaultdict(set)
        self._latest: dict[int, int] = {}  # newest event id announced per watched request
        self._all: set[Waiter] = set()
        self.stopping = False

    def __len__(self) -> int:
        return len(self._all)

    # -- registration ------------------------------------------------------------------

    def add(self, waiter: Waiter) -> None:
        if self.stopping:
            waiter.close()
        self._all.add(waiter)
        if waiter.connection_id is not None:
            self._by_connection[waiter.connection_id].add(waiter)
        self.watch(waiter)

    def watch(self, waiter: Waiter) -> None:
        """(Re)index the waiter under the requests it has positions for."""
        for request_id in waiter.positions:
            self._by_request[request_id].add(waiter)
            # An announcement that arrived between the waiter's read and now.
            if self._latest.get(request_id, 0) > waiter.positions[request_id]:
                waiter.wake()

    def remove(self, waiter: Waiter) -> None:
        self._all.discard(waiter)
        for request_id in waiter.positions:
            waiters = self._by_request.get(request_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._by_request[request_id]
                    self._latest.pop(request_id, None)
        if waiter.connection_id is not None:
            waiters = self._by_connection.get(waiter.connection_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._by_connection[waiter.connection_id]

    # -- wake-ups ------------------------------------------------------------------------

    def status_committed(self, request_id: int, event_id: int) -> None:
        waiters = self._by_request.get(request_id)
        if not waiters:
            return
        self._latest[request_id] = max(event_id, self._latest.get(request_id, 0))
        for waiter in waiters:
            if waiter.positions.get(request_id, 0) < event_id:
                waiter.wake()

    def connection_changed(self, connection_id: str, *, closed: bool = False) -> None:
        for waiter in list(self._by_connection.get(connection_id, ())):
            waiter.close() if closed else waiter.wake()

    def close_all(self) -> None:
        self.stopping = True
        for waiter in list(self._all):
            waiter.close()

    async def safety_poll(self, interval_s: float) -> None:
        while not self.stopping:
            await asyncio.sleep(interval_s)
            try:
                await self._poll_once()
            except Exception:
                log.exception("event feed safety poll failed")

    async def _poll_once(self) -> None:
        request_ids = list(self._by_request)
        connection_ids = list(self._by_connection)
        if not request_ids and not connection_ids:
            return

        def read():
            with self._database.read_session() as session:
                return (callback_status.latest_event_ids(session, request_ids),
                        callback_status.subscription_counts(session, connection_ids))

        latest, counts = await self._run_db(read)
        for request_id, event_id in latest.items():
            self.status_committed(request_id, event_id)
        for connection_id, count in counts.items():
            for waiter in self._by_connection.get(connection_id, ()):
                if count != len(waiter.positions):
                    waiter.wake()
