"""The compiled squidGuard scanner (`ingest.squidguard` states the rules and holds
the reference path; `ingest.fast.filterlog_scan` says what the kernels share).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ingest import tokens
from ingest.fast import filterlog_scan as fl
from ingest.fast.jit import inline, jit
from ingest.fast.scan_util import host, longest_line, starts_with, view
from ingest.squidguard import (
    _ACTION,
    _CLIENT,
    _HOST,
    _MESSAGE,
    _RANGE,
    _REQUEST,
    _SHAPE,
    _TIME,
    _UTF8,
    ACTIONS,
)

_ACTIONS = fl.Words(ACTIONS)
_REQUEST_WORD = np.frombuffer(b"Request(", dtype=np.uint8)
_DATE_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18], dtype=np.int64)


def scan(raw: tokens.Raw) -> tokens.Scanned:
    """The kernel's output for the lines of `raw` (see `ingest.filterlog`)."""
    return fl.scan(raw, _kernel)


def warm() -> None:
    """Compile the scanner (or load it from numba's cache) before the first batch."""
    line = "2026-11-30 09:17:01 [1] Request(default/x/-) http://x.com/ 10.0.0.5/- - GET REDIRECT"
    scan(tokens.Raw.of(pl.Series("line", [line])))


@inline
def _has_slash(data, a, b):
    for p in range(a, b):
        if data[p] == 47:
            return True
    return False


def _kernel(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf):
    return _scan_range(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf,
                       _ACTIONS.words, _ACTIONS.offsets, _ACTIONS.codes, _REQUEST_WORD, _DATE_DIGITS)


@jit
def _scan_range(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf,
                words, offsets, codes, request_word, date_digits):
    """Read lines lo..hi into row i of the outputs (see `ingest.filterlog`)."""
    xw8 = np.empty(0, dtype=np.uint64)
    used = 0
    sp = np.empty(longest_line(starts, ends, lo, hi) + 1, dtype=np.int64)
    for i in range(lo, hi):
        flags[i] = 0
        numbers[i, fl.REASON] = 0
        s, e = fl.trim(data, starts[i], ends[i])
        if e <= s:
            continue  # a blank line
        k, high = fl.spaces(data, s, e, sp)
        if high and not fl.utf8_ok(data, s, e):
            fl.reject(flags, numbers, i, _UTF8)
            continue
        # `YYYY-MM-DD HH:MM:SS [pid] `
        shaped = e - s > 24 and data[s + 4] == 45 and data[s + 7] == 45 and data[s + 10] == 32
        shaped = shaped and data[s + 13] == 58 and data[s + 16] == 58 and data[s + 19] == 32 and data[s + 20] == 91
        if shaped:
            for d in date_digits:
                if data[s + d] < 48 or data[s + d] > 57:
                    shaped = False
        m = s + 21
        while shaped and m < e and 48 <= data[m] <= 57:
            m += 1
        if not shaped or m == s + 21 or m + 1 >= e or data[m] != 93 or data[m + 1] != 32:
            fl.reject(flags, numbers, i, _SHAPE)
            continue
        year = fl.dec(data, s, s + 4)
        ts = fl.civil_us(year, fl.dec(data, s + 5, s + 7), fl.dec(data, s + 8, s + 10),
                         fl.dec(data, s + 11, s + 13), fl.dec(data, s + 14, s + 16), fl.dec(data, s + 17, s + 19))
        if ts < 0:
            fl.reject(flags, numbers, i, _TIME)
            continue
        if year < 1990 or year > 2100:
            fl.reject(flags, numbers, i, _RANGE)
            continue
        m += 2
        if not starts_with(data, m, e, request_word):
            fl.reject(flags, numbers, i, _MESSAGE)
            continue
        # Request(source/destination/rewrite)
        close = m + 8
        slashes = 0
        first_slash = -1
        second_slash = -1
        while close < e and data[close] != 41 and data[close] != 32:
            if data[close] == 47:
                slashes += 1
                if slashes == 1:
                    first_slash = close
                elif slashes == 2:
                    second_slash = close
            close += 1
        if close + 1 >= e or data[close] != 41 or data[close + 1] != 32 or slashes != 2:
            fl.reject(flags, numbers, i, _REQUEST)
            continue
        # From the right: [url ...] src/fqdn ident method [action]
        j = 0
        while j < k and sp[j] <= close:
            j += 1
        n_right = k - j  # spaces from the one after `)` on
        action = -1
        src = -1
        if n_right >= 4:
            action = fl.word_code(data, sp[k - 1] + 1, e, words, offsets, codes)
            if action >= 0:
                src = k - 4
        if src >= 0 and (src <= j or not _has_slash(data, sp[src] + 1, sp[src + 1])):
            src = -1
        if src < 0 and n_right >= 4 and _has_slash(data, sp[k - 3] + 1, sp[k - 2]):
            src = k - 3
            action = fl.BLOCKED
        if src < 0:
            fl.reject(flags, numbers, i, _REQUEST)
            continue
        if action == 99:
            fl.reject(flags, numbers, i, _ACTION)
            continue
        ca = sp[src] + 1
        cb = ca
        while data[cb] != 47:
            cb += 1
        if not fl.ip_shaped(data, ca, cb):
            fl.reject(flags, numbers, i, _CLIENT)
            continue
        us, ue = close + 2, sp[src]
        ua, ub = sp[src + 1] + 1, sp[src + 2]
        ma, mb = sp[src + 2] + 1, (sp[src + 3] if src + 3 < k else e)
        rs, he, hflags = host(data, us, ue)
        if hflags & fl.NO_HOST or ue <= us or mb <= ma or ub <= ua:
            fl.reject(flags, numbers, i, _HOST if ue > us and mb > ma and ub > ua else _REQUEST)
            continue
        f = fl.OK | hflags | (fl.SLOW_HOST if high else 0)
        if fl.blank(data, ua, ub):
            f |= fl.NO_USER
        else:
            for p in range(ua, ub):
                if data[p] == 37:
                    f |= fl.FIX_USER
        if fl.blank(data, first_slash + 1, second_slash):
            f |= fl.NO_CATEGORY
        flags[i] = f
        row = numbers[i]
        row[fl.TS] = ts
        row[fl.LOCAL] = 1
        row[fl.STATUS] = 0
        row[fl.BYTES] = 0
        row[fl.ACTION] = action
        used = view(views, fl.USERNAME, i, data, w8, ua, ub - ua, False, extra, xw8, xbuf, used)
        used = view(views, fl.CLIENT, i, data, w8, ca, cb - ca, False, extra, xw8, xbuf, used)
        used, slow = fl.user_view(views, i, data, w8, 0, ua, ub, (f & fl.NO_USER) != 0, data, w8, ca, cb,
                                  extra, xw8, xbuf, used)
        flags[i] = f | slow
        used = view(views, fl.METHOD, i, data, w8, ma, mb - ma, False, extra, xw8, xbuf, used)
        used = view(views, fl.HOST, i, data, w8, rs, he - rs, True, extra, xw8, xbuf, used)
        used = view(views, fl.URL, i, data, w8, us, ue - us, False, extra, xw8, xbuf, used)
        used = view(views, fl.CATEGORY, i, data, w8, first_slash + 1, second_slash - first_slash - 1, False,
                    extra, xw8, xbuf, used)
    return used
