"""Lines as bytes, and string columns made of views into them (for the scanners).

What: `Raw` is a batch of lines as one byte buffer plus where each line starts
and ends (the reader's batch buffer, or a String column's bytes), with the
unaligned 64-bit words the compiled scanners read eight bytes at a time;
`view_series` turns Arrow string-view structs written by a scanner into a
polars String column without copying any text; `constants` and `repeated` make
the columns whose values come from a short list.

Why: ingest must read millions of lines per second. A String column built line
by line (or even cut by polars) costs more than the whole parse, while a view
column pointing into the buffer the lines were read into costs 16 bytes a row
and no copy (strings of at most 12 bytes are inlined in the view).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

# Bits every scanner sets in its per-line flags about the URL's host.
SLOW_HOST = 2  # the URL has an unusual shape: `ingest.squid.with_host` gives the host
NO_HOST = 32  # the URL has no host (squid's `error:` pseudo-URL, or empty)


class Raw:
    """Lines as bytes for the compiled scanners: line i is data[starts[i]:ends[i]]
    (no newline), `w8` the unaligned words of `data` (see `windows8`), `source`
    the object owning the bytes (kept alive by the string columns viewing it)."""

    def __init__(self, source, starts: np.ndarray, ends: np.ndarray, lines=None):
        self.source = source
        self.data = np.frombuffer(source, dtype=np.uint8)
        self.w8 = windows8(self.data)
        self.starts, self.ends = starts, ends
        self._lines = lines  # the same lines as a String column, or a function making it

    def lines(self) -> pl.Series:
        """The lines as a String column (made on first use when the reader gave bytes)."""
        if callable(self._lines):
            self._lines = self._lines()
        return self._lines

    @classmethod
    def of(cls, lines: pl.Series) -> Raw:
        """The bytes of a String column (null lines are empty)."""
        arr = lines.cast(pl.String).to_arrow(compat_level=pl.CompatLevel.oldest())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arr = arr.cast(pa.large_string())
        n = len(arr)
        if n == 0 or arr.buffers()[2] is None:
            return cls(b"", np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), lines)
        off = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
        ends = off[1:].copy()
        if arr.null_count:
            null = arr.is_null().to_numpy(zero_copy_only=False)
            ends[null] = off[:-1][null]
        return cls(arr.buffers()[2], off[:-1].copy(), ends, lines)

    def lines_at(self, index: np.ndarray) -> pl.Series:
        """Lines `index` as a String column; a few lines are decoded alone (invalid
        UTF-8 as U+FFFD, as the reader's column has it) rather than the whole batch."""
        if callable(self._lines) and len(index) * 16 < len(self.starts):
            out = []
            for i in index.tolist():
                try:
                    out.append(self.data[self.starts[i] : self.ends[i]].tobytes().decode("utf-8"))
                except UnicodeDecodeError:
                    out.append("\ufffd")
            return pl.Series("line", out, dtype=pl.String)
        return self.lines().cast(pl.String).gather(index)

    def buffer(self) -> pa.Buffer:
        return self.source if isinstance(self.source, pa.Buffer) else pa.py_buffer(self.source)

    def slice(self, skip: int) -> Raw:
        """Without the first `skip` lines."""
        return self.part(skip, len(self.starts))

    def part(self, lo: int, hi: int) -> Raw:
        """Lines lo..hi only."""
        out = Raw.__new__(Raw)
        out.source, out.data, out.w8 = self.source, self.data, self.w8
        out.starts, out.ends = self.starts[lo:hi], self.ends[lo:hi]
        out._lines = lambda: self.lines().slice(lo, max(hi - lo, 0))
        return out


def windows8(data: np.ndarray) -> np.ndarray:
    """Every unaligned little-endian 64-bit word of `data` (element k: bytes k..k+7).

    Fewer than nine bytes (an empty or tiny batch) give two words over a zero-padded
    copy instead: numba types a view of 0 or 1 words as contiguous, a signature of
    its own that costs every scanner a second compile (two minutes on a cold cache).
    The padding is never read as data: `word_at` masks to the bytes asked for, and
    scans stop at the line's end."""
    if len(data) >= 9:
        return np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    padded = np.zeros(16, dtype=np.uint8)
    padded[: len(data)] = data
    words = np.ndarray((2,), dtype="<u8", buffer=padded, strides=(1,))
    words.flags.writeable = data.flags.writeable
    return words


def view_series(views: np.ndarray, buffers: list[pa.Buffer], null: np.ndarray | None = None) -> pl.Series:
    """String column of Arrow string-view structs (n x 2 words) over `buffers`,
    null where `null` holds (no copy of the text)."""
    valid = None
    if null is not None and null.any():
        valid = pa.py_buffer(np.packbits(~null, bitorder="little"))
    views = np.ascontiguousarray(views)
    array = pa.Array.from_buffers(pa.string_view(), len(views), [valid, pa.py_buffer(views), *buffers])
    return pl.Series(pl.from_arrow(array))


class Scanned:
    """What a compiled scanner returned, kept for the lines it took (`done`): their
    index `idx` in the batch, their `flags` and `numbers`, and their string columns."""

    def __init__(self, raw: Raw, result: tuple, ok: int):
        flags, numbers, views, extras = result
        self.done = (flags & ok) != 0
        self.idx = np.flatnonzero(self.done)
        if len(self.idx) < len(flags):
            flags, numbers, views = flags[self.idx], numbers[self.idx], views[:, self.idx]
        self.flags, self.numbers, self.views = flags, numbers, views
        self.buffers = [raw.buffer(), *(pa.py_buffer(x) for x in extras)]

    def strings(self, col: int, null: int = 0) -> pl.Series:
        """String column `col` of the views, null where flags has bit `null`."""
        return view_series(self.views[col], self.buffers, (self.flags & null) != 0 if null else None)

    def column(self, col: int, keep: np.ndarray | None, null: np.ndarray | None) -> pl.Series:
        """String column `col` of the lines taken at positions `keep` (None: all), null where `null`."""
        return view_series(self.views[col] if keep is None else self.views[col][keep], self.buffers, null)


class Listed:
    """What a reference scanner (plain Python) returned, with the interface of
    `Scanned`: per line its flags and numbers and, per string column, its text
    (any value where the line was not taken)."""

    def __init__(self, flags: np.ndarray, numbers: np.ndarray, columns: list[list[str]], ok: int):
        self.done = (flags & ok) != 0
        self.idx = np.flatnonzero(self.done)
        if len(self.idx) < len(flags):
            flags, numbers = flags[self.idx], numbers[self.idx]
        self.flags, self.numbers = flags, numbers
        self._columns = columns

    def strings(self, col: int, null: int = 0) -> pl.Series:
        """String column `col` of the lines taken, null where flags has bit `null`."""
        return self.column(col, None, (self.flags & null) != 0 if null else None)

    def column(self, col: int, keep: np.ndarray | None, null: np.ndarray | None) -> pl.Series:
        """String column `col` of the lines taken at positions `keep` (None: all), null where `null`."""
        values = self._columns[col]
        at = self.idx.tolist() if keep is None else self.idx[keep].tolist()
        nulls = null.tolist() if null is not None else [False] * len(at)
        return pl.Series([None if no else values[i] for i, no in zip(at, nulls)], dtype=pl.String)


def constants(values: list[str], codes: np.ndarray) -> pl.Series:
    """String column `values[codes[i]]` (a polars gather: cheaper than building views)."""
    return pl.Series(values, dtype=pl.String).gather(codes.astype(np.uint32))


def repeated(value: str, n: int) -> pl.Series:
    """String column of `value` n times."""
    return pl.Series([value], dtype=pl.String).new_from_index(0, n)


class Words:
    """A table of lower-case ASCII words and their codes, as the compiled scanners'
    `bytescan.word_code` reads it: the words' bytes end to end, where each starts
    (`offsets`, one more than there are words) and each one's code."""

    def __init__(self, codes: dict[str, int]):
        texts = [w.encode() for w in codes]
        self.words = np.frombuffer(b"".join(texts) or b"\0", dtype=np.uint8)
        self.offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int64)
        self.codes = np.array(list(codes.values()) or [0], dtype=np.int64)

