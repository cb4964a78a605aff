"""The text of a batch's lines in the encoding a CSV export was saved in.

What: `decoded(raw, encoding)` returns the batch as UTF-8 lines (a `tokens.Raw`
whose `lines()` is the String column): for `encoding="cp1252"` every line is
read as Windows-1252; for `"utf-8"` every line is read as UTF-8, and a line that
is not valid UTF-8 is read as Windows-1252 instead of being rejected. `subset`
is some lines of a batch, for decoding only those.

Why: Excel on Windows saves "CSV" in the ANSI code page (cp1252 in the UK), so
an export that went through Excel carries `Zo\\xeb Bront\\xeb` where UTF-8 wants
two bytes per accented letter; rejecting those lines would drop exactly the
staff with accented names. A cp1252 byte sequence is almost never valid UTF-8,
and a UTF-8 one read as cp1252 would be mojibake, so "UTF-8, else cp1252 per
line" reads both kinds of file right, and even a file that mixes them (rows
appended by different tools). The five bytes cp1252 leaves undefined decode as
the C1 controls of the same value (as the WHATWG encoding standard and Windows
do), so decoding never fails. A compiled pass (numba) checks and transcodes the
whole batch at memory speed; when nothing needs transcoding (ASCII, or valid
UTF-8 in a UTF-8 file) the reader's own column is used, without a copy.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from ingest import tokens
from ingest.jit import jit


def _cp1252_table() -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes (up to 3) and their count for each byte read as cp1252."""
    table = np.zeros((256, 3), dtype=np.uint8)
    size = np.zeros(256, dtype=np.int64)
    for b in range(256):
        try:
            ch = bytes([b]).decode("cp1252")
        except UnicodeDecodeError:
            ch = chr(b)  # 0x81 0x8D 0x8F 0x90 0x9D: the C1 control, as WHATWG
        enc = ch.encode("utf-8")
        table[b, : len(enc)] = np.frombuffer(enc, dtype=np.uint8)
        size[b] = len(enc)
    return table, size


_TABLE, _SIZE = _cp1252_table()
_HIGH = np.uint64(0x8080808080808080)


@jit
def _valid_utf8(data, s, e):
    """True when data[s:e] is well-formed UTF-8 (no overlong forms, surrogates or
    code points above U+10FFFF)."""
    p = s
    while p < e:
        c = data[p]
        if c < 0x80:
            p += 1
            continue
        if 0xC2 <= c <= 0xDF:
            n, lo, hi = 1, 0x80, 0xBF
        elif c == 0xE0:
            n, lo, hi = 2, 0xA0, 0xBF
        elif 0xE1 <= c <= 0xEC or c == 0xEE or c == 0xEF:
            n, lo, hi = 2, 0x80, 0xBF
        elif c == 0xED:
            n, lo, hi = 2, 0x80, 0x9F
        elif c == 0xF0:
            n, lo, hi = 3, 0x90, 0xBF
        elif 0xF1 <= c <= 0xF3:
            n, lo, hi = 3, 0x80, 0xBF
        elif c == 0xF4:
            n, lo, hi = 3, 0x80, 0x8F
        else:
            return False
        if p + n >= e:  # truncated sequence
            return False
        d = data[p + 1]
        if d < lo or d > hi:
            return False
        for k in range(2, n + 1):
            if data[p + k] < 0x80 or data[p + k] > 0xBF:
                return False
        p += n + 1
    return True


@jit
def _plan(data, w8, starts, ends, cp1252):
    """Per line: True when it must be transcoded from cp1252 (every line with a
    byte >= 0x80 when `cp1252`, else the lines that are not valid UTF-8). ASCII
    is skipped eight bytes at a time."""
    n = len(starts)
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        s, e = starts[i], ends[i]
        high = False
        p = s
        while p + 8 <= e and p < len(w8):
            if w8[p] & _HIGH:
                high = True
                break
            p += 8
        if not high:
            while p < e:
                if data[p] >= 0x80:
                    high = True
                    break
                p += 1
        if high:
            out[i] = True if cp1252 else not _valid_utf8(data, p, e)
    return out


@jit
def _transcode(data, starts, ends, convert, table, size):
    """The lines as one UTF-8 buffer (lines `convert` read as cp1252, the others
    copied) and the offsets of each line in it."""
    n = len(starts)
    total = 0
    for i in range(n):
        if convert[i]:
            for p in range(starts[i], ends[i]):
                total += size[data[p]]
        else:
            total += ends[i] - starts[i]
    out = np.empty(max(total, 1), dtype=np.uint8)
    offsets = np.empty(n + 1, dtype=np.int64)
    q = 0
    for i in range(n):
        offsets[i] = q
        s, e = starts[i], ends[i]
        if convert[i]:
            for p in range(s, e):
                b = data[p]
                for k in range(size[b]):
                    out[q] = table[b, k]
                    q += 1
        else:
            out[q : q + e - s] = data[s:e]
            q += e - s
    offsets[n] = q
    return out, offsets


def decoded(raw: tokens.Raw, encoding: str = "utf-8") -> tokens.Raw:
    """`raw` as UTF-8 lines: itself when no line needs transcoding, else a new Raw
    over the transcoded text (whose `lines()` is made from it, without the reader)."""
    convert = _plan(raw.data, raw.w8, raw.starts, raw.ends, encoding == "cp1252")
    if not convert.any():
        return raw
    out, offsets = _transcode(raw.data, raw.starts, raw.ends, convert, _TABLE, _SIZE)
    buf = pa.py_buffer(out)
    n = len(raw.starts)

    def column() -> pl.Series:
        arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), buf)
        return pl.Series("line", pl.from_arrow(arr), dtype=pl.String)

    return tokens.Raw(buf, offsets[:-1].copy(), offsets[1:].copy(), lines=column)


def subset(raw: tokens.Raw, index: np.ndarray) -> tokens.Raw:
    """Lines `index` of `raw`, over the same buffer (no copy of the text; no
    String column: read it from `raw`)."""
    sub = tokens.Raw.__new__(tokens.Raw)
    sub.source, sub.data, sub.w8 = raw.source, raw.data, raw.w8
    sub.starts, sub.ends = raw.starts[index], raw.ends[index]
    sub._lines = None
    return sub


def warm() -> None:
    """Compile (or load from numba's cache) before the first batch."""
    data = "Zo\u00eb\n".encode("cp1252") + "Zo\u00eb\n".encode()
    raw = tokens.Raw(data, np.array([0, 4], dtype=np.int64), np.array([3, 8], dtype=np.int64))
    decoded(raw, "utf-8")
    decoded(raw, "cp1252")
