"""Reading raw log files: transparent decompression and batches of complete lines.

Files are streamed in large blocks so memory does not grow with file size. The
compression is detected from the magic bytes (a rotated `access.log.1.gz` renamed
without its suffix still reads). Lines are found with numpy and handed on as an
Arrow string-view array pointing into the block itself (no copy of the text, no
Python object per line). `prefetch` runs reading, decompression and hashing in a
thread beside the parser (they release the GIL), see docs/performance.md. The caller gets,
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


@dataclass
class Batch:
    """Complete lines [start, end) of the decompressed stream."""

    lines: pl.Series  # String without the newline; invalid UTF-8 lines are null (see `raw_line`)
    first_line_no: int
    start: int
    end: int
    offsets: np.ndarray  # line i is buf[offsets[i] : offsets[i + 1] - 1]
    buf: bytes  # the batch exactly as in the stream (newlines included), for fingerprints

    def raw_line(self, i: int) -> str:
        return self.buf[self.offsets[i] : self.offsets[i + 1] - 1].decode("utf-8", "replace")


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


def iter_batches(path: Path, start: int = 0, first_line_no: int = 1, block: int = BLOCK,
                 hasher=None) -> Iterator[Batch]:
    """Yield batches of complete lines from byte offset `start` of the decompressed stream.

    An unterminated last line is not yielded: it waits for the next run, when the
    writer will have finished it. `hasher` (optional) is updated with each batch's
    bytes before the batch is yielded.
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
        batch, carry = (buf[: cut + 1], buf[cut + 1 :]) if cut + 1 < len(buf) else (buf, b"")
        if hasher is not None:
            hasher.update(batch)
        out = make_batch(batch, line_no, pos)
        pos += len(batch)
        line_no += len(out.lines)
        yield out


def prefetch(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """Run `batches` in a thread, at most `depth` batches ahead of the consumer.

    Decompression (zlib/ISA-L), hashing and numpy release the GIL, so they use the
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
    """Split `buf` (ending with a newline) into lines without the newline.

    The lines are an Arrow string-view array over `buf` itself: one 16-byte view
    per line (length, first 4 bytes, offset; lines of at most 12 bytes inline).
    """
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    n = len(nl)
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = nl + 1
    starts, lens = offsets[:-1], nl - offsets[:-1]
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
    return Batch(lines.cast(pl.String), first_line_no, start, start + len(buf), offsets, buf)


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
