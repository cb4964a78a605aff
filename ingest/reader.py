"""Reading raw log files: transparent decompression and batches of complete lines.

Files are streamed in large blocks so memory does not grow with file size. The
compression is detected from the magic bytes (a rotated `access.log.1.gz` renamed
without its suffix still reads). Lines are cut with numpy and handed on as an
Arrow-backed polars Series, so no Python object is made per line. The caller gets,
per batch, the 1-based number of the first line and the byte offsets of the batch
in the decompressed stream, which the exactly-once manifest relies on.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa

from surfaudit.errors import InputError

BLOCK = 32 * 1024 * 1024
MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")


@dataclass
class Batch:
    """Complete lines [start, end) of the decompressed stream."""

    lines: pl.Series  # String; invalid UTF-8 lines are null (see `raw_line`)
    first_line_no: int
    start: int
    end: int
    raw: bytes  # the batch's bytes without newlines, for quarantining invalid lines
    offsets: np.ndarray
    buf: bytes  # the batch exactly as in the stream (newlines included), for fingerprints

    def raw_line(self, i: int) -> str:
        return self.raw[self.offsets[i] : self.offsets[i + 1]].decode("utf-8", "replace")


def compression_of(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def open_stream(path: Path) -> BinaryIO:
    """Open `path` for reading its decompressed bytes."""
    kind = compression_of(path)
    if kind == "gzip":
        try:
            from isal import igzip  # ISA-L: several times faster than zlib's inflate

            return igzip.open(path, "rb")
        except ImportError:  # pragma: no cover - isal is a declared dependency
            return gzip.open(path, "rb")
    if kind == "bzip2":
        return bz2.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    return open(path, "rb")


DECOMPRESS_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)


def read_blocks(path: Path, start: int = 0, block: int = BLOCK) -> Iterator[bytes]:
    """Yield decompressed blocks; a corrupt or truncated file raises InputError."""
    try:
        import zstandard

        zerr: tuple = (zstandard.ZstdError,)
    except ImportError:  # pragma: no cover
        zerr = ()
    try:
        with open_stream(path) as fh:
            if start:
                _skip(fh, start)
            while True:
                data = fh.read(block)
                if not data:
                    return
                yield data
    except DECOMPRESS_ERRORS + zerr as exc:
        raise InputError(f"{path}: corrupt or truncated file ({_reason(exc)}); nothing from it was stored") from None


def _skip(fh: BinaryIO, n: int) -> None:
    while n > 0:
        data = fh.read(min(n, BLOCK))
        if not data:
            return
        n -= len(data)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def iter_batches(path: Path, start: int = 0, first_line_no: int = 1, block: int = BLOCK) -> Iterator[Batch]:
    """Yield batches of complete lines from byte offset `start` of the decompressed stream.

    An unterminated last line is not yielded: it waits for the next run, when the
    writer will have finished it.
    """
    carry = b""
    pos = start
    line_no = first_line_no
    for data in read_blocks(path, start, block):
        buf = carry + data if carry else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            carry = buf
            continue
        batch, carry = buf[: cut + 1], buf[cut + 1 :]
        out = make_batch(batch, line_no, pos)
        pos += len(batch)
        line_no += len(out.lines)
        yield out


def make_batch(buf: bytes, first_line_no: int, start: int) -> Batch:
    """Split `buf` (ending with a newline) into lines without the newline."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    n = len(nl)
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = nl - np.arange(n)  # positions once the newlines are removed
    raw = arr[arr != 10].tobytes()
    data = pa.py_buffer(raw)
    try:
        array = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), data])
        array.validate(full=True)
        lines = pl.Series("line", pl.from_arrow(array))
    except pa.ArrowInvalid:  # rare: decode line by line, invalid lines become null
        lines = pl.Series("line", [_decode(raw[offsets[i] : offsets[i + 1]]) for i in range(n)], dtype=pl.String)
    return Batch(lines.cast(pl.String), first_line_no, start, start + len(buf), raw, offsets, buf)


def _decode(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def first_lines(path: Path, n: int = 20) -> list[str]:
    """The first `n` lines (decoded leniently), for format detection."""
    out: list[str] = []
    buf = b""
    for data in read_blocks(path, 0, 64 * 1024):
        buf += data
        if buf.count(b"\n") >= n or len(buf) > 1024 * 1024:
            break
    for raw in buf.split(b"\n")[:n]:
        out.append(raw.decode("utf-8", "replace").rstrip("\r"))
    return out


NOT_LOGS = (".md", ".toml", ".py", ".sh", ".json", ".html", ".parquet")


def is_log_file(path: Path) -> bool:
    """Directory walking: skip hidden files and files that are plainly not logs (README, config)."""
    return path.is_file() and not path.name.startswith(".") and not path.name.lower().endswith(NOT_LOGS)
