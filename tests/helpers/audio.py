"""Real MP3 bytes for tests, encoded with lameenc from a generated tone."""
from __future__ import annotations

import math
import struct

import lameenc


def tone_mp3(seconds: float = 2.0, frequency: float = 440.0, sample_rate: int = 16000) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    samples = int(seconds * sample_rate)
    pcm = struct.pack(f"<{samples}h", *(int(12000 * math.sin(2 * math.pi * frequency * i / sample_rate))
                                        for i in range(samples)))
    return bytes(encoder.encode(pcm) + encoder.flush())
