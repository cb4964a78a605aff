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
from ingest.fast.bytescan import utf8_ok  # strict UTF-8, as Python's decoder has it
from ingest.fast.jit import jit

_HIGH = np.uint64(0x8080808080808080)


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
            out[i] = True if cp1252 else not utf8_ok(data, p, e)
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
