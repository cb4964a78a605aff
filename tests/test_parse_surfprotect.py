"""SurfProtect CSV parsing: header aliases, decisions, CSV quoting, time zones.

Europe/London in 2026: clocks go forward at 01:00 UTC on 29 March (01:00-02:00
local does not exist) and back at 01:00 UTC on 25 October (01:00-02:00 local
happens twice). Expected UTC instants are worked out by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from ingest import surfprotect
from surfaudit.errors import InputError
from surfaudit.schema import EVENT_SCHEMA

H1 = "timestamp,username,client_ip,url,category,action"
H2 = "Time,User,Source IP,URL,Category,Decision"
TZ = "Europe/London"


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def parse(header: str, lines: list[str], first_line_no: int = 2, tz: str = TZ):
    parser = surfprotect.make_parser(header, tz)
    return parser.parse(pl.Series("line", lines, dtype=pl.String), first_line_no)


def test_header_spelling_one():
    rows, bad = parse(H1, ["2026-01-15T10:00:00Z,JSmith,10.0.0.5,https://www.facebook.com/home,Social Networking,Allowed"])
    assert bad.height == 0
    assert rows.schema == EVENT_SCHEMA
    assert rows.to_dicts() == [
        dict(ts=utc(2026, 1, 15, 10), user="jsmith", username="JSmith", client_ip="10.0.0.5", method=None,
             host="www.facebook.com", url="https://www.facebook.com/home", action="allowed", status=0, bytes=0,
             elapsed_ms=None, category="Social Networking", source="surfprotect")
    ]


def test_header_spelling_two_permitted_rejected_and_scheme_less_urls():
    rows, bad = parse(
        H2,
        [
            "2026-01-15 10:00:00,  Mary.Jones ,10.0.0.7,www.facebook.com/groups/x,Social,Permitted",
            "2026-01-15 10:00:01,-,10.0.0.8,FaceBook.com,Social,REJECTED",
            "2026-01-15 10:00:02,,10.0.0.9,instagram.com:443,,deny",
        ],
    )
    assert bad.height == 0
    got = rows.select("ts", "user", "username", "client_ip", "host", "action", "category").to_dicts()
    assert got == [
        dict(ts=utc(2026, 1, 15, 10, 0, 0), user="mary.jones", username="Mary.Jones", client_ip="10.0.0.7",
             host="www.facebook.com", action="allowed", category="Social"),
        dict(ts=utc(2026, 1, 15, 10, 0, 1), user="10.0.0.8", username=None, client_ip="10.0.0.8",
             host="facebook.com", action="blocked", category="Social"),
        dict(ts=utc(2026, 1, 15, 10, 0, 2), user="10.0.0.9", username=None, client_ip="10.0.0.9",
             host="instagram.com", action="blocked", category=None),
    ]


@pytest.mark.parametrize(
    ("value", "action"),
    [("allowed", "allowed"), ("Permitted", "allowed"), ("PERMIT", "allowed"), ("pass", "allowed"),
     ("blocked", "blocked"), ("Rejected", "blocked"), ("reject", "blocked"), ("Denied", "blocked"), ("deny", "blocked")],
)
def test_decision_values(value, action):
    rows, bad = parse(H1, [f"2026-01-15T10:00:00Z,a,10.0.0.1,x.com,c,{value}"])
    assert bad.height == 0 and rows.get_column("action").to_list() == [action]


def test_unknown_decision_and_other_bad_lines_rejected_with_line_numbers():
    lines = [
        "2026-01-15T10:00:00Z,a,10.0.0.1,x.com,c,allowed",
        "2026-01-15T10:00:00Z,a,10.0.0.1,x.com,c,quarantined",
        "",
        "2026-01-15T10:00:00Z,a,10.0.0.1,x.com,c",
        "2026-01-15T10:00:00Z,a,10.0.0.1,x.com,c,allowed,extra",
        "15/13/2026 10:00,a,10.0.0.1,x.com,c,allowed",
        "2026-02-30T10:00:00Z,a,10.0.0.1,x.com,c,allowed",
        "2026-01-15T10:00:00Z,a,10.0.0.1,,c,allowed",
        "2026-01-15T10:00:01Z,b,10.0.0.2,y.com,c,blocked",
    ]
    rows, bad = parse(H1, lines, first_line_no=2)
    assert rows.get_column("user").to_list() == ["a", "b"]
    assert bad.schema == {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}
    assert bad.select("line_no", "reason").to_dicts() == [
        {"line_no": 3, "reason": 'unknown decision "quarantined"'},
        {"line_no": 5, "reason": "wrong field count (5 of 6)"},
        {"line_no": 6, "reason": "wrong field count (7 of 6)"},
        {"line_no": 7, "reason": "bad timestamp"},
        {"line_no": 8, "reason": "bad timestamp"},
        {"line_no": 9, "reason": "bad url"},
    ]
    assert bad.get_column("line").to_list()[0] == lines[1]


def test_quoted_fields_with_commas_and_doubled_quotes():
    rows, bad = parse(
        H2,
        [
            '2026-01-15T10:00:00Z,"Smith, John",10.0.0.5,"https://www.facebook.com/search?q=a,b","Social, ""Networking""",Rejected\r',
            '"2026-01-15T10:00:01Z","jdoe","10.0.0.6","youtube.com","",  "Allowed"  ',
        ],
    )
    assert bad.height == 0, bad.to_dicts()
    assert rows.select("user", "username", "url", "host", "category", "action").to_dicts() == [
        dict(user="smith, john", username="Smith, John", url="https://www.facebook.com/search?q=a,b",
             host="www.facebook.com", category='Social, "Networking"', action="blocked"),
        dict(user="jdoe", username="jdoe", url="youtube.com", host="youtube.com", category=None, action="allowed"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-29T01:30:00Z", utc(2026, 3, 29, 1, 30)),
        ("2026-03-29T02:30:00+01:00", utc(2026, 3, 29, 1, 30)),
        ("2026-10-25T01:30:00+01:00", utc(2026, 10, 25, 0, 30)),
        ("2026-10-25T01:30:00+00:00", utc(2026, 10, 25, 1, 30)),
        ("2026-10-25 01:30:00.5-05:00", utc(2026, 10, 25, 6, 30, 0, 500000)),
        ("2026-06-01T12:00:00.123456+0530", utc(2026, 6, 1, 6, 30, 0, 123456)),
        # naive = Europe/London wall clock
        ("2026-01-15T09:00:00", utc(2026, 1, 15, 9)),
        ("2026-07-15 09:00:00", utc(2026, 7, 15, 8)),
        ("2026-03-29T00:59:59", utc(2026, 3, 29, 0, 59, 59)),
        ("2026-03-29T01:30:00", utc(2026, 3, 29, 1, 30)),  # skipped hour: offset before the change (GMT)
        ("2026-03-29 01:00:00", utc(2026, 3, 29, 1, 0)),  # skipped hour starts
        ("2026-03-29T02:00:00", utc(2026, 3, 29, 1, 0)),  # first BST instant
        ("2026-03-29T02:30:00", utc(2026, 3, 29, 1, 30)),
        ("2026-10-25T00:30:00", utc(2026, 10, 24, 23, 30)),
        ("2026-10-25T01:30:00", utc(2026, 10, 25, 0, 30)),  # repeated hour: the earlier one (BST)
        ("2026-10-25T02:30:00", utc(2026, 10, 25, 2, 30)),
        ("2026-10-25T01:30:00.750", utc(2026, 10, 25, 0, 30, 0, 750000)),
        ("2026-10-25T01:30", utc(2026, 10, 25, 0, 30)),
    ],
)
def test_timestamps(text, expected):
    rows, bad = parse(H1, [f"{text},a,10.0.0.1,x.com,c,allowed"])
    assert bad.height == 0, bad.to_dicts()
    assert rows.get_column("ts").to_list() == [expected]


@pytest.mark.parametrize("day", [datetime(2026, 3, 29), datetime(2026, 10, 25)])
def test_naive_times_match_zoneinfo_fold0_all_day(day):
    """Every 10 minutes across both 2026 change days, as Python's zoneinfo reads fold=0."""
    zone = ZoneInfo(TZ)
    naive = [day + timedelta(minutes=10 * k) for k in range(144)]
    rows, bad = parse(H1, [f"{n.isoformat()},a,10.0.0.1,x.com,c,allowed" for n in naive])
    assert bad.height == 0
    want = [n.replace(tzinfo=zone, fold=0).astimezone(timezone.utc) for n in naive]
    assert rows.get_column("ts").to_list() == want


def test_user_only_and_ip_only_headers_extra_columns_ignored():
    rows, bad = parse("Date/Time,Who,Request,Extra,Result", ["2026-01-15T10:00:00Z,Bob,bbc.co.uk,zzz,pass"])
    assert bad.height == 0
    assert rows.select("user", "username", "client_ip", "host", "category").row(0) == ("bob", "Bob", None, "bbc.co.uk", None)
    rows, bad = parse("datetime,internal ip,destination,categories,status", ["2026-01-15T10:00:00Z,10.1.1.1,bbc.co.uk,News,deny"])
    assert bad.height == 0
    assert rows.select("user", "username", "client_ip", "category", "action").row(0) == ("10.1.1.1", None, "10.1.1.1", "News", "blocked")


@pytest.mark.parametrize(
    "header",
    ["username,client_ip,url,category,action", "timestamp,username,client_ip,category,action",
     "timestamp,username,client_ip,url,category", "timestamp,url,category,action", ""],
)
def test_bad_header_raises_input_error(header):
    with pytest.raises(InputError) as err:
        surfprotect.make_parser(header, TZ)
    assert "\n" not in str(err.value)


def test_parser_attributes_and_repeated_header_skipped():
    parser = surfprotect.make_parser(" Timestamp , USERNAME,Client_IP,URL,Category,Action\r", TZ)
    assert parser.name == surfprotect.NAME == "surfprotect" and parser.header_lines == 1
    rows, bad = parse(H1, [H1, "2026-01-15T10:00:00Z,a,10.0.0.1,x.com,c,allowed"])
    assert rows.height == 1 and bad.height == 0


def test_never_raises_on_garbage():
    rows, bad = parse(H1, ['"unterminated,a,b,c,d,e', "\x00\x01", ",,,,,", 'a"b,c,d,e,f,g'])
    assert rows.height == 0
    # ",,,,," is an empty row (Excel writes them): no data, skipped like a blank line
    assert bad.select("line_no", "reason").rows() == [(2, "unclosed quote"), (3, "wrong field count (1 of 6)"),
                                                      (5, "bad timestamp")]


def parse_bytes(header: str, body: bytes, tz: str = TZ):
    """As the pipeline does: the lines after the header as the batch's bytes."""
    from ingest.reader import make_batch

    return surfprotect.make_parser(header, tz).parse(None, 2, make_batch(body, 2, 0).raw())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30/11/2026 09:17", utc(2026, 11, 30, 9, 17)),  # GMT
        ("30/11/2026 09:17:05", utc(2026, 11, 30, 9, 17, 5)),
        ("30/11/2026 9:17", utc(2026, 11, 30, 9, 17)),
        ("30/06/2026 09:17", utc(2026, 6, 30, 8, 17)),  # BST
        ("01/02/2026 10:00", utc(2026, 2, 1, 10)),  # day-first: 1 February, never 2 January
        ("1/2/2026 10:00:30", utc(2026, 2, 1, 10, 0, 30)),
        ("12/10/2026 12:00:00.250", utc(2026, 10, 12, 11, 0, 0, 250000)),
        ("29/03/2026 01:30", utc(2026, 3, 29, 1, 30)),  # skipped hour: the offset before the change (GMT)
        ("29/03/2026 02:00", utc(2026, 3, 29, 1, 0)),
        ("25/10/2026 01:30", utc(2026, 10, 25, 0, 30)),  # repeated hour: the earlier one (BST)
        ("25/10/2026 02:30", utc(2026, 10, 25, 2, 30)),
        ('"30/11/2026 09:17"', utc(2026, 11, 30, 9, 17)),
        # a cell formatted dd/mm/yy: Excel's rule, 00-29 the 2000s, 30-99 the 1900s
        ("16/06/26 10:00", utc(2026, 6, 16, 9, 0)), ("29/02/24 09:00:05", utc(2024, 2, 29, 9, 0, 5)),
        ("01/01/95 10:00", utc(1995, 1, 1, 10)),
    ],
)
def test_uk_day_first_dates_as_excel_writes_them(text, expected):
    rows, bad = parse(H1, [f"{text},a,10.0.0.1,x.com,c,allowed"])
    assert bad.height == 0, bad.to_dicts()
    assert rows.get_column("ts").to_list() == [expected]


@pytest.mark.parametrize("text", ["31/11/2026 09:17", "30/13/2026 09:17", "30/11/2026", "30/11/2026 25:00",
                                  "30-11-2026 09:17", "2026/11/30 09:17", "30/11/2026 09:17 +01:00"])
def test_not_uk_dates(text):
    rows, bad = parse(H1, [f"{text},a,10.0.0.1,x.com,c,allowed"])
    assert rows.height == 0 and bad.get_column("reason").to_list() == ["bad timestamp"]


@pytest.mark.parametrize("text", ["2026-11-02T10:00:00+99:00", "2026-11-02T10:00:00-99:59", "2026-11-02T10:00:00+01:60",
                                  "2026-11-02T10:00:00+24:00", "2026-11-02T10:00:00+99", "2026-11-02T10:00:00+05:75",
                                  "2026-11-02 10:00:00.250+2400", "2026-11-02T10:00+01:99"])
def test_an_offset_that_is_no_utc_offset_is_a_bad_timestamp(text):
    """Hours above 23 or minutes above 59 (as FortiGate's tz and squid's %z are held to):
    read as given, +99:00 would move a request four days."""
    rows, bad = parse(H1, [f"{text},a,10.0.0.1,x.com,c,allowed", "2026-11-02T10:00:00+23:59,b,10.0.0.1,x.com,c,allowed"])
    assert bad.get_column("reason").to_list() == ["bad timestamp"]
    assert rows.get_column("ts").to_list() == [utc(2026, 11, 1, 10, 1)]


@pytest.mark.parametrize("text", ["1989-12-31T23:59:59.999Z", "2101-01-01T00:00:00.000Z", "30/11/0026 09:17",
                                  "1850-01-01T00:00:00Z", "9999-12-31 23:59:59"])
def test_timestamps_outside_1990_2100_are_bad_lines(text):
    rows, bad = parse(H1, [f"{text},a,10.0.0.1,x.com,c,allowed"])
    assert rows.height == 0 and bad.get_column("reason").to_list() == ["timestamp out of range (years 1990-2100)"]


def test_cp1252_names_as_excel_saves_them():
    lines = ["30/11/2026 09:17,Zoë Brontë,10.0.0.5,https://www.facebook.com/,Social,Blocked",
             '30/11/2026 09:18,"Núñez, José",10.0.0.6,https://x.com/,Social,Permitted',
             "30/11/2026 09:19,ZOË,10.0.0.7,https://x.com/,Social,Permitted"]
    body = "\r\n".join(lines).encode("cp1252") + b"\r\n" + (
        "2026-11-30T09:20:00.000Z,Renée,10.0.0.8,https://x.com/,Social,Allowed\n".encode())  # a UTF-8 line too
    rows, bad = parse_bytes(H1, body)
    assert bad.height == 0, bad.to_dicts()
    assert rows.select("ts", "user", "username", "host", "action").rows() == [
        (utc(2026, 11, 30, 9, 17), "zoë brontë", "Zoë Brontë", "www.facebook.com", "blocked"),
        (utc(2026, 11, 30, 9, 18), "núñez, josé", "Núñez, José", "x.com", "allowed"),
        (utc(2026, 11, 30, 9, 19), "zoë", "ZOË", "x.com", "allowed"),
        (utc(2026, 11, 30, 9, 20), "renée", "Renée", "x.com", "allowed"),
    ]


def test_scanner_skipped_after_a_batch_without_plain_lines_gives_the_same_rows():
    parser = surfprotect.make_parser(H1, TZ)
    uk = pl.Series([f"30/11/2026 09:{k % 60:02d},a{k},10.0.0.1,x.com,c,allowed" for k in range(2000)])
    iso = pl.Series([f"2026-11-30T09:{k % 60:02d}:00.000Z,b{k},10.0.0.1,y.com,c,blocked" for k in range(2000)])
    for lines in (uk, iso, iso, uk):
        rows, bad = parser.parse(lines, 2)
        want, _ = surfprotect.make_parser(H1, TZ).parse(lines, 2)  # a fresh parser uses the scanner
        assert bad.height == 0 and rows.equals(want)
    assert parser._probe > 0  # skipping the scanner for now
