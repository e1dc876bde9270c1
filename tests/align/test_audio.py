"""Pairwise audio alignment on decoded audio: codecs, resampling, noise, voice-over, speed, embedding."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.audio_transforms import encode, mix_at_snr, music_like, pink_noise, speed
from indexer.decode.audio import decode_audio
from indexer.features.audio_fingerprint import Fingerprint, fingerprint
from search.align.audio import align_fingerprints, align_landmarks, query_landmarks, score_of
from search.envelope import Segment
from search.thresholds import AUDIO

RATE = 16000


def _voice(duration_s: float, seed: int) -> np.ndarray:
    """A voice-like signal: a gliding glottal pitch shaped by changing vowel formants, in syllables."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * RATE)
    t = np.arange(n) / RATE
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t) + 10 * rng.standard_normal() 
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    out = np.zeros(n)
    syllable = int(0.25 * RATE)
    for start in range(0, n, syllable):
        f1, f2 = rng.uniform(300, 900), rng.uniform(900, 2500)
        seg = slice(start, min(n, start + syllable))
        for h in range(1, 30):
            fh = f0[seg] * h
            gain = np.exp(-(((fh - f1) / 150) ** 2)) + 0.6 * np.exp(-(((fh - f2) / 200) ** 2)) + 0.02
            out[seg] += gain * np.sin(h * phase[seg])
        out[seg] *= np.hanning(seg.stop - seg.start) * (rng.random() > 0.2)
    return (out / np.max(np.abs(out)) * 0.8).astype(np.float32)


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return music_like(60.0, RATE, seed=1)


@pytest.fixture(scope="module")
def reference_fp(reference: np.ndarray) -> Fingerprint:
    return fingerprint(decode_audio(encode(reference, RATE, "pcm_s16le")))


def _match(query: bytes | np.ndarray, reference_fp: Fingerprint) -> list[Segment]:
    data = query if isinstance(query, bytes) else encode(query, RATE, "pcm_s16le")
    segments = align_landmarks(query_landmarks(decode_audio(data)), reference_fp)
    return [s for s in segments if s.score >= AUDIO.match]


def _assert_aligned(segment: Segment, source: tuple[float, float], target_start: float, tol_s: float = 0.25,
                    coverage: float = 0.7) -> None:
    # The offset must be right; the matched stretch must cover most of the expected one.
    assert segment.target_start_s - segment.source_start_s == pytest.approx(target_start - source[0], abs=tol_s)
    overlap = min(segment.source_end_s, source[1]) - max(segment.source_start_s, source[0])
    assert overlap >= coverage * (source[1] - source[0])


def test_mp3_32k_excerpt_found_with_offsets(reference: np.ndarray, reference_fp: Fingerprint) -> None:
    segments = _match(encode(reference[20 * RATE : 30 * RATE], RATE, "libmp3lame", 32000), reference_fp)
    assert len(segments) >= 1
    _assert_aligned(segments[0], (0.0, 10.0), 20.0)
    assert segments[0].score >= AUDIO.high


def test_8khz_resample(reference: np.ndarray, reference_fp: Fingerprint) -> None:
    segments = _match(encode(reference[5 * RATE : 12 * RATE], RATE, "pcm_s16le", out_rate=8000), reference_fp)
    _assert_aligned(segments[0], (0.0, 7.0), 5.0)


@pytest.mark.parametrize("snr_db", [10.0, 5.0, 0.0])
def test_noise(reference: np.ndarray, reference_fp: Fingerprint, snr_db: float) -> None:
    excerpt = reference[30 * RATE : 40 * RATE]
    segments = _match(mix_at_snr(excerpt, pink_noise(excerpt.shape[0], seed=2), snr_db), reference_fp)
    assert segments, "no segment above the threshold"
    # Under noise few landmarks survive: a segment spans the surviving hits only.
    _assert_aligned(segments[0], (0.0, 10.0), 30.0, coverage=0.4)


def test_voice_over_mix(reference: np.ndarray, reference_fp: Fingerprint) -> None:
    excerpt = reference[10 * RATE : 20 * RATE]
    segments = _match(mix_at_snr(excerpt, _voice(10.0, seed=4), 0.0), reference_fp)
    _assert_aligned(segments[0], (0.0, 10.0), 10.0)


@pytest.mark.parametrize("factor", [0.97, 1.03])
def test_speed_change(reference: np.ndarray, reference_fp: Fingerprint, factor: float) -> None:
    changed = speed(reference[20 * RATE : 32 * RATE], RATE, factor)
    segments = _match(changed, reference_fp)
    assert segments, "no segment above the threshold"
    seg = segments[0]
    assert seg.target_start_s - seg.source_start_s * factor == pytest.approx(20.0, abs=0.3)
    assert (seg.target_end_s - seg.target_start_s) / (seg.source_end_s - seg.source_start_s) == pytest.approx(factor, abs=0.01)


def test_excerpts_embedded_in_other_audio(reference: np.ndarray, reference_fp: Fingerprint) -> None:
    other = music_like(20.0, RATE, seed=2)
    query = np.concatenate([other[: 5 * RATE], reference[15 * RATE : 25 * RATE], other[5 * RATE : 10 * RATE],
                            reference[40 * RATE : 46 * RATE]])
    segments = sorted(_match(encode(query, RATE, "aac", 48000), reference_fp), key=lambda s: s.source_start_s)
    assert len(segments) == 2
    _assert_aligned(segments[0], (5.0, 15.0), 15.0)
    _assert_aligned(segments[1], (20.0, 26.0), 40.0)


def test_negative_excerpt_returns_nothing(reference_fp: Fingerprint) -> None:
    for seed in (5, 6, 7):
        assert _match(music_like(10.0, RATE, seed=seed), reference_fp) == []
    assert _match(_voice(10.0, seed=8), reference_fp) == []


def test_silence_never_matches_silence() -> None:
    silence = decode_audio(encode(np.zeros(10 * RATE, np.float32), RATE, "pcm_s16le"))
    fp = fingerprint(silence)
    assert len(fp) == 0
    assert align_landmarks(query_landmarks(silence), fp) == []
    assert score_of([]) == 0.0


def test_identity_hypothesis_form(reference: np.ndarray, reference_fp: Fingerprint) -> None:
    query = fingerprint(decode_audio(encode(reference[40 * RATE : 50 * RATE], RATE, "pcm_s16le")))
    segments = align_fingerprints(query, reference_fp)
    _assert_aligned(segments[0], (0.0, 10.0), 40.0, tol_s=0.05)


def test_weaker_segments_on_an_explained_query_stretch_are_dropped_but_exact_repeats_stay() -> None:
    from search.align.audio import suppress_weaker_repeats
    from search.envelope import Segment

    best = Segment(0.0, 10.0, 30.0, 40.0, 1.0)
    loop_repeat = Segment(0.0, 10.0, 130.0, 140.0, 0.97)  # the same audio again later in the reference
    similar_passage = Segment(1.0, 9.0, 80.0, 88.0, 0.6)  # same stretch of the query, much weaker
    second_use = Segment(12.0, 20.0, 50.0, 58.0, 0.5)  # another stretch of the query: kept whatever its score
    kept = suppress_weaker_repeats([best, loop_repeat, similar_passage, second_use], ratio=0.9)
    assert kept == [best, loop_repeat, second_use]
