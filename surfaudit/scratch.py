"""Private scratch directories in the system's temporary directory, and the sweep of
those a killed run left behind.

Why: DuckDB spills rows there, an ingest into an `s3://` store spools its month files
there and Spark keeps a warehouse there; all of it is personal data. A run removes its
own directory when it ends, but a run killed with SIGKILL (the OOM killer, a timeout,
a technician's `kill -9`) cannot. So each directory's name carries its process id and
a tag of the host, and the first directory a later run makes on that host removes the
ones of processes that no longer exist, are owned by the same user, and were last
changed more than `STALE_SECONDS` ago (a guard against another PID namespace sharing
the directory, where a live process's id may look free).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
import time

KINDS = ("spill", "spool", "spark")
STALE_SECONDS = 600
_NAME = re.compile(r"surfaudit-(?:%s)-(\d+)-([0-9a-f]{10})-[A-Za-z0-9_]+" % "|".join(KINDS))
_swept = False


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:10]


def make(kind: str) -> str:
    """A new 0700 directory for `kind` (one of KINDS); the caller removes it when done."""
    assert kind in KINDS, kind
    global _swept
    if not _swept:
        _swept = True
        sweep()
    return tempfile.mkdtemp(prefix=f"surfaudit-{kind}-{os.getpid()}-{_host_tag()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or an id this system cannot hold): not ours to judge
    return True


def sweep(root: str | None = None, now: float | None = None) -> list[str]:
    """Remove the scratch directories of this host's dead runs; returns their names."""
    root = root or tempfile.gettempdir()
    now = time.time() if now is None else now
    tag, me = _host_tag(), os.getuid()
    removed: list[str] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.fullmatch(entry.name)
        if not match or match.group(2) != tag:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != me or now - info.st_mtime < STALE_SECONDS:
            continue  # a symlink or file planted under the name, another user's, or too recent
        pid = int(match.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.name)
    return removed
