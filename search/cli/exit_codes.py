"""The one table from outcomes to the ``nearmatch`` exit codes, the same locally and over ``--server``.

0 every item done (ingested, skipped unchanged, deleted); 1 an internal error
(a fault in nearmatch, locally or in the server); 2 bad input (one line on
stderr names the problem); 3 partial failure: some items of a batch failed
and are listed, the others were done.
"""

from __future__ import annotations

from typing import Any

import grpc

from indexer.errors import NearmatchError
from search.service.client import ServiceError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_PARTIAL = 0, 1, 2, 3

# Server answers that mean a fault on the server's side, not in the request.
_INTERNAL_STATUSES = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS})


def exit_code_of(error: NearmatchError) -> int:
    """Exit code of a reported error: bad input, unless a server says the fault was its own."""
    if isinstance(error, ServiceError) and error.code in _INTERNAL_STATUSES:
        return EXIT_INTERNAL
    return EXIT_BAD_INPUT


def batch_exit_code(report: dict[str, Any]) -> int:
    """0 when nothing in the batch failed, 3 (partial failure) otherwise."""
    return EXIT_PARTIAL if report.get("failed") else EXIT_OK
