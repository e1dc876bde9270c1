"""Derived data rebuilt from LMDB: a FAISS index from the stored frame embeddings, frame times per search."""

from __future__ import annotations

import logging
from typing import Callable, Iterable

import numpy as np

from indexer.features.extractor import EMBEDDING_DIM
from indexer.features.windows import pool_windows
from indexer.store.records import AssetRecord
from indexer.store.vector_index import MIN_TRAINING_VECTORS, VectorIndex, VectorIndexConfig

LOG = logging.getLogger(__name__)


def rebuild_index(name: str, records: Iterable[AssetRecord], embeddings_of: Callable[[str], np.ndarray],
                  window_frames: int, config: VectorIndexConfig) -> VectorIndex:
    """The ``name`` index ("frames" or "windows") of ``records``, trained when it can be.

    ``embeddings_of(asset_id)`` gives an asset's stored (n, 512) float32 frame embeddings.
    """
    ids_parts: list[np.ndarray] = []
    vector_parts: list[np.ndarray] = []
    for record in records:
        embeddings = embeddings_of(record.asset_id)
        if name == "frames":
            ids_parts.append(np.arange(record.first_frame_id, record.first_frame_id + record.n_frames))
            vector_parts.append(embeddings)
        elif record.n_windows:
            windows, _ = pool_windows(embeddings, window_frames)
            ids_parts.append(np.arange(record.first_window_id, record.first_window_id + len(windows)))
            vector_parts.append(windows)
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int64)
    vectors = np.vstack(vector_parts) if vector_parts else np.zeros((0, EMBEDDING_DIM), np.float32)
    index = VectorIndex(EMBEDDING_DIM, config)
    if not index.is_trained:
        if len(vectors) < MIN_TRAINING_VECTORS:
            # Too few vectors to train quantisers yet: exact search until the catalog grows.
            LOG.info("%s: %d vectors are too few to train %r; using Flat for now", name, len(vectors),
                     config.factory)
            index = VectorIndex(EMBEDDING_DIM, VectorIndexConfig("Flat"))
        else:
            index.train(vectors)
    index.add(ids, vectors)
    return index


class CachedTimes:
    """Frame times per asset, read once per search."""

    def __init__(self, frame_times: Callable[[str], np.ndarray]) -> None:
        self._frame_times = frame_times
        self._times: dict[str, list[float]] = {}

    def of(self, asset_id: str) -> list[float]:
        if asset_id not in self._times:
            self._times[asset_id] = self._frame_times(asset_id).tolist()
        return self._times[asset_id]
