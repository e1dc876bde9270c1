"""The exception hierarchy of nearmatch.

Every error a user can cause derives from ``NearmatchError``. The CLI maps them
to exit codes once (``search.cli.exit_codes``) and the gRPC server maps them to status
codes once (``search.service.status``). Messages read "expected X, got Y" where they can.
"""


class NearmatchError(Exception):
    """Base class of every error nearmatch reports to a user."""


class BadInputError(NearmatchError):
    """The media or request cannot be used: undecodable, empty, wrong format, bad argument."""


class NotFoundError(NearmatchError):
    """An asset id, file or catalog that was asked for does not exist."""


class LimitExceededError(NearmatchError):
    """The input is past a size, pixel, duration or count cap."""


class CatalogMismatchError(NearmatchError):
    """The catalog was built with another extractor or an unreadable schema version."""


class PermissionDeniedError(NearmatchError):
    """A URL points at a blocked address, or a server-side path is not allowed."""


class CatalogBusyError(NearmatchError):
    """The catalog is in use in a way that excludes the request (compaction while it is open, or the reverse)."""
