"""Image retrieval: one image embedding against the frame index, each asset once at its best frame."""

from __future__ import annotations

import numpy as np

from indexer.media_types import MediaType
from indexer.store.catalog import Catalog, FrameHit
from search.envelope import SearchHit, frame_envelope
from search.thresholds import IMAGE, Thresholds


def search_image(catalog: Catalog, embedding: np.ndarray, query_sha256: str, top_k: int = 10,
                 candidates_per_frame: int = 100, thresholds: Thresholds = IMAGE) -> list[SearchHit]:
    """Hits for one (512,) float32 image embedding, best first (ranks 0: the caller numbers them).

    A hit on a video asset is one frame of it, with that frame's time as its segment.
    """
    frame_hits = catalog.search_frames(embedding[None, :], candidates_per_frame)[0]
    best: dict[str, FrameHit] = {}
    for hit in frame_hits:
        if hit.asset_id not in best or hit.score > best[hit.asset_id].score:
            best[hit.asset_id] = hit
    out = []
    for hit in sorted(best.values(), key=lambda h: -h.score)[:top_k]:
        record = catalog.get(hit.asset_id)
        if record is None:  # deleted while we searched
            continue
        exact = record.sha256 == query_sha256
        envelope = frame_envelope(hit.score, record.media_type, thresholds, exact,
                                  target_time_s=hit.time_s if record.media_type is MediaType.VIDEO else None)
        out.append(SearchHit(asset_id=record.asset_id, rank=0, metadata=record.metadata, envelope=envelope))
    return out
