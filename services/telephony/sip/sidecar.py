"""The baresip process the SIP driver runs its call legs in.

It is started in its own session, so it outlives a crash of Callsuite: the calls it
carries are then still up, and the next start finds the process through the state file
(`sidecar.json` in the media folder) and ends them properly — SIGTERM makes baresip hang
up every call (BYE, or CANCEL for one still ringing) before it exits.

Config: UDP/TCP SIP on 127.0.0.1 (baresip also binds TLS on the next port, so both must
be free), the menu module for the call commands, ctrl_tcp for control, aufile for
play-by-phone, aubridge for bridging, G.711 only. The menu's ringback is off: it would
play into the leg's aubridge device and take the bridge's place.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional

from .ctrl import BaresipControl, ControlError

log = logging.getLogger(__name__)

STATE_FILE = "sidecar.json"
HOME_AOR = "sip:home@127.0.0.1"  # a user agent that places no call: the current one whenever a leg's is deleted


def free_port(span: int = 1, host: str = "127.0.0.1") -> int:
    """A port whose `span` consecutive ports are free for both TCP and UDP."""
    for _ in range(200):
        probe = socket.socket()
        probe.bind((host, 0))
        port = probe.getsockname()[1]
        probe.close()
        if port + span > 65535:
            continue
        held: list[socket.socket] = []
        try:
            for number in range(port, port + span):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    sock = socket.socket(socket.AF_INET, kind)
                    held.append(sock)
                    sock.bind((host, number))
            return port
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise OSError("no free port range")


def _config(sip_port: int, ctrl_port: int, rtp_ports: str) -> str:
    return "\n".join([
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{sip_port}",
        "audio_player aubridge,idle",
        "audio_source aubridge,idle",
        "audio_alert aubridge,idle",
        "ausrc_srate 8000",
        "auplay_srate 8000",
        "audio_channels 1",
        "call_max_calls 1000",
        f"rtp_ports {rtp_ports}",
        "rtp_timeout 60",
        "ringback_disabled yes",
        "menu_bell no",
        "module_path /usr/lib/baresip/modules",
        "module g711.so",
        "module aufile.so",
        "module aubridge.so",
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}",
        "",
    ])


class _ExitedAtStart(ControlError):
    pass


class Sidecar:
    def __init__(self, binary: str, folder: Path, on_event: Callable[[dict], None],
                 rtp_ports: str = "20000-39999") -> None:
        self.binary = binary
        self.folder = Path(folder)
        self.on_event = on_event
        self.rtp_ports = rtp_ports
        self.process: Optional[subprocess.Popen] = None
        self.control: Optional[BaresipControl] = None

    def start(self, timeout_s: float = 10.0, attempts: int = 3) -> None:
        """Start baresip on free ports. A port found free can be taken before baresip binds
        it (by any outgoing connection on a busy host): baresip then exits, and it is tried
        again on other ports."""
        for attempt in range(1, attempts + 1):
            try:
                self._start(timeout_s)
                return
            except _ExitedAtStart:
                if attempt == attempts:
                    raise
                log.warning("baresip exited at start (a port taken meanwhile?); trying other ports")

    def _start(self, timeout_s: float) -> None:
        home = self.folder / "baresip"
        home.mkdir(parents=True, exist_ok=True)
        sip_port, ctrl_port = free_port(2), free_port(1)
        (home / "config").write_text(_config(sip_port, ctrl_port, self.rtp_ports))
        for name in ("accounts", "contacts"):
            (home / name).write_text("")  # the legs' accounts come over ctrl_tcp, with their password
        log_file = open(self.folder / "baresip.log", "ab")
        try:
            self.process = subprocess.Popen([self.binary, "-f", str(home)], stdin=subprocess.DEVNULL,
                                            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log_file.close()
        (self.folder / STATE_FILE).write_text(json.dumps({"pid": self.process.pid, "home": str(home)}))
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise _ExitedAtStart(f"baresip exited at start (code {self.process.returncode}); see baresip.log")
            try:
                self.control = BaresipControl("127.0.0.1", ctrl_port, self.on_event)
                self.control.command("uanew", f"<{HOME_AOR}>;regint=0")
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ControlError("baresip did not open its control port") from None
                time.sleep(0.05)

    def alive(self) -> bool:
        return (self.process is not None and self.process.poll() is None
                and self.control is not None and not self.control.closed.is_set())

    def command(self, command: str, params: Optional[str] = None, *, check: bool = True) -> str:
        if self.control is None:
            raise ControlError("the baresip sidecar is not running")
        return self.control.command(command, params, check=check)

    def stop(self, timeout_s: float = 5.0) -> None:
        """End every call (baresip sends BYE/CANCEL on SIGTERM) and the process."""
        process, self.process = self.process, None
        if self.control is not None:
            self.control.close()
            self.control = None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        (self.folder / STATE_FILE).unlink(missing_ok=True)

    @staticmethod
    def end_leftover(folder: Path, timeout_s: float = 5.0) -> bool:
        """Stop the sidecar a previous run left (it crashed), so that its calls are hung
        up. True when there was one."""
        state_file = Path(folder) / STATE_FILE
        try:
            state = json.loads(state_file.read_text())
            pid, home = int(state["pid"]), str(state["home"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        found = False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            found = home.encode() in cmdline  # the pid is still that baresip, not a reused number
        except OSError:
            pass
        if found:
            log.warning("ending the calls of the baresip sidecar (pid %d) a previous run left", pid)
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                try:  # our child only if we started it; otherwise just wait for it to go
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                time.sleep(0.05)
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
        state_file.unlink(missing_ok=True)
        return found
