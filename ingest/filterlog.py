"""What the e2guardian, squidGuard and FortiGate parsers share.

What: the layout of their scanners' output (flags, numbers, string columns);
`finish`, which turns it into canonical rows (DESIGN §3) and bad lines with one
reason each: naive local times placed in the configured timezone as Python's
`zoneinfo` does with `fold=0` (as `ingest.surfprotect` does), the `user`
column, hosts of unusual URLs by `ingest.squid.with_host`; `LineParser`, which
reads a batch with the format's compiled kernel (`ingest.fast`) or, without
it, with the format's `read_line` through `reference_scan`, and the small
Python helpers those share (numbers, dates, the IP-address shape).

Why: each of these formats is read by one compiled pass per line (issue 11
asks for at least 0.5 M lines/s on two cores; a polars regex with the dozen
captures these lines need costs over 2 µs a line), and a scanner that also
names the reason of every line it rejects is the format's definition; its
Python twin (`read_line`, one line at a time) keeps ingest working where numba
does not, and tests/reliability/test_reference_paths.py holds both to the same
rows. Keeping the shared part here keeps each format module to its own line
shape.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from ingest import fast, tokens
from ingest.civil import civil_us  # noqa: F401 - the formats' reference paths call fl.civil_us
from ingest.localtime import wall_to_utc_us
from ingest.squid import plain_host, with_host
from surfaudit.errors import InputError
from surfaudit.schema import EVENT_SCHEMA, conform

# Bits of `flags` (one uint8 per line).
OK = 1  # a request: its row is complete
SLOW_HOST = tokens.SLOW_HOST  # (2) the URL has an unusual shape: `with_host` computes the host
NO_USER = 4  # no user name
NO_METHOD = 8  # no method
NO_CATEGORY = 16  # no category
NO_HOST = tokens.NO_HOST  # (32) `squid.plain_host`: the URL has no host (such lines are rejected)
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
_IP_BYTES = re.compile(rb"[0-9A-Fa-f:.]+")
_BAD_SCHEMA = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}


def check_tz(tz: str) -> str:
    """`tz`, or InputError when it is no timezone."""
    try:
        ZoneInfo(tz)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise InputError(f"unknown timezone: {tz}") from None
    return tz


def finish(raw: tokens.Raw, got: tokens.Scanned | tokens.Listed, tz: str, source: str, reasons: list[str],
           first_line_no: int, fix_user=None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical rows (in line order) and bad lines of a scanner's output.
    `fix_user` maps the distinct user names flagged FIX_USER to their decoded form."""
    flags, numbers = got.flags, got.numbers
    ok = (flags & OK) != 0
    bad_at = np.flatnonzero(~ok)
    bad = _bad(raw, got.idx[bad_at], numbers[bad_at, REASON], reasons, first_line_no)
    keep = None
    if len(bad_at):
        keep = np.flatnonzero(ok)
        flags, numbers = flags[keep], numbers[keep]
    n = len(flags)

    def strings(col: int, null: int = 0) -> pl.Series:
        return got.column(col, keep, (flags & null) != 0 if null else None)

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
    clock time of `tz` (`localtime.wall_to_utc_us`: zoneinfo's fold=0)."""
    at = np.flatnonzero(local)
    if len(at):
        us = us.copy()
        us[at] = wall_to_utc_us(us[at], tz)
    return pl.Series("ts", us).cast(pl.Datetime("us", "UTC"))


class LineParser:
    """The parser of a format read by one compiled kernel (e2guardian, squidGuard,
    FortiGate) or, without the compiled scanners, by its reference: a subclass
    names the format (`name`), its bad-line `reasons`, its compiled module in
    `ingest.fast` (`fast_module`, whose `scan(raw)` gives a `tokens.Scanned`),
    its `read_line` (bytes of one line -> None for a blank line, a reason code,
    or a `Line`) and, if any, `fix_user` (see `finish`)."""

    name = ""
    reasons: list[str] = []
    header_lines = 0
    fast_module = ""
    read_line = None
    fix_user = None

    def __init__(self, tz: str):
        self.tz = check_tz(tz)

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows and bad lines of `lines`, or of `raw` (the same lines as bytes) when `lines` is None."""
        raw = raw if raw is not None else tokens.Raw.of(lines.cast(pl.String))
        if fast.enabled():
            got = fast.load(self.fast_module).scan(raw)
        else:
            got = reference_scan(raw, type(self).read_line)
        fix = type(self).fix_user
        rows, bad = finish(raw, got, self.tz, self.name, self.reasons, first_line_no, fix_user=fix)
        return conform(rows), bad


# -- the reference path: one line at a time, in Python -------------------------------------------------

class Line(NamedTuple):
    """What a format's `read_line` found in a request line: as the compiled
    kernels leave it (strings as bytes; those a flag nulls or replaces are not read)."""

    flags: int
    ts: int
    local: bool
    status: int
    nbytes: int
    action: int
    username: bytes
    client: bytes
    method: bytes
    host: bytes
    url: bytes
    category: bytes
    user: bytes


def reference_scan(raw: tokens.Raw, read_line) -> tokens.Listed:
    """The kernels' output for the lines of `raw`, from `read_line` applied to each."""
    n = len(raw.starts)
    flags = np.zeros(n, dtype=np.uint8)
    numbers = np.zeros((n, WIDTH), dtype=np.int64)
    columns = [[""] * n for _ in range(7)]
    for i, (s, e) in enumerate(zip(raw.starts.tolist(), raw.ends.tolist())):
        got = read_line(raw.data[s:e].tobytes())
        if got is None:
            continue
        if isinstance(got, int):
            flags[i], numbers[i, REASON] = BAD, got
            continue
        flags[i] = got.flags
        numbers[i, :REASON] = got.ts, int(got.local), got.status, got.nbytes, got.action
        for col, text in ((USERNAME, got.username), (CLIENT, got.client), (METHOD, got.method), (HOST, got.host),
                          (URL, got.url), (CATEGORY, got.category), (USER, got.user)):
            columns[col][i] = text.decode("utf-8", "replace")
    return tokens.Listed(flags, numbers, columns, OK | BAD)


def trimmed(line: bytes) -> bytes:
    """The line without trailing spaces, tabs and CRs and leading spaces and tabs."""
    return line.rstrip(b" \r\t").lstrip(b" \t")


def utf8_ok(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def number(text: bytes, most: int) -> int:
    """Value of `text` if it is 1..most ASCII digits; -1 if it is not digits; -2 if too long."""
    if not text.isdigit():
        return -1
    return int(text) if len(text) <= most else -2


def blank(text: bytes | None) -> bool:
    """`text` is absent, empty or `-`."""
    return text is None or text in (b"", b"-")


def ip_shaped(text: bytes) -> bool:
    """`text` is shaped like an IPv4 address (four groups of 1-3 digits) or an IPv6
    one (hex digits, colons and dots, at least two colons)."""
    if not 2 <= len(text) <= 45 or not _IP_BYTES.fullmatch(text):
        return False
    if text.count(b":") >= 2:
        return True
    groups = text.split(b".")
    return len(groups) == 4 and all(1 <= len(g) <= 3 and g.isdigit() for g in groups)


def host_of(url: bytes) -> tuple[bytes, int]:
    """The URL's host, ASCII lower-cased, and the host flags (`squid.plain_host`)."""
    start, end, how = plain_host(url)
    return url[start:end].lower(), how


def user_of(name: bytes, no_user: bool, client: bytes) -> tuple[bytes, int]:
    """(the `user` column, SLOW_USER or 0): the name trimmed of spaces and tabs and
    lower-cased (ASCII; a name with a byte >= 0x80 is lower-cased by `finish`), or
    the client when there is no name."""
    name = b"" if no_user else name.strip(b" \t")
    if not name:
        return client, 0
    return name.lower(), 0 if name.isascii() else SLOW_USER
