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
do), so decoding never fails. A compiled pass (`ingest.fast.text_scan`) checks and
transcodes the whole batch at memory speed; without the compiled scanners the
same is done line by line with Python's codecs (`_plan`, `_transcode`). When
nothing needs transcoding (ASCII, or valid UTF-8 in a UTF-8 file) the reader's
own column is used, without a copy.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from ingest import fast, tokens


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
# Bytes read as cp1252 (str.translate of their latin-1 reading), the same table as text.
_CP1252 = {b: bytes(_TABLE[b, : _SIZE[b]]).decode("utf-8") for b in range(0x80, 0xA0)}


def _plan(raw: tokens.Raw, cp1252: bool) -> np.ndarray:
    """Per line: True when it must be transcoded from cp1252 (every line with a
    byte >= 0x80 when `cp1252`, else the lines that are not valid UTF-8)."""
    n = len(raw.starts)
    out = np.zeros(n, dtype=np.bool_)
    if not n or not len(raw.data):
        return out
    high = np.concatenate([[0], np.cumsum(raw.data >= 0x80)])
    for i in np.flatnonzero(high[raw.ends] > high[raw.starts]).tolist():
        if cp1252:
            out[i] = True
            continue
        try:
            raw.data[raw.starts[i] : raw.ends[i]].tobytes().decode("utf-8")
        except UnicodeDecodeError:
            out[i] = True
    return out


def _transcode(raw: tokens.Raw, convert: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lines as one UTF-8 buffer (lines `convert` read as cp1252, the others
    copied) and the offsets of each line in it."""
    pieces = []
    for i in range(len(raw.starts)):
        line = raw.data[raw.starts[i] : raw.ends[i]].tobytes()
        pieces.append(line.decode("latin-1").translate(_CP1252).encode("utf-8") if convert[i] else line)
    offsets = np.cumsum([0] + [len(p) for p in pieces]).astype(np.int64)
    return np.frombuffer(b"".join(pieces) or b"\0", dtype=np.uint8), offsets
def decoded(raw: tokens.Raw, encoding: str = "utf-8") -> tokens.Raw:
    """`raw` as UTF-8 lines: itself when no line needs transcoding, else a new Raw
    over the transcoded text (whose `lines()` is made from it, without the reader)."""
    if fast.enabled():
        scan = fast.load("text_scan")
        convert = scan.plan(raw.data, raw.w8, raw.starts, raw.ends, encoding == "cp1252")
    else:
        convert = _plan(raw, encoding == "cp1252")
    if not convert.any():
        return raw
    if fast.enabled():
        out, offsets = scan.transcode(raw.data, raw.starts, raw.ends, convert, _TABLE, _SIZE)
    else:
        out, offsets = _transcode(raw, convert)
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
