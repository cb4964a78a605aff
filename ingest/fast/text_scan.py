"""Compiled checks and transcoding of a batch's lines for `ingest.text`.

What: `plan` says per line whether it must be read as cp1252 (eight bytes at a
time over ASCII, then a strict UTF-8 check), `transcode` writes the batch as
one UTF-8 buffer with the cp1252 lines converted by `ingest.text`'s table.

Why: a CSV export is decoded batch by batch, at memory speed; `ingest.text`
does the same with Python's codecs when the compiled scanners are off.
"""

from __future__ import annotations

import numpy as np

from ingest import tokens
from ingest.fast.jit import jit

_HIGH = np.uint64(0x8080808080808080)


@jit
def valid_utf8(data, s, e):
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
def plan(data, w8, starts, ends, cp1252):
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
            out[i] = True if cp1252 else not valid_utf8(data, p, e)
    return out


@jit
def transcode(data, starts, ends, convert, table, size):
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


def warm() -> None:
    """Compile (or load from numba's cache) before the first batch."""
    from ingest import text

    data = "Zo\u00eb\n".encode("cp1252") + "Zo\u00eb\n".encode()
    raw = tokens.Raw(data, np.array([0, 4], dtype=np.int64), np.array([3, 8], dtype=np.int64))
    text.decoded(raw, "utf-8")
    text.decoded(raw, "cp1252")
