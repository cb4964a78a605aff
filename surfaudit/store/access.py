"""Before a command touches a store: is there one, and is it ours?

A store is private to the operating-system user who owns it (directories 0700, files
0600). Run as anyone else, reading fails half-way with an I/O error and writing would
leave files the owner cannot read back (the nightly job would then fail), so every
command stops first with one line saying whose store it is (exit 2). This holds for
root too: root could read and write, but the files it created would belong to root.

Read commands (reports, export, audit) also stop when there is no store at the path:
an empty report of a mistyped `--store` would look like "nobody did anything". Commands
that write (ingest, nightly, purge) create the store when it is missing.

`reading(store)` wraps a report or an export: a damaged or unreadable part becomes one
line naming the part instead of `internal error (InvalidInputException)`.
"""

from __future__ import annotations

import errno
import os
import pwd
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from surfaudit.errors import StoreError, UsageError


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_store(store, *, must_exist: bool) -> None:
    """UsageError (exit 2) when the store belongs to another user, is not a directory,
    or (with `must_exist`) does not exist."""
    root = store.root
    try:
        st = os.stat(root)
    except FileNotFoundError:
        if must_exist:
            raise UsageError(f"{root}: no store here (check --store or [store].path; "
                             "`surfaudit ingest` creates it)") from None
        return
    except PermissionError:
        raise UsageError(f"{root}: cannot reach the store (Permission denied on a directory above it)") from None
    except NotADirectoryError:
        raise UsageError(f"{root}: is not a directory (the store is a directory)") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{root}: is not a directory (the store is a directory)")
    me = os.geteuid()
    if st.st_uid != me:
        owner = _user_name(st.st_uid)
        raise UsageError(f"{root}: the store belongs to {owner} (uid {st.st_uid}), not to {_user_name(me)}; "
                         f"run surfaudit as {owner}")
    if not os.access(root, os.R_OK | os.X_OK):
        raise UsageError(f"{root}: cannot read the store (its permissions were changed)")
    if must_exist and not store.exists():
        raise UsageError(f"{root}: not a surfaudit store (no events/ directory; `surfaudit ingest` creates one)")


_PART = re.compile(r"(/[^\"'\s]+\.parquet)")


@contextmanager
def reading(store) -> Iterator[None]:
    """Turn a damaged or unreadable part met while reading into one line naming it.

    DuckDB reports a truncated or garbled Parquet file as IOException or
    InvalidInputException with the file's path in the message; the line names that
    part (relative to the store) and the error type, never the rest of the message."""
    import duckdb

    try:
        yield
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.PermissionException) as exc:
        raise StoreError(f"{_part_named(store, str(exc))}: cannot read this part of the store "
                         f"({type(exc).__name__}); the store is damaged (see `surfaudit verify`)") from None
    except duckdb.Error as exc:  # e.g. "TProtocolException: Invalid data": no path; the checksums find the part
        bad = store.find_damaged_part()
        if bad is None:
            raise
        raise StoreError(f"{bad.relative_to(store.root)}: cannot read this part of the store "
                         f"({type(exc).__name__}); the store is damaged (see `surfaudit verify`)") from None
    except PermissionError as exc:
        raise StoreError(f"{exc.filename or store.root}: cannot read it (Permission denied)") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC or exc.filename is None:
            raise
        raise StoreError(f"{exc.filename}: cannot read it ({exc.strerror or type(exc).__name__})") from None


def _part_named(store, message: str) -> str:
    m = _PART.search(message)
    if not m:
        return str(store.root)
    path = Path(m.group(1))
    try:
        return str(path.relative_to(store.root.resolve() if not path.is_relative_to(store.root) else store.root))
    except ValueError:
        return str(path)
