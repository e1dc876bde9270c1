"""benchmarks.metrics on tiny hand-built predictions whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.metrics import (
    micro_average_precision,
    precision_recall_at,
    precision_recall_curve,
    recall_at_precision,
    threshold_at_precision,
)


def test_perfect_ranking_has_map_one() -> None:
    assert micro_average_precision(np.array([0.9, 0.8, 0.1]), np.array([True, True, False]), 2) == 1.0


def test_map_by_hand() -> None:
    # Ranked: P(0.9) N(0.8) P(0.7) N(0.2); precision at the hits: 1/1 and 2/3; a third copy never found.
    scores = np.array([0.2, 0.7, 0.9, 0.8])
    positives = np.array([False, True, True, False])
    assert micro_average_precision(scores, positives, 3) == pytest.approx((1 + 2 / 3) / 3)


def test_missing_copies_lower_map() -> None:
    scores, positives = np.array([0.9]), np.array([True])
    assert micro_average_precision(scores, positives, 1) == 1.0
    assert micro_average_precision(scores, positives, 4) == 0.25


def test_ties_rank_negatives_first() -> None:
    # Same score: the pessimistic order puts the negative first, so the hit has precision 1/2.
    assert micro_average_precision(np.array([0.5, 0.5]), np.array([True, False]), 1) == 0.5


def test_no_positive_found_is_zero() -> None:
    assert micro_average_precision(np.array([0.9, 0.3]), np.array([False, False]), 2) == 0.0


def test_curve_has_one_point_per_distinct_score() -> None:
    curve = precision_recall_curve(np.array([0.9, 0.5, 0.5, 0.1]), np.array([True, True, False, True]), 3)
    np.testing.assert_allclose(curve.thresholds, [0.9, 0.5, 0.1])
    np.testing.assert_allclose(curve.precision, [1.0, 2 / 3, 3 / 4])
    np.testing.assert_allclose(curve.recall, [1 / 3, 2 / 3, 1.0])


def test_recall_at_precision_picks_best_recall_meeting_precision() -> None:
    # Ranked: P .95, P .9, N .8, P .7, P .6, N .5 with 5 true pairs in all.
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    positives = np.array([True, True, False, True, True, False])
    assert recall_at_precision(scores, positives, 5, 0.99) == pytest.approx(2 / 5)
    assert recall_at_precision(scores, positives, 5, 0.8) == pytest.approx(4 / 5)  # 4/5 precision at 0.6
    threshold, precision, recall = threshold_at_precision(scores, positives, 5, 0.8)
    assert (threshold, precision, recall) == (pytest.approx(0.6), pytest.approx(0.8), pytest.approx(0.8))


def test_unreachable_precision_matches_nothing() -> None:
    threshold, precision, recall = threshold_at_precision(np.array([0.9, 0.8]), np.array([False, True]), 1, 0.99)
    assert math.isinf(threshold) and precision == 1.0 and recall == 0.0


def test_precision_recall_at_threshold() -> None:
    scores = np.array([0.9, 0.8, 0.4, 0.3])
    positives = np.array([True, False, True, False])
    assert precision_recall_at(scores, positives, 3, 0.5) == (0.5, pytest.approx(1 / 3))
    assert precision_recall_at(scores, positives, 3, 0.95) == (1.0, 0.0)


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="one length"):
        micro_average_precision(np.array([0.1, 0.2]), np.array([True]), 1)
    with pytest.raises(ValueError, match="n_positives"):
        micro_average_precision(np.array([0.1, 0.2]), np.array([True, True]), 1)
    with pytest.raises(ValueError, match="n_positives > 0"):
        precision_recall_curve(np.array([0.1]), np.array([False]), 0)
