"""The compiled pass that finds where each line's syslog envelope ends (`ingest.envelope`).

What: `message_starts(data, starts, ends)` gives, per line, where its message
starts (its own start when it has no recognised envelope), by the rules that
`ingest.envelope` states and implements in Python for its reference path.

Why: syslog-wrapped squid must still parse at over a million lines a second.
"""

from __future__ import annotations

import numpy as np

from ingest.fast.jit import inline, jit

_MONTHS = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", dtype=np.uint8)


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
def _bsd_end(data, p, e):
    """End of `Mmm dd hh:mm:ss` at p followed by a space; -1 otherwise."""
    if p + 16 > e:
        return -1
    month = False
    for m in range(12):
        if data[p] == _MONTHS[3 * m] and data[p + 1] == _MONTHS[3 * m + 1] and data[p + 2] == _MONTHS[3 * m + 2]:
            month = True
    if not month or data[p + 3] != 32 or not (data[p + 4] == 32 or _digit(data[p + 4])) or not _digit(data[p + 5]):
        return -1
    if data[p + 6] != 32 or data[p + 9] != 58 or data[p + 12] != 58:
        return -1
    for k in (7, 8, 10, 11, 13, 14):
        if not _digit(data[p + k]):
            return -1
    if data[p + 15] != 32:
        return -1
    return p + 15


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
def _message(data, p, e, s):
    """p when a message (not only spaces) starts there, else s (the line stays whole)."""
    for q in range(p, e):
        if data[q] != 32:
            return p
    return s


@inline
def _message_start(data, s, e):
    """Where the message of line data[s:e] starts, or s when it has no envelope
    (or nothing but spaces after one)."""
    while e > s and data[e - 1] == 13:
        e -= 1
    p = s
    pri = False
    if p < e and data[p] == 60:  # <PRI>
        q = p + 1
        while q < e and q < p + 4 and _digit(data[q]):
            q += 1
        if q == p + 1 or q >= e or data[q] != 62:
            return s
        p = q + 1
        pri = True
    if pri and p + 1 < e and _digit(data[p]) and data[p + 1] == 32 and data[p] != 48:  # RFC 5424, version 1..9
        p += 2
        if p >= e:
            return s
        if data[p] == 45:
            q = p + 1 if p + 1 < e and data[p + 1] == 32 else -1
        else:
            q = _iso_end(data, p, e)
        if q < 0:
            return s
        p = q + 1
        for _ in range(4):  # HOSTNAME APP-NAME PROCID MSGID
            q = _token_end(data, p, e)
            if q < 0 or q >= e:
                return s
            p = q + 1
        if p >= e:
            return s
        q = _sd_end(data, p, e)
        if q < 0 or q + 1 >= e:
            return s
        p = q + 1
        if p + 3 <= e and data[p] == 0xEF and data[p + 1] == 0xBB and data[p + 2] == 0xBF:
            p += 3
        return _message(data, p, e, s)
    if p < e and _digit(data[p]):
        q = _iso_end(data, p, e)
    else:
        q = _bsd_end(data, p, e)
    if q < 0:
        return s
    p = q + 1
    while p < e and data[p] == 32:
        p += 1
    q = _token_end(data, p, e)  # HOST
    if q < 0 or q + 1 >= e:
        return s
    p = q + 1
    q = _token_end(data, p, e)  # TAG[PID]: (optional)
    if q > 0 and data[q - 1] == 58 and q - p <= 64 and q + 1 < e:
        p = q + 1
    return _message(data, p, e, s)


@jit
def message_starts(data, starts, ends):
    out = np.empty(len(starts), dtype=np.int64)
    for i in range(len(starts)):
        out[i] = _message_start(data, starts[i], ends[i])
    return out


def warm() -> None:
    """Compile (or load from numba's cache) before the first batch."""
    data = np.frombuffer(b"Nov 30 09:17:01 h t: x", dtype=np.uint8)
    message_starts(data, np.zeros(1, dtype=np.int64), np.array([len(data)], dtype=np.int64))
