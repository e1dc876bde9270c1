"""The match envelope: one result shape for every media type (see shared/DESIGN.md, search/envelope.schema.json).

Pairwise match and every search hit are a ``MatchEnvelope``; a search hit adds
``asset_id``, ``rank`` and ``metadata`` (``SearchHit``). JSON only at the edge:
``to_dict()`` is what the CLI prints and the gRPC layer converts.

This module is the only code that turns scores and aligned segments into an
envelope: ``frame_envelope`` for an image against an image or one video frame,
``segment_envelope`` for video and audio alignments. Overlap is the merged
length of the segments on each side, so overlapping segments never count twice.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from indexer.media_types import MediaType
from search.thresholds import Confidence, Thresholds


class MatchType(str, enum.Enum):
    EXACT = "exact"  # the same bytes
    NEAR_DUPLICATE = "near_duplicate"  # the whole asset, edited or re-encoded
    PARTIAL = "partial"  # only segments overlap
    NONE = "none"


@dataclasses.dataclass(frozen=True)
class Segment:
    """One aligned stretch: ``source`` is the query, ``target`` the catalog asset, in seconds."""

    source_start_s: float
    source_end_s: float
    target_start_s: float
    target_end_s: float
    score: float

    def __post_init__(self) -> None:
        if self.source_end_s < self.source_start_s or self.target_end_s < self.target_start_s:
            raise ValueError(f"segment ends before it starts: {self}")

    @property
    def source_duration_s(self) -> float:
        return self.source_end_s - self.source_start_s

    def to_dict(self) -> dict[str, float]:
        return {
            "source_start": round(self.source_start_s, 3),
            "source_end": round(self.source_end_s, 3),
            "target_start": round(self.target_start_s, 3),
            "target_end": round(self.target_end_s, 3),
            "score": round(self.score, 4),
        }


@dataclasses.dataclass(frozen=True)
class MatchEnvelope:
    match: bool
    confidence: Confidence
    similarity_score: float
    match_type: MatchType
    media_type: MediaType
    processing_time_ms: float = 0.0
    matched_segments: tuple[Segment, ...] = ()
    overlap_seconds: float = 0.0
    reason: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.similarity_score <= 1.0:
            raise ValueError(f"expected similarity_score in [0, 1], got {self.similarity_score}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "confidence": self.confidence.value,
            "similarity_score": round(self.similarity_score, 4),
            "match_type": self.match_type.value,
            "media_type": self.media_type.value,
            "processing_time_ms": round(self.processing_time_ms, 1),
            "matched_segments": [s.to_dict() for s in self.matched_segments],
            "overlap_seconds": round(self.overlap_seconds, 3),
            "reason": self.reason,
        }


@dataclasses.dataclass(frozen=True)
class SearchHit:
    asset_id: str
    rank: int
    metadata: dict[str, Any]
    envelope: MatchEnvelope

    def to_dict(self) -> dict[str, Any]:
        out = self.envelope.to_dict()
        out.update({"asset_id": self.asset_id, "rank": self.rank, "metadata": self.metadata})
        return out


def merged_duration(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of (start, end) spans."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


EXACT_REASON = "identical bytes (same sha256)"


def frame_envelope(cosine: float, target_type: MediaType, thresholds: Thresholds, exact: bool = False,
                   target_time_s: float | None = None) -> MatchEnvelope:
    """Envelope for an image compared with an image, or with one frame of a video at ``target_time_s``."""
    score = min(1.0, max(0.0, float(cosine)))
    is_match = exact or score >= thresholds.match
    if exact:
        match_type, reason = MatchType.EXACT, EXACT_REASON
    elif is_match:
        match_type = MatchType.NEAR_DUPLICATE if target_time_s is None else MatchType.PARTIAL
        reason = f"SSCD similarity {score:.3f} is at or above the image threshold {thresholds.match:.3f}"
    else:
        match_type = MatchType.NONE
        reason = f"SSCD similarity {score:.3f} is below the image threshold {thresholds.match:.3f}"
    segments: tuple[Segment, ...] = ()
    if target_time_s is not None:
        segments = (Segment(0.0, 0.0, target_time_s, target_time_s, score),)
        reason += f"; best frame at {target_time_s:.1f} s of the video"
    return MatchEnvelope(match=is_match, confidence=thresholds.confidence(1.0 if exact else score),
                         similarity_score=1.0 if exact else score, match_type=match_type, media_type=target_type,
                         matched_segments=segments, reason=reason)


def segment_envelope(segments: list[Segment], media_type: MediaType, thresholds: Thresholds,
                     query_duration_s: float, target_duration_s: float, near_duplicate_coverage: float,
                     exact: bool = False, duration_slack_s: float = 0.0, kind: str = "",
                     segment_floor: float | None = None) -> MatchEnvelope:
    """The envelope of a temporal alignment (video frames or audio landmarks).

    The score is the best segment's. A match reports its segments scoring at
    least ``segment_floor`` (default: the match threshold), ordered by source
    time; video passes 0 because a weaker second excerpt of a matching pair is
    still where the copy lies. A match is ``near_duplicate`` when
    the reported segments cover ``near_duplicate_coverage`` of both durations
    (less ``duration_slack_s``), else ``partial``. ``kind`` names the signal in
    the reason ("video", "audio").
    """
    score = 1.0 if exact else min(1.0, max(0.0, max((s.score for s in segments), default=0.0)))
    is_match = exact or score >= thresholds.match
    floor = thresholds.match if segment_floor is None else segment_floor
    kept = tuple(sorted((s for s in segments if s.score >= floor), key=lambda s: s.source_start_s)) \
        if is_match else ()
    overlap = merged_duration([(s.source_start_s, s.source_end_s) for s in kept])
    target_overlap = merged_duration([(s.target_start_s, s.target_end_s) for s in kept])
    if exact:
        match_type, reason = MatchType.EXACT, EXACT_REASON
    elif is_match:
        whole = (overlap >= near_duplicate_coverage * max(query_duration_s - duration_slack_s, 0.0)
                 and target_overlap >= near_duplicate_coverage * max(target_duration_s - duration_slack_s, 0.0))
        match_type = MatchType.NEAR_DUPLICATE if whole else MatchType.PARTIAL
        best = max(kept, key=lambda s: s.score)
        reason = (f"{overlap:.1f} s of the source aligned with the target in {len(kept)} segment(s); "
                  f"best {best.source_start_s:.1f}-{best.source_end_s:.1f} s -> "
                  f"{best.target_start_s:.1f}-{best.target_end_s:.1f} s at {best.score:.3f}")
    else:
        match_type = MatchType.NONE
        reason = (f"no aligned segment scores at or above the {kind} threshold {thresholds.match:.3f}".replace("  ", " ")
                  + (f" (best {score:.3f})" if segments else ""))
    return MatchEnvelope(match=is_match, confidence=thresholds.confidence(score), similarity_score=score,
                         match_type=match_type, media_type=media_type, matched_segments=kept,
                         overlap_seconds=overlap, reason=reason)
