"""The SIP switch: a `SwitchDriver` whose calls are real SIP calls.

Components (see README "Connecting a SIP trunk or PBX"):

- a baresip sidecar (sidecar.py) carries every call leg as a SIP user agent of its own
  (`uanew`), driven over ctrl_tcp one command at a time (ctrl.py). A leg is found again
  by its user agent's address, `<account>-<call id>@<domain>`, and its events by the
  `;cs=<call id>` parameter the dialled URI carries (baresip's `dial` returns no id).
- the proxy in front (kamailio, or the PBX/trunk itself) routes the calls and anchors
  their media in rtpengine;
- rtpengine records: `start recording` over NG (ng.py) opens a pcap segment, `stop
  recording` closes it; a pause is a stop, a resume a new start. At the end of the call
  the segments are decoded and mixed (media.py), encoded to MP3 the same way as the
  simulated switch's recordings, stored, and the pcaps deleted: nothing of a paused span
  was ever written, and no raw capture outlives the call.

Audio of a leg: its player is the aubridge device named after the leg, its source the
device named after the leg it is bridged to (an unconnected device before: the callee
hears silence), or an 8 kHz WAV of the recording for play-by-phone, after which baresip
ends the call itself ("end of file").
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from storage.recordings import RecordingStore

from ..audio import BITRATE_KBPS, SAMPLE_RATE, RecordingEncoder
from ..channels import Channel, ChannelPool
from ..driver import (
    CallEventSink,
    CallResult,
    CallState,
    ChannelInfo,
    Direction,
    EventRelay,
    Gap,
    InvalidCallState,
    PausedSpan,
    PlaybackOutcome,
    SwitchCallSnapshot,
    SwitchEvent,
    SwitchUnavailable,
    UnknownCall,
)
from .ctrl import CommandFailed, ControlError
from .media import RATE, mix_segment, read_pcap, upsample_pcm
from .ng import NgClient, NgError
from .sidecar import HOME_AOR, Sidecar

log = logging.getLogger(__name__)

_LIVE = ("ringing", "answered")
_CS = re.compile(r";cs=([0-9a-f]{32})")
_STATUS = re.compile(r"^(\d{3})\b")
_BUSY = {486, 600, 603}
_NO_ANSWER = {408, 480, 487}
_JOURNAL = "calls.json"  # SIP Call-IDs of legs in progress, for the next start after a crash


@dataclass(frozen=True)
class SipConfig:
    proxy: str  # outbound proxy URI, e.g. sip:127.0.0.1:5060
    domain: str  # host[:port] of the From/To/Request-URI
    account: str
    password: Optional[str]
    codecs: str
    rtpengine_ng: str
    recording_dir: Path  # rtpengine's recording-dir (its pcaps/ and metadata/)
    media_dir: Path  # sidecar config, state, WAVs being played
    baresip: str = "baresip"
    max_calls: int = 100
    ffmpeg: str = "ffmpeg"


@dataclass(eq=False)
class _Leg:
    call_id: str
    direction: Direction
    extension: Optional[str]
    ani: Optional[str]
    did: Optional[str]
    target: str
    record: bool
    purpose: str
    duration_s: Optional[float]
    started_at: datetime
    channel: Optional[Channel] = None
    wav: Optional[Path] = None
    sip_call_id: Optional[str] = None
    state: CallState = "ringing"
    rang: bool = False
    answered_at: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    result: Optional[CallResult] = None
    held: bool = False
    bridged_with: Optional[str] = None
    paused: bool = False
    hung_up_by_us: bool = False
    spans: list = field(default_factory=list)  # [[start, end|None]] UTC
    recording_path: Optional[str] = None
    recording_duration_s: Optional[float] = None
    finished: threading.Event = field(default_factory=threading.Event)  # recording handled
    # Held while rtpengine is told to start or stop recording the leg: orders those commands
    # without holding the switch's lock across a network round trip (taken before it, never after).
    media: threading.Lock = field(default_factory=threading.Lock)
    timer: Optional[threading.Timer] = None
    last_ticket: int = 0  # the relay ticket of the last event posted about it


class SipSwitch:
    def __init__(self, config: SipConfig, store: RecordingStore, sink: CallEventSink, *,
                 playback_channels: int = 2, sample_rate: int = SAMPLE_RATE,
                 bitrate_kbps: int = BITRATE_KBPS, watch_s: float = 1.0, shared_channels=None) -> None:
        self.config = config
        self.store = store
        self.pool = ChannelPool(playback_channels, shared_channels)
        self.sample_rate = sample_rate
        self.bitrate_kbps = bitrate_kbps
        config.media_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._legs: dict[str, _Leg] = {}
        self._closed = False
        self._relay = EventRelay(sink, name="sip-switch-events")
        self._last_ticket = 0
        self._events: "list[dict]" = []
        self._events_cond = threading.Condition()
        self._files = ThreadPoolExecutor(2, thread_name_prefix="sip-switch-files")
        self._media = ThreadPoolExecutor(2, thread_name_prefix="sip-switch-media")  # rtpengine's round trips
        self.ng = NgClient.from_address(config.rtpengine_ng)
        self.restarts = 0
        self._end_leftovers()
        self._sidecar = Sidecar(config.baresip, config.media_dir, self._queue_event)
        self._sidecar.start()
        self._dispatcher = threading.Thread(target=self._dispatch, name="sip-switch-dispatch", daemon=True)
        self._dispatcher.start()
        self._stop = threading.Event()
        self._watch_s = watch_s
        self._watcher = threading.Thread(target=self._watch, name="sip-switch-watch", daemon=True)
        self._watcher.start()

    @classmethod
    def from_settings(cls, settings, store: RecordingStore, sink: CallEventSink, shared_channels=None) -> "SipSwitch":
        if not settings.sip_account:
            raise ValueError("switch = 'sip' needs sip_account (and usually sip_password)")
        proxy = settings.sip_proxy
        domain = settings.sip_domain or proxy.removeprefix("sips:").removeprefix("sip:").split(";")[0]
        media = Path(settings.sip_media_dir) if settings.sip_media_dir else settings.data_dir / "sip"
        recording = Path(settings.sip_recording_dir) if settings.sip_recording_dir else media / "rtpengine"
        config = SipConfig(proxy=proxy, domain=domain, account=settings.sip_account, password=settings.sip_password,
                           codecs=settings.sip_codecs, rtpengine_ng=settings.sip_rtpengine_ng,
                           recording_dir=recording, media_dir=media, baresip=settings.sip_baresip,
                           max_calls=settings.sip_max_calls)
        return cls(config, store, sink, playback_channels=settings.playback_channels,
                   shared_channels=shared_channels)

    # -- the sidecar's events --------------------------------------------------------------
    def _queue_event(self, event: dict) -> None:
        # Called on the ctrl reader thread, which must never wait for a command's answer.
        with self._events_cond:
            self._events.append(event)
            self._events_cond.notify()

    def _dispatch(self) -> None:
        while True:
            with self._events_cond:
                self._events_cond.wait_for(lambda: self._events or self._closed)
                if not self._events:
                    return
                event = self._events.pop(0)
            try:
                self._on_event(event)
            except Exception:
                log.exception("SIP event %s failed", event.get("type"))

    def _leg_of(self, event: dict) -> Optional[_Leg]:
        match = _CS.search(str(event.get("peeruri") or "")) or _CS.search(str(event.get("param") or ""))
        if match is None:
            return None
        with self._lock:
            return self._legs.get(match.group(1))

    def _on_event(self, event: dict) -> None:
        kind = event.get("type")
        leg = self._leg_of(event)
        if leg is None or kind not in ("CALL_RINGING", "CALL_PROGRESS", "CALL_ESTABLISHED", "CALL_CLOSED"):
            return
        with self._lock:
            if event.get("id") and leg.sip_call_id is None:
                leg.sip_call_id = str(event["id"])
                self._write_journal()
            if kind in ("CALL_RINGING", "CALL_PROGRESS"):
                leg.rang = True
            elif kind == "CALL_ESTABLISHED" and leg.state == "ringing":
                self._answered(leg)
            elif kind == "CALL_CLOSED" and leg.state in _LIVE:
                self._closed_by_switch(leg, str(event.get("param") or ""))
        if kind == "CALL_ESTABLISHED" and leg.record:
            try:
                self._media.submit(self._start_recording, leg)
            except RuntimeError:
                pass  # the switch is closing: the call is being hung up

    def _answered(self, leg: _Leg) -> None:
        now = datetime.now(timezone.utc)
        leg.state, leg.answered_at = "answered", now
        if leg.channel is not None:
            self.pool.set_state(leg.channel, "playing")
        if leg.record and leg.paused:
            leg.spans[-1][0] = max(leg.spans[-1][0], now)  # a pause from before the answer starts now
        self._post(leg, "call.answered", now)
        if leg.duration_s is not None:
            leg.timer = threading.Timer(leg.duration_s, self._hangup_quietly, args=(leg.call_id,))
            leg.timer.daemon = True
            leg.timer.start()

    def _start_recording(self, leg: _Leg) -> None:
        """Once answered, off the event thread and outside the switch's lock: a slow
        rtpengine delays this call's recording, not every other call's events and commands."""
        with leg.media:
            with self._lock:
                due = leg.state == "answered" and not leg.paused
            if not due:
                return  # paused meanwhile (resuming starts it), or already over
            try:
                self.ng.start_recording(leg.sip_call_id)
            except (NgError, OSError):
                log.exception("rtpengine cannot record call %s; it goes on unrecorded", leg.call_id)

    def _closed_by_switch(self, leg: _Leg, reason: str) -> None:
        status = _STATUS.match(reason)
        code = int(status.group(1)) if status else None
        if leg.state == "answered":
            self._end(leg, "Connected", "ended")
        elif code in _BUSY:
            self._end(leg, "Busy", "ended")
        elif code in _NO_ANSWER or (leg.hung_up_by_us and leg.rang):
            self._end(leg, "No Answer", "ended")
        elif leg.hung_up_by_us:
            self._end(leg, "Abandoned", "ended")
        else:  # 404, 503, no route: the network gave up without ringing the callee
            log.info("call %s to %s failed: %s", leg.call_id, leg.target, reason or "no reason given")
            self._end(leg, "Abandoned", "failed")

    def _end(self, leg: _Leg, result: CallResult, state: CallState) -> None:
        now = datetime.now(timezone.utc)
        if leg.paused and leg.spans:
            leg.spans[-1][1] = now
            leg.paused = False
        leg.state, leg.ended_at, leg.result = state, now, result
        if leg.timer is not None:
            leg.timer.cancel()
        self._post(leg, "call.ended", now, result=result)
        if leg.channel is not None:
            self.pool.release(leg.channel)
            leg.channel = None
        self._files.submit(self._after_call, leg)

    def _after_call(self, leg: _Leg) -> None:
        """Off the event thread: forget the user agent, close rtpengine's capture, then
        turn it into the stored recording."""
        try:
            # Never delete the current user agent: baresip 1.0's menu then reads the freed one
            # (a protection fault in menu.so, seen with 25 calls hung up at once).
            self._sidecar.command("uafind", HOME_AOR, check=False)
            self._sidecar.command("uadel", self._aor(leg), check=False)
        except ControlError:
            pass
        if leg.wav is not None:
            leg.wav.unlink(missing_ok=True)
        try:
            if leg.sip_call_id is not None:
                self._forget_in_rtpengine(leg.sip_call_id)
                if leg.record and leg.answered_at is not None:
                    self._store_recording(leg)
                self._drop_captures(leg.sip_call_id)
        except Exception:
            log.exception("cannot store the recording of call %s", leg.call_id)
        finally:
            leg.finished.set()
            with self._lock:
                self._write_journal()

    def _forget_in_rtpengine(self, sip_call_id: str, timeout_s: float = 2.0) -> None:
        """Delete the call in rtpengine (closing its last pcap segment) and wait until it
        is gone, so no capture is still being written when it is read and removed."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.ng.request("delete", call_id=sip_call_id)
            except NgError:
                pass  # the proxy deleted it already
            try:
                self.ng.query(sip_call_id)
            except NgError:
                return  # unknown: gone
            if time.monotonic() > deadline:
                log.warning("rtpengine still has call %s after deleting it", sip_call_id)
                return
            time.sleep(0.05)

    def _captures(self, sip_call_id: str) -> list[Path]:
        folder = self.config.recording_dir / "pcaps"
        return sorted(folder.glob(f"{glob_escape(sip_call_id)}-*.pcap"))

    def _drop_captures(self, sip_call_id: str) -> None:
        """Remove what rtpengine captured of a call, now and once more a little later: a
        call's BYE reaches rtpengine through the proxy after baresip reports the call
        closed (and after a crash's leftovers are hung up), and the capture it then
        finishes would be left behind."""
        self._remove_captures(sip_call_id)
        sweep = threading.Timer(3.0, self._remove_captures, args=(sip_call_id,))
        sweep.daemon = True
        sweep.start()

    def _remove_captures(self, sip_call_id: str) -> None:
        for folder in ("pcaps", "metadata"):
            for path in (self.config.recording_dir / folder).glob(f"*{glob_escape(sip_call_id)}-*"):
                path.unlink(missing_ok=True)

    def _store_recording(self, leg: _Leg) -> None:
        segments = []
        for path in self._captures(leg.sip_call_id):
            segment = mix_segment(read_pcap(path))
            if segment is not None:
                segments.append(segment)
        segments.sort(key=lambda s: s.started_at)
        pcm = b"".join(upsample_pcm(s.samples) for s in segments)
        audio = _Pcm(pcm, self.sample_rate)
        encoder = RecordingEncoder(self.sample_rate, self.bitrate_kbps, audio=audio)
        writer = self.store.new_writer(leg.started_at, keep_open=True, stem=leg.call_id)
        try:
            writer.write(encoder.tag_placeholder())
            writer.write(encoder.feed_seconds(0.0, audio.duration_s))
            writer.write(encoder.flush())
            tag = encoder.info_tag()
            if tag:
                writer.write_at(0, tag)
            path = writer.commit()
        except BaseException:
            writer.abort()
            raise
        with self._lock:
            leg.recording_path = path
            leg.recording_duration_s = round(encoder.duration_s, 3)
            gaps = self._gaps(leg, [(s.started_at, s.duration_s) for s in segments])
            self._post(leg, "recording.ready", datetime.now(timezone.utc), recording_path=path,
                       duration_s=leg.recording_duration_s, gaps=gaps)

    @staticmethod
    def _gaps(leg: _Leg, recorded: list[tuple[float, float]]) -> tuple[Gap, ...]:
        # Each pause cuts its call time out of the recording, after the segments recorded before it.
        gaps: list[Gap] = []
        for start, end in leg.spans:
            end = end or leg.ended_at
            start = max(start, leg.answered_at)
            if end <= start:
                continue
            offset = sum(length for began, length in recorded if began < start.timestamp())
            gaps.append(Gap(offset_s=round(offset, 3), length_s=round((end - start).total_seconds(), 3),
                            call_offset_s=round((start - leg.answered_at).total_seconds(), 3)))
        return tuple(gaps)

    # -- placing calls ----------------------------------------------------------------------
    def _aor(self, leg: _Leg) -> str:
        return f"sip:{self.config.account}-{leg.call_id}@{self.config.domain}"

    def place_call(self, *, extension: Optional[str], number: Optional[str], direction: Direction,
                   ani: Optional[str], did: Optional[str], answer_after_s: Optional[float],
                   duration_s: Optional[float], record: bool = True, dtmf: Optional[str] = None) -> str:
        # answer_after_s and dtmf describe a simulated callee: a real one answers when it does.
        if direction != "outbound":
            raise SwitchUnavailable("the SIP switch places outbound calls; inbound calls come in through CTI ingest")
        target = number or extension
        if not target:
            raise ValueError("an outbound call needs a number")
        if duration_s is not None and not duration_s >= 0:
            raise ValueError("duration_s must be a non-negative number of seconds or None")
        return self._dial(extension=extension, target=target, ani=ani, did=did, record=record, purpose="call",
                          duration_s=duration_s, source="aubridge,idle-{id}")

    def _dial(self, *, extension, target, ani, did, record, purpose, duration_s, source,
              channel: Optional[Channel] = None, wav: Optional[Path] = None) -> str:
        if not re.fullmatch(r"[+0-9A-Za-z*#._-]{1,64}", target):
            raise ValueError(f"cannot dial {target!r}")
        leg = _Leg(call_id=uuid.uuid4().hex, direction="outbound", extension=extension, ani=ani, did=did,
                   target=target, record=record, purpose=purpose, duration_s=duration_s,
                   started_at=datetime.now(timezone.utc), channel=channel, wav=wav)
        with self._lock:
            if self._closed:
                raise SwitchUnavailable("the switch is closed")
            live = sum(1 for other in self._legs.values() if other.state in _LIVE)
            if live >= self.config.max_calls:
                raise SwitchUnavailable(f"the SIP switch is at its limit of {self.config.max_calls} calls")
            self._legs[leg.call_id] = leg
            if channel is not None:
                self.pool.attach(channel, leg.call_id)
            ticket = self._post(leg, "call.started", leg.started_at)
        self._relay.wait(ticket)
        aor = self._aor(leg)
        account = f"<{aor}>;auth_user={self.config.account};regint=0;audio_codecs={self.config.codecs}"
        account += f';outbound="{self.config.proxy};lr"'
        if self.config.password:
            account += f";auth_pass={self.config.password}"
        try:
            self._sidecar.command("uanew", account)
            self._sidecar.command("uafind", aor)
            self._sidecar.command("ausrc", source.format(id=leg.call_id))
            self._sidecar.command("auplay", f"aubridge,{leg.call_id}")
            self._sidecar.command("dial", f"sip:{target}@{self.config.domain};cs={leg.call_id}")
        except ControlError as exc:
            log.warning("cannot place call %s: %s", leg.call_id, str(exc).replace(self.config.password or "\0", "***"))
            with self._lock:
                if leg.state in _LIVE:
                    self._end(leg, "Abandoned", "failed")
            raise SwitchUnavailable("the SIP sidecar could not place the call") from None
        return leg.call_id

    # -- controlling calls --------------------------------------------------------------------
    def _find(self, call_id: str) -> _Leg:
        with self._lock:
            leg = self._legs.get(call_id)
        if leg is None:
            raise UnknownCall(f"no call {call_id!r} on this switch")
        return leg

    def _on_leg(self, leg: _Leg, *commands: tuple[str, Optional[str]], retry_s: float = 0.0) -> None:
        """Run commands on the leg's user agent. `retry_s`: a re-INVITE (hold, resume) is
        refused while the previous one is still in its transaction; try again that long."""
        deadline = time.monotonic() + retry_s
        while True:
            try:
                self._sidecar.command("uafind", self._aor(leg))
                for command, params in commands:
                    self._sidecar.command(command, params)
                return
            except CommandFailed as exc:
                if time.monotonic() >= deadline:
                    raise SwitchUnavailable(f"the SIP sidecar refused: {exc}") from None
                time.sleep(0.1)
            except ControlError as exc:
                raise SwitchUnavailable(f"the SIP sidecar refused: {exc}") from None

    def answer(self, call_id: str) -> None:
        self._find(call_id)
        raise InvalidCallState("calls on the SIP switch are answered by the party called")

    def hangup(self, call_id: str) -> None:
        leg = self._find(call_id)
        with self._lock:
            if leg.state not in _LIVE:
                raise InvalidCallState(f"call {call_id} has already {leg.state}")
            leg.hung_up_by_us = True
        self._on_leg(leg, ("hangup", None))
        self._wait_state(leg)

    def _hangup_quietly(self, call_id: str) -> None:
        try:
            self.hangup(call_id)
        except Exception:
            pass  # it ended meanwhile

    def _wait_state(self, leg: _Leg, timeout_s: float = 10.0) -> None:
        # The caller reads the ledger next: let it see the call ended.
        deadline = time.monotonic() + timeout_s
        while leg.state in _LIVE and time.monotonic() < deadline:
            time.sleep(0.01)
        if leg.state in _LIVE:
            with self._lock:
                if leg.state in _LIVE:
                    self._end(leg, "Connected" if leg.state == "answered" else "Abandoned", "ended")
        if leg.record and leg.answered_at is not None:
            leg.finished.wait(30)  # as on the simulated switch: the recording is stored when hangup returns
        self._relay_flush()

    def _relay_flush(self) -> None:
        self._relay.wait(self._last_ticket)

    def hold(self, call_id: str) -> None:
        leg = self._find(call_id)
        if leg.state != "answered" or leg.held:
            raise InvalidCallState(f"call {call_id} is {'on hold' if leg.held else leg.state}; it cannot be held")
        self._on_leg(leg, ("hold", None), retry_s=3.0)
        leg.held = True

    def retrieve(self, call_id: str) -> None:
        leg = self._find(call_id)
        if leg.state != "answered" or not leg.held:
            raise InvalidCallState(f"call {call_id} is not on hold")
        self._on_leg(leg, ("resume", None), retry_s=3.0)
        leg.held = False

    def bridge(self, call_a: str, call_b: str) -> None:
        if call_a == call_b:
            raise InvalidCallState("a call cannot be bridged to itself")
        a, b = self._find(call_a), self._find(call_b)
        for leg in (a, b):
            if leg.state != "answered":
                raise InvalidCallState(f"call {leg.call_id} is {leg.state}; only answered calls can be bridged")
        for leg in (a, b):
            if leg.held:
                self._on_leg(leg, ("resume", None), retry_s=3.0)
                leg.held = False
        # Each leg's source becomes the other's player: each party hears the other.
        self._on_leg(a, ("ausrc", f"aubridge,{b.call_id}"))
        self._on_leg(b, ("ausrc", f"aubridge,{a.call_id}"))
        a.bridged_with, b.bridged_with = b.call_id, a.call_id

    def pause_recording(self, call_id: str) -> None:
        leg = self._find(call_id)
        with leg.media:
            with self._lock:
                self._require_recording(leg)
                if leg.paused:
                    return
                answered = leg.state == "answered"
            if answered:
                try:
                    self.ng.stop_recording(leg.sip_call_id)
                except (NgError, OSError) as exc:
                    raise SwitchUnavailable(f"rtpengine did not pause the recording: {exc}") from None
            with self._lock:
                now = datetime.now(timezone.utc)
                leg.paused = True
                leg.spans.append([now, None])
                ticket = self._post(leg, "recording.paused", now)
        self._relay.wait(ticket)

    def resume_recording(self, call_id: str) -> None:
        leg = self._find(call_id)
        with leg.media:
            with self._lock:
                self._require_recording(leg)
                if not leg.paused:
                    return
                answered = leg.state == "answered"
            if answered:
                try:
                    self.ng.start_recording(leg.sip_call_id)
                except (NgError, OSError) as exc:
                    raise SwitchUnavailable(f"rtpengine did not resume the recording: {exc}") from None
            with self._lock:
                now = datetime.now(timezone.utc)
                leg.paused = False
                leg.spans[-1][1] = now
                ticket = self._post(leg, "recording.resumed", now)
        self._relay.wait(ticket)

    @staticmethod
    def _require_recording(leg: _Leg) -> None:
        if leg.state not in _LIVE:
            raise InvalidCallState(f"call {leg.call_id} has {leg.state}; its recording cannot change")
        if not leg.record:
            raise InvalidCallState(f"call {leg.call_id} is not being recorded")

    # -- play by phone ------------------------------------------------------------------------
    def play(self, number: str, audio_path: Path) -> PlaybackOutcome:
        channel = self.pool.acquire(number, str(audio_path))
        if channel is None:
            return PlaybackOutcome.NO_CHANNEL
        wav = self.config.media_dir / f"play-{uuid.uuid4().hex}.wav"
        try:
            if not isinstance(number, str) or not number.strip() or len(number) > 32:
                raise ValueError("a playback call needs a phone number")
            converted = subprocess.run(
                [shutil.which(self.config.ffmpeg) or self.config.ffmpeg, "-nostdin", "-loglevel", "error", "-y",
                 "-i", str(audio_path), "-ar", str(RATE), "-ac", "1", "-sample_fmt", "s16", str(wav)],
                capture_output=True, timeout=60)
            if converted.returncode != 0:
                raise ValueError(f"cannot convert the recording: {converted.stderr.decode(errors='replace')[-200:]}")
            self._dial(extension=None, target=number.strip(), ani=None, did=None, record=False, purpose="playback",
                       duration_s=None, source=f"aufile,{wav}", channel=channel, wav=wav)
        except (OSError, ValueError, subprocess.SubprocessError, SwitchUnavailable) as exc:
            log.warning("play-by-phone to %s failed: %s", number, exc)
            wav.unlink(missing_ok=True)
            self.pool.release(channel)
            return PlaybackOutcome.FAILED
        return PlaybackOutcome.PLAYING

    def channels(self) -> list[ChannelInfo]:
        return self.pool.snapshot()

    # -- reading --------------------------------------------------------------------------------
    def call(self, call_id: str) -> Optional[SwitchCallSnapshot]:
        with self._lock:
            leg = self._legs.get(call_id)
        if leg is None:
            return None
        if leg.last_ticket:  # whoever sees it answered or ended reads the ledger next
            self._relay.wait(leg.last_ticket)
        if leg.state not in _LIVE and leg.record and leg.answered_at is not None:
            leg.finished.wait(30)  # an ended call's snapshot carries its recording path
        with self._lock:
            return self._snapshot(leg)

    def _snapshot(self, leg: _Leg) -> SwitchCallSnapshot:
        def call_time(t: Optional[datetime]) -> Optional[float]:
            if t is None or leg.answered_at is None:
                return None
            return round(max(0.0, (t - leg.answered_at).total_seconds()), 3)

        spans = tuple(PausedSpan(started_at=s, ended_at=e, start_call_s=call_time(s), end_call_s=call_time(e))
                      for s, e in leg.spans)
        return SwitchCallSnapshot(
            call_id=leg.call_id, state=leg.state, direction=leg.direction, extension=leg.extension, ani=leg.ani,
            did=leg.did, target=leg.target, started_at=leg.started_at, answered_at=leg.answered_at,
            ended_at=leg.ended_at, result=leg.result, record=leg.record, recording_paused=leg.paused,
            recording_path=leg.recording_path, recording_duration_s=leg.recording_duration_s, paused_spans=spans,
            held=leg.held, bridged_with=leg.bridged_with,
            answered_by="person" if leg.answered_at is not None else None, purpose=leg.purpose)

    def live_calls(self) -> int:
        with self._lock:
            return sum(1 for leg in self._legs.values() if leg.state in _LIVE)

    def _post(self, leg: _Leg, kind: str, at: datetime, **extra) -> int:
        self._last_ticket = leg.last_ticket = self._relay.post(SwitchEvent(
            kind=kind, call_id=leg.call_id, at=at, extension=leg.extension, direction=leg.direction, ani=leg.ani,
            did=leg.did, target=leg.target, record=leg.record, **extra))
        return self._last_ticket

    # -- crashes: the sidecar's and our own ---------------------------------------------------
    def _write_journal(self) -> None:
        ids = [leg.sip_call_id for leg in self._legs.values() if leg.sip_call_id and not leg.finished.is_set()]
        (self.config.media_dir / _JOURNAL).write_text(json.dumps(ids))

    def _end_leftovers(self) -> None:
        """A previous run crashed: its sidecar still carries its calls. Hang them up, and
        drop what rtpengine captured of them (the ledger ends them as interrupted)."""
        Sidecar.end_leftover(self.config.media_dir)
        journal = self.config.media_dir / _JOURNAL
        try:
            leftover = json.loads(journal.read_text())
        except (OSError, ValueError):
            leftover = []
        for sip_call_id in leftover if isinstance(leftover, list) else []:
            self._forget_in_rtpengine(str(sip_call_id))
            self._drop_captures(str(sip_call_id))
        journal.unlink(missing_ok=True)
        for wav in self.config.media_dir.glob("play-*.wav"):
            wav.unlink(missing_ok=True)

    def _watch(self) -> None:
        while not self._stop.wait(self._watch_s):
            if self._closed or self._sidecar.alive():
                continue
            log.error("the baresip sidecar died; its calls are ended and it is restarted")
            with self._lock:
                for leg in list(self._legs.values()):
                    if leg.state in _LIVE:
                        self._end(leg, "Connected" if leg.state == "answered" else "Abandoned", "failed")
            self._sidecar.stop()
            try:
                self._sidecar.start()
                self.restarts += 1
            except (ControlError, OSError):
                log.exception("cannot restart the baresip sidecar; trying again")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            live = [leg for leg in self._legs.values() if leg.state in _LIVE]
        self._stop.set()
        for leg in live:
            self._hangup_quietly(leg.call_id)
        self._media.shutdown(wait=True)
        self._files.shutdown(wait=True)
        self._sidecar.stop()
        with self._events_cond:
            self._events_cond.notify_all()
        self.ng.close()
        self._relay.close()


class _Pcm:
    """Decoded call audio as the encoder asks for it (`pcm(first, end)` by sample index)."""

    def __init__(self, pcm: bytes, sample_rate: int) -> None:
        self._pcm = pcm
        self.sample_rate = sample_rate

    @property
    def duration_s(self) -> float:
        return len(self._pcm) / 2 / self.sample_rate

    def pcm(self, first_sample: int, end_sample: int) -> bytes:
        chunk = self._pcm[2 * first_sample:2 * end_sample]
        return chunk + bytes(2 * (end_sample - first_sample) - len(chunk))


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
