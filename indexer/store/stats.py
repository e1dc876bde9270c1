"""What ``nearmatch stats`` reports about a catalog; reads only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from indexer.store.records import AssetRecord


def catalog_stats(path: Path, records: Iterable[AssetRecord], frames: int, windows: int, factory: str,
                  generation: int, postings: dict[str, int], features: dict[str, Any] | None) -> dict[str, Any]:
    """Counts by media type, index sizes (``frames``/``windows`` vectors in a ``factory`` index), disk use, settings."""
    by_type: dict[str, int] = {}
    for record in records:
        by_type[record.media_type.value] = by_type.get(record.media_type.value, 0) + 1
    disk = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    index_bytes = sum(p.stat().st_size for p in path.glob("*.faiss"))
    return {
        "catalog": str(path),
        "assets": sum(by_type.values()),
        "assets_by_media_type": by_type,
        "indexed_frames": frames,
        "indexed_windows": windows,
        "index_factory": factory,
        "generation": generation,
        "disk_bytes": disk,
        "index_bytes_per_vector": round(index_bytes / max(frames + windows, 1), 1),
        "audio_postings": postings,
        "features": features,
    }
