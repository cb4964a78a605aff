"""What the compiled e2guardian, squidGuard and FortiGate scanners share.

What: `scan(raw, kernel)` runs a format's kernel over a batch in two threads;
`reject` and `user_view` are inlined into the kernels, and the byte helpers of
`ingest.fast.bytescan` and the output layout of `ingest.filterlog` are
re-exported, so a kernel refers to all of them as `fl.name`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np

from ingest import tokens
from ingest.fast.bytescan import (  # noqa: F401
    KeyTable,
    Words,
    any_high,
    blank,
    civil_us,
    dec,
    find2,
    ip_shaped,
    key_code,
    number,
    spaces,
    trim,
    utf8_ok,
    word_code,
)
from ingest.fast.jit import inline
from ingest.fast.scan_util import view
from ingest.filterlog import (  # noqa: F401
    ACTION,
    ALLOWED,
    AUTH,
    BAD,
    BLOCKED,
    BYTES,
    CATEGORY,
    CLIENT,
    ERROR,
    FIX_USER,
    HOST,
    LOCAL,
    MAX_US,
    METHOD,
    MIN_US,
    NO_CATEGORY,
    NO_HOST,
    NO_METHOD,
    NO_USER,
    OK,
    REASON,
    SLOW_HOST,
    SLOW_USER,
    STATUS,
    TS,
    URL,
    USER,
    USERNAME,
    WIDTH,
)

_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="surfaudit-filterlog")


@inline
def reject(flags, numbers, i, code):
    """Mark line i as bad, for reason `code`."""
    flags[i] = BAD
    numbers[i, REASON] = code


def scan(raw: tokens.Raw, kernel) -> tokens.Scanned:
    """Run `kernel(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf)`
    over the lines of `raw`, in two threads for a large batch (the kernels release
    the GIL); every line's flags say OK, BAD or nothing (a blank line). As
    `scan_util.in_pieces`, with a seventh view column (USER)."""
    n = len(raw.starts)
    flags = np.empty(n, dtype=np.uint8)
    numbers = np.empty((n, WIDTH), dtype=np.int64)
    views = np.zeros((7, n, 2), dtype=np.uint64)
    cuts = [0, n // 2, n] if n > 10_000 else [0, n]
    # A line writes less than three times its length to extra (a built URL, lower-cased copies).
    extras = [np.empty(3 * int((raw.ends[a:z] - raw.starts[a:z]).sum()) + 64, dtype=np.uint8)
              for a, z in pairwise(cuts)]

    def piece(k: int) -> int:
        return kernel(raw.data, raw.w8, raw.starts, raw.ends, cuts[k], cuts[k + 1], flags, numbers, views,
                      extras[k], k + 1)

    other = _POOL.submit(piece, 1) if len(extras) > 1 else None
    used = [piece(0)] + ([other.result()] if other is not None else [])
    return tokens.Scanned(raw, (flags, numbers, views, [x[:u] for x, u in zip(extras, used)]), OK | BAD)


@inline
def user_view(views, i, udata, uw8, ubuf, a, b, no_user, data, w8, ca, cb, extra, xw8, xbuf, used):
    """views[USER, i]: the name udata[a:b] (Arrow buffer `ubuf`) trimmed and
    lower-cased (ASCII), or the client data[ca:cb] when there is no name. Returns
    (used, SLOW_USER or 0): a name with a byte >= 0x80 is lower-cased by the caller."""
    if not no_user:
        while a < b and (udata[a] == 32 or udata[a] == 9):
            a += 1
        while b > a and (udata[b - 1] == 32 or udata[b - 1] == 9):
            b -= 1
    if no_user or b <= a:
        return view(views, USER, i, data, w8, ca, cb - ca, False, extra, xw8, xbuf, used), 0
    slow = 0
    for p in range(a, b):
        if udata[p] >= 0x80:
            slow = SLOW_USER
            break
    return view(views, USER, i, udata, uw8, a, b - a, True, extra, xw8, xbuf, used, ubuf), slow
