"""What the CLI reads and prints, shared by its local and ``--server`` paths so both behave alike."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Callable

from indexer.errors import BadInputError, NotFoundError
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


def format_match(envelope: dict[str, Any]) -> str:
    """Human lines for a pairwise envelope: the verdict, then each aligned segment."""
    lines = [f"{'match' if envelope['match'] else 'no match'}: {envelope['match_type']} {envelope['media_type']}, "
             f"score {envelope['similarity_score']:.3f} ({envelope['confidence']} confidence)",
             f"  {envelope['reason']}"]
    lines += [f"  {s['source_start']:.1f}-{s['source_end']:.1f}s -> {s['target_start']:.1f}-{s['target_end']:.1f}s "
              f"({s['score']:.2f})" for s in envelope["matched_segments"]]
    return "\n".join(lines)


def format_stats(stats: dict[str, Any]) -> str:
    """Human lines for a catalog's statistics (the ``--json`` object)."""
    by_type = ", ".join(f"{count} {kind}" for kind, count in sorted(stats.get("assets_by_media_type", {}).items()))
    visual = (stats.get("features") or {}).get("visual", {})
    return "\n".join([
        f"{stats['catalog']}: {stats['assets']} asset(s)" + (f" ({by_type})" if by_type else ""),
        f"  index {stats['index_factory']}: {stats['indexed_frames']} frames, {stats['indexed_windows']} windows",
        f"  disk {stats['disk_bytes'] / 1e6:.1f} MB, generation {stats['generation']}"
        + (f", model {visual.get('model')}" if visual.get("model") else ""),
    ])


def delete_each(asset_ids: list[str], delete: Callable[[str], object]) -> dict[str, Any]:
    """Delete every id once with ``delete`` (local or remote); the report lists what went and what was not found."""
    deleted, failed = [], []
    for asset_id in dict.fromkeys(asset_ids):
        try:
            delete(asset_id)
            deleted.append(asset_id)
        except NotFoundError as exc:
            failed.append({"asset_id": asset_id, "error": str(exc), "kind": type(exc).__name__})
    return {"deleted": deleted, "failed": failed}


def format_delete(report: dict[str, Any]) -> str:
    """Human lines for a delete: how many went, and each id that could not be deleted."""
    return (f"deleted {len(report['deleted'])} asset(s)"
            + "".join(f"\n  not deleted {f['asset_id']}: {f['error']}" for f in report["failed"]))


CSV_COLUMNS = ("asset_id", "media_type", "source", "sha256", "duration_s", "width", "height", "fps_sampled",
               "n_frames", "has_audio", "ingested_at", "metadata")


def format_list(page: dict[str, Any]) -> str:
    """Human lines for one page of assets, and how to get the next."""
    lines = [f"{a['asset_id']}  {a['media_type']}  {a['duration_s']:.1f} s  {a['source']}" for a in page["assets"]]
    if page["next_page_token"]:
        lines.append(f"(more: --page-token {page['next_page_token']})")
    return "\n".join(lines) if lines else "no assets"


def format_csv(page: dict[str, Any]) -> str:
    """One page of assets as CSV with a header row; metadata is a JSON object in its column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for asset in page["assets"]:
        writer.writerow([json.dumps(asset["metadata"], sort_keys=True) if c == "metadata" else asset[c]
                         for c in CSV_COLUMNS])
    return buffer.getvalue().rstrip("\n")
