"""Audio hash postings in LMDB: hash -> sorted (asset_num, time) rows, on disk and bounded in RAM.

One named database (``DB_NAME``) opened with ``dupsort``, ``dupfixed`` and
``integerkey``. Rows are bucketed: the key is ``hash >> KEY_SHIFT`` as a
native uint32 (LMDB's integer keys), and each duplicate value is 9 bytes, a
72-bit big-endian integer ``low << 57 | asset_num << 25 | time``, where
``low`` is the hash's low 15 bits, ``asset_num`` a full uint32 and ``time``
the anchor time in fingerprint frames (``TIME_BITS`` = 25 bits: 149 h at
16 ms, so hour-long assets never alias; ``add`` refuses later times).

Why buckets: with one key per 31-bit hash almost every key held one row and
paid LMDB's per-node overhead (node header, key, slot: 22+ bytes) on top of
its 8-byte value. Fewer keys (at most 2**17 for 32-bit hashes), each with several
fixed-size duplicates, let LMDB pack the values with no per-row header. Measured on
the audio benchmark's 2.3 h of music at 69 rows/s, live MB per hour for a key of
hash >> 12 / 13 / 14 / 15 / 16: 5.28 / 4.94 / 4.62 / 4.38 / 4.42 (lookup 39 to 42 ms).
Values sort by (low bits, asset, time), so the rows of one hash are
contiguous within its bucket: ``lookup`` reads a small bucket whole in one
``getmulti`` and selects the wanted hashes with numpy, or seeks a large one
hash by hash (``set_range_dup``), reading at most cap + 1 rows per hash.

How the catalog uses it (inside its own write transaction):

- ingest: ``postings.add(txn, asset_num, fp)`` and keep
  ``pack_hash_set(fp)`` with the asset record (about 1.5 bytes per row, measured)
  so the asset can be removed without its source;
- delete / replace: ``postings.remove(txn, asset_num, unpack_hash_set(blob))``;
- search: ``postings.lookup(txn, hashes)`` in a read transaction.

Construct ``AudioPostings`` before opening a transaction (or pass the open
write transaction as ``txn``): LMDB deadlocks when a named database is opened
in a second write transaction. The format is versioned: the catalog stores
``FORMAT_VERSION`` and refuses a mismatch (version 1 had one key per hash).

Known problem: a compacting copy (``env.copy(path, compact=True)``, ``mdb_copy -c``)
with the LMDB 0.9.36 bundled in py-lmdb 3.0.0 segfaults once a key's duplicates
outgrow a page into a ``dupfixed`` sub-database, which this layout reaches at
any realistic size (version 1 would too, for a hash past ~250 rows). A plain copy
works, and ``indexer.store.compact`` rewrites a catalog record by record instead.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import zlib

import lmdb
import numpy as np

from indexer.features.audio_fingerprint import Fingerprint

LOG = logging.getLogger(__name__)

DB_NAME = b"audio_postings"
FORMAT_VERSION = 2
KEY_SHIFT = 15  # hash bits kept in the value; the key is the rest (2**17 keys at most for 32-bit hashes)
TIME_BITS = 40 - KEY_SHIFT  # 72 value bits in all: anchor times < 2**25 frames (149 h at 16 ms)
MAX_TIME = 2**TIME_BITS - 1
_LOW_MASK = (1 << KEY_SHIFT) - 1
# A value is 72 bits: the first 8 bytes hold low | asset | time >> 8, the ninth byte time & 0xff.
_VALUE = np.dtype([("hi", ">u8"), ("lo", "u1")])
_ROW = np.dtype([("key", "=u4"), ("hi", ">u8"), ("lo", "u1")])  # a getmulti(keyfixed) row
_VALUE_BYTES = _VALUE.itemsize
_ASSET_SHIFT = TIME_BITS - 8  # asset position within "hi"
_LOW_SHIFT = _ASSET_SHIFT + 32  # low-bit position within "hi"
# A bucket is read whole when it holds at most this many rows per wanted hash (plus
# _WHOLE_BUCKET_ROWS): one seek and a few Python calls cost roughly as much as that many
# rows copied and filtered with numpy (an estimate, not tuned; both paths give the same rows).
_ROWS_PER_SEEK = 64
_WHOLE_BUCKET_ROWS = 256


@dataclasses.dataclass(frozen=True)
class PostingsConfig:
    max_postings_per_hash: int = 2000  # hashes with more rows are skipped at query time (too common)

    def __post_init__(self) -> None:
        if self.max_postings_per_hash < 1:
            raise ValueError(f"expected max_postings_per_hash >= 1, got {self.max_postings_per_hash}")


def _encode(low: np.ndarray, asset_num: np.ndarray | int, times: np.ndarray) -> np.ndarray:
    """Values of rows: low hash bits, asset_num and times, each broadcastable int; returns _VALUE (n,)."""
    times = np.asarray(times, dtype=np.uint64)
    values = np.empty(times.shape, dtype=_VALUE)
    values["hi"] = (
        (np.asarray(low, dtype=np.uint64) << np.uint64(_LOW_SHIFT))
        | (np.asarray(asset_num, dtype=np.uint64) << np.uint64(_ASSET_SHIFT))
        | (times >> np.uint64(8))
    )
    values["lo"] = times & np.uint64(0xFF)
    return values


def _value_bytes(low: int, asset_num: int, time: int) -> bytes:
    if low > _LOW_MASK:  # just past the last hash of a bucket: above every value
        return b"\xff" * (_VALUE_BYTES + 1)
    return ((low << (_LOW_SHIFT + 8)) | (asset_num << TIME_BITS) | time).to_bytes(_VALUE_BYTES, "big")


def _key_bytes(buckets: np.ndarray) -> list[bytes]:
    raw = np.ascontiguousarray(buckets, dtype="=u4").tobytes()
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
        """Insert every (hash, time) of ``fp`` for ``asset_num`` (write txn); returns rows added.

        Raises ValueError for an asset_num outside [0, 2**32) or a time past ``MAX_TIME`` frames.
        """
        if not 0 <= asset_num < 2**32:
            raise ValueError(f"expected asset_num in [0, 2**32), got {asset_num}")
        if len(fp) == 0:
            return 0
        last = int(fp.times.max())
        if last > MAX_TIME:
            raise ValueError(
                f"expected anchor times <= {MAX_TIME} frames ({MAX_TIME * fp.frame_s / 3600:.0f} h), "
                f"got {last} ({last * fp.frame_s / 3600:.1f} h): split the asset"
            )
        order = np.lexsort((fp.times, fp.hashes))
        hashes = fp.hashes[order]
        raw = _encode(hashes & np.uint32(_LOW_MASK), asset_num, fp.times[order]).tobytes()
        keys = _key_bytes(hashes >> np.uint32(KEY_SHIFT))
        n = _VALUE_BYTES
        items = [(key, raw[n * i : n * i + n]) for i, key in enumerate(keys)]
        _, added = txn.cursor(self.db).putmulti(items, dupdata=True, overwrite=True)
        return int(added)

    def remove(self, txn: lmdb.Transaction, asset_num: int, hashes: Fingerprint | np.ndarray) -> int:
        """Delete every row of ``asset_num`` under the given hashes (write txn); returns rows deleted."""
        hash_array = hashes.hashes if isinstance(hashes, Fingerprint) else np.asarray(hashes, dtype=np.uint32)
        cursor = txn.cursor(self.db)
        deleted = 0
        for h in np.unique(hash_array).tolist():
            key = (h >> KEY_SHIFT).to_bytes(4, "little" if np.little_endian else "big")
            low = h & _LOW_MASK
            last = _value_bytes(low, asset_num, MAX_TIME)
            if not cursor.set_range_dup(key, _value_bytes(low, asset_num, 0)):
                continue
            while cursor.value() <= last:
                cursor.delete()  # moves to the next duplicate, or past the key
                deleted += 1
                if cursor.key() != key:
                    break
        return deleted

    def lookup(self, txn: lmdb.Transaction, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Postings of ``hashes`` uint32 (m,), skipping hashes with more than the cap.

        Returns (query_index int64 (k,) into ``hashes``, asset_num int64 (k,),
        time int64 (k,) in frames): every row of a hash, once per query row carrying it.
        """
        hashes = np.asarray(hashes, dtype=np.uint32)
        uniq, inverse = np.unique(hashes, return_inverse=True)
        cursor = txn.cursor(self.db)
        cap = self.config.max_postings_per_hash
        buckets, first, wanted = np.unique(uniq >> np.uint32(KEY_SHIFT), return_index=True, return_counts=True)
        whole, seek = [], []
        for key, lo, n in zip(_key_bytes(buckets), first.tolist(), wanted.tolist()):
            if cursor.set_key(key):
                (whole if cursor.count() <= _WHOLE_BUCKET_ROWS + _ROWS_PER_SEEK * n else seek).append((key, lo, n))
        parts = [self._read_whole(cursor, [key for key, _, _ in whole], uniq, cap)]
        if seek:
            parts.append(self._read_seek(cursor, seek, uniq, cap))
        uniq_index = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts])
        # Expand each posting to every query row carrying its hash.
        order = np.argsort(inverse, kind="stable")
        starts = np.searchsorted(inverse[order], np.arange(uniq.shape[0]), side="left")
        counts = np.bincount(inverse, minlength=uniq.shape[0])
        per_row = counts[uniq_index]
        row_rep = np.repeat(np.arange(values.shape[0]), per_row)
        within = np.arange(row_rep.shape[0]) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        query_index = order[np.repeat(starts[uniq_index], per_row) + within]
        hi = values["hi"][row_rep]
        asset = (hi >> np.uint64(_ASSET_SHIFT)) & np.uint64(0xFFFFFFFF)
        time = ((hi & np.uint64((1 << _ASSET_SHIFT) - 1)) << np.uint64(8)) | values["lo"][row_rep]
        return query_index.astype(np.int64), asset.astype(np.int64), time.astype(np.int64)

    @staticmethod
    def _read_whole(cursor: lmdb.Cursor, keys: list[bytes], uniq: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the wanted hashes ``uniq`` (sorted uint32) in whole buckets ``keys``: (index into uniq int64 (k,), _VALUE (k,))."""
        if not keys:
            return np.zeros(0, np.int64), np.zeros(0, _VALUE)
        rows = np.frombuffer(cursor.getmulti(keys, dupdata=True, dupfixed_bytes=_VALUE_BYTES, keyfixed=True), dtype=_ROW)
        full = (rows["key"].astype(np.uint64) << np.uint64(KEY_SHIFT)) | (rows["hi"] >> np.uint64(_LOW_SHIFT))
        index = np.minimum(np.searchsorted(uniq, full), uniq.shape[0] - 1)
        keep = uniq[index] == full
        rows, index = rows[keep], index[keep]
        # Rows come sorted by hash (keys ascending, values by low bits): one run per hash.
        bounds = np.flatnonzero(np.diff(index, prepend=-1, append=-1))
        run = np.diff(bounds)
        keep = np.repeat(run <= cap, run)
        values = np.empty(int(keep.sum()), _VALUE)
        values["hi"], values["lo"] = rows["hi"][keep], rows["lo"][keep]
        return index[keep], values

    @staticmethod
    def _read_seek(
        cursor: lmdb.Cursor, buckets: list[tuple[bytes, int, int]], uniq: np.ndarray, cap: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the wanted hashes of large buckets, one ``set_range_dup`` per hash, at most cap + 1 rows read each.

        ``buckets``: (key, first index into ``uniq``, count of wanted hashes). Returns as ``_read_whole``.
        """
        chunks: list[bytes] = []
        index: list[int] = []
        found: list[int] = []
        for key, lo, n in buckets:
            for i in range(lo, lo + n):
                low = int(uniq[i]) & _LOW_MASK
                if not cursor.set_range_dup(key, _value_bytes(low, 0, 0)):
                    continue
                end = _value_bytes(low + 1, 0, 0)
                run = list(itertools.islice(itertools.takewhile(end.__gt__, cursor.iternext_dup(keys=False)), cap + 1))
                if 0 < len(run) <= cap:
                    chunks.extend(run)
                    index.append(i)
                    found.append(len(run))
        values = np.frombuffer(b"".join(chunks), dtype=_VALUE)
        return np.repeat(np.array(index, np.int64), found), values

    def stats(self, txn: lmdb.Transaction) -> dict[str, int]:
        """Rows, B-tree depth and bytes of the pages in use by this database.

        The page counts include the sub-databases of long duplicate lists (checked:
        100k values under one key count 441 leaf pages); ``benchmarks.audio_bench``
        reports them as live bytes. A copy written in key order (``indexer.store.compact``)
        fills its pages fuller and is smaller still.
        """
        st = txn.stat(self.db)
        pages = st["branch_pages"] + st["leaf_pages"] + st["overflow_pages"]
        return {"rows": int(st["entries"]), "bytes": int(pages * st["psize"]), "depth": int(st["depth"])}
