"""Compiled one-pass tokenizer for squid lines (the squid parser's fast path).

What: `scan(raw)` reads every line of a batch once, in machine code (numba), and
returns per line whether it has the plain shape, its numbers, its action, and its
string fields as Arrow string-view structs pointing into the batch buffer (no
copy of the text). Hosts are cut out of the URL and lower-cased; user names are
unescaped (squid's `\\` and `%XX`) and lower-cased; text that changes goes to a
second buffer, `extra`. The batch is split between two threads (numba releases
the GIL).

Why: issue 6 asks for 1.5 M lines/s on two cores. The numpy tokenizer this
replaces needed about twenty vectorised passes over each batch (0.9 core-seconds
per million lines); one compiled pass needs about a quarter of that. The plain
shape is exactly what the format's regexes in `ingest.squid` would capture;
every other line (and every value of another shape: names that unescape to
non-ASCII, unusual URLs) is flagged and left to the regex and polars code, so
the rows never depend on this module alone. tests/test_parse_fast_paths.py
compares both routes.
"""

from __future__ import annotations

import numpy as np

from ingest import tokens
from ingest.fast import scan_util
from ingest.fast.jit import inline, kernel
from ingest.fast.scan_util import (
    ERROR_PREFIX,
    digits,
    host,
    line_end,
    positions,
    put_view,
    starts_with,
    view,
)

# Bits of `flags`.
OK = 1  # the line has the plain shape: its row is complete here
SLOW_HOST = scan_util.SLOW_HOST  # (2) the URL has another shape: the caller computes the host
ESCAPED = 4  # the user name, unescaped, is not plain ASCII: the caller decodes it
NO_USER = 8  # the user field is "-"
NO_METHOD = 16  # the method field is "-"
NO_HOST = scan_util.NO_HOST  # (32) no host (`error:` pseudo-URL or empty)

# Columns of `views`.
CLIENT, METHOD, URL, USERNAME, USER, HOST = range(6)
_NONE, _TAG_NONE, _DENIED = (np.frombuffer(t, dtype=np.uint8) for t in (b"NONE", b"TAG_NONE", b"_DENIED"))
# Columns of `numbers`.
TS_US, ELAPSED, BYTES, STATUS, ACTION = range(5)
ALLOWED, BLOCKED, AUTH, ERROR = range(4)  # values of `numbers[:, ACTION]`
_NO_WORDS = np.empty(0, dtype=np.uint64)



@inline
def _hex(c):
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70 or 97 <= c <= 102:
        return (c | 32) - 87
    return -1


@inline
def _unescape(data, a, b, extra, at):
    """Undo squid's log escaping of the user name data[a:b] (`\\x` -> x, `\\n`,
    `\\r`, `\\t`; `%XX` -> the byte), as `ingest.squid.unescape_user` does, into
    extra[at:]. Returns the length, or -1 when the name is not plain printable
    ASCII without surrounding spaces (then the caller leaves it to that function)."""
    q = at
    p = a
    while p < b:
        c = data[p]
        if c == 92 and p + 1 < b:
            c = data[p + 1]
            if c == 110:
                c = 10
            elif c == 114:
                c = 13
            elif c == 116:
                c = 9
            p += 2
        elif c == 37 and p + 2 < b and _hex(data[p + 1]) >= 0 and _hex(data[p + 2]) >= 0:
            c = _hex(data[p + 1]) * 16 + _hex(data[p + 2])
            p += 3
        else:
            p += 1
        if c < 32 or c > 126:
            return -1
        extra[q] = c
        q += 1
    if q == at or extra[at] == 32 or extra[q - 1] == 32:
        return -1
    return q - at


@inline
def _hierarchy(data, sp, u0, k, e):
    """Index in sp of the space before the hierarchy field, the user field
    starting after sp[u0]: the first token after the user's first one shaped
    `[A-Z][A-Z_]*/...` and followed by a MIME token. -1 when the line is not
    plain there (a user token opening a quote, a doubled space around the
    hierarchy or MIME field, no hierarchy): the regexes decide those."""
    for t in range(u0 + 1, k - 1):
        p = sp[t] + 1
        c = data[p]
        if c == 34:
            return -1
        if 65 <= c <= 90:
            while p < sp[t + 1] and (65 <= data[p] <= 90 or data[p] == 95):
                p += 1
            if p < sp[t + 1] and data[p] == 47:
                mime_end = sp[t + 2] if t + 2 < k else e
                if sp[t] - sp[t - 1] <= 1 or sp[t + 1] + 1 >= mime_end or data[sp[t + 1] + 1] == 32:
                    return -1
                return t
    return -1


@kernel
def _scan_range(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf, sep, sp, xw8):
    """Tokenize lines lo..hi of data[starts[i]:ends[i]] into row i of the outputs
    (see `scan`); lower-cased copies go to `extra`, Arrow data buffer `xbuf`.
    Returns the bytes of extra used. Scratch: `sep` (9 slots), `sp` (a slot per
    byte of the longest line, plus one), `xw8` (empty: extra is read byte by byte,
    it is rarely used)."""
    used = 0
    for i in range(lo, hi):
        flags[i] = 0
        s = starts[i]
        e = line_end(data, s, ends[i])
        k = positions(data, w8, s, e, sp, 32, 0)  # the spaces; -1: not all printable ASCII
        good = True
        if k < 9 or sp[0] != s + 14:
            continue
        # The timestamp: ten digits, '.', three digits.
        if data[s + 10] != 46:
            continue
        sec = digits(data, s, s + 10, 10)
        milli = digits(data, s + 11, s + 14, 3)
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
        for j in range(6):
            if sep[j + 1] - sep[j] <= 1:
                good = False
        c = data[sep[6] + 1]
        if not good or c == 32 or c == 34:
            continue
        # The user ends before the first hierarchy-shaped token (`HIER_NONE/-`,
        # `DIRECT/1.2.3.4`...) that follows it and is followed by the MIME type;
        # whatever comes after the MIME type (Referer, User-Agent, tags) is ignored.
        t = _hierarchy(data, sp, run + 5, k, e)
        if t < 0:
            continue
        sep[7] = sp[t]
        sep[8] = sp[t + 1]
        elapsed = digits(data, sep[0] + 1, sep[1], 12)
        status = digits(data, sep[3] - 3, sep[3], 3)
        nbytes = digits(data, sep[3] + 1, sep[4], 16)
        ts0, te = sep[2] + 1, sep[3] - 4  # the tag, without "/NNN"
        if elapsed < 0 or status < 0 or nbytes < 0 or te < ts0 + 1 or data[te] != 47:
            continue
        denied = False
        for p in range(ts0, te):
            if data[p] == 47:  # a slash in the tag: the regex decides where the status starts
                good = False
            if data[p] == 95 and starts_with(data, p, te, _DENIED):
                denied = True
        if not good:
            continue
        us, ue = sep[5] + 1, sep[6]
        rs, he, hflags = host(data, us, ue)
        f = OK | hflags
        if status == 407:
            action = AUTH
        elif (starts_with(data, ts0, te, _NONE) or starts_with(data, ts0, te, _TAG_NONE)
              or starts_with(data, us, ue, ERROR_PREFIX)):
            action = ERROR
        elif denied:
            action = BLOCKED
        else:
            action = ALLOWED
        a, b = sep[6] + 1, sep[7]  # the user name
        plain_name = -1  # > 0: the length of the unescaped name written at extra[used]
        if b - a == 1 and data[a] == 45:
            f |= NO_USER
        else:
            for p in range(a, b):
                if data[p] == 37 or data[p] == 92:
                    plain_name = _unescape(data, a, b, extra, used)
                    if plain_name < 0:
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
        used = view(views, CLIENT, i, data, w8, sep[1] + 1, sep[2] - sep[1] - 1, False, extra, xw8, xbuf, used)
        used = view(views, METHOD, i, data, w8, sep[4] + 1, sep[5] - sep[4] - 1, False, extra, xw8, xbuf, used)
        used = view(views, URL, i, data, w8, us, ue - us, False, extra, xw8, xbuf, used)
        if plain_name > 0:  # the unescaped name is at extra[used:], kept; then the user lower-cased
            u0 = used
            used += plain_name
            put_view(views, USERNAME, i, extra, xw8, u0, plain_name, xbuf, False)
            used = view(views, USER, i, extra, xw8, u0, plain_name, True, extra, xw8, xbuf, used, xbuf)
        else:
            used = view(views, USERNAME, i, data, w8, a, b - a, False, extra, xw8, xbuf, used)
            if f & NO_USER:
                views[USER, i, 0] = views[CLIENT, i, 0]
                views[USER, i, 1] = views[CLIENT, i, 1]
            else:
                used = view(views, USER, i, data, w8, a, b - a, True, extra, xw8, xbuf, used)
        used = view(views, HOST, i, data, w8, rs, he - rs, True, extra, xw8, xbuf, used)
    return used


def scan(raw: tokens.Raw) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Tokenize the lines of `raw` (see the module docstring), in two threads.

    Returns (flags uint8[n], numbers int64[n, 5], views uint64[6, n, 2], extras):
    row i describes line i; rows without OK in flags carry nothing else
    (`scan_util.in_pieces` says where the views point)."""
    def piece(lo, hi, *out):
        sp = np.empty(int((raw.ends[lo:hi] - raw.starts[lo:hi]).max(initial=0)) + 1, dtype=np.int64)
        return _scan_range(raw.data, raw.w8, raw.starts, raw.ends, lo, hi, *out, np.empty(9, dtype=np.int64), sp,
                           _NO_WORDS)

    return scan_util.in_pieces(raw, 5, piece)


def warm() -> None:
    """Compile (or load from numba's cache) before the first batch."""
    scan(tokens.Raw(b"x" * 16 + b"\n", np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)))
