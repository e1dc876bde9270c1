"""Decoding audio (and soundtracks of videos) to mono float32 at the analysis rate."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.audio_transforms import encode, music_like
from indexer.decode.audio import AudioDecodeConfig, decode_audio
from indexer.errors import BadInputError, LimitExceededError, NotFoundError
from tests.av_media import video_bytes

RATE = 16000


@pytest.fixture(scope="module")
def melody() -> np.ndarray:
    return music_like(6.0, RATE, seed=11)


@pytest.mark.parametrize("codec,bitrate", [("libmp3lame", 32000), ("aac", 32000), ("libopus", 24000), ("pcm_s16le", None), ("flac", None)])
def test_codecs_decode_to_mono_at_analysis_rate(melody: np.ndarray, codec: str, bitrate: int | None) -> None:
    signal = decode_audio(encode(melody, RATE, codec, bitrate))
    assert signal.sample_rate == 8000
    assert signal.samples.dtype == np.float32 and signal.samples.ndim == 1
    assert signal.duration_s == pytest.approx(6.0, abs=0.15)
    assert 0.05 < float(np.sqrt(np.mean(signal.samples**2))) < 0.9


def test_wav_roundtrip_keeps_the_waveform(melody: np.ndarray) -> None:
    signal = decode_audio(encode(melody, RATE, "pcm_s16le"), AudioDecodeConfig(sample_rate=RATE))
    assert np.max(np.abs(signal.samples - melody)) < 1e-3


def test_path_input(tmp_path, melody: np.ndarray) -> None:
    path = tmp_path / "a.mp3"
    path.write_bytes(encode(melody, RATE, "libmp3lame", 64000))
    assert decode_audio(path).duration_s == pytest.approx(6.0, abs=0.15)
    with pytest.raises(NotFoundError):
        decode_audio(tmp_path / "missing.mp3")


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_soundtrack_of_a_video(melody: np.ndarray, container: str) -> None:
    signal = decode_audio(video_bytes(2.0, melody[: 2 * RATE], RATE, container))
    assert signal.duration_s == pytest.approx(2.0, abs=0.1)
    assert float(np.max(np.abs(signal.samples))) > 0.1


def test_video_without_audio_is_a_clear_error() -> None:
    with pytest.raises(BadInputError, match="no audio stream"):
        decode_audio(video_bytes(2.0))


@pytest.mark.parametrize("data", [b"", b"\x00" * 1000, bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8))])
def test_garbage_and_empty_bytes(data: bytes) -> None:
    with pytest.raises(BadInputError):
        decode_audio(data)


def test_truncated_header_is_bad_input(melody: np.ndarray) -> None:
    with pytest.raises(BadInputError):
        decode_audio(encode(melody, RATE, "pcm_s16le")[:30])


def test_duration_cap(melody: np.ndarray) -> None:
    with pytest.raises(LimitExceededError, match="at most 3 s"):
        decode_audio(encode(melody, RATE, "libmp3lame", 64000), AudioDecodeConfig(max_duration_s=3.0))
