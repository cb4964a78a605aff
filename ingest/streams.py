"""Opening a log file as its decompressed byte stream, with line ends made uniform.

What: the compression is detected from the magic bytes (a rotated
`access.log.1.gz` renamed without its suffix still reads): gzip (ISA-L inflate in
a thread of its own), bzip2, xz, zstd (a frame cut short is an error, not a
shorter log). A bare CR — the line end of Excel for Mac's "CSV (Macintosh)" and
old Mac tools, anywhere in a file, also in a file of LF or CRLF lines (two exports
pasted together) — is read as LF; CRLF stays (the parsers drop the CR). The same
number of bytes comes out, so offsets, checkpoints and hashes are those of one
consistent stream.

Why: every reader of a file (detection, fingerprints, batches) must see the same
bytes, or exactly-once breaks; and a CR-only file must not read as one
unterminated line (0 lines, status ok: the whole file silently gone).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib

import numpy as np
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from surfaudit.errors import InputError

BLOCK = 16 * 1024 * 1024
MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


def compression_of(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def _decompressed(path: Path) -> BinaryIO:
    """Open `path` for reading its decompressed bytes, UTF-16 text as UTF-8.

    The first two bytes are read by a probe of their own, so the common case gets
    the decompressed stream itself with nothing in between."""
    with _uncompressed(path) as probe:
        head = probe.read(2)
    return _Utf16Stream(_uncompressed(path)) if head in UTF16_BOMS else _uncompressed(path)


def _uncompressed(path: Path) -> BinaryIO:
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


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class _Utf16Stream(io.RawIOBase):
    """UTF-16 (either byte order, by its BOM) read as UTF-8 without the BOM.

    Every reader of a file opens it through here, so offsets and checkpoints are
    positions in this one deterministic UTF-8 stream. Text that is not UTF-16 (a
    lone surrogate, an odd trailing byte) rejects the file whole, naming it: a
    silently replaced character would be a different user name."""

    def __init__(self, inner: BinaryIO):
        import codecs

        self._inner = inner
        self._decoder = codecs.getincrementaldecoder("utf-16")(errors="strict")  # the BOM picks the order
        self._pending = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def _decode(self, data: bytes, final: bool = False) -> bytes:
        try:
            return self._decoder.decode(data, final).encode("utf-8")
        except UnicodeError as exc:
            raise ValueError(f"not valid UTF-16 text ({exc.reason})") from None

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        while not len(self._pending) and not self._done:
            data = self._inner.read(BLOCK // 2)
            self._done = not data
            self._pending = memoryview(self._decode(data, final=self._done))
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


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
        from isal.isal_zlib import error as isal_error  # a damaged gzip header, read by ISA-L

        zerr += (isal_error,)
    except ImportError:  # pragma: no cover
        pass
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


class _LineEnds(io.RawIOBase):
    """`inner` with every bare CR (one not followed by LF) read as LF; CRLF stays as it is.

    The same number of bytes comes out as goes in, so offsets and checkpoints are
    those of the file. Reads go straight into the caller's buffer; a block with no
    CR (nearly every block of a Unix log) costs one search. A CR that ends a read
    is held back until the next byte says whether it is bare. `head` holds bytes
    already read from `inner` (to sniff the file) that come first."""

    def __init__(self, inner: BinaryIO, head: bytes = b""):
        self._inner, self._head = inner, head
        self._cr = False  # a CR is held back from the previous read

    def readable(self) -> bool:
        return True

    def _raw_into(self, view: memoryview) -> int:
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        readinto = getattr(self._inner, "readinto", None)
        if readinto is not None:
            return readinto(view)
        data = self._inner.read(len(view))  # pragma: no cover - every stream has readinto
        view[: len(data)] = data
        return len(data)

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        if self._cr and len(view) == 1:  # decide the held CR by one more byte
            one = bytearray(1)
            got = self._raw_into(memoryview(one))
            view[0] = 13 if got and one[0] == 10 else 10
            self._head = bytes(one[:got]) + self._head
            self._cr = False
            return 1
        off = 1 if self._cr else 0
        n = self._raw_into(view[off:])
        if off:
            self._cr = False
            view[0] = 13
            if n == 0:  # the stream ends with the held CR: a line end
                view[0] = 10
                return 1
        total = off + n
        if total == 0 or bytes(view[:total]).find(b"\r") < 0:
            return total
        arr = np.frombuffer(view, dtype=np.uint8, count=total)
        if arr[total - 1] == 13:  # is it bare? the next read tells
            self._cr = True
            total -= 1
            if total == 0:  # only that CR was read: returning 0 would mean the end
                return self.readinto(buffer)
        cr = np.flatnonzero(arr[:total] == 13)
        bare = cr[arr[cr + 1] != 10] if len(cr) else cr  # arr[total] is the held CR when there is one
        arr[bare] = 10
        return total

    def close(self) -> None:
        self._inner.close()
        super().close()


def open_stream(path: Path) -> BinaryIO:
    """The decompressed bytes of `path` (UTF-16 as UTF-8), with bare-CR line ends read as LF."""
    return _LineEnds(_decompressed(path))


def _skip(fh: BinaryIO, n: int) -> None:
    while n > 0:
        data = fh.read(min(n, BLOCK))
        if not data:
            return
        n -= len(data)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
