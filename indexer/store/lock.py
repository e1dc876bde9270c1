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
