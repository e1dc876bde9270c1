"""The catalog: LMDB as the source of truth, FAISS indexes derived from it.

Layout of a catalog directory::

    DIR/lmdb/            LMDB environment (named databases below)
    DIR/frames.faiss     visual index: one vector per image / sampled video frame
    DIR/windows.faiss    window index: pooled frame embeddings over a few seconds of video
    DIR/*.json           sidecars naming the LMDB generation each index reflects

LMDB databases: ``meta`` (schema version, feature record, counters,
generation), ``assets`` (asset_id -> JSON record), ``nums`` (asset_num ->
asset_id), ``frames`` (asset_id -> frame embeddings), ``times`` (asset_id -> frame times),
``frame_ranges`` / ``window_ranges`` (last vector id of an asset -> first id +
asset_id, so any id resolves to its asset with one cursor seek),
``audio_hashes`` (asset_id -> the distinct hashes its postings sit under) and
``audio_postings`` (hash -> (asset_num, time) rows, see ``indexer.store.postings``).

Every write is one LMDB transaction that also bumps ``generation``; FAISS is
updated in memory after the commit and saved by ``flush``. A saved index whose
sidecar names an older generation is rebuilt on open, so a crash at any point
loses nothing that was committed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import lmdb
import numpy as np

from indexer.features.audio_fingerprint import Fingerprint
from indexer.store.postings import AudioPostings, pack_hash_set, unpack_hash_set
from indexer.store.lock import LOCK_FILE, WRITER_LOCK_FILE, CatalogLock, WriterLock
from indexer.errors import BadInputError, CatalogBusyError, NotFoundError
from indexer.features.extractor import EMBEDDING_DIM
from indexer.store.id_ranges import U32, U64, add_id_ranges, put_range, resolve_id
from indexer.store.rebuild import CachedTimes, rebuild_index
from indexer.store.records import AssetRecord, FrameHit, NewAsset, WindowHit
from indexer.store.stats import catalog_stats
from indexer.store.schema import check_schema_and_features, recorded_index_config
from indexer.features.windows import pool_windows, window_starts
from indexer.store.vector_index import VectorIndex, VectorIndexConfig

LOG = logging.getLogger(__name__)



@dataclasses.dataclass(frozen=True)
class CatalogConfig:
    # None: the index the catalog was created with (Flat for a new one). A catalog
    # records its index settings, so every later open searches the same index.
    index: VectorIndexConfig | None = None
    window_frames: int = 5  # frames pooled into one window-index vector (5 s at 1 fps)
    map_size_bytes: int = 1 << 40  # LMDB's address-space reservation, not disk use
    rebuild_tombstone_fraction: float = 0.2  # rebuild an index that cannot delete past this

    def __post_init__(self) -> None:
        if self.window_frames < 1:
            raise ValueError(f"expected window_frames >= 1, got {self.window_frames}")


class Catalog:
    """One catalog directory. Use ``Catalog.open``; close it (or use ``with``) to save the indexes."""

    def __init__(self, path: Path, env: lmdb.Environment, config: CatalogConfig) -> None:
        self.path = path
        self.env = env
        self.config = config
        self._dbs = {name: env.open_db(name.encode()) for name in
                     ("meta", "assets", "nums", "frames", "times", "frame_ranges", "window_ranges",
                                 "audio_hashes")}
        self.postings = AudioPostings(env)
        self._process_lock: CatalogLock | None = None  # set by ``open``: keeps compaction out while open
        self._writer_lock: WriterLock | None = None  # set by ``open`` for a writable catalog
        self._lock = threading.RLock()  # guards the in-memory FAISS indexes and writes
        self._flush_lock = threading.Lock()  # keeps index files written in generation order
        self._frame_index = self._load_or_rebuild("frames")
        self._window_index = self._load_or_rebuild("windows")

    @classmethod
    def open(cls, path: str | Path, features: dict[str, Any] | None = None,
             config: CatalogConfig = CatalogConfig(), create: bool = True, writable: bool = True) -> "Catalog":
        """Open (or create) the catalog at ``path``.

        Writable, it holds the writer lock (one writing process, see ``WriterLock``) and
        saves the indexes on close; read-only (``writable=False``, never creating) it saves nothing.

        ``features`` is the record of the feature extractors (model, input size,
        sampling rates); it is stored on first use and must match afterwards.
        ``None`` skips the check, for operations that compute no features.
        """
        path = Path(path)
        lmdb_dir = path / "lmdb"
        created: Path | None = None  # removed again when creating fails, so a failed create leaves nothing
        if not lmdb_dir.exists():
            if not create or not writable:
                raise NotFoundError(f"expected a catalog at {path}, got no catalog there (ingest into it first)")
            if path.exists() and not path.is_dir():
                raise BadInputError(f"expected a catalog directory, got a file at {path}")
            created = lmdb_dir if path.exists() else path
            lmdb_dir.mkdir(parents=True)
        lock = CatalogLock(path)
        writer: WriterLock | None = None
        env = None
        try:
            if writable:
                writer = WriterLock(path)
            env = lmdb.open(str(lmdb_dir), map_size=config.map_size_bytes, max_dbs=16, subdir=True)
            check_schema_and_features(env, features)
            index = recorded_index_config(env, config.index)
            catalog = cls(path, env, dataclasses.replace(config, index=index))
        except BaseException:
            if env is not None:
                env.close()
            lock.release()
            if writer is not None:
                writer.release()
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)
                for name in (LOCK_FILE, WRITER_LOCK_FILE):
                    (path / name).unlink(missing_ok=True)
            raise
        catalog._process_lock, catalog._writer_lock = lock, writer
        return catalog

    @property
    def features(self) -> dict[str, Any] | None:
        with self.env.begin(db=self._dbs["meta"]) as txn:
            raw = txn.get(b"features")
        return None if raw is None else json.loads(raw)

    def put_asset(self, record: AssetRecord, frame_embeddings: np.ndarray | None = None,
                  frame_times_s: np.ndarray | None = None, audio: Fingerprint | None = None) -> AssetRecord:
        """Store ``record`` and its features (see ``NewAsset``), replacing any asset of its id; returns it with its ids."""
        return self.put_assets([NewAsset(record, frame_embeddings, frame_times_s, audio)])[0]

    def put_assets(self, assets: Sequence["NewAsset"]) -> list[AssetRecord]:
        """``put_asset`` for many assets in one LMDB transaction (one commit, one fsync), in order.

        All or nothing: a bad asset raises before anything is written. Asset ids must be distinct.
        """
        self._require_writable()
        ids = [asset.record.asset_id for asset in assets]
        if len(set(ids)) != len(ids):
            raise ValueError(f"expected distinct asset ids in one put_assets call, got {ids}")
        checked = [self._checked(asset) for asset in assets]
        stored: list[tuple[AssetRecord, AssetRecord | None, np.ndarray, np.ndarray]] = []
        with self._lock:
            with self.env.begin(write=True) as txn:
                for record, embeddings, times, windows, audio in checked:
                    old = self._get(txn, record.asset_id)
                    if old is not None:
                        self._delete_in_txn(txn, old)
                    record = dataclasses.replace(
                        record,
                        n_frames=len(embeddings),
                        ingested_at=record.ingested_at or time.time(),
                        asset_num=self._next_counter(txn, b"next_asset_num", 1),
                        first_frame_id=self._next_counter(txn, b"next_frame_id", len(embeddings)),
                        first_window_id=self._next_counter(txn, b"next_window_id", len(windows)),
                        n_windows=len(windows),
                    )
                    key = record.asset_id.encode()
                    txn.put(key, record.to_json(), db=self._dbs["assets"])
                    txn.put(U32.pack(record.asset_num), key, db=self._dbs["nums"])
                    txn.put(key, embeddings.tobytes(), db=self._dbs["frames"])
                    txn.put(key, times.tobytes(), db=self._dbs["times"])
                    put_range(txn, self._dbs["frame_ranges"], record.first_frame_id, len(embeddings), key)
                    put_range(txn, self._dbs["window_ranges"], record.first_window_id, len(windows), key)
                    if audio is not None and len(audio):
                        self.postings.add(txn, record.asset_num, audio)
                        txn.put(key, pack_hash_set(audio), db=self._dbs["audio_hashes"])
                    stored.append((record, old, embeddings, windows))
                self._bump_generation(txn)
            for record, old, _, _ in stored:
                if old is not None:
                    self._remove_from_indexes(old)
            add_id_ranges(self._frame_index, [(record.first_frame_id, frames) for record, _, frames, _ in stored])
            add_id_ranges(self._window_index, [(record.first_window_id, windows) for record, _, _, windows in stored])
        LOG.debug("stored %d assets", len(stored))
        return [entry[0] for entry in stored]

    def _checked(self, asset: "NewAsset") -> tuple[AssetRecord, np.ndarray, np.ndarray, np.ndarray, Fingerprint | None]:
        """Validated (record, embeddings, times, window vectors, audio) of one asset to store."""
        embeddings = np.zeros((0, EMBEDDING_DIM), np.float32) if asset.frame_embeddings is None else asset.frame_embeddings
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        times = np.zeros(len(embeddings)) if asset.frame_times_s is None else np.asarray(asset.frame_times_s, dtype=np.float64)
        if embeddings.ndim != 2 or embeddings.shape[1] != EMBEDDING_DIM or len(times) != len(embeddings):
            raise ValueError(f"expected (n, {EMBEDDING_DIM}) embeddings and (n,) times, got "
                             f"{embeddings.shape} and {times.shape}")
        if not np.isfinite(embeddings).all():
            raise BadInputError(f"{asset.record.asset_id}: expected finite embeddings, got NaN or infinity")
        windows, _ = pool_windows(embeddings, self.config.window_frames) if len(embeddings) > 1 \
            else (np.zeros((0, EMBEDDING_DIM), np.float32), np.zeros(0, np.int64))
        return asset.record, embeddings, times, windows, asset.audio

    def delete(self, asset_id: str) -> AssetRecord:
        """Remove ``asset_id`` from LMDB and every index; NotFoundError when absent."""
        self._require_writable()
        with self._lock:
            with self.env.begin(write=True) as txn:
                old = self._get(txn, asset_id)
                if old is None:
                    raise NotFoundError(f"expected an asset id in the catalog, got unknown id {asset_id!r}")
                self._delete_in_txn(txn, old)
                self._bump_generation(txn)
            self._remove_from_indexes(old)
        return old

    def _delete_in_txn(self, txn: lmdb.Transaction, old: AssetRecord) -> None:
        key = old.asset_id.encode()
        txn.delete(key, db=self._dbs["assets"])
        txn.delete(U32.pack(old.asset_num), db=self._dbs["nums"])
        txn.delete(key, db=self._dbs["frames"])
        txn.delete(key, db=self._dbs["times"])
        packed_hashes = txn.get(key, db=self._dbs["audio_hashes"])
        if packed_hashes is not None:
            self.postings.remove(txn, old.asset_num, unpack_hash_set(packed_hashes))
            txn.delete(key, db=self._dbs["audio_hashes"])
        if old.n_frames:
            txn.delete(U64.pack(old.first_frame_id + old.n_frames - 1), db=self._dbs["frame_ranges"])
        if old.n_windows:
            txn.delete(U64.pack(old.first_window_id + old.n_windows - 1), db=self._dbs["window_ranges"])

    def _remove_from_indexes(self, old: AssetRecord) -> None:
        self._frame_index.remove(np.arange(old.first_frame_id, old.first_frame_id + old.n_frames))
        self._window_index.remove(np.arange(old.first_window_id, old.first_window_id + old.n_windows))
        for name, index in (("frames", self._frame_index), ("windows", self._window_index)):
            if index.tombstones > self.config.rebuild_tombstone_fraction * max(index.ntotal, 1):
                LOG.info("rebuilding %s index: %d tombstones", name, index.tombstones)
                setattr(self, f"_{name[:-1]}_index", self._rebuild(name))

    def _next_counter(self, txn: lmdb.Transaction, name: bytes, count: int) -> int:
        raw = txn.get(name, db=self._dbs["meta"])
        value = 0 if raw is None else U64.unpack(raw)[0]
        txn.put(name, U64.pack(value + count), db=self._dbs["meta"])
        return value

    def _bump_generation(self, txn: lmdb.Transaction) -> None:
        self._next_counter(txn, b"generation", 1)

    def generation(self) -> int:
        with self.env.begin(db=self._dbs["meta"]) as txn:
            return U64.unpack(txn.get(b"generation"))[0]

    # ----------------------------------------------------------------- reads
    def _get(self, txn: lmdb.Transaction, asset_id: str) -> AssetRecord | None:
        raw = txn.get(asset_id.encode(), db=self._dbs["assets"])
        return None if raw is None else AssetRecord.from_json(raw)

    def get(self, asset_id: str) -> AssetRecord | None:
        with self.env.begin() as txn:
            return self._get(txn, asset_id)

    def require(self, asset_id: str) -> AssetRecord:
        record = self.get(asset_id)
        if record is None:
            raise NotFoundError(f"expected an asset id in the catalog, got unknown id {asset_id!r}")
        return record

    def get_by_num(self, asset_num: int) -> AssetRecord | None:
        with self.env.begin() as txn:
            key = txn.get(U32.pack(asset_num), db=self._dbs["nums"])
            return None if key is None else self._get(txn, key.decode())

    def assets(self, after: str = "") -> Iterator[AssetRecord]:
        """Every asset in asset_id order, or those whose id sorts after ``after`` (for paging)."""
        with self.env.begin(db=self._dbs["assets"]) as txn:
            cursor = txn.cursor()
            if not (cursor.set_range(after.encode()) if after else cursor.first()):
                return
            for key, raw in cursor:
                if key != after.encode():
                    yield AssetRecord.from_json(raw)

    def frames(self, asset_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Stored (n, 512) float32 embeddings and (n,) float64 times in seconds of ``asset_id``."""
        raw = self._stored("frames", asset_id)
        return np.frombuffer(raw, dtype=np.float32).reshape(-1, EMBEDDING_DIM), self.frame_times(asset_id)

    def frame_times(self, asset_id: str) -> np.ndarray:
        """(n,) float64 times in seconds of the stored frames of ``asset_id`` (cheap: no embeddings)."""
        return np.frombuffer(self._stored("times", asset_id), dtype=np.float64)

    def _stored(self, db: str, asset_id: str) -> bytes:
        with self.env.begin(db=self._dbs[db]) as txn:
            raw = txn.get(asset_id.encode())
        if raw is None:
            raise NotFoundError(f"expected an asset id in the catalog, got unknown id {asset_id!r}")
        return raw

    def search_frames(self, queries: np.ndarray, k: int) -> list[list[FrameHit]]:
        """Top-``k`` frames per query row of (q, 512) float32; deleted ids are dropped."""
        times = CachedTimes(self.frame_times)
        return [[FrameHit(asset_id, offset, times.of(asset_id)[offset], score) for asset_id, offset, score in row]
                for row in self._search_ids(self._frame_index, "frame_ranges", queries, k)]

    def search_windows(self, queries: np.ndarray, k: int) -> list[list[WindowHit]]:
        """Top-``k`` pooled windows per query row of (q, 512) float32 (L2-normalised)."""
        times = CachedTimes(self.frame_times)
        size = self.config.window_frames
        out = []
        for row in self._search_ids(self._window_index, "window_ranges", queries, k):
            hits = []
            for asset_id, window_index, score in row:
                asset_times = times.of(asset_id)
                first = int(window_starts(len(asset_times), size)[window_index])
                last = min(first + size, len(asset_times)) - 1
                hits.append(WindowHit(asset_id, window_index, asset_times[first], asset_times[last], score))
            out.append(hits)
        return out

    def _search_ids(self, index: VectorIndex, ranges_db: str, queries: np.ndarray,
                    k: int) -> list[list[tuple[str, int, float]]]:
        """(asset_id, offset within the asset, score) of the top ``k`` live ids per query row."""
        with self._lock:
            scores, ids = index.search(queries, k + index.tombstones)
        out = []
        with self.env.begin() as txn:
            cursor = txn.cursor(db=self._dbs[ranges_db])
            for row_scores, row_ids in zip(scores, ids):
                resolved = ((resolve_id(cursor, int(i)), float(score)) for score, i in zip(row_scores, row_ids))
                live = [(where[0], where[1], score) for where, score in resolved if where is not None]
                out.append(live[:k])
        return out

    def stats(self) -> dict[str, Any]:
        with self._lock:
            frames, windows = self._frame_index.ntotal, self._window_index.ntotal
            factory = self._frame_index.config.factory  # Flat until a quantised index has data to train on
        with self.env.begin() as txn:
            postings = self.postings.stats(txn)
        return catalog_stats(self.path, self.assets(), frames, windows, factory, self.generation(), postings,
                             self.features)

    # ----------------------------------------------------------------- FAISS upkeep
    def _index_path(self, name: str) -> Path:
        return self.path / f"{name}.faiss"

    def _load_or_rebuild(self, name: str) -> VectorIndex:
        loaded = VectorIndex.load_if_current(self._index_path(name), EMBEDDING_DIM, self.config.index,
                                             self.generation())
        if loaded is not None:
            return loaded
        LOG.info("rebuilding the %s index from LMDB", name)
        return self._rebuild(name)

    def _rebuild(self, name: str) -> VectorIndex:
        return rebuild_index(name, self.assets(), lambda asset_id: self.frames(asset_id)[0],
                             self.config.window_frames, self.config.index)

    def flush(self) -> None:
        """Save the FAISS indexes with the LMDB generation they reflect.

        The indexes are copied under the lock and written outside it, so
        searches wait for a memory copy, not for the disk.
        """
        with self._flush_lock:
            with self._lock:
                generation = self.generation()
                snapshots = {"frames": self._frame_index.snapshot(generation),
                             "windows": self._window_index.snapshot(generation)}
            for name, snapshot in snapshots.items():
                snapshot.write(self._index_path(name))
        self.env.sync()

    def close(self) -> None:
        if self.env is None:
            return
        try:
            if self.writable:
                self.flush()
        finally:
            self.env.close()
            self.env = None
            for lock in (self._writer_lock, self._process_lock):
                if lock is not None:
                    lock.release()
            self._process_lock = self._writer_lock = None

    @property
    def writable(self) -> bool:
        return self._writer_lock is not None

    def _require_writable(self) -> None:
        if not self.writable:
            raise CatalogBusyError(f"expected a catalog opened for writing, got {self.path} opened read-only")

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
