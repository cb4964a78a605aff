"""Parser for the e2guardian / DansGuardian access.log (DESIGN §4).

Line shapes (`logfileformat` 1 and 2; both write the same fields):
``when who from where what how size weight category group code mimetype clienthost groupname useragent ...``

- format 1 joins them with single spaces: ``2026.11.30 9:17:01 jsmith 10.0.0.5
  http://www.facebook.com/ *DENIED* Banned site: facebook.com GET 3804 0 Social
  Networking 1 403 text/html ...``. `what` (the filter's verdict and reason) and
  the category are free text with spaces, and a blank field is `-` or empty (two
  spaces in a row), so the line is read by anchors: the client IP after the
  user, then the first `METHOD size weight` triple, then the first `group code
  mimetype` triple; everything after the MIME type is ignored;
- format 2 quotes every field and joins them with commas (no header).

`when` is local time, `YYYY.M.D H:MM:SS` (DansGuardian does not pad month, day
and hour; e2guardian 5 pads them), in the configured timezone; with
`logtimestamp = on` an epoch `seconds.millis` follows it, and that exact time is
used instead. `what` starts with the verdict tags: `*DENIED*` (also
`*DENIED-POST*`, `*DENIED-PARAMS*`) and `*INFECTED*` are blocked, `*NETERROR*`
is an error, `*TRUSTED*` / `*EXCEPTION*`, `*SCANNED*` and the `*...MOD*` /
`*HEADERADD*` tags are allowed; a tag in another language (a translated
messages file) is blocked when the status is 403. Status 407 (e2guardian's
`negotiate_identification`) is auth. The category is the category field; when
that is blank on a blocked line, the reason's label (the reason text before
its first `": "`, e.g. `Banned phrase found`). A user equal to the client IP
(e2guardian's IP authentication plugin logs the IP as the user) counts as no
user. Why a compiled scanner: see `ingest.filterlog`.
"""

from __future__ import annotations

import re

from ingest import filterlog as fl

NAME = "e2guardian"

REASONS = [
    "", "invalid utf-8", "bad timestamp", "timestamp out of range", "no client IP after the user",
    "no method, size and weight after the URL", "no filter group, status and MIME type after the category",
    "number too large", "no host in URL", "malformed CSV line (format 2)",
]
_UTF8, _TIME, _RANGE, _CLIENT, _METHOD, _GROUP, _LARGE, _HOST, _CSV = range(1, 10)
_OKTAG, _BLOCKTAG, _ERRORTAG = 0, 1, 2
TAGS = {  # the verdict tags of `what` (ASCII case ignored)
    **dict.fromkeys(("denied", "denied-post", "denied-params", "infected", "infected-post", "infected-params"),
                    _BLOCKTAG),
    "neterror": _ERRORTAG,
    **dict.fromkeys(("trusted", "exception", "scanned", "contentmod", "urlmod", "headermod", "headeradd"), _OKTAG),
}

_WHEN = r"\d{4}\.\d{1,2}\.\d{1,2} \d{1,2}:\d{2}:\d{2}(?: \d{1,12}\.\d{1,6})?"
_IP = r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)"
_F1_RE = re.compile(rf"^{_WHEN} .*? {_IP} \S+ .*? [A-Z][A-Z0-9_-]* \d+ (?:-?\d+|-|N/A\(weight\)) .*? \d+ \d{{1,3}} ")
# DansGuardian 2.8 (`... METHOD size`) and lines without the trailing fields (no group, status or MIME type).
_F1_SHORT_RE = re.compile(rf"^{_WHEN} .*? {_IP} \S+ .*? [A-Z][A-Z0-9_-]* \d+(?: (?:-?\d+|-|N/A\(weight\))(?: .*)?)?$")
_F2_RE = re.compile(rf'^"{_WHEN}","[^"]*","{_IP}","[^"]*",".*?","[A-Z][A-Z0-9_-]*","\d+","[^"]*",".*?","\d+","\d{{1,3}}"')


def looks_like(first_lines: list[str]) -> bool:
    """True when the first non-blank line and most of the next ones are
    e2guardian format 1 or format 2 lines (never a header row, never squid's
    epoch-first lines)."""
    lines = [ln.rstrip("\r") for ln in first_lines if ln.strip()][:10]
    if not lines:
        return False
    hits = [bool(_F1_RE.match(ln) or _F2_RE.match(ln) or _F1_SHORT_RE.match(ln)) for ln in lines]
    return hits[0] and sum(hits) * 2 > len(lines)


def make_parser(first_line: str, tz: str, cfg=None) -> Parser:
    """Either format is read line by line (a line starting with `"` is format 2);
    times without an epoch are local to `tz`."""
    return Parser(tz)


class Parser(fl.LineParser):
    """Turns batches of e2guardian access.log lines into canonical rows and bad lines."""

    name = NAME
    reasons = REASONS
    fast_module = "e2guardian_scan"
    read_line = staticmethod(lambda line: read_line(line))  # defined below


# -- the reference path (the compiled scanner is `ingest.fast.e2guardian_scan`) -----------------------

_METHOD_RE = re.compile(rb"[A-Z][A-Z0-9_-]*")
_TAG_CODES = {w.encode(): code for w, code in TAGS.items()}


def _digits(text: bytes) -> bool:
    return text.isdigit()


def _weight(text: bytes) -> bool:
    return text in (b"N/A(weight)", b"-") or _digits(text[1:] if text.startswith(b"-") else text)


def _when(text: bytes) -> tuple[int, bool]:
    """(epoch µs, local?) of `YYYY.M.D H:MM:SS[ seconds.millis]`: (-1, _) when it
    has another shape or is no valid time, (-2, _) out of range."""
    parts = text.split(b" ")
    if not 2 <= len(parts) <= 3:
        return -1, False
    date, clock = parts[0], parts[1]
    ymd, hms = date.split(b".", 2), clock.split(b":", 1)
    if len(date) < 5 or date[4] != 46 or len(ymd) < 3 or len(hms) < 2:
        return -1, False
    year, mo, d = date[0:4], ymd[1], date[5 + len(ymd[1]) + 1 :]
    h, rest = hms
    if not (1 <= len(mo) <= 2 and 1 <= len(d) <= 2 and 1 <= len(h) <= 2 and len(rest) == 5 and rest[2] == 58):
        return -1, False
    mi, s = rest[0:2], rest[3:5]
    if not all(_digits(t) for t in (year, mo, d, h, mi, s)):
        return -1, False
    local = fl.civil_us(int(year), int(mo), int(d), int(h), int(mi), int(s))
    if local < 0:
        return -1, False
    if len(parts) == 2:
        return (local, True) if 1990 <= int(year) <= 2100 else (-2, True)
    sec, dot, frac = parts[2].partition(b".")
    if not dot or not frac or len(frac) > 6 or len(sec) > 12 or not _digits(sec) or not _digits(frac):
        return -1, False
    us = int(sec) * 1_000_000 + int(frac) * 10 ** (6 - len(frac))
    return (us, False) if fl.MIN_US <= us < fl.MAX_US else (-2, False)


def _format2(line: bytes) -> list[bytes] | int:
    """The fields of a format 2 line (`"f0","f1",...`; fields never hold `","`), or a reason."""
    fields, start = [], 1
    while (q := line.find(b'","', start)) >= 0:
        fields.append(line[start:q])
        start = q + 3
    fields.append(line[start : len(line) - 1])
    if line[-1] != 34 or len(line) < 2 or len(fields) < 12:
        return _CSV
    return fields


def read_line(line: bytes) -> fl.Line | int | None:
    """One e2guardian line (format 1 or 2) by the rules of the module docstring: a
    row (`fl.Line`), a reason code, or None for a blank line."""
    line = fl.trimmed(line)
    if not line:
        return None
    high = not line.isascii()
    if high and not fl.utf8_ok(line):
        return _UTF8
    if line[0] == 34:  # format 2
        f = _format2(line)
        if isinstance(f, int):
            return f
        ts, local = _when(f[0])
        if ts < 0:
            return _TIME if ts == -1 else _RANGE
        name, client, url, what, method, size, category, status = f[1], f[2], f[3], f[4], f[5], f[6], f[8], f[10]
        if not (fl.ip_shaped(client) and _METHOD_RE.fullmatch(method) and _digits(size) and _weight(f[7])
                and _digits(f[9]) and _digits(status) and len(status) <= 3):
            return _CSV
    else:  # format 1: read by anchors, token by token
        t = line.split(b" ")
        n = len(t)
        if n < 2:
            return _TIME
        u0, ts, local = 2, -1, True
        if n > 3 and _digits(t[2][:1]):
            ts, local = _when(b" ".join(t[0:3]))
            if ts != -1:
                u0 = 3
        if u0 == 2:
            ts, local = _when(b" ".join(t[0:2]))
        if ts < 0:
            return _TIME if ts == -1 else _RANGE
        j = u0 + 1  # the client IP: the first IP-shaped token after the user's first one
        while j < n - 1 and not fl.ip_shaped(t[j]):
            j += 1
        if j >= n - 1 or not t[j + 1]:
            return _CLIENT
        m = j + 3  # `METHOD size weight` after `what`
        while m + 2 < n and not (_METHOD_RE.fullmatch(t[m]) and _digits(t[m + 1]) and _weight(t[m + 2])):
            m += 1
        c0 = c1 = m + 3  # the category: t[c0:c1]
        status = b""  # none: DansGuardian 2.8 logs no status
        if m + 2 >= n:  # DansGuardian 2.8: the line ends with `METHOD size`
            m = c0 = c1 = n - 2
            if m < j + 3 or not (_METHOD_RE.fullmatch(t[m]) and _digits(t[m + 1])):
                return _METHOD
        elif m + 3 < n:
            g = m + 4  # `group code mimetype` after the category
            while g + 2 < n and not (_digits(t[g]) and _digits(t[g + 1]) and len(t[g + 1]) <= 3):
                g += 1
            if g + 2 >= n:  # older or emptier lines: `group code` ending the line, or no group at all
                g = n - 2
                if not (g >= m + 4 and _digits(t[g]) and _digits(t[g + 1]) and len(t[g + 1]) <= 3):
                    g = n
            c1 = g
            status = t[g + 1] if g < n else b""
        name, client, url = b" ".join(t[u0:j]), t[j], t[j + 1]
        what, method, size = b" ".join(t[j + 2 : m]), t[m], t[m + 1]
        category = b" ".join(t[c0:c1])
    nbytes = fl.number(size, 18)
    if nbytes < 0:
        return _LARGE
    code = fl.number(status, 3) if status else 0
    host, how = fl.host_of(url)
    if how & fl.NO_HOST:
        return _HOST
    p, blocked, error, unknown = 0, False, False, False  # the verdict tags at the start of `what`
    while p < len(what) and what[p] == 42:
        q = p + 1
        while q < len(what) and what[q] not in b"* ":
            q += 1
        if q >= len(what) or what[q] != 42:
            break
        tag = _TAG_CODES.get(what[p + 1 : q].lower(), -1)
        blocked, error, unknown = blocked or tag == _BLOCKTAG, error or tag == _ERRORTAG, unknown or tag < 0
        p = q + 1
        while p < len(what) and what[p] == 32:
            p += 1
    if code == 407:
        action = fl.AUTH
    elif blocked or (unknown and code == 403):
        action = fl.BLOCKED
    else:
        action = fl.ERROR if error else fl.ALLOWED
    f = fl.OK | how | (fl.SLOW_HOST if high else 0)
    category = fl.trimmed(category)
    if fl.blank(category):
        category = fl.trimmed(what[p:])  # the reason's label
        if action == fl.BLOCKED:
            category = category.split(b": ", 1)[0].rstrip(b". ")
        if action != fl.BLOCKED or not category:
            f |= fl.NO_CATEGORY
    if fl.blank(name) or name == client:
        f |= fl.NO_USER
    user, slow = fl.user_of(name, bool(f & fl.NO_USER), client)
    return fl.Line(f | slow, ts, local, code, nbytes, action, name, client, method, host, url, category, user)
