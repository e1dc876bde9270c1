"""The envelope builders and the JSON schema documented beside them agree."""

from __future__ import annotations

import json
from pathlib import Path

import search
from indexer.media_types import MediaType
from search.envelope import MatchType, SearchHit, Segment, frame_envelope, merged_duration, segment_envelope
from search.thresholds import Confidence, Thresholds

SCHEMA = json.loads((Path(search.__file__).parent / "envelope.schema.json").read_text())
THRESHOLDS = Thresholds(match=0.5, high=0.8)


def test_schema_names_every_key_and_value_the_code_emits() -> None:
    envelope = segment_envelope([Segment(0.0, 4.0, 10.0, 14.0, 0.9)], MediaType.VIDEO, THRESHOLDS, 4.0, 60.0, 0.8)
    hit = SearchHit("a", 1, {"sku": 1}, envelope).to_dict()
    assert set(SCHEMA["required"]) == set(envelope.to_dict())
    assert set(hit) == set(SCHEMA["properties"])
    assert set(hit["matched_segments"][0]) == set(SCHEMA["properties"]["matched_segments"]["items"]["required"])
    assert SCHEMA["properties"]["match_type"]["enum"] == [m.value for m in MatchType]
    assert SCHEMA["properties"]["confidence"]["enum"] == [c.value for c in Confidence]
    assert SCHEMA["properties"]["media_type"]["enum"] == [m.value for m in MediaType]


def test_overlap_is_the_union_of_segments_for_every_media_type() -> None:
    segments = [Segment(0.0, 6.0, 0.0, 6.0, 0.9), Segment(4.0, 10.0, 4.0, 10.0, 0.7)]
    assert merged_duration([(0.0, 6.0), (4.0, 10.0), (20.0, 21.0)]) == 11.0
    for media_type in (MediaType.VIDEO, MediaType.AUDIO):
        envelope = segment_envelope(segments, media_type, THRESHOLDS, 10.0, 10.0, 0.8)
        assert envelope.overlap_seconds == 10.0
        assert envelope.match_type is MatchType.NEAR_DUPLICATE
        assert envelope.similarity_score == 0.9


def test_partial_exact_and_none() -> None:
    partial = segment_envelope([Segment(0.0, 5.0, 30.0, 35.0, 0.6)], MediaType.AUDIO, THRESHOLDS, 5.0, 60.0, 0.8)
    assert (partial.match, partial.match_type, partial.confidence) == (True, MatchType.PARTIAL, Confidence.MEDIUM)
    none = segment_envelope([Segment(0.0, 5.0, 30.0, 35.0, 0.3)], MediaType.AUDIO, THRESHOLDS, 5.0, 60.0, 0.8)
    assert (none.match, none.match_type, none.matched_segments, none.overlap_seconds) == (False, MatchType.NONE, (), 0.0)
    exact = frame_envelope(0.2, MediaType.IMAGE, THRESHOLDS, exact=True)
    assert (exact.match, exact.match_type, exact.similarity_score) == (True, MatchType.EXACT, 1.0)
    frame = frame_envelope(0.7, MediaType.VIDEO, THRESHOLDS, target_time_s=12.0)
    assert frame.match_type is MatchType.PARTIAL and frame.matched_segments[0].target_start_s == 12.0
