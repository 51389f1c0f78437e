"""Synthetic call audio and its incremental MP3 encoding.

The simulated switch has no microphones, so it records a tone "conversation" that can be
checked after the fact: caller and agent take turns second by second (the caller speaks
in even call-seconds, the agent in odd ones), each party has its own band, and the tone
of call-second k comes from a table indexed by k. Decoding a recording and taking the
dominant tone of each second therefore says who spoke and which call-seconds are in the
file, in which order: a paused span is simply missing.

Format: 16 kHz mono, 32 kbit/s CBR MPEG-2 layer III. 16 kHz rather than 8 kHz because
8 kHz MP3 is MPEG-2.5, a non-standard extension some players and browsers refuse, while
16 kHz is plain MPEG-2 (and wideband voice); at 32 kbit/s a call-minute is 240 KB.
The file starts with a Xing "Info" frame carrying LAME's delay and padding, completed
when the recording ends, so its length reads exactly (mutagen) and it plays gaplessly.
Both tone bands (400-1180 Hz caller, 1600-2380 Hz agent) stay inside the 300-3400 Hz
telephone band, so a recording played back over a phone line keeps its pattern.
"""
from __future__ import annotations

import array
import math
import struct
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Literal, Optional, Sequence

import lameenc

SAMPLE_RATE = 16000
BITRATE_KBPS = 32
LAME_QUALITY = 7  # fastest; pure tones need no psychoacoustic effort

CALLER_BASE_HZ = 400
AGENT_BASE_HZ = 1600
STEP_HZ = 20
TONES_PER_PARTY = 40  # the pattern repeats every 80 call-seconds
AMPLITUDE = 0.3
FADE_S = 0.01  # raised-cosine edges so turn changes do not click

# LAME delays its output by 576 samples (ENCDELAY) and an MP3 decoder's filterbank by 529
# more. The Info tag (below) tells readers about the 576 and the end padding, so mutagen
# reports the exact length and gapless decoders (dr_mp3, ffmpeg) trim both; a raw LAME
# stream without the tag decodes 1105 samples late, which analysis then skips.
ENCODER_DELAY_SAMPLES = 576
DECODER_DELAY_SAMPLES = 529
LAME_DELAY_SAMPLES = ENCODER_DELAY_SAMPLES + DECODER_DELAY_SAMPLES

Party = Literal["caller", "agent"]


def expected_party(second_index: int) -> Party:
    return "caller" if second_index % 2 == 0 else "agent"


def expected_frequency(second_index: int) -> int:
    """The tone (Hz) of call-second `second_index` (0 = the second after answer)."""
    if second_index < 0:
        raise ValueError("call-seconds count from 0")
    base = CALLER_BASE_HZ if expected_party(second_index) == "caller" else AGENT_BASE_HZ
    return base + STEP_HZ * ((second_index // 2) % TONES_PER_PARTY)


def party_of_frequency(frequency: float) -> Optional[Party]:
    if CALLER_BASE_HZ - STEP_HZ / 2 <= frequency < CALLER_BASE_HZ + STEP_HZ * TONES_PER_PARTY:
        return "caller"
    if AGENT_BASE_HZ - STEP_HZ / 2 <= frequency < AGENT_BASE_HZ + STEP_HZ * TONES_PER_PARTY:
        return "agent"
    return None


def all_tone_frequencies() -> list[int]:
    return sorted({expected_frequency(k) for k in range(2 * TONES_PER_PARTY)})


@lru_cache(maxsize=512)
def _second_pcm(sample_rate: int, frequency: int) -> bytes:
    # One whole second of a whole-Hz tone ends exactly where it began (phase 0), so the
    # cached second can be sliced at any sample without a discontinuity inside a turn.
    fade = max(1, int(FADE_S * sample_rate))
    peak = AMPLITUDE * 32767
    step = 2 * math.pi * frequency / sample_rate
    samples = array.array("h", bytes(2 * sample_rate))
    for n in range(sample_rate):
        edge = min(n, sample_rate - 1 - n)
        gain = 1.0 if edge >= fade else 0.5 - 0.5 * math.cos(math.pi * edge / fade)
        samples[n] = int(round(peak * gain * math.sin(step * n)))
    if sys.byteorder != "little":
        samples.byteswap()
    return samples.tobytes()


class CallAudio:
    """The PCM (16-bit little-endian mono) of a call's synthetic conversation, addressed by
    sample index on the call timeline (sample n is call time n / sample_rate)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE) -> None:
        self.sample_rate = sample_rate

    def pcm(self, first_sample: int, end_sample: int) -> bytes:
        if first_sample < 0 or end_sample < first_sample:
            raise ValueError("invalid sample range")
        sr = self.sample_rate
        parts: list[bytes] = []
        n = first_sample
        while n < end_sample:
            second, offset = divmod(n, sr)
            stop = min(end_sample, (second + 1) * sr)
            parts.append(_second_pcm(sr, expected_frequency(second))[2 * offset:2 * (stop - second * sr)])
            n = stop
        return b"".join(parts)


class RecordingEncoder:
    """Incremental MP3 encoder for one call: feed call-time spans as they happen, get MP3
    bytes back to append to the file. Spans must move forward; a span that is skipped
    (a paused recording) is never synthesised nor encoded, so it is not in the file."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, bitrate_kbps: int = BITRATE_KBPS,
                 audio: Optional[CallAudio] = None) -> None:
        self.sample_rate = sample_rate
        self.bitrate_kbps = bitrate_kbps
        self.audio = audio or CallAudio(sample_rate)
        self._encoder = lameenc.Encoder()
        self._encoder.set_in_sample_rate(sample_rate)
        self._encoder.set_out_sample_rate(sample_rate)
        self._encoder.set_channels(1)
        self._encoder.set_bit_rate(bitrate_kbps)
        self._encoder.set_quality(LAME_QUALITY)
        self._encoder.silence()
        self._next_sample = 0  # first call-time sample not yet fed or skipped
        self._samples_fed = 0
        self._flushed = False
        self._audio_bytes = 0  # MP3 bytes LAME produced (the tag frame not counted)
        self._layout = _frame_layout(sample_rate, bitrate_kbps)

    @property
    def samples_fed(self) -> int:
        return self._samples_fed

    @property
    def duration_s(self) -> float:
        """Length of the audio fed so far (the recording's own timeline)."""
        return self._samples_fed / self.sample_rate

    def _sample(self, t: float) -> int:
        return int(round(t * self.sample_rate))

    def feed_seconds(self, t0: float, t1: float) -> bytes:
        """Encode call time [t0, t1) and return the MP3 bytes LAME has ready (often a few
        frames behind: LAME holds back up to ~1.5 frames until `flush`)."""
        if self._flushed:
            raise RuntimeError("the encoder is already flushed")
        n0, n1 = self._sample(t0), self._sample(t1)
        if n0 < self._next_sample:
            raise ValueError(f"call time {t0:.3f}s was already encoded or skipped")
        if n1 <= n0:
            return b""
        self._next_sample = n1
        self._samples_fed += n1 - n0
        data = bytes(self._encoder.encode(self.audio.pcm(n0, n1)))
        self._audio_bytes += len(data)
        return data

    def skip_to(self, t: float) -> None:
        """Mark call time up to `t` as passed without encoding it (a pause)."""
        self._next_sample = max(self._next_sample, self._sample(t))

    def flush(self) -> bytes:
        if self._flushed:
            return b""
        self._flushed = True
        if not self._samples_fed:
            # LAME refuses to flush what was never fed (a call hung up before any audio).
            self._encoder.encode(b"")
        data = bytes(self._encoder.flush())
        self._audio_bytes += len(data)
        return data

    def tag_placeholder(self) -> bytes:
        """The bytes that start the file: room for the Info tag frame that `info_tag`
        fills in once the recording is flushed (empty if the format has no room for it)."""
        return bytes(self._layout.frame_length) if self._layout else b""

    def info_tag(self) -> bytes:
        """The Info (Xing/LAME) frame for the finished recording, to overwrite the
        placeholder: frame count, byte count, encoder delay and end padding, so readers
        know the exact length and players can play it gaplessly. LAME writes this itself
        only with a seekable file; we stream, so we write it the same way afterwards."""
        if not self._flushed:
            raise RuntimeError("flush the encoder first")
        layout = self._layout
        if layout is None:
            return b""
        frames, remainder = divmod(self._audio_bytes, layout.frame_length)
        padding = frames * layout.samples_per_frame - ENCODER_DELAY_SAMPLES - self._samples_fed
        if remainder or not 0 <= padding < 4096:
            return bytes(layout.frame_length)  # cannot describe it: leave a silent frame
        # The Xing frame count leaves out the tag frame itself; the byte count includes it.
        return _info_frame(layout, frames, self._audio_bytes + layout.frame_length, padding)


def salvage_recording(data: bytes, sample_rate: int = SAMPLE_RATE, bitrate_kbps: int = BITRATE_KBPS) -> bytes:
    """A playable MP3 from what a crash left of a recording being written: the frames
    written up to the crash, a trailing partial frame cut off, and the Info tag (left a
    placeholder) filled in for them. b"" when no whole frame was written."""
    layout = _frame_layout(sample_rate, bitrate_kbps)
    if layout is None:
        return b""
    body = data
    if body[:layout.frame_length] == bytes(layout.frame_length):
        body = body[layout.frame_length:]  # the Info tag's placeholder
    # Every frame of this CBR stream is one length and starts with LAME's own header:
    # keep the whole frames up to the first that is cut short or not a frame.
    frames = 0
    while (frames + 1) * layout.frame_length <= len(body) and \
            body[frames * layout.frame_length:frames * layout.frame_length + 2] == layout.header[:2]:
        frames += 1
    if not frames:
        return b""
    body = body[:frames * layout.frame_length]
    # The samples LAME held back at the crash are lost; the frames hold what was written,
    # less the encoder delay, so no end padding is declared.
    return _info_frame(layout, frames, len(body) + layout.frame_length, padding=0) + body


def encode_call_seconds(spans: Iterable[tuple[float, float]], **kwargs) -> bytes:
    """A whole MP3 of the given call-time spans (a convenience for tests and tools)."""
    encoder = RecordingEncoder(**kwargs)
    placeholder = encoder.tag_placeholder()
    out = [encoder.feed_seconds(t0, t1) for t0, t1 in spans]
    out.append(encoder.flush())
    return encoder.info_tag() + b"".join(out) if placeholder else b"".join(out)


# -- the Info tag ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _FrameLayout:
    header: bytes  # LAME's own frame header for this format
    bitrate_kbps: int
    frame_length: int
    samples_per_frame: int
    side_info: int


@lru_cache(maxsize=16)
def _frame_layout(sample_rate: int, bitrate_kbps: int) -> Optional[_FrameLayout]:
    # Take the header from LAME's own first frame, so it matches the stream exactly.
    probe = lameenc.Encoder()
    probe.set_in_sample_rate(sample_rate)
    probe.set_out_sample_rate(sample_rate)
    probe.set_channels(1)
    probe.set_bit_rate(bitrate_kbps)
    probe.set_quality(LAME_QUALITY)
    probe.silence()
    data = bytes(probe.encode(bytes(2 * 2304))) + bytes(probe.flush())
    if len(data) < 4 or data[0] != 0xFF or (data[1] & 0xE0) != 0xE0:
        return None
    header = bytes([data[0], data[1], data[2] & 0xFD, data[3]])  # padding bit off
    mpeg1 = (header[1] >> 3) & 0x03 == 3
    samples = 1152 if mpeg1 else 576
    length, rest = divmod(samples // 8 * bitrate_kbps * 1000, sample_rate)
    side_info = (17 if mpeg1 else 9) if (header[3] >> 6) == 3 else (32 if mpeg1 else 17)
    if rest:  # frames vary in length (padding slots): byte counts would not give frame counts
        return None
    if length < 4 + side_info + 16 + 36:
        return None
    return _FrameLayout(header, bitrate_kbps, length, samples, side_info)


def _crc16(data: bytes) -> int:
    # CRC-16/ARC (reflected 0x8005), the checksum the LAME tag uses.
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _info_frame(layout: _FrameLayout, frames: int, total_bytes: int, padding: int) -> bytes:
    frame = bytearray(layout.frame_length)
    frame[0:4] = layout.header
    at = 4 + layout.side_info  # side info stays zero: the frame decodes as silence
    xing = b"Info" + struct.pack(">III", 0x3, frames, total_bytes)  # flags: frames + bytes
    lame = bytearray(36)
    lame[0:9] = b"LAME3.100"
    lame[9] = 0x01  # tag revision 0, VBR method 1 (CBR)
    lame[10] = 0  # lowpass unknown
    lame[20] = min(255, layout.bitrate_kbps)
    lame[21:24] = ((ENCODER_DELAY_SAMPLES << 12) | padding).to_bytes(3, "big")
    frame[at:at + 16] = xing
    tag = at + 16
    frame[tag:tag + 36] = lame
    music_length = total_bytes - layout.frame_length
    frame[tag + 28:tag + 32] = struct.pack(">I", music_length)
    frame[tag + 34:tag + 36] = struct.pack(">H", _crc16(bytes(frame[:tag + 34])))
    return bytes(frame)


# -- analysis (tests and tools; needs the optional `miniaudio` decoder) -------------------
def _goertzel_power(samples: Sequence[int], frequency: float, sample_rate: int) -> float:
    coeff = 2.0 * math.cos(2.0 * math.pi * frequency / sample_rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def decode_pcm(mp3_bytes: bytes) -> tuple[array.array, int]:
    """Decode an MP3 to mono 16-bit samples and its sample rate (miniaudio's dr_mp3)."""
    try:
        import miniaudio
    except ImportError as exc:  # an analysis helper, not needed to record
        raise RuntimeError("decoding needs the 'miniaudio' package") from exc
    data = bytes(mp3_bytes)
    rate = miniaudio.mp3_get_info(data).sample_rate  # decode at the file's own rate
    decoded = miniaudio.decode(data, output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1, sample_rate=rate)
    return decoded.samples, decoded.sample_rate


def _has_lame_tag(mp3_bytes: bytes) -> bool:
    head = bytes(mp3_bytes[:4096])
    return (b"Info" in head or b"Xing" in head) and b"LAME" in head


def decode_dominant_frequencies(mp3_bytes: bytes, *, candidates: Optional[Sequence[float]] = None,
                                skip_samples: Optional[int] = None, window_s: float = 0.5,
                                silence_rms: float = 300.0) -> list[float]:
    """One frequency per second of the recording: the candidate tone (by default every tone
    of both parties) with the most energy in the middle `window_s` of that second, or 0.0
    for a silent second. Seconds with at least half a second of audio are reported.

    `skip_samples` is the decoder output to drop before call audio starts; by default 0
    for a file with a LAME tag (dr_mp3 trims the delay itself), else LAME's 1105."""
    if skip_samples is None:
        skip_samples = 0 if _has_lame_tag(mp3_bytes) else LAME_DELAY_SAMPLES
    samples, rate = decode_pcm(mp3_bytes)
    tones = list(candidates) if candidates is not None else all_tone_frequencies()
    available = len(samples) - skip_samples
    seconds = int(available / rate + 0.5) if available > 0 else 0
    half = int(window_s * rate / 2)
    result: list[float] = []
    for k in range(seconds):
        centre = skip_samples + k * rate + rate // 2
        window = samples[max(0, centre - half):min(len(samples), centre + half)]
        if not window or math.sqrt(sum(x * x for x in window) / len(window)) < silence_rms:
            result.append(0.0)
            continue
        best = max(tones, key=lambda f: _goertzel_power(window, f, rate))
        result.append(float(best))
    return result
