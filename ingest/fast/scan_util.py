"""Compiled helpers shared by the line scanners of `ingest.fast`.

What: byte-level pieces inlined into the scanners' per-line loops: Arrow
string-view structs of a byte range (lower-cased on request), decimal digits,
prefix tests, the spaces of a line eight bytes at a time, and the host of a URL
by the rules of DESIGN §3 for the plain URL shapes; `in_pieces`, which runs a
kernel over a batch in two threads; `line_offsets`, the reader's newline search.

Why: the parsers cut the same kinds of fields out of their batch buffer, and
the host rules must be one definition (`ingest.squid.with_host` is the exact
one, used for every URL shape these helpers flag as unusual; `ingest.squid.plain_host`
is this rule in Python, for the reference paths).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from ingest.fast.jit import inline, jit
from ingest.tokens import NO_HOST, SLOW_HOST

HTTPS, HTTP, ERROR_PREFIX = (np.frombuffer(t, dtype=np.uint8) for t in (b"https://", b"http://", b"error:"))
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_HIGH = np.uint64(0x8080808080808080)
_ONES = np.uint64(0x0101010101010101)


@inline
def lower_word(w):
    """ASCII A-Z lower-cased in the eight bytes of `w` (bytes >= 0x80 unchanged)."""
    seven = w & ~_HIGH
    upper = (seven + _ONES * np.uint64(0x3F)) & ~(seven + _ONES * np.uint64(0x25)) & ~w & _HIGH
    return w | (upper >> np.uint64(2))


@inline
def positions(data, w8, s, e, sp, sep, bad):
    """Store the positions of byte `sep` in data[s:e] in sp and return how many;
    -1 if a byte is not printable ASCII or is `bad` (0: none). Eight bytes at a
    time (SWAR: a word's bytes equal to c are the zero bytes of w ^ c...c)."""
    k = 0
    p = s
    seps = _ONES * np.uint64(sep)
    bads = _ONES * np.uint64(bad)
    while p + 8 <= e:
        w = w8[p]
        if (((w - _ONES * np.uint64(0x20)) & ~w) | (w + _ONES) | w) & _HIGH:
            return -1  # a byte < 0x20 or > 0x7E
        q = w ^ bads
        if (q - _ONES) & ~q & _HIGH:
            return -1
        x = w ^ seps
        y = ~(((x & ~_HIGH) + ~_HIGH) | x | ~_HIGH)  # high bit of each byte equal to sep
        while y:
            sp[k] = p + (trailing_zeros(y) >> 3)
            k += 1
            y &= y - np.uint64(1)
        p += 8
    while p < e:
        c = data[p]
        if c == sep:
            sp[k] = p
            k += 1
        elif c < 32 or c > 126 or c == bad:
            return -1
        p += 1
    return k


@inline
def count(data, w8, s, e, c):
    """How many bytes of data[s:e] equal c (SWAR, as `positions`)."""
    k = 0
    p = s
    cs = _ONES * np.uint64(c)
    while p + 8 <= e:
        x = w8[p] ^ cs
        y = ~(((x & ~_HIGH) + ~_HIGH) | x | ~_HIGH)
        while y:
            k += 1
            y &= y - np.uint64(1)
        p += 8
    while p < e:
        if data[p] == c:
            k += 1
        p += 1
    return k


@inline
def _newlines64(data, p):
    """Bit j set where data[p + j] is a newline, for j < 64 (a loop LLVM turns
    into vector compares)."""
    m = np.uint64(0)
    for j in range(64):
        m |= np.uint64(data[p + j] == 10) << np.uint64(j)
    return m


@jit
def line_offsets(data, w8):
    """Where each line of data (ending with a newline) starts, and the end: the
    offsets array of `ingest.reader.Batch` (twice as fast as numpy's flatnonzero,
    which also writes a mask as large as the data). Two passes of 64 bytes at a
    time: count, then place. `w8` is unused (kept for the callers)."""
    n = len(data)
    k = 0
    p = 0
    while p + 64 <= n:
        m = _newlines64(data, p)
        while m:
            k += 1
            m &= m - np.uint64(1)
        p += 64
    for q in range(p, n):
        if data[q] == 10:
            k += 1
    out = np.empty(k + 1, dtype=np.int64)
    out[0] = 0
    k = 1
    p = 0
    while p + 64 <= n:
        m = _newlines64(data, p)
        while m:
            out[k] = p + np.int64(trailing_zeros(m)) + 1
            k += 1
            m &= m - np.uint64(1)
        p += 64
    for q in range(p, n):
        if data[q] == 10:
            out[k] = q + 1
            k += 1
    return out


@inline
def longest_line(starts, ends, lo, hi):
    """The length of the longest of lines lo..hi."""
    longest = 0
    for i in range(lo, hi):
        longest = max(longest, ends[i] - starts[i])
    return longest


@inline
def line_end(data, s, e):
    """The end of line data[s:e] without its trailing carriage returns."""
    while e > s and data[e - 1] == 13:
        e -= 1
    return e


@inline
def word_at(w8, src, at, n):
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
def put_view(out, col, row, src, w8, start, length, buf, lower):
    """out[col, row] = the string view of src[start:start + length] in buffer `buf`
    (two words: length and first 4 bytes; then the next 8 bytes, or the buffer
    index and the offset), the inlined bytes lower-cased when `lower`."""
    head = word_at(w8, src, start, min(length, 4))
    if length > 12:
        tail = np.uint64(buf) | (np.uint64(start) << np.uint64(32))
    else:
        tail = word_at(w8, src, start + 4, length - 4)
    if lower:
        head = lower_word(head)
        if length <= 12:
            tail = lower_word(tail)
    out[col, row, 0] = np.uint64(length) | (head << np.uint64(32))
    out[col, row, 1] = tail


@inline
def view(out, col, row, data, w8, start, length, lower, extra, xw8, xbuf, used, buf=0):
    """The view of data[start:start + length] (Arrow data buffer `buf`) at
    out[col, row]; lower-cased when `lower` (a long text with upper case is copied
    to `extra`, data buffer `xbuf`, whose windows are `xw8`). Returns the new
    `used` of extra."""
    if lower and length > 12:
        for k in range(start, start + length):
            if 65 <= data[k] <= 90:
                for q in range(length):
                    c = data[start + q]
                    extra[used + q] = c + 32 if 65 <= c <= 90 else c
                put_view(out, col, row, extra, xw8, used, length, xbuf, False)
                return used + length
    put_view(out, col, row, data, w8, start, length, buf, lower)
    return used


@inline
def digits(data, a, b, most):
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
def starts_with(data, a, b, text):
    if b - a < len(text):
        return False
    for k in range(len(text)):
        if data[a + k] != text[k]:
            return False
    return True


@inline
def is_special(c):
    """A character that ends a URL's host (or makes it unusual): / ? # @ [ :"""
    return c == 47 or c == 63 or c == 35 or c == 64 or c == 91 or c == 58


@inline
def host(data, us, ue):
    """(start, end, flags) of the host of the URL data[us:ue], for the plain shapes
    (`host:port`, `http(s)://host[:port][/?#...]`, `error:...`); SLOW_HOST for any other."""
    rs = us
    if starts_with(data, us, ue, ERROR_PREFIX):  # squid's pseudo-URL of a failed request
        return rs, rs, NO_HOST
    if starts_with(data, us, ue, HTTPS):
        rs = us + 8
    elif starts_with(data, us, ue, HTTP):
        rs = us + 7
    else:
        for p in range(us, ue - 2):  # another scheme: left to the exact rules
            if data[p] == 58 and data[p + 1] == 47 and data[p + 2] == 47:
                return rs, rs, SLOW_HOST
    he = rs
    while he < ue and not is_special(data[he]):
        he += 1
    if he < ue:
        c = data[he]
        if c == 64 or c == 91:  # userinfo, IPv6 brackets
            return rs, rs, SLOW_HOST
        if c == 58:  # a port: digits (up to 16), then the end or / ? #
            q = he + 1
            while q < ue and not is_special(data[q]):
                q += 1
            if q < ue and data[q] != 47 and data[q] != 63 and data[q] != 35:
                return rs, rs, SLOW_HOST
            if q > he + 1 and digits(data, he + 1, q, 16) < 0:
                return rs, rs, SLOW_HOST
    while he > rs and data[he - 1] == 46:  # trailing dots
        he -= 1
    return rs, he, NO_HOST if he == rs else 0




PIECES = 2  # a batch is scanned in this many pieces at once (the kernels release the GIL)
_POOL = ThreadPoolExecutor(max_workers=PIECES - 1, thread_name_prefix="surfaudit-scan")


def in_pieces(raw, width: int, kernel) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Run a scanner kernel over the lines of `raw` in PIECES threads.

    `kernel(lo, hi, flags, numbers, views, extra, xbuf)` fills rows lo..hi of the
    outputs and returns how many bytes of its `extra` buffer it used (Arrow data
    buffer `xbuf`). Returns (flags uint8[n], numbers int64[n, width], views
    uint64[6, n, 2], extras): the views point into raw.data (buffer 0) or into
    extras[k - 1] (buffer k)."""
    n = len(raw.starts)
    flags = np.empty(n, dtype=np.uint8)
    numbers = np.empty((n, width), dtype=np.int64)
    views = np.zeros((6, n, 2), dtype=np.uint64)
    cuts = [n * k // PIECES for k in range(PIECES + 1)]
    # A line writes at most three times its length to extra (an unescaped user name,
    # its lower-cased copy and a lower-cased host); pages never written cost nothing.
    extras = [np.empty(3 * int((raw.ends[a:z] - raw.starts[a:z]).sum()) + 16, dtype=np.uint8)
              for a, z in zip(cuts, cuts[1:])]

    def piece(k: int) -> int:
        return kernel(cuts[k], cuts[k + 1], flags, numbers, views, extras[k], k + 1)

    others = [_POOL.submit(piece, k) for k in range(1, PIECES)] if n > 10_000 else []
    used = [piece(0)] + [f.result() for f in others]
    if not others:
        used += [piece(k) for k in range(1, PIECES)]
    return flags, numbers, views, [x[:u] for x, u in zip(extras, used)]
