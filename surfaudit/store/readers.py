"""Readers and deleters: a part a reader may still use is never deleted under it.

Part of the store package. A report reads ONE manifest state and
then opens that state's parts, lazily, for as long as its DuckDB connection lives;
compaction and purge meanwhile commit records that replace parts. So:

* a reader takes a shared `flock` on `<store>/readers.lock` BEFORE it reads the
  manifest and keeps it until its connection is gone (`pin`) or its block ends
  (`reading`);
* a committed record's `removes` make parts invisible at once, but the files stay
  where they are ("retired") until `sweep` gets the lock exclusively, without
  waiting long: then no reader is active, and every reader that starts later reads
  a manifest that no longer names them. When a reader is active the deletion is
  deferred to the next sweep (every commit, every `lock()`, the end of every purge).

A reader never blocks a writer: writers only append to the manifest; only the
deletion of retired files waits for readers.
"""

from __future__ import annotations

import errno
import fcntl
import os
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from surfaudit.store.paths import flock_within, open_private

if TYPE_CHECKING:
    from surfaudit.store import Store


def _open(store: "Store") -> int | None:
    """The readers lock file, created if possible; None when the store cannot have one
    (it does not exist, or it is read-only: then nothing can be deleted under us either)."""
    if not store.root.is_dir():
        return None
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            return open_private(store.readers_path, flags)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EROFS, errno.EPERM, errno.ENOENT):
                raise
    return None


def _shared(store: "Store") -> int | None:
    fd = _open(store)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a sweep unlinks files (milliseconds)
    return fd


def pin(store: "Store", owner: object) -> None:
    """Hold a shared reader lock for as long as `owner` (a DuckDB connection) lives."""
    fd = _shared(store)
    if fd is not None:
        weakref.finalize(owner, os.close, fd)


@contextmanager
def reading(store: "Store") -> Iterator[None]:
    """Hold a shared reader lock for the block."""
    fd = _shared(store)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def sweep(store: "Store", wait: float = 0.0) -> tuple[int, int]:
    """Delete retired parts when no reader is active; returns (deleted, deferred)."""
    retired = store.retired_parts()
    if not retired:
        return 0, 0
    fd = _open(store)
    if fd is None:
        return 0, len(retired)
    try:
        if not flock_within(fd, wait):
            return 0, len(retired)
        retired = store.retired_parts()  # re-read under the lock
        for path in retired:
            path.unlink(missing_ok=True)
        store.remove_empty_months()
        return len(retired), 0
    finally:
        os.close(fd)
