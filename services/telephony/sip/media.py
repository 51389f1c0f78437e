"""What rtpengine recorded, turned into call audio: its pcap segments (raw RTP, one file
per `start recording`) decoded from G.711 and mixed, both directions, into one 16-bit
timeline per segment.

rtpengine writes every packet it received on the call's streams, so a recorded leg holds
what the far party said and what Callsuite's side sent it (the bridged agent, a played
file). Packets are placed by their RTP timestamps, re-anchored to the capture clock when
a sender's timestamps and the wall clock part by more than `_REANCHOR_S` (a source that
went quiet and came back), so jitter does not smear the audio and a silence stays a
silence. Pure Python on purpose: a call-minute decodes in a fraction of a second.
"""
from __future__ import annotations

import array
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

RATE = 8000  # G.711
_REANCHOR_S = 0.1
_LINK_ETHERNET, _LINK_RAW, _LINK_IPV4 = 1, 101, 228
PCMU, PCMA = 0, 8


def _ulaw(byte: int) -> int:
    byte = ~byte & 0xFF
    magnitude = ((byte & 0x0F) << 3) + 0x84
    magnitude <<= (byte & 0x70) >> 4
    return (0x84 - magnitude) if byte & 0x80 else (magnitude - 0x84)


def _alaw(byte: int) -> int:
    byte ^= 0x55
    magnitude = (byte & 0x0F) << 4
    segment = (byte & 0x70) >> 4
    if segment == 0:
        magnitude += 8
    elif segment == 1:
        magnitude += 0x108
    else:
        magnitude = (magnitude + 0x108) << (segment - 1)
    return magnitude if byte & 0x80 else -magnitude


_TABLES = {PCMU: [_ulaw(b) for b in range(256)], PCMA: [_alaw(b) for b in range(256)]}


@dataclass(frozen=True)
class RtpPacket:
    at: float  # capture time, epoch seconds
    stream: tuple  # (source address, source port, SSRC): one direction of one leg
    payload_type: int
    timestamp: int
    payload: bytes


def read_pcap(path: Path) -> Iterator[RtpPacket]:
    """The RTP packets of a pcap file rtpengine wrote (raw IP or Ethernet framing)."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path} is not a pcap file")
    divisor = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
    link = struct.unpack(endian + "I", data[20:24])[0]
    at = 24
    while at + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack(endian + "IIII", data[at:at + 16])
        at += 16
        frame = data[at:at + captured]
        at += captured
        if len(frame) < captured:
            break  # cut short: the file was still being written
        packet = _rtp(frame, link, seconds + fraction / divisor)
        if packet is not None:
            yield packet


def _rtp(frame: bytes, link: int, at: float) -> Optional[RtpPacket]:
    if link == _LINK_ETHERNET:
        frame = frame[14:]
    elif link not in (_LINK_RAW, _LINK_IPV4):
        return None
    if not frame:
        return None
    version = frame[0] >> 4
    if version == 4:
        header = (frame[0] & 0x0F) * 4
        if frame[9] != 17:
            return None
        source = ".".join(str(b) for b in frame[12:16])
    elif version == 6:
        header = 40
        if frame[6] != 17:
            return None
        source = frame[8:24].hex()
    else:
        return None
    udp = frame[header:]
    if len(udp) < 8 + 12:
        return None
    source_port = struct.unpack(">H", udp[0:2])[0]
    rtp = udp[8:]
    if rtp[0] >> 6 != 2:
        return None
    csrc, extension, padding = rtp[0] & 0x0F, rtp[0] & 0x10, rtp[0] & 0x20
    payload_type = rtp[1] & 0x7F
    timestamp, ssrc = struct.unpack(">II", rtp[4:12])
    start = 12 + 4 * csrc
    if extension and len(rtp) >= start + 4:
        start += 4 + 4 * struct.unpack(">H", rtp[start + 2:start + 4])[0]
    end = len(rtp) - (rtp[-1] if padding and rtp else 0)
    return RtpPacket(at, (source, source_port, ssrc), payload_type, timestamp, bytes(rtp[start:end]))


@dataclass
class Segment:
    """One recorded span: its samples (8 kHz mono, 16-bit) and when it began (epoch s)."""
    started_at: float
    samples: array.array

    @property
    def duration_s(self) -> float:
        return len(self.samples) / RATE


def mix_segment(packets: Iterable[RtpPacket]) -> Optional[Segment]:
    """Every G.711 stream of one pcap segment decoded and summed on one timeline."""
    by_stream: dict[tuple, list[RtpPacket]] = {}
    for packet in packets:
        if packet.payload_type in _TABLES and packet.payload:
            by_stream.setdefault(packet.stream, []).append(packet)
    if not by_stream:
        return None
    start = min(p.at for stream in by_stream.values() for p in stream)
    placed: list[tuple[int, list[int]]] = []
    end = 0
    for stream in by_stream.values():
        stream.sort(key=lambda p: p.at)
        anchor_at = anchor_ts = None
        for packet in stream:
            if anchor_at is not None:
                predicted = anchor_at + ((packet.timestamp - anchor_ts) & 0xFFFFFFFF) / RATE
                if abs(predicted - packet.at) > _REANCHOR_S:
                    anchor_at = None
            if anchor_at is None:
                anchor_at, anchor_ts = packet.at, packet.timestamp
            offset = int(round((anchor_at - start) * RATE)) + ((packet.timestamp - anchor_ts) & 0xFFFFFFFF)
            table = _TABLES[packet.payload_type]
            placed.append((offset, [table[b] for b in packet.payload]))
            end = max(end, offset + len(packet.payload))
    mixed = [0] * end
    for offset, pcm in placed:
        for i, value in enumerate(pcm, offset):
            mixed[i] += value
    samples = array.array("h", (32767 if v > 32767 else -32768 if v < -32768 else v for v in mixed))
    return Segment(start, samples)


def upsample_pcm(samples: array.array) -> bytes:
    """8 kHz -> 16 kHz (the recording store's rate) by linear interpolation, as 16-bit
    little-endian PCM."""
    n = len(samples)
    out = array.array("h", bytes(4 * n))
    out[0::2] = samples
    if n:
        halves = array.array("h", ((a + b) >> 1 for a, b in zip(samples, samples[1:], strict=False)))
        halves.append(samples[-1])
        out[1::2] = halves
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()
