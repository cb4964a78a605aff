"""Parser for squidGuard's request log (DESIGN §4): the lines squidGuard writes
for the requests it redirects (blocks).

Line shape (squidGuard 1.2 to 1.6, `sgLogRequest`):
``2026-11-30 09:17:01 [1234] Request(default/adult/-) http://x.com/ 10.0.0.5/- jsmith GET REDIRECT``:
local date and time, `[pid]`, `Request(source/destination/rewrite)`, the URL
(squidGuard logs it %-decoded, so it may hold spaces), `client-ip/client-fqdn`,
the user (`-` when none; squidGuard lower-cases it), the method and, since 1.4,
the action: `REDIRECT` (blocked), `PASS` (logged with `verbose`, allowed),
`REWRITE` (the URL was rewritten, e.g. safe search: allowed). A line without an
action (squidGuard before 1.4 logs redirects only) is blocked. The category is
the destination group (`adult`, `blk_BL_porn`, ...). squidGuard's own messages
(`New setting: ...`, `INFO: squidGuard ready for requests`, `init domainlist
...`) carry the same date and pid but are no requests: they are returned as bad
lines with the reason "not a request (squidGuard message)", so nothing is lost
without a count.

Why a compiled scanner: see `ingest.filterlog`; the field rules are the ones
above, read from the right (the URL may contain spaces, the last three or four
fields never do).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ingest import filterlog as fl

NAME = "squidguard"

REASONS = [
    "", "invalid utf-8", "malformed line (no squidGuard date and [pid])", "bad timestamp",
    "timestamp out of range", "not a request (squidGuard message)", "malformed request",
    "unknown squidGuard action", "bad client address", "no host in URL",
]
_UTF8, _SHAPE, _TIME, _RANGE, _MESSAGE, _REQUEST, _ACTION, _CLIENT, _HOST = range(1, 10)
ACTIONS = {"redirect": fl.BLOCKED, "pass": fl.ALLOWED, "rewrite": fl.ALLOWED, "-": 99}  # (99: refused)

_ENVELOPE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[\d+\] ")
_REQUEST_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[\d+\] Request\([^/ ]*/[^/ ]*/[^) ]*\) "
                         r"\S.* [^ /]+/\S* \S+ \S+(?: (?:REDIRECT|PASS|REWRITE|-))?$")


def looks_like(first_lines: list[str]) -> bool:
    """True when the first non-blank line and most of the next ones carry
    squidGuard's `date time [pid]` prefix and at least one is a request line."""
    lines = [ln.rstrip("\r") for ln in first_lines if ln.strip()][:10]
    if not lines or not _ENVELOPE_RE.match(lines[0]):
        return False
    hits = sum(1 for ln in lines if _ENVELOPE_RE.match(ln))
    return hits * 2 > len(lines) and any(_REQUEST_RE.match(ln) for ln in lines)


def make_parser(first_line: str, tz: str, cfg=None) -> Parser:
    """squidGuard lines have no header; their times are local to `tz`."""
    return Parser(tz)


class Parser(fl.LineParser):
    """Turns batches of squidGuard log lines into canonical rows and bad lines."""

    name = NAME
    reasons = REASONS
    fast_module = "squidguard_scan"
    read_line = staticmethod(lambda line: read_line(line))  # defined below
    fix_user = staticmethod(lambda names: _unescape(names))


def _unescape(names: list[str]) -> dict[str, str]:
    """squid passes the user to squidGuard %-escaped (`john%20smith`): decoded, as UTF-8."""
    return {u: unquote(u, errors="replace") for u in names}




# -- the reference path (the compiled scanner is `ingest.fast.squidguard_scan`) -----------------------

_HEAD = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \[[0-9]+\] ")
_ACTION_CODES = {w.encode(): code for w, code in ACTIONS.items()}


def read_line(line: bytes) -> fl.Line | int | None:
    """One squidGuard line by the rules of the module docstring: a row (`fl.Line`),
    a reason code, or None for a blank line."""
    line = fl.trimmed(line)
    if not line:
        return None
    high = not line.isascii()
    if high and not fl.utf8_ok(line):
        return _UTF8
    head = _HEAD.match(line)
    if len(line) <= 24 or head is None:
        return _SHAPE
    year = int(line[0:4])
    ts = fl.civil_us(year, int(line[5:7]), int(line[8:10]), int(line[11:13]), int(line[14:16]), int(line[17:19]))
    if ts < 0:
        return _TIME
    if not 1990 <= year <= 2100:
        return _RANGE
    m = head.end()
    if not line.startswith(b"Request(", m):
        return _MESSAGE
    close = m + 8  # Request(source/destination/rewrite)
    while close < len(line) and line[close] not in b") ":
        close += 1
    slashes = [p for p in range(m + 8, close) if line[p] == 47]
    if close + 1 >= len(line) or line[close] != 41 or line[close + 1] != 32 or len(slashes) != 2:
        return _REQUEST
    sp = [p for p, c in enumerate(line) if c == 32]
    k = len(sp)
    j = sum(1 for p in sp if p <= close)
    action, src = -1, -1
    if k - j >= 4:  # from the right: [url ...] src/fqdn ident method [action]
        action = _ACTION_CODES.get(line[sp[k - 1] + 1 :].lower(), -1)
        if action >= 0:
            src = k - 4
    if src >= 0 and (src <= j or b"/" not in line[sp[src] + 1 : sp[src + 1]]):
        src = -1
    if src < 0 and k - j >= 4 and b"/" in line[sp[k - 3] + 1 : sp[k - 2]]:  # no action field: blocked
        src, action = k - 3, fl.BLOCKED
    if src < 0:
        return _REQUEST
    if action == 99:
        return _ACTION
    client = line[sp[src] + 1 : line.index(b"/", sp[src] + 1)]
    if not fl.ip_shaped(client):
        return _CLIENT
    url = line[close + 2 : sp[src]]
    name = line[sp[src + 1] + 1 : sp[src + 2]]
    method = line[sp[src + 2] + 1 : sp[src + 3] if src + 3 < k else len(line)]
    host, how = fl.host_of(url)
    if how & fl.NO_HOST or not url or not method or not name:
        return _HOST if url and method and name else _REQUEST
    f = fl.OK | how | (fl.SLOW_HOST if high else 0)
    if fl.blank(name):
        f |= fl.NO_USER
    elif b"%" in name:
        f |= fl.FIX_USER
    category = line[slashes[0] + 1 : slashes[1]]
    if fl.blank(category):
        f |= fl.NO_CATEGORY
    user, slow = fl.user_of(name, bool(f & fl.NO_USER), client)
    return fl.Line(f | slow, ts, True, 0, 0, action, name, client, method, host, url, category, user)
