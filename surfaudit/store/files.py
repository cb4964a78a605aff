"""Creating the store's files: private from the moment they exist, never through a symlink.

Part of the store package. Every directory the store makes is 0700 and every file
0600 whatever the umask (the data is personal), a symlink where one of them
should be is refused (paths.py), and a rename is made durable by syncing its
directory. The Store and its transactions share these helpers.
"""

from __future__ import annotations

import os
from pathlib import Path

from surfaudit.store.paths import open_private, refuse_symlink

DIR_MODE, FILE_MODE = 0o700, 0o600


def make_dir(path: Path) -> None:
    """Create `path` (and its parents) 0700; a symlink there is refused, never chmod'ed."""
    refuse_symlink(path)  # never chmod (or write into) a symlink's target
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    refuse_symlink(path)
    os.chmod(path, DIR_MODE)


def private_file(path: Path, mode: str = "wb", exclusive: bool = False):
    """Open a file that is 0600 from the moment it exists; a symlink there is refused."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC) | (os.O_EXCL if exclusive else 0)
    fd = open_private(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, mode)


def fsync_dir(path: Path) -> None:
    """Make the renames into `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
