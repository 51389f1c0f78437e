"""A SIP network on 127.0.0.1 for the SIP switch's tests, made of independent parts:
kamailio (registrar + proxy standing in for the PBX, config from
tests/telephony/sip/pbx.cfg), rtpengine (media relay that records, userspace), and baresip
user agents as the parties: each its own process, registered to kamailio, auto-answering
and playing a frequency clock (second k of the call is its own tone), or answering
manually (the test rejects or leaves it ringing). What a party heard is its sndfile dump
(`dump-*-dec.wav`): one call at a time per party, and no re-INVITE in these tests, so the
sndfile traps of SIP-FACTS do not apply.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from services.telephony.sip.ctrl import BaresipControl
from services.telephony.sip.sidecar import free_port

TEMPLATE = Path(__file__).resolve().parents[1] / "telephony" / "sip" / "pbx.cfg"
ACCOUNT, PASSWORD = "callsuite", "callsuite-sip-secret"
RATE = 8000
WINDOW_S = 0.25


def missing_tools() -> list[str]:
    return [tool for tool in ("kamailio", "rtpengine", "baresip", "ffmpeg") if shutil.which(tool) is None]


def clock_wav(path: Path, base_hz: float, step_hz: float, seconds: int = 40, amplitude: float = 0.35) -> Path:
    """Second k is a pure tone of base + step*k Hz (8 kHz mono 16-bit)."""
    t = np.arange(RATE) / RATE
    fade = np.minimum(1.0, np.minimum(np.arange(RATE), np.arange(RATE)[::-1]) / 40)
    tones = [np.sin(2 * math.pi * (base_hz + step_hz * k) * t) * fade for k in range(seconds)]
    pcm = (np.concatenate(tones) * amplitude * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path


def clock_seconds(samples: np.ndarray, rate: int, base_hz: float, step_hz: float, count: int = 40,
                  min_level: float = 300.0) -> list[Optional[int]]:
    """For each 0.25 s window: the second of the clock whose tone is strongest in the
    clock's own band (so a mix of two clocks in other bands reads as either), or None
    when that band is quiet (no tone of at least `min_level` amplitude)."""
    size = int(rate * WINDOW_S)
    freqs = np.fft.rfftfreq(size, 1 / rate)
    band = (freqs >= base_hz - step_hz / 2) & (freqs <= base_hz + step_hz * (count - 0.5))
    window = np.hanning(size)
    found: list[Optional[int]] = []
    for start in range(0, len(samples) - size + 1, size):
        spectrum = np.abs(np.fft.rfft(samples[start:start + size].astype(float) * window))[band]
        if spectrum.max() < min_level * size / 4:  # a sine of amplitude A peaks at about A * size / 4
            found.append(None)
            continue
        peak = freqs[band][int(np.argmax(spectrum))]
        k = round((peak - base_hz) / step_hz)
        found.append(k if 0 <= k < count and abs(peak - (base_hz + step_hz * k)) <= step_hz / 3 else None)
    return found


def runs(seconds: list[Optional[int]]) -> list[int]:
    """The clock seconds heard, in order, each once (a second is kept when two windows agree)."""
    heard: list[int] = []
    for a, b in zip(seconds, seconds[1:], strict=False):
        if a is not None and a == b and (not heard or heard[-1] != a):
            heard.append(a)
    return heard


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as source:
        return np.frombuffer(source.readframes(source.getnframes()), dtype="<i2"), source.getframerate()


@dataclass
class Party:
    """One baresip user agent (a process of its own) registered as `user`."""
    user: str
    folder: Path
    process: subprocess.Popen
    control: BaresipControl
    events: list = field(default_factory=list)

    def heard(self, timeout_s: float = 10.0) -> Path:
        """The WAV of what it received in its latest call, once the party has closed it
        (sndfile completes the header when the call ends on its side, a moment after ours)."""
        deadline = time.monotonic() + timeout_s
        while True:
            dumps = sorted(self.folder.glob("dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)
            if dumps:
                try:
                    with wave.open(str(dumps[-1]), "rb") as source:
                        if source.getnframes():
                            return dumps[-1]
                except (wave.Error, EOFError):
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"party {self.user} has no finished recording of a call")
            time.sleep(0.05)

    def calls_seen(self, kind: str) -> list[dict]:
        return [e for e in list(self.events) if e.get("type") == kind]

    def stop(self) -> None:
        self.control.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class SipLab:
    def __init__(self, folder: Path, rtp_ports: int = 200) -> None:
        self.folder = Path(folder)
        self.rtp_ports = rtp_ports
        self.folder.mkdir(parents=True, exist_ok=True)
        self.recordings = self.folder / "rtpengine"
        self.recordings.mkdir(exist_ok=True)
        self.ng_port = free_port(1)
        self.sip_port = free_port(1)
        self._processes: list[subprocess.Popen] = []
        self.parties: list[Party] = []
        self.passwords = {ACCOUNT: PASSWORD}

    # -- the network ------------------------------------------------------------------------
    def start(self, parties: dict[str, str]) -> "SipLab":
        """`parties`: user name -> password, so kamailio knows them before they register."""
        self.passwords.update(parties)
        base = random.randrange(40000, 60000 - self.rtp_ports, 200)  # rtpengine's, away from other labs
        # --config-file=none: not /etc/rtpengine/rtpengine.conf, whose HTTP port two labs would share.
        self._spawn("rtpengine", ["rtpengine", "--config-file=none", "-f", "-E", "--table=-1", "--delete-delay=0",
                                  "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{self.ng_port}",
                                  f"--listen-cli=127.0.0.1:{free_port(1)}",
                                  f"--recording-dir={self.recordings}", "--recording-method=pcap",
                                  "--recording-format=raw", f"--port-min={base}", f"--port-max={base + self.rtp_ports - 1}",
                                  "-L", "4", f"--pidfile={self.folder / 'rtpengine.pid'}"])
        self._wait_rtpengine()  # kamailio pings it once at start, and shuns it for a minute if it is not up
        lines = "\n".join(f'    if ($au == "{user}") {{ $var(pw) = "{password}"; }}'
                          for user, password in self.passwords.items())
        config = (TEMPLATE.read_text().replace("@@SIP_PORT@@", str(self.sip_port))
                  .replace("@@NG_PORT@@", str(self.ng_port)).replace("@@PASSWORDS@@", lines))
        (self.folder / "kamailio.cfg").write_text(config)
        runtime = self.folder / "kamailio-run"
        runtime.mkdir(exist_ok=True)
        self._spawn("kamailio", ["kamailio", "-DD", "-E", "-f", str(self.folder / "kamailio.cfg"),
                                 "-Y", str(runtime), "-P", str(self.folder / "kamailio.pid")])
        return self

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        self._processes.append(process)
        return process

    def _wait_rtpengine(self) -> None:
        from services.telephony.sip.ng import NgClient, NgError
        client = NgClient("127.0.0.1", self.ng_port, timeout_s=0.2, attempts=1)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    if client.ping():
                        return
                except (NgError, OSError):
                    time.sleep(0.05)
            raise RuntimeError("rtpengine did not start; see " + str(self.folder / "rtpengine.log"))
        finally:
            client.close()

    @property
    def settings(self) -> dict:
        """The Callsuite options that put its SIP switch on this network."""
        return {"switch": "sip", "sip_proxy": f"sip:127.0.0.1:{self.sip_port}", "sip_account": ACCOUNT,
                "sip_password": PASSWORD, "sip_rtpengine_ng": f"127.0.0.1:{self.ng_port}",
                "sip_recording_dir": str(self.recordings)}

    def captures(self) -> list[Path]:
        return sorted((self.recordings / "pcaps").glob("*.pcap"))

    # -- the parties --------------------------------------------------------------------------
    def party(self, user: str, *, clock: Optional[tuple[float, float]] = None, answer: str = "auto",
              keep_heard: bool = True) -> Party:
        folder = self.folder / f"party-{user}"
        folder.mkdir(exist_ok=True)
        source = f"aufile,{clock_wav(folder / 'clock.wav', *clock)}" if clock else "aubridge,silence"
        for attempt in range(3):  # a port found free may be taken before baresip binds it
            sip_port, ctrl_port = free_port(2), free_port(1)
            (folder / "config").write_text("\n".join([
                "poll_method epoll", f"sip_listen 127.0.0.1:{sip_port}", "audio_player aubridge,heard",
                f"audio_source {source}", "audio_alert aubridge,alert", "ausrc_srate 8000", "auplay_srate 8000",
                "audio_channels 1", "call_max_calls 1000", "ringback_disabled yes", "menu_bell no",
                "module_path /usr/lib/baresip/modules", "module g711.so", "module aufile.so", "module aubridge.so",
                "module sndfile.so" if keep_heard else "", "module_app account.so", "module_app menu.so",
                "module_app ctrl_tcp.so", f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}", f"snd_path {folder}", ""]))
            (folder / "accounts").write_text(f"<sip:{user}@127.0.0.1:{self.sip_port}>;auth_pass={self.passwords[user]};"
                                             f"answermode={answer};regint=3600;audio_codecs=PCMU,PCMA\n")
            (folder / "contacts").write_text("")
            process = self._spawn(f"party-{user}", ["baresip", "-f", str(folder)])
            events: list = []
            control = self._control(process, ctrl_port, events)
            if control is not None:
                break
            if attempt == 2:
                raise RuntimeError(f"party {user} did not start; see {self.folder / f'party-{user}.log'}")
        party = Party(user, folder, process, control, events)
        self.parties.append(party)
        self._wait_registered(party)
        return party

    @staticmethod
    def _control(process: subprocess.Popen, ctrl_port: int, events: list) -> Optional[BaresipControl]:
        """Its control connection, or None when the process exited first."""
        deadline = time.monotonic() + 10
        while True:
            try:
                return BaresipControl("127.0.0.1", ctrl_port, events.append)
            except OSError:
                if process.poll() is not None:
                    return None
                if time.monotonic() > deadline:
                    raise RuntimeError("a party did not open its control port") from None
                time.sleep(0.05)

    def _wait_registered(self, party: Party) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if b"200 OK" in (self.folder / f"party-{party.user}.log").read_bytes():
                return  # baresip logs the registrar's answer (its REGISTER_OK may come before we listen)
            time.sleep(0.05)
        raise RuntimeError(f"party {party.user} did not register")

    def reject_calls(self, party: Party) -> threading.Thread:
        """Answer every call to this (manual-answer) party with a refusal: 486 Busy."""
        def run() -> None:
            seen = 0
            while party.process.poll() is None and not party.control.closed.is_set():
                incoming = party.calls_seen("CALL_INCOMING")
                for _ in incoming[seen:]:
                    party.control.command("hangup", check=False)
                seen = len(incoming)
                time.sleep(0.02)
        thread = threading.Thread(target=run, daemon=True, name=f"reject-{party.user}")
        thread.start()
        return thread

    def stop(self) -> None:
        for party in self.parties:
            party.stop()
        for process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def dump(path: Path, data) -> None:
    Path(path).write_text(json.dumps(data, indent=1, default=str))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
