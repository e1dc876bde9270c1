"""The CLI's human output, shared by local and --server runs."""

from __future__ import annotations

import pytest

from indexer.errors import BadInputError
from search.cli.format import format_ingest, format_search, ingest_items


def test_search_lines_show_rank_score_and_segments() -> None:
    hit = {"rank": 1, "asset_id": "a.mp4", "similarity_score": 0.8123, "match": True, "confidence": "high",
           "match_type": "partial",
           "matched_segments": [{"source_start": 0.0, "source_end": 4.0, "target_start": 10.0, "target_end": 14.0,
                                 "score": 0.81}]}
    text = format_search({"query": "q.mp4", "processing_time_ms": 12.3, "results": [hit]})
    assert text == ("q.mp4: 1 match(es) among 1 result(s) in 12 ms\n"
                    "    1. a.mp4  score=0.812 match=True high partial\n"
                    "       0.0-4.0s -> 10.0-14.0s (0.81)")


def test_ingest_summary_lists_failures() -> None:
    report = {"ingested": 2, "skipped": 1, "seconds": 1.26, "failed": [{"path": "x.jpg", "error": "empty"}]}
    assert format_ingest(report) == "ingested 2, skipped 1 unchanged, failed 1 in 1.3 s\n  failed x.jpg: empty"


def test_ingest_needs_a_path_or_a_manifest() -> None:
    with pytest.raises(BadInputError, match="at least one PATH or --manifest"):
        ingest_items([], None)
