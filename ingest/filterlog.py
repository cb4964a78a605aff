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

from datetime import timezone
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from ingest import scan_util, tokens
from ingest.jit import inline
from ingest.squid import with_host
from surfaudit.errors import InputError
from surfaudit.schema import EVENT_SCHEMA

# Bits of `flags` (one uint8 per line).
OK = 1  # a request: its row is complete
SLOW_HOST = scan_util.SLOW_HOST  # (2) the URL has an unusual shape: `with_host` computes the host
NO_USER = 4  # no user name
NO_METHOD = 8  # no method
NO_CATEGORY = 16  # no category
NO_HOST = scan_util.NO_HOST  # (32) the URL has no host (from `scan_util.host`)
FIX_USER = 64  # the user name carries %XX escapes: the caller decodes it
BAD = 128  # not a request: numbers[REASON] says why

# Columns of `numbers` (int64 per line).
TS, LOCAL, STATUS, BYTES, ACTION, REASON = range(6)
WIDTH = 6
# Columns of `views`.
USERNAME, CLIENT, METHOD, HOST, URL, CATEGORY = range(6)
ALLOWED, BLOCKED, AUTH, ERROR = range(4)
ACTIONS = ["allowed", "blocked", "auth", "error"]

MIN_US = 631_152_000_000_000  # 1990-01-01T00:00:00Z: earlier timestamps are rejected
MAX_US = 4_133_980_800_000_000  # 2101-01-01T00:00:00Z: so are these and later ones
_BAD_SCHEMA = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}


class Words:
    """A table of words for `word_code`: lower-case ASCII words and their codes."""

    def __init__(self, codes: dict[str, int]):
        texts = [w.encode() for w in codes]
        self.words = np.frombuffer(b"".join(texts) or b"\0", dtype=np.uint8)
        self.offsets = np.cumsum([0] + [len(t) for t in texts]).astype(np.int64)
        self.codes = np.array(list(codes.values()) or [0], dtype=np.int64)


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


@inline
def civil_us(y, mo, d, h, mi, s):
    """Epoch microseconds of a civil date and time (-1 when it is no valid date or time)."""
    if mo < 1 or mo > 12 or d < 1 or h < 0 or h > 23 or mi < 0 or mi > 59 or s < 0 or s > 59:
        return -1
    dim = 31
    if mo == 4 or mo == 6 or mo == 9 or mo == 11:
        dim = 30
    elif mo == 2:
        dim = 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if d > dim:
        return -1
    yy = y - (1 if mo <= 2 else 0)  # days from the civil date (H. Hinnant's algorithm)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * ((mo + 9) % 12) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return (((days * 24 + h) * 60 + mi) * 60 + s) * 1_000_000


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
    """Whether data[s:e] (which holds a byte >= 0x80) is valid UTF-8."""
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


@inline
def reject(flags, numbers, i, code):
    """Mark line i as bad, for reason `code`."""
    flags[i] = BAD
    numbers[i, REASON] = code


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


def check_tz(tz: str) -> str:
    """`tz`, or InputError when it is no timezone."""
    try:
        ZoneInfo(tz)
    except Exception:
        raise InputError(f"unknown timezone: {tz}") from None
    return tz


def scan(raw: tokens.Raw, kernel) -> tokens.Scanned:
    """Run `kernel(data, w8, starts, ends, lo, hi, flags, numbers, views, extra, xbuf)`
    over the lines of `raw` in two threads; every line's flags say OK, BAD or
    nothing (a blank line)."""
    result = scan_util.in_pieces(raw, WIDTH, lambda lo, hi, *out: kernel(
        raw.data, raw.w8, raw.starts, raw.ends, lo, hi, *out))
    return tokens.Scanned(raw, result, OK | BAD)


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
    user = pl.col("username").str.strip_chars().str.to_lowercase()
    frame = frame.with_columns(
        pl.when(user.is_null() | (user == "")).then(pl.col("client_ip")).otherwise(user).alias("user"))
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
        fixed = {v: v.replace(tzinfo=zone, fold=0).astimezone(timezone.utc).replace(tzinfo=None)
                 for v in values.unique().to_list()}
        placed = placed.clone()
        placed.scatter(np.flatnonzero(gap), values.replace_strict(fixed, return_dtype=pl.Datetime("us"))
                       .dt.replace_time_zone("UTC"))
    return pl.select(pl.when(pl.lit(pl.Series(local))).then(pl.lit(placed)).otherwise(pl.lit(exact))).to_series()
