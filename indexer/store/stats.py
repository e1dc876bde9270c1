"""What ``nearmatch stats`` reports about a catalog; reads only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the catalog calls this; importing it at run time would be a cycle
    from indexer.store.catalog import Catalog


def catalog_stats(catalog: "Catalog", frames: int, windows: int, factory: str) -> dict[str, Any]:
    """Counts by media type, index sizes (``frames``/``windows`` vectors in a ``factory`` index), disk use, settings."""
    by_type: dict[str, int] = {}
    for record in catalog.assets():
        by_type[record.media_type.value] = by_type.get(record.media_type.value, 0) + 1
    disk = sum(p.stat().st_size for p in catalog.path.rglob("*") if p.is_file())
    index_bytes = sum(p.stat().st_size for p in catalog.path.glob("*.faiss"))
    with catalog.env.begin() as txn:
        postings = catalog.postings.stats(txn)
    return {
        "catalog": str(catalog.path),
        "assets": sum(by_type.values()),
        "assets_by_media_type": by_type,
        "indexed_frames": frames,
        "indexed_windows": windows,
        "index_factory": factory,
        "generation": catalog.generation(),
        "disk_bytes": disk,
        "index_bytes_per_vector": round(index_bytes / max(frames + windows, 1), 1),
        "audio_postings": postings,
        "features": catalog.features,
    }
