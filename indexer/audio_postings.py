"""Audio hash postings in LMDB: hash -> sorted (asset_num, time) rows, on disk and bounded in RAM.

One named database (``DB_NAME``) opened with ``dupsort``, ``dupfixed`` and
``integerkey``: the key is the uint32 hash (native byte order, as LMDB's
integer keys require), each duplicate value 8 bytes: asset_num uint32
big-endian then anchor time uint32 big-endian in fingerprint frames. Values
sort by (asset, time), so one asset's rows under a hash are contiguous; 32
bits of frames at 16 ms cover two years, so hour-long assets never alias.

How the catalog uses it (inside its own write transaction):

- ingest: ``postings.add(txn, asset_num, fp)`` and keep
  ``pack_hash_set(fp)`` with the asset record (about 1.3 bytes per row, measured)
  so the asset can be removed without its source;
- delete / replace: ``postings.remove(txn, asset_num, unpack_hash_set(blob))``;
- search: ``postings.lookup(txn, hashes)`` in a read transaction.

Construct ``AudioPostings`` before opening a transaction (or pass the open
write transaction as ``txn``): LMDB deadlocks when a named database is opened
in a second write transaction. The format is versioned: the catalog stores ``FORMAT_VERSION`` and refuses
a mismatch.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib

import lmdb
import numpy as np

from indexer.audio_fingerprint import Fingerprint

LOG = logging.getLogger(__name__)

DB_NAME = b"audio_postings"
FORMAT_VERSION = 1
_ROW = np.dtype([("hash", "=u4"), ("asset", ">u4"), ("time", ">u4")])  # a getmulti(keyfixed) row


@dataclasses.dataclass(frozen=True)
class PostingsConfig:
    max_postings_per_hash: int = 2000  # hashes with more rows are skipped at query time (too common)

    def __post_init__(self) -> None:
        if self.max_postings_per_hash < 1:
            raise ValueError(f"expected max_postings_per_hash >= 1, got {self.max_postings_per_hash}")


def _keys(hashes: np.ndarray) -> list[bytes]:
    raw = np.ascontiguousarray(hashes, dtype="=u4").tobytes()
    return [raw[i : i + 4] for i in range(0, len(raw), 4)]


def pack_hash_set(fp: Fingerprint | np.ndarray) -> bytes:
    """The distinct hashes of a fingerprint, delta-coded and compressed (what removal needs)."""
    hashes = fp.hashes if isinstance(fp, Fingerprint) else np.asarray(fp, dtype=np.uint32)
    uniq = np.unique(hashes).astype(np.uint32)
    deltas = np.diff(uniq, prepend=np.uint32(0)).astype("<u4")
    return zlib.compress(deltas.tobytes(), 6)


def unpack_hash_set(blob: bytes) -> np.ndarray:
    """Inverse of ``pack_hash_set``: sorted distinct hashes uint32 (n,)."""
    deltas = np.frombuffer(zlib.decompress(blob), dtype="<u4")
    return np.cumsum(deltas, dtype=np.uint64).astype(np.uint32)


class AudioPostings:
    """Hash postings of every audio asset of a catalog, in the LMDB environment ``env``."""

    def __init__(
        self,
        env: lmdb.Environment,
        config: PostingsConfig = PostingsConfig(),
        create: bool = True,
        txn: lmdb.Transaction | None = None,
    ) -> None:
        """Open (or create) the postings database; pass ``txn`` when a write transaction is open
        (LMDB would otherwise deadlock starting a second one)."""
        self.env = env
        self.config = config
        self.db = env.open_db(DB_NAME, txn=txn, dupsort=True, dupfixed=True, integerkey=True, create=create)

    def add(self, txn: lmdb.Transaction, asset_num: int, fp: Fingerprint) -> int:
        """Insert every (hash, time) of ``fp`` for ``asset_num`` (write txn); returns rows added."""
        if not 0 <= asset_num < 2**32:
            raise ValueError(f"expected asset_num in [0, 2**32), got {asset_num}")
        if len(fp) == 0:
            return 0
        order = np.lexsort((fp.times, fp.hashes))
        values = np.empty(len(fp), dtype=[("asset", ">u4"), ("time", ">u4")])
        values["asset"] = asset_num
        values["time"] = fp.times[order]
        raw = values.tobytes()
        keys = _keys(fp.hashes[order])
        items = [(keys[i], raw[8 * i : 8 * i + 8]) for i in range(len(keys))]
        _, added = txn.cursor(self.db).putmulti(items, dupdata=True, overwrite=True)
        return int(added)

    def remove(self, txn: lmdb.Transaction, asset_num: int, hashes: Fingerprint | np.ndarray) -> int:
        """Delete every row of ``asset_num`` under the given hashes (write txn); returns rows deleted."""
        hash_array = hashes.hashes if isinstance(hashes, Fingerprint) else np.asarray(hashes, dtype=np.uint32)
        prefix = int(asset_num).to_bytes(4, "big")
        cursor = txn.cursor(self.db)
        deleted = 0
        for key in _keys(np.unique(hash_array)):
            if not cursor.set_range_dup(key, prefix + b"\x00\x00\x00\x00"):
                continue
            while cursor.key() == key and cursor.value()[:4] == prefix:
                cursor.delete()  # moves to the next duplicate, or past the key
                deleted += 1
                if cursor.key() != key:
                    break
        return deleted

    def lookup(self, txn: lmdb.Transaction, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Postings of ``hashes`` uint32 (m,), skipping hashes with more than the cap.

        Returns (query_index int64 (k,) into ``hashes``, asset_num int64 (k,),
        time int64 (k,) in frames).
        """
        hashes = np.asarray(hashes, dtype=np.uint32)
        uniq, inverse = np.unique(hashes, return_inverse=True)
        cursor = txn.cursor(self.db)
        cap = self.config.max_postings_per_hash
        wanted = [key for key in _keys(uniq) if cursor.set_key(key) and cursor.count() <= cap]
        if not wanted:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        rows = np.frombuffer(cursor.getmulti(wanted, dupdata=True, dupfixed_bytes=8, keyfixed=True), dtype=_ROW)
        # Expand each posting to every query row carrying its hash.
        uniq_index = np.searchsorted(uniq, rows["hash"])
        order = np.argsort(inverse, kind="stable")
        starts = np.searchsorted(inverse[order], np.arange(uniq.shape[0]), side="left")
        counts = np.bincount(inverse, minlength=uniq.shape[0])
        per_row = counts[uniq_index]
        row_rep = np.repeat(np.arange(rows.shape[0]), per_row)
        within = np.arange(row_rep.shape[0]) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        query_index = order[np.repeat(starts[uniq_index], per_row) + within]
        return (
            query_index.astype(np.int64),
            rows["asset"][row_rep].astype(np.int64),
            rows["time"][row_rep].astype(np.int64),
        )

    def stats(self, txn: lmdb.Transaction) -> dict[str, int]:
        """Rows, B-tree depth and bytes in the pages LMDB counts for this database.

        The byte figure is indicative (LMDB keeps long duplicate lists in
        sub-databases it may count apart); ``benchmarks.audio_bench`` measures
        the environment file instead.
        """
        st = txn.stat(self.db)
        pages = st["branch_pages"] + st["leaf_pages"] + st["overflow_pages"]
        return {"rows": int(st["entries"]), "bytes": int(pages * st["psize"]), "depth": int(st["depth"])}
