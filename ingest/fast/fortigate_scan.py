"""The compiled FortiGate scanner (`ingest.fortigate` states the rules and holds
the reference path; `ingest.fast.filterlog_scan` says what the kernels share).

What: one pass per line: every `key=value` pair is cut once (the separators
found eight bytes at a time), its key looked up in a hash table without a
branch on the key, and only the keys the format needs are kept; then the
fields are checked and written as string views (see `ingest.filterlog`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ingest import tokens
from ingest.fast import filterlog_scan as fl
from ingest.fast.jit import inline, kernel
from ingest.fast.scan_util import host, starts_with, view
from ingest.fortigate import (
    _ACTION,
    _BYTES,
    _LARGE,
    _NOACTION,
    _NOTIME,
    _NOURL,
    _OTHER,
    _PAIR,
    _RANGE,
    _SRC,
    _TIME,
    _UTF8,
    ACTIONS,
    KEYS,
    VALUES,
)

_KEYS = fl.KeyTable({k: i for i, k in enumerate(KEYS)})
(_DATE, _CLOCK, _TZ, _EVENTTIME, _TYPE, _SUBTYPE, _ACT, _USER, _UNAUTH, _SRCIP, _HOSTNAME, _URLKEY, _CATDESC,
 _RCVD, _SERVICE, _DSTPORT, _HTTPMETHOD, _RAWDATA, _STATUSKEY) = range(len(KEYS))
_ACTIONS = fl.Words(ACTIONS)
_VALUES = fl.Words(VALUES)
_HTTPS, _HTTP = (np.frombuffer(t, dtype=np.uint8) for t in (b"https://", b"http://"))
_METHOD_ITEM = np.frombuffer(b"Method=", dtype=np.uint8)
_NO_WORDS = np.empty(0, dtype=np.uint64)  # `extra` is read byte by byte (it is rarely used)


def scan(raw: tokens.Raw) -> tokens.Scanned:
    """The kernel's output for the lines of `raw` (see `ingest.filterlog`)."""
    return fl.scan(raw, _kernel)


def warm() -> None:
    """Compile the scanner (or load it from numba's cache) before the first batch."""
    line = 'date=2026-11-30 time=09:17:01 type="utm" subtype="webfilter" srcip=10.0.0.5 hostname="x.com" action="blocked" url="/"'
    scan(tokens.Raw.of(pl.Series("line", [line])))


_NKEYS = len(_KEYS.codes)


def _kernel(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf):
    # Where each key's value starts and ends and whether it holds `\"`; one more
    # slot for the keys not looked for (written, never read).
    va, vb = np.empty(_NKEYS + 1, dtype=np.int64), np.empty(_NKEYS + 1, dtype=np.int64)
    esc = np.empty(_NKEYS + 1, dtype=np.bool_)
    return _scan_range(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf, va, vb, esc, _NO_WORDS,
                       _KEYS.lo, _KEYS.hi, _KEYS.lens, _KEYS.codes, _KEYS.slots, _KEYS.mult,
                       _ACTIONS.words, _ACTIONS.offsets, _ACTIONS.codes,
                       _VALUES.words, _VALUES.offsets, _VALUES.codes, _HTTPS, _HTTP, _METHOD_ITEM)


@inline
def _two(data, p):
    """The two-digit number at data[p:p+2], -1 if it is not two digits."""
    return fl.number(data, p, p + 2, 2)


@inline
def _epoch_us(data, a, b):
    """Epoch µs of `eventtime` (s, ms, µs or ns by magnitude); -1 not digits, -2 too large."""
    if b - a == 19 and 48 <= data[a] <= 56:
        v = fl.number(data, a, b, 19)
    else:
        v = fl.number(data, a, b, 18)
    if v < 0:
        return v
    if v < 100_000_000_000:
        return v * 1_000_000
    if v < 100_000_000_000_000:
        return v * 1000
    if v < 100_000_000_000_000_000:
        return v
    return v // 1000


@inline
def _local_us(data, da, db, ta, tb):
    """Epoch µs of `date=YYYY-MM-DD time=HH:MM:SS` read as UTC; -1 bad, -2 out of range."""
    if db - da != 10 or tb - ta != 8 or data[da + 4] != 45 or data[da + 7] != 45 or data[ta + 2] != 58 \
            or data[ta + 5] != 58:
        return -1
    year = fl.number(data, da, da + 4, 4)
    mo, d, h, mi, s = _two(data, da + 5), _two(data, da + 8), _two(data, ta), _two(data, ta + 3), _two(data, ta + 6)
    if year < 0 or mo < 0 or d < 0 or h < 0 or mi < 0 or s < 0:
        return -1
    us = fl.civil_us(year, mo, d, h, mi, s)
    if us < 0:
        return -1
    return us if 1990 <= year <= 2100 else -2


@inline
def _offset_us(data, a, b):
    """The UTC offset `+HHMM` / `-HH:MM` of data[a:b] in µs; -1 when it is not one (None: 0)."""
    if b - a == 6 and data[a + 3] == 58:
        mm = _two(data, a + 4)
    elif b - a == 5:
        mm = _two(data, a + 3)
    else:
        return -1
    hh = _two(data, a + 1)
    if hh < 0 or mm < 0 or hh > 23 or mm > 59 or (data[a] != 43 and data[a] != 45):
        return -1
    return (1 if data[a] == 43 else -1) * (hh * 60 + mm) * 60_000_000


@kernel
def _scan_range(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf, va, vb, esc, xw8,
                klo, khi, klens, kcodes, kslots, kmult, awords, aoffsets, acodes, vwords, voffsets, vcodes,
                https, http, method_item):
    """Read lines lo..hi into row i of the outputs (see `ingest.filterlog`)."""
    used = 0
    nkeys = len(klens)  # a key not looked for is stored in the extra slot nkeys
    for i in range(lo, hi):
        flags[i] = 0
        numbers[i, fl.REASON] = 0
        s, e = fl.trim(data, starts[i], ends[i])
        if e <= s:
            continue
        high = fl.any_high(data, s, e)
        if high and not fl.utf8_ok(data, s, e):
            fl.reject(flags, numbers, i, _UTF8)
            continue
        va[:] = -1
        vb[:] = -1
        esc[:] = False
        p = s
        if data[p] == 60:  # a bare syslog <PRI>
            q = p + 1
            while q < e and 48 <= data[q] <= 57:
                q += 1
            if q < e and data[q] == 62 and q > p + 1:
                p = q + 1
        good = True
        while p < e:
            while p < e and data[p] == 32:
                p += 1
            if p >= e:
                break
            ka = p
            p = fl.find2(data, p, e, 61, 32)
            if p >= e or data[p] != 61 or p == ka:
                good = False
                break
            kb = p
            p += 1
            escaped = False
            if p < e and data[p] == 34:
                a = p + 1
                p += 1
                while True:
                    p = fl.find2(data, p, e, 34, 92)
                    if p + 1 < e and data[p] == 92:
                        escaped = True
                        p += 2
                    else:
                        break
                if p >= e or data[p] != 34:
                    good = False
                    break
                b = p
                p += 1
            else:
                a = p
                p = fl.find2(data, p, e, 32, 32)
                b = p
            # The first occurrence of a key wins; stored without a branch on the key.
            key = fl.key_code(data, w8, ka, kb, klo, khi, klens, kcodes, kslots, kmult)
            key = key if (key >= 0) & (va[key] < 0) else nkeys  # (va[-1] is the extra slot)
            va[key] = a
            vb[key] = b
            esc[key] = escaped
        if not good:
            fl.reject(flags, numbers, i, _PAIR)
            continue
        if not ((va[_SUBTYPE] >= 0 and fl.word_code(data, va[_SUBTYPE], vb[_SUBTYPE], vwords, voffsets, vcodes) == 1)
                or (va[_TYPE] >= 0 and fl.word_code(data, va[_TYPE], vb[_TYPE], vwords, voffsets, vcodes) == 1)):
            fl.reject(flags, numbers, i, _OTHER)
            continue
        local = False
        if va[_EVENTTIME] >= 0:
            ts = _epoch_us(data, va[_EVENTTIME], vb[_EVENTTIME])
            if ts == -2:
                fl.reject(flags, numbers, i, _LARGE)
                continue
            if ts >= 0 and not fl.MIN_US <= ts < fl.MAX_US:
                ts = -2
        elif va[_DATE] >= 0 and va[_CLOCK] >= 0:
            ts = _local_us(data, va[_DATE], vb[_DATE], va[_CLOCK], vb[_CLOCK])
            if ts >= 0 and va[_TZ] >= 0 and vb[_TZ] > va[_TZ]:
                off = _offset_us(data, va[_TZ], vb[_TZ])
                ts = ts - off if off != -1 else -1
            elif ts >= 0:
                local = True
        else:
            fl.reject(flags, numbers, i, _NOTIME)
            continue
        if ts < 0:
            fl.reject(flags, numbers, i, _TIME if ts == -1 else _RANGE)
            continue
        act = _ACT if va[_ACT] >= 0 else _STATUSKEY  # FortiOS 5 writes the verdict as status=
        if va[act] < 0:
            fl.reject(flags, numbers, i, _NOACTION)
            continue
        action = fl.word_code(data, va[act], vb[act], awords, aoffsets, acodes)
        if action < 0:
            fl.reject(flags, numbers, i, _ACTION)
            continue
        if va[_SRCIP] < 0 or not fl.ip_shaped(data, va[_SRCIP], vb[_SRCIP]):
            fl.reject(flags, numbers, i, _SRC)
            continue
        nbytes = 0
        if va[_RCVD] >= 0:
            nbytes = fl.number(data, va[_RCVD], vb[_RCVD], 18)
            if nbytes < 0:
                fl.reject(flags, numbers, i, _LARGE if nbytes == -2 else _BYTES)
                continue
        # The URL: as logged when absolute, else scheme://hostname + path (in extra).
        ua, ub = va[_URLKEY], vb[_URLKEY]
        absolute = False
        start = 0
        url_end = 0
        if ua >= 0:
            q = ua
            while q < ub and (65 <= data[q] <= 90 or 97 <= data[q] <= 122):
                q += 1
            absolute = q > ua and q + 2 < ub and data[q] == 58 and data[q + 1] == 47 and data[q + 2] == 47
        ha, hb = va[_HOSTNAME], vb[_HOSTNAME]
        if not absolute and (ha < 0 or hb <= ha or used + (hb - ha) + max(ub - ua, 1) + 11 > len(extra)):
            fl.reject(flags, numbers, i, _NOURL)
            continue
        f = fl.OK | (fl.SLOW_HOST if high else 0)
        if absolute:
            rs, he, hflags = host(data, ua, ub)
        else:
            scheme = http
            if (va[_SERVICE] >= 0 and fl.word_code(data, va[_SERVICE], vb[_SERVICE], vwords, voffsets, vcodes) == 2) \
                    or (va[_DSTPORT] >= 0 and fl.number(data, va[_DSTPORT], vb[_DSTPORT], 5) == 443):
                scheme = https
            colons = 0
            for q in range(ha, hb):
                if data[q] == 58:
                    colons += 1
            bracket = colons >= 2 and data[ha] != 91  # an IPv6 address: in brackets in a URL
            start = used
            for c in scheme:
                extra[used] = c
                used += 1
            if bracket:
                extra[used] = 91
                used += 1
            for q in range(ha, hb):
                extra[used] = data[q]
                used += 1
            if bracket:
                extra[used] = 93
                used += 1
            if ub <= ua or data[ua] != 47:
                extra[used] = 47
                used += 1
            for q in range(max(ua, 0), max(ub, 0)):
                extra[used] = data[q]
                used += 1
            url_end = used
            rs, he, hflags = host(extra, start, url_end)
        if hflags & fl.NO_HOST:
            fl.reject(flags, numbers, i, _NOURL)
            continue
        f |= hflags
        a, b = va[_USER], vb[_USER]
        if a < 0 or fl.blank(data, a, b):
            a, b = va[_UNAUTH], vb[_UNAUTH]
        ma, mb = va[_HTTPMETHOD], vb[_HTTPMETHOD]
        if (ma < 0 or mb <= ma) and va[_RAWDATA] >= 0:  # `rawdata="Method=GET|URI=...|..."`
            ma = -1
            for q in range(va[_RAWDATA], vb[_RAWDATA]):
                if starts_with(data, q, vb[_RAWDATA], method_item) and (q == va[_RAWDATA] or data[q - 1] == 124):
                    ma = q + 7
                    mb = ma
                    while mb < vb[_RAWDATA] and data[mb] != 124:
                        mb += 1
                    break
        if ma < 0 or mb <= ma:
            f |= fl.NO_METHOD
            ma, mb = 0, 0
        if a < 0 or fl.blank(data, a, b):
            f |= fl.NO_USER
            a, b = 0, 0
        ca, cb = va[_CATDESC], vb[_CATDESC]
        if ca < 0 or fl.blank(data, ca, cb):
            f |= fl.NO_CATEGORY
            ca, cb = 0, 0
        flags[i] = f
        row = numbers[i]
        row[fl.TS] = ts
        row[fl.LOCAL] = 1 if local else 0
        row[fl.STATUS] = 0
        row[fl.BYTES] = nbytes
        row[fl.ACTION] = action
        if esc[_USER] or esc[_UNAUTH]:  # `\"` inside the quotes: the name, unescaped, in extra
            at = used
            q = a
            while q < b:
                if data[q] == 92 and q + 1 < b and data[q + 1] == 34:
                    q += 1
                extra[used] = data[q]
                used += 1
                q += 1
            end = used
            used = view(views, fl.USERNAME, i, extra, xw8, at, end - at, False, extra, xw8, xbuf, used, xbuf)
            used, slow = fl.user_view(views, i, extra, xw8, xbuf, at, end, False, data, w8, va[_SRCIP], vb[_SRCIP],
                                      extra, xw8, xbuf, used)
        else:
            used = view(views, fl.USERNAME, i, data, w8, a, b - a, False, extra, xw8, xbuf, used)
            used, slow = fl.user_view(views, i, data, w8, 0, a, b, (f & fl.NO_USER) != 0, data, w8, va[_SRCIP],
                                      vb[_SRCIP], extra, xw8, xbuf, used)
        flags[i] = f | slow
        used = view(views, fl.CLIENT, i, data, w8, va[_SRCIP], vb[_SRCIP] - va[_SRCIP], False, extra, xw8, xbuf, used)
        used = view(views, fl.METHOD, i, data, w8, ma, mb - ma, False, extra, xw8, xbuf, used)
        used = view(views, fl.CATEGORY, i, data, w8, ca, cb - ca, False, extra, xw8, xbuf, used)
        if absolute:
            used = view(views, fl.HOST, i, data, w8, rs, he - rs, True, extra, xw8, xbuf, used)
            used = view(views, fl.URL, i, data, w8, ua, ub - ua, False, extra, xw8, xbuf, used)
        else:
            used = view(views, fl.URL, i, extra, xw8, start, url_end - start, False, extra, xw8, xbuf, used, xbuf)
            used = view(views, fl.HOST, i, extra, xw8, rs, he - rs, True, extra, xw8, xbuf, used, xbuf)
    return used
