"""Numbered slots shared by every process on one PostgreSQL database (the playback
channels): slot n is held as the session advisory lock (key, n) on one connection of the
holding process. PostgreSQL frees a process's slots when its connection ends, so a
process killed with SIGKILL holds nothing once its connection is gone."""
from __future__ import annotations

import logging
import threading
from typing import Optional

from sqlalchemy import Engine

log = logging.getLogger(__name__)

PLAYBACK_CHANNELS = 0x506C6179  # the advisory-lock key of the playback channels ("Play")
SWITCH_OWNERS = 0x53776368  # one slot per running simulated switch, numbered as its call ids begin ("Swch")


class SharedSlots:
    def __init__(self, engine: Engine, key: int) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._key = key
        self._lock = threading.Lock()
        self._connection = None
        self._held: set[int] = set()

    def _session(self):
        import psycopg

        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self._dsn, autocommit=True)
            self._held.clear()  # a new session holds nothing
        return self._connection

    def _lost(self) -> None:
        log.warning("the connection holding this process's shared slots was lost", exc_info=True)
        self._held.clear()  # PostgreSQL freed them with the session
        self._connection = None

    def take(self, slot: int) -> bool:
        """True when `slot` was free in every process and is now this process's."""
        import psycopg

        with self._lock:
            if slot in self._held:
                return False
            try:
                taken = self._session().execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)",
                                                (self._key, slot)).fetchone()[0]
            except psycopg.Error:
                self._lost()
                return False
            if taken:
                self._held.add(slot)
            return bool(taken)

    def give_back(self, slot: int) -> None:
        import psycopg

        with self._lock:
            if slot not in self._held:
                return
            self._held.discard(slot)
            try:
                self._connection.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", (self._key, slot))
            except psycopg.Error:
                self._lost()

    def taken(self) -> Optional[int]:
        """How many slots are held, by any process (None when the database cannot say)."""
        import psycopg

        with self._lock:
            try:
                return self._session().execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = %s::int4::oid"
                    " AND objsubid = 2 AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())", (self._key,)).fetchone()[0]
            except psycopg.Error:
                self._lost()
                return None

    def close(self) -> None:
        import psycopg

        with self._lock:
            if self._connection is not None:
                # Given back before the session ends: PostgreSQL frees a closed session's locks
                # only once its backend has exited, a moment after close() returns.
                try:
                    self._connection.execute("SELECT pg_advisory_unlock_all()")
                except psycopg.Error:
                    pass  # the session is gone already, and its locks with it
                self._connection.close()
            self._connection = None
            self._held.clear()
