"""Squid native access.log parsing: real-world quirks to exact schema values.

Expected values are written out by hand (epoch 1700000000 is 2023-11-14 22:13:20 UTC).
"""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from ingest import squid
from surfaudit.schema import EVENT_SCHEMA

T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)


def at(ms: int) -> datetime:
    return T0.replace(microsecond=ms * 1000)


def parse(lines: list[str], first_line_no: int = 1):
    parser = squid.make_parser(lines[0] if lines else "", "Europe/London")
    return parser.parse(pl.Series("line", lines, dtype=pl.String), first_line_no)


def row(**kw) -> dict:
    base = dict(
        ts=at(123), user="jsmith", username="jsmith", client_ip="10.0.0.5", method="CONNECT",
        host="www.facebook.com", url="www.facebook.com:443", action="allowed", status=200,
        bytes=5120, elapsed_ms=456, category=None, source="squid",
    )
    base.update(kw)
    return base


CASES = [
    pytest.param(
        "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/157.240.1.35 -",
        row(),
        id="tunnel-connect-padded-elapsed",
    ),
    pytest.param(
        "1700000000.123      7 10.0.0.5 TCP_MISS/200 900 GET http://www.bbc.co.uk/news Mary  Ann HIER_DIRECT/1.2.3.4 text/html",
        row(user="mary  ann", username="Mary  Ann", method="GET", host="www.bbc.co.uk",
            url="http://www.bbc.co.uk/news", bytes=900, elapsed_ms=7),
        id="user-with-spaces",
    ),
    pytest.param(
        r"1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 SCHOOL\\JSmith HIER_DIRECT/157.240.1.35 -",
        row(user="school\\jsmith", username="SCHOOL\\JSmith"),
        id="domain-backslash-user",
    ),
    pytest.param(
        "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 john%20smith HIER_DIRECT/157.240.1.35 -",
        row(user="john smith", username="john smith"),
        id="percent-escaped-user",
    ),
    pytest.param(
        "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 Ren%C3%A9e HIER_DIRECT/157.240.1.35 -",
        row(user="renée", username="Renée"),
        id="percent-escaped-utf8-user",
    ),
    pytest.param(
        "1700000000.123    456 2001:db8::5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/157.240.1.35 -",
        row(client_ip="2001:db8::5"),
        id="ipv6-client",
    ),
    pytest.param(
        "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT [2a03:2880:f10c::1]:443 jsmith HIER_DIRECT/2a03:2880:f10c::1 -",
        row(host="2a03:2880:f10c::1", url="[2a03:2880:f10c::1]:443"),
        id="ipv6-literal-connect",
    ),
    pytest.param(
        "1700000000.123      0 10.0.0.5 TCP_DENIED/403 3900 GET http://www.facebook.com/ jsmith HIER_NONE/- text/html",
        row(action="blocked", status=403, method="GET", url="http://www.facebook.com/", bytes=3900, elapsed_ms=0),
        id="denied-403-blocked",
    ),
    pytest.param(
        "1700000000.123      0 10.0.0.5 TCP_DENIED/407 4100 CONNECT www.facebook.com:443 - HIER_NONE/- text/html",
        row(action="auth", status=407, bytes=4100, elapsed_ms=0, user="10.0.0.5", username=None),
        id="denied-407-auth-and-dash-user",
    ),
    pytest.param(
        "1700000000.123      0 10.0.0.5 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -",
        row(action="error", status=0, bytes=0, elapsed_ms=0, method=None, host=None,
            url="error:transaction-end-before-headers", user="10.0.0.5", username=None),
        id="none-000-error-url-dash-method",
    ),
    pytest.param(
        "1700000000.123     12 10.0.0.5 TAG_NONE/503 0 CONNECT www.facebook.com:443 jsmith HIER_NONE/- -",
        row(action="error", status=503, bytes=0, elapsed_ms=12),
        id="tag-none-503-error",
    ),
    pytest.param(
        "1700000000.999  65432 10.0.0.5 TCP_MISS/304 312 GET http://WWW.FaceBook.COM.:8080/Path?x=1 jsmith HIER_DIRECT/1.2.3.4 -",
        row(ts=at(999), method="GET", host="www.facebook.com", url="http://WWW.FaceBook.COM.:8080/Path?x=1",
            status=304, bytes=312, elapsed_ms=65432),
        id="upper-case-host-trailing-dot-port",
    ),
    pytest.param(
        "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 JSmith HIER_DIRECT/157.240.1.35 -\r",
        row(username="JSmith"),
        id="crlf-and-mixed-case-user",
    ),
]


B = "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443"
UA = '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"'
EXTRA_CASES = [
    pytest.param(f'{B} jsmith HIER_DIRECT/157.240.1.35 - "https://www.google.com/" {UA}', row(),
                 id="referer-and-user-agent"),
    pytest.param(f"{B} - HIER_NONE/- text/html \"-\" \"-\"", row(user="10.0.0.5", username=None),
                 id="dash-user-dash-referer-ua"),
    pytest.param(f"{B} DOMAIN\\\\John Smith HIER_DIRECT/157.240.1.35 - \"-\" {UA}",
                 row(user="domain\\john smith", username="DOMAIN\\John Smith"), id="domain-user-with-space-and-ua"),
    pytest.param(f"{B} jsmith@SCHOOL.LAN DIRECT/157.240.1.35 application/octet-stream 12 vendor=tag",
                 row(user="jsmith@school.lan", username="jsmith@SCHOOL.LAN"), id="user-at-realm-vendor-tags"),
    pytest.param(f"{B} Mary Ann FIRST_PARENT_MISS/proxy.lan text/html x-category=Social \"a b\"",
                 row(user="mary ann", username="Mary Ann"), id="parent-hierarchy"),
    pytest.param(f"{B} Mary Ann TIMEOUT_DIRECT/1.1.1.1 - {UA}\r", row(user="mary ann", username="Mary Ann"),
                 id="timeout-direct-crlf"),
    pytest.param(f"{B} Mary  Jane Watson NONE/- - {UA}  ", row(user="mary  jane watson", username="Mary  Jane Watson"),
                 id="none-hierarchy-trailing-spaces"),
    pytest.param(f"{B} HIER_X/1 HIER_NONE/- -", row(user="hier_x/1", username="HIER_X/1"),
                 id="first-user-token-is-always-the-user"),
    pytest.param("1700000000.123      0 2001:db8::7 TCP_DENIED/403 3900 GET http://www.facebook.com/ jsmith HIER_NONE/- "
                 f'text/html "-" {UA}',
                 row(action="blocked", status=403, method="GET", url="http://www.facebook.com/", bytes=3900,
                     elapsed_ms=0, client_ip="2001:db8::7"), id="blocked-ipv6-with-ua"),
    pytest.param("1700000000.123      0 10.0.0.5 TCP_DENIED/407 4100 CONNECT www.facebook.com:443 - HIER_NONE/- "
                 'text/html "-" "curl/8.0"',
                 row(action="auth", status=407, bytes=4100, elapsed_ms=0, user="10.0.0.5", username=None),
                 id="auth-with-ua"),
]


@pytest.mark.parametrize(("line", "expected"), EXTRA_CASES)
def test_squid_line_with_extra_fields(line, expected):
    """Fields after the MIME type are ignored; the user ends at the hierarchy field."""
    rows, bad = parse([line])
    assert bad.height == 0, bad.to_dicts()
    assert rows.to_dicts() == [expected]


def test_extra_fields_batch_keeps_order_on_both_paths():
    lines = [p.values[0] for p in EXTRA_CASES + CASES]
    rows, bad = parse(lines)
    assert bad.height == 0
    assert rows.to_dicts() == [p.values[1] for p in EXTRA_CASES + CASES]


def test_user_never_takes_in_quoted_fields():
    lines = [
        f'{B} jsmith "quoted" HIER_NONE/- text/html',  # a user token opening a quote: rejected
        f'{B} jsmith weird text/html "-" "ua"',  # no hierarchy field, quoted extras: rejected
        f"{B} jsmith weird text/html",  # no hierarchy-shaped field, no extras: last two fields
    ]
    rows, bad = parse(lines, first_line_no=1)
    assert bad.get_column("line_no").to_list() == [1, 2]
    assert bad.get_column("reason").to_list() == ["malformed line", "malformed line"]
    assert rows.select("username", "url").rows() == [("jsmith", "www.facebook.com:443")]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_squid_line(line, expected):
    rows, bad = parse([line])
    assert bad.height == 0, bad.to_dicts()
    assert rows.schema == EVENT_SCHEMA
    assert rows.to_dicts() == [expected]


def test_all_quirks_in_one_batch_keep_order():
    lines = [p.values[0] for p in CASES]
    rows, bad = parse(lines)
    assert bad.height == 0
    assert rows.to_dicts() == [p.values[1] for p in CASES]


def test_malformed_lines_are_reported_and_good_lines_kept():
    good = CASES[0].values[0]
    lines = [
        good,
        "1700000000.123 456 10.0.0.5 TCP_TUNNEL/200",  # line 11
        "",  # blank: skipped silently
        "yesterday    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/1.2.3.4 -",
        "\x00\x01 garbage ### !!! ~~~ &&& *** ((( ))) ___ +++",
        "1700000000.123    456 10.0.0.5 TCP_TUNNEL/abc 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/1.2.3.4 -",
        CASES[1].values[0],
    ]
    rows, bad = parse(lines, first_line_no=10)
    assert rows.height == 2
    assert rows.get_column("user").to_list() == ["jsmith", "mary  ann"]
    assert bad.schema == {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}
    assert bad.to_dicts() == [
        {"line_no": 11, "reason": "too few fields", "line": lines[1]},
        {"line_no": 13, "reason": "bad timestamp", "line": lines[3]},
        {"line_no": 14, "reason": "bad timestamp", "line": lines[4]},
        {"line_no": 15, "reason": "bad status", "line": lines[5]},
    ]


def test_empty_and_blank_batches():
    rows, bad = parse(["", "   ", "\r"])
    assert rows.height == 0 and bad.height == 0
    assert rows.schema == EVENT_SCHEMA
    rows, bad = squid.make_parser("", "UTC").parse(pl.Series("line", [], dtype=pl.String), 1)
    assert rows.height == 0 and bad.height == 0


def test_parser_attributes():
    parser = squid.make_parser("whatever", "Europe/London")
    assert parser.name == squid.NAME == "squid"
    assert parser.header_lines == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a%20b", "a b"), ("DOM\\\\user", "DOM\\user"), ("Ren%C3%A9e", "Renée"), ("100%", "100%"), ("plain", "plain")],
)
def test_unescape_user(raw, expected):
    assert squid.unescape_user(raw) == expected


def test_vectorised_batch_of_many_lines():
    lines = [
        f"{1700000000 + i}.{i % 1000:03d} {i:6d} 10.0.{i % 7}.{i % 250} TCP_MISS/200 {i} GET http://h{i % 13}.example.org/p{i} u{i % 5} HIER_DIRECT/1.2.3.4 -"
        for i in range(20000)
    ]
    rows, bad = parse(lines)
    assert bad.height == 0 and rows.height == 20000
    last = rows.row(19999, named=True)
    assert last["ts"] == datetime(2023, 11, 15, 3, 46, 39, 999000, tzinfo=timezone.utc)
    assert last["host"] == "h5.example.org" and last["user"] == "u4" and last["bytes"] == 19999


@pytest.mark.parametrize(("tag", "action"), [
    ("TCP_MISS/200", "allowed"), ("TCP_HIT/200", "allowed"), ("TCP_MEM_HIT/200", "allowed"),
    ("TCP_REFRESH_UNMODIFIED/304", "allowed"), ("TCP_REFRESH_MODIFIED/200", "allowed"),
    ("TCP_CLIENT_REFRESH_MISS/200", "allowed"), ("TCP_TUNNEL/200", "allowed"), ("TCP_TUNNEL_ABORTED/200", "allowed"),
    ("TCP_MISS_ABORTED/000", "allowed"), ("TCP_REDIRECT/302", "allowed"), ("TCP_SWAPFAIL_MISS/200", "allowed"),
    ("TCP_DENIED/403", "blocked"), ("TCP_DENIED_REPLY/403", "blocked"), ("UDP_DENIED/403", "blocked"),
    ("TCP_DENIED/407", "auth"), ("TCP_MISS/407", "auth"), ("TCP_DENIED_ABORTED/407", "auth"),
    ("NONE/503", "error"), ("NONE_NONE/000", "error"), ("TAG_NONE/503", "error"), ("TAG_NONE_ABORTED/000", "error"),
    ("NONE_NONE/400", "error"),
])
def test_every_tag_gives_its_action_with_and_without_extra_fields(tag, action):
    status = int(tag.split("/")[1])
    plain = f"1700000000.123    456 10.0.0.5 {tag} 5120 CONNECT www.facebook.com:443 jsmith HIER_NONE/- -"
    odd = plain.replace(" jsmith ", "  jsmith ")  # a doubled space: the regex route
    rows, bad = parse([plain, plain + f' "-" {UA}', odd, odd + f' "-" {UA} x=1'])
    assert bad.height == 0
    assert rows.to_dicts() == [row(action=action, status=status)] * 4


# squid's FAQ on access.log: "Method: the HTTP request method (GET, POST, etc), or
# ICP_QUERY for ICP requests"; "Code: for ICP requests this is always 000"; the UDP_
# result codes are ICP's. With `log_icp_queries on` (the default) a parent cache logs
# every query of its neighbours.
ICP_LINES = [
    "1066036250.604      0 192.0.2.7 UDP_HIT/000 83 ICP_QUERY http://www.example.com/index.html - NONE/- -",
    "1066036251.118      0 192.0.2.7 UDP_MISS/000 80 ICP_QUERY http://www.facebook.com/ - NONE/- -",
    "1066036251.220      1 192.0.2.8 UDP_DENIED/000 80 ICP_QUERY http://www.facebook.com/x - NONE/- -",
]


def test_icp_queries_of_neighbour_caches_are_not_requests():
    web = "1066036252.000     12 10.0.0.5 TCP_MISS/200 1234 GET http://www.example.com/ jsmith HIER_DIRECT/1.2.3.4 text/html"
    rows, bad = squid.Parser().parse(pl.Series("line", [ICP_LINES[0], web, *ICP_LINES[1:]]), 10)
    assert rows.get_column("url").to_list() == ["http://www.example.com/"]
    assert bad.get_column("line_no").to_list() == [10, 12, 13]
    assert set(bad.get_column("reason")) == {squid.NEIGHBOUR_QUERY}
    assert bad.get_column("line").to_list() == [ICP_LINES[0], *ICP_LINES[1:]]


def test_icp_queries_are_counted_apart_by_ingest(tmp_path):
    from ingest.pipeline import NOT_A_REQUEST, ingest_paths
    from surfaudit.config import Config, Retention
    from surfaudit.store import Store

    assert squid.NEIGHBOUR_QUERY.startswith(NOT_A_REQUEST)
    log = tmp_path / "access.log"
    log.write_text("\n".join([*ICP_LINES, "1066036252.000     12 10.0.0.5 TCP_MISS/200 1234 GET http://x.org/ - "
                              "HIER_DIRECT/1.2.3.4 text/html"]) + "\n")
    store = Store(tmp_path / "store")
    (result,) = ingest_paths(store, Config(store_path=store.root, retention=Retention(600)), [log])
    assert (result.lines, result.rows, result.rejected, result.not_requests) == (1, 1, 0, 3)


@pytest.mark.parametrize("tail", ["Mary Ann HIER_DIRECT/1.2.3.4", "Mary Ann HIER_DIR", "Mary Ann HIER",
                                  "Mary Ann HIER_DIRECT/1.2", "jsmith HIER_DIRECT/1.2.3.4", "jsmith weird HIER_X"])
def test_a_line_cut_before_its_mime_type_is_rejected_not_given_to_another_user(tail, both):
    """A line cut short (syslog's size limit, squid killed mid-write) lost its MIME type:
    the last-two-fields rule read `Mary Ann HIER_DIRECT/1.2.3.4` as user "mary" (another
    member of staff) with the hierarchy "Ann". A MIME type is `-` or type/subtype and
    never hierarchy-shaped, and without a hierarchy-shaped field the user is one token."""
    whole = f"{B} Mary Ann HIER_DIRECT/1.2.3.4 text/html"
    rows, bad = parse([f"{B} {tail}", whole], first_line_no=1)
    assert bad.get_column("line_no").to_list() == [1]
    assert rows.get_column("user").to_list() == ["mary ann"]


@pytest.mark.parametrize("tail", ["jsmith - unknown", "jsmith - text/html", "jsmith weird application/x-foo;q=1"])
def test_a_line_without_a_hierarchy_field_keeps_any_mime_type_the_server_sent(tail, both):
    rows, bad = parse([f"{B} {tail}"])
    assert (rows.height, bad.height) == (1, 0) and rows.get_column("user").to_list() == ["jsmith"]
