"""The compiled e2guardian scanner (`ingest.e2guardian` states the rules and holds
the reference path; `ingest.fast.filterlog_scan` says what the kernels share).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ingest import tokens
from ingest.e2guardian import (
    _BLOCKTAG,
    _CLIENT,
    _CSV,
    _ERRORTAG,
    _HOST,
    _LARGE,
    _METHOD,
    _RANGE,
    _TIME,
    _UTF8,
    TAGS,
)
from ingest.fast import filterlog_scan as fl
from ingest.fast.jit import inline, jit
from ingest.fast.scan_util import host, longest_line, view

_TAGS = fl.Words(TAGS)
_NA_WEIGHT = np.frombuffer(b"N/A(weight)", dtype=np.uint8)


def scan(raw: tokens.Raw) -> tokens.Scanned:
    """The kernel's output for the lines of `raw` (see `ingest.filterlog`)."""
    return fl.scan(raw, _kernel)


def warm() -> None:
    """Compile the scanner (or load it from numba's cache) before the first batch."""
    line = "2026.11.30 9:17:01 - 10.0.0.5 http://x.com/ *DENIED* Banned site: x.com GET 0 0 - 1 403 text/html"
    scan(tokens.Raw.of(pl.Series("line", [line])))


def _kernel(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf):
    return _scan_range(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf,
                       _TAGS.words, _TAGS.offsets, _TAGS.codes, _NA_WEIGHT)


@inline
def _digits(data, a, b):
    """data[a:b] is one or more ASCII digits (of any length: no value is computed)."""
    if b <= a:
        return False
    for p in range(a, b):
        if data[p] < 48 or data[p] > 57:
            return False
    return True


@inline
def _when(data, a, b, sp2):
    """(epoch µs, local?) of `YYYY.M.D H:MM:SS[ seconds.millis]` in data[a:b]:
    (-1, _) when it has another shape or is no valid time, (-2, _) out of range."""
    k = 0
    for p in range(a, b):
        if data[p] == 32:
            if k == 2:
                return -1, False
            sp2[k] = p
            k += 1
    if k < 1:
        return -1, False
    d1 = a + 4
    if d1 >= sp2[0] or data[d1] != 46 or not _digits(data, a, d1):
        return -1, False
    d2 = d1 + 1
    while d2 < sp2[0] and data[d2] != 46:
        d2 += 1
    t_end = sp2[1] if k == 2 else b
    t1 = sp2[0] + 1
    while t1 < t_end and data[t1] != 58:
        t1 += 1
    if not (1 <= d2 - d1 - 1 <= 2 and 1 <= sp2[0] - d2 - 1 <= 2 and 1 <= t1 - sp2[0] - 1 <= 2
            and t_end - t1 == 6 and data[t1 + 3] == 58):
        return -1, False
    if not (_digits(data, d1 + 1, d2) and _digits(data, d2 + 1, sp2[0]) and _digits(data, sp2[0] + 1, t1)
            and _digits(data, t1 + 1, t1 + 3) and _digits(data, t1 + 4, t_end)):
        return -1, False
    year = fl.dec(data, a, d1)
    local = fl.civil_us(year, fl.dec(data, d1 + 1, d2), fl.dec(data, d2 + 1, sp2[0]), fl.dec(data, sp2[0] + 1, t1),
                        fl.dec(data, t1 + 1, t1 + 3), fl.dec(data, t1 + 4, t_end))
    if local < 0:
        return -1, False
    if k == 1:
        return (local, True) if 1990 <= year <= 2100 else (-2, True)
    dot = sp2[1] + 1  # the epoch: seconds '.' 1..6 digits
    while dot < b and data[dot] != 46:
        dot += 1
    if dot >= b - 1 or b - dot - 1 > 6 or dot - sp2[1] - 1 > 12 or not _digits(data, sp2[1] + 1, dot) \
            or not _digits(data, dot + 1, b):
        return -1, False
    frac = fl.dec(data, dot + 1, b)
    for _ in range(6 - (b - dot - 1)):
        frac *= 10
    us = fl.dec(data, sp2[1] + 1, dot) * 1_000_000 + frac
    return (us, False) if fl.MIN_US <= us < fl.MAX_US else (-2, False)


@inline
def _method(data, a, b):
    """data[a:b] is shaped like an HTTP method: [A-Z][A-Z0-9_-]*."""
    if b <= a or not 65 <= data[a] <= 90:
        return False
    for p in range(a + 1, b):
        c = data[p]
        if not (65 <= c <= 90 or 48 <= c <= 57 or c == 95 or c == 45):
            return False
    return True


@inline
def _weight(data, a, b, na):
    if b - a == len(na):
        same = True
        for q in range(len(na)):
            if data[a + q] != na[q]:
                same = False
        if same:
            return True
    if b - a == 1 and data[a] == 45:
        return True
    if b > a and data[a] == 45:
        a += 1
    return _digits(data, a, b)


@jit
def _scan_range(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf,
                words, offsets, codes, na_weight):
    """Read lines lo..hi into row i of the outputs (see `ingest.filterlog`)."""
    xw8 = np.empty(0, dtype=np.uint64)
    used = 0
    longest = longest_line(starts, ends, lo, hi) + 2
    sp = np.empty(longest, dtype=np.int64)
    fs = np.empty(longest, dtype=np.int64)  # field starts and ends
    fe = np.empty(longest, dtype=np.int64)
    sp2 = np.empty(2, dtype=np.int64)
    for i in range(lo, hi):
        flags[i] = 0
        numbers[i, fl.REASON] = 0
        s, e = fl.trim(data, starts[i], ends[i])
        if e <= s:
            continue
        k, high = fl.spaces(data, s, e, sp)
        if high and not fl.utf8_ok(data, s, e):
            fl.reject(flags, numbers, i, _UTF8)
            continue
        csv = data[s] == 34
        if csv:  # format 2: "f0","f1",...; fields never hold `","`
            n = 0
            fs[0] = s + 1
            p = s + 1
            while p + 2 < e:
                if data[p] == 34 and data[p + 1] == 44 and data[p + 2] == 34:
                    fe[n] = p
                    n += 1
                    fs[n] = p + 3
                    p += 3
                else:
                    p += 1
            fe[n] = e - 1
            n += 1
            if data[e - 1] != 34 or e - s < 2 or n < 12:
                fl.reject(flags, numbers, i, _CSV)
                continue
            ts, local = _when(data, fs[0], fe[0], sp2)
            if ts < 0:
                fl.reject(flags, numbers, i, _TIME if ts == -1 else _RANGE)
                continue
            ua, ub, ca, cb, ra, rb = fs[1], fe[1], fs[2], fe[2], fs[3], fe[3]
            wa, wb, ma, mb, za, zb = fs[4], fe[4], fs[5], fe[5], fs[6], fe[6]
            ga, gb, qa, qb = fs[8], fe[8], fs[10], fe[10]
            if not (fl.ip_shaped(data, ca, cb) and _method(data, ma, mb) and _digits(data, za, zb)
                    and _weight(data, fs[7], fe[7], na_weight) and _digits(data, fs[9], fe[9])
                    and _digits(data, qa, qb) and qb - qa <= 3):
                fl.reject(flags, numbers, i, _CSV)
                continue
        else:  # format 1: token t is data[fs[t]:fe[t]]
            n = k + 1
            fs[0] = s
            for t in range(k):
                fe[t] = sp[t]
                fs[t + 1] = sp[t] + 1
            fe[k] = e
            if n < 2:
                fl.reject(flags, numbers, i, _TIME)
                continue
            u0 = 2  # `date time [epoch] user...`
            ts, local = -1, True
            if n > 3 and _digits(data, fs[2], fs[2] + 1):
                ts, local = _when(data, fs[0], fe[2], sp2)
                if ts != -1:
                    u0 = 3
            if u0 == 2:
                ts, local = _when(data, fs[0], fe[1], sp2)
            if ts < 0:
                fl.reject(flags, numbers, i, _TIME if ts == -1 else _RANGE)
                continue
            j = u0 + 1  # the client IP: the first IP-shaped token after the user's first one
            while j < n - 1 and not fl.ip_shaped(data, fs[j], fe[j]):
                j += 1
            if j >= n - 1 or fe[j + 1] <= fs[j + 1]:
                fl.reject(flags, numbers, i, _CLIENT)
                continue
            m = j + 3  # `METHOD size weight` after `what`
            while m + 2 < n and not (_method(data, fs[m], fe[m]) and _digits(data, fs[m + 1], fe[m + 1])
                                     and _weight(data, fs[m + 2], fe[m + 2], na_weight)):
                m += 1
            c0 = m + 3  # the category: tokens c0..c1-1
            c1 = m + 3
            g = n  # the filter group's token (n: none, and no status)
            if m + 2 >= n:  # DansGuardian 2.8: the line ends with `METHOD size`
                m = n - 2
                c0 = m
                c1 = m
                if m < j + 3 or not (_method(data, fs[m], fe[m]) and _digits(data, fs[m + 1], fe[m + 1])):
                    fl.reject(flags, numbers, i, _METHOD)
                    continue
            elif m + 3 < n:
                g = m + 4  # `group code mimetype` after the category
                while g + 2 < n and not (_digits(data, fs[g], fe[g]) and _digits(data, fs[g + 1], fe[g + 1])
                                         and fe[g + 1] - fs[g + 1] <= 3):
                    g += 1
                if g + 2 >= n:  # `group code` ending the line, or no group at all
                    g = n - 2
                    if not (g >= m + 4 and _digits(data, fs[g], fe[g]) and _digits(data, fs[g + 1], fe[g + 1])
                            and fe[g + 1] - fs[g + 1] <= 3):
                        g = n
                c1 = g
            ua, ub, ca, cb, ra, rb = fs[u0], fe[j - 1], fs[j], fe[j], fs[j + 1], fe[j + 1]
            wa, wb, ma, mb, za, zb = fs[j + 2], fe[m - 1], fs[m], fe[m], fs[m + 1], fe[m + 1]
            if c1 > c0:
                ga, gb = fs[c0], fe[c1 - 1]
            else:
                ga, gb = fs[m], fs[m]  # (empty)
            if g < n:
                qa, qb = fs[g + 1], fe[g + 1]
            else:
                qa, qb = 0, 0
        size = fl.number(data, za, zb, 18)
        if size < 0:
            fl.reject(flags, numbers, i, _LARGE)
            continue
        status = fl.number(data, qa, qb, 3) if qb > qa else 0
        rs, he, hflags = host(data, ra, rb)
        if hflags & fl.NO_HOST:
            fl.reject(flags, numbers, i, _HOST)
            continue
        # The verdict tags at the start of `what`, then the reason.
        p = wa
        blocked = False
        error = False
        unknown = False
        while p < wb and data[p] == 42:
            q = p + 1
            while q < wb and data[q] != 42 and data[q] != 32:
                q += 1
            if q >= wb or data[q] != 42:
                break
            tag = fl.word_code(data, p + 1, q, words, offsets, codes)
            blocked = blocked or tag == _BLOCKTAG
            error = error or tag == _ERRORTAG
            unknown = unknown or tag < 0
            p = q + 1
            while p < wb and data[p] == 32:
                p += 1
        if status == 407:
            action = fl.AUTH
        elif blocked or (unknown and status == 403):
            action = fl.BLOCKED
        elif error:
            action = fl.ERROR
        else:
            action = fl.ALLOWED
        f = fl.OK | hflags | (fl.SLOW_HOST if high else 0)
        ga, gb = fl.trim(data, ga, gb)
        if fl.blank(data, ga, gb):
            ga, gb = fl.trim(data, p, wb)  # the reason's label
            if action == fl.BLOCKED:
                for q in range(ga, gb - 1):
                    if data[q] == 58 and data[q + 1] == 32:
                        gb = q
                        break
                while gb > ga and (data[gb - 1] == 46 or data[gb - 1] == 32):
                    gb -= 1
            if action != fl.BLOCKED or gb <= ga:
                f |= fl.NO_CATEGORY
        same = ub - ua == cb - ca
        for q in range(ub - ua):
            if same and data[ua + q] != data[ca + q]:
                same = False
        if fl.blank(data, ua, ub) or same:
            f |= fl.NO_USER
        flags[i] = f
        row = numbers[i]
        row[fl.TS] = ts
        row[fl.LOCAL] = 1 if local else 0
        row[fl.STATUS] = status
        row[fl.BYTES] = size
        row[fl.ACTION] = action
        used = view(views, fl.USERNAME, i, data, w8, ua, ub - ua, False, extra, xw8, xbuf, used)
        used = view(views, fl.CLIENT, i, data, w8, ca, cb - ca, False, extra, xw8, xbuf, used)
        used, slow = fl.user_view(views, i, data, w8, 0, ua, ub, (f & fl.NO_USER) != 0, data, w8, ca, cb,
                                  extra, xw8, xbuf, used)
        flags[i] = f | slow
        used = view(views, fl.METHOD, i, data, w8, ma, mb - ma, False, extra, xw8, xbuf, used)
        used = view(views, fl.HOST, i, data, w8, rs, he - rs, True, extra, xw8, xbuf, used)
        used = view(views, fl.URL, i, data, w8, ra, rb - ra, False, extra, xw8, xbuf, used)
        used = view(views, fl.CATEGORY, i, data, w8, ga, gb - ga, False, extra, xw8, xbuf, used)
    return used
