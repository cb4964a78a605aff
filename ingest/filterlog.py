"""What the e2guardian, squidGuard and FortiGate parsers share.

What: the layout of their compiled scanners' output (flags, numbers, string-view
columns), byte-level helpers inlined into those scanners (civil date to epoch
microseconds, the IP-address shape, UTF-8 validation, word tables), and
`finish`, which turns a scanner's output into canonical rows (DESIGN §3) and
bad lines with one reason each: naive local times placed in the configured
timezone as Python's `zoneinfo` does with `fold=0` (as `ingest.surfprotect`
does), the `user` column, hosts of unusual URLs by `ingest.squid.with_host`.

Why: each of these formats is read by one compiled pass per line (issue 11
asks for at least 0.5 M lines/s on two cores; a polars regex with the dozen
captures these lines need costs over 2 µs a line), and a scanner that also
names the reason of every line it rejects is the format's one definition, so
no line is parsed two ways. Keeping the shared part here keeps each format
module to its own line shape.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from ingest import scan_util, tokens
from ingest.bytescan import (  # noqa: F401
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
from ingest.jit import inline
from ingest.scan_util import view
from ingest.squid import with_host
from surfaudit.errors import InputError
from surfaudit.schema import EVENT_SCHEMA, conform

# Bits of `flags` (one uint8 per line).
OK = 1  # a request: its row is complete
SLOW_HOST = scan_util.SLOW_HOST  # (2) the URL has an unusual shape: `with_host` computes the host
NO_USER = 4  # no user name
NO_METHOD = 8  # no method
NO_CATEGORY = 16  # no category
NO_HOST = scan_util.NO_HOST  # (32) `scan_util.host`: the URL has no host (such lines are rejected)
SLOW_USER = 32  # `user` is left to the caller (a non-ASCII or escaped name)
FIX_USER = 64  # the user name carries %XX escapes: the caller decodes it
BAD = 128  # not a request: numbers[REASON] says why

# Columns of `numbers` (int64 per line).
TS, LOCAL, STATUS, BYTES, ACTION, REASON = range(6)
WIDTH = 6
# Columns of `views`.
USERNAME, CLIENT, METHOD, HOST, URL, CATEGORY, USER = range(7)
ALLOWED, BLOCKED, AUTH, ERROR = range(4)
ACTIONS = ["allowed", "blocked", "auth", "error"]

MIN_US = 631_152_000_000_000  # 1990-01-01T00:00:00Z: earlier timestamps are rejected
MAX_US = 4_133_980_800_000_000  # 2101-01-01T00:00:00Z: so are these and later ones
_BAD_SCHEMA = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="surfaudit-filterlog")


@inline
def reject(flags, numbers, i, code):
    """Mark line i as bad, for reason `code`."""
    flags[i] = BAD
    numbers[i, REASON] = code


def check_tz(tz: str) -> str:
    """`tz`, or InputError when it is no timezone."""
    try:
        ZoneInfo(tz)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise InputError(f"unknown timezone: {tz}") from None
    return tz


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


def finish(raw: tokens.Raw, got: tokens.Scanned, tz: str, source: str, reasons: list[str],
           first_line_no: int, fix_user=None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical rows (in line order) and bad lines of a scanner's output.
    `fix_user` maps the distinct user names flagged FIX_USER to their decoded form."""
    flags, numbers = got.flags, got.numbers
    ok = (flags & OK) != 0
    bad_at = np.flatnonzero(~ok)
    bad = _bad(raw, got.idx[bad_at], numbers[bad_at, REASON], reasons, first_line_no)
    if len(bad_at):
        keep = np.flatnonzero(ok)
        flags, numbers = flags[keep], numbers[keep]
        views = got.views[:, keep]
    else:
        views = got.views
    n = len(flags)

    def strings(col: int, null: int = 0) -> pl.Series:
        return tokens.view_series(views[col], got.buffers, (flags & null) != 0 if null else None)

    frame = pl.DataFrame({
        "ts": _timestamps(numbers[:, TS], numbers[:, LOCAL] != 0, tz),
        "username": strings(USERNAME, NO_USER),
        "client_ip": strings(CLIENT),
        "method": strings(METHOD, NO_METHOD),
        "host": strings(HOST),
        "url": strings(URL),
        "action": tokens.constants(ACTIONS, numbers[:, ACTION].astype(np.uint8)),
        "status": pl.Series(numbers[:, STATUS].astype(np.int32)),
        "bytes": pl.Series(numbers[:, BYTES]),
        "elapsed_ms": pl.Series([None], dtype=pl.Int64).new_from_index(0, n),
        "category": strings(CATEGORY, NO_CATEGORY),
        "source": tokens.repeated(source, n),
    })
    frame = frame.with_columns(user=strings(USER))
    redo = np.flatnonzero(flags & FIX_USER)
    if len(redo) and fix_user is not None:
        names = frame.get_column("username").gather(redo)
        col = frame.get_column("username").clone()
        col.scatter(redo, names.replace(fix_user(names.unique().to_list())))
        frame = frame.with_columns(col)
    slow = np.flatnonzero(flags & SLOW_HOST)
    if len(slow):
        part = with_host(pl.DataFrame({"url": frame.get_column("url").gather(slow)}).lazy()).collect()
        col = frame.get_column("host").clone()
        col.scatter(slow, part.get_column("host"))
        frame = frame.with_columns(col)
    slow = np.flatnonzero(flags & (SLOW_USER | FIX_USER))
    if len(slow):  # non-ASCII or decoded names: lower-cased here
        part = frame.select("username", "client_ip")[slow]
        name = pl.col("username").str.strip_chars().str.to_lowercase()
        part = part.select(pl.when(name.is_null() | (name == "")).then(pl.col("client_ip")).otherwise(name))
        col = frame.get_column("user").clone()
        col.scatter(slow, part.to_series())
        frame = frame.with_columns(col)
    return frame.select(*(pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items())), bad


def _bad(raw: tokens.Raw, index: np.ndarray, codes: np.ndarray, reasons: list[str],
         first_line_no: int) -> pl.DataFrame:
    """line_no / reason / line of the rejected lines `index` of the batch."""
    if len(index) == 0:
        return pl.DataFrame(schema=_BAD_SCHEMA)
    return pl.DataFrame({
        "line_no": pl.Series(index.astype(np.int64) + first_line_no),
        "reason": tokens.constants(reasons, codes.astype(np.uint32)),
        "line": raw.lines_at(index).str.strip_chars_end("\r"),
    }).cast(_BAD_SCHEMA)


def _timestamps(us: np.ndarray, local: np.ndarray, tz: str) -> pl.Series:
    """UTC timestamps: `us` as epoch microseconds, or where `local`, as the wall
    clock time of `tz` (zoneinfo's fold=0: the earlier of a repeated autumn hour,
    the offset before the change for a skipped spring hour)."""
    exact = pl.Series("ts", us).cast(pl.Datetime("us", "UTC"))
    if not local.any():
        return exact
    naive = pl.Series("ts", us).cast(pl.Datetime("us"))
    placed = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
    gap = placed.is_null().to_numpy() & local
    if gap.any():  # the skipped hour: zoneinfo, once per distinct wall clock time
        zone = ZoneInfo(tz)
        values = naive.gather(np.flatnonzero(gap))
        fixed = {v: v.replace(tzinfo=zone, fold=0).astimezone(UTC).replace(tzinfo=None)
                 for v in values.unique().to_list()}
        placed = placed.clone()
        placed.scatter(np.flatnonzero(gap), values.replace_strict(fixed, return_dtype=pl.Datetime("us"))
                       .dt.replace_time_zone("UTC"))
    if local.all():
        return placed.alias("ts")
    return pl.select(pl.when(pl.lit(pl.Series(local))).then(pl.lit(placed)).otherwise(pl.lit(exact))).to_series()


class LineParser:
    """The parser of a format read by one compiled kernel (e2guardian, squidGuard,
    FortiGate): a subclass names the format (`name`), its bad-line `reasons`, its
    `kernel` (as `scan` wants it) and, if any, `fix_user` (see `finish`)."""

    name = ""
    reasons: list[str] = []
    header_lines = 0
    kernel = None
    fix_user = None

    def __init__(self, tz: str):
        self.tz = check_tz(tz)

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows and bad lines of `lines`, or of `raw` (the same lines as bytes) when `lines` is None."""
        raw = raw if raw is not None else tokens.Raw.of(lines.cast(pl.String))
        got = scan(raw, type(self).kernel)
        fix = type(self).fix_user
        rows, bad = finish(raw, got, self.tz, self.name, self.reasons, first_line_no, fix_user=fix)
        return conform(rows), bad
