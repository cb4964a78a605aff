"""Confinement: every path the store takes from its own files must stay inside it.

Part of the store package (only the store knows the on-disk layout). The journal,
the manifest and the directory listings are data that a crash, a damaged disk or
someone with write access to the store can change, so no name read from them is
trusted: a part must look like `events/month=YYYY-MM/part-<id>.parquet`, a
quarantine file like `quarantine/q-<id>.parquet`, and no component between the
store root and the file may be a symlink. Anything else stops the command with a
one-line StoreError naming the path, before anything is deleted, renamed or
chmod'ed. The store root itself may be a symlink (a configured
`/var/lib/surfaudit -> /data/surfaudit` is an administrator's choice).
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

from surfaudit import clock
from surfaudit.errors import StoreError

PART_NAME = re.compile(r"events/month=(\d{4}-(?:0[1-9]|1[0-2]))/part-[0-9A-Za-z][0-9A-Za-z-]*\.parquet")
QUARANTINE_NAME = re.compile(r"quarantine/q-[0-9A-Za-z][0-9A-Za-z-]*\.parquet")
TX_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]*")
_TX_TIME = "%Y%m%dT%H%M%S"


def new_tx_id(kind: str = "") -> str:
    """A transaction id, one format for both backends: its UTC second first (ids sort by
    time and `tx_time` reads it back from a file name), then 10 random hex digits so two
    runs in the same second differ, then `kind` when given (upkeep commits name theirs)."""
    tx = datetime.now(timezone.utc).strftime(_TX_TIME) + "-" + uuid.uuid4().hex[:10]
    return f"{tx}-{kind}" if kind else tx


def repair_record(removes: list[str], why: str) -> dict:
    """The committed record of `verify --repair` dropping the parts `removes` (both backends)."""
    return {"tx": new_tx_id("repair"), "kind": "repair", "at": record_time(),
            "why": why, "parts": [], "removes": list(removes), "quarantine": []}


def tx_time(name: str) -> datetime:
    """The UTC time in a `<prefix>-<tx id>` file stem such as `q-<tx>` (ValueError if none)."""
    stem = name.rsplit("/", 1)[-1].split("-", 1)[-1]
    return datetime.strptime(stem[:15], _TX_TIME).replace(tzinfo=timezone.utc)


def symlink_error(path: Path) -> StoreError:
    return StoreError(f"{path}: is a symlink; refusing to use it (nothing inside a store may be a symlink)")


def refuse_symlink(path: Path) -> None:
    """StoreError when `path` itself is a symlink (a missing path is fine)."""
    if path.is_symlink():
        raise symlink_error(path)


def no_symlink_below(root: Path, path: Path) -> None:
    """StoreError when any component of `path` below `root` is a symlink."""
    rel = path.relative_to(root)
    current = root
    for part in rel.parts:
        current = current / part
        refuse_symlink(current)


def confined(root: Path, rel: object, source: str, *, quarantine: bool = False) -> Path:
    """The absolute path of a store file named `rel` by `source` (a journal, the manifest).

    Only the store's own name patterns are accepted, so `..`, absolute paths and any
    other file are refused; no component may be a symlink.
    """
    ok = isinstance(rel, str) and (PART_NAME.fullmatch(rel) or (quarantine and QUARANTINE_NAME.fullmatch(rel)))
    if not ok:
        shown = rel if isinstance(rel, str) else type(rel).__name__
        raise StoreError(f"{source}: names {shown!r}, which is not a file of this store; refusing to touch it")
    path = root / rel
    no_symlink_below(root, path)
    return path


def month_of(rel: str) -> str:
    """The month of a part name already accepted by `confined`."""
    match = PART_NAME.fullmatch(rel)
    if not match:
        raise StoreError(f"{rel!r} is not a part of this store")
    return match.group(1)


def open_private(path: Path, flags: int, mode: int = 0o600) -> int:
    """os.open that never follows a symlink at `path` (ELOOP becomes a StoreError)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno == 40 or path.is_symlink():  # ELOOP
            raise symlink_error(path) from None
        raise


def flock_within(fd: int, wait: float, poll: float = 0.05) -> bool:
    """Take an exclusive flock on `fd`, trying for up to `wait` seconds; False if not had."""
    import fcntl
    import time

    deadline = time.monotonic() + (wait or 0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)


def record_time() -> str:
    """The instant a commit record carries: `clock.now()`, so that $SURFAUDIT_NOW (a
    re-run of a missed night, a test) dates the commit as it dates the audit entry
    (the summary's files and runs of a date agree); transaction ids stay on the real
    clock (they must sort and never collide)."""
    return clock.now().isoformat(timespec="seconds")
