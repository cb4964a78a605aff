"""Compiled one-pass tokenizer for plain SurfProtect CSV lines (the parser's fast path).

What: `scan(raw, layout)` reads every line once in machine code (numba) and, for
the plain lines, returns the row: the ISO `...Z` timestamp as µs, the decision
as an action code, and the user, client IP, URL, host and category as Arrow
string views into the batch buffer (user and host lower-cased). A plain line is
printable ASCII, has exactly the header's number of fields (a field may be
quoted, `"text"`, with no quote or comma inside), its wanted fields have no
surrounding spaces, its time is
`YYYY-MM-DDTHH:MM:SS.fffZ`, its decision is a known word, its URL has a plain
shape with a host, and it names a user or a client IP.

Why: issue 6 asks for 1 M rows/s; the regex and polars passes of the general
path cost about a microsecond per row. Every line that is not plain (quoted
fields, offsets and local times, odd URLs, unknown decisions, bad lines, the
header) is left to that general path in `ingest.surfprotect`, which defines
the format; tests/test_parse_fast_paths.py checks the two agree.
"""

from __future__ import annotations

import numpy as np

from ingest import tokens
from ingest.fast import scan_util
from ingest.fast.bytescan import civil_us, word_code
from ingest.fast.jit import inline, jit
from ingest.fast.scan_util import (
    NO_HOST,
    SLOW_HOST,
    count,
    digits,
    host,
    line_end,
    longest_line,
    positions,
    view,
)
from ingest.localtime import FIRST_YEAR, LAST_YEAR

OK = 1
NO_USERNAME = 2  # the user field is absent, empty or "-"
NO_CLIENT = 4  # the client IP field is absent, empty or "-"
NO_CATEGORY = 8  # the category field is absent or empty

# Columns of `views`; of `layout` (field index of each column, -1 when absent).
USERNAME, USER, CLIENT, URL, HOST, CATEGORY = range(6)
TIME, DECISION = 6, 7
LAYOUT_KEYS = ("user", "", "client_ip", "url", "", "category", "time", "decision")


@inline
def iso_utc(data, a, b):
    """(µs since the epoch, ok) of `YYYY-MM-DDTHH:MM:SS.fffZ` in data[a:b] (years
    FIRST_YEAR-LAST_YEAR of `ingest.localtime`, a real date and time of day)."""
    if b - a != 24:
        return 0, False
    for at, ch in ((4, 45), (7, 45), (10, 84), (13, 58), (16, 58), (19, 46), (23, 90)):
        if data[a + at] != ch:
            return 0, False
    year, month, day = digits(data, a, a + 4, 4), digits(data, a + 5, a + 7, 2), digits(data, a + 8, a + 10, 2)
    hour, minute = digits(data, a + 11, a + 13, 2), digits(data, a + 14, a + 16, 2)
    second, milli = digits(data, a + 17, a + 19, 2), digits(data, a + 20, a + 23, 3)
    if min(year, month, day, hour, minute, second, milli) < 0:
        return 0, False
    us = civil_us(year, month, day, hour, minute, second)  # -1: no real date or time of day
    if year < FIRST_YEAR or year > LAST_YEAR or us < 0:
        return 0, False
    return us + milli * 1000, True


@inline
def _blank(data, a, b):
    return b == a or (b - a == 1 and data[a] == 45)


@jit
def _scan_range(data, w8, starts, ends, lo, hi, n_fields, layout, words, offsets, codes,
                flags, numbers, views, extra, xbuf):
    """Tokenize lines lo..hi into row i of the outputs (see `scan`). Returns the
    bytes of `extra` used."""
    fs = np.empty(8, dtype=np.int64)  # field start and end per layout column
    fe = np.empty(8, dtype=np.int64)
    longest = longest_line(starts, ends, lo, hi)
    commas = np.empty(longest + 1, dtype=np.int64)
    xw8 = np.empty(0, dtype=np.uint64)
    used = 0
    for i in range(lo, hi):
        flags[i] = 0
        s = starts[i]
        e = line_end(data, s, ends[i])
        if positions(data, w8, s, e, commas, 44, 0) != n_fields - 1:  # printable ASCII
            continue
        quotes = count(data, w8, s, e, 34)
        good = True
        if quotes:  # only "text" fields without a quote or comma inside are plain
            for j in range(n_fields):
                a = s if j == 0 else commas[j - 1] + 1
                b = e if j == n_fields - 1 else commas[j]
                if b - a >= 2 and data[a] == 34 and data[b - 1] == 34:
                    quotes -= 2
            good = quotes == 0
        for c in range(8):
            j = layout[c]
            if j < 0:
                continue
            a = s if j == 0 else commas[j - 1] + 1
            b = e if j == n_fields - 1 else commas[j]
            if b - a >= 2 and data[a] == 34:
                a, b = a + 1, b - 1
            if b > a and (data[a] == 32 or data[b - 1] == 32):
                good = False  # surrounding spaces: the general path trims them
            fs[c], fe[c] = a, b
        if not good:
            continue
        ts, ok = iso_utc(data, fs[TIME], fe[TIME])
        action = max(word_code(data, fs[DECISION], fe[DECISION], words, offsets, codes), 0)
        if not ok or action == 0:
            continue
        rs, he, hflags = host(data, fs[URL], fe[URL])
        if hflags & (SLOW_HOST | NO_HOST):
            continue
        f = OK
        if layout[USERNAME] < 0 or _blank(data, fs[USERNAME], fe[USERNAME]):
            f |= NO_USERNAME
        if layout[CLIENT] < 0 or _blank(data, fs[CLIENT], fe[CLIENT]):
            f |= NO_CLIENT
        if layout[CATEGORY] < 0 or fe[CATEGORY] == fs[CATEGORY]:
            f |= NO_CATEGORY
        if f & NO_USERNAME and f & NO_CLIENT:
            continue  # no user: a bad line, diagnosed by the general path
        flags[i] = f
        numbers[i, 0] = ts
        numbers[i, 1] = action
        for c in (USERNAME, CLIENT, CATEGORY):
            if layout[c] >= 0:
                used = view(views, c, i, data, w8, fs[c], fe[c] - fs[c], False, extra, xw8, xbuf, used)
        used = view(views, URL, i, data, w8, fs[URL], fe[URL] - fs[URL], False, extra, xw8, xbuf, used)
        used = view(views, HOST, i, data, w8, rs, he - rs, True, extra, xw8, xbuf, used)
        if f & NO_USERNAME:
            views[USER, i, 0] = views[CLIENT, i, 0]
            views[USER, i, 1] = views[CLIENT, i, 1]
        else:
            used = view(views, USER, i, data, w8, fs[USERNAME], fe[USERNAME] - fs[USERNAME], True,
                        extra, xw8, xbuf, used)
    return used


class Layout:
    """What the kernel needs to know of a header: the field count, the field of
    each column, and the decision words with their codes (1 allowed, 2 blocked)."""

    def __init__(self, n_fields: int, found: dict[str, int], decisions: dict[str, str]):
        self.n_fields = n_fields
        self.layout = np.array([found.get(k, -1) if k else -1 for k in LAYOUT_KEYS], dtype=np.int64)
        table = tokens.Words({w: 1 if a == "allowed" else 2 for w, a in decisions.items()})
        self.words, self.offsets, self.codes = table.words, table.offsets, table.codes


def scan(raw: tokens.Raw, lay: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """(flags uint8[n], numbers int64[n, 2] (ts µs, action code), views uint64[6, n, 2],
    extras) for the lines of `raw`, in two threads; rows without OK in flags carry
    nothing else (`scan_util.in_pieces` says where the views point)."""
    return scan_util.in_pieces(raw, 2, lambda lo, hi, *out: _scan_range(
        raw.data, raw.w8, raw.starts, raw.ends, lo, hi, lay.n_fields, lay.layout, lay.words, lay.offsets,
        lay.codes, *out))


def warm() -> None:
    """Compile (or load from numba's cache) before the first batch."""
    lay = Layout(2, {"time": 0, "url": 1, "decision": 1}, {"allowed": "allowed"})
    scan(tokens.Raw(b"x" * 16 + b"\n", np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)), lay)
