"""The match envelope: one result shape for every media type (see shared/DESIGN.md).

Pairwise match and every search hit are a ``MatchEnvelope``; a search hit adds
``asset_id``, ``rank`` and ``metadata`` (``SearchHit``). JSON only at the edge:
``to_dict()`` is what the CLI prints and the gRPC layer converts.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from indexer.media_types import MediaType


class MatchType(str, enum.Enum):
    EXACT = "exact"  # the same bytes
    NEAR_DUPLICATE = "near_duplicate"  # the whole asset, edited or re-encoded
    PARTIAL = "partial"  # only segments overlap
    NONE = "none"


class Confidence(str, enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


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
