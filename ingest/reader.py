"""Reading raw log files: transparent decompression and batches of complete lines.

Files are streamed in large blocks so memory does not grow with file size. The
compression is detected from the magic bytes (a rotated `access.log.1.gz` renamed
without its suffix still reads). Each block is read straight into the batch's own
buffer and its newlines found eight bytes at a time (`scan_util.line_offsets`); the
parsers' scanners read that buffer, and a String column of the lines (string views
into it: no copy of the text) is made only if a parser needs one. `prefetch` runs
reading, decompression and hashing in a thread beside the parser (they release the
GIL), see docs/performance.md. The caller gets,
per batch, the 1-based number of the first line and the byte offsets of the batch
in the decompressed stream, which the exactly-once manifest relies on.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import queue
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa

from ingest.scan_util import line_offsets
from ingest.tokens import Raw, windows8
from surfaudit.errors import InputError

BLOCK = 16 * 1024 * 1024
MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


@dataclass
class Batch:
    """Complete lines [start, end) of the decompressed stream."""

    first_line_no: int
    start: int
    end: int
    offsets: np.ndarray  # line i is buf[offsets[i] : offsets[i + 1] - 1]
    buf: bytes | memoryview  # the batch exactly as in the stream (newlines included), read-only

    @property
    def n(self) -> int:
        """The number of lines."""
        return len(self.offsets) - 1

    @cached_property
    def lines(self) -> pl.Series:
        """String without the newline; invalid UTF-8 lines are null (see `raw_line`).
        Built on first use: the compiled scanners read `raw()` instead."""
        return _string_views(self.buf, self.offsets)

    def raw(self) -> Raw:
        """The lines as bytes, for the compiled scanners (no copy)."""
        return Raw(self.buf, self.offsets[:-1], self.offsets[1:] - 1,
                   lines=lambda: self.lines.fill_null("\ufffd"))

    def raw_line_bytes(self, i: int) -> bytes:
        """Line i as it is in the stream, without its newline."""
        return bytes(self.buf[self.offsets[i] : self.offsets[i + 1] - 1])

    def raw_line(self, i: int) -> str:
        return self.raw_line_bytes(i).decode("utf-8", "replace")


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
        try:  # ISA-L: several times faster than zlib's inflate, in a thread of its own
            from isal import igzip_threaded

            return igzip_threaded.open(path, "rb", threads=1)
        except ImportError:  # pragma: no cover - isal is a declared dependency
            return gzip.open(path, "rb")
    if kind == "bzip2":
        return bz2.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    if kind == "zstd":
        return _ZstdStream(path)
    return open(path, "rb")


class _ZstdStream(io.RawIOBase):
    """Decompress every zstd frame of a file; a frame cut short raises EOFError.

    zstandard's `stream_reader` returns a clean end of stream when the file ends
    inside a frame, so a truncated `.zst` would be ingested as a shorter log; this
    reader knows whether the last frame was finished.
    """

    def __init__(self, path: Path):
        import zstandard

        self._dctx = zstandard.ZstdDecompressor()
        self._raw = open(path, "rb")
        self._obj = self._dctx.decompressobj()
        self._in_frame = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, view) -> int:
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        size = BLOCK if size is None or size < 0 else size
        pieces, have = [self._pending], len(self._pending)
        while have < size:
            chunk = self._raw.read(1 << 20)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd file ended inside a frame")
                break
            while chunk:
                self._in_frame = True
                piece = self._obj.decompress(chunk)
                pieces.append(piece)
                have += len(piece)
                if not self._obj.eof:
                    break
                chunk, self._in_frame = self._obj.unused_data, False
                self._obj = self._dctx.decompressobj()
        data = b"".join(pieces)
        out, self._pending = data[:size], data[size:]
        return out

    def close(self) -> None:
        self._raw.close()
        super().close()


DECOMPRESS_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)


@contextmanager
def _opened(path: Path, start: int = 0) -> Iterator[BinaryIO]:
    """The decompressed stream from byte `start`; a corrupt or truncated file
    raises InputError (also for errors raised while reading inside the block)."""
    try:
        import zstandard

        zerr: tuple = (zstandard.ZstdError,)
    except ImportError:  # pragma: no cover
        zerr = ()
    try:
        with open_stream(path) as fh:
            if start:
                _skip(fh, start)
            yield fh
    except DECOMPRESS_ERRORS + zerr as exc:
        raise InputError(f"{path}: corrupt or truncated file ({_reason(exc)}); nothing from it was stored") from None


def read_blocks(path: Path, start: int = 0, block: int = BLOCK) -> Iterator[bytes]:
    """Yield decompressed blocks; a corrupt or truncated file raises InputError."""
    with _opened(path, start) as fh:
        while True:
            data = fh.read(block)
            if not data:
                return
            yield data


def _fill(fh: BinaryIO, view: memoryview) -> int:
    """Read into `view` until it is full or the stream ends; the bytes read."""
    have = 0
    while have < len(view):
        readinto = getattr(fh, "readinto", None)
        if readinto is not None:
            got = readinto(view[have:])
        else:  # pragma: no cover - every stream of open_stream has readinto
            data = fh.read(len(view) - have)
            got = len(data)
            view[have : have + got] = data
        if not got:
            break
        have += got
    return have


def _skip(fh: BinaryIO, n: int) -> None:
    while n > 0:
        data = fh.read(min(n, BLOCK))
        if not data:
            return
        n -= len(data)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def iter_batches(path: Path, start: int = 0, first_line_no: int = 1, block: int | None = None,
                 hasher=None) -> Iterator[Batch]:
    """Yield batches of complete lines from byte offset `start` of the decompressed stream.

    An unterminated last line is not yielded: it waits for the next run, when the
    writer will have finished it. `hasher` (optional) is updated with each batch's
    bytes before the batch is yielded.
    """
    block = block or BLOCK
    carry = b""
    pos = start
    line_no = first_line_no
    with _opened(path, start) as fh:
        while True:
            # Read straight into the batch's own buffer (not zero-filled), after the
            # carried partial line: no copy of the block to join or to cut it.
            buf = np.empty(len(carry) + block, dtype=np.uint8)
            buf[: len(carry)] = np.frombuffer(carry, dtype=np.uint8)
            have = len(carry) + _fill(fh, memoryview(buf)[len(carry) :])
            if have == len(carry):
                return
            cut = _last_newline(buf, have)
            if cut < 0:
                carry = buf[:have].tobytes()
                continue
            carry = buf[cut + 1 : have].tobytes()
            batch = memoryview(buf)[: cut + 1].toreadonly()
            if hasher is not None:
                hasher.update(batch)
            out = make_batch(batch, line_no, pos)
            pos += len(batch)
            line_no += out.n
            yield out


def _last_newline(buf: np.ndarray, have: int) -> int:
    """Index of the last newline in buf[:have], or -1."""
    end = have
    while end > 0:
        start = max(0, end - 65536)
        at = buf[start:end].tobytes().rfind(b"\n")
        if at >= 0:
            return start + at
        end = start
    return -1


def prefetch(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """Run `batches` in a thread, at most `depth` batches ahead of the consumer.

    Reading, hashing and the newline search release the GIL, so they use the
    second core while the parser runs. Errors are re-raised in the consumer; a
    consumer that stops early stops the thread.
    """
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((done, exc))

    thread = threading.Thread(target=work, name="surfaudit-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def make_batch(buf: bytes, first_line_no: int, start: int) -> Batch:
    """Split `buf` (ending with a newline) into lines."""
    data = np.frombuffer(buf, dtype=np.uint8)
    return Batch(first_line_no, start, start + len(buf), line_offsets(data, windows8(data)), buf)


def _string_views(buf: bytes, offsets: np.ndarray) -> pl.Series:
    """The lines of `buf` without their newlines as an Arrow string-view array over
    `buf` itself: one 16-byte view per line (length, first 4 bytes, offset; lines of
    at most 12 bytes inline)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    n = len(offsets) - 1
    starts, lens = offsets[:-1], offsets[1:] - 1 - offsets[:-1]
    views = np.zeros((n, 4), dtype=np.int32)
    views[:, 0] = lens
    views[:, 3] = starts
    last = len(arr) - 1
    views[:, 1] = arr[np.minimum(starts[:, None] + np.arange(4), last)].view(np.int32)[:, 0]
    short = np.flatnonzero(lens <= 12)
    if len(short):
        j = np.arange(12)
        inline = arr[np.minimum(starts[short, None] + j, last)] * (j < lens[short, None])
        views.view(np.uint8).reshape(n, 16)[short, 4:] = inline
    try:
        array = pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views), pa.py_buffer(buf)])
        array.validate(full=True)
        lines = pl.Series("line", pl.from_arrow(array))
    except pa.ArrowInvalid:  # rare: decode line by line, invalid lines become null
        lines = pl.Series("line", [_decode(buf[offsets[i] : offsets[i + 1] - 1]) for i in range(n)], dtype=pl.String)
    return lines.cast(pl.String)


def _decode(raw: bytes | memoryview) -> str | None:
    try:
        return bytes(raw).decode("utf-8")
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
