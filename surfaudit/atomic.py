"""The one private atomic writer: every file surfaudit writes whole goes through `write_file`.

Reports (`--output`), investigation exports, `init`'s config, the pseudonym key and the
store's rewritten bookkeeping (manifest, audit log) are written like this:

* the data goes to a fresh temporary file in the target's directory that nobody else can
  have prepared: an anonymous `O_TMPFILE` inode where the filesystem has them, else a
  random name created with `O_CREAT|O_EXCL|O_NOFOLLOW`; either way mode 0600 from the
  first instant, whatever the umask; it is written whole and fsync'ed;
* `before_publish()` runs then (the export records its audit entry there, so an export
  never exists without its entry) — if it fails, nothing is published;
* the file is renamed over the target (a symlink at the target is replaced, never
  followed) and the directory is fsync'ed. With `exclusive=True` the target must not
  exist (it is linked into place, so two racing writers cannot both win).

Targets that are not files: `-` is standard output, and so are `/dev/stdout`,
`/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N` (written to that descriptor, never
replaced by a file). An existing character device or FIFO (`/dev/null`, `/dev/tty`, a
named pipe) is a stream and is written to directly. A block device, a socket or a
directory is refused. A missing directory, a non-directory parent and a place without
write permission are refused with one line naming the path (OutputError, exit 2); a
write that fails (disk full, I/O error) is exit 1. Nothing is left behind either way.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from surfaudit.errors import OutputError

FILE_MODE = 0o600
_FD_PATH = re.compile(r"^/(?:dev/fd|proc/self/fd)/(\d+)$")
_STD_PATHS = {"-": 1, "/dev/stdout": 1, "/dev/stderr": 2}
# The place is wrong (exit 2) vs the write itself failed (exit 1).
_PLACE_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ELOOP,
                 errno.ENAMETOOLONG, errno.EXDEV}


def stream_fd(target: str | os.PathLike) -> int | None:
    """The descriptor `target` names when it is stdout/stderr or /dev/fd/N, else None."""
    text = os.fspath(target)
    if text in _STD_PATHS:
        return _STD_PATHS[text]
    m = _FD_PATH.match(text)
    return int(m.group(1)) if m else None


def write_file(target: str | os.PathLike, data: bytes | str, *, exclusive: bool = False,
               before_publish: Callable[[], None] | None = None) -> Path | None:
    """Write `data` to `target` privately and atomically; returns the path (None for a stream)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd_number = stream_fd(target)
    if fd_number is not None:
        if fd_number == 1:
            sys.stdout.flush()
        _run(before_publish)
        _write_stream(fd_number, data, os.fspath(target))
        return None
    path = Path(target)
    kind = _existing_kind(path)
    if kind is not None and exclusive:
        raise OutputError(f"{path}: already exists")
    if kind in ("chr", "fifo"):
        _write_device(path, data, before_publish)
        return None
    if kind == "dir":
        raise OutputError(f"{path}: is a directory")
    if kind in ("blk", "sock"):
        raise OutputError(f"{path}: is a {'block device' if kind == 'blk' else 'socket'}, not a file")
    directory = path.parent
    _check_directory(directory)
    fd, tmp = _create_temp(directory, path)
    published = False
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError as exc:
            raise _error(path, exc, "write failed") from None
        _run(before_publish)
        _publish(fd, tmp, path, exclusive, data)
        published = True
    finally:
        os.close(fd)
        if tmp is not None and not published:
            _unlink_quietly(tmp)
    _fsync_dir(directory)
    return path


def _run(hook: Callable[[], None] | None) -> None:
    if hook is not None:
        hook()


def _existing_kind(path: Path) -> str | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise OutputError(f"{path}: {path.parent} is not a directory") from None
    except OSError as exc:
        raise _error(path, exc, "cannot look at it") from None
    mode = st.st_mode
    if stat.S_ISLNK(mode) or stat.S_ISREG(mode):
        return "file"  # replaced (a symlink itself, never its target)
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISCHR(mode):
        return "chr"
    if stat.S_ISFIFO(mode):
        return "fifo"
    return "blk" if stat.S_ISBLK(mode) else "sock"


def _check_directory(directory: Path) -> None:
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        raise OutputError(f"{directory}: directory does not exist") from None
    except NotADirectoryError:
        raise OutputError(f"{directory}: is not a directory") from None
    except OSError as exc:
        raise _error(directory, exc, "cannot use this directory") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{directory}: is not a directory")


def _create_temp(directory: Path, path: Path, anonymous: bool = True) -> tuple[int, Path | None]:
    """A new 0600 file in `directory`: anonymous (O_TMPFILE) when possible, else a random name."""
    if anonymous and hasattr(os, "O_TMPFILE"):
        try:
            fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, FILE_MODE)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT):
                raise _error(path, exc, "cannot write in this directory") from None
            # EOPNOTSUPP / EISDIR / EINVAL: the filesystem has no O_TMPFILE; use a name
        else:
            os.fchmod(fd, FILE_MODE)
            return fd, None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        tmp = directory / f".{path.name[:100]}.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(tmp, flags, FILE_MODE)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _error(path, exc, "cannot write in this directory") from None
        os.fchmod(fd, FILE_MODE)
        return fd, tmp
    raise OutputError(f"{path}: cannot create a temporary file beside it")


def _publish(fd: int, tmp: Path | None, path: Path, exclusive: bool, data: bytes) -> None:
    """Give the written file its name: linked (exclusive) or renamed over the target."""
    named = None
    try:
        named = tmp if tmp is not None else _name_anonymous(fd, path, exclusive, data)
        if named is None:  # exclusive: the anonymous file was linked straight to the target
            return
        if exclusive:
            os.link(named, path, follow_symlinks=False)
            _unlink_quietly(named)
        else:
            os.replace(named, path)
        named = None
    except FileExistsError:
        raise OutputError(f"{path}: already exists") from None
    except IsADirectoryError:
        raise OutputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise _error(path, exc, "cannot put the file in place") from None
    finally:
        if named is not None and named != tmp:  # (write_file removes its own `tmp`)
            _unlink_quietly(named)


def _name_anonymous(fd: int, path: Path, exclusive: bool, data: bytes) -> Path | None:
    """Link the O_TMPFILE inode under a random name beside `path` (or, exclusive, as `path`).

    Without /proc the inode cannot be linked: the data is written again to a named
    temporary file instead."""
    directory = path.parent
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        source = f"/proc/self/fd/{fd}"
        names = [path.name] if exclusive else [f".{path.name[:100]}.{secrets.token_hex(8)}.tmp" for _ in range(100)]
        for name in names:
            try:
                os.link(source, name, dst_dir_fd=dir_fd, follow_symlinks=True)  # linkat(AT_SYMLINK_FOLLOW)
            except FileExistsError:
                if exclusive:
                    raise
                continue
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.EXDEV, errno.EOPNOTSUPP, errno.EPERM):
                    raise
                break  # no usable /proc: fall back to a named file
            else:
                return None if exclusive else directory / name
    finally:
        os.close(dir_fd)
    named_fd, tmp = _create_temp(directory, path, anonymous=False)
    try:
        _write_all(named_fd, data)
        os.fsync(named_fd)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise _error(path, exc, "write failed") from None
    finally:
        os.close(named_fd)
    return tmp


def _write_device(path: Path, data: bytes, before_publish: Callable[[], None] | None) -> None:
    """An existing character device or FIFO: open it (never create) and write to it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise _error(path, exc, "cannot open it for writing") from None
    try:
        if not (stat.S_ISCHR(os.fstat(fd).st_mode) or stat.S_ISFIFO(os.fstat(fd).st_mode)):
            raise OutputError(f"{path}: changed while being opened; nothing written")
        _run(before_publish)
        try:
            _write_all(fd, data)
        except OSError as exc:
            raise _error(path, exc, "write failed") from None
    finally:
        os.close(fd)


def _write_stream(fd: int, data: bytes, name: str) -> None:
    try:
        _write_all(fd, data)
    except OSError as exc:
        raise _error(Path(name if name != "-" else "<stdout>"), exc, "write failed") from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _error(path: Path, exc: OSError, what: str) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    if exc.errno in _PLACE_ERRORS:
        return OutputError(f"{path}: {what} ({reason})", exit_code=2)
    return OutputError(f"{path}: {what} ({reason}); nothing was written", exit_code=1)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
