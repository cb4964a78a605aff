"""Reading raw log files: transparent decompression and batches of complete lines.

Files are streamed in large blocks so memory does not grow with file size. The
compression is detected from the magic bytes (a rotated `access.log.1.gz` renamed
without its suffix still reads). Each block is read straight into the batch's own
buffer and its newlines found 64 bytes at a time (`ingest.fast.scan_util.line_offsets`,
else numpy); the
parsers' scanners read that buffer, and a String column of the lines (string views
into it: no copy of the text) is made only if a parser needs one. `prefetch` runs
reading, decompression and hashing in a thread beside the parser (they release the
GIL), see docs/performance.md. The caller gets,
per batch, the 1-based number of the first line and the byte offsets of the batch
in the decompressed stream, which the exactly-once manifest relies on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa

from ingest import fast
from ingest.streams import BLOCK, _opened, compression_of, open_stream, read_blocks  # noqa: F401 - re-exported
from ingest.tokens import Raw, windows8

MAX_LINE = 64 * 1024  # [ingest] max_line_bytes default
LONG_PREFIX = 200  # characters of a too-long line kept in the quarantine


@dataclass
class Tail:
    """What iter_batches learnt at the end of the stream: an unterminated last
    line held back (a live file) and the lines too long to read."""

    held_back: int = 0
    held_back_bytes: int = 0


@dataclass
class Batch:
    """Complete lines [start, end) of the decompressed stream."""

    first_line_no: int
    start: int
    end: int
    offsets: np.ndarray  # line i is buf[offsets[i] : offsets[i + 1] - 1]
    buf: bytes | memoryview  # the batch exactly as in the stream (newlines included), read-only
    hasher: object = None  # the content hash up to `end` (the caller's checkpoint)
    # Lines longer than the limit: index in the batch -> (length in bytes, first characters).
    # The parser sees them empty; the caller rejects them as too long.
    too_long: dict = field(default_factory=dict)

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
        """The lines as bytes, for the compiled scanners (no copy); too-long lines empty."""
        starts, ends = self.offsets[:-1], self.offsets[1:] - 1
        if self.too_long:
            ends = ends.copy()
            at = np.fromiter(self.too_long, dtype=np.int64)
            ends[at] = starts[at]
            lines = lambda: self.lines.fill_null("\ufffd").scatter(at, "")  # noqa: E731
        else:
            lines = lambda: self.lines.fill_null("\ufffd")  # noqa: E731
        return Raw(self.buf, starts, ends, lines=lines)

    def raw_line_bytes(self, i: int) -> bytes:
        """Line i as it is in the stream, without its newline."""
        return bytes(self.buf[self.offsets[i] : self.offsets[i + 1] - 1])

    def raw_line(self, i: int) -> str:
        return self.raw_line_bytes(i).decode("utf-8", "replace")


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


def iter_batches(path: Path, start: int = 0, first_line_no: int = 1, block: int | None = None,
                 hasher=None, max_line: int = MAX_LINE, finished: bool = False,
                 tail: Tail | None = None) -> Iterator[Batch]:
    """Yield batches of complete lines from byte offset `start` of the decompressed stream.

    An unterminated last line is yielded only when the file is `finished` (compressed,
    or a plain file nobody has written for the settle time); otherwise it waits for the
    next run, when the writer will have finished it, and `tail.held_back` says so.
    A line longer than `max_line` is never held in memory whole: its first bytes are
    kept, the rest is read past, and it is reported in the batch's `too_long`.
    `hasher` (optional) is updated with the stream's bytes in order; each batch
    carries the hasher as of its end (`Batch.hasher`).
    """
    block = block or BLOCK
    tail = tail if tail is not None else Tail()
    carry = b""
    pos = start  # stream offset of the first byte not yet in a batch
    line_no = first_line_no
    with _opened(path, start) as fh:
        while True:
            # Read straight into the batch's own buffer (not zero-filled), after the
            # carried partial line: no copy of the block to join or to cut it.
            buf = np.empty(len(carry) + block, dtype=np.uint8)
            buf[: len(carry)] = np.frombuffer(carry, dtype=np.uint8)
            have = len(carry) + _fill(fh, memoryview(buf)[len(carry) :])
            if have == len(carry):  # end of stream
                cut = carry.rfind(b"\n")
                if cut >= 0:  # complete lines left after a long line was read past
                    out = _batch_of(carry[: cut + 1], line_no, pos, hasher, max_line)
                    pos, line_no, carry = out.end, line_no + out.n, carry[cut + 1 :]
                    yield out
                if carry and finished:  # the last line of a finished file has no newline
                    yield _final(carry, line_no, pos, hasher)
                elif carry:
                    tail.held_back, tail.held_back_bytes = 1, len(carry)
                return
            cut = _last_newline(buf, have)
            if cut < 0:
                if have > max_line:  # one line longer than the limit: read past it
                    skipped = yield from _skip_long(fh, buf[:have].tobytes(), line_no, pos, hasher, block,
                                                    finished, tail)
                    if skipped is None:
                        return
                    carry, pos, line_no, hasher = skipped
                    continue
                carry = buf[:have].tobytes()
                continue
            carry = buf[cut + 1 : have].tobytes()
            batch = memoryview(buf)[: cut + 1].toreadonly()
            if hasher is not None:
                hasher.update(batch)
            out = make_batch(batch, line_no, pos)
            out.hasher = hasher
            _mark_long(out, max_line)
            pos += len(batch)
            line_no += out.n
            yield out
            if len(carry) > max_line:
                skipped = yield from _skip_long(fh, carry, line_no, pos, hasher, block, finished, tail)
                if skipped is None:
                    return
                carry, pos, line_no, hasher = skipped


def _batch_of(data: bytes, line_no: int, pos: int, hasher, max_line: int) -> Batch:
    """Complete lines `data` (ending with a newline) as a batch."""
    if hasher is not None:
        hasher.update(data)
    out = make_batch(data, line_no, pos)
    out.hasher = hasher
    _mark_long(out, max_line)
    return out


def _final(carry: bytes, line_no: int, pos: int, hasher) -> Batch:
    """The unterminated last line of a finished file, as a batch of one line."""
    if hasher is not None:
        hasher.update(carry)
    out = make_batch(carry + b"\n", line_no, pos)
    out.end, out.hasher = pos + len(carry), hasher
    return out


def _skip_long(fh: BinaryIO, head: bytes, line_no: int, pos: int, hasher, block: int, finished: bool,
               tail: Tail):
    """Read past a line longer than the limit that starts at stream offset `pos`
    (`head`: its bytes read so far). Yields it as a one-line batch (the line empty,
    listed in `too_long`) once its newline is found, and returns (the bytes after
    that newline, their offset, the next line number); at the end of the stream the
    line is the last one: yielded if the file is finished, else held back (None).
    The content hash runs on a copy until the line is complete, so a held-back
    line leaves the caller's checkpoint where it was."""
    probe = hasher.copy() if hasher is not None else None
    length = len(head)
    prefix = head[:LONG_PREFIX * 4]
    data = head
    while True:
        at = data.find(b"\n") if data is not head else -1
        if at >= 0:
            length += at
            if probe is not None:
                probe.update(data[: at + 1])
            break
        if probe is not None:
            probe.update(data)
        if data is not head:
            length += len(data)
        data = fh.read(block)
        if not data:  # the stream ended inside the long line
            if not finished:
                tail.held_back, tail.held_back_bytes = 1, length
                return None
            at = None
            break
    out = make_batch(b"\n", line_no, pos)
    out.end = pos + length + (1 if at is not None else 0)
    out.hasher = probe
    out.too_long = {0: (length, prefix.decode("utf-8", "replace")[:LONG_PREFIX])}
    yield out
    rest = b"" if at is None else data[at + 1 :]
    return rest, out.end, line_no + 1, probe


def _mark_long(batch: Batch, max_line: int) -> None:
    """Record the lines of `batch` longer than `max_line` (the parser will see them empty)."""
    lens = np.diff(batch.offsets) - 1
    long = np.flatnonzero(lens > max_line)
    for i in long.tolist():
        start = int(batch.offsets[i])
        text = bytes(batch.buf[start : start + LONG_PREFIX * 4]).decode("utf-8", "replace")[:LONG_PREFIX]
        batch.too_long[i] = (int(lens[i]), text)


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
    if fast.enabled():
        offsets = fast.load("scan_util").line_offsets(data, windows8(data))
    else:
        offsets = np.concatenate([[0], np.flatnonzero(data == 10) + 1]).astype(np.int64)
    return Batch(first_line_no, start, start + len(buf), offsets, buf)


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


def first_lines(path: Path, n: int = 50, max_line: int = MAX_LINE, budget: int = 64 * 1024 * 1024) -> list[str]:
    """Up to `n` non-blank lines from the start of the file (decoded leniently, a
    BOM and CRs removed), for format detection. Lines longer than `max_line` are
    read past and left out (a huge first line, or a run of NULs a crash left, must
    not hide the lines after it), holding at most one block; at most `budget` bytes
    are read. The last line is left out when it is unterminated (still being written)."""
    out: list[str] = []
    partial = b""  # the current line so far (at most max_line + 1 bytes)
    skipping = False  # inside a line longer than max_line
    first = True
    have = 0
    for data in read_blocks(path, 0, 256 * 1024):
        have += len(data)
        pieces = data.split(b"\n")
        for k, piece in enumerate(pieces):
            last = k == len(pieces) - 1
            if not skipping:
                partial += piece
                if len(partial) > max_line:
                    skipping, partial = True, b""
            if last:
                break  # the line goes on in the next block
            if not skipping:
                text = partial.decode("utf-8", "replace").replace("\r", "")
                if first:
                    text = text.lstrip("\ufeff")
                if text.strip():
                    out.append(text)
            first, skipping, partial = False, False, b""
            if len(out) >= n:
                return out
        if have >= budget:
            break
    if not out and partial.strip():  # a file of one unterminated line: judge it anyway
        out.append(partial.decode("utf-8", "replace").replace("\r", "").lstrip("\ufeff"))
    return out
