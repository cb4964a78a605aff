"""Fuzzed input for the e2guardian, squidGuard and FortiGate parsers.

For each format, 10,000 good lines (users with spaces and domains, IPv6
clients, both e2guardian log formats, CRLF endings) are mixed with at least
10,000 lines that are bad whatever the parser does right: random printable
junk, random bytes, good lines cut before a field the format requires, swapped
fields, impossible or out-of-range dates, numbers too large for the column,
invalid UTF-8, and each format's own non-requests (squidGuard's messages,
FortiGate traffic and event lines). The batch is given to the parser as the
reader gives it (raw bytes, U+FFFD for a line that is not UTF-8): no exception,
every good line is a row (compared by its unique URL), every bad line is
counted with its line number, and none is both.
"""

from __future__ import annotations

import random
import re
from collections import Counter

import numpy as np
import polars as pl
import pytest

from ingest import e2guardian, fortigate, squidguard, tokens

from .helpers import LONG, failed, tried

pytestmark = pytest.mark.slow  # long trials: -m 'not slow' leaves them out

N = 10_000 * (4 if LONG else 1)
_ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789 ,./:-_?=&%\"'*[]()<>"
_PRINTABLE = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))
USERS = ["-", "jsmith", "Mary Ann", "SCHOOL\\JSmith", "jsmith@SCHOOL.LOCAL", "Renée", "a.b-c_d"]
CLIENTS = ["10.0.0.5", "192.168.100.254", "2001:db8::5", "fe80::1:2"]


def junk(rng: random.Random) -> bytes:
    return b"~" + rng.randbytes(rng.randint(0, 300)).translate(_PRINTABLE)


def random_bytes(rng: random.Random) -> bytes:
    return b"~" + rng.randbytes(rng.randint(1, 400)).replace(b"\n", b"\xff")


# -- e2guardian ------------------------------------------------------------------------------
def e2_good(rng: random.Random, seq: int) -> tuple[str, str]:
    url = f"http://www.facebook.com/s{seq}"
    user, client = rng.choice(USERS), rng.choice(CLIENTS)
    what = rng.choice(["*DENIED* Banned site: facebook.com", "", "*SCANNED* ", "*TRUSTED* Site match: x.com", "-"])
    cat = rng.choice(["Social Networking", "", "-"])
    when = f"2026.{rng.randint(1, 12)}.{rng.randint(1, 28)} {rng.randint(0, 23)}:{rng.randint(0, 59):02d}:07"
    if rng.random() < 0.2:
        when += f" {rng.randint(1700000000, 1800000000)}.{rng.randint(0, 999):03d}"
    fields = [when, user, client, url, what, rng.choice(["GET", "POST", "CONNECT"]), str(rng.randint(0, 10**9)),
              str(rng.randint(-50, 500)), cat, "1", rng.choice(["200", "403", "304"]), "text/html", client, "Staff",
              "Mozilla/5.0 (X11; Linux x86_64)"]
    if rng.random() < 0.3:
        return '"' + '","'.join(fields) + '"', url
    return " ".join(fields), url


def e2_bad(rng: random.Random, good: str) -> tuple[str, bytes]:
    kind = rng.choice(["junk", "bytes", "truncated", "baddate", "huge", "swapped", "latin1"])
    csv = good.startswith('"')
    sep = '","' if csv else " "
    f = good[1:-1].split('","') if csv else None
    if kind == "junk":
        return kind, junk(rng)
    if kind == "bytes":
        return kind, random_bytes(rng)
    method = next(m for m in (" GET ", " POST ", " CONNECT ", '","GET","', '","POST","', '","CONNECT","') if m in good)
    if kind == "truncated":  # cut before the method: never a whole line
        return kind, good.encode()[: rng.randint(1, good.index(method))]
    if kind == "baddate":
        bad = rng.choice(["2026.13.30 9:17:01", "2026.2.30 9:17:01", "1989.12.31 23:59:59", "2026.11.30 24:00:00",
                          "2026.11.30 9:60:00"])
        if csv:
            f[0] = bad
            return kind, ('"' + sep.join(f) + '"').encode()
        return kind, (bad + " " + re.sub(r"^\S+ \S+( \d+\.\d{3})? ", "", good)).encode()
    if kind == "huge":  # a byte count over the Int64 column
        size = "9" * rng.randint(19, 40)
        if csv:
            f[6] = size
            return kind, ('"' + '","'.join(f) + '"').encode()
        i = good.index(method) + len(method)
        return kind, (good[:i] + size + good[good.index(" ", i):]).encode()
    if kind == "swapped":  # the time before the date
        if csv:
            f[0] = " ".join(reversed(f[0].split(" ", 1)))
            return kind, ('"' + sep.join(f) + '"').encode()
        d, t, rest = good.split(" ", 2)
        return kind, f"{t} {d} {rest}".encode()
    i = good.index(method) - 1  # latin-1 in the reason / user: invalid UTF-8
    return kind, (good[:i] + " jos\u00e9" + good[i:]).encode("latin-1")


# -- squidGuard ------------------------------------------------------------------------------
def sg_good(rng: random.Random, seq: int) -> tuple[str, str]:
    url = f"http://www.facebook.com/s{seq}" + rng.choice(["", " a b", "?q=1"])
    user = rng.choice(["-", "jsmith", "mary%20ann", "school%5cjsmith", "jsmith@school.local"])
    action = rng.choice([" REDIRECT", " PASS", " REWRITE", ""])
    return (f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
            f":01 [{rng.randint(1, 99999)}] Request(default/{rng.choice(['socialnet', 'porn', 'blk_BL_chat'])}/-) "
            f"{url} {rng.choice(CLIENTS)}/{rng.choice(['-', 'pc1.lan'])} {user} {rng.choice(['GET', 'CONNECT'])}"
            f"{action}"), url


SG_MESSAGES = ["New setting: dbhome: /var/lib/squidguard/db", "init domainlist /var/lib/squidguard/db/porn/domains",
               "INFO: squidGuard 1.6.0 started (1796029020.123)", "INFO: squidGuard ready for requests (1.2)",
               "Warning: Possible bypass attempt. Found a trailing dot in the domain name: http://x.com./"]


def sg_bad(rng: random.Random, good: str) -> tuple[str, bytes]:
    kind = rng.choice(["junk", "bytes", "truncated", "baddate", "swapped", "message", "latin1", "action"])
    head, rest = good[:26], good[26:]
    if kind == "junk":
        return kind, junk(rng)
    if kind == "bytes":
        return kind, random_bytes(rng)
    if kind == "truncated":  # cut inside `Request(...)` or before
        return kind, good.encode()[: rng.randint(1, good.index(") ") + 1)]
    if kind == "baddate":
        bad = rng.choice(["2026-13-30 09:17:01", "2026-02-30 09:17:01", "1989-12-31 23:59:59", "2026-11-30 25:00:00",
                          "20261130 09:17:01"])
        return kind, (bad + good[19:]).encode()
    if kind == "message":
        return kind, (good[: good.index("] ") + 2] + rng.choice(SG_MESSAGES)).encode()
    fields = good.split(" ")
    has_action = fields[-1] in ("REDIRECT", "PASS", "REWRITE")
    src = -4 if has_action else -3
    if kind == "swapped":  # the client and the method
        fields[src], fields[-2 if has_action else -1] = fields[-2 if has_action else -1], fields[src]
        return kind, " ".join(fields).encode()
    if kind == "action":
        return kind, (" ".join(fields[:-1] if has_action else fields) + " -").encode()
    return kind, (head + rest.replace("http://", "http://caf\u00e9.")).encode("latin-1", "replace")


# -- FortiGate -------------------------------------------------------------------------------
def fg_good(rng: random.Random, seq: int) -> tuple[str, str]:
    path = f"/s{seq}"
    url = f"https://www.facebook.com{path}"
    when = f"date=2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} time={rng.randint(0, 23):02d}:17:01"
    if rng.random() < 0.5:
        when += f" eventtime={rng.randint(1700000000, 1800000000)}{rng.randint(0, 10**9 - 1):09d}"
    if rng.random() < 0.5:
        when += ' tz="+0100"'
    user = rng.choice(['""', '"jsmith"', '"Mary Ann"', '"SCHOOL\\JSmith"', '"jsmith@SCHOOL.LOCAL"', '"Renée"'])
    logged = f'"{url}"' if rng.random() < 0.5 else f'"{path}"'
    return (f'{when} logid="0316013056" type="utm" subtype="webfilter" eventtype="ftgd_blk" user={user} '
            f'srcip={rng.choice(CLIENTS)} dstport=443 service="HTTPS" hostname="www.facebook.com" '
            f'action="{rng.choice(["blocked", "passthrough", "dropped", "exempt"])}" url={logged} '
            f'sentbyte={rng.randint(0, 9999)} rcvdbyte={rng.randint(0, 99999)} catdesc="Social Networking"'), url


FG_OTHER = [('date=2026-11-30 time=09:17:01 logid="0000000013" type="traffic" subtype="forward" srcip=10.0.0.5 '
             'dstip=1.2.3.4 action="accept" sentbyte=1 rcvdbyte=2'),
            'date=2026-11-30 time=09:17:01 logid="0100032001" type="event" subtype="system" msg="Admin login"']


def fg_bad(rng: random.Random, good: str) -> tuple[str, bytes]:
    kind = rng.choice(["junk", "bytes", "truncated", "unterminated", "baddate", "huge", "swapped", "other", "latin1"])
    if kind == "junk":
        return kind, junk(rng)
    if kind == "bytes":
        return kind, random_bytes(rng)
    if kind == "truncated":  # cut before srcip: no client (nor action)
        return kind, good.encode()[: rng.randint(1, good.index(" srcip="))]
    if kind == "unterminated":
        return kind, good[: good.index('url="') + 5 + rng.randint(0, 3)].encode()
    if kind == "baddate":
        bad = rng.choice(["date=2026-13-30 ", "date=2026-02-30 ", "date=1989-12-31 ", "date=30/11/2026 "])
        line = bad + good[good.index("time="):]
        return kind, " ".join(w for w in line.split(" ") if not w.startswith("eventtime=")).encode()
    if kind == "huge":
        line = " ".join(w for w in good.split(" ") if not w.startswith("eventtime="))
        return kind, line.replace("date=", f"eventtime={'9' * rng.randint(20, 40)} date=", 1).encode()
    if kind == "swapped":  # srcip <-> action values
        words = good.split(" ")
        a = next(i for i, w in enumerate(words) if w.startswith("action="))
        s = next(i for i, w in enumerate(words) if w.startswith("srcip="))
        words[a], words[s] = "action=" + words[s][6:], "srcip=" + words[a][7:]
        return kind, " ".join(words).encode()
    if kind == "other":
        return kind, rng.choice(FG_OTHER).encode()
    return kind, good.replace('"Social Networking"', '"R\u00e9seaux sociaux"').encode("latin-1")


FORMATS = {"e2guardian": (e2guardian, e2_good, e2_bad), "squidguard": (squidguard, sg_good, sg_bad),
           "fortigate": (fortigate, fg_good, fg_bad)}


def as_raw(body: list[bytes]) -> tokens.Raw:
    """The lines as the reader gives them: one buffer, U+FFFD for a line that is not UTF-8."""
    data = b"".join(line + b"\n" for line in body)
    ends = (np.cumsum([len(x) + 1 for x in body]) - 1).astype(np.int64)
    starts = ends - np.array([len(x) for x in body], dtype=np.int64)

    def lines() -> pl.Series:
        out = []
        for line in body:
            try:
                out.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                out.append("\ufffd")
        return pl.Series("line", out, dtype=pl.String)

    return tokens.Raw(data, starts, ends, lines=lines)


@pytest.mark.parametrize("name", list(FORMATS))
def test_fuzzed_lines_are_counted_and_good_lines_kept(name):
    module, make_good, make_bad = FORMATS[name]
    rng = random.Random(20261201 + len(name))
    good = [make_good(rng, seq) for seq in range(N)]
    body: list[tuple[bool, bytes]] = [(True, line.encode() + (b"\r" if rng.random() < 0.2 else b"")) for line, _ in good]
    kinds = Counter()
    for _ in range(N):
        kind, line = make_bad(rng, rng.choice(good)[0])
        kinds[kind] += 1
        body.insert(rng.randint(0, len(body)), (False, line))
    rows, bad = module.make_parser("", "Europe/London").parse(None, 1, as_raw([line for _, line in body]))
    expected_bad = {i + 1 for i, (ok, _) in enumerate(body) if not ok}
    got_bad = set(bad.get_column("line_no").to_list())
    problems = []
    if Counter(rows.get_column("url").to_list()) != Counter(url for _, url in good):
        problems.append(f"{name}: rows {rows.height} for {len(good)} good lines")
    if got_bad != expected_bad or bad.height != len(expected_bad):
        problems.append(f"{name}: {len(expected_bad - got_bad)} bad lines not counted, "
                        f"{len(got_bad - expected_bad)} good lines rejected: "
                        f"{bad.filter(~pl.col('line_no').is_in(list(expected_bad))).head(3).to_dicts()}")
    if bad.get_column("reason").is_null().any() or (bad.get_column("reason") == "").any():
        problems.append(f"{name}: a bad line without a reason")
    tried("fuzz-formats", f"{name} bad lines", len(expected_bad))
    tried("fuzz-formats", f"{name} good lines", len(good))
    for kind, n in kinds.items():
        tried("fuzz-formats", f"{name} bad:{kind}", n)
    for p in problems:
        failed("fuzz-formats", p)
    assert len(expected_bad) >= 10_000
    assert not problems, problems
