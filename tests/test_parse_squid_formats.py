"""Squid's built-in `common`, `combined` and `referrer` formats and custom logformats
(`[formats.squid] logformat`), parsed to exact schema values.

Lines are written from squid's documentation of the formats (cf.data.pre) and from
real deployments; expected values are computed by hand (epoch 1700000000 is
2023-11-14 22:13:20 UTC; 14/Nov/2023:22:13:20 +0000 is the same instant).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ingest import envelope, squid, squid_logformat
from surfaudit.errors import ConfigError
from surfaudit.schema import EVENT_SCHEMA

T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
UA = '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"'


@dataclass
class Formats:
    squid_logformat: str = "squid"
    csv: tuple = ()


@dataclass
class Cfg:
    formats: Formats = field(default_factory=Formats)


def cfg(logformat: str) -> Cfg:
    return Cfg(Formats(logformat))


def parse(logformat: str, lines: list[str], tz: str = "Europe/London", first_line_no: int = 1):
    parser = squid.make_parser("", tz, cfg(logformat))
    return parser.parse(pl.Series("line", lines, dtype=pl.String), first_line_no)


def row(**kw) -> dict:
    base = dict(ts=T0, user="jsmith", username="jsmith", client_ip="10.0.0.5", method="CONNECT",
                host="www.facebook.com", url="www.facebook.com:443", action="allowed", status=200, bytes=5120,
                elapsed_ms=None, category=None, source="squid")
    base.update(kw)
    return base


TL = "[14/Nov/2023:22:13:20 +0000]"
COMMON = [
    pytest.param(f'10.0.0.5 - jsmith {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 200 5120 TCP_TUNNEL:HIER_DIRECT',
                 row(), id="tunnel"),
    pytest.param(f'10.0.0.5 - - {TL} "GET http://www.facebook.com/ HTTP/1.1" 403 3900 TCP_DENIED:HIER_NONE',
                 row(user="10.0.0.5", username=None, method="GET", url="http://www.facebook.com/", action="blocked",
                     status=403, bytes=3900), id="denied-403-no-user"),
    pytest.param(f'10.0.0.5 - - {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 407 4100 TCP_DENIED:HIER_NONE',
                 row(user="10.0.0.5", username=None, action="auth", status=407, bytes=4100), id="auth-407"),
    pytest.param(f'10.0.0.5 - - {TL} "- error:transaction-end-before-headers HTTP/0.0" 0 0 NONE_NONE:HIER_NONE',
                 row(user="10.0.0.5", username=None, method=None, host=None, url="error:transaction-end-before-headers",
                     action="error", status=0, bytes=0), id="none-error"),
    pytest.param(f'10.0.0.5 - jsmith {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 503 0 TAG_NONE:HIER_NONE',
                 row(action="error", status=503, bytes=0), id="tag-none-503"),
    pytest.param(f'10.0.0.5 - SCHOOL\\\\JSmith {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 200 5120 TCP_TUNNEL:HIER_DIRECT',
                 row(user="school\\jsmith", username="SCHOOL\\JSmith"), id="domain-user"),
    pytest.param(f'10.0.0.5 - John Smith {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 200 5120 TCP_TUNNEL:HIER_DIRECT',
                 row(user="john smith", username="John Smith"), id="user-with-space"),
    pytest.param(f'10.0.0.5 - john%20smith@SCHOOL.LAN {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 200 5120 '
                 "TCP_TUNNEL:HIER_DIRECT", row(user="john smith@school.lan", username="john smith@SCHOOL.LAN"),
                 id="escaped-user-at-realm"),
    pytest.param('2001:db8::5 - jsmith [14/Nov/2023:23:13:20 +0100] "GET http://WWW.FaceBook.com:8080/a?b HTTP/1.1" '
                 "304 312 TCP_REFRESH_UNMODIFIED:HIER_DIRECT",
                 row(client_ip="2001:db8::5", method="GET", url="http://WWW.FaceBook.com:8080/a?b", status=304,
                     bytes=312), id="ipv6-offset-port-upper-host"),
    pytest.param(f'10.0.0.5 - jsmith {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 200 5120 TCP_TUNNEL:HIER_DIRECT\r',
                 row(), id="crlf"),
]
COMBINED = [
    pytest.param(f'10.0.0.5 - jsmith {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 200 5120 "-" {UA} '
                 "TCP_TUNNEL:HIER_DIRECT", row(), id="tunnel-ua"),
    pytest.param(f'10.0.0.5 - Mary Ann {TL} "GET http://www.facebook.com/ HTTP/1.1" 403 3900 '
                 f'"https://www.google.com/search?q=a b" {UA} TCP_DENIED:HIER_NONE',
                 row(user="mary ann", username="Mary Ann", method="GET", url="http://www.facebook.com/",
                     action="blocked", status=403, bytes=3900), id="denied-referer-with-space"),
    pytest.param(f'10.0.0.5 - - {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 407 4100 "-" "-" TCP_DENIED:HIER_NONE',
                 row(user="10.0.0.5", username=None, action="auth", status=407, bytes=4100), id="auth-dash-ua"),
    pytest.param(f'10.0.0.5 - jsmith {TL} "CONNECT www.facebook.com:443 HTTP/1.1" 200 5120 "-" '
                 '"curl/8.0 \\"quoted\\"" TCP_TUNNEL:HIER_DIRECT', row(), id="escaped-quote-in-ua"),
]
REFERRER = [
    pytest.param("1700000000.123 10.0.0.5 https://www.google.com/ http://www.facebook.com/",
                 row(ts=T0.replace(microsecond=123000), user="10.0.0.5", username=None, method=None,
                     url="http://www.facebook.com/", status=0, bytes=0), id="referrer"),
    pytest.param("1700000000.123 10.0.0.5 - www.facebook.com:443",
                 row(ts=T0.replace(microsecond=123000), user="10.0.0.5", username=None, method=None, status=0,
                     bytes=0), id="referrer-none"),
]


@pytest.mark.parametrize(("name", "cases"), [("common", COMMON), ("combined", COMBINED), ("referrer", REFERRER)])
def test_builtin_formats(name, cases):
    for case in cases:
        rows, bad = parse(name, [case.values[0]])
        assert bad.height == 0, (case.id, bad.to_dicts())
        assert rows.schema == EVENT_SCHEMA
        assert rows.to_dicts() == [case.values[1]], case.id
    rows, bad = parse(name, [c.values[0] for c in cases] + ["", "not a line"], first_line_no=5)
    assert rows.to_dicts() == [c.values[1] for c in cases]
    assert bad.to_dicts() == [{"line_no": 5 + len(cases) + 1, "reason": "does not match the logformat",
                               "line": "not a line"}]


CUSTOM = ('%ts.%03tu %>a:%>p %[un %Ss/%03>Hs %<st %tr "%rm %ru HTTP/%rv" %Sh/%<a %mt "%{Referer}>h" '
          '"%{User-Agent}>h"')


def test_custom_logformat_other_order():
    lines = [
        f'1700000000.123 10.0.0.5:51234 jsmith TCP_TUNNEL/200 5120 456 "CONNECT www.facebook.com:443 HTTP/1.1" '
        f'HIER_DIRECT/157.240.1.35 - "-" {UA}',
        '1700000000.124 2001:db8::1:50000 - TCP_DENIED/403 3900 0 "GET http://www.facebook.com/x HTTP/1.1" '
        'HIER_NONE/- text/html "https://www.google.com/" "-"',
        '1700000000.125 10.0.0.5:51234 Mary Ann TCP_MISS/200 10 7 "GET http://a.b/ HTTP/1.1" '
        'DIRECT/1.2.3.4 text/html "-" "-"',
    ]
    for logformat in (CUSTOM, f"logformat school {CUSTOM}", f"  logformat   school   {CUSTOM}  "):
        rows, bad = parse(logformat, lines)
        assert bad.height == 0
        assert rows.to_dicts() == [
            row(ts=T0.replace(microsecond=123000), elapsed_ms=456),
            row(ts=T0.replace(microsecond=124000), user="2001:db8::1", username=None, client_ip="2001:db8::1",
                method="GET", url="http://www.facebook.com/x", action="blocked", status=403, bytes=3900, elapsed_ms=0),
            row(ts=T0.replace(microsecond=125000), user="mary ann", username="Mary Ann", method="GET", host="a.b",
                url="http://a.b/", status=200, bytes=10, elapsed_ms=7),
        ]


def test_native_body_with_appended_fields_uses_the_native_parser():
    text = '%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt "%{Referer}>h" "%{User-Agent}>h"'
    assert isinstance(squid.make_parser("", "UTC", cfg(text)), squid.Parser)
    assert isinstance(squid.make_parser("", "UTC", cfg("squid")), squid.Parser)
    assert isinstance(squid.make_parser("", "UTC", None), squid.Parser)
    rows, bad = parse(text, ["1700000000.000    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith "
                             f'HIER_DIRECT/1.2.3.4 - "-" {UA}'])
    assert bad.height == 0 and rows.to_dicts() == [row(elapsed_ms=456)]


@pytest.mark.parametrize(("logformat", "line", "expected"), [
    pytest.param("%{%Y-%m-%d %H:%M:%S}tl %>a %un %ru %>Hs",
                 "2023-07-14 10:00:00 10.0.0.5 jsmith www.facebook.com:443 200",
                 row(ts=datetime(2023, 7, 14, 9, 0, tzinfo=UTC), bytes=0, method=None),
                 id="tl-strftime-local-summer-time"),
    pytest.param("%{%d/%b/%Y:%H:%M:%S}tl %>a %un %ru %>Hs",
                 "14/Nov/2023:22:13:20 10.0.0.5 jsmith www.facebook.com:443 200",
                 row(bytes=0, method=None), id="tl-local-winter-gmt"),
    pytest.param("%tg %>a %un %ru", "14/Nov/2023:22:13:20 +0000 10.0.0.5 jsmith www.facebook.com:443",
                 row(bytes=0, method=None, status=0), id="tg-default"),
    pytest.param("%tS %>A %ul %ru %<st", "1700000000.5 client.lan JSmith www.facebook.com:443 5120",
                 row(ts=T0.replace(microsecond=500000), client_ip="client.lan", username="JSmith", method=None,
                     status=0), id="tS-fqdn-ul"),
    pytest.param('%ts %>a %"un %#ul %ru', '1700000000 10.0.0.5 "Ann \\"Q\\" B" a%20b www.facebook.com:443',
                 row(user='ann "q" b', username='Ann "Q" B', method=None, status=0, bytes=0), id="quoted-user"),
    pytest.param("%ts %>a %ue %us %ui %ru", "1700000000 10.0.0.5 - CN=x - www.facebook.com:443",
                 row(user="cn=x", username="CN=x", method=None, status=0, bytes=0), id="first-user-not-dash"),
    pytest.param("%ts|%>a|%-10un|%ru|100%%", "1700000000|10.0.0.5|jsmith    |www.facebook.com:443|100%",
                 row(method=None, status=0, bytes=0), id="left-aligned-width-and-percent"),
    pytest.param('%ts %6tr %>a "%>h{X-Forwarded-For}" %ru %{Host}<h', '1700000000     12 10.0.0.5 "1.2.3.4, 5.6.7.8" '
                 "www.facebook.com:443 a b", row(user="10.0.0.5", username=None, method=None, status=0, bytes=0,
                                                 elapsed_ms=12), id="header-arg-after-code"),
    pytest.param('%ts %>a %ru %ssl::>sni %note %err_code/%err_detail %>eui %master_xaction',
                 "1700000000 10.0.0.5 www.facebook.com:443 www.facebook.com k:v - ERR_NONE/- 00:11:22:33:44:55 7",
                 row(user="10.0.0.5", username=None, method=None, status=0, bytes=0), id="ignored-codes"),
])
def test_custom_codes(logformat, line, expected):
    rows, bad = parse(logformat, [line])
    assert bad.height == 0, bad.to_dicts()
    assert rows.to_dicts() == [expected]


def test_bad_times_and_lines_are_reported():
    lines = ["2023-03-26 01:30:00 10.0.0.5 jsmith x.com:443 200",  # the skipped spring hour in London
             "2023-13-01 10:00:00 10.0.0.5 jsmith x.com:443 200",  # no such month
             "2023-10-29 01:30:00 10.0.0.5 jsmith x.com:443 200",  # the repeated hour: the earlier (BST)
             "garbage"]
    rows, bad = parse("%{%Y-%m-%d %H:%M:%S}tl %>a %un %ru %>Hs", lines, first_line_no=10)
    assert rows.get_column("ts").to_list() == [datetime(2023, 10, 29, 0, 30, tzinfo=UTC)]
    assert bad.to_dicts() == [
        {"line_no": 10, "reason": "bad timestamp", "line": lines[0]},
        {"line_no": 11, "reason": "bad timestamp", "line": lines[1]},
        {"line_no": 13, "reason": "does not match the logformat", "line": "garbage"},
    ]


@pytest.mark.parametrize(("logformat", "message"), [
    ("%ts %>a %Zz %ru", "'%Zz'"),
    ("%ts %>a %ru %>Xy", "'%>Xy'"),
    ("%ts %>a %ru %", "lone '%'"),
    ("%ts %>a %rm", "no URL"),
    ("%>a %ru", "no time"),
    ("%ts %un %ru", "no client"),
    ("useragent", "useragent"),
    ('logformat useragent %>a [%tl] "%{User-Agent}>h"', "useragent"),
    ("%ts.%06.6tu %>a %ru", "%tu with a precision (.6"),
])
def test_config_errors_name_the_code_and_key(logformat, message):
    with pytest.raises(ConfigError) as err:
        squid.make_parser("", "UTC", cfg(logformat))
    assert "[formats.squid].logformat" in str(err.value) and message in str(err.value)
    with pytest.raises(ConfigError):
        squid_logformat.validate(logformat)


def test_looks_like_and_hint_use_the_configured_format():
    common = [c.values[0] for c in COMMON[:4]]
    combined = [c.values[0] for c in COMBINED]
    native = ["1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT x.com:443 jsmith HIER_DIRECT/1.2.3.4 -"] * 3
    assert squid.looks_like(common, cfg=cfg("common")) and not squid.looks_like(common)
    assert squid.looks_like(native) and not squid.looks_like(native, cfg=cfg("common"))
    assert squid.hint(native) is None
    assert squid.hint(common) == 'looks like squid\'s common format: set [formats.squid] logformat = "common"'
    assert squid.hint(combined) == 'looks like squid\'s combined format: set [formats.squid] logformat = "combined"'
    assert squid.hint(native, cfg=cfg("common")) == \
        'looks like squid\'s native format: set [formats.squid] logformat = "squid"'
    custom = ["1700000000.123 10.0.0.5:1 jsmith TCP_TUNNEL/200 5 6 x.com:443"] * 3
    assert squid.hint(custom).startswith("looks like squid with a custom logformat: set [formats.squid] logformat")
    assert squid.hint(["Nov 14 22:13:20 proxy squid[1]: " + custom[0]] * 3).startswith("looks like squid with a custom")
    assert squid.hint(["hello world"] * 3) is None


def test_enveloped_combined():
    line = f"<134>1 2023-11-14T22:13:20Z fw.lan (squid-1) 81234 - - {COMBINED[0].values[0]}"
    parser = envelope.Enveloped(squid.make_parser("", "UTC", cfg("combined")))
    rows, bad = parser.parse(pl.Series([line, line]), 1)
    assert bad.height == 0 and rows.to_dicts() == [row(), row()]


# -- the compiled matcher gives what the regex gives -----------------------------------------
def _pick(rng, usual, *odd):
    return usual if rng.random() < 0.75 else rng.choice(odd)


def combined_line(rng: random.Random) -> str:
    ip = _pick(rng, "10.0.0.5", "2001:db8::1", "-", "10.0.0.5é")
    user = _pick(rng, "jsmith", "-", "Mary Ann", "SCHOOL\\\\x", "a%20b", '"q"', "x ", "", " y", "Ann [x]")
    tl = _pick(rng, TL, "[14/Nov/2023:22:13:20 +0100]", "[14/Nov/2023:22:13:20]", "[1/Nov/2023:22:13:20 +0000]",
               "[14/Foo/2023:22:13:20 +0000]", "[14/Nov/2023:25:13:20 +0000]", "[14/Nov/2023:22:13:20  +0000]",
               "[29/Feb/2024:23:59:59 -0500]", "[29/Feb/2023:10:00:00 +0000]", "[31/Apr/2026:10:00:00 +0000]",
               "[01/Jan/1970:00:00:00 +0000]", "[31/Dec/1969:23:59:59 +0000]", "[30/Nov/2026:09:17:01 +1345]",
               "[30/Nov/2026:09:17:60 +0000]", "[30/Nov/2026:09:17:01 +2400]", "[00/Nov/2026:09:17:01 +0000]")
    req = _pick(rng, '"GET http://a.b/ HTTP/1.1"', '"CONNECT x.com:443 HTTP/1.0"', '"- error:x HTTP/0.0"',
                '"GET  http://a.b/ HTTP/1.1"', '"GET http://a.b/"', '"GET http://a b/ HTTP/1.1"',
                '"GET http://U:p@WWW.X.com./p HTTP/1.1"', '"CONNECT [2001:db8::1]:443 HTTP/1.1"',
                '"GET HTTPS://A.B:8080?q HTTP/1.1"', '"GET ftp://f.org/ HTTP/1.1"', '"GET x.com:4x3 HTTP/1.1"',
                '"GET http://Ünï.com/ HTTP/1.1"', '"GET error: HTTP/1.1"', '"CONNECT WWW.FaceBook.COM.:443 HTTP/1.1"')
    status = _pick(rng, "200", "403", "407", "-", "12345", "2x")
    size = _pick(rng, "5120", "0", "-", "123456789012345678901")
    ref = _pick(rng, '"-"', '"https://g.co/?q=a b"', '"x\\"y"', '"unterminated', '""')
    ua = _pick(rng, UA, '"-"', '"a\\\\"', '"é"')
    tag = _pick(rng, "TCP_MISS:HIER_DIRECT", "TCP_DENIED:HIER_NONE", "NONE_NONE:HIER_NONE", "TAG_NONE", "A:B:C")
    line = " ".join([ip, "-", user, tl, req, status, size, ref, ua, tag])
    r = rng.random()
    if r < 0.05:
        line += _pick(rng, " ", "  ", "\r", " x")
    elif r < 0.08:
        line = "  " + line
    elif r < 0.1:
        line = line.replace(" ", "  ", 1 + rng.randrange(4))
    return line


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("logformat", ["combined", CUSTOM + " %Ss", CUSTOM.replace(" %[un ", " [%un] ") + " %un"])
def test_compiled_matcher_equals_regex(seed, logformat, monkeypatch):
    rng = random.Random(seed)
    if logformat == "combined":
        lines = [combined_line(rng) for _ in range(3000)]
    elif "[%un]" in logformat:  # a user in brackets (may start with a space) and a last user field
        lines = [f"1700000000.123 10.0.0.5:1 [{_pick(rng, 'u', ' u', 'a b', '', 'u ')}] TCP_MISS/200 5 6 "
                 f'"GET http://a.b/ HTTP/1.1" HIER_DIRECT/1.2.3.4 - "-" "-" {_pick(rng, "v", " v", "v w ", "", "  ")}'
                 for _ in range(3000)]
    else:
        lines = [f"{_pick(rng, '1700000000.123', '17000000001234.1', '1700000000.12345')} "
                 f"{_pick(rng, '10.0.0.5:1', '::1:2', '10.0.0.5', '1.2.3.4:x')} {_pick(rng, 'u', 'A B', '-', 'x  y', ' z')} "
                 f"{_pick(rng, 'TCP_MISS/200', 'TCP/MISS/200', 'X/99999')} {_pick(rng, '5', '-', '')} "
                 f"{_pick(rng, '12', '-1', '--')} "
                 f'{_pick(rng, chr(34) + "GET http://a.b/ HTTP/1.1" + chr(34), chr(34) + "GET" + chr(34))} '
                 f"HIER_DIRECT/1.2.3.4 {_pick(rng, 'text/html', '-', 'a b')} "
                 f'"-" {_pick(rng, UA, chr(34) + "-" + chr(34))} {_pick(rng, "TCP_MISS", "a b", "")}'
                 for _ in range(3000)]
    series = pl.Series("line", lines, dtype=pl.String)
    parser = squid.make_parser("", "Europe/London", cfg(logformat))
    rows, bad = parser.parse(series, 3)
    assert rows.height > 300 and bad.height > 300
    from ingest import tokens
    from ingest.fast import squid_logformat_scan
    ok = squid_logformat_scan.scan(tokens.Raw.of(series), *parser.program, len(parser.names),
                                  parser.names.index("url"))[0]
    assert 0.1 < ok.mean() < 0.9  # both routes are exercised
    monkeypatch.setattr(parser, "program", None)
    want_rows, want_bad = parser.parse(series, 3)
    assert_frame_equal(rows, want_rows)
    assert_frame_equal(bad, want_bad)


def test_compiled_matcher_takes_the_plain_lines():
    from ingest import tokens
    from ingest.fast import squid_logformat_scan

    parser = squid.make_parser("", "UTC", cfg("combined"))
    lines = [c.values[0] for c in COMBINED] + ["x"]
    ok = squid_logformat_scan.scan(tokens.Raw.of(pl.Series(lines)), *parser.program, len(parser.names))[0]
    assert ok.tolist() == [1, 1, 1, 1, 0]
    assert np.asarray(ok).dtype == np.uint8


def test_icp_queries_are_not_requests_in_a_custom_logformat_too():
    """squid's FAQ: ICP requests are logged with the method ICP_QUERY and status 000."""
    lines = ['1066036250.604 192.0.2.7:3130 - UDP_HIT/000 83 0 "ICP_QUERY http://www.example.com/ HTTP/0.0" '
             'NONE/- - "-" "-"',
             '1066036252.000 10.0.0.5:51234 jsmith TCP_MISS/200 1234 12 "GET http://www.example.com/ HTTP/1.1" '
             'HIER_DIRECT/1.2.3.4 text/html "-" "Mozilla/5.0"']
    rows, bad = parse(CUSTOM, lines, first_line_no=5)
    assert rows.get_column("user").to_list() == ["jsmith"]
    assert bad.select("line_no", "reason").rows() == [(5, squid.NEIGHBOUR_QUERY)]


@pytest.mark.parametrize("logformat,lines,expected_ms", [
    ("%{%Y-%m-%d %H:%M:%S}tl.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %un %Sh/%<A %mt",
     ["2026-06-16 10:00:00.123    217 10.20.1.12 TCP_MISS/200 5 GET http://www.facebook.com/ bob HIER_DIRECT/x text/html",
      "2026-06-16 10:00:00.999    217 10.20.1.12 TCP_MISS/200 5 GET http://www.facebook.com/ bob HIER_DIRECT/x text/html"],
     [123, 999]),
    ("%{%d/%b/%Y:%H:%M:%S %z}tl.%03tu %>a %un %ru %Ss/%>Hs",
     ["16/Jun/2026:10:00:00 +0100.050 10.20.1.12 bob http://www.facebook.com/ TCP_MISS/200"], [50]),
    ("%ts.%06tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %un %Sh/%<A %mt",  # milliseconds zero-padded to six digits
     ["1781600400.000123    217 10.20.1.12 TCP_MISS/200 5 GET http://www.facebook.com/ bob HIER_DIRECT/x text/html"],
     [123]),
])
def test_the_milliseconds_of_tu_are_kept_beside_a_clock_time_and_a_wide_tu(logformat, lines, expected_ms, both):
    """`%tl.%03tu` matched the milliseconds and dropped them (two requests at .123 and
    .999 had one time: the estimator's gaps are to the millisecond); `%06tu` rejected
    every line."""
    rows, bad = parse(logformat, lines)
    assert bad.height == 0, bad.to_dicts()
    assert [t.microsecond // 1000 for t in rows.get_column("ts").to_list()] == expected_ms
    assert {t.replace(microsecond=0) for t in rows.get_column("ts").to_list()} == {datetime(2026, 6, 16, 9, 0, tzinfo=UTC)}
