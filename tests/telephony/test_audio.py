"""The synthetic call audio: real MP3 encoded by LAME, read back by mutagen and decoded."""
from __future__ import annotations

import io

import pytest
from mutagen.mp3 import MP3

from services.telephony.audio import (
    BITRATE_KBPS,
    SAMPLE_RATE,
    RecordingEncoder,
    all_tone_frequencies,
    decode_dominant_frequencies,
    encode_call_seconds,
    expected_frequency,
    expected_party,
    party_of_frequency,
)
from storage.recordings import is_mp3


def test_every_call_second_of_a_period_has_its_own_tone_and_party():
    tones = [expected_frequency(k) for k in range(80)]
    assert len(set(tones)) == 80  # 80 s before the pattern repeats
    assert expected_frequency(80) == expected_frequency(0)
    for k, tone in enumerate(tones):
        assert party_of_frequency(tone) == expected_party(k) == ("caller" if k % 2 == 0 else "agent")
        assert 300 <= tone <= 3400  # survives a telephone line
    assert sorted(tones) == all_tone_frequencies()


def test_decoded_seconds_name_the_call_seconds_that_were_encoded():
    mp3 = encode_call_seconds([(0, 3), (6, 10)])  # call-seconds 3, 4, 5 never encoded
    assert is_mp3(mp3[:10])
    assert decode_dominant_frequencies(mp3) == [float(expected_frequency(k)) for k in (0, 1, 2, 6, 7, 8, 9)]
    info = MP3(io.BytesIO(mp3)).info
    assert info.sample_rate == SAMPLE_RATE and info.channels == 1 and info.bitrate == BITRATE_KBPS * 1000
    assert info.length == pytest.approx(7.0, abs=0.001)


def test_a_file_without_the_info_tag_is_analysed_too():
    untagged = encode_call_seconds([(0, 4)])[144:]  # drop the tag frame: LAME's raw stream
    assert decode_dominant_frequencies(untagged) == [float(expected_frequency(k)) for k in range(4)]


def test_feeding_in_small_chunks_gives_the_same_file_as_one_go():
    whole = encode_call_seconds([(0, 4)])
    encoder = RecordingEncoder()
    placeholder = encoder.tag_placeholder()
    chunks = [encoder.feed_seconds(i / 10, (i + 1) / 10) for i in range(40)]
    tail = encoder.flush()
    tag = encoder.info_tag()
    assert len(tag) == len(placeholder) == 144  # one 32 kbit/s 16 kHz frame
    assert tag + b"".join(chunks) + tail == whole
    assert encoder.duration_s == pytest.approx(4.0)


def test_the_info_tag_gives_readers_the_exact_length():
    mp3 = encode_call_seconds([(0, 2.5), (4.0, 6.3)])  # 4.8 s: not a whole number of frames
    info = MP3(io.BytesIO(mp3)).info
    assert info.length == pytest.approx(4.8, abs=0.001)  # encoder delay and padding excluded
    assert info.encoder_info.startswith("LAME") and info.bitrate == 32000
    assert not info.sketchy


def test_a_recording_of_no_audio_is_an_mp3_of_no_length():
    """A call answered and hung up before any audio reached the recorder (a SIP call whose
    first RTP packet never came): its recording is still a playable, tagged file."""
    for skipped_to in (0.0, 2.0):  # nothing at all, or only a pause
        encoder = RecordingEncoder()
        encoder.skip_to(skipped_to)
        mp3 = encoder.tag_placeholder() + encoder.flush()
        mp3 = encoder.info_tag() + mp3[len(encoder.info_tag()):]
        assert is_mp3(mp3[:10]) and encoder.duration_s == 0
        info = MP3(io.BytesIO(mp3)).info
        assert info.length == 0 and not info.sketchy


def test_a_skipped_span_is_not_in_the_audio_and_time_only_moves_forward():
    encoder = RecordingEncoder()
    encoder.feed_seconds(0, 1.5)
    encoder.skip_to(2.5)
    with pytest.raises(ValueError):
        encoder.feed_seconds(2.0, 3.0)  # already skipped
    encoder.feed_seconds(2.5, 4.0)
    assert encoder.samples_fed == 3 * SAMPLE_RATE
    assert encoder.feed_seconds(4.0, 4.0) == b""
    encoder.flush()
    with pytest.raises(RuntimeError):
        encoder.feed_seconds(4.0, 5.0)
