"""Start the real Callsuite WSGI app under waitress on 127.0.0.1 (a free port)."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import requests
from waitress.server import create_server

from services.config import load_settings
from services.core.provisioning import provision
from services.http.app import build_app, server_options
from services.system import System

REPO = Path(__file__).resolve().parents[2]
DEMO_SITE = REPO / "demo" / "site.json"
CTI_TOKEN = "test-cti-token-0123456789abcdef"


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
    def db(self):
        return self.system.database

    def cti(self, event: dict) -> requests.Response:
        return requests.post(self.url("/cti/v1/events"), json=event,
                             headers={"Authorization": f"Bearer {CTI_TOKEN}"}, timeout=10)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)
        self.system.close()


def start_server(data_dir: Path, *, site: Optional[dict] = None, **overrides) -> LiveServer:
    options = {"data_dir": data_dir, "cti_token": CTI_TOKEN, "access_log": False, "host": "127.0.0.1",
               "port": 0, "threads": 8}
    options.update(overrides)
    settings = load_settings(None, environ={}, overrides=options)
    system = System(settings).start()
    if site is None:
        site = json.loads(DEMO_SITE.read_text())
    with system.database.session() as session:
        provision(session, site)
    server = create_server(build_app(system), host="127.0.0.1", port=0, **server_options(settings))
    stopping = threading.Event()
    thread = threading.Thread(target=_run, args=(server, stopping), daemon=True, name="waitress")
    thread.start()
    live = LiveServer(f"http://127.0.0.1:{server.effective_port}", system, server, thread, stopping)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if requests.get(live.url("/health"), timeout=1).status_code == 200:
                return live
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("server did not become healthy")


def _run(server, stopping: threading.Event) -> None:
    # waitress's own run() loops until its socket map is empty; loop in small steps so the
    # test thread can stop it.
    while not stopping.is_set():
        server.asyncore.loop(timeout=0.05, map=server._map, count=1, use_poll=True)
    server.task_dispatcher.shutdown()
    server.close()
