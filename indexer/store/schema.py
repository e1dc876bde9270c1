"""What a catalog records about itself: schema version, feature settings and index settings, checked on open."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import lmdb

from indexer.errors import CatalogMismatchError
from indexer.features.config import describe_differences
from indexer.features.extractor import EMBEDDING_DIM
from indexer.store.id_ranges import U32, U64
from indexer.store.vector_index import VectorIndex, VectorIndexConfig

SCHEMA_VERSION = 1
OLDEST_READABLE_VERSION = 1


def stored_features(path: str | Path) -> dict[str, Any] | None:
    """The feature record of the catalog at ``path`` (None for none), without loading its indexes."""
    lmdb_dir = Path(path) / "lmdb"
    if not (lmdb_dir / "data.mdb").exists():
        return None
    env = lmdb.open(str(lmdb_dir), readonly=True, max_dbs=16, subdir=True)
    try:
        with env.begin() as txn:
            if txn.get(b"meta") is None:  # named databases are keys of the main one
                return None
            raw = txn.get(b"features", db=env.open_db(b"meta", txn=txn, create=False))
    finally:
        env.close()
    return None if raw is None else json.loads(raw)


def check_schema_and_features(env: lmdb.Environment, features: dict[str, Any] | None) -> None:
    meta = env.open_db(b"meta")
    with env.begin(write=True, db=meta) as txn:
        stored_version = txn.get(b"schema_version")
        if stored_version is None:
            txn.put(b"schema_version", U32.pack(SCHEMA_VERSION))
            txn.put(b"oldest_readable_version", U32.pack(OLDEST_READABLE_VERSION))
            txn.put(b"generation", U64.pack(0))
        else:
            version = U32.unpack(stored_version)[0]
            oldest = U32.unpack(txn.get(b"oldest_readable_version"))[0]
            if version < OLDEST_READABLE_VERSION or oldest > SCHEMA_VERSION:
                raise CatalogMismatchError(
                    f"expected catalog schema {OLDEST_READABLE_VERSION}..{SCHEMA_VERSION}, got schema "
                    f"{version} (readable from {oldest}); use a matching nearmatch version"
                )
        if features is None:
            return
        stored = txn.get(b"features")
        if stored is None:
            txn.put(b"features", json.dumps(features, sort_keys=True).encode())
            return
        stored_features = json.loads(stored)
        if stored_features != features:
            diffs = describe_differences(stored_features, features)
            raise CatalogMismatchError(
                f"catalog was built with other features ({diffs}); open it with the same "
                f"extractor settings or ingest into a new catalog"
            )


def recorded_index_config(env: lmdb.Environment, requested: VectorIndexConfig | None) -> VectorIndexConfig:
    """The index settings stored in the catalog; ``requested`` is stored for a new catalog."""
    meta = env.open_db(b"meta")
    with env.begin(write=True, db=meta) as txn:
        raw = txn.get(b"index")
        if raw is None:
            chosen = requested or VectorIndexConfig()
            VectorIndex(EMBEDDING_DIM, chosen)  # validate before recording: a bad factory raises here
            txn.put(b"index", json.dumps(dataclasses.asdict(chosen)).encode())
            return chosen
    recorded = VectorIndexConfig(**json.loads(raw))
    if requested is not None and requested != recorded:
        raise CatalogMismatchError(
            f"catalog index is {recorded.factory!r} ({recorded.search_params or 'default search parameters'}), "
            f"got {requested.factory!r}; leave the index option out or ingest into a new catalog"
        )
    return recorded
