"""Cross-process wake-ups on PostgreSQL: LISTEN/NOTIFY on one channel.

A message is sent with pg_notify inside the transaction of the change, so PostgreSQL
delivers it only if that transaction commits. Messages are small JSON documents; what
they mean is the caller's business (storage knows nothing of domain events)."""
from __future__ import annotations

import json
import logging
import threading
from typing import Callable

from sqlalchemy import Engine, String, bindparam, func, select

from .statements import Prepared
from .units import UnitOfWork

log = logging.getLogger(__name__)
CHANNEL = "callsuite_events"


_NOTIFY = Prepared(select(func.pg_notify(bindparam("channel", type_=String()), bindparam("payload", type_=String()))))


def send(session: UnitOfWork, messages: list[dict]) -> None:
    for message in messages:
        _NOTIFY.run(session, {"channel": CHANNEL, "payload": json.dumps(message, separators=(",", ":"))})


class Listener:
    """A thread holding one LISTEN connection; calls `receive(message)` for each message.
    Reconnects after a lost connection (messages sent meanwhile are missed: subscribers
    that must not miss anything also read the database)."""

    def __init__(self, engine: Engine, receive: Callable[[dict], None]) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._receive = receive
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)
        self.listening = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stopping.is_set():
                        for notice in connection.notifies(timeout=0.5):
                            self._dispatch(notice.payload)
            except Exception:
                self.listening.clear()
                if not self._stopping.is_set():
                    log.warning("LISTEN connection lost; reconnecting", exc_info=True)
                    self._stopping.wait(1.0)

    def _dispatch(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        try:
            self._receive(message)
        except Exception:
            log.exception("handling a notification failed")
