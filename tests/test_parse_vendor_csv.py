"""Vendor CSV exports declared as [formats.NAME] (ingest.vendor_csv).

The headers are shaped like the products' report exports (Smoothwall's web
filter log, Lightspeed's activity log, a Netsweeper client report, a Securly
activity export); the expected values are worked out by hand. Europe/London in
2026: BST from 01:00 UTC on 29 March (01:00-02:00 local does not exist) to
01:00 UTC on 25 October (01:00-02:00 local happens twice).
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from ingest import vendor_csv
from ingest.reader import make_batch
from surfaudit.config import CsvFormat, parse_config
from surfaudit.errors import InputError
from surfaudit.schema import EVENT_SCHEMA

TZ = "Europe/London"


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=UTC)


def row(ts, user, username, client_ip, host, url, action, category, source) -> dict:
    return dict(ts=ts, user=user, username=username, client_ip=client_ip, method=None, host=host, url=url,
                action=action, status=0, bytes=0, elapsed_ms=None, category=category, source=source)


SMOOTHWALL = CsvFormat(name="smoothwall", time="Time", time_format="%d/%m/%Y %H:%M:%S", user="Username",
                       client_ip="Source IP", url="URL", category="Categories", decision="Action",
                       allowed=("Allowed",), blocked=("Blocked",))
SW_HEADER = "Time,Username,Source IP,Group,Code,URL,Categories,Action"
LIGHTSPEED = CsvFormat(name="lightspeed", time="Date", time_format="%m/%d/%Y %I:%M:%S %p", user="User",
                       client_ip="IP Address", url="Destination", category="Category", decision="Action",
                       allowed=("Allowed",), blocked=("Blocked", "Redirected"), encoding="cp1252", delimiter=";")
LS_HEADER = "Destination;Action;Reason;User;IP Address;User OU;Computer;Category;Date"
NETSWEEPER = CsvFormat(name="netsweeper", time="Date Time", time_format="%Y-%m-%d %H:%M", user="User",
                       client_ip="Client IP", url="URL", category="Category", decision="Action",
                       allowed=("Allow", "Warn"), blocked=("Deny",), delimiter="\t")
NS_HEADER = "Date Time\tClient IP\tUser\tURL\tCategory\tAction\tPolicy"
SECURLY = CsvFormat(name="securly", time="Timestamp", user="Email", url="Site", decision="Status",
                    allowed=("ALLOWED", "FLAGGED"), blocked=("BLOCKED",))
SE_HEADER = "Timestamp,Email,Site,Category,Status"


def parse(spec: CsvFormat, header: str, lines: list[str], tz: str = TZ, first_line_no: int = 2):
    parser = vendor_csv.VendorCsv(spec).make_parser(header, tz)
    return parser.parse(pl.Series("line", lines, dtype=pl.String), first_line_no)


def parse_bytes(spec: CsvFormat, blob: bytes, tz: str = TZ):
    """As the pipeline does: the header decoded leniently, the rest as the batch's bytes."""
    head, _, body = blob.partition(b"\n")
    header = head.decode("utf-8", "replace").rstrip("\r")
    parser = vendor_csv.VendorCsv(spec).make_parser(header, tz)
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return parser.parse(None, 2, make_batch(body, 2, len(head) + 1).raw())


def test_smoothwall_web_filter_log():
    lines = [
        "30/11/2026 09:17:05,SCHOOL\\JSmith,10.0.0.5,Staff,200,https://www.Facebook.com/home,Social Networking,Allowed",
        '30/11/2026 09:17:06,"Smith, John",10.0.0.6,Staff,403,"https://x.com/search?q=a,b","Social, ""Media""",Blocked',
        "30/11/2026 09:17:07,mary.jones@school.org.uk,2001:db8::17,Staff,200,www.instagram.com:443,,allowed",
        "30/11/2026 09:17:08,,10.0.0.9,Unauthenticated,200,http://bbc.co.uk:8080/news,News,BLOCKED",
        "01/06/2026 12:00:00,  Mary Ann Evans ,10.0.0.10,Staff,200,https://u:pw@Mail.Example.ORG./x,Webmail, Allowed ",
    ]
    rows, bad = parse(SMOOTHWALL, SW_HEADER, lines)
    assert bad.height == 0, bad.to_dicts()
    assert rows.schema == EVENT_SCHEMA
    sw = "smoothwall"
    assert rows.to_dicts() == [
        row(utc(2026, 11, 30, 9, 17, 5), "school\\jsmith", "SCHOOL\\JSmith", "10.0.0.5", "www.facebook.com",
            "https://www.Facebook.com/home", "allowed", "Social Networking", sw),
        row(utc(2026, 11, 30, 9, 17, 6), "smith, john", "Smith, John", "10.0.0.6", "x.com",
            "https://x.com/search?q=a,b", "blocked", 'Social, "Media"', sw),
        row(utc(2026, 11, 30, 9, 17, 7), "mary.jones@school.org.uk", "mary.jones@school.org.uk", "2001:db8::17",
            "www.instagram.com", "www.instagram.com:443", "allowed", None, sw),
        row(utc(2026, 11, 30, 9, 17, 8), "10.0.0.9", None, "10.0.0.9", "bbc.co.uk", "http://bbc.co.uk:8080/news",
            "blocked", "News", sw),
        row(utc(2026, 6, 1, 11), "mary ann evans", "Mary Ann Evans", "10.0.0.10", "mail.example.org",
            "https://u:pw@Mail.Example.ORG./x", "allowed", "Webmail", sw),  # BST: 12:00 local is 11:00 UTC
    ]


def test_lightspeed_activity_log_cp1252_semicolons_us_dates_other_column_order():
    body = [
        "https://www.facebook.com/;Blocked;Social Networking;Zoë Brontë;10.1.2.3;Staff;LAPTOP-01;Social;11/30/2026 09:17:05 AM",
        "youtube.com;Redirected;SafeSearch;José Núñez;10.1.2.4;Staff;LAPTOP-02;Video;11/30/2026 01:05:00 PM",
        '"https://a.b/?x=1;2";Allowed;;"O\'Brien; Renée";10.1.2.5;Staff;;;12/01/2026 12:00:00 AM',
        "https://c.d/;Allowed;;ZOË;10.1.2.6;Staff;;News;07/04/2026 12:30:00 PM",
    ]
    blob = (LS_HEADER + "\r\n" + "\r\n".join(body) + "\r\n").encode("cp1252")
    rows, bad = parse_bytes(LIGHTSPEED, blob)
    assert bad.height == 0, bad.to_dicts()
    ls = "lightspeed"
    assert rows.to_dicts() == [
        row(utc(2026, 11, 30, 9, 17, 5), "zoë brontë", "Zoë Brontë", "10.1.2.3", "www.facebook.com",
            "https://www.facebook.com/", "blocked", "Social", ls),
        row(utc(2026, 11, 30, 13, 5), "josé núñez", "José Núñez", "10.1.2.4", "youtube.com", "youtube.com",
            "blocked", "Video", ls),
        row(utc(2026, 12, 1, 0), "o'brien; renée", "O'Brien; Renée", "10.1.2.5", "a.b", "https://a.b/?x=1;2",
            "allowed", None, ls),
        row(utc(2026, 7, 4, 11, 30), "zoë", "ZOË", "10.1.2.6", "c.d", "https://c.d/", "allowed", "News", ls),
    ]


def test_netsweeper_tab_separated_with_ipv6_ports_and_missing_users():
    lines = [
        "2026-11-30 09:17\t10.0.0.5\tjsmith\thttps://www.tiktok.com/@x\tSocial Networking\tAllow\tStaff",
        "2026-11-30 09:18\t2001:db8::5\t\tsnapchat.com:443\tSocial Networking\tDeny\tStaff",
        "2026-11-30 09:19\t10.0.0.7\t-\thttp://[2001:db8::80]:8080/x\tUnknown\twarn\tStaff",
        "2026-11-30 09:20\t10.0.0.8\tNORTH\\Ann Lee\thttps://x.com\t\tdeny\t",
    ]
    rows, bad = parse(NETSWEEPER, NS_HEADER, lines)
    assert bad.height == 0, bad.to_dicts()
    got = rows.select("ts", "user", "username", "client_ip", "host", "action", "category").rows()
    assert got == [
        (utc(2026, 11, 30, 9, 17), "jsmith", "jsmith", "10.0.0.5", "www.tiktok.com", "allowed", "Social Networking"),
        (utc(2026, 11, 30, 9, 18), "2001:db8::5", None, "2001:db8::5", "snapchat.com", "blocked", "Social Networking"),
        (utc(2026, 11, 30, 9, 19), "10.0.0.7", None, "10.0.0.7", "2001:db8::80", "allowed", "Unknown"),
        (utc(2026, 11, 30, 9, 20), "north\\ann lee", "NORTH\\Ann Lee", "10.0.0.8", "x.com", "blocked", None),
    ]


def test_securly_iso_times_user_only_and_no_user_is_a_bad_line():
    lines = [
        "2026-11-30T09:17:05.250Z,ann@school.org.uk,www.youtube.com,Streaming,ALLOWED",
        "2026-11-30T09:17:05+01:00,ben@school.org.uk,discord.com,Chat,blocked",
        "2026-07-01 10:00:00,cat@school.org.uk,twitch.tv,Streaming,Flagged",
        "2026-11-30T09:17:07Z,,twitch.tv,Streaming,BLOCKED",
    ]
    rows, bad = parse(SECURLY, SE_HEADER, lines)
    assert rows.select("ts", "user", "username", "client_ip", "host", "action", "category").rows() == [
        (utc(2026, 11, 30, 9, 17, 5, 250000), "ann@school.org.uk", "ann@school.org.uk", None, "www.youtube.com",
         "allowed", None),
        (utc(2026, 11, 30, 8, 17, 5), "ben@school.org.uk", "ben@school.org.uk", None, "discord.com", "blocked", None),
        (utc(2026, 7, 1, 9), "cat@school.org.uk", "cat@school.org.uk", None, "twitch.tv", "allowed", None),
    ]
    assert bad.rows() == [(5, "no user", lines[3])]


@pytest.mark.parametrize(("text", "expected"), [
    ("29/03/2026 00:59:59", utc(2026, 3, 29, 0, 59, 59)),
    ("29/03/2026 01:30:00", utc(2026, 3, 29, 1, 30)),  # skipped hour: the offset before the change (GMT)
    ("29/03/2026 02:00:00", utc(2026, 3, 29, 1, 0)),
    ("25/10/2026 00:30:00", utc(2026, 10, 24, 23, 30)),
    ("25/10/2026 01:30:00", utc(2026, 10, 25, 0, 30)),  # repeated hour: the earlier one (BST)
    ("25/10/2026 02:30:00", utc(2026, 10, 25, 2, 30)),
    ("5/1/2026 9:07:00", utc(2026, 1, 5, 9, 7)),  # day-first, one-digit fields
])
def test_naive_local_times_on_change_days(text, expected):
    rows, bad = parse(SMOOTHWALL, SW_HEADER, [f"{text},a,10.0.0.1,,200,x.com,c,Allowed"])
    assert bad.height == 0, bad.to_dicts()
    assert rows.get_column("ts").to_list() == [expected]


@pytest.mark.parametrize("day", [datetime(2026, 3, 29), datetime(2026, 10, 25)])
def test_naive_times_match_zoneinfo_fold0_all_day(day):
    zone = ZoneInfo(TZ)
    naive = [day + timedelta(minutes=10 * k) for k in range(144)]
    rows, bad = parse(NETSWEEPER, NS_HEADER, [f"{n:%Y-%m-%d %H:%M}\t10.0.0.1\ta\tx.com\tc\tAllow\tp" for n in naive])
    assert bad.height == 0
    assert rows.get_column("ts").to_list() == [n.replace(tzinfo=zone, fold=0).astimezone(UTC) for n in naive]


def test_offsets_in_the_pattern_are_exact():
    spec = CsvFormat(name="v", time="t", url="u", decision="d", user="n", time_format="%d/%m/%Y %H:%M:%S %z")
    rows, bad = parse(spec, "t,n,u,d", ["30/11/2026 09:17:05 +0100,a,x.com,allowed",
                                        "30/11/2026 09:17:05 Z,a,x.com,allowed",
                                        "30/11/2026 09:17:05 -05:30,a,x.com,allowed",
                                        "30/11/2026 09:17:05,a,x.com,allowed"])
    assert rows.get_column("ts").to_list() == [utc(2026, 11, 30, 8, 17, 5), utc(2026, 11, 30, 9, 17, 5),
                                               utc(2026, 11, 30, 14, 47, 5)]
    assert bad.select("line_no", "reason").rows() == [(5, "bad timestamp")]


@pytest.mark.parametrize(("value", "action"), [
    ("Allowed", "allowed"), ("ALLOWED", "allowed"), (" allowed ", "allowed"), ('"Allowed"', "allowed"),
    ("Blocked", "blocked"), ("bLoCkEd", "blocked"), ("Redirected", "blocked"), ("REDIRECTED", "blocked"),
])
def test_decision_values(value, action):
    rows, bad = parse(LIGHTSPEED, LS_HEADER, [f"x.com;{value};;a;10.0.0.1;;;;11/30/2026 09:00:00 AM"])
    assert bad.height == 0, bad.to_dicts()
    assert rows.get_column("action").to_list() == [action]


def test_non_ascii_decision_words_and_unknown_values_named():
    spec = CsvFormat(name="fr", time="Heure", url="URL", decision="Décision", user="Utilisateur",
                     allowed=("Autorisé",), blocked=("Bloqué",))
    rows, bad = parse(spec, "Heure,Utilisateur,URL,Décision", [
        "2026-11-30 09:00:00,a,x.com,AUTORISÉ", "2026-11-30 09:00:01,b,y.com,bloqué",
        "2026-11-30 09:00:02,c,z.com,Quarantaine"])
    assert rows.get_column("action").to_list() == ["allowed", "blocked"]
    assert bad.select("line_no", "reason").rows() == [(4, 'unknown decision "Quarantaine"')]


def test_bad_lines_each_with_its_reason_and_skipped_lines():
    lines = [
        "30/11/2026 09:00:00,a,10.0.0.1,Staff,200,x.com,c,Allowed",  # 2 good
        "30/11/2026 09:00:00,a,10.0.0.1,Staff,200,x.com,c,Quarantined",  # 3
        "",  # 4 blank: skipped
        "30/11/2026 09:00:00,a,10.0.0.1,Staff,200,x.com,c",  # 5
        "30/11/2026 09:00:00,a,10.0.0.1,Staff,200,x.com,c,Allowed,extra",  # 6
        "30/11/2026 09:00:00,a,10.0.0.1,Staff,200,x.com,c,Allowed,,",  # 7 good: empty extra fields
        '30/11/2026 09:00:00,"a,10.0.0.1,Staff,200,x.com,c,Allowed',  # 8
        '30/11/2026 09:00:00,"a"b,10.0.0.1,Staff,200,x.com,c,Allowed',  # 9 text after the closing quote
        "31/11/2026 09:00:00,a,10.0.0.1,Staff,200,x.com,c,Allowed",  # 10
        "2026-11-30 09:00:00,a,10.0.0.1,Staff,200,x.com,c,Allowed",  # 11 not the configured pattern
        "31/12/1989 23:00:00,a,10.0.0.1,Staff,200,x.com,c,Allowed",  # 12
        "01/01/2101 12:00:00,a,10.0.0.1,Staff,200,x.com,c,Allowed",  # 13
        "30/11/2026 09:00:00,a,10.0.0.1,Staff,200,,c,Allowed",  # 14
        "30/11/2026 09:00:00,a,10.0.0.1,Staff,200,error:invalid-request,c,Allowed",  # 15
        "30/11/2026 09:00:00,,,Staff,200,x.com,c,Allowed",  # 16
        ",,,,,,,",  # 17 an empty row: skipped
        SW_HEADER,  # 18 the header again: skipped
        "  \t ",  # 19 blank: skipped
        "30/11/2026 09:00:01,b,10.0.0.2,Staff,200,y.com,c,Blocked",  # 20 good
    ]
    rows, bad = parse(SMOOTHWALL, SW_HEADER, lines)
    assert rows.get_column("host").to_list() == ["x.com", "x.com", "y.com"]
    assert bad.schema == {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}
    assert bad.select("line_no", "reason").rows() == [
        (3, 'unknown decision "Quarantined"'),
        (5, "wrong field count (7 of 8)"),
        (6, "wrong field count (9 of 8)"),
        (8, "unclosed quote"),
        (9, "unclosed quote"),
        (10, "bad timestamp"),
        (11, "bad timestamp"),
        (12, "timestamp out of range (years 1990-2100)"),
        (13, "timestamp out of range (years 1990-2100)"),
        (14, "bad url"),
        (15, "bad url"),
        (16, "no user"),
    ]
    assert bad.get_column("line").to_list()[0] == lines[1]


def test_bom_crlf_and_utf8_file_with_a_cp1252_line():
    spec = SMOOTHWALL
    body = ["30/11/2026 09:00:00,Zoë Brontë,10.0.0.1,,200,x.com,c,Allowed"]
    blob = ("\ufeff" + SW_HEADER + "\r\n" + body[0] + "\r\n").encode("utf-8") \
        + "30/11/2026 09:00:01,José,10.0.0.2,,200,y.com,c,Blocked\r\n".encode("cp1252") \
        + ("\ufeff" + SW_HEADER + "\r\n").encode() + b"\r\n"
    rows, bad = parse_bytes(spec, blob)
    assert bad.height == 0, bad.to_dicts()
    assert rows.select("user", "username", "host").rows() == [("zoë brontë", "Zoë Brontë", "x.com"),
                                                              ("josé", "José", "y.com")]


def test_cp1252_declared_reads_every_line_as_cp1252():
    blob = (b"Date;User;Destination;Action;IP Address\n"
            + "11/30/2026 09:00:00 AM;Zoë €;x.com;Allowed;10.0.0.1\n".encode("cp1252")
            + b"11/30/2026 09:00:01 AM;\x81\x9d;y.com;Blocked;10.0.0.2\n")
    rows, bad = parse_bytes(LIGHTSPEED.__class__(**{**LIGHTSPEED.__dict__, "category": None}), blob)
    assert bad.height == 0, bad.to_dicts()
    assert rows.get_column("username").to_list() == ["Zoë €", "\x81\x9d"]  # undefined bytes: the C1 controls


def test_cp1252_header_with_accents_is_found():
    spec = CsvFormat(name="fr", time="Heure", url="URL", decision="Décision", user="Utilisateur",
                     category="Catégorie", allowed=("Autorisé",), blocked=("Bloqué",), encoding="cp1252")
    blob = "Heure;Utilisateur;URL;Catégorie;Décision\r\n2026-11-30 09:00:00;Zoë;x.com;Réseaux;Bloqué\r\n".encode("cp1252")
    rows, bad = parse_bytes(CsvFormat(**{**spec.__dict__, "delimiter": ";"}), blob)
    assert bad.height == 0, bad.to_dicts()
    assert rows.select("user", "category", "action").rows() == [("zoë", "Réseaux", "blocked")]


def test_many_lines_in_two_threads_equal_small_batches():
    rng = np.random.default_rng(3)
    users = ["SCHOOL\\Ann", '"Smith, J"', "", "Zoë", "-", "bob@x.org"]
    lines = [f"30/11/2026 {k // 3600 % 24:02d}:{k // 60 % 60:02d}:{k % 60:02d},{users[k % 6]},10.0.{k % 7}.1,,200,"
             f"https://H{k % 13}.com/p{k},c{k % 3},{('Allowed', 'Blocked', 'Odd')[rng.integers(3)]}" for k in range(30000)]
    rows, bad = parse(SMOOTHWALL, SW_HEADER, lines)  # over 10,000 lines: scanned in two threads
    parts = [parse(SMOOTHWALL, SW_HEADER, lines[k : k + 3000], first_line_no=2 + k) for k in range(0, 30000, 3000)]
    assert rows.equals(pl.concat([r for r, _ in parts]))
    assert bad.equals(pl.concat([b for _, b in parts]))
    assert rows.height + bad.height == 30000 and bad.height > 9000


def test_looks_like():
    f = vendor_csv.VendorCsv(SMOOTHWALL)
    assert f.looks_like([SW_HEADER, "30/11/2026 09:00:00,a,10.0.0.1,,200,x.com,c,Allowed"])
    assert f.looks_like(["", "  ", "\ufeff" + SW_HEADER])
    assert f.looks_like([" TIME , url,ACTION"])
    assert not f.looks_like(["Time,Username,URL,Category"])  # no decision column
    assert not f.looks_like(["Time;URL;Action"])  # another delimiter
    assert not f.looks_like(["1795219200.044 5 10.0.0.1 TCP_MISS/200 1 GET http://x.com/ - HIER_NONE/- -"])
    assert not f.looks_like([])
    assert vendor_csv.VendorCsv(NETSWEEPER).looks_like([NS_HEADER])
    assert vendor_csv.VendorCsv(LIGHTSPEED).looks_like([LS_HEADER])


def test_header_lacking_a_configured_column_is_an_input_error_naming_it():
    f = vendor_csv.VendorCsv(SMOOTHWALL)
    with pytest.raises(InputError) as err:
        f.make_parser("Time,Username,URL,Categories,Action", TZ)
    assert "'Source IP'" in str(err.value) and "smoothwall" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="user or client_ip"):
        vendor_csv.VendorCsv(CsvFormat(name="v", time="t", url="u", decision="d")).make_parser("t,u,d", TZ)
    with pytest.raises(InputError, match="%Z"):
        vendor_csv.VendorCsv(CsvFormat(name="v", time="t", url="u", decision="d", user="n",
                                       time_format="%d/%m/%Y %H:%M %Z")).make_parser("t,u,d,n", TZ)
    with pytest.raises(InputError, match="timezone"):
        f.make_parser(SW_HEADER, "Mars/Olympus")
    with pytest.raises(InputError, match="names two columns"):
        vendor_csv.VendorCsv(CsvFormat(name="v", time="t", url="u", decision="d", user="ip",
                                       client_ip="IP")).make_parser("t,u,d,ip", TZ)


def test_parser_attributes():
    parser = vendor_csv.VendorCsv(SMOOTHWALL).make_parser(SW_HEADER + "\r", TZ)
    assert parser.name == "smoothwall" and parser.header_lines == 1


@pytest.mark.parametrize(("pattern", "chrono"), [
    ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M"), ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S%.f"),
    ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M:%S %p"), ("%d %b %Y %H:%M %z", "%d %b %Y %H:%M %z"), ("%%%d", "%%%d"),
])
def test_chrono_format(pattern, chrono):
    assert vendor_csv.chrono_format(pattern) == chrono


@pytest.mark.parametrize("pattern", ["%d/%m/%Y %H:%M %Z", "%s", "%H:%M:%S,%f", "%c", "%"])
def test_chrono_format_refuses_what_it_cannot_translate(pattern):
    with pytest.raises(ValueError):
        vendor_csv.chrono_format(pattern)


def test_formats_and_get_from_the_config():
    cfg = parse_config(tomllib.loads("""
[formats.smoothwall]
time = "Date/Time"
time_format = "%d/%m/%Y %H:%M"
user = "Username"
url = "URL"
decision = "Action"
[formats.securly]
time = "Timestamp"
user = "Email"
url = "Site"
decision = "Status"
"""))
    got = vendor_csv.formats(cfg)
    assert [f.NAME for f in got] == ["smoothwall", "securly"]
    assert vendor_csv.get(cfg, "Securly").NAME == "securly" and vendor_csv.get(cfg, "squid") is None
    assert vendor_csv.formats(None) == [] and vendor_csv.get(None, "x") is None
    rows, bad = got[0].make_parser("Date/Time,Username,URL,Action", TZ).parse(
        pl.Series(["30/11/2026 9:17,Ann,x.com,allowed"]), 2)
    assert (rows.get_column("ts").to_list(), bad.height) == ([utc(2026, 11, 30, 9, 17)], 0)


def test_iso_shortcut_equals_the_iso_rules():
    """localtime.iso_frame reads the usual ISO shapes by strptime: the same answers as the regex rules."""
    import random

    from ingest import localtime

    rng = random.Random(1)
    texts = []
    for _ in range(20000):
        d = datetime(1985, 1, 1) + timedelta(seconds=rng.randrange(0, 130 * 365 * 86400), microseconds=rng.randrange(10**6))
        base = rng.choice([f"{d:%Y-%m-%dT%H:%M:%S}", f"{d:%Y-%m-%d %H:%M:%S}", f"{d:%Y-%m-%dT%H:%M}", f"{d:%Y-%m-%dt%H:%M:%S}",
                           "2026-02-30T10:00:00", "2026-01-15T24:00:00", "2026-01-15T10:00:60", "2026-1-15T10:00:00"])
        frac = rng.choice(["", "", ".5", ".123", "." + str(rng.randrange(10**9)).zfill(9), ",25", ".", ".1234567890"])
        off = rng.choice(["", "Z", "z", "+01:00", "-05:30", "+0100", "+01", " +01:00", "+1:00", "-00:00", "Z ",
                          "+24:00", "-99:59", "+01:60", "+99", "+2359", "+14:00"])
        texts.append(base + frac + off)
    time = pl.Series("time", texts + [None, ""])
    fast = localtime.iso_frame(time)
    rules = pl.DataFrame({"time": time}).select(*localtime.iso(pl.col("time")))
    assert fast.equals(rules)
    assert 0.1 < time.str.contains(localtime._COMMON_ISO).mean() < 0.5  # both routes ran
