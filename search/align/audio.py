"""Offset-histogram alignment of audio landmark hashes into scored segments.

A query is hashed under a small grid of hypotheses (pitch shift, time scale);
every hash hit gives a pair (query time, reference time). For the right
hypothesis the true hits lie on a line ``ref_t = scale * query_t + offset``:
a histogram of ``ref_t - scale * query_t`` finds the offset (audfprint's
method), a robust line fit absorbs what the grid leaves of a speed change,
and the inliers, split at gaps, become segments. Several segments come out
when the query reuses the reference more than once.

Scores: a segment whose line holds hits at ``n`` distinct query frames, ``b`` of them expected by chance,
scores ``1 - exp(-(n - b - 3 sqrt(b)) / score_scale)``, in [0, 1). The audio threshold in
``search.thresholds`` applies to it; an asset scores its best segment.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import NamedTuple

import numpy as np

from indexer.decode.audio import AudioSignal
from indexer.features.audio_fingerprint import Fingerprint, FingerprintConfig, Landmarks, hash_landmarks, landmarks
from search.envelope import Segment

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AlignConfig:
    # About -5, -2.5, 0, +2.5, +5 % in frequency (with -3, 0, +3 % a 0.95 pitch fell between hypotheses).
    pitch_shifts_st: tuple[float, ...] = (-0.9, -0.45, 0.0, 0.45, 0.9)
    time_scales: tuple[float, ...] = (0.97, 1.0, 1.03)
    bin_frames: int = 4  # offset histogram bin width
    slope_tolerance: float = 0.02  # offset drift allowed per frame of query before the line fit
    inlier_frames: float = 2.0  # distance to the fitted line that counts as a hit
    max_gap_s: float = 6.0  # a longer run without hits splits a segment
    min_hits: int = 4  # fewer inliers is never a segment
    max_segments: int = 8  # per (query, reference) pair
    # A segment that re-uses a stretch of the query a better segment already
    # explains is kept only at this share of that segment's score: an exact
    # repeat in the reference (a looped section) scores about the same, a
    # musically similar passage well below.
    repeat_score_ratio: float = 0.95
    # Hits above chance that make a score of 0.63. Loudness-ranked peaks and 128 ms windows
    # find many hits, and a small scale saturates every segment near 1, so looped or similar
    # passages cannot be told from the true offset. Segment precision on the development
    # queries: 0.59 at 8 (repeat ratio 0.9), 0.85 at 16, 0.94 at 32. Top-1 at a calibrated
    # threshold does not depend on it (results/audio_sweep.md).
    score_scale: float = 32.0
    max_candidates: int = 50  # assets aligned in full per query, by histogram peak
    # Queries are analysed denser than the catalog: more of the catalog's peak
    # pairs are then among the query's under noise or a voice-over.
    query_peaks_per_s: int = 48
    query_fan_out: int = 6

    def __post_init__(self) -> None:
        if not self.time_scales or not self.pitch_shifts_st:
            raise ValueError("expected at least one time scale and one pitch shift")
        if min(self.time_scales) <= 0:
            raise ValueError(f"expected positive time scales, got {self.time_scales}")
        if self.min_hits < 2:
            raise ValueError(f"expected min_hits >= 2, got {self.min_hits}")

    def hypotheses(self) -> list[tuple[float, float]]:
        return [(p, s) for p in self.pitch_shifts_st for s in self.time_scales]


class QueryHashes(NamedTuple):
    """A query hashed under every hypothesis: arrays (m,), one row per (landmark, hypothesis)."""

    hashes: np.ndarray  # uint32
    times: np.ndarray  # int64, query frames
    hypothesis: np.ndarray  # int32 index into ``scales``
    scales: np.ndarray  # float64 (h,), time scale of each hypothesis


class Hits(NamedTuple):
    """Hash hits of one query against one reference: arrays (k,)."""

    query_t: np.ndarray  # int64 frames
    ref_t: np.ndarray  # int64 frames
    hypothesis: np.ndarray  # int32
    hashes: np.ndarray  # uint32, the hash that produced the hit


def query_landmarks(
    signal: AudioSignal, fp_config: FingerprintConfig = FingerprintConfig(), config: AlignConfig = AlignConfig()
) -> Landmarks:
    """Landmarks of a query signal at the denser query settings of ``config``."""
    dense = dataclasses.replace(fp_config, peaks_per_s=config.query_peaks_per_s, fan_out=config.query_fan_out)
    return landmarks(signal, dense)


def query_hashes(
    marks: Landmarks, fp_config: FingerprintConfig = FingerprintConfig(), config: AlignConfig = AlignConfig()
) -> QueryHashes:
    """Hash query landmarks under every hypothesis of ``config`` (duplicates within one hypothesis dropped)."""
    hashes, times, hyp = [], [], []
    hypotheses = config.hypotheses()
    for index, (pitch, scale) in enumerate(hypotheses):
        fp = hash_landmarks(marks, fp_config, pitch_shift_st=pitch, time_scale=scale)
        packed = np.unique((fp.times.astype(np.uint64) << np.uint64(32)) | fp.hashes.astype(np.uint64))
        hashes.append((packed & np.uint64(0xFFFFFFFF)).astype(np.uint32))
        times.append((packed >> np.uint64(32)).astype(np.int64))
        hyp.append(np.full(packed.shape[0], index, np.int32))
    scales = np.array([s for _, s in hypotheses], dtype=np.float64)
    return QueryHashes(np.concatenate(hashes), np.concatenate(times), np.concatenate(hyp), scales)


def join_hashes(
    query: np.ndarray, ref_hashes: np.ndarray, ref_times: np.ndarray, cap: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Every (query row, reference time) with equal hashes; ``cap`` > 0 skips hashes with more postings.

    query uint32 (m,); ref_hashes uint32 (r,), ref_times (r,). Returns
    (query_index int64 (k,), ref_time int64 (k,)). Reference for the LMDB lookup.
    """
    order = np.argsort(ref_hashes, kind="stable")
    sorted_hashes = ref_hashes[order]
    lo = np.searchsorted(sorted_hashes, query, side="left")
    hi = np.searchsorted(sorted_hashes, query, side="right")
    counts = hi - lo
    if cap > 0:
        counts = np.where(counts > cap, 0, counts)
    query_index = np.repeat(np.arange(query.shape[0]), counts)
    starts = np.repeat(lo, counts)
    within = np.arange(query_index.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    ref_rows = order[starts + within]
    return query_index.astype(np.int64), ref_times[ref_rows].astype(np.int64)


def best_offset_count(hits: Hits, scales: np.ndarray, config: AlignConfig = AlignConfig()) -> int:
    """Height of the highest offset-histogram bin (two adjacent bins summed): a cheap candidate score."""
    if hits.query_t.shape[0] == 0:
        return 0
    offsets = hits.ref_t - np.round(scales[hits.hypothesis] * hits.query_t).astype(np.int64)
    bins = np.floor_divide(offsets, config.bin_frames)
    key = hits.hypothesis.astype(np.int64) * (1 << 40) + (bins - bins.min())
    uniq, counts = np.unique(key, return_counts=True)
    nxt = np.searchsorted(uniq, uniq + 1)
    pair = counts + np.where((nxt < uniq.shape[0]) & (uniq[np.minimum(nxt, uniq.shape[0] - 1)] == uniq + 1),
                             counts[np.minimum(nxt, uniq.shape[0] - 1)], 0)
    return int(pair.max())


def _fit_line(q: np.ndarray, r: np.ndarray, scale: float, offset: float, config: AlignConfig) -> tuple[float, float, np.ndarray]:
    """Robust fit of r = a * q + b starting from (scale, offset); returns (a, b, inlier mask)."""
    a, b = scale, offset
    inliers = np.abs(r - (a * q + b)) <= config.inlier_frames
    for _ in range(3):
        if inliers.sum() < max(config.min_hits, 3) or np.ptp(q[inliers]) < 10:
            break
        a_new, b_new = np.polyfit(q[inliers], r[inliers], 1)
        if abs(a_new - scale) > 2 * config.slope_tolerance:
            break
        a, b = float(a_new), float(b_new)
        inliers = np.abs(r - (a * q + b)) <= config.inlier_frames
    return a, b, inliers


def segments_from_hits(
    hits: Hits,
    scales: np.ndarray,
    frame_s: float,
    query_duration_s: float,
    config: AlignConfig = AlignConfig(),
) -> list[Segment]:
    """Segments (seconds, query = source, reference = target) from the hits of one (query, reference) pair.

    Chance hits are modelled as spread evenly over every possible offset: a
    line of width ``2 * inlier_frames + 1`` over a run of the query expects
    ``hits of its hypothesis * width / offset range * run / query`` of them,
    subtracted before scoring. Returns at most ``max_segments``, best first.
    """
    q = hits.query_t.astype(np.float64)
    r = hits.ref_t.astype(np.float64)
    hyp = hits.hypothesis
    if q.shape[0] == 0:
        return []
    query_frames = max(1.0, query_duration_s / frame_s, float(q.max()) + 1.0)
    offset_range = float(r.max() - r.min()) + query_frames
    per_hyp = np.bincount(hyp, minlength=scales.shape[0]).astype(np.float64)
    width = 2.0 * config.inlier_frames + 1.0
    alive = np.ones(q.shape[0], dtype=bool)
    max_gap = config.max_gap_s / frame_s
    segments: list[Segment] = []
    # One sort: hits grouped by (hypothesis, offset bin), and per hypothesis by offset.
    offsets = r - scales[hyp] * q
    bins = np.floor(offsets / config.bin_frames).astype(np.int64)
    key = hyp.astype(np.int64) * (1 << 40) + (bins - bins.min())
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    group_start = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    group_size = np.diff(np.r_[group_start, key.shape[0]])
    seed_min = max(2, config.min_hits // 3)
    window = config.bin_frames + config.slope_tolerance * query_frames
    by_hyp = {}
    for h in np.unique(hyp):
        members_h = np.flatnonzero(hyp == h)
        members_h = members_h[np.argsort(offsets[members_h], kind="stable")]
        by_hyp[int(h)] = (members_h, offsets[members_h])
    tried = 0
    for group in np.argsort(-group_size, kind="stable"):
        if group_size[group] < seed_min or tried >= 4 * config.max_segments or len(segments) >= config.max_segments:
            break
        seed = order[group_start[group] : group_start[group] + group_size[group]]
        seed = seed[alive[seed]]
        if seed.shape[0] < seed_min:
            continue
        tried += 1
        h = int(hyp[seed[0]])
        scale = float(scales[h])
        offset = float(np.median(offsets[seed]))
        members_h, sorted_offsets = by_hyp[h]
        lo, hi = np.searchsorted(sorted_offsets, [offset - window, offset + window])
        same = members_h[lo:hi]
        same = same[alive[same]]
        span = q[same] - np.median(q[seed])
        near = same[np.abs(offsets[same] - offset) <= config.bin_frames + config.slope_tolerance * np.abs(span)]
        a, b, inl = _fit_line(q[near], r[near], scale, offset, config)
        members = near[inl] if inl.sum() >= 2 else seed
        # Everything on this line (any hypothesis) is consumed, whatever becomes of it.
        on_line = alive & (np.abs(r - (a * q + b)) <= config.inlier_frames + config.bin_frames)
        on_line[seed] = True
        alive &= ~on_line
        members = members[np.argsort(q[members], kind="stable")]
        qt = q[members]
        cuts = np.nonzero(np.diff(qt) > max_gap)[0] + 1
        for run, run_members in zip(np.split(qt, cuts), np.split(members, cuts)):
            # Evidence: distinct query frames on the line (the pairs of one chord
            # onset that land on one reference frame count once), and distinct
            # hashes (a sustained chord repeats a few hashes along any line).
            n_hits = int(min(np.unique(run).shape[0], np.unique(hits.hashes[run_members]).shape[0]))
            if n_hits < config.min_hits:
                continue
            run_frames = max(run[-1] - run[0] + 1.0, 1.0 / frame_s)
            expected = per_hyp[h] * width / offset_range * min(1.0, run_frames / query_frames)
            # Chance lines are the best of many tries: subtract a 3-sigma margin too.
            excess = n_hits - expected - 3.0 * np.sqrt(expected)
            score = float(1.0 - np.exp(-max(0.0, excess) / config.score_scale))
            src_start = run[0] * frame_s
            src_end = min(query_duration_s, (run[-1] + 1) * frame_s) if query_duration_s > 0 else (run[-1] + 1) * frame_s
            src_end = max(src_end, src_start)
            tgt_start = max(0.0, (a * run[0] + b) * frame_s)
            tgt_end = max(tgt_start, (a * (src_end / frame_s) + b) * frame_s)
            segments.append(Segment(src_start, src_end, tgt_start, tgt_end, score))
    segments.sort(key=lambda s: -s.score)
    return suppress_weaker_repeats(segments, config.repeat_score_ratio)[: config.max_segments]


def suppress_weaker_repeats(segments: list[Segment], ratio: float) -> list[Segment]:
    """Drop each segment that mostly overlaps, on the query axis, a kept one it scores under ``ratio`` of.

    ``segments`` best first; "mostly" is half of the weaker segment's query span.
    """
    kept: list[Segment] = []
    for segment in segments:
        span = max(segment.source_end_s - segment.source_start_s, 1e-9)
        shadowed = any(
            min(segment.source_end_s, k.source_end_s) - max(segment.source_start_s, k.source_start_s) > 0.5 * span
            and segment.score < ratio * k.score
            for k in kept
        )
        if not shadowed:
            kept.append(segment)
    return kept


def align_landmarks(
    query: Landmarks,
    reference: Fingerprint,
    fp_config: FingerprintConfig = FingerprintConfig(),
    config: AlignConfig = AlignConfig(),
) -> list[Segment]:
    """Pairwise: segments where the query (landmarks) is found in the reference fingerprint."""
    qh = query_hashes(query, fp_config, config)
    rows, ref_t = join_hashes(qh.hashes, reference.hashes, reference.times)
    hits = Hits(qh.times[rows], ref_t, qh.hypothesis[rows], qh.hashes[rows])
    return segments_from_hits(hits, qh.scales, query.frame_s, query.duration_s, config)


def align_fingerprints(query: Fingerprint, reference: Fingerprint, config: AlignConfig = AlignConfig()) -> list[Segment]:
    """Pairwise, one hypothesis (no pitch or time change): segments of ``query`` found in ``reference``."""
    if query.frame_s != reference.frame_s:
        raise ValueError(f"expected fingerprints with one frame length, got {query.frame_s} and {reference.frame_s}")
    rows, ref_t = join_hashes(query.hashes, reference.hashes, reference.times)
    hits = Hits(query.times[rows].astype(np.int64), ref_t, np.zeros(rows.shape[0], np.int32), query.hashes[rows])
    return segments_from_hits(hits, np.ones(1), query.frame_s, query.duration_s, config)


def score_of(segments: list[Segment], config: AlignConfig = AlignConfig()) -> float:
    """Asset score: the best segment's score (0 without segments)."""
    return max((s.score for s in segments), default=0.0)
