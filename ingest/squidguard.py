"""Parser for squidGuard's request log (DESIGN §4): the lines squidGuard writes
for the requests it redirects (blocks).

Line shape (squidGuard 1.2 to 1.6, `sgLogRequest`):
``2026-11-30 09:17:01 [1234] Request(default/adult/-) http://x.com/ 10.0.0.5/- jsmith GET REDIRECT``:
local date and time, `[pid]`, `Request(source/destination/rewrite)`, the URL
(squidGuard logs it %-decoded, so it may hold spaces), `client-ip/client-fqdn`,
the user (`-` when none; squidGuard lower-cases it), the method and, since 1.4,
the action: `REDIRECT` (blocked), `PASS` (logged with `verbose`, allowed),
`REWRITE` (the URL was rewritten, e.g. safe search: allowed). A line without an
action (squidGuard before 1.4 logs redirects only) is blocked. The category is
the destination group (`adult`, `blk_BL_porn`, ...). squidGuard's own messages
(`New setting: ...`, `INFO: squidGuard ready for requests`, `init domainlist
...`) carry the same date and pid but are no requests: they are returned as bad
lines with the reason "not a request (squidGuard message)", so nothing is lost
without a count.

Why a compiled scanner: see `ingest.filterlog`; the field rules are the ones
above, read from the right (the URL may contain spaces, the last three or four
fields never do).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import numpy as np
import polars as pl

from ingest import filterlog as fl
from ingest.jit import inline, jit
from ingest.scan_util import host, longest_line, starts_with, view

NAME = "squidguard"

REASONS = [
    "", "invalid utf-8", "malformed line (no squidGuard date and [pid])", "bad timestamp",
    "timestamp out of range", "not a request (squidGuard message)", "malformed request",
    "unknown squidGuard action", "bad client address", "no host in URL",
]
_UTF8, _SHAPE, _TIME, _RANGE, _MESSAGE, _REQUEST, _ACTION, _CLIENT, _HOST = range(1, 10)
_ACTIONS = fl.Words({"redirect": fl.BLOCKED, "pass": fl.ALLOWED, "rewrite": fl.ALLOWED, "-": 99})
_REQUEST_WORD = np.frombuffer(b"Request(", dtype=np.uint8)
_DATE_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18], dtype=np.int64)

_ENVELOPE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[\d+\] ")
_REQUEST_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[\d+\] Request\([^/ ]*/[^/ ]*/[^) ]*\) "
                         r"\S.* [^ /]+/\S* \S+ \S+(?: (?:REDIRECT|PASS|REWRITE|-))?$")


def looks_like(first_lines: list[str]) -> bool:
    """True when the first non-blank line and most of the next ones carry
    squidGuard's `date time [pid]` prefix and at least one is a request line."""
    lines = [ln.rstrip("\r") for ln in first_lines if ln.strip()][:10]
    if not lines or not _ENVELOPE_RE.match(lines[0]):
        return False
    hits = sum(1 for ln in lines if _ENVELOPE_RE.match(ln))
    return hits * 2 > len(lines) and any(_REQUEST_RE.match(ln) for ln in lines)


def make_parser(first_line: str, tz: str, cfg=None) -> Parser:
    """squidGuard lines have no header; their times are local to `tz`."""
    return Parser(tz)


class Parser(fl.LineParser):
    """Turns batches of squidGuard log lines into canonical rows and bad lines."""

    name = NAME
    reasons = REASONS
    kernel = staticmethod(lambda *args: _kernel(*args))  # _kernel is defined below
    fix_user = staticmethod(lambda names: _unescape(names))


def warm() -> None:
    """Compile the scanner (or load it from numba's cache) before the first batch."""
    Parser("UTC").parse(pl.Series("line", ['2026-11-30 09:17:01 [1] Request(default/x/-) http://x.com/ 10.0.0.5/- - GET REDIRECT']), 1)


def _unescape(names: list[str]) -> dict[str, str]:
    """squid passes the user to squidGuard %-escaped (`john%20smith`): decoded, as UTF-8."""
    return {u: unquote(u, errors="replace") for u in names}


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
