"""squidGuard's request log to exact schema values.

Lines follow squidGuard's `sgLogRequest` (`date time [pid] Request(src/dest/rewrite)
url ip/fqdn ident method [action]`, the action since 1.4) and its own messages,
which share the date and pid. Expected values are written out by hand; the
timezone is Europe/London (GMT in winter, BST = UTC+1 in summer).
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import polars as pl
import pytest

from ingest import squidguard, tokens
from surfaudit.errors import InputError
from surfaudit.schema import EVENT_SCHEMA

UTC = timezone.utc
TZ = "Europe/London"


def parse(lines: list[str], first_line_no: int = 1):
    return squidguard.make_parser("", TZ).parse(pl.Series("line", lines, dtype=pl.String), first_line_no)


def row(**kw) -> dict:
    base = dict(ts=datetime(2026, 11, 30, 9, 17, 1, tzinfo=UTC), user="jsmith", username="jsmith",
                client_ip="10.0.0.5", method="GET", host="www.facebook.com", url="http://www.facebook.com/",
                action="blocked", status=0, bytes=0, elapsed_ms=None, category="socialnet", source="squidguard")
    base.update(kw)
    return base


CASES = [
    pytest.param("2026-11-30 09:17:01 [1234] Request(default/socialnet/-) http://www.facebook.com/ 10.0.0.5/- "
                 "jsmith GET REDIRECT", row(), id="redirect-blocked"),
    pytest.param("2021-02-14 00:02:33 [26] Request(default/porn/-) pornpage.com:443 172.17.0.1/172.17.0.1 - "
                 "CONNECT REDIRECT",
                 row(ts=datetime(2021, 2, 14, 0, 2, 33, tzinfo=UTC), user="172.17.0.1", username=None,
                     client_ip="172.17.0.1", method="CONNECT", host="pornpage.com", url="pornpage.com:443",
                     category="porn"), id="connect-no-user-fqdn"),
    pytest.param("2026-06-15 13:45:00 [99] Request(staff/socialnet/-) http://www.facebook.com/ 10.0.0.5/pc5.school.lan "
                 "jsmith GET PASS",
                 row(ts=datetime(2026, 6, 15, 12, 45, tzinfo=UTC), action="allowed"), id="verbose-pass-allowed-bst"),
    pytest.param("2026-11-30 09:17:01 [1234] Request(students/searchengines/safesearch) "
                 "http://www.google.com/search?q=x 10.0.0.5/- jsmith GET REWRITE",
                 row(host="www.google.com", url="http://www.google.com/search?q=x", action="allowed",
                     category="searchengines"), id="rewrite-allowed"),
    pytest.param("2008-01-20 12:51:02 [4321] Request(default/adult/-) http://www.example.com/a 192.168.1.2/- - GET",
                 row(ts=datetime(2008, 1, 20, 12, 51, 2, tzinfo=UTC), user="192.168.1.2", username=None,
                     client_ip="192.168.1.2", host="www.example.com", url="http://www.example.com/a",
                     category="adult"), id="before-1.4-no-action-blocked"),
    pytest.param("2026-11-30 09:17:01 [1234] Request(default/socialnet/-) http://www.facebook.com/ 2001:db8::5/- "
                 "school%5Cjsmith GET REDIRECT",
                 row(user="school\\jsmith", username="school\\jsmith", client_ip="2001:db8::5"),
                 id="ipv6-client-escaped-domain-user"),
    pytest.param("2026-11-30 09:17:01 [1234] Request(default/socialnet/-) http://www.facebook.com/ 10.0.0.5/- "
                 "mary%20ann GET REDIRECT", row(user="mary ann", username="mary ann"), id="escaped-space-user"),
    pytest.param("2026-11-30 09:17:01 [1234] Request(default/socialnet/-) http://www.facebook.com/ 10.0.0.5/- "
                 "jsmith@school.local GET REDIRECT", row(user="jsmith@school.local", username="jsmith@school.local"),
                 id="user-at-realm"),
    pytest.param("2026-11-30 09:17:01 [1234] Request(default/blk_BL_socialnet/-) http://WWW.Facebook.com:8080/a b.html "
                 "10.0.0.5/- jsmith POST REDIRECT",
                 row(method="POST", url="http://WWW.Facebook.com:8080/a b.html", category="blk_BL_socialnet"),
                 id="decoded-url-with-space-port-upper-case-pfsense-category"),
    pytest.param("2026-11-30 09:17:01 [1234] Request(default/socialnet/-) http://www.facebook.com/ 10.0.0.5/- "
                 "jsmith GET REDIRECT\r", row(), id="crlf"),
    pytest.param("2026-03-29 01:30:00 [1] Request(default/socialnet/-) http://www.facebook.com/ 10.0.0.5/- "
                 "jsmith GET REDIRECT", row(ts=datetime(2026, 3, 29, 1, 30, tzinfo=UTC)), id="skipped-spring-hour"),
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_squidguard_line(line, expected):
    rows, bad = parse([line])
    assert bad.height == 0, bad.to_dicts()
    assert rows.schema == EVENT_SCHEMA
    assert rows.to_dicts() == [expected]


def test_all_cases_in_one_batch_keep_order():
    rows, bad = parse([p.values[0] for p in CASES])
    assert bad.height == 0
    assert rows.to_dicts() == [p.values[1] for p in CASES]


MESSAGE = "not a request (squidGuard message)"
BAD = [
    ("2026-11-30 09:17:00 [1234] New setting: dbhome: /var/lib/squidguard/db", MESSAGE),
    ("2026-11-30 09:17:00 [1234] init domainlist /var/lib/squidguard/db/porn/domains", MESSAGE),
    ("2026-11-30 09:17:00 [1234] INFO: squidGuard 1.6.0 started (1796029020.123)", MESSAGE),
    ("2026-11-30 09:17:00 [1234] INFO: squidGuard ready for requests (1796029020.456)", MESSAGE),
    ("garbage", "malformed line (no squidGuard date and [pid])"),
    ("2026-11-30 09:17:01 1234 Request(default/x/-) http://x.com/ 10.0.0.5/- - GET REDIRECT",
     "malformed line (no squidGuard date and [pid])"),
    ("2026-02-30 09:17:01 [1] Request(default/x/-) http://x.com/ 10.0.0.5/- - GET REDIRECT", "bad timestamp"),
    ("1989-12-31 09:17:01 [1] Request(default/x/-) http://x.com/ 10.0.0.5/- - GET REDIRECT",
     "timestamp out of range"),
    ("2026-11-30 09:17:01 [1] Request(default/x) http://x.com/ 10.0.0.5/- - GET REDIRECT", "malformed request"),
    ("2026-11-30 09:17:01 [1] Request(default/x/-) http://x.com/ - GET REDIRECT", "malformed request"),
    ("2026-11-30 09:17:01 [1] Request(default/x/-) http://x.com/ 10.0.0.5/- - GET -", "unknown squidGuard action"),
    ("2026-11-30 09:17:01 [1] Request(default/x/-) http://x.com/ somebody/- - GET REDIRECT", "bad client address"),
    ("2026-11-30 09:17:01 [1] Request(default/x/-) http:///x 10.0.0.5/- - GET REDIRECT", "no host in URL"),
]


def test_messages_and_bad_lines_are_counted_good_lines_kept():
    good = CASES[0].values[0]
    lines = [good, *(b for b, _ in BAD), "", good]
    rows, bad = parse(lines, first_line_no=50)
    assert rows.height == 2
    assert bad.to_dicts() == [{"line_no": 51 + k, "reason": r, "line": b} for k, (b, r) in enumerate(BAD)]


def test_invalid_utf8_from_the_reader_is_a_bad_line():
    lines = [CASES[0].values[0].encode(),
             b"2026-11-30 09:17:01 [1] Request(default/x/-) http://x.com/\xff 10.0.0.5/- - GET REDIRECT"]
    data = b"\n".join(lines) + b"\n"
    ends = (np.cumsum([len(x) + 1 for x in lines]) - 1).astype(np.int64)
    starts = ends - np.array([len(x) for x in lines], dtype=np.int64)
    raw = tokens.Raw(data, starts, ends, lines=lambda: pl.Series("line", [lines[0].decode(), "\ufffd"]))
    rows, bad = squidguard.make_parser("", TZ).parse(None, 1, raw)
    assert rows.height == 1
    assert bad.to_dicts() == [{"line_no": 2, "reason": "invalid utf-8", "line": "\ufffd"}]


def test_parser_attributes():
    parser = squidguard.make_parser("x", "UTC")
    assert parser.name == squidguard.NAME == "squidguard" and parser.header_lines == 0
    with pytest.raises(InputError, match="unknown timezone"):
        squidguard.make_parser("x", "Nowhere/Else")


SQUID = "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/1.2.3.4 -"


@pytest.mark.parametrize(("lines", "expected"), [
    ([p.values[0] for p in CASES], True),
    ([BAD[0][0], BAD[3][0], CASES[0].values[0]], True),  # messages first, then a request
    ([BAD[0][0], BAD[1][0], BAD[2][0]], False),  # squidGuard.log with messages only: no request
    ([SQUID] * 3, False),
    (["timestamp,username,client_ip,url,category,action", "2026-01-15T10:00:00Z,a,10.0.0.1,x.com,,allowed"], False),
    (["2026.11.30 9:17:01 - 10.0.0.5 http://x.com/  GET 1 0  1 200 -"], False),
    (["garbage", CASES[0].values[0], CASES[0].values[0]], False),
    ([], False),
])
def test_looks_like(lines, expected):
    assert squidguard.looks_like(lines) is expected
