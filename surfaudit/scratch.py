"""Private scratch directories in the system's temporary directory, and the sweep of
those a killed run left behind.

Why: DuckDB spills rows there, an ingest into an `s3://` store spools its month files
there and Spark keeps its warehouse and local files (the rows a report hands it) there;
all of it is personal data. A run removes its own directory when it ends (on Ctrl-C and
SIGTERM too: surfaudit.interrupt), but a run killed by SIGKILL (the OOM killer, `kill -9`,
a timeout's last resort) cannot. So each directory holds a lock file that its process keeps
locked (`flock`) while it lives, and the first directory a later run makes removes the
ones whose lock nobody holds: the kernel drops a dead process's locks, whatever PID
namespace it ran in. The name carries the process id and a tag of the host, and only
this host's directories are swept. A directory without its lock file (being made this
instant, or an older release's) is removed only when untouched for `STALE_SECONDS` and
its process is gone; only the same user's directories are touched, and a symlink or
file planted under such a name is left alone.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
import time

KINDS = ("spill", "spool", "spark")
LOCK = ".surfaudit-scratch.lock"
STALE_SECONDS = 600
_NAME = re.compile(r"surfaudit-(?:%s)-(\d+)-([0-9a-f]{10})-[A-Za-z0-9_]+" % "|".join(KINDS))
_held: dict[str, int] = {}  # this process's directories -> the descriptor holding their lock
_swept = False


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:10]


def make(kind: str) -> str:
    """A new 0700 directory for `kind` (one of KINDS), locked while this process lives;
    `remove` it when done."""
    assert kind in KINDS, kind
    global _swept
    if not _swept:
        _swept = True
        sweep()
    path = tempfile.mkdtemp(prefix=f"surfaudit-{kind}-{os.getpid()}-{_host_tag()}-")
    # Locked under another name and only then renamed into place: a sweep in another
    # process never finds the lock file of a live directory unlocked (between its
    # creation and our flock it would have taken it, and removed the directory).
    pending = os.path.join(path, LOCK + ".new")
    fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.rename(pending, os.path.join(path, LOCK))
    _held[path] = fd
    return path


def remove(path: str) -> None:
    """Remove a directory `make` gave, and release its lock."""
    shutil.rmtree(path, ignore_errors=True)
    fd = _held.pop(path, None)
    if fd is not None:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or an id this system cannot hold): not ours to judge
    return True


def _abandoned(path: str, pid: int, mtime: float, now: float) -> int | None:
    """A descriptor holding the directory's lock when its owner is gone, else None
    (-1: gone, but it has no lock file)."""
    try:
        fd = os.open(os.path.join(path, LOCK), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENOENT and now - mtime >= STALE_SECONDS and not _alive(pid):
            return -1
        return None  # being made this instant, a planted symlink, or unreadable
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None  # its process holds it: alive
    return fd


def sweep(root: str | None = None, now: float | None = None) -> list[str]:
    """Remove the scratch directories of this user's dead runs on this host; returns their names."""
    root = root or tempfile.gettempdir()
    now = time.time() if now is None else now
    me, tag = os.getuid(), _host_tag()
    removed: list[str] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.fullmatch(entry.name)
        if not match or match.group(2) != tag or entry.path in _held:
            continue  # not ours, another host's (a shared /tmp), or this process's own
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != me:
            continue  # a symlink or file planted under the name, or another user's
        fd = _abandoned(entry.path, int(match.group(1)), info.st_mtime, now)
        if fd is None:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if fd >= 0:
            os.close(fd)
        removed.append(entry.name)
    return removed
