"""Compiled byte-level helpers of the e2guardian, squidGuard and FortiGate scanners.

What: pieces inlined into those scanners' per-line loops (numba): word tables
(`Words`, case-insensitive; `KeyTable`, exact, one hash probe), decimal numbers,
civil date and time to epoch microseconds, the IP-address shape, UTF-8
validation, trimming, and byte searches eight bytes at a time.

Why: the three formats cut the same kinds of fields out of their lines; one
definition of each shape keeps their rules alike (e.g. what counts as an IP
address or a number too large for the Int64 columns; `ingest.civil` is the date rule
both paths share, inlined here; `ingest.filterlog` holds
their Python twins for the reference paths). `ingest.fast.filterlog_scan`
re-exports them, so a scanner refers to them as `fl.name`.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from ingest import civil
from ingest.tokens import Words  # noqa: F401 - the table word_code reads (built without numba)
from numba.core import types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from ingest.fast.jit import inline
from ingest.fast.scan_util import word_at


@intrinsic
def load64(typingctx, data, at):
    """The eight bytes data[at:at + 8] as a little-endian uint64 (one unaligned
    load; the caller ensures at + 8 <= len(data)). Cheaper than indexing the
    strided `w8` view, whose every access multiplies by the stride and checks
    for a negative index."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        word = builder.bitcast(builder.gep(array.data, [args[1]]), ir.IntType(64).as_pointer())
        return builder.load(word, align=1)

    return types.uint64(data, at), codegen


class KeyTable:
    """Exact (case-sensitive) words of at most 16 bytes and their codes, found by
    one probe of a multiplicative hash of the first eight bytes and compared as
    two 64-bit words (for the dozens of `key=` of a FortiGate line)."""

    BITS = 10

    def __init__(self, codes: dict[str, int]):
        texts = [w.encode() for w in codes]
        assert all(1 <= len(t) <= 16 for t in texts)
        self.lo = np.array([int.from_bytes(t[:8], "little") for t in texts], dtype=np.uint64)
        self.hi = np.array([int.from_bytes(t[8:16], "little") for t in texts], dtype=np.uint64)
        self.lens = np.array([len(t) for t in texts], dtype=np.int64)
        self.codes = np.array(list(codes.values()), dtype=np.int64)
        for mult in range(0x9E3779B97F4A7C15, 0x9E3779B97F4A7C15 + 2000, 2):
            slots = np.full(1 << self.BITS, -1, dtype=np.int64)
            for k, t in enumerate(texts):
                h = (((int(self.lo[k]) ^ len(t)) * mult) & (2**64 - 1)) >> (64 - self.BITS)
                if slots[h] >= 0:
                    break
                slots[h] = k
            else:
                self.slots, self.mult = slots, np.uint64(mult)
                return
        raise ValueError("no collision-free hash for these keys")


_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1] * 9, dtype=np.uint64)


@inline
def key_code(data, w8, a, b, lo, hi, lens, codes, slots, mult):
    """The code of the word data[a:b] in a `KeyTable`, -1 if it is not one.
    Without a branch on the key where the line is not at the buffer's end: a
    FortiGate line has some forty keys in no fixed order, and a mispredicted
    branch per key costs more than the lookup."""
    n = b - a
    m = min(max(n, 0), 16)
    if a + 16 <= len(data):
        w = load64(data, a) & _MASKS[min(m, 8)]
        w2 = load64(data, a + 8) & _MASKS[max(m - 8, 0)]
    else:
        w = word_at(w8, data, a, min(m, 8))
        w2 = word_at(w8, data, a + 8, max(m - 8, 0))
    k = slots[((w ^ np.uint64(n)) * mult) >> np.uint64(64 - 10)]
    k2 = max(k, 0)
    # All the comparisons in one test (LLVM would make a branch of each `and`).
    miss = (np.uint64(lens[k2]) ^ np.uint64(n)) | (lo[k2] ^ w) | (hi[k2] ^ w2) | np.uint64(k < 0)
    return codes[k2] if miss == 0 else -1


@inline
def word_code(data, a, b, words, offsets, codes):
    """The code of the word data[a:b] in a `Words` table (ASCII case ignored), -1 if absent."""
    for k in range(len(offsets) - 1):
        lo, hi = offsets[k], offsets[k + 1]
        if hi - lo != b - a:
            continue
        same = True
        for q in range(b - a):
            c = data[a + q]
            if 65 <= c <= 90:
                c += 32
            if c != words[lo + q]:
                same = False
                break
        if same:
            return codes[k]
    return -1


civil_us = inline(civil.civil_us)  # epoch microseconds of a civil date and time, -1 if none


@inline
def number(data, a, b, most):
    """Value of data[a:b] if it is 1..most ASCII digits; -1 if it is not digits; -2 if too long."""
    if b - a < 1:
        return -1
    for p in range(a, b):
        if data[p] < 48 or data[p] > 57:
            return -1
    if b - a > most:
        return -2
    value = 0
    for p in range(a, b):
        value = value * 10 + (data[p] - 48)
    return value


@inline
def dec(data, a, b):
    """The value of the decimal digits data[a:b] (the caller checked they are digits)."""
    v = 0
    for p in range(a, b):
        v = v * 10 + data[p] - 48
    return v


@inline
def ip_shaped(data, a, b):
    """data[a:b] is shaped like an IPv4 address (four groups of 1-3 digits) or an
    IPv6 one (hex digits, colons and dots, at least two colons)."""
    if b - a < 2 or b - a > 45:
        return False
    colons = 0
    dots = 0
    run = 0
    v4 = True
    for p in range(a, b):
        c = data[p]
        if c == 58:
            colons += 1
            v4 = False
        elif c == 46:
            if run == 0 or run > 3:
                v4 = False
            dots += 1
            run = 0
        elif 48 <= c <= 57:
            run += 1
        elif 97 <= c <= 102 or 65 <= c <= 70:
            v4 = False
        else:
            return False
    if colons >= 2:
        return True
    return v4 and dots == 3 and 1 <= run <= 3


@inline
def utf8_ok(data, s, e):
    """Whether data[s:e] is well-formed UTF-8 (no overlong forms, surrogates or code
    points above U+10FFFF: what Python's strict decoder accepts). Also the batch
    check of `ingest.fast.text_scan`."""
    p = s
    while p < e:
        c = data[p]
        if c < 0x80:
            p += 1
            continue
        if 0xC2 <= c <= 0xDF:
            n = 1
        elif 0xE0 <= c <= 0xEF:
            n = 2
        elif 0xF0 <= c <= 0xF4:
            n = 3
        else:
            return False
        if p + n >= e:
            return False
        for q in range(1, n + 1):
            if data[p + q] & 0xC0 != 0x80:
                return False
        if n == 2 and ((c == 0xE0 and data[p + 1] < 0xA0) or (c == 0xED and data[p + 1] > 0x9F)):
            return False
        if n == 3 and ((c == 0xF0 and data[p + 1] < 0x90) or (c == 0xF4 and data[p + 1] > 0x8F)):
            return False
        p += n + 1
    return True


@inline
def spaces(data, s, e, sp):
    """Store the positions of the spaces of data[s:e] in sp; return how many, and
    whether a byte >= 0x80 was seen."""
    k = 0
    high = False
    for p in range(s, e):
        c = data[p]
        if c == 32:
            sp[k] = p
            k += 1
        elif c >= 0x80:
            high = True
    return k, high


_HIGH = np.uint64(0x8080808080808080)
_ONES = np.uint64(0x0101010101010101)


@inline
def find2(data, p, e, c1, c2):
    """The first position >= p of byte c1 or c2 in data[:e], else e (eight bytes at a
    time: the lowest flagged byte of the SWAR zero-byte test is always a true match)."""
    m1 = _ONES * np.uint64(c1)
    m2 = _ONES * np.uint64(c2)
    while p + 8 <= e:
        w = load64(data, p)
        x1 = w ^ m1
        x2 = w ^ m2
        y = ((x1 - _ONES) & ~x1 & _HIGH) | ((x2 - _ONES) & ~x2 & _HIGH)
        if y:
            return p + np.int64(trailing_zeros(y) >> np.uint64(3))
        p += 8
    while p < e:
        if data[p] == c1 or data[p] == c2:
            return p
        p += 1
    return e


@inline
def any_high(data, s, e):
    """Whether data[s:e] holds a byte >= 0x80 (over a slice, so that the loop has
    no negative-index checks and is vectorised)."""
    line = data[s:e]
    acc = np.uint8(0)
    for p in range(len(line)):
        acc |= line[p]
    return acc >= 0x80


@inline
def trim(data, s, e):
    """(s, e) without leading and trailing spaces, tabs and carriage returns."""
    while e > s and (data[e - 1] == 32 or data[e - 1] == 13 or data[e - 1] == 9):
        e -= 1
    while s < e and (data[s] == 32 or data[s] == 9):
        s += 1
    return s, e


@inline
def blank(data, a, b):
    """data[a:b] is empty or `-`."""
    return b == a or (b - a == 1 and data[a] == 45)
