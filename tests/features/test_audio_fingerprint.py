"""Landmark fingerprints: density, silence, determinism, hash layout."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.audio_transforms import mix_at_snr, music_like, pink_noise
from indexer.decode.audio import AudioSignal
from indexer.features.audio_fingerprint import FingerprintConfig, find_peaks, fingerprint, hash_landmarks, landmarks

RATE = 8000


def _signal(samples: np.ndarray) -> AudioSignal:
    return AudioSignal(samples=samples.astype(np.float32), sample_rate=RATE)


@pytest.fixture(scope="module")
def melody() -> AudioSignal:
    return _signal(music_like(30.0, RATE, seed=3))


def test_peak_density_is_capped(melody: AudioSignal) -> None:
    config = FingerprintConfig()
    times, pitches = find_peaks(melody, config)
    per_block = np.bincount(times // round(1.0 / config.frame_s))  # density blocks of about 1 s
    assert per_block.max() <= config.peaks_per_s
    assert times.shape[0] > 10 * 30  # music gives plenty of peaks
    assert np.all(np.diff(times) >= 0)
    bin_hz = config.sample_rate / config.n_fft
    assert 12 * np.log2((config.f_min_hz - 2 * bin_hz) / 100) <= pitches.min()
    assert pitches.max() <= 12 * np.log2((config.f_max_hz + 2 * bin_hz) / 100)


def _surviving_share(clean: AudioSignal, noisy: AudioSignal, config: FingerprintConfig) -> float:
    """Share of the clean signal's peaks found again (same frame +-1, pitch +-0.5 st) in the noisy one's."""
    t0, p0 = find_peaks(clean, config)
    t1, p1 = find_peaks(noisy, config)
    found = [np.any((np.abs(t1 - t) <= 1) & (np.abs(p1 - p) <= 0.5)) for t, p in zip(t0, p0)]
    return float(np.mean(found))


def test_loudness_ranked_peaks_survive_noise_better_than_contrast_ranked(melody: AudioSignal) -> None:
    noisy = _signal(mix_at_snr(melody.samples, pink_noise(melody.samples.shape[0], seed=4), 5.0))
    loudness = _surviving_share(melody, noisy, FingerprintConfig())  # hpf_weight 0, the default
    contrast = _surviving_share(melody, noisy, FingerprintConfig(hpf_weight=1.0))
    assert loudness > contrast + 0.1
    assert loudness > 0.5


def test_fingerprint_is_deterministic_and_sorted(melody: AudioSignal) -> None:
    a, b = fingerprint(melody), fingerprint(melody)
    assert np.array_equal(a.hashes, b.hashes) and np.array_equal(a.times, b.times)
    assert np.all(np.diff(a.times.astype(np.int64)) >= 0)
    assert a.hashes.dtype == np.uint32 and a.times.dtype == np.uint32
    assert 50 < len(a) / melody.duration_s < 200
    assert a.frame_s == pytest.approx(0.016)


@pytest.mark.parametrize("level", [0.0, 1e-5, 3e-4])
def test_silence_and_near_silence_give_no_hashes(level: float) -> None:
    rng = np.random.default_rng(0)
    quiet = _signal(rng.standard_normal(10 * RATE) * level)
    assert len(fingerprint(quiet)) == 0


def test_silence_inside_music_gives_no_hashes(melody: AudioSignal) -> None:
    samples = melody.samples.copy()
    samples[10 * RATE : 20 * RATE] = 0.0
    fp = fingerprint(_signal(samples))
    t_s = fp.times * fp.frame_s
    assert np.count_nonzero((t_s > 11.5) & (t_s < 18.5)) == 0
    assert np.count_nonzero(t_s < 9) > 100


def test_shorter_than_one_frame() -> None:
    assert len(fingerprint(_signal(np.zeros(100)))) == 0


def test_chunked_analysis_matches_one_block(melody: AudioSignal) -> None:
    whole = fingerprint(melody, FingerprintConfig(chunk_s=60.0))
    chunked = fingerprint(melody, FingerprintConfig(chunk_s=7.0))
    assert np.array_equal(whole.hashes, chunked.hashes) and np.array_equal(whole.times, chunked.times)


def test_pitch_hypothesis_undoes_a_pitch_shift(melody: AudioSignal) -> None:
    config = FingerprintConfig()
    marks = landmarks(melody, config)
    shifted = dataclasses.replace(marks, pitch1_st=marks.pitch1_st + 0.7)
    plain = hash_landmarks(marks, config)
    assert np.mean(hash_landmarks(shifted, config).hashes == plain.hashes) < 0.3
    assert np.array_equal(hash_landmarks(shifted, config, pitch_shift_st=0.7).hashes, plain.hashes)


def test_hash_fields_fit_32_bits() -> None:
    assert FingerprintConfig().hash_bits() <= 32
    with pytest.raises(ValueError):
        FingerprintConfig(q_anchor_st=0.001, q_interval_st=0.001)
