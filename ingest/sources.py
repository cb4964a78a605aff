"""Which files an ingest reads: directories expanded, and files that are no log skipped.

What: `expand` turns the paths given on the command line into files (a directory
gives the files inside it, oldest first; its subdirectories too with
`[ingest] recursive`); `not_a_log` says why a file is plainly not a proxy log:
squid's own `cache.log`, `store.log`, `netdb.state`, pid files, READMEs and
configs, tar/zip archives (by name, and by content for a `.tar.gz` or a zip under
any name), FIFOs and devices.

Why: a technician points `nightly` at `/var/log/squid/`, where squid keeps its
other files beside `access.log`. Reading those as logs made every night fail
(cache.log rejected) or doubled the data (a `.tar.gz` backup of the logs read as
one squid log). Such a file is listed as skipped, with the reason, and does not
change the exit code.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.streams import _decompressed

# squid's own files and other things found beside the logs (names lower-cased).
_SQUID_OWN = re.compile(r"^(cache|store|netdb|cachemgr)\.(log|state)([.-].*)?$|^netdb\.state.*$|^swap\.state.*$")
_PID = re.compile(r".*\.pid$|^squid\.pid.*$")
_DOCS = re.compile(r"^(readme|license|changelog|notes?)([._-].*)?$")
_NOT_LOG_SUFFIXES = (".md", ".toml", ".py", ".sh", ".json", ".html", ".htm", ".parquet", ".conf", ".cfg",
                     ".ini", ".pdf", ".doc", ".docx", ".xlsx", ".xls", ".png", ".jpg", ".gif")
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".zip",
                     ".7z", ".rar")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07")


@dataclass(frozen=True)
class Source:
    """A file to ingest; `found` when it came from a directory rather than by name."""

    path: Path
    found: bool = False


def expand(paths: Iterable[str | Path], recursive: bool = False) -> list[Source]:
    """Files named, and the files inside named directories (oldest first in each;
    hidden files and directories are left out)."""
    out: list[Source] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = list(_walk(path, recursive))
            found.sort(key=lambda p: (_mtime(p), str(p)))
            out.extend(Source(p, True) for p in found)
        else:
            out.append(Source(path))
    return out


def _walk(top: Path, recursive: bool):
    for entry in sorted(os.scandir(top), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir():  # symlinks to directories are followed one level only when named
                if recursive and not entry.is_symlink():
                    yield from _walk(path, recursive)
                continue
        except OSError:
            pass
        yield path


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


_LOG_NAME = re.compile(r"^(.*[._-])?(access|squid|proxy|web|filter|e2guardian|dansguardian|squidguard|"
                       r"forti\w*|surfprotect|smoothwall|lightspeed|netsweeper|securly|export)([._-].*)?$"
                       r"|^.*\.(log|csv|tsv|txt)(\.\d+)?(\.(gz|bz2|xz|zst))?$")


def named_like_a_log(path: Path) -> bool:
    """True when the name says proxy log or export (`access.log.1.gz`, `webfilter.csv`):
    such a file is never skipped in silence, even when no format fits."""
    return bool(_LOG_NAME.match(path.name.lower()))


def not_a_log(path: Path) -> str | None:
    """Why `path` is plainly no proxy log (to be skipped), or None."""
    name = path.name.lower()
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # the caller reports it as unreadable
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a log file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a log file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a log file"
    if not stat.S_ISREG(mode):
        return None
    if _SQUID_OWN.match(name):
        return "squid's own log or state file, not an access log"
    if _PID.match(name):
        return "a pid file"
    if _DOCS.match(name) or name.endswith(_NOT_LOG_SUFFIXES):
        return "a document or configuration file"
    if name.endswith(_ARCHIVE_SUFFIXES):
        return "an archive (unpack it to ingest the logs inside)"
    return _archive_by_content(path)


def _archive_by_content(path: Path) -> str | None:
    """A zip/7z/rar file, or a (compressed) tar archive under any name."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
        if magic.startswith(_ZIP_MAGIC):
            return "an archive (unpack it to ingest the logs inside)"
        with _decompressed(path) as fh:
            head = fh.read(512)
    except Exception:  # noqa: BLE001 - a damaged file is judged (and reported) by the reader
        return None
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "a tar archive (unpack it to ingest the logs inside)"
    return None
