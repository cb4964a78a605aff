"""The CSV tokenizer of the vendor formats in plain Python (the reference path).

What: `split(raw, layout)` gives, for every line of a batch, what the compiled
tokenizer `ingest.fast.vendor_scan` gives (flags, field count and decision
code, the wanted fields; see `ingest.vendor_csv`), one line at a time: fields
by the header's delimiter, a field may be quoted (`"a, b"`, `""` for a quote),
spaces and tabs around a field are trimmed, a quote inside an unquoted field is
an ordinary character; a line with a byte order mark, the header repeated or
nothing but spaces and delimiters is skipped; the user and a plain URL's host
lower-cased (ASCII).

Why: ingest must work where numba does not (a new CPython release, an install
without it); tests/test_reference_paths.py checks that both give the same rows.
"""

from __future__ import annotations

import numpy as np

from ingest import tokens
from ingest.squid import plain_host
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
    URL,
    USER,
    USERNAME,
    WIDE_USER,
    WIDTH,
    Layout,
)

_BOM = b"\xef\xbb\xbf"


def _fields(line: bytes, delim: int, spaces: bytes) -> tuple[list[tuple[bytes, bool]], bool]:
    """The line's fields (content, had doubled quotes) and whether a quote is bad."""
    out: list[tuple[bytes, bool]] = []
    p, e = 0, len(line)
    while True:
        while p < e and line[p] in spaces:
            p += 1
        escaped = False
        if p < e and line[p] == 34:  # quoted: up to the quote that is not doubled
            a = p = p + 1
            while True:
                q = line.find(b'"', p)
                if q < 0:
                    return out, True
                if line[q + 1 : q + 2] == b'"':
                    escaped, p = True, q + 2
                    continue
                break
            value, p = line[a:q], q + 1
            while p < e and line[p] in spaces:
                p += 1
            if p < e and line[p] != delim:
                return out, True
        else:
            q = line.find(bytes([delim]), p)
            q = e if q < 0 else q
            value, p = line[p:q], q
        out.append((value.strip(spaces), escaped))
        if p >= e:
            return out, False
        p += 1  # the delimiter


def split(raw: tokens.Raw, lay: Layout) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """(flags uint8[n], numbers int64[n, 2], columns) for the lines of `raw`:
    `columns[c][i]` is the text of column c of line i (empty where none)."""
    n = len(raw.starts)
    flags = np.zeros(n, dtype=np.uint8)
    numbers = np.zeros((n, WIDTH), dtype=np.int64)
    columns = [[""] * n for _ in range(N_VIEWS)]
    delim, header = lay.delim, lay.header.tobytes()
    spaces = bytes(c for c in (32, 9) if c != delim)
    words = {lay.words[a:b].tobytes(): int(code) for a, b, code in zip(lay.offsets[:-1], lay.offsets[1:], lay.codes)}
    layout = lay.layout.tolist()
    for i in range(n):
        line = raw.data[raw.starts[i] : raw.ends[i]].tobytes().rstrip(b"\r")
        if line.startswith(_BOM):
            line = line[3:]
        if line == header or not line.strip(spaces + bytes([delim])):
            flags[i] = SKIP
            continue
        fields, bad = _fields(line, delim, spaces)
        numbers[i, 0] = len(fields)  # (the complete ones, when a quote is bad)
        if bad:
            flags[i] = BAD_QUOTE
            continue
        if len(fields) < len(layout) or any(value for value, _ in fields[len(layout):]):
            continue
        got = {c: fields[j] for j, c in enumerate(layout) if c >= 0}
        text = {c: value.replace(b'""', b'"') if esc else value for c, (value, esc) in got.items()}
        numbers[i, 1] = words.get(got[DECISION][0].lower(), 0)  # (as written: doubled quotes match no word)
        f = OK
        name, client = text.get(USERNAME), text.get(CLIENT)
        if name is None or name in (b"", b"-"):
            f |= NO_USERNAME
        if client is None or client in (b"", b"-"):
            f |= NO_CLIENT
        if not text.get(CATEGORY):
            f |= NO_CATEGORY
        for c, value in text.items():
            columns[c][i] = value.decode("utf-8", "replace")
        if not f & NO_USERNAME:
            columns[USER][i] = name.lower().decode("utf-8", "replace")
            if not name.isascii():
                f |= WIDE_USER
        elif not f & NO_CLIENT:
            columns[USER][i] = columns[CLIENT][i]
        url = text[URL]
        start, end, how = plain_host(url)
        if got[URL][1] or how & (tokens.SLOW_HOST | tokens.NO_HOST):
            f |= SLOW  # a quoted URL with quotes inside, another shape, or no host: `with_host` decides
        else:
            columns[HOST][i] = url[start:end].lower().decode("utf-8", "replace")
        flags[i] = f
    return flags, numbers, columns
