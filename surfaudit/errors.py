"""Errors that end a command, each carrying the exit code the CLI maps it to.

The library raises these with a one-line, privacy-safe message (file and line or
config key, never URLs or user names); the CLI prints the message and exits with
`exit_code`. Anything else escaping to the CLI is a bug, reported on one line too.
"""


class SurfauditError(Exception):
    """Base class: a one-line message and an exit code (DESIGN §7)."""

    exit_code = 1


class InputError(SurfauditError):
    """A file could not be read or was rejected whole (exit 1)."""

    exit_code = 1


class UsageError(SurfauditError):
    """Bad command-line usage, e.g. a malformed date (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration problem; the message names the key (exit 2)."""


class NoDataError(SurfauditError):
    """The command finished but there was nothing to report/export (exit 1)."""

    exit_code = 1


class StoreError(SurfauditError):
    """The store holds something unexpected (stray file, symlink) or a write failed (exit 1)."""

    exit_code = 1


class CommittedError(StoreError):
    """A write failed after its commit landed: the data is stored (an ingest counts its rows)."""


class ResourceError(SurfauditError):
    """The machine's limits stopped the command, e.g. a query over its memory limit (exit 1)."""

    exit_code = 1


class LockedError(SurfauditError):
    """Another run holds the store lock (exit 3)."""

    exit_code = 3


class OutputError(SurfauditError):
    """A file could not be written where asked (surfaudit.atomic): exit 2 when the place
    is wrong (missing directory, a directory, no permission), 1 when the write failed."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
