"""Compaction: rewrite a catalog's LMDB file with nothing but its records, densely packed.

LMDB never shrinks its file, and pages a write frees stay in it for reuse. The
audio postings make this costly: every asset's hashes land across the whole
key space, so a catalog ingested one asset per transaction ends at about
twice its live pages (results/audio.md). ``mdb_copy -c`` would rewrite it,
but the LMDB bundled with py-lmdb 3.0.0 crashes on that once dupfixed
sub-databases exist, so the copy is made here record by record, in key
order, with appending puts that fill every page. The FAISS files are left
alone: vector ids live in LMDB and are copied unchanged.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import lmdb

from indexer.store.lock import CatalogLock
from indexer.errors import NotFoundError

LOG = logging.getLogger(__name__)

_MAX_DBS = 16  # as Catalog opens it
_RECORDS_PER_TXN = 200_000  # bounds the dirty pages of one write transaction


@dataclasses.dataclass(frozen=True)
class CompactReport:
    bytes_before: int
    bytes_after: int
    seconds: float

    def to_dict(self) -> dict[str, float]:
        return {"bytes_before": self.bytes_before, "bytes_after": self.bytes_after, "seconds": round(self.seconds, 3)}


def compact_catalog(catalog_dir: str | Path) -> CompactReport:
    """Rewrite the catalog's LMDB file compactly; refused while anything has the catalog open.

    The copy is written beside the original, checked record count by record
    count, and swapped in with one atomic rename: an interrupted compaction
    leaves the original as it was.
    """
    started = time.perf_counter()
    catalog_dir = Path(catalog_dir)
    lmdb_dir = catalog_dir / "lmdb"
    if not (lmdb_dir / "data.mdb").exists():
        raise NotFoundError(f"expected a catalog at {catalog_dir}, got no catalog there (ingest into it first)")
    lock = CatalogLock(catalog_dir, exclusive=True)
    try:
        before = (lmdb_dir / "data.mdb").stat().st_size
        scratch = catalog_dir / "lmdb.compacting"
        shutil.rmtree(scratch, ignore_errors=True)  # left by an interrupted compaction
        scratch.mkdir()
        source = lmdb.open(str(lmdb_dir), max_dbs=_MAX_DBS, subdir=True, readonly=True)
        try:
            copy_compact(source, scratch)
        finally:
            source.close()
        os.replace(scratch / "data.mdb", lmdb_dir / "data.mdb")
        shutil.rmtree(scratch, ignore_errors=True)
        after = (lmdb_dir / "data.mdb").stat().st_size
    finally:
        lock.release()
    LOG.info("compacted %s: %d -> %d bytes", catalog_dir, before, after)
    return CompactReport(before, after, time.perf_counter() - started)


def copy_compact(source: lmdb.Environment, target_dir: Path) -> None:
    """Copy every record of ``source`` (named databases with their flags) into a new LMDB at ``target_dir``."""
    target = lmdb.open(str(target_dir), map_size=source.info()["map_size"], max_dbs=_MAX_DBS, subdir=True)
    try:
        with source.begin() as txn:
            plain, named = _main_records(source, txn)
            _append_all(target, None, iter(plain))
            for name, db in named:
                target_db = target.open_db(name, **db.flags(txn))
                _append_all(target, target_db, txn.cursor(db).iternext(keys=True, values=True))
                expected = txn.stat(db)["entries"]
                with target.begin() as check:
                    copied = check.stat(target_db)["entries"]
                if copied != expected:
                    raise RuntimeError(f"compaction copied {copied} of {expected} records of {name!r}; "
                                       "the catalog was left as it was")
        target.sync(True)
    finally:
        target.close()


def _main_records(env: lmdb.Environment, txn: lmdb.Transaction) -> tuple[list[tuple[bytes, bytes]], list]:
    """The main database's plain records, and its named databases (which are records of it too)."""
    plain, named = [], []
    for key, value in txn.cursor():
        try:
            named.append((key, env.open_db(key, txn=txn, create=False)))
        except lmdb.IncompatibleError:  # a plain value, not a database
            plain.append((key, value))
    return plain, named


def _append_all(env: lmdb.Environment, db: Any, records: Iterator[tuple[bytes, bytes]]) -> None:
    """Write ``records`` (in key order) at the end of ``db``, a bounded number per transaction."""
    while True:
        chunk = list(itertools.islice(records, _RECORDS_PER_TXN))
        if not chunk:
            return
        with env.begin(write=True, db=db) as txn:
            txn.cursor(db=db).putmulti(chunk, append=True)
