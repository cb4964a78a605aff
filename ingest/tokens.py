"""Byte-level tokenizing of a batch of log lines with numpy (the parsers' fast paths).

What: `Block` holds a batch of lines as one contiguous byte buffer and offers
the pieces a tokenizer needs: the positions of every space, string columns cut
out of the buffer by (start, length) without copying the text, and integers
read from runs of ASCII digits eight at a time (SWAR: one 64-bit word per eight
digits, no Python object per line); plus a CSV splitter for plain lines and a
reader of `YYYY-MM-DDTHH:MM:SS.fffZ` timestamps.

Why: polars' regex and split kernels cost 0.5-0.9 s per million squid lines on
one core, more than the whole parse budget of issue 6. Finding spaces with numpy and describing
each field as a (start, length) pair costs a few vectorised passes instead, and
a polars/Arrow string-view column can point straight into the batch buffer
(16 bytes per value, strings of at most 12 bytes inlined in the view). Only
lines of printable ASCII are tokenized here; the callers send every other line
to their exact regex path, so odd input never depends on this module.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

PAD = 8  # zero bytes before the first line (windows may start up to 8 bytes left of a token)
_ONES = np.uint64(0x0101010101010101)
_ZEROS = np.uint64(0x3030303030303030)
_HIGH = np.uint64(0x8080808080808080)
_NIBBLE = np.uint64(0xF0F0F0F0F0F0F0F0)
_SIX = np.uint64(0x0606060606060606)
# Index l (0..8): the upper l bytes of a little-endian word (the last l characters).
_KEEP = np.array([0] + [((1 << (8 * l)) - 1) << (8 * (8 - l)) for l in range(1, 9)], dtype=np.uint64)
# Index l (0..12): the lower l bytes (first l characters); l >= 8 keeps all of a word.
_LOW = np.array([(1 << (8 * min(l, 8))) - 1 for l in range(13)], dtype=np.uint64)
_LOW[12] = ~np.uint64(0)  # (index 12 also stands for "longer": the whole word)
_LOW4 = np.array([0] * 9 + [(1 << (8 * (l - 8))) - 1 for l in range(9, 13)], dtype=np.uint64)


def word(text: bytes) -> np.uint64:
    """The little-endian 64-bit word of up to 8 bytes (for prefix comparisons)."""
    return np.uint64(int.from_bytes(text.ljust(8, b"\0"), "little"))


class Block:
    """Lines as one buffer: `data` (PAD zero bytes, the lines back to back, 16 zero
    bytes), `off[i]:off[i + 1]` the bytes of line i. Null lines are empty.

    Tokenizers work on `chunks` of lines whose bytes fit in the CPU cache: every
    field costs a gather from the buffer, and gathers from a cached chunk are
    several times cheaper than gathers spread over the whole batch."""

    def __init__(self, lines: pl.Series):
        arr = lines.cast(pl.String).to_arrow(compat_level=pl.CompatLevel.newest())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arr = arr.cast(pa.large_string())
        n = len(arr)
        off = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
        raw = arr.buffers()[2]
        lo, hi = int(off[0]), int(off[-1])
        size = (PAD + (hi - lo) + 16 + 7) // 8 * 8
        self.data = np.zeros(size, dtype=np.uint8)
        if hi > lo:
            self.data[PAD : PAD + hi - lo] = np.frombuffer(raw, dtype=np.uint8)[lo:hi]
        self.off = off - lo + PAD
        self.n = n
        self.w8 = _windows(self.data, "<u8")
        self.w16 = _windows(self.data, "V16")
        self._buf = pa.py_buffer(self.data)

    def chunks(self, size: int = 16384):
        """Line ranges (a, z) of about `size` lines each."""
        for a in range(0, self.n, size):
            yield a, min(a + size, self.n)

    def printable(self, a: int, z: int) -> np.ndarray:
        """Per line of a..z: every byte is printable ASCII (0x20-0x7E)."""
        off = self.off[a : z + 1]
        text = self.data[off[0] : off[-1]]
        ok = np.ones(z - a, dtype=bool)
        if len(text) and (text.min() < 0x20 or text.max() > 0x7E):
            where = np.flatnonzero((text - np.uint8(0x20)) > np.uint8(0x5E)) + off[0]
            ok[np.searchsorted(off, where, side="right") - 1] = False
        return ok

    def spaces(self, a: int, z: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions of every space in lines a..z, index into them of each of
        these lines' first space and of the end)."""
        off = self.off[a : z + 1]
        pos = np.flatnonzero(self.data[off[0] : off[-1]] == 32) + off[0]
        return pos, np.searchsorted(pos, off)

    def views(self, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Arrow string-view structs (two words each) of the bytes [starts, starts + lens)."""
        lens = np.maximum(lens, 0)  # a field of a rejected line may be "negative"
        views = np.empty((len(starts), 2), dtype=np.uint64)
        head = self.w16[starts].view("<u8").reshape(-1, 2)
        short = lens <= 12
        lc = np.minimum(lens, 12)
        first = head[:, 0] & _LOW[lc]
        views[:, 0] = lens.astype(np.uint64) | (first << np.uint64(32))
        inline = (first >> np.uint64(32)) | ((head[:, 1] & _LOW4[lc]) << np.uint64(32))
        views[:, 1] = np.where(short, inline, starts.astype(np.uint64) << np.uint64(32))
        return views

    def series(self, views: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
        """String column of view structs from `views` (no copy of the text), null
        where `null` holds."""
        valid = None
        if null is not None and null.any():
            valid = pa.py_buffer(np.packbits(~null, bitorder="little"))
        array = pa.Array.from_buffers(pa.string_view(), len(views), [valid, pa.py_buffer(views), self._buf])
        return pl.Series(pl.from_arrow(array))

    def strings(self, starts: np.ndarray, lens: np.ndarray) -> pl.Series:
        return self.series(self.views(starts, lens))

    def digits(self, ends: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(value, ok) of the unsigned decimal in the bytes [ends - lens, ends);
        ok is False unless it is 1 to 16 ASCII digits."""
        lens = lens.astype(np.int64)
        ok = (lens >= 1) & (lens <= 16)
        value, good = _digits8(self.w8[ends - 8], np.clip(lens, 0, 8))
        ok &= good
        long = lens > 8
        if long.any():
            hi, good = _digits8(self.w8[np.maximum(ends - 16, 0)], np.clip(lens - 8, 0, 8))
            ok &= good | ~long
            value = np.where(long, hi * np.uint64(100_000_000) + value, value)
        return value.astype(np.int64), ok


class Raw:
    """Lines as bytes for the compiled scanners: line i is data[starts[i]:ends[i]]
    (no newline), `w8` the unaligned words of `data` (see `windows`), `source`
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
            ends[arr.is_null().to_numpy(zero_copy_only=False)] = off[:-1][arr.is_null().to_numpy(zero_copy_only=False)]
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
        out = Raw.__new__(Raw)
        out.source, out.data, out.w8 = self.source, self.data, self.w8
        out.starts, out.ends = self.starts[skip:], self.ends[skip:]
        out._lines = lambda: self.lines().slice(skip)
        return out


def windows8(data: np.ndarray) -> np.ndarray:
    """Every unaligned little-endian 64-bit word of `data` (element k: bytes k..k+7)."""
    return np.ndarray((max(len(data) - 7, 0),), dtype="<u8", buffer=data, strides=(1,))


def view_series(views: np.ndarray, buffers: list[pa.Buffer], null: np.ndarray | None = None) -> pl.Series:
    """String column of Arrow string-view structs (n x 2 words) over `buffers`,
    null where `null` holds (no copy of the text)."""
    valid = None
    if null is not None and null.any():
        valid = pa.py_buffer(np.packbits(~null, bitorder="little"))
    views = np.ascontiguousarray(views)
    array = pa.Array.from_buffers(pa.string_view(), len(views), [valid, pa.py_buffer(views), *buffers])
    return pl.Series(pl.from_arrow(array))


def lower_inline(views: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Views with ASCII A-Z lower-cased in the strings inlined in them (at most 12
    bytes; the caller's strings are ASCII), and the mask of the longer strings,
    which are left as they were."""
    out = views.copy()
    long = (views[:, 0] & np.uint64(0xFFFFFFFF)) > 12
    for col, mask in ((0, np.uint64(0xFFFFFFFF00000000)), (1, ~np.uint64(0))):
        w = views[:, col]
        seven = w & ~_HIGH
        upper = (seven + _ONES * np.uint64(0x3F)) & ~(seven + _ONES * np.uint64(0x25)) & ~w & _HIGH & mask
        out[:, col] = np.where(long, w, w | (upper >> np.uint64(2)))
    return out, long


def swar8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, ok) of words holding 8 ASCII characters, the first in the lowest byte;
    ok where all 8 are digits."""
    ok = ((w & _NIBBLE) == _ZEROS) & (((w + _SIX) & _NIBBLE) == _ZEROS)
    v = w - _ZEROS
    v = (v * np.uint64(10) + (v >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    v = (v * np.uint64(100) + (v >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    v = (v * np.uint64(10000) + (v >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return v, ok


def _windows(data: np.ndarray, dtype: str) -> np.ndarray:
    """Every unaligned word of `data`: element k is the word starting at byte k."""
    size = np.dtype(dtype).itemsize
    return np.ndarray((len(data) - size + 1,), dtype=dtype, buffer=data, strides=(1,))


def _digits8(w: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Words whose last `lens` bytes are the digits (earlier bytes are ignored)."""
    keep = _KEEP[lens]
    return swar8((w & keep) | (_ZEROS & ~keep))


def const_views(values: list[str]) -> np.ndarray:
    """String-view structs of short strings (at most 12 bytes, inlined)."""
    table = np.zeros((len(values), 2), dtype=np.uint64)
    for k, text in enumerate(values):
        raw = text.encode()
        assert len(raw) <= 12, text
        raw = raw.ljust(12, b"\0")
        table[k, 0] = len(text.encode()) | (int.from_bytes(raw[:4], "little") << 32)
        table[k, 1] = int.from_bytes(raw[4:], "little")
    return table


def constants(values: list[str], codes: np.ndarray) -> pl.Series:
    """String column `values[codes[i]]` (a polars gather: cheaper than building views)."""
    return pl.Series(values, dtype=pl.String).gather(codes.astype(np.uint32))


def repeated(value: str, n: int) -> pl.Series:
    """String column of `value` n times."""
    return pl.Series([value], dtype=pl.String).new_from_index(0, n)


def view_words(col: pl.Series) -> np.ndarray:
    """The string-view structs of a String column (two words per value; those of
    null values are meaningless)."""
    arr = col.to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string_view():
        arr = arr.cast(pa.string_view())
    return np.frombuffer(arr.buffers()[1], dtype=np.uint64, count=2 * (len(arr) + arr.offset)).reshape(-1, 2)[arr.offset :]


class Fields:
    """What `split_csv` found: `plain` (per line), and per wanted column the (start,
    length) of its field, its string views and whether it may need trimming."""

    def __init__(self, plain: np.ndarray, spans: dict, views: dict, strip: dict):
        self.plain, self.spans, self.views, self.strip = plain, spans, views, strip


def split_csv(block: Block, n_fields: int, wanted: dict[str, int]) -> Fields:
    """Plain CSV lines: printable ASCII, no double quote, exactly `n_fields` fields;
    their wanted fields (name -> field index) are cut out chunk by chunk (empty
    on the other lines)."""
    parts: list[tuple] = []
    for a, z in block.chunks(16384):
        off = block.off[a : z + 1]
        seg = block.data[off[0] : off[-1]]
        pos = np.flatnonzero(seg == ord(",")) + off[0]
        k = np.searchsorted(pos, off)
        ok = (k[1:] - k[:-1] == n_fields - 1) & block.printable(a, z)
        quotes = np.flatnonzero(seg == ord('"')) + off[0]
        if len(quotes):
            ok[np.searchsorted(off, quotes, side="right") - 1] = False
        pos = np.append(pos, 0)  # so that the indexes of rejected lines stay in range
        spans, views, strip = {}, {}, {}
        for name, j in wanted.items():
            start = off[:-1] if j == 0 else pos[np.minimum(k[:-1] + j - 1, len(pos) - 1)] + 1
            end = off[1:] if j == n_fields - 1 else pos[np.minimum(k[:-1] + j, len(pos) - 1)]
            spans[name] = (start, np.where(ok, end - start, 0))
            views[name] = block.views(*spans[name])
            strip[name] = needs_strip(block, *spans[name]) & ok
        parts.append((ok, spans, views, strip))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Fields(np.zeros(0, dtype=bool), {n: (empty, empty) for n in wanted},
                      {n: np.zeros((0, 2), dtype=np.uint64) for n in wanted}, {n: empty.astype(bool) for n in wanted})
    cat = lambda q, name: np.concatenate([p[q][name] for p in parts])  # noqa: E731
    return Fields(
        np.concatenate([p[0] for p in parts]),
        {n: tuple(np.concatenate([p[1][n][q] for p in parts]) for q in (0, 1)) for n in wanted},
        {n: cat(2, n) for n in wanted},
        {n: cat(3, n) for n in wanted},
    )


def needs_strip(block: Block, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Fields whose first or last byte may be whitespace (ASCII or the lead byte of
    a non-ASCII character): only these can change under `str.strip_chars()`."""
    first, last = block.data[starts], block.data[starts + np.maximum(lens, 1) - 1]
    odd = lambda c: ((c >= 9) & (c <= 13)) | (c == 32) | (c >= 0x80)  # noqa: E731
    return (lens > 0) & (odd(first) | odd(last))


_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def iso_utc(block: Block, starts: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(µs since the epoch, ok) of `YYYY-MM-DDTHH:MM:SS.fffZ` timestamps (24 bytes,
    years 1900-2199, a real date and time of day; anything else is not ok)."""
    w8 = block.w8
    a, b, c = w8[starts], w8[starts + 8], w8[starts + 16]
    sep = lambda w, k, ch: ((w >> np.uint64(8 * k)) & np.uint64(0xFF)) == ord(ch)  # noqa: E731
    ok = (lens == 24) & sep(a, 4, "-") & sep(a, 7, "-") & sep(b, 2, "T") & sep(b, 5, ":")
    ok &= sep(c, 0, ":") & sep(c, 3, ".") & sep(c, 7, "Z")
    va, good = swar8((a & np.uint64(0x00FFFF00FFFFFFFF)) | np.uint64(0x3000003000000000))
    ok &= good
    vb, good = swar8((b & np.uint64(0xFFFF00FFFF00FFFF)) | np.uint64(0x0000300000300000))
    ok &= good
    vc, good = swar8((c & np.uint64(0x00FFFFFF00FFFF00)) | np.uint64(0x3000000030000030))
    ok &= good
    va, vb, vc = va.astype(np.int64), vb.astype(np.int64), vc.astype(np.int64)
    year, month = va // 10000, va % 1000 // 10
    day, hour, minute = vb // 1_000_000, vb // 1000 % 100, vb % 100
    second, milli = vc // 100_000 % 100, vc // 10 % 1000
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    dim = _DAYS[np.clip(month, 0, 12)] + (leap & (month == 2))
    ok &= (year >= 1900) & (year <= 2199) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= dim)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    y = year - (month <= 2)  # days from the civil date (H. Hinnant's algorithm)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    micros = (((days * 24 + hour) * 60 + minute) * 60 + second) * 1_000_000 + milli * 1000
    return np.where(ok, micros, 0), ok
