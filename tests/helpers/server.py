"""Start the real Callsuite WSGI app under waitress on 127.0.0.1 (a free port)."""
from __future__ import annotations

import atexit
import itertools
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import requests

from services.config import load_settings
from services.core.provisioning import provision
from services.system import System, create_server
from storage.database import Database, sqlite_url

from .audio import tone_mp3
from .postgres import PostgresServer

REPO = Path(__file__).resolve().parents[2]
DEMO_SITE = REPO / "demo" / "site.json"
CTI_TOKEN = "test-cti-token-0123456789abcdef"
_call_numbers = itertools.count(1)


@dataclass(frozen=True)
class RecordedCall:
    call_id: str  # the PBX's id, as CTI ingest knows it
    reference: str  # the recording's reference number


@dataclass
class LiveServer:
    base_url: str
    system: System
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _stopping: threading.Event = field(repr=False, default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def events_url(self) -> str:
        """The events server (SignalR hub /signalr, SSE /events/...): its own port."""
        return f"http://127.0.0.1:{self.system.events_server.port}"

    @property
    def db(self):
        return self.system.database

    def cti(self, event: dict) -> requests.Response:
        return requests.post(self.url("/cti/v1/events"), json=event,
                             headers={"Authorization": f"Bearer {CTI_TOKEN}"}, timeout=10)

    def upload(self, call_id: str, data: bytes, content_type: str = "audio/mpeg") -> requests.Response:
        return requests.put(self.url(f"/cti/v1/calls/{call_id}/recording"), data=data, timeout=10,
                            headers={"Authorization": f"Bearer {CTI_TOKEN}", "Content-Type": content_type})

    def recorded_call(self, extension: str = "201", *, started: Optional[datetime] = None, talk_s: float = 2.0,
                      audio: Optional[bytes] = None) -> RecordedCall:
        """An inbound call through CTI ingest — answered a second after it starts, ended
        `talk_s` later — with its MP3 (a tone of that length unless given) uploaded."""
        call_id = f"rec-{next(_call_numbers)}-{time.monotonic_ns()}"
        started = started or datetime.now(timezone.utc) - timedelta(minutes=3)
        answered = started + timedelta(seconds=1)
        for kind, at in (("call.started", started), ("call.answered", answered),
                         ("call.ended", answered + timedelta(seconds=talk_s))):
            r = self.cti({"event": kind, "call_id": call_id, "at": at.isoformat(), "extension": extension,
                          "direction": "inbound", "ani": "+13125550100", "did": "8005551234"})
            assert r.ok, r.text
        r = self.upload(call_id, tone_mp3(talk_s) if audio is None else audio)
        assert r.status_code == 201, r.text
        return RecordedCall(call_id, r.json()["reference"])

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)
        self.system.close()


# CALLSUITE_TEST_DATABASE=postgresql runs every server of the suite on a fresh database of
# one PostgreSQL server started for the run (.ci/run runs the suite both ways).
# A server restarted on the same data folder finds the same database.
_postgres: Optional[PostgresServer] = None
_databases: dict[Path, str] = {}


def suite_database(folder: Path, hooks=None) -> Database:
    """A migrated, empty database on the suite's engine (SQLite in `folder`, or a fresh
    PostgreSQL database in CI's second half), for in-process tests of dense rules."""
    database = Database(test_database_url(folder) or sqlite_url(folder), hooks=hooks)
    database.migrate()
    return database


def test_database_url(data_dir: Path) -> Optional[str]:
    global _postgres
    if os.environ.get("CALLSUITE_TEST_DATABASE", "sqlite") != "postgresql":
        return None
    if _postgres is None:
        _postgres = PostgresServer().start()
        atexit.register(_postgres.stop)
    key = Path(data_dir).resolve()
    if key not in _databases:
        _databases[key] = _postgres.create_database(f"suite_{os.getpid()}_{len(_databases) + 1}")
    return _databases[key]


def cli_database_options(data_dir: Path) -> list[str]:
    """The options a `callsuite` subprocess needs to use the database of the server on `data_dir`."""
    url = test_database_url(data_dir)
    return ["--data-dir", str(data_dir)] + (["--database-url", url] if url else [])


def start_server(data_dir: Path, *, site: Optional[dict] = None, **overrides) -> LiveServer:
    if "database_url" not in overrides:
        overrides["database_url"] = test_database_url(data_dir)
    options = {"data_dir": data_dir, "cti_token": CTI_TOKEN, "access_log": False, "host": "127.0.0.1",
               "port": 0, "threads": 8, "events_port": 0}
    options.update(overrides)
    settings = load_settings(None, environ={}, overrides=options)
    system = System(settings).start()
    if site is None:
        site = json.loads(DEMO_SITE.read_text())
    with system.database.session() as session:
        provision(session, site)
    server = create_server(system, host="127.0.0.1", port=0)
    stopping = threading.Event()
    thread = threading.Thread(target=serve_until, args=(server, stopping), daemon=True, name="waitress")
    thread.start()
    live = LiveServer(f"http://127.0.0.1:{server.effective_port}", system, server, thread, stopping)
    # Generous: four test workers on two cores can keep a first answer waiting for seconds.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(live.url("/health"), timeout=5).status_code == 200:
                return live
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.05)
    raise RuntimeError("server did not become healthy")


def cheapen_passwords(server: LiveServer, site: dict) -> None:
    """Re-hash the site's passwords at argon2's lowest cost, for modules that send many
    (right and wrong) passwords. The server verifies them as any hash (its parameters
    travel in it), so every check is the real one, only quicker."""
    from argon2 import PasswordHasher
    from sqlalchemy import update

    from storage.models import Company, PartnerAccount, User

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with server.db.session() as session:
        for model, key, rows in ((Company, "id", site["companies"]), (User, "username", site["users"]),
                                 (PartnerAccount, "username", site["partners"])):
            for row in (r for r in rows if r.get("password")):  # a company may have none
                session.execute(update(model).where(getattr(model, key) == row[key])
                                .values(password_hash=cheap.hash(row["password"])))


def serve_until(server, stopping: threading.Event) -> None:
    """Serve `server` (waitress) until `stopping` is set, then stop its threads and close it."""
    # waitress's own run() loops until its socket map is empty; loop in small steps so the
    # test thread can stop it.
    while not stopping.is_set():
        server.asyncore.loop(timeout=0.05, map=server._map, count=1, use_poll=True)
    server.task_dispatcher.shutdown()
    server.close()
