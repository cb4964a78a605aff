"""Parser for FortiGate / FortiProxy web filter logs (DESIGN §4).

Line shape: `key=value` pairs separated by spaces, a value quoted with `"` when
it may hold spaces (`\\"` inside quotes is a quote), in any order, e.g.
``date=2026-11-30 time=09:17:01 eventtime=1796030221123456789 tz="+0000"
logid="0316013056" type="utm" subtype="webfilter" eventtype="ftgd_blk"
user="jsmith" srcip=10.0.0.5 dstport=443 service="HTTPS"
hostname="www.facebook.com" action="blocked" url="https://www.facebook.com/"
rcvdbyte=0 catdesc="Social Networking"``. The syslog envelope is stripped by
the caller; a bare `<PRI>` before the first pair is skipped here. The first
occurrence of a key wins (FortiAnalyzer exports repeat `date`/`time`).

- only `subtype=webfilter` lines (or `type=webfilter`, FortiOS 4) are requests;
  traffic, event and other UTM lines are counted apart as "not a request" (not
  stored, not quarantined; a mixed syslog feed is normal);
- time: `eventtime` (epoch in s, ms, µs or ns, told apart by magnitude) when
  present; else `date`+`time` with `tz` (`+0300`) exact, without `tz` local to
  the configured timezone; FortiAnalyzer's `itime`/`timestamp` are ignored;
- `action` (FortiOS 5 writes it as `status`): blocked, block, dropped, drop, deny, denied and warning (a warning
  page replaced the content) are blocked; passthrough, pass, allowed, allow,
  accept, exempt, monitored and monitor are allowed; authenticate is auth; any
  other value rejects the line;
- `url` is a full URL in FortiOS 6.2+ and a path before: a path is joined to
  `hostname` as `https://` when `service` is HTTPS or `dstport` is 443, else
  `http://` (the port is not added); a hostname that is an IPv6 address (FortiOS
  logs the server's address when a request names none) goes in brackets;
- user = `user`, else `unauthuser` (FSSO/RSSO names); client = `srcip`;
  category = `catdesc`; bytes = `rcvdbyte` (what the client received);
  method = `httpmethod`, else the `Method=` item of `rawdata` (extended
  logging), else null: the webfilter `method` key is the rating method
  (`domain`, `ip`), never an HTTP method; status is 0 (none is logged).

Why a compiled scanner: see `ingest.filterlog`.
"""

from __future__ import annotations

import re

from ingest import filterlog as fl

NAME = "fortigate"

REASONS = [
    "", "invalid utf-8", "malformed key=value pair", "not a request (a FortiGate record of another type than webfilter)",
    "no timestamp (neither eventtime nor date and time)", "bad timestamp", "timestamp out of range",
    "number too large", "no action field", "unknown action", "no source IP (srcip)", "no hostname or URL",
    "bad byte count",
]
_UTF8, _PAIR, _OTHER, _NOTIME, _TIME, _RANGE, _LARGE, _NOACTION, _ACTION, _SRC, _NOURL, _BYTES = range(1, 13)
# The keys the format reads (the compiled scanner numbers them in this order).
KEYS = ("date", "time", "tz", "eventtime", "type", "subtype", "action", "user", "unauthuser", "srcip", "hostname",
        "url", "catdesc", "rcvdbyte", "service", "dstport", "httpmethod", "rawdata", "status")
ACTIONS = {
    **dict.fromkeys(("blocked", "block", "dropped", "drop", "deny", "denied", "warning"), fl.BLOCKED),
    **dict.fromkeys(("passthrough", "pass", "allowed", "allow", "accept", "exempt", "monitored", "monitor"),
                    fl.ALLOWED),
    "authenticate": fl.AUTH,
}
VALUES = {"webfilter": 1, "https": 2}  # words of `subtype`/`type` and `service` (ASCII case ignored)

_KV = r'[A-Za-z_][A-Za-z0-9_]*=(?:"(?:[^"\\]|\\.)*"|\S*)'
_PAIR_RE = re.compile(rf"^(?:<\d{{1,3}}>)?{_KV}(?: +{_KV})* *$")
_FORTI_RE = re.compile(r'(?:^|[ >])(?:logid|subtype|devid)=')


def looks_like(first_lines: list[str]) -> bool:
    """True when the first non-blank line and most of the next ones are FortiOS
    `key=value` log lines (with a logid, subtype or devid key)."""
    lines = [ln.rstrip("\r") for ln in first_lines if ln.strip()][:10]
    if not lines:
        return False
    hits = [bool(_PAIR_RE.match(ln) and _FORTI_RE.search(ln)) for ln in lines]
    return hits[0] and sum(hits) * 2 > len(lines)


def make_parser(first_line: str, tz: str, cfg=None) -> Parser:
    """FortiOS logs have no header; `date`/`time` without `tz` are local to `tz`."""
    return Parser(tz)


class Parser(fl.LineParser):
    """Turns batches of FortiGate / FortiProxy log lines into canonical rows and bad lines."""

    name = NAME
    reasons = REASONS
    fast_module = "fortigate_scan"
    read_line = staticmethod(lambda line: read_line(line))  # defined below


# -- the reference path (the compiled scanner is `ingest.fast.fortigate_scan`) ------------------------

_WANTED = frozenset(k.encode() for k in KEYS)
_KEY_END = re.compile(rb"[= ]")
_QUOTED_END = re.compile(rb'["\\]')
_PRI = re.compile(rb"<[0-9]+>")
_LETTERS = re.compile(rb"[A-Za-z]*")
_ACTION_CODES = {w.encode(): code for w, code in ACTIONS.items()}


def _pairs(line: bytes, p: int) -> dict[bytes, tuple[bytes, bool]] | None:
    """The first value of each wanted key (and whether a `\\` escape was in its
    quotes) of the `key=value` pairs from p on; None when a pair is malformed."""
    found: dict[bytes, tuple[bytes, bool]] = {}
    e = len(line)
    while p < e:
        while p < e and line[p] == 32:
            p += 1
        if p >= e:
            break
        m = _KEY_END.search(line, p)
        q = m.start() if m else e
        if q >= e or line[q] != 61 or q == p:
            return None
        key, p = line[p:q], q + 1
        escaped = False
        if p < e and line[p] == 34:  # quoted: `\x` is an escape, up to the next `"`
            a = p = p + 1
            while True:
                m = _QUOTED_END.search(line, p)
                p = m.start() if m else e
                if p + 1 < e and line[p] == 92:
                    escaped, p = True, p + 2
                    continue
                break
            if p >= e or line[p] != 34:
                return None
            value, p = line[a:p], p + 1
        else:
            q = line.find(b" ", p)
            q = e if q < 0 else q
            value, p = line[p:q], q
        if key in _WANTED and key not in found:
            found[key] = (value, escaped)
    return found


def _epoch_us(text: bytes) -> int:
    """Epoch µs of `eventtime` (s, ms, µs or ns by magnitude); -1 not digits, -2 too large."""
    v = fl.number(text, 19 if len(text) == 19 and 48 <= text[0] <= 56 else 18)
    if v < 0:
        return v
    if v < 100_000_000_000:
        return v * 1_000_000
    if v < 100_000_000_000_000:
        return v * 1000
    return v if v < 100_000_000_000_000_000 else v // 1000


def _local_us(date: bytes, clock: bytes) -> int:
    """Epoch µs of `date=YYYY-MM-DD time=HH:MM:SS` read as UTC; -1 bad, -2 out of range."""
    if len(date) != 10 or len(clock) != 8 or date[4] != 45 or date[7] != 45 or clock[2] != 58 or clock[5] != 58:
        return -1
    parts = [fl.number(date[0:4], 4)] + [fl.number(t[k : k + 2], 2) for t, k in
                                         ((date, 5), (date, 8), (clock, 0), (clock, 3), (clock, 6))]
    if min(parts) < 0:
        return -1
    us = fl.civil_us(*parts)
    if us < 0:
        return -1
    return us if 1990 <= parts[0] <= 2100 else -2


def _offset_us(tz: bytes) -> int:
    """The UTC offset `+HHMM` / `+HH:MM` in µs; -1 when it is not one."""
    if len(tz) == 6 and tz[3] == 58:
        mm = fl.number(tz[4:6], 2)
    elif len(tz) == 5:
        mm = fl.number(tz[3:5], 2)
    else:
        return -1
    hh = fl.number(tz[1:3], 2)
    if hh < 0 or mm < 0 or hh > 23 or mm > 59 or tz[0] not in b"+-":
        return -1
    return (1 if tz[0] == 43 else -1) * (hh * 60 + mm) * 60_000_000


def read_line(line: bytes) -> fl.Line | int | None:
    """One FortiGate line by the rules of the module docstring: a row (`fl.Line`),
    a reason code, or None for a blank line."""
    line = fl.trimmed(line)
    if not line:
        return None
    high = not line.isascii()
    if high and not fl.utf8_ok(line):
        return _UTF8
    pri = _PRI.match(line)
    kv = _pairs(line, pri.end() if pri else 0)
    if kv is None:
        return _PAIR
    value = {k.decode(): v for k, (v, _) in kv.items()}
    kinds = (value.get("subtype"), value.get("type"))
    if not any(v is not None and v.lower() == b"webfilter" for v in kinds):
        return _OTHER
    local = False
    if "eventtime" in value:
        ts = _epoch_us(value["eventtime"])
        if ts == -2:
            return _LARGE
        if ts >= 0 and not fl.MIN_US <= ts < fl.MAX_US:
            ts = -2
    elif "date" in value and "time" in value:
        ts = _local_us(value["date"], value["time"])
        if ts >= 0 and value.get("tz"):
            off = _offset_us(value["tz"])
            ts = ts - off if off != -1 else -1
        elif ts >= 0:
            local = True
    else:
        return _NOTIME
    if ts < 0:
        return _TIME if ts == -1 else _RANGE
    verdict = value.get("action", value.get("status"))  # FortiOS 5 writes the verdict as status=
    if verdict is None:
        return _NOACTION
    action = _ACTION_CODES.get(verdict.lower(), -1)
    if action < 0:
        return _ACTION
    client = value.get("srcip")
    if client is None or not fl.ip_shaped(client):
        return _SRC
    nbytes = fl.number(value["rcvdbyte"], 18) if "rcvdbyte" in value else 0
    if nbytes < 0:
        return _LARGE if nbytes == -2 else _BYTES
    url, hostname = value.get("url"), value.get("hostname")
    scheme = _LETTERS.match(url).end() if url is not None else 0
    absolute = url is not None and scheme > 0 and scheme + 2 < len(url) and url[scheme : scheme + 3] == b"://"
    if not absolute:  # a path: joined to hostname
        if not hostname:
            return _NOURL
        service, port = value.get("service"), value.get("dstport")
        https = (service is not None and service.lower() == b"https") or (port is not None and fl.number(port, 5) == 443)
        path = url or b""
        if hostname.count(b":") >= 2 and not hostname.startswith(b"["):  # an IPv6 address: in brackets
            hostname = b"[" + hostname + b"]"
        url = (b"https://" if https else b"http://") + hostname + (b"" if path.startswith(b"/") else b"/") + path
    host, how = fl.host_of(url)
    if how & fl.NO_HOST:
        return _NOURL
    f = fl.OK | (fl.SLOW_HOST if high else 0) | how
    name = value.get("user")
    if fl.blank(name):
        name = value.get("unauthuser")
    method = value.get("httpmethod")
    if not method and "rawdata" in value:  # `rawdata="Method=GET|URI=...|..."`
        items = value["rawdata"].split(b"|")
        method = next((item[7:] for item in items if item.startswith(b"Method=")), None)
    if not method:
        f |= fl.NO_METHOD
    if fl.blank(name):
        f |= fl.NO_USER
        name = b""
    if kv.get(b"user", (b"", False))[1] or kv.get(b"unauthuser", (b"", False))[1]:
        name = name.replace(b'\\"', b'"')  # `\"` inside the quotes
    category = value.get("catdesc")
    if fl.blank(category):
        f |= fl.NO_CATEGORY
    user, slow = fl.user_of(name, bool(f & fl.NO_USER), client)
    return fl.Line(f | slow, ts, local, 0, nbytes, action, name, client, method or b"", host, url, category or b"",
                   user)
