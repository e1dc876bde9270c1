"""What the CLI reads and prints, shared by its local and ``--server`` paths so both behave alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer.errors import BadInputError
from indexer.ingest import IngestItem, check_distinct_ids, items_from_manifest, items_from_paths


def ingest_items(paths: list[Path], manifest: Path | None, id_mode: str = "auto",
                 id_prefix: str = "") -> list[IngestItem]:
    """The items of PATH arguments and an optional manifest; at least one must be given, and ids must be distinct."""
    if not paths and manifest is None:
        raise BadInputError("expected at least one PATH or --manifest, got neither")
    items = list(items_from_paths(paths, id_mode, id_prefix))
    if manifest is not None:
        items += list(items_from_manifest(manifest))
    check_distinct_ids(items)
    return items


def format_ingest(report: dict[str, Any]) -> str:
    """Human lines for an ingest summary (the ``--json`` object); each failure once."""
    return (f"ingested {report['ingested']}, skipped {report['skipped']} unchanged, "
            f"failed {len(report['failed'])} in {report['seconds']:.1f} s"
            + "".join(f"\n  failed {f['path']}: {f['error']}" for f in report["failed"]))


def format_search(result: dict[str, Any]) -> str:
    """Human lines for one query's result (the ``--json`` object): ranked hits and their segments."""
    matches = sum(1 for hit in result["results"] if hit["match"])
    lines = [f"{result['query']}: {matches} match(es) among {len(result['results'])} result(s) "
             f"in {result['processing_time_ms']:.0f} ms"]
    for hit in result["results"]:
        lines.append(f"  {hit['rank']:>3}. {hit['asset_id']}  score={hit['similarity_score']:.3f} "
                     f"match={hit['match']} {hit['confidence']} {hit['match_type']}"
                     + "".join(f"\n       {s['source_start']:.1f}-{s['source_end']:.1f}s -> "
                               f"{s['target_start']:.1f}-{s['target_end']:.1f}s ({s['score']:.2f})"
                               for s in hit["matched_segments"]))
    return "\n".join(lines)
