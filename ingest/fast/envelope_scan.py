"""The compiled pass that finds where each line's syslog envelope ends (`ingest.envelope`).

What: `envelopes(data, starts, ends)` gives, per line, where its message
starts (its own start when it has no recognised envelope) and where its tag
starts and ends (-1 when it has none), by the rules that `ingest.envelope`
states and implements in Python for its reference path (`message_starts`: the
first of the three).

Why: syslog-wrapped squid must still parse at over a million lines a second.
"""

from __future__ import annotations

import numpy as np

from ingest.envelope import LEVELS
from ingest.fast.jit import inline, jit

_MONTHS = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", dtype=np.uint8)
_LEVELS = np.frombuffer(" ".join(LEVELS).encode() + b" ", dtype=np.uint8)  # each word followed by a space


@inline
def _digit(c):
    return 48 <= c <= 57


@inline
def _token_end(data, p, e):
    """End of the run of printable ASCII (33..126) at p; -1 if another byte
    (not a space) interrupts it or the run is empty."""
    q = p
    while q < e and 33 <= data[q] <= 126:
        q += 1
    if q == p or (q < e and data[q] != 32):
        return -1
    return q


@inline
def _iso_end(data, p, e):
    """End of an ISO 8601 timestamp `YYYY-MM-DDTHH:MM:SS[.f](Z|+hh:mm|+hhmm)` at p
    followed by a space; -1 otherwise."""
    if p + 20 > e:
        return -1
    for k in (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18):
        if not _digit(data[p + k]):
            return -1
    if data[p + 4] != 45 or data[p + 7] != 45 or (data[p + 10] != 84 and data[p + 10] != 116) \
            or data[p + 13] != 58 or data[p + 16] != 58:
        return -1
    q = p + 19
    if q < e and data[q] == 46:
        q += 1
        f = q
        while q < e and _digit(data[q]):
            q += 1
        if q == f:
            return -1
    if q < e and (data[q] == 90 or data[q] == 122):
        q += 1
    elif q + 5 <= e and (data[q] == 43 or data[q] == 45) and _digit(data[q + 1]) and _digit(data[q + 2]):
        if data[q + 3] == 58 and q + 6 <= e and _digit(data[q + 4]) and _digit(data[q + 5]):
            q += 6
        elif _digit(data[q + 3]) and _digit(data[q + 4]):
            q += 5
        else:
            return -1
    else:
        return -1
    if q >= e or data[q] != 32:
        return -1
    return q


@inline
def _clock(data, p):
    """data[p:p+8] is `hh:mm:ss` (the caller checked the length)."""
    return data[p + 2] == 58 and data[p + 5] == 58 and _digit(data[p]) and _digit(data[p + 1]) \
        and _digit(data[p + 3]) and _digit(data[p + 4]) and _digit(data[p + 6]) and _digit(data[p + 7])


@inline
def _bsd_end(data, p, e):
    """End of `Mmm dd [YYYY ]hh:mm:ss` at p followed by a space; -1 otherwise."""
    if p + 16 > e:
        return -1
    month = False
    for m in range(12):
        if data[p] == _MONTHS[3 * m] and data[p + 1] == _MONTHS[3 * m + 1] and data[p + 2] == _MONTHS[3 * m + 2]:
            month = True
    if not month or data[p + 3] != 32 or not (data[p + 4] == 32 or _digit(data[p + 4])) or not _digit(data[p + 5]):
        return -1
    if data[p + 6] != 32:
        return -1
    q = p + 7
    if q + 13 <= e and _digit(data[q]) and _digit(data[q + 1]) and _digit(data[q + 2]) and _digit(data[q + 3]) \
            and data[q + 4] == 32:
        q += 5  # the year
    if q + 9 > e or not _clock(data, q) or data[q + 8] != 32:
        return -1
    return q + 8


@inline
def _kiwi_end(data, p, e):
    """End of Kiwi's `DATE TIME<TAB>Facility.Level<TAB>HOST<TAB>` at p; -1 otherwise."""
    if p + 20 > e or not _digit(data[p]) or not _digit(data[p + 1]):
        return -1
    if _digit(data[p + 2]):  # YYYY-MM-DD
        ok = _digit(data[p + 3]) and data[p + 4] == 45 and _digit(data[p + 5]) and _digit(data[p + 6]) \
            and data[p + 7] == 45 and _digit(data[p + 8]) and _digit(data[p + 9])
    else:  # MM-DD-YYYY or DD-MM-YYYY
        ok = data[p + 2] == 45 and _digit(data[p + 3]) and _digit(data[p + 4]) and data[p + 5] == 45 \
            and _digit(data[p + 6]) and _digit(data[p + 7]) and _digit(data[p + 8]) and _digit(data[p + 9])
    if not ok or data[p + 10] != 32 or not _clock(data, p + 11) or data[p + 19] != 9:
        return -1
    q = p + 20  # Facility: [A-Za-z][A-Za-z0-9]*
    if q >= e or not (65 <= (data[q] | 32) - 32 <= 90):
        return -1
    while q < e and (65 <= (data[q] | 32) - 32 <= 90 or _digit(data[q])):
        q += 1
    if q >= e or data[q] != 46:
        return -1
    a = q + 1  # Level: one of LEVELS, any case
    q = a
    while q < e and data[q] != 9:
        q += 1
    if q >= e or not _level(data, a, q):
        return -1
    h = q + 1  # HOST: printable ASCII, then a tab
    q = h
    while q < e and 33 <= data[q] <= 126:
        q += 1
    if q == h or q >= e or data[q] != 9:
        return -1
    return q + 1


@inline
def _level(data, a, b):
    """data[a:b] is one of LEVELS, ASCII case ignored."""
    w = 0
    while w < len(_LEVELS):
        n = 0
        while _LEVELS[w + n] != 32:
            n += 1
        if n == b - a:
            same = True
            for k in range(n):
                c = data[a + k]
                if 65 <= c <= 90:
                    c += 32
                if c != _LEVELS[w + k]:
                    same = False
            if same:
                return True
        w += n + 1
    return False


@inline
def _sd_end(data, p, e):
    """End of RFC 5424 structured data at p (`-` or `[...]` elements); -1 if malformed."""
    if data[p] == 45:
        return p + 1
    q = p
    while q < e and data[q] == 91:
        q += 1
        quoted = False
        while q < e:
            c = data[q]
            if quoted:
                if c == 92:
                    q += 1
                elif c == 34:
                    quoted = False
            elif c == 34:
                quoted = True
            elif c == 93:
                break
            q += 1
        if q >= e:
            return -1
        q += 1  # past ']'
    if q == p or (q < e and data[q] != 32):
        return -1
    return q


@inline
def _message(data, p, e, s, ts, te):
    """(p, ts, te) when a message (not only spaces) starts at p, else (s, -1, -1)
    (the line stays whole)."""
    for q in range(p, e):
        if data[q] != 32:
            return p, ts, te
    return s, -1, -1


@inline
def _tag(data, p, e, s):
    """The message at p, past the optional `TAG[PID]:` token there."""
    q = _token_end(data, p, e)
    if q > 0 and data[q - 1] == 58 and q - p <= 64 and q + 1 < e:
        return _message(data, q + 1, e, s, p, q)
    return _message(data, p, e, s, -1, -1)


@inline
def _host_tag(data, p, e, s):
    """After a BSD or ISO timestamp ending before p: spaces, HOST, then the optional TAG."""
    while p < e and data[p] == 32:
        p += 1
    q = _token_end(data, p, e)  # HOST
    if q < 0 or q + 1 >= e:
        return s, -1, -1
    return _tag(data, q + 1, e, s)


@inline
def _envelope(data, s, e):
    """(where the message of line data[s:e] starts, where its tag starts, where it
    ends): (s, -1, -1) when it has no envelope (or nothing but spaces after one)."""
    while e > s and data[e - 1] == 13:
        e -= 1
    p = s
    pri = False
    if p < e and data[p] == 60:  # <PRI>
        q = p + 1
        while q < e and q < p + 4 and _digit(data[q]):
            q += 1
        if q == p + 1 or q >= e or data[q] != 62:
            return s, -1, -1
        p = q + 1
        pri = True
    if pri and p + 1 < e and _digit(data[p]) and data[p + 1] == 32 and data[p] != 48:  # RFC 5424, version 1..9
        p += 2
        if p >= e:
            return s, -1, -1
        if data[p] == 45:
            q = p + 1 if p + 1 < e and data[p + 1] == 32 else -1
        else:
            q = _iso_end(data, p, e)
        if q < 0:
            return s, -1, -1
        p = q + 1
        ts = -1
        te = -1
        for k in range(4):  # HOSTNAME APP-NAME PROCID MSGID
            q = _token_end(data, p, e)
            if q < 0 or q >= e:
                return s, -1, -1
            if k == 1 and not (q == p + 1 and data[p] == 45):
                ts = p
                te = q
            p = q + 1
        if p >= e:
            return s, -1, -1
        q = _sd_end(data, p, e)
        if q < 0 or q + 1 >= e:
            return s, -1, -1
        p = q + 1
        if p + 3 <= e and data[p] == 0xEF and data[p + 1] == 0xBB and data[p + 2] == 0xBF:
            p += 3
        return _message(data, p, e, s, ts, te)
    if not pri:
        q = _kiwi_end(data, s, e)
        if q > 0:  # Kiwi: the sender's own header may follow
            if q < e and _digit(data[q]):
                r = _iso_end(data, q, e)
            else:
                r = _bsd_end(data, q, e)
            if r > 0:
                m, ts, te = _host_tag(data, r + 1, e, s)
                if m != s:
                    return m, ts, te
            return _tag(data, q, e, s)
    if p < e and _digit(data[p]):
        q = _iso_end(data, p, e)
    else:
        q = _bsd_end(data, p, e)
    if q < 0:
        return s, -1, -1
    return _host_tag(data, q + 1, e, s)


@jit
def envelopes(data, starts, ends):
    """Per line: where its message starts, where its tag starts and ends (-1: none)."""
    n = len(starts)
    out = np.empty(n, dtype=np.int64)
    tag_s = np.empty(n, dtype=np.int64)
    tag_e = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i], tag_s[i], tag_e[i] = _envelope(data, starts[i], ends[i])
    return out, tag_s, tag_e


def message_starts(data, starts, ends) -> np.ndarray:
    """Per line: where its message starts."""
    return envelopes(data, starts, ends)[0]


def warm() -> None:
    """Compile (or load from numba's cache) before the first batch."""
    data = np.frombuffer(b"Nov 30 09:17:01 h t: x", dtype=np.uint8)
    envelopes(data, np.zeros(1, dtype=np.int64), np.array([len(data)], dtype=np.int64))
