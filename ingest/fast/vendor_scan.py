"""Compiled one-pass CSV tokenizer for the vendor CSV formats (`ingest.vendor_csv`).

What: `scan(raw, layout)` splits every line of a batch into CSV fields by the
header's delimiter, in machine code (numba), in two threads. Fields may be
quoted (`"a, b"`, with `""` for a quote), spaces and tabs around a field are
trimmed, a quote inside an unquoted field is an ordinary character. Per line it
returns flags (field count right or not, blank, a repeated header, no user, no
client, no category, a URL whose host needs the exact rules, a user name with
non-ASCII letters), the decision's code (the configured words, ASCII case
ignored) and the wanted fields as Arrow string views into the batch buffer
(the user and host lower-cased; unescaped quotes copied to an extra buffer).

Why: issue 11 asks for half a million lines a second on two cores; splitting
CSV fields with regexes or polars' `split` costs about a microsecond a line,
this pass a small fraction of that. Everything after it (time parsing, the
time zone, unusual URLs, diagnosis of bad lines) is vectorised polars in
`ingest.vendor_csv`.
"""

from __future__ import annotations

import numpy as np

from ingest import tokens
from ingest.fast import text_scan
from ingest.fast.bytescan import word_code
from ingest.fast.jit import inline, jit
from ingest.fast.scan_util import (
    _POOL,
    NO_HOST,
    PIECES,
    SLOW_HOST,
    host,
    line_end,
    put_view,
    view,
)
from ingest.vendor_csv import (
    BAD_QUOTE,
    CATEGORY,
    CLIENT,
    DECISION,
    HOST,
    N_VIEWS,
    NO_CATEGORY,
    NO_CLIENT,
    NO_USERNAME,
    OK,
    SKIP,
    SLOW,
    TIME,
    URL,
    USER,
    USERNAME,
    WIDE_USER,
    WIDTH,
    Layout,
)


@inline
def _space(c, delim):
    """A space or tab that is not the delimiter (trimmed around fields)."""
    return (c == 32 or c == 9) and c != delim


@inline
def _lower_copy(src, a, b, extra, used):
    """Copy src[a:b] to extra[used:], ASCII lower-cased; (new used, any byte >= 0x80)."""
    wide = False
    for k in range(a, b):
        ch = src[k]
        if ch >= 0x80:
            wide = True
        extra[used] = ch + 32 if 65 <= ch <= 90 else ch
        used += 1
    return used, wide


@inline
def _same(data, s, e, text):
    if e - s != len(text):
        return False
    for k in range(len(text)):
        if data[s + k] != text[k]:
            return False
    return True


@jit
def _scan_range(data, w8, starts, ends, lo, hi, layout, delim, header, words, offsets, codes,
                flags, numbers, views, extra, xbuf):
    """Tokenize lines lo..hi into rows lo..hi of the outputs; returns the bytes of
    `extra` used (see `scan`)."""
    n_fields = len(layout)
    fs = np.full(N_VIEWS, -1, dtype=np.int64)  # content start, end and escaped-quote flag per column
    fe = np.zeros(N_VIEWS, dtype=np.int64)
    fq = np.zeros(N_VIEWS, dtype=np.bool_)
    xw8 = np.empty(0, dtype=np.uint64)
    used = 0
    for i in range(lo, hi):
        flags[i] = 0
        numbers[i, 0] = 0
        numbers[i, 1] = 0
        s = starts[i]
        e = line_end(data, s, ends[i])
        if e - s >= 3 and data[s] == 0xEF and data[s + 1] == 0xBB and data[s + 2] == 0xBF:
            s += 3  # a byte order mark
        if _same(data, s, e, header):
            flags[i] = SKIP
            continue
        blank = True
        for p in range(s, e):
            if not (_space(data[p], delim) or data[p] == delim):
                blank = False
                break
        if blank:
            flags[i] = SKIP
            continue
        for c in range(N_VIEWS):
            fs[c] = -1
        p = s
        j = 0  # field index
        extra_text = False  # a field beyond the header's that is not empty
        bad = False
        while True:
            while p < e and _space(data[p], delim):
                p += 1
            escaped = False
            if p < e and data[p] == 34:  # quoted
                a = p + 1
                p = a
                closed = False
                while p < e:
                    if data[p] == 34:
                        if p + 1 < e and data[p + 1] == 34:
                            escaped = True
                            p += 2
                            continue
                        closed = True
                        break
                    p += 1
                if not closed:
                    bad = True
                    break
                b = p
                p += 1
                while p < e and _space(data[p], delim):
                    p += 1
                if p < e and data[p] != delim:
                    bad = True
                    break
            else:
                a = p
                while p < e and data[p] != delim:
                    p += 1
                b = p
            while b > a and _space(data[b - 1], delim):
                b -= 1
            while a < b and _space(data[a], delim):
                a += 1
            if j < n_fields:
                c = layout[j]
                if c >= 0:
                    fs[c], fe[c], fq[c] = a, b, escaped
            elif b > a:
                extra_text = True
            j += 1
            if p >= e:
                break
            p += 1  # the delimiter
        numbers[i, 0] = j
        if bad:
            flags[i] = BAD_QUOTE
            continue
        if j < n_fields or extra_text:
            continue
        numbers[i, 1] = max(word_code(data, fs[DECISION], fe[DECISION], words, offsets, codes), 0)
        f = OK
        if fs[USERNAME] < 0 or fe[USERNAME] == fs[USERNAME] or (
                fe[USERNAME] - fs[USERNAME] == 1 and data[fs[USERNAME]] == 45):
            f |= NO_USERNAME
        if fs[CLIENT] < 0 or fe[CLIENT] == fs[CLIENT] or (fe[CLIENT] - fs[CLIENT] == 1 and data[fs[CLIENT]] == 45):
            f |= NO_CLIENT
        if fs[CATEGORY] < 0 or fe[CATEGORY] == fs[CATEGORY]:
            f |= NO_CATEGORY
        for c in (TIME, DECISION, URL, CLIENT, CATEGORY, USERNAME):
            if fs[c] < 0:
                continue
            if fq[c]:  # undo the doubled quotes into `extra`
                q = used
                k = fs[c]
                while k < fe[c]:
                    extra[q] = data[k]
                    q += 1
                    k += 2 if data[k] == 34 else 1
                put_view(views, c, i, extra, xw8, used, q - used, xbuf, False)
                fs[c], fe[c] = used, q  # now in extra
                used = q
            else:
                used = view(views, c, i, data, w8, fs[c], fe[c] - fs[c], False, extra, xw8, xbuf, used)
        if not f & NO_USERNAME:
            if fq[USERNAME]:
                q, wide = _lower_copy(extra, fs[USERNAME], fe[USERNAME], extra, used)
            else:
                q, wide = _lower_copy(data, fs[USERNAME], fe[USERNAME], extra, used)
            if wide:
                f |= WIDE_USER
            put_view(views, USER, i, extra, xw8, used, q - used, xbuf, False)
            used = q
        elif not f & NO_CLIENT:
            views[USER, i, 0] = views[CLIENT, i, 0]
            views[USER, i, 1] = views[CLIENT, i, 1]
        if fq[URL]:
            f |= SLOW  # a quoted URL with quotes inside: the exact rules
        else:
            rs, he, hflags = host(data, fs[URL], fe[URL])
            if hflags & (SLOW_HOST | NO_HOST):
                f |= SLOW  # (no host: with_host says null, one definition)
            else:
                q, wide = _lower_copy(data, rs, he, extra, used)
                put_view(views, HOST, i, extra, xw8, used, q - used, xbuf, False)
                used = q
        flags[i] = f
    return used



def scan(raw: tokens.Raw, lay: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """(flags uint8[n], numbers int64[n, 2], views uint64[8, n, 2], extras) (flags
    and columns: see `ingest.vendor_csv`) for the
    lines of `raw`, in PIECES threads; views point into raw.data (buffer 0) or
    extras[k - 1] (buffer k). Rows without OK carry only their flags and field count."""
    n = len(raw.starts)
    flags = np.zeros(n, dtype=np.uint8)
    numbers = np.zeros((n, WIDTH), dtype=np.int64)
    views = np.zeros((N_VIEWS, n, 2), dtype=np.uint64)
    cuts = [n * k // PIECES for k in range(PIECES + 1)]
    # A line writes at most three times its length to extra (unquoted fields, the
    # lower-cased user and host); pages never written cost nothing.
    extras = [np.empty(3 * int((raw.ends[a:z] - raw.starts[a:z]).sum()) + 16, dtype=np.uint8)
              for a, z in zip(cuts, cuts[1:])]

    def piece(k: int) -> int:
        return _scan_range(raw.data, raw.w8, raw.starts, raw.ends, cuts[k], cuts[k + 1], lay.layout, lay.delim,
                           lay.header, lay.words, lay.offsets, lay.codes, flags, numbers, views, extras[k], k + 1)

    others = [_POOL.submit(piece, k) for k in range(1, PIECES)] if n > 10_000 else []
    used = [piece(0)] + [f.result() for f in others]
    if not others:
        used += [piece(k) for k in range(1, PIECES)]
    return flags, numbers, views, [x[:u] for x, u in zip(extras, used)]


def warm() -> None:
    """Compile (or load from numba's cache) before the first batch, with the
    decoding kernels of `ingest.text` that the CSV formats use."""
    text_scan.warm()
    lay = Layout([TIME, URL, DECISION], ",", "t,u,d", {"allowed": "allowed"})
    line = b"2026-01-01 00:00,\"a\"\"b\",allowed\n"
    scan(tokens.Raw(line, np.zeros(1, dtype=np.int64), np.array([len(line) - 1], dtype=np.int64)), lay)
