"""Compiled one-pass tokenizer for squid lines (the squid parser's fast path).

What: `scan(data, starts, ends)` reads every line `data[starts[i]:ends[i]]` once,
byte by byte, in machine code (numba), and returns per line whether it has the
plain shape, its numbers, its action, and its string fields as Arrow string-view
structs pointing into `data` (no copy of the text). Hosts are cut out of the URL
and lower-cased; user names are lower-cased; a lower-cased copy that does not fit
in its view (over 12 bytes) goes to a second buffer, `extra`.

Why: issue 6 asks for 1.5 M lines/s on two cores. The numpy tokenizer needed
about twenty vectorised passes over each batch (0.9 core-seconds per million
lines); one compiled pass needs a tenth of that and releases the GIL, so the
reader and the Parquet writer keep the second core. The plain shape is exactly
what the format's regexes in `ingest.squid` would capture; every other line (and
every value of another shape: escaped user names, unusual URLs) is flagged and
left to the regex and polars code, so the rows never depend on this module alone.
tests/test_parse_fast_paths.py compares both routes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from ingest import tokens
from ingest.jit import inline, jit

# Bits of `flags`.
OK = 1  # the line has the plain shape: its row is complete here
SLOW_HOST = 2  # the URL has another shape: the caller computes the host
ESCAPED = 4  # the user name holds % or \ (squid's log escaping): the caller decodes it
NO_USER = 8  # the user field is "-"
NO_METHOD = 16  # the method field is "-"
NO_HOST = 32  # no host (`error:` pseudo-URL or empty)

# Columns of `views`.
CLIENT, METHOD, URL, USERNAME, USER, HOST = range(6)
_HTTPS, _HTTP, _ERROR = (np.frombuffer(t, dtype=np.uint8) for t in (b"https://", b"http://", b"error:"))
_NONE, _TAG_NONE, _DENIED = (np.frombuffer(t, dtype=np.uint8) for t in (b"NONE", b"TAG_NONE", b"_DENIED"))
# Columns of `numbers`.
TS_US, ELAPSED, BYTES, STATUS, ACTION = range(5)
ALLOWED, BLOCKED, AUTH, ERROR = range(4)  # values of `numbers[:, ACTION]`


_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_HIGH = np.uint64(0x8080808080808080)
_ONES = np.uint64(0x0101010101010101)


@inline
def _lower(w):
    """ASCII A-Z lower-cased in the eight bytes of `w` (bytes >= 0x80 unchanged)."""
    seven = w & ~_HIGH
    upper = (seven + _ONES * np.uint64(0x3F)) & ~(seven + _ONES * np.uint64(0x25)) & ~w & _HIGH
    return w | (upper >> np.uint64(2))


@inline
def _spaces(data, w8, s, e, sp):
    """Store the positions of the spaces of data[s:e] in sp and return how many;
    -1 if a byte is not printable ASCII. Eight bytes at a time (SWAR)."""
    k = 0
    p = s
    while p + 8 <= e:
        w = w8[p]
        if (((w - _ONES * np.uint64(0x20)) & ~w) | (w + _ONES) | w) & _HIGH:
            return -1  # a byte < 0x20 or > 0x7E
        x = w ^ (_ONES * np.uint64(0x20))
        y = ~(((x & ~_HIGH) + ~_HIGH) | x | ~_HIGH)  # high bit of each byte that was a space
        while y:
            sp[k] = p + (trailing_zeros(y) >> 3)
            k += 1
            y &= y - np.uint64(1)
        p += 8
    while p < e:
        c = data[p]
        if c == 32:
            sp[k] = p
            k += 1
        elif c < 32 or c > 126:
            return -1
        p += 1
    return k


@inline
def _word(w8, src, at, n):
    """The first n (0..8) bytes at src[at], little-endian, the rest zero."""
    if n <= 0:
        return np.uint64(0)
    if at < len(w8):
        return w8[at] & _LOW_BYTES[n]
    v = np.uint64(0)
    for k in range(n):
        v |= np.uint64(src[at + k]) << np.uint64(8 * k)
    return v


@inline
def _put(out, col, row, src, w8, start, length, buf, lower):
    """out[col, row] = the string view of src[start:start + length] in buffer `buf`
    (two words: length and first 4 bytes; then the next 8 bytes, or the buffer
    index and the offset), the inlined bytes lower-cased when `lower`."""
    head = _word(w8, src, start, min(length, 4))
    if length > 12:
        tail = np.uint64(buf) | (np.uint64(start) << np.uint64(32))
    else:
        tail = _word(w8, src, start + 4, length - 4)
    if lower:
        head = _lower(head)
        if length <= 12:
            tail = _lower(tail)
    out[col, row, 0] = np.uint64(length) | (head << np.uint64(32))
    out[col, row, 1] = tail


@inline
def _view(out, col, row, data, w8, start, length, lower, extra, xw8, xbuf, used):
    """The view of data[start:start + length] at out[col, row]; lower-cased when
    `lower` (a long text with upper case is copied to `extra`, data buffer `xbuf`,
    whose windows are `xw8`). Returns the new `used` of extra."""
    if lower and length > 12:
        for k in range(start, start + length):
            if 65 <= data[k] <= 90:
                for q in range(length):
                    c = data[start + q]
                    extra[used + q] = c + 32 if 65 <= c <= 90 else c
                _put(out, col, row, extra, xw8, used, length, xbuf, False)
                return used + length
    _put(out, col, row, data, w8, start, length, 0, lower)
    return used


@inline
def _digits(data, a, b, most):
    """Value of data[a:b] if it is 1..most ASCII digits, else -1."""
    if b - a < 1 or b - a > most:
        return -1
    value = 0
    for p in range(a, b):
        c = data[p]
        if c < 48 or c > 57:
            return -1
        value = value * 10 + (c - 48)
    return value


@inline
def _starts_with(data, a, b, text):
    if b - a < len(text):
        return False
    for k in range(len(text)):
        if data[a + k] != text[k]:
            return False
    return True


@inline
def _special(c):
    """A character that ends a URL's host (or makes it unusual): / ? # @ [ :"""
    return c == 47 or c == 63 or c == 35 or c == 64 or c == 91 or c == 58


@inline
def _host(data, us, ue):
    """(start, end, flags) of the host of the URL data[us:ue], for the plain shapes
    (`host:port`, `http(s)://host[:port][/?#...]`, `error:...`); SLOW_HOST for any other."""
    rs = us
    if _starts_with(data, us, ue, _HTTPS):
        rs = us + 8
    elif _starts_with(data, us, ue, _HTTP):
        rs = us + 7
    else:
        for p in range(us, ue - 2):  # another scheme: left to the exact rules
            if data[p] == 58 and data[p + 1] == 47 and data[p + 2] == 47:
                return rs, rs, SLOW_HOST
    he = rs
    while he < ue and not _special(data[he]):
        he += 1
    if he < ue:
        c = data[he]
        if c == 64 or c == 91:  # userinfo, IPv6 brackets
            return rs, rs, SLOW_HOST
        if c == 58:  # a port: digits (up to 16), then the end or / ? #
            q = he + 1
            while q < ue and not _special(data[q]):
                q += 1
            if q < ue and data[q] != 47 and data[q] != 63 and data[q] != 35:
                return rs, rs, SLOW_HOST
            if q > he + 1 and _digits(data, he + 1, q, 16) < 0:
                return rs, rs, SLOW_HOST
    while he > rs and data[he - 1] == 46:  # trailing dots
        he -= 1
    flags = 0
    if he == rs or _starts_with(data, us, ue, _ERROR):
        flags = NO_HOST
    return rs, he, flags


@jit
def _scan_range(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf):
    """Tokenize lines lo..hi of data[starts[i]:ends[i]] into row i of the outputs
    (see `scan`); lower-cased copies go to `extra`, Arrow data buffer `xbuf`.
    Returns the bytes of extra used."""
    sep = np.empty(9, dtype=np.int64)
    longest = 0
    for i in range(lo, hi):
        longest = max(longest, ends[i] - starts[i])
    xw8 = np.empty(0, dtype=np.uint64)  # (extra is read byte by byte: it is rarely used)
    used = 0
    sp = np.empty(longest + 1, dtype=np.int64)
    for i in range(lo, hi):
        flags[i] = 0
        s = starts[i]
        e = ends[i]
        while e > s and data[e - 1] == 13:
            e -= 1
        k = _spaces(data, w8, s, e, sp)  # -1: not all printable ASCII
        good = True
        if k < 9 or sp[0] != s + 14 or e - 1 <= sp[k - 1]:
            continue
        # The timestamp: ten digits, '.', three digits.
        if data[s + 10] != 46:
            continue
        sec = _digits(data, s, s + 10, 10)
        milli = _digits(data, s + 11, s + 14, 3)
        if sec < 0 or milli < 0:
            continue
        # One run of 1 to 6 spaces (the padded elapsed field), then single spaces.
        run = 1
        while run < k and run < 7 and sp[run] == sp[0] + run:
            run += 1
        if run > 6 or run + 5 > k - 3:
            continue
        for j in range(7):
            sep[j] = sp[run - 1 + j]
        sep[7] = sp[k - 2]
        sep[8] = sp[k - 1]
        for j in range(8):
            if sep[j + 1] - sep[j] <= 1:
                good = False
        if not good or data[sep[6] + 1] == 32 or data[sep[7] - 1] == 32:
            continue
        elapsed = _digits(data, sep[0] + 1, sep[1], 12)
        status = _digits(data, sep[3] - 3, sep[3], 3)
        nbytes = _digits(data, sep[3] + 1, sep[4], 16)
        ts0, te = sep[2] + 1, sep[3] - 4  # the tag, without "/NNN"
        if elapsed < 0 or status < 0 or nbytes < 0 or te < ts0 + 1 or data[te] != 47:
            continue
        denied = False
        for p in range(ts0, te):
            if data[p] == 47:  # a slash in the tag: the regex decides where the status starts
                good = False
            if data[p] == 95 and _starts_with(data, p, te, _DENIED):
                denied = True
        if not good:
            continue
        us, ue = sep[5] + 1, sep[6]
        rs, he, hflags = _host(data, us, ue)
        f = OK | hflags
        if status == 407:
            action = AUTH
        elif (_starts_with(data, ts0, te, _NONE) or _starts_with(data, ts0, te, _TAG_NONE)
              or _starts_with(data, us, ue, _ERROR)):
            action = ERROR
        elif denied:
            action = BLOCKED
        else:
            action = ALLOWED
        a, b = sep[6] + 1, sep[7]  # the user name
        if b - a == 1 and data[a] == 45:
            f |= NO_USER
        else:
            for p in range(a, b):
                if data[p] == 37 or data[p] == 92:
                    f |= ESCAPED
                    break
        if sep[5] - sep[4] == 2 and data[sep[4] + 1] == 45:
            f |= NO_METHOD
        flags[i] = f
        row = numbers[i]
        row[TS_US] = (sec * 1000 + milli) * 1000
        row[ELAPSED] = elapsed
        row[BYTES] = nbytes
        row[STATUS] = status
        row[ACTION] = action
        used = _view(views, CLIENT, i, data, w8, sep[1] + 1, sep[2] - sep[1] - 1, False, extra, xw8, xbuf, used)
        used = _view(views, METHOD, i, data, w8, sep[4] + 1, sep[5] - sep[4] - 1, False, extra, xw8, xbuf, used)
        used = _view(views, URL, i, data, w8, us, ue - us, False, extra, xw8, xbuf, used)
        used = _view(views, USERNAME, i, data, w8, a, b - a, False, extra, xw8, xbuf, used)
        if f & NO_USER:
            views[USER, i, 0] = views[CLIENT, i, 0]
            views[USER, i, 1] = views[CLIENT, i, 1]
        else:
            used = _view(views, USER, i, data, w8, a, b - a, True, extra, xw8, xbuf, used)
        used = _view(views, HOST, i, data, w8, rs, he - rs, True, extra, xw8, xbuf, used)
    return used


PIECES = 2  # lines are tokenized in this many pieces at once (numba releases the GIL)
_POOL = ThreadPoolExecutor(max_workers=PIECES - 1, thread_name_prefix="surfaudit-scan")


def scan(raw: tokens.Raw) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Tokenize the lines of `raw` (see the module docstring), in PIECES threads.

    Returns (flags uint8[n], numbers int64[n, 5], views uint64[6, n, 2], extras):
    row i describes line i; rows without OK in flags carry nothing else. The
    views point into raw.data (Arrow data buffer 0) or into extras[k - 1]
    (buffer k)."""
    n = len(raw.starts)
    flags = np.empty(n, dtype=np.uint8)
    numbers = np.empty((n, 5), dtype=np.int64)
    views = np.empty((6, n, 2), dtype=np.uint64)
    cuts = [n * k // PIECES for k in range(PIECES + 1)]
    extras = [np.empty(int((raw.ends[a:z] - raw.starts[a:z]).sum()) + 16, dtype=np.uint8) for a, z in zip(cuts, cuts[1:])]

    def piece(k: int) -> int:
        return _scan_range(raw.data, raw.w8, raw.starts, raw.ends, cuts[k], cuts[k + 1],
                           flags, numbers, views, extras[k], k + 1)

    others = [_POOL.submit(piece, k) for k in range(1, PIECES)] if n > 10_000 else []
    used = [piece(0)] + [f.result() for f in others]
    if not others:
        used += [piece(k) for k in range(1, PIECES)]
    return flags, numbers, views, [x[:u] for x, u in zip(extras, used)]


def warm() -> None:
    """Compile (or load from numba's cache) before the first batch."""
    scan(tokens.Raw(b"x" * 16 + b"\n", np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)))
