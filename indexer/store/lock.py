"""A lock on a catalog directory across processes: any number of users at once, or one compaction alone.

LMDB lets many processes share a catalog, but compaction replaces the LMDB
file, so nothing may have the catalog open while it runs. Every ``Catalog``
holds a shared lock on ``catalog.lock``; compaction takes it exclusively.
The operating system drops the lock when a process exits, so a crash never
leaves a catalog locked.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from indexer.errors import CatalogBusyError

LOG = logging.getLogger(__name__)

LOCK_FILE = "catalog.lock"


class CatalogLock:
    """Held from construction until ``release``; ``exclusive`` for compaction, shared otherwise."""

    def __init__(self, catalog_dir: Path, exclusive: bool = False) -> None:
        self._fd: int | None = os.open(catalog_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            if exclusive:
                raise CatalogBusyError(f"expected no other user of the catalog at {catalog_dir}, got it open "
                                       "elsewhere (a server or another command); stop it, then compact") from None
            raise CatalogBusyError(f"expected the catalog at {catalog_dir} to be free, got it being compacted; "
                                   "open it when the compaction has finished") from None
        except OSError as exc:  # a file system without locks (some network mounts)
            os.close(self._fd)
            self._fd = None
            if exclusive:
                raise CatalogBusyError(f"expected to lock {catalog_dir / LOCK_FILE} before compacting, got {exc}; "
                                       "compact a copy of the catalog on a local disk") from exc
            LOG.warning("cannot lock %s (%s): compaction will not be kept out", catalog_dir / LOCK_FILE, exc)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


WRITER_LOCK_FILE = "writer.lock"


class WriterLock:
    """One writing process per catalog: held exclusively by whoever opens the catalog to write.

    A second writer would change LMDB behind the first one's in-memory FAISS
    index, which the first then saves as if it were current (the asset becomes
    unsearchable for good). So a second writer is refused, naming the holder,
    whose pid and command line the lock file holds.
    """

    def __init__(self, catalog_dir: Path) -> None:
        path = catalog_dir / WRITER_LOCK_FILE
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 4096, 0).decode(errors="replace").strip() or "another process"
            self.release()
            raise CatalogBusyError(
                f"expected to be the only writer of the catalog at {catalog_dir}, got it open for writing by "
                f"{holder}; send the command to that server with --server HOST:PORT, or stop it first") from None
        except OSError as exc:  # a file system without locks: other writers cannot be kept out
            LOG.warning("cannot lock %s (%s): run one writer at a time on this catalog", path, exc)
            return
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"pid {os.getpid()} ({_command_line()})".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _command_line() -> str:
    try:
        raw = Path(f"/proc/{os.getpid()}/cmdline").read_bytes()
    except OSError:
        return "unknown command"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)[:300]
