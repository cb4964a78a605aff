"""e2guardian / DansGuardian access.log (log formats 1 and 2) to exact schema values.

Lines follow the field list e2guardian and DansGuardian write (when who from
where what how size weight category group code mimetype clienthost groupname
useragent ...), including real quirks: DansGuardian's unpadded dates and empty
fields (two spaces), free-text reasons and categories, `logtimestamp` epochs.
Expected values are written out by hand; the timezone is Europe/London (GMT in
winter, BST = UTC+1 from 29 March to 25 October 2026).
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import polars as pl
import pytest

from ingest import e2guardian, tokens
from surfaudit.errors import InputError
from surfaudit.schema import EVENT_SCHEMA

UTC = timezone.utc
TZ = "Europe/London"


def parse(lines: list[str], first_line_no: int = 1):
    return e2guardian.make_parser(lines[0] if lines else "", TZ).parse(pl.Series("line", lines, dtype=pl.String),
                                                                        first_line_no)


def row(**kw) -> dict:
    base = dict(ts=datetime(2026, 11, 30, 9, 17, 1, tzinfo=UTC), user="10.0.0.5", username=None,
                client_ip="10.0.0.5", method="GET", host="www.facebook.com", url="http://www.facebook.com/",
                action="blocked", status=403, bytes=3804, elapsed_ms=None, category="Social Networking",
                source="e2guardian")
    base.update(kw)
    return base


CASES = [
    pytest.param(
        "2026.11.30 9:17:01 - 10.0.0.5 http://www.facebook.com/ *DENIED* Banned site: facebook.com GET 3804 0 "
        "Social Networking 1 403 text/html 10.0.0.5 Staff - - - -",
        row(), id="dansguardian-denied-no-user"),
    pytest.param(
        "2026.06.15 09:05:07 SCHOOL\\JSmith 10.0.0.6 https://www.instagram.com:443 *TRUSTED* Site match: "
        "instagram.com CONNECT 0 0 - 1 200 - 10.0.0.6 Staff -",
        row(ts=datetime(2026, 6, 15, 8, 5, 7, tzinfo=UTC), user="school\\jsmith", username="SCHOOL\\JSmith",
            client_ip="10.0.0.6", method="CONNECT", host="www.instagram.com", url="https://www.instagram.com:443",
            action="allowed", status=200, bytes=0, category=None),
        id="e2guardian5-trusted-connect-domain-user-bst"),
    pytest.param(
        "2026.11.30 10:00:00 jsmith@SCHOOL.LOCAL 10.0.0.7 http://forum.example.org/post *DENIED-POST* Banned "
        "phrase found: casino POST 120 150  2 403 text/html",
        row(ts=datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC), user="jsmith@school.local",
            username="jsmith@SCHOOL.LOCAL", client_ip="10.0.0.7", method="POST", host="forum.example.org",
            url="http://forum.example.org/post", bytes=120, category="Banned phrase found"),
        id="denied-post-user-at-realm-empty-category-takes-reason-label"),
    pytest.param(
        "2007.12.29 20:09:57 Mary Ann 192.168.1.34 http://URL.com/a.zip *SCANNED*  GET 5137 -20  1 200 "
        "application/zip   -",
        row(ts=datetime(2007, 12, 29, 20, 9, 57, tzinfo=UTC), user="mary ann", username="Mary Ann",
            client_ip="192.168.1.34", host="url.com", url="http://URL.com/a.zip", action="allowed", status=200,
            bytes=5137, category=None),
        id="scanned-user-with-space-negative-weight-empty-fields"),
    pytest.param(
        "2026.11.30 9:17:01 - 2001:db8::5 http://WWW.BBC.co.uk:8080/news  GET 900 0  1 200 text/html",
        row(user="2001:db8::5", client_ip="2001:db8::5", host="www.bbc.co.uk", url="http://WWW.BBC.co.uk:8080/news",
            action="allowed", status=200, bytes=900, category=None),
        id="ipv6-client-port-in-url-plain-allowed"),
    pytest.param(
        "2026.11.30 9:17:01 bob 10.0.0.8 http://dl.example.com/x.exe *INFECTED* Virus or bad content detected. "
        "Eicar-Test-Signature GET 68 0 Virus 1 403 application/octet-stream",
        row(user="bob", username="bob", client_ip="10.0.0.8", host="dl.example.com",
            url="http://dl.example.com/x.exe", bytes=68, category="Virus"),
        id="infected-blocked"),
    pytest.param(
        "2026.11.30 9:17:01 bob 10.0.0.8 http://nosuch.example/ *NETERROR* The site requested does not exist "
        "GET 0 0 - 1 403 text/html",
        row(user="bob", username="bob", client_ip="10.0.0.8", host="nosuch.example", url="http://nosuch.example/",
            action="error", bytes=0, category=None),
        id="neterror-error"),
    pytest.param(
        "2026.11.30 9:17:01 - 10.0.0.9 http://www.google.com/  GET 0 0  1 407 - 10.0.0.9 negotiate_identification",
        row(user="10.0.0.9", client_ip="10.0.0.9", host="www.google.com", url="http://www.google.com/",
            action="auth", status=407, bytes=0, category=None),
        id="407-auth"),
    pytest.param(
        "2026.11.30 9:17:01 - 10.0.0.5 http://www.facebook.com/ *REFUSÉ* Site interdit: facebook.com GET 0 0 "
        "Réseaux sociaux 1 403 text/html",
        row(bytes=0, category="Réseaux sociaux"),
        id="translated-tag-with-403-blocked-non-ascii"),
    pytest.param(
        "2026.6.15 9:00:00 1796030221.123 - 10.0.0.5 http://x.com/ *EXCEPTION* Exception site match. GET 10 0 - "
        "1 200 text/html",
        row(ts=datetime(2026, 11, 30, 9, 17, 1, 123000, tzinfo=UTC), host="x.com", url="http://x.com/",
            action="allowed", status=200, bytes=10, category=None),
        id="logtimestamp-epoch-wins-over-local-time"),
    pytest.param(
        "2026.11.30 9:17:01 10.0.0.5 10.0.0.5 http://x.com/ - GET 10 0 - 1 200 text/html",
        row(host="x.com", url="http://x.com/", action="allowed", status=200, bytes=10, category=None),
        id="ip-auth-user-equal-to-client-is-no-user"),
    pytest.param(
        '"2016.1.8 19:46:10","fred","192.168.0.1","http://example.com","*DENIED* Banned site: example.com","GET",'
        '"3804","0","Pornography","1","403","text/html","fred.example.com","group-name","Mozilla/5.0","","","",""',
        row(ts=datetime(2016, 1, 8, 19, 46, 10, tzinfo=UTC), user="fred", username="fred", client_ip="192.168.0.1",
            host="example.com", url="http://example.com", category="Pornography"),
        id="format2-csv-denied"),
    pytest.param(
        '"2026.6.15 9:05:07","SCHOOL\\Mary Ann","10.0.0.6","https://www.youtube.com:443","","CONNECT","0","0",'
        '"","1","200","","","Staff",""',
        row(ts=datetime(2026, 6, 15, 8, 5, 7, tzinfo=UTC), user="school\\mary ann", username="SCHOOL\\Mary Ann",
            client_ip="10.0.0.6", method="CONNECT", host="www.youtube.com", url="https://www.youtube.com:443",
            action="allowed", status=200, bytes=0, category=None),
        id="format2-csv-domain-user-with-space-bst"),
    pytest.param(
        "2026.3.29 1:30:00 - 10.0.0.5 http://www.facebook.com/ *DENIED* Banned site: facebook.com GET 3804 0 "
        "Social Networking 1 403 text/html\r",
        row(ts=datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        id="skipped-spring-hour-takes-offset-before-change-crlf"),
    pytest.param(
        "2026.10.25 1:30:00 - 10.0.0.5 http://www.facebook.com/ *DENIED* Banned site: facebook.com GET 3804 0 "
        "Social Networking 1 403 text/html",
        row(ts=datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        id="repeated-autumn-hour-takes-earlier"),
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_e2guardian_line(line, expected):
    rows, bad = parse([line])
    assert bad.height == 0, bad.to_dicts()
    assert rows.schema == EVENT_SCHEMA
    assert rows.to_dicts() == [expected]


def test_all_cases_in_one_batch_keep_order():
    rows, bad = parse([p.values[0] for p in CASES])
    assert bad.height == 0
    assert rows.to_dicts() == [p.values[1] for p in CASES]


BAD = [
    ("garbage", "bad timestamp"),
    ("2026.13.30 9:17:01 - 10.0.0.5 http://x.com/  GET 1 0  1 200 -", "bad timestamp"),
    ("2026.2.30 9:17:01 - 10.0.0.5 http://x.com/  GET 1 0  1 200 -", "bad timestamp"),
    ("1989.12.31 23:59:59 - 10.0.0.5 http://x.com/  GET 1 0  1 200 -", "timestamp out of range"),
    ("2026.11.30 9:17:01 99999999999.000 - 10.0.0.5 http://x.com/  GET 1 0  1 200 -", "timestamp out of range"),
    ("2026.11.30 9:17:01 - nohost http://x.com/  GET 1 0  1 200 -", "no client IP after the user"),
    ("2026.11.30 9:17:01 - 10.0.0.5 http://x.com/ blah blah", "no method, size and weight after the URL"),
    ("2026.11.30 9:17:01 - 10.0.0.5 http://x.com/  GET 99999999999999999999 0  1 200 -", "number too large"),
    ("2026.11.30 9:17:01 - 10.0.0.5 http:///path  GET 1 0  1 200 -", "no host in URL"),
    ('"2016.1.8 19:46:10","fred","192.168.0.1"', "malformed CSV line (format 2)"),
    ('"2016.1.8 19:46:10","fred","nobody","http://x.com/","","GET","1","0","","1","200","-"',
     "malformed CSV line (format 2)"),
]


def test_bad_lines_have_reasons_and_good_lines_are_kept():
    good = CASES[0].values[0]
    lines = [good, *(b for b, _ in BAD), "", "   ", good]
    rows, bad = parse(lines, first_line_no=100)
    assert rows.height == 2 and rows.get_column("url").to_list() == ["http://www.facebook.com/"] * 2
    assert bad.schema == {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}
    assert bad.to_dicts() == [{"line_no": 101 + k, "reason": r, "line": b} for k, (b, r) in enumerate(BAD)]


def test_invalid_utf8_from_the_reader_is_a_bad_line():
    lines = [CASES[0].values[0].encode(), b"2026.11.30 9:17:01 jos\xe9 10.0.0.5 http://x.com/  GET 1 0  1 200 -"]
    data = b"\n".join(lines) + b"\n"
    ends = np.cumsum([len(x) + 1 for x in lines]) - 1
    starts = ends - np.array([len(x) for x in lines])
    raw = tokens.Raw(data, starts.astype(np.int64), ends.astype(np.int64),
                     lines=lambda: pl.Series("line", [lines[0].decode(), "\ufffd"]))
    rows, bad = e2guardian.make_parser("", TZ).parse(None, 7, raw)
    assert rows.height == 1
    assert bad.to_dicts() == [{"line_no": 8, "reason": "invalid utf-8", "line": "\ufffd"}]


def test_empty_batch_and_parser_attributes():
    rows, bad = parse([])
    assert rows.height == 0 and bad.height == 0 and rows.schema == EVENT_SCHEMA
    parser = e2guardian.make_parser("x", "UTC")
    assert parser.name == e2guardian.NAME == "e2guardian" and parser.header_lines == 0
    with pytest.raises(InputError, match="unknown timezone"):
        e2guardian.make_parser("x", "Mars/Olympus")


SQUID = "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/1.2.3.4 -"


@pytest.mark.parametrize(("lines", "expected"), [
    ([p.values[0] for p in CASES[:5]], True),
    ([CASES[11].values[0], CASES[12].values[0]], True),
    (["", CASES[0].values[0]], True),
    ([SQUID] * 3, False),
    (["timestamp,username,client_ip,url,category,action", "2026-01-15T10:00:00Z,a,10.0.0.1,x.com,,allowed"], False),
    (["Date,User,IP,URL,Action"] + [CASES[0].values[0]] * 5, False),  # a header first: never claimed
    (["2021-02-14 00:02:33 [26] Request(default/porn/-) x.com:443 10.0.0.1/- - CONNECT REDIRECT"], False),
    (['date=2026-11-30 time=09:17:01 logid="0316013056" type="utm" subtype="webfilter" srcip=10.0.0.5'], False),
    ([CASES[0].values[0]] + ["garbage"] * 3, False),
    ([], False),
])
def test_looks_like(lines, expected):
    assert e2guardian.looks_like(lines) is expected


def test_many_lines_vectorised():
    lines = [f"2026.11.30 9:{i // 60 % 60:02d}:{i % 60:02d} u{i % 7} 10.0.{i % 5}.{i % 250} "
             f"http://h{i % 13}.example.org/p{i}  GET {i} 0  1 200 text/html" for i in range(20000)]
    rows, bad = parse(lines)
    assert bad.height == 0 and rows.height == 20000
    last = rows.row(19999, named=True)
    assert last["ts"] == datetime(2026, 11, 30, 9, 33, 19, tzinfo=UTC)
    assert (last["user"], last["host"], last["bytes"], last["client_ip"]) == ("u0", "h5.example.org", 19999,
                                                                               "10.0.4.249")
