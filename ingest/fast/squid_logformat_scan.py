"""Compiled matcher of a squid logformat (the fast path of `ingest.squid_logformat`).

What: `scan(raw, program)` walks every line of a batch once (numba, two
threads) through the compiled logformat: literals (a space matches a run of
spaces) and fields, each field ended as the format's regex would end it on its
first try: numbers and tokens greedily, user names and free text at the first
place the next literal matches, quoted text at the closing quote. The captured
fields come back as Arrow string views into the batch buffer (no copy).

Why: the regex with a dozen capture groups runs at about 0.3 M lines/s on
combined-format lines; this pass is several times faster. It never decides a
doubtful line: a line with a byte outside printable ASCII, or where the first
try does not lead to a match, is left (not OK) to the regex, which defines the
format; tests/test_parse_squid_formats.py compares both routes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ingest import tokens
from ingest.fast import scan_util
from ingest.fast.jit import inline, jit
from ingest.fast.scan_util import host, line_end, longest_line, positions, put_view
from ingest.squid_logformat_parse import (  # noqa: F401
    CLF_TIME,
    FLOAT,
    LIT,
    NUM,
    QUOTED,
    TEXT,
    TIME,
    TOKEN,
    USER,
    VALUE,
)

NO_HOST, SLOW_HOST = scan_util.NO_HOST, scan_util.SLOW_HOST  # bits of the host flags
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="surfaudit-logformat")


@inline
def _lit(data, p, e, lits, a, b):
    """Position after literal lits[a:b] matched at data[p:e] (a space: one or more), or -1."""
    for k in range(a, b):
        c = lits[k]
        if p >= e or data[p] != c:
            return -1
        p += 1
        if c == 32:
            while p < e and data[p] == 32:
                p += 1
    return p


@inline
def _next(data, p, e, lits, la, lb, last):
    """Where what follows a field matches at p: after the next literal, or (for
    the last field) e when only spaces remain; -1 if it does not."""
    if last:
        for q in range(p, e):
            if data[q] != 32:
                return -1
        return e
    return _lit(data, p, e, lits, la, lb)


@inline
def _number(data, p, e, maxd, minus, dash, frac):
    """End of the number at p of the field's shape (greedy), or -1."""
    q = p
    if q < e and data[q] == 45:
        q += 1
        if not (q < e and 48 <= data[q] <= 57):
            return q if dash and q == p + 1 else -1
        if not minus:
            return -1
    d = q
    while q < e and 48 <= data[q] <= 57:
        q += 1
    if q == d or q - d > maxd:
        return -1
    if frac and q < e and data[q] == 46:
        q += 1
        f = q
        while q < e and 48 <= data[q] <= 57:
            q += 1
        if q == f or q - f > 6:
            return -1
    return q


NONE = np.iinfo(np.int64).min  # in `numbers`: the field was `-`
_MON = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", dtype=np.uint8)
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


@inline
def _int(data, a, b):
    """The value of the number data[a:b] (`-` gives NONE)."""
    if b - a == 1 and data[a] == 45:
        return NONE
    neg = data[a] == 45
    v = 0
    for p in range(a + 1 if neg else a, b):
        v = v * 10 + (data[p] - 48)
    return -v if neg else v


@inline
def _two(data, p):
    c, d = data[p], data[p + 1]
    if c < 48 or c > 57 or d < 48 or d > 57:
        return -1
    return (c - 48) * 10 + d - 48


@inline
def _clf_time(data, a, b):
    """µs since the epoch of `dd/Mon/yyyy:HH:MM:SS +zzzz` at data[a:b] (squid's
    default %tl/%tg), or -1 when it is not exactly that shape and a real time."""
    if b - a != 26 or data[a + 2] != 47 or data[a + 6] != 47 or data[a + 11] != 58 or data[a + 14] != 58 \
            or data[a + 17] != 58 or data[a + 20] != 32 or (data[a + 21] != 43 and data[a + 21] != 45):
        return -1
    day, hh, mm, ss = _two(data, a), _two(data, a + 12), _two(data, a + 15), _two(data, a + 18)
    y1, y2, zh, zm = _two(data, a + 7), _two(data, a + 9), _two(data, a + 22), _two(data, a + 24)
    month = -1
    for k in range(12):
        if data[a + 3] == _MON[3 * k] and data[a + 4] == _MON[3 * k + 1] and data[a + 5] == _MON[3 * k + 2]:
            month = k
    if min(day, hh, mm, ss, y1, y2, zh, zm) < 0 or month < 0 or hh > 23 or mm > 59 or ss > 59 or zh > 23 or zm > 59:
        return -1
    year = y1 * 100 + y2
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    if day < 1 or day > _DAYS[month] + (1 if month == 1 and leap else 0):
        return -1
    # days from 1970-01-01 to year-month-day (proleptic Gregorian, month 1..12)
    y = year - (1 if month < 2 else 0)
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (month + 10) % 12  # month is 0..11
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    offset = (zh * 60 + zm) * 60 * (1 if data[a + 21] == 43 else -1)
    return ((days * 24 + hh) * 60 + mm) * 60_000_000 + ss * 1_000_000 - offset * 1_000_000


@jit
def _scan_range(data, w8, starts, ends, lo, hi, prog, lits, url_col, ok, hflags, views, numbers):
    """Lines lo..hi through the program (rows of `prog`: kind, literal start, literal
    end, output column, pad left, pad right, max digits, minus, dash, value). The host of
    column `url_col` goes to the last column of `views`, its `scan_util` flags
    (SLOW_HOST, NO_HOST) to `hflags`."""
    m = len(prog)
    hcol = len(views) - 1
    quotes = np.empty(longest_line(starts, ends, lo, hi) + 1, dtype=np.int64)
    for i in range(lo, hi):
        ok[i] = 0
        s = starts[i]
        e = line_end(data, s, ends[i])
        nq = positions(data, w8, s, e, quotes, 34, 0)  # the quotes; -1: not all printable ASCII
        if nq < 0:
            continue
        qi = 0
        good = True
        p = s
        while p < e and data[p] == 32:
            p += 1
        for j in range(m):
            kind = prog[j, 0]
            if kind == LIT:
                p = _lit(data, p, e, lits, prog[j, 1], prog[j, 2])
                if p < 0:
                    good = False
                    break
                continue
            last = j == m - 1
            la, lb = (0, 0) if last else (prog[j + 1, 1], prog[j + 1, 2])
            if prog[j, 4]:
                while p < e and data[p] == 32:
                    p += 1
            f0 = p
            f1 = -1
            if kind == NUM or kind == FLOAT:
                f1 = _number(data, p, e, prog[j, 6], prog[j, 7], prog[j, 8], kind == FLOAT)
            elif kind == TOKEN:
                q = p
                while q < e and data[q] != 32:
                    q += 1
                if last:
                    f1 = q if q > p and _next(data, q, e, lits, 0, 0, True) >= 0 else -1
                else:
                    c0 = lits[la]
                    for t in range(q, p, -1):
                        if (t == e or data[t] == c0) and _lit(data, t, e, lits, la, lb) >= 0:
                            f1 = t
                            break
            elif kind == QUOTED:  # the next quote, unless escaped (then byte by byte)
                while qi < nq and quotes[qi] < p:
                    qi += 1
                if qi < nq and (quotes[qi] == p or data[quotes[qi] - 1] != 92):
                    f1 = quotes[qi]
                else:
                    q = p
                    while q < e and data[q] != 34:
                        q += 2 if data[q] == 92 else 1
                    f1 = q if q < e else -1
            elif kind == USER and (p >= e or data[p] == 32):
                f1 = -1  # a user name starts with a non-space
            elif last:  # USER, TEXT, TIME last: up to the trailing spaces
                q = e
                while q > p and data[q - 1] == 32:
                    q -= 1
                f1 = q if (q > p or kind == TEXT) else -1
            else:  # USER, TEXT, TIME: the first end at which what follows matches
                c0 = lits[la]
                for t in range(p + 1 if kind == USER else p, e):
                    if data[t] != c0 or (kind == USER and data[t - 1] == 32):
                        continue
                    if _lit(data, t, e, lits, la, lb) >= 0:
                        f1 = t
                        break
            if f1 < 0:
                good = False
                break
            p = f1
            if prog[j, 5] and not (not last and lits[la] == 32):
                while p < e and data[p] == 32:
                    p += 1
            col = prog[j, 3]
            if col >= 0 and prog[j, 9] == VALUE:
                numbers[i, col] = _int(data, f0, f1)
            elif col >= 0 and prog[j, 9] == CLF_TIME:
                numbers[i, col] = _clf_time(data, f0, f1)
                if numbers[i, col] == -1:  # another shape, or no such time: the regex decides
                    good = False
                    break
            elif col >= 0:
                put_view(views, col, i, data, w8, f0, f1 - f0, 0, False)
                if col == url_col:
                    rs, he, hf = host(data, f0, f1)
                    hflags[i] = hf
                    put_view(views, hcol, i, data, w8, rs, he - rs, 0, False)
        if good and (p == e or _next(data, p, e, lits, 0, 0, True) >= 0):
            ok[i] = 1


def scan(raw: tokens.Raw, prog: np.ndarray, lits: np.ndarray, ncols: int,
         url_col: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ok uint8[n], host flags uint8[n], views uint64[ncols + 1, n, 2], numbers
    int64[n, ncols]) for the lines of `raw`: view column k is field column k (for
    a field with a value, numbers[:, k] holds it instead), the last the host of
    `url_col` (not lower-cased)."""
    n = len(raw.starts)
    ok = np.empty(n, dtype=np.uint8)
    hflags = np.zeros(n, dtype=np.uint8)
    views = np.zeros((ncols + 1, n, 2), dtype=np.uint64)
    numbers = np.zeros((n, max(ncols, 1)), dtype=np.int64)
    half = n // 2

    def run(lo: int, hi: int) -> None:
        _scan_range(raw.data, raw.w8, raw.starts, raw.ends, lo, hi, prog, lits, url_col, ok, hflags, views, numbers)

    if n > 10_000:
        other = _POOL.submit(run, half, n)
        run(0, half)
        other.result()
    else:
        run(0, n)
    return ok, hflags, views, numbers


def warm() -> None:
    """Compile (or load from numba's cache) before the first batch."""
    prog = np.array([[TOKEN, 0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=np.int64)
    scan(tokens.Raw(b"x" * 16 + b"\n", np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)), prog,
         np.zeros(1, dtype=np.uint8), 1, 0)
