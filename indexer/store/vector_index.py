"""A FAISS inner-product index with stable int64 ids, saved atomically beside LMDB.

The index is derived data: the catalog rebuilds it from the embeddings LMDB
holds whenever the saved file is missing or older than LMDB. Flat by default;
any FAISS factory string works (IVF and PQ types are trained on the catalog at
rebuild; HNSW, which cannot remove ids, keeps tombstones that search filters).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import faiss
import numpy as np

from indexer.errors import BadInputError

LOG = logging.getLogger(__name__)

MIN_TRAINING_VECTORS = 1000


@dataclasses.dataclass(frozen=True)
class VectorIndexConfig:
    factory: str = "Flat"  # FAISS index_factory string (inner product metric), e.g. "IVF1024,PQ64", "HNSW32"
    search_params: str = ""  # FAISS ParameterSpace string applied at search, e.g. "nprobe=16" or "efSearch=128"


class VectorIndex:
    """Vectors (n, dim) float32 under caller-chosen int64 ids."""

    def __init__(self, dim: int, config: VectorIndexConfig = VectorIndexConfig(),
                 index: faiss.Index | None = None) -> None:
        self.dim = dim
        self.config = config
        if index is None:
            try:
                index = faiss.index_factory(dim, f"IDMap2,{config.factory}", faiss.METRIC_INNER_PRODUCT)
            except RuntimeError as exc:
                raise BadInputError(f"expected a FAISS factory string, got {config.factory!r}: {exc}") from exc
        self._index = index
        if config.search_params:
            try:
                faiss.ParameterSpace().set_index_parameters(index, config.search_params)
            except RuntimeError as exc:
                raise BadInputError(f"expected FAISS search parameters for {config.factory!r}, "
                                 f"got {config.search_params!r}: {exc}") from exc
        self.tombstones = 0  # removed ids still inside an index type that cannot delete

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def is_trained(self) -> bool:
        return bool(self._index.is_trained)

    def train(self, vectors: np.ndarray) -> None:
        """Train quantisers on (n, dim) float32 vectors; a no-op for Flat and HNSW."""
        if self.is_trained:
            return
        if len(vectors) < MIN_TRAINING_VECTORS:
            raise ValueError(
                f"index {self.config.factory!r} needs at least {MIN_TRAINING_VECTORS} vectors to train, "
                f"got {len(vectors)}; ingest more or use the Flat index"
            )
        self._index.train(np.ascontiguousarray(vectors, dtype=np.float32))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add (n, dim) float32 ``vectors`` under int64 ``ids`` (n,)."""
        if len(ids) == 0:
            return
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        try:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
        except RuntimeError:
            # HNSW cannot remove: the ids stay as tombstones; the catalog drops hits on
            # ids it no longer knows and rebuilds the index once tombstones pile up.
            self.tombstones += len(ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(q, dim) float32 -> scores (q, k) float32 and ids (q, k) int64 (-1 where fewer than k)."""
        if self.ntotal == 0 or k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        k = min(k, self.ntotal)
        return self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def snapshot(self, generation: int) -> "IndexSnapshot":
        """An in-memory copy to write to disk later, so writing does not hold up searches."""
        sidecar = {"generation": generation, "factory": self.config.factory, "ntotal": self.ntotal,
                   "tombstones": self.tombstones}
        return IndexSnapshot(faiss.serialize_index(self._index), sidecar)

    @classmethod
    def load_if_current(cls, path: Path, dim: int, config: VectorIndexConfig, generation: int) -> "VectorIndex | None":
        """The saved index when it reflects LMDB ``generation`` and ``config``; else None."""
        sidecar_path = path.with_suffix(".json")
        if not path.exists() or not sidecar_path.exists():
            return None
        try:
            sidecar = json.loads(sidecar_path.read_text())
            if sidecar.get("generation") != generation or sidecar.get("factory") != config.factory:
                return None
            index = faiss.read_index(str(path))
        except (OSError, ValueError, RuntimeError) as exc:
            LOG.warning("ignoring unreadable index %s (%s); it will be rebuilt", path, exc)
            return None
        if index.d != dim:
            return None
        loaded = cls(dim, config, index)
        loaded.tombstones = int(sidecar.get("tombstones", 0))
        return loaded


@dataclasses.dataclass(frozen=True)
class IndexSnapshot:
    serialized: np.ndarray  # uint8, faiss.serialize_index
    sidecar: dict

    def write(self, path: Path) -> None:
        """Write the index, then the sidecar naming the LMDB generation it reflects; each atomically."""
        tmp = path.with_suffix(".tmp")
        self.serialized.tofile(tmp)
        os.replace(tmp, path)
        _write_json_atomic(path.with_suffix(".json"), self.sidecar)


def _write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)
