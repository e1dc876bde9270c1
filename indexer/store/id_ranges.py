"""Vector ids to assets: each asset owns one contiguous id range, keyed in LMDB by its last id.

``frame_ranges`` / ``window_ranges`` map the big-endian last id of an asset's
range to its first id and asset_id, so any FAISS id resolves to (asset, offset)
with one cursor seek.
"""

from __future__ import annotations

import struct
from typing import Any

import lmdb
import numpy as np

from indexer.store.vector_index import VectorIndex

U64 = struct.Struct(">Q")
U32 = struct.Struct(">I")


def add_id_ranges(index: VectorIndex, parts: list[tuple[int, np.ndarray]]) -> None:
    """One FAISS add for many assets: each (first id, (n, dim) vectors) takes ids first .. first + n - 1."""
    parts = [(first, vectors) for first, vectors in parts if len(vectors)]
    if parts:
        index.add(np.concatenate([np.arange(first, first + len(vectors)) for first, vectors in parts]),
                  np.concatenate([vectors for _, vectors in parts]))


def put_range(txn: lmdb.Transaction, db: Any, first_id: int, count: int, key: bytes) -> None:
    if count:
        txn.put(U64.pack(first_id + count - 1), U64.pack(first_id) + key, db=db)


def resolve_id(cursor: lmdb.Cursor, vector_id: int) -> tuple[str, int] | None:
    """(asset_id, offset within the asset) of ``vector_id``, or None for a deleted or unknown id."""
    if vector_id < 0 or not cursor.set_range(U64.pack(vector_id)):
        return None
    value = cursor.value()
    first_id = U64.unpack(value[:8])[0]
    if first_id > vector_id:
        return None
    return value[8:].decode(), vector_id - first_id
