"""`callsuite serve` as a separate process (the way an operator runs it), for tests that
kill it with SIGKILL and start it again on the same data."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import requests

from .server import CTI_TOKEN, DEMO_SITE, REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def provision(data_dir: Path, site: Path = DEMO_SITE) -> None:
    result = subprocess.run([sys.executable, "-m", "services.cli", "provision", "--data-dir", str(data_dir),
                             str(site)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


class ServeProcess:
    def __init__(self, data_dir: Path, *, config: str = "", port: Optional[int] = None,
                 events_port: int = 0, access_log: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.events_port = events_port  # 0: any free port
        self.config = self.data_dir.parent / f"callsuite-{self.port}.toml"
        self.config.write_text(f'[callsuite]\nhost = "127.0.0.1"\ncti_token = "{CTI_TOKEN}"\n'
                               f'access_log = {str(access_log).lower()}\n{config}')
        self.process: Optional[subprocess.Popen] = None
        self.log = self.data_dir.parent / f"serve-{self.port}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> "ServeProcess":
        return self.launch().wait_until_healthy()

    def launch(self) -> "ServeProcess":
        """Start the process without waiting for it (several processes starting at once)."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "--data-dir", str(self.data_dir),
             "--config", str(self.config), "--port", str(self.port), "--events-port", str(self.events_port)],
            cwd=REPO, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        return self

    def wait_until_healthy(self) -> "ServeProcess":
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.url("/health"), timeout=5).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
                pass
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
