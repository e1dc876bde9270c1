"""Retrieval metrics over pooled (query, catalog item) predictions, as in DISC2021.

Every benchmark hands in one row per prediction: its score and whether it is
a true copy. Predictions of all queries are pooled and ranked by score, so one
global threshold is judged, the way a deployment applies one. Queries with no
copy in the catalog add only negatives; ``n_positives`` counts every true pair
that exists (found or not), so a copy that never made the top-k lowers recall.

Ties in score are ranked negatives first (the pessimistic order), so no
result depends on the sort's whim.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class PrecisionRecall:
    """Precision and recall of ``score >= threshold``, one entry per distinct score, descending."""

    thresholds: np.ndarray  # (m,) float64, descending
    precision: np.ndarray  # (m,) float64
    recall: np.ndarray  # (m,) float64


def _ranked(scores: np.ndarray, positives: np.ndarray, n_positives: int) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positives = np.asarray(positives, dtype=bool).ravel()
    if scores.shape != positives.shape:
        raise ValueError(f"expected scores and positives of one length, got {scores.shape} and {positives.shape}")
    if n_positives < int(positives.sum()):
        raise ValueError(f"expected n_positives >= the {int(positives.sum())} positive predictions, got {n_positives}")
    order = np.lexsort((positives, -scores))  # by score descending, negatives before positives on ties
    return scores[order], positives[order]


def micro_average_precision(scores: np.ndarray, positives: np.ndarray, n_positives: int) -> float:
    """µAP: area under the pooled precision-recall curve.

    scores: (n,) similarity of each prediction; positives: (n,) bool, True when
    the prediction is a true copy; n_positives: number of true pairs in the
    ground truth. Returns sum over ranks i of precision@i * positive_i / n_positives.
    """
    if n_positives <= 0:
        raise ValueError(f"expected n_positives > 0, got {n_positives}")
    _, ranked = _ranked(scores, positives, n_positives)
    if not ranked.any():
        return 0.0
    hits = np.cumsum(ranked)
    precision_at_hit = hits[ranked] / (np.flatnonzero(ranked) + 1)
    return float(precision_at_hit.sum() / n_positives)


def precision_recall_curve(scores: np.ndarray, positives: np.ndarray, n_positives: int) -> PrecisionRecall:
    """Precision and recall of the rule ``score >= t`` for each distinct score t (descending)."""
    if n_positives <= 0:
        raise ValueError(f"expected n_positives > 0, got {n_positives}")
    ranked_scores, ranked = _ranked(scores, positives, n_positives)
    if ranked_scores.size == 0:
        empty = np.zeros(0)
        return PrecisionRecall(empty, empty, empty)
    hits = np.cumsum(ranked)
    # The last index of each run of equal scores: everything up to it passes score >= that score.
    last_of_run = np.flatnonzero(np.append(ranked_scores[1:] != ranked_scores[:-1], True))
    kept = last_of_run + 1
    return PrecisionRecall(
        thresholds=ranked_scores[last_of_run],
        precision=hits[last_of_run] / kept,
        recall=hits[last_of_run] / n_positives,
    )


def threshold_at_precision(
    scores: np.ndarray, positives: np.ndarray, n_positives: int, min_precision: float
) -> tuple[float, float, float]:
    """The lowest threshold whose precision is >= ``min_precision``, with its precision and recall.

    Returns (threshold, precision, recall). When no threshold reaches the
    precision, returns (inf, 1.0, 0.0): match nothing.
    """
    curve = precision_recall_curve(scores, positives, n_positives)
    ok = np.flatnonzero(curve.precision >= min_precision)
    if ok.size == 0:
        return float("inf"), 1.0, 0.0
    best = ok[np.argmax(curve.recall[ok])]  # highest recall; for equal recall the earliest (highest) threshold
    return float(curve.thresholds[best]), float(curve.precision[best]), float(curve.recall[best])


def recall_at_precision(scores: np.ndarray, positives: np.ndarray, n_positives: int, min_precision: float) -> float:
    """Highest recall of any threshold whose pooled precision is >= ``min_precision``."""
    return threshold_at_precision(scores, positives, n_positives, min_precision)[2]


def precision_recall_at(
    scores: np.ndarray, positives: np.ndarray, n_positives: int, threshold: float
) -> tuple[float, float]:
    """(precision, recall) of the rule ``score >= threshold``; precision is 1.0 when nothing passes."""
    if n_positives <= 0:
        raise ValueError(f"expected n_positives > 0, got {n_positives}")
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positives = np.asarray(positives, dtype=bool).ravel()
    passed = scores >= threshold
    true_hits = int((passed & positives).sum())
    n_passed = int(passed.sum())
    return (true_hits / n_passed if n_passed else 1.0), true_hits / n_positives
