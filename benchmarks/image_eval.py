"""Scoring of image-benchmark predictions: pooled metrics per split, per transformation, thresholds.

Predictions map each query id to its top-k hits ``[(asset_id, score), ...]``.
A pair is positive when the asset is the query's original; each query with a
copy in the catalog contributes exactly one true pair to ``n_positives``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmarks import metrics

Predictions = dict[str, list[tuple[str, float]]]
TARGET_PRECISION = 0.99
HIGH_PRECISION = 0.999


def split_queries(manifest: dict[str, Any], split: str | None) -> list[dict[str, Any]]:
    """The manifest's queries of one split ("calibration", "test"), or all of them for None."""
    return [q for q in manifest["queries"] if split is None or q["split"] == split]


def pooled_pairs(queries: list[dict[str, Any]], predictions: Predictions) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores (n,), positives (n,) bool, n_positives) pooled over ``queries``."""
    scores, positives = [], []
    for query in queries:
        for asset_id, score in predictions[query["query_id"]]:
            scores.append(score)
            positives.append(asset_id == query["original"])
    n_positives = sum(1 for q in queries if q["original"] is not None)
    return np.asarray(scores, np.float64), np.asarray(positives, bool), n_positives


def summary(queries: list[dict[str, Any]], predictions: Predictions) -> dict[str, Any]:
    """µAP, recall at precision 0.99 (and its threshold), top-1 accuracy over ``queries``."""
    scores, positives, n_positives = pooled_pairs(queries, predictions)
    threshold, precision, recall = metrics.threshold_at_precision(scores, positives, n_positives, TARGET_PRECISION)
    with_copy = [q for q in queries if q["original"] is not None]
    top1 = sum(1 for q in with_copy if predictions[q["query_id"]] and predictions[q["query_id"]][0][0] == q["original"])
    return {
        "n_queries": len(queries),
        "n_queries_with_copy": n_positives,
        "n_predictions": int(scores.size),
        "micro_ap": metrics.micro_average_precision(scores, positives, n_positives),
        "recall_at_p99": recall,
        "threshold_at_p99": None if math.isinf(threshold) else threshold,
        "top1_accuracy": top1 / max(1, len(with_copy)),
    }


def calibrate(queries: list[dict[str, Any]], predictions: Predictions, decimals: int = 3) -> dict[str, float]:
    """``match`` at precision 0.99 and ``high`` at 0.999 on ``queries``, rounded up to ``decimals``.

    Rounding up keeps the measured precision on the calibration queries (it can
    only drop a positive sitting exactly at the threshold).
    """
    scores, positives, n_positives = pooled_pairs(queries, predictions)
    out = {}
    for name, target in (("match", TARGET_PRECISION), ("high", HIGH_PRECISION)):
        threshold, _, _ = metrics.threshold_at_precision(scores, positives, n_positives, target)
        if math.isinf(threshold):
            threshold = 1.0
        out[name] = min(1.0, math.ceil(threshold * 10**decimals) / 10**decimals)
    out["high"] = max(out["high"], out["match"])
    return out


def at_threshold(queries: list[dict[str, Any]], predictions: Predictions, threshold: float) -> dict[str, Any]:
    """Precision and recall of ``score >= threshold`` and the share of no-copy queries with a false match."""
    scores, positives, n_positives = pooled_pairs(queries, predictions)
    precision, recall = metrics.precision_recall_at(scores, positives, n_positives, threshold)
    no_copy = [q for q in queries if q["original"] is None]
    false_alarm = sum(1 for q in no_copy if any(s >= threshold for _, s in predictions[q["query_id"]]))
    return {"threshold": threshold, "precision": precision, "recall": recall,
            "no_copy_queries_with_a_match": false_alarm, "no_copy_queries": len(no_copy)}


def transform_label(steps: list[str]) -> str:
    return steps[0] if len(steps) == 1 else f"combination of {len(steps)}"


def per_transform(queries: list[dict[str, Any]], predictions: Predictions, threshold: float) -> dict[str, dict]:
    """For each transformation (combinations grouped by size): recall at ``threshold`` and top-1 accuracy."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for query in queries:
        if query["original"] is not None:
            groups.setdefault(transform_label(query["steps"]), []).append(query)
    out = {}
    for label, members in groups.items():
        found = top1 = 0
        for query in members:
            hits = predictions[query["query_id"]]
            found += any(a == query["original"] and s >= threshold for a, s in hits)
            top1 += bool(hits) and hits[0][0] == query["original"]
        out[label] = {"queries": len(members), "recall_at_threshold": found / len(members),
                      "top1_accuracy": top1 / len(members)}
    return out
