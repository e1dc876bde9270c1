"""Temporal alignment: from a query x reference frame-similarity matrix to matched segments.

The reranker of video copy detection (VSC2022, ViSiL, temporal networks): a
copied stretch shows as a diagonal run of high similarities in the matrix,
with slope 1 at the original speed and a slope between 0.9 and 1.1 after a
speed change. Three steps:

1. Normalise: subtract from each frame pair the larger of the two frames'
   similarity to a background set (black, blank, flat and gradient frames),
   so that matches carried by black, blank or static frames score near zero,
   as copy-detection systems normalise against background statistics
   (squared, so content only a little like a blank frame, a sky or a
   gradient, keeps most of its similarity).
2. Local alignment (Smith-Waterman): the best-scoring monotone path of
   diagonal steps, with penalised steps that skip one query or one reference
   frame (slopes 1/2 and 2 locally, any average slope in between). Each row
   only depends on the two rows before it, so the dynamic programme runs one
   numpy row at a time.
3. Repeat: the query rows of a found path are masked and the next path is
   searched, so two excerpts of one source in another order give two segments
   and an excerpt inside unrelated footage gives one with its own bounds.

Times are turned into seconds by a line through the path: each row's
sub-frame best reference position, weighted by how peaked it is (rows inside
a still shot say little), speed 1 unless a fitted speed (clipped to the
allowed range) explains the path clearly better; this averages out the
sampling phase. Segment ends are extended by half a sampling step.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from search.envelope import Segment

LOG = logging.getLogger(__name__)

_START, _DIAG, _SKIP_REF, _SKIP_QUERY = 0, 1, 2, 3
_MASKED = -1e3


@dataclasses.dataclass(frozen=True)
class AlignConfig:
    """Parameters of the aligner; similarities are cosine similarities of L2-normalised embeddings."""

    match_threshold: float = 0.3  # normalised similarity at which a frame pair turns from cost to gain
    skip_penalty: float = 0.1  # cost of a step that skips one query or one reference frame
    min_frames: int = 3  # fewest frame pairs on a path that makes a segment
    min_path_score: float = 0.6  # least accumulated gain of a path that makes a segment
    max_segments: int = 8
    background_weight: float = 1.0  # share of the (powered) background similarity subtracted
    background_power: float = 2.0  # > 1 spares real content that is a little blank-like (gradients, skies)
    min_speed: float = 0.85  # slope range of the fitted line (reference seconds per query second)
    max_speed: float = 1.18
    slope_evidence: float = 0.7  # a fitted speed must cut the path's residuals to this share of speed 1's
    length_frames: float = 3.0  # score damping: short paths count 1 - exp(-n / length_frames)

    def __post_init__(self) -> None:
        if not 0.0 < self.min_speed <= 1.0 <= self.max_speed:
            raise ValueError(f"expected min_speed <= 1 <= max_speed, got {self.min_speed}, {self.max_speed}")
        if self.min_frames < 1 or self.max_segments < 1:
            raise ValueError(f"expected min_frames and max_segments >= 1, got {self.min_frames}, {self.max_segments}")


def normalize_similarity(
    sim: np.ndarray,
    query_background: np.ndarray | None = None,
    reference_background: np.ndarray | None = None,
    weight: float = 1.0,
    power: float = 1.0,
) -> np.ndarray:
    """``sim`` float32 (nq, nr) minus ``weight`` x max(query_background[i], reference_background[j]) ** ``power``.

    The backgrounds are each frame's highest similarity to a set of
    uninformative frames (float32 (nq,) and (nr,)); a missing one counts as 0.
    """
    sim = np.asarray(sim, dtype=np.float32)
    nq, nr = sim.shape
    bq = np.zeros(nq, np.float32) if query_background is None else np.asarray(query_background, np.float32)
    br = np.zeros(nr, np.float32) if reference_background is None else np.asarray(reference_background, np.float32)
    if bq.shape != (nq,) or br.shape != (nr,):
        raise ValueError(f"expected backgrounds of shapes ({nq},) and ({nr},), got {bq.shape} and {br.shape}")
    background = np.maximum(np.clip(bq, 0, 1)[:, None], np.clip(br, 0, 1)[None, :])
    return sim - weight * background**power


def local_alignment(gain: np.ndarray, skip_penalty: float) -> tuple[np.ndarray, np.ndarray]:
    """Smith-Waterman over ``gain`` float32 (nq, nr): scores H (nq, nr) float32 and moves (nq, nr) int8.

    H[i, j] is the best score of a path ending at (i, j) whose steps are
    (1, 1), (1, 2) or (2, 1), the last two costing ``skip_penalty``.
    """
    nq, nr = gain.shape
    scores = np.zeros((nq, nr), np.float32)
    moves = np.zeros((nq, nr), np.int8)
    neg = np.full(nr, -np.inf, np.float32)
    for i in range(nq):
        diag, skip_ref, skip_query = neg.copy(), neg.copy(), neg.copy()
        if i >= 1:
            diag[1:] = scores[i - 1, :-1]
            skip_ref[2:] = scores[i - 1, :-2] - skip_penalty
        if i >= 2:
            skip_query[1:] = scores[i - 2, :-1] - skip_penalty
        best = np.maximum(np.maximum(diag, skip_ref), skip_query)
        move = np.where(diag >= best, _DIAG, np.where(skip_ref >= best, _SKIP_REF, _SKIP_QUERY)).astype(np.int8)
        start = best <= 0
        best = np.where(start, 0.0, best)
        row = np.maximum(best + gain[i], 0.0)
        scores[i] = row
        moves[i] = np.where(start | (row <= 0), _START, move)
    return scores, moves


def _trace(moves: np.ndarray, end: tuple[int, int]) -> list[tuple[int, int]]:
    i, j = end
    path = [(i, j)]
    while True:
        move = moves[i, j]
        if move == _START:
            break
        if move == _DIAG:
            i, j = i - 1, j - 1
        elif move == _SKIP_REF:
            i, j = i - 1, j - 2
        else:
            i, j = i - 2, j - 1
        path.append((i, j))
    path.reverse()
    return path


def _step(times: np.ndarray) -> float:
    return float(np.median(np.diff(times))) if len(times) > 1 else 1.0


def _refined_columns(path: list[tuple[int, int]], norm: np.ndarray, radius: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Sub-frame reference position per path row and how much that row can be trusted.

    The position is the best column near the path, parabola-interpolated: the
    path prefers diagonal steps (skips cost a penalty), so on slow pans it
    drifts from the true slope; the local maxima do not. The weight is the
    peak's contrast with the columns 2-4 frames away: a row inside a still
    shot matches the whole shot alike and says nothing about the offset.
    """
    nr = norm.shape[1]
    positions = np.empty(len(path), np.float64)
    weights = np.empty(len(path), np.float64)
    for k, (i, j) in enumerate(path):
        lo, hi = max(0, j - radius), min(nr, j + radius + 1)
        best = lo + int(np.argmax(norm[i, lo:hi]))
        position = float(best)
        if 0 < best < nr - 1:
            left, mid, right = norm[i, best - 1], norm[i, best], norm[i, best + 1]
            curvature = left - 2 * mid + right
            if curvature < 0:
                position += float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
        positions[k] = position
        far = [norm[i, c] for c in (*range(best - 4, best - 1), *range(best + 2, best + 5)) if 0 <= c < nr]
        weights[k] = max(float(norm[i, best] - np.mean(far)), 0.0) if far else 0.0
    return positions, weights + 1e-3


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _fit_line(tq: np.ndarray, tr: np.ndarray, weights: np.ndarray, config: AlignConfig) -> tuple[float, float]:
    """Slope and offset of reference time against query time.

    Speed 1 unless a fitted slope explains the path clearly better (weighted
    residuals down by ``config.slope_evidence``): a quasi-static stretch at one
    end of a path otherwise bends the line and moves the far boundary.
    """
    offset_1 = _weighted_median(tr - tq, weights)
    if len(tq) < 4 or np.ptp(tq) <= 0:
        return 1.0, offset_1
    slope = float(np.polyfit(tq, tr, 1, w=np.sqrt(weights))[0])
    slope = float(np.clip(slope, config.min_speed, config.max_speed))
    offset = _weighted_median(tr - slope * tq, weights)
    residual_1 = np.average(np.abs(tr - tq - offset_1), weights=weights)
    residual = np.average(np.abs(tr - slope * tq - offset), weights=weights)
    if residual < config.slope_evidence * residual_1:
        return slope, offset
    return 1.0, offset_1


def _segment_from_path(
    path: list[tuple[int, int]],
    norm: np.ndarray,
    query_times_s: np.ndarray,
    reference_times_s: np.ndarray,
    query_duration_s: float,
    reference_duration_s: float,
    config: AlignConfig,
) -> Segment:
    rows = np.array([p[0] for p in path])
    cols = np.array([p[1] for p in path])
    tq = query_times_s[rows]
    positions, weights = _refined_columns(path, norm)
    tr = np.interp(positions, np.arange(len(reference_times_s)), reference_times_s)
    slope, offset = _fit_line(tq, tr, weights, config)
    half_q = _step(query_times_s) / 2
    # A path reaching the first or last sampled frame runs to that end of the video.
    source_start = 0.0 if rows[0] == 0 else max(0.0, float(tq[0]) - half_q)
    source_end = query_duration_s if rows[-1] == len(query_times_s) - 1 else float(tq[-1]) + half_q
    source_end = min(query_duration_s, source_end)
    target_start = float(np.clip(slope * source_start + offset, 0.0, reference_duration_s))
    target_end = float(np.clip(slope * source_end + offset, target_start, reference_duration_s))
    similarity = float(np.clip(norm[rows, cols], 0.0, 1.0).mean())
    damping = 1.0 - float(np.exp(-len(path) / config.length_frames))
    return Segment(source_start, source_end, target_start, target_end, similarity * damping)


def align(
    sim: np.ndarray,
    query_times_s: np.ndarray,
    reference_times_s: np.ndarray,
    config: AlignConfig = AlignConfig(),
    query_background: np.ndarray | None = None,
    reference_background: np.ndarray | None = None,
    query_duration_s: float | None = None,
    reference_duration_s: float | None = None,
) -> list[Segment]:
    """Matched segments between a query and a reference, best first.

    ``sim`` float32 (nq, nr): cosine similarity of query frame i (shown at
    ``query_times_s[i]`` s, float64 (nq,)) and reference frame j (at
    ``reference_times_s[j]`` s, (nr,)). Backgrounds as in
    ``normalize_similarity``. Each segment's score in [0, 1] is the mean
    normalised similarity along its path, damped for very short paths.
    """
    sim = np.asarray(sim, dtype=np.float32)
    query_times_s = np.asarray(query_times_s, dtype=np.float64)
    reference_times_s = np.asarray(reference_times_s, dtype=np.float64)
    if sim.ndim != 2 or sim.shape != (len(query_times_s), len(reference_times_s)):
        raise ValueError(f"expected sim of shape ({len(query_times_s)}, {len(reference_times_s)}), got {sim.shape}")
    if sim.size == 0:
        return []
    if query_duration_s is None:
        query_duration_s = float(query_times_s[-1]) + _step(query_times_s)
    if reference_duration_s is None:
        reference_duration_s = float(reference_times_s[-1]) + _step(reference_times_s)
    norm = normalize_similarity(sim, query_background, reference_background, config.background_weight,
                                config.background_power)
    gain = norm - config.match_threshold
    segments: list[Segment] = []
    for _ in range(config.max_segments):
        scores, moves = local_alignment(gain, config.skip_penalty)
        end = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if scores[end] < config.min_path_score:
            break
        path = _trace(moves, (int(end[0]), int(end[1])))
        rows = sorted({p[0] for p in path})
        gain[rows[0] : rows[-1] + 1] = _MASKED  # each query second maps to one place at most
        if len(path) < config.min_frames:
            continue
        segment = _segment_from_path(
            path, norm, query_times_s, reference_times_s, query_duration_s, reference_duration_s, config
        )
        LOG.debug("segment %s from a path of %d frames scoring %.2f", segment, len(path), scores[end])
        segments.append(segment)
    segments.sort(key=lambda s: s.score, reverse=True)
    return segments
