"""The one table from nearmatch errors to gRPC status codes; the client's inverse is derived from it."""

from __future__ import annotations

import grpc

from indexer.errors import (BadInputError, CatalogBusyError, CatalogMismatchError, LimitExceededError,
                            NearmatchError, NotFoundError, PermissionDeniedError)

STATUS_OF_ERROR: dict[type[NearmatchError], grpc.StatusCode] = {
    BadInputError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    LimitExceededError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    CatalogMismatchError: grpc.StatusCode.FAILED_PRECONDITION,
    CatalogBusyError: grpc.StatusCode.ABORTED,  # a concurrency conflict: retry when the other user is done
}

ERROR_OF_STATUS: dict[grpc.StatusCode, type[NearmatchError]] = {code: cls for cls, code in STATUS_OF_ERROR.items()}
assert len(ERROR_OF_STATUS) == len(STATUS_OF_ERROR), "each error class needs its own status code"

ERROR_OF_NAME: dict[str, type[NearmatchError]] = {cls.__name__: cls for cls in STATUS_OF_ERROR}


def status_of(error: NearmatchError) -> grpc.StatusCode:
    """The status code of ``error``: that of its nearest class in the table (INVALID_ARGUMENT for the base)."""
    for cls in type(error).__mro__:
        if cls in STATUS_OF_ERROR:
            return STATUS_OF_ERROR[cls]
    return grpc.StatusCode.INVALID_ARGUMENT
