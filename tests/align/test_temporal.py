"""Temporal aligner on tiny hand-built similarity matrices with obvious answers."""

from __future__ import annotations

import numpy as np
import pytest

from search.align.temporal import AlignConfig, align, local_alignment, normalize_similarity


def _noise(nq: int, nr: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.05, 0.15, size=(nq, nr)).astype(np.float32)


def _times(n: int, fps: float = 1.0) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / fps


def _put_diagonal(sim: np.ndarray, q0: int, r0: int, length: int, slope: float = 1.0, value: float = 0.8) -> None:
    for k in range(length):
        sim[q0 + k, r0 + int(round(k * slope))] = value


def test_excerpt_inside_unrelated_footage_gives_one_segment_with_its_bounds() -> None:
    sim = _noise(40, 60)
    _put_diagonal(sim, 10, 25, 15)  # query seconds 10-25 show reference seconds 25-40
    segments = align(sim, _times(40), _times(60))
    assert len(segments) == 1
    seg = segments[0]
    assert abs(seg.source_start_s - 9.5) <= 0.6 and abs(seg.source_end_s - 24.5) <= 0.6
    assert abs(seg.target_start_s - 24.5) <= 0.6 and abs(seg.target_end_s - 39.5) <= 0.6
    assert 0.5 < seg.score <= 1.0


def test_two_excerpts_in_another_order_give_two_segments() -> None:
    sim = _noise(30, 60, seed=1)
    _put_diagonal(sim, 0, 40, 12)  # query 0-12 -> reference 40-52
    _put_diagonal(sim, 15, 5, 12)  # query 15-27 -> reference 5-17
    segments = sorted(align(sim, _times(30), _times(60)), key=lambda s: s.source_start_s)
    assert len(segments) == 2
    assert abs(segments[0].target_start_s - 39.5) <= 0.6 and abs(segments[1].target_start_s - 4.5) <= 0.6
    assert abs(segments[1].source_start_s - 14.5) <= 0.6


@pytest.mark.parametrize("speed", [0.9, 1.1])
def test_speed_change_is_one_segment_with_the_right_slope(speed: float) -> None:
    sim = _noise(30, 60, seed=2)
    _put_diagonal(sim, 2, 10, 25, slope=speed)
    segments = align(sim, _times(30), _times(60))
    assert len(segments) == 1
    seg = segments[0]
    ratio = (seg.target_end_s - seg.target_start_s) / (seg.source_end_s - seg.source_start_s)
    assert abs(ratio - speed) < 0.05
    assert seg.source_end_s - seg.source_start_s > 22


def test_unrelated_matrix_gives_no_segment() -> None:
    assert align(_noise(30, 50, seed=3), _times(30), _times(50)) == []


def test_black_frames_matching_each_other_are_suppressed_by_the_background() -> None:
    sim = _noise(20, 20, seed=4)
    _put_diagonal(sim, 0, 0, 20, value=0.98)  # both videos are black from start to end
    background = np.full(20, 0.97, np.float32)
    assert align(sim, _times(20), _times(20), query_background=background, reference_background=background) == []
    assert len(align(sim, _times(20), _times(20))) == 1  # the same matrix without background statistics


def test_normalize_uses_the_larger_background() -> None:
    sim = np.full((2, 3), 0.5, np.float32)
    out = normalize_similarity(sim, np.array([0.1, 0.4], np.float32), np.array([0.0, 0.2, 0.3], np.float32))
    np.testing.assert_allclose(out, [[0.4, 0.3, 0.2], [0.1, 0.1, 0.1]], atol=1e-6)


def test_local_alignment_matches_a_plain_reference() -> None:
    gain = np.random.default_rng(5).uniform(-1, 1, size=(9, 11)).astype(np.float32)
    scores, _ = local_alignment(gain, 0.2)
    expected = np.zeros_like(gain)
    for i in range(9):
        for j in range(11):
            preds = [0.0]
            if i >= 1 and j >= 1:
                preds.append(expected[i - 1, j - 1])
            if i >= 1 and j >= 2:
                preds.append(expected[i - 1, j - 2] - 0.2)
            if i >= 2 and j >= 1:
                preds.append(expected[i - 2, j - 1] - 0.2)
            expected[i, j] = max(0.0, max(preds) + gain[i, j])
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_short_blips_are_not_segments() -> None:
    sim = _noise(30, 30, seed=6)
    sim[5, 17] = 0.9  # one coincidental frame pair
    assert align(sim, _times(30), _times(30), AlignConfig(min_frames=3)) == []


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected sim of shape"):
        align(np.zeros((3, 4), np.float32), _times(3), _times(5))
