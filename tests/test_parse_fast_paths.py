"""The compiled fast paths of the parsers give exactly what the regex paths give.

Both parsers read plain lines with a compiled scanner (`ingest.fast.squid_scan`,
`ingest.fast.csv_scan`) and send every other line to the regex path that defines the
format. These tests generate seeded random lines full of near-misses (odd
spacing, tabs, non-ASCII, long numbers, quotes, escapes, odd URLs and
timestamps) and compare, frame for frame, the parser as shipped with the same
parser whose fast path is switched off: same rows in the same order, same bad
lines with the same reasons.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ingest import squid, surfprotect, tokens
from ingest.fast import csv_scan, scan_util

RNG_SEEDS = [1, 2, 3]


def pick(rng: random.Random, usual, *odd):
    """Mostly the usual value, sometimes any of the odd ones."""
    return usual if not odd or rng.random() < 0.8 else rng.choice(odd)


EXTRA_TAILS = ['"http://ref.example/a b" "Mozilla/5.0 (X11; Linux x86_64)"', '"-" "-"', 'vendor=tag', '"unterminated',
               '"x" HIER_NONE/- text/html', '  "a"', 'ab "c d"', '"Mozilla/5.0 \\"q\\" é"', '-']


def squid_line(rng: random.Random, extras: bool = False) -> str:
    ts = pick(rng, "1795219200.044", "1795219200.5", "179521920.123", "17952192000.123", "1795219200.0441",
              "1795219200", "1795219200.04a", "-1795219200.044", "1795219200,044")
    el = pick(rng, "0", "7", "23775", "123456", "1234567", "-1", "12a", "1234567890123")
    gap = " " * rng.choice([1, 1, 2, 3, 5, 6, 7, 8]) if rng.random() < 0.95 else rng.choice(["\t", "  \t "])
    client = pick(rng, "10.0.0.5", "2001:db8::1", "fe80::2", "-", "10.0.0.5é")
    tag = pick(rng, "TCP_TUNNEL", "TCP_MISS", "TCP_DENIED", "TCP_DENIED_REPLY", "NONE_NONE", "NONE", "TAG_NONE",
               "TAG_NONE_X", "TCP/MISS", "X_DENIED")
    status = pick(rng, "200", "403", "407", "000", "503", "2000", "20", "2x0")
    nbytes = pick(rng, "0", "3900", "104040", "123456789", "12345678901234567", "1234567890123456789", "1e5")
    method = pick(rng, "CONNECT", "GET", "-", "POST")
    host = pick(rng, "www.facebook.com", "WWW.FaceBook.COM.", "x.com..", "host", "a.b", "Ünï.com", "")
    url = pick(rng, f"{host}:443", f"{host}:8443", f"{host}:", f"{host}:4x3", f"http://{host}/p/1",
               f"https://{host}:8080/x?y=1", f"http://u:pw@{host}/", f"HTTP://{host}/", f"ftp://{host}/f",
               "[2001:db8::5]:443", "http://[::1]:8443/x", "error:invalid-request", "error:", f"{host}/a:b",
               f"{host}?q=1", f"{host}#f", f"http://{host}", "https://", "http://", f"a:b:{host}", f"{host}:443/x://y")
    user = pick(rng, "jsmith", "-", "JSmith", "SCHOOL\\\\jdoe", "john%20smith", "Ren%C3%A9e", "Mary Ann",
                "Mary  Jane Watson", "🙂user", "a", "A_very_long_User.Name", "x%", "%41%42", "a\\", "x\\ny",
                "%20lead", "A%5cB%5C", "SCHOOL\\\\Very.Long.Name%2Ex", "%4", "%%41")
    if extras:
        user = pick(rng, user, "John SMITH", "A B/C", '"quoted"', 'x "y"', "DOM\\\\John Smith", "Ann HIER_X/1",
                    "NONE/-", "u  v")
    hier = pick(rng, "HIER_DIRECT/1.2.3.4", "HIER_NONE/-")
    if extras:
        hier = pick(rng, hier, "DIRECT/10.0.0.1", "FIRST_PARENT_MISS/proxy.lan", "NONE/-", "TIMEOUT_DIRECT/1.1.1.1",
                    "weird", "hier_none/-", "X/", '"HIER_NONE/-"')
    mime = pick(rng, "-", "text/html")
    fields = [ts + gap + el, client, f"{tag}/{status}", nbytes, method, url, user, hier, mime]
    if extras and rng.random() < 0.7:
        fields += [rng.choice(EXTRA_TAILS) for _ in range(rng.randrange(1, 4))]
    line = " ".join(fields)
    r = rng.random()
    if r < 0.02:
        line = "  " + line
    elif r < 0.08:
        line += pick(rng, " ", "  ", "\r", " \r")
    elif r < 0.11:
        line = line.replace(" ", "  ", 1 + rng.randrange(3))
    elif r < 0.13:
        line = " ".join(line.split(" ")[: rng.randrange(1, 10)])
    elif r < 0.15:
        line = pick(rng, "", "   ", "\t", "garbage", "\x00\x01 x")
    return line


def no_fast(monkeypatch) -> None:
    """Switch the squid tokenizer off: every line goes through the regexes."""

    empty = squid._fast(pl.Series([], dtype=pl.String))[1]

    def none(raw):
        return np.zeros(len(raw.starts), dtype=bool), empty

    monkeypatch.setattr(squid, "_fast", none)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_squid_fast_path_equals_regex_path(seed, monkeypatch):
    rng = random.Random(seed)
    lines = pl.Series("line", [squid_line(rng) for _ in range(4000)], dtype=pl.String)
    rows, bad = squid.Parser().parse(lines, 7)
    taken, _ = squid._fast(lines)
    assert 0.2 < taken.mean() < 0.9  # both paths are exercised
    no_fast(monkeypatch)
    want_rows, want_bad = squid.Parser().parse(lines, 7)
    assert_frame_equal(rows, want_rows)
    assert_frame_equal(bad, want_bad)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_squid_extra_fields_fast_path_equals_regex_path(seed, monkeypatch):
    """Lines with trailing fields after the MIME type, odd hierarchy fields and
    user names that look like hierarchy fields or open quotes."""
    rng = random.Random(100 + seed)
    lines = pl.Series("line", [squid_line(rng, extras=True) for _ in range(4000)], dtype=pl.String)
    rows, bad = squid.Parser().parse(lines, 7)
    taken, _ = squid._fast(lines)
    assert 0.2 < taken.mean() < 0.9
    assert rows.height > 1000 and bad.height > 100
    no_fast(monkeypatch)
    want_rows, want_bad = squid.Parser().parse(lines, 7)
    assert_frame_equal(rows, want_rows)
    assert_frame_equal(bad, want_bad)


def test_squid_fast_path_takes_the_plain_lines():
    lines = pl.Series([
        "1795219200.044   8585 10.5.220.2 TCP_DENIED/403 3900 GET http://a.b/p/1 SCHOOL\\\\anna HIER_NONE/- text/html",
        "1795219200.168      1 10.11.60.164 TCP_TUNNEL/200 104040 CONNECT s.ac.uk:443 Mary Ann HIER_DIRECT/9.9.9.9 -",
        '1795219200.168      1 10.1.1.1 TCP_MISS/200 10 GET http://a.b/ DOM\\\\John Smith DIRECT/9.9.9.9 text/html '
        '"http://r.example/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" tag=1',
    ])
    taken, rows = squid._fast(lines)
    assert taken.tolist() == [True, True, True]
    assert rows.get_column("username").to_list() == ["SCHOOL\\anna", "Mary Ann", "DOM\\John Smith"]


def sp_line(rng: random.Random, zone) -> str:
    day = datetime(2026, 3, 29) + timedelta(minutes=rng.randrange(-3000, 300000), milliseconds=rng.randrange(1000))
    ts = pick(rng, day.strftime("%Y-%m-%dT%H:%M:%S.") + f"{day.microsecond // 1000:03d}Z",
              day.strftime("%Y-%m-%dT%H:%M:%SZ"), day.strftime("%Y-%m-%d %H:%M:%S"), day.isoformat(),
              day.strftime("%Y-%m-%dT%H:%M:%S.%f+01:00"), "2026-02-30T10:00:00.000Z", "2026-01-15T24:00:00.000Z",
              "2026-01-15T10:00:60.000Z", "2026-1-15T10:00:00.000Z", "2026-01-15T10:00:00.000z", "15/01/2026 10:00",
              "1899-12-31T10:00:00.000Z", " 2026-01-15T10:00:00.000Z", "")
    user = pick(rng, "anna", "Anna.B", "-", "", " Mary.Jones ", '"Smith, John"', '"x""y"', "Ünï", "\tx", "a\u00a0")
    ip = pick(rng, "10.0.0.1", "-", "", "2001:db8::1")
    url = pick(rng, "https://www.Facebook.com/home", "http://x.com:8080/a", "x.com", "x.com:443", "", "error:x",
               "https://u@h.com/", "https://[::1]/", "ftp://f.org/", '"https://a.b/?q=a,b"', "https://ÿ.com/",
               " https://a.b/ ", "https://a.b./x")
    cat = pick(rng, "Social", "", "News, Media", '"Social, ""Networking"""', "Ëdu")
    dec = pick(rng, "Permitted", "Blocked", "ALLOWED", "deny", "pass", "quarantined", "", " Allowed ",
               '"Allowed"', "  \"Rejected\"  ", "BLOCKED\u212a", "blocKed", "Pérmitted", "permitted-ish")
    line = ",".join([ts, user, ip, url, cat, dec])
    r = rng.random()
    if r < 0.03:
        line += ",extra"
    elif r < 0.06:
        line = line.rsplit(",", 1)[0]
    elif r < 0.08:
        line += "\r"
    elif r < 0.09:
        line = pick(rng, "", "  ", 'a"b,c', ",,,,,", "Time,User,Source IP,URL,Category,Decision")
    return line


@pytest.mark.parametrize("seed", RNG_SEEDS)
@pytest.mark.parametrize("tz", ["Europe/London", "UTC"])
def test_surfprotect_fast_path_equals_regex_path(seed, tz, monkeypatch):
    rng = random.Random(seed)
    header = "Time,User,Source IP,URL,Category,Decision"
    lines = pl.Series("line", [sp_line(rng, tz) for _ in range(3000)], dtype=pl.String)
    parser = surfprotect.make_parser(header, tz)
    rows, bad = parser.parse(lines, 2)
    assert rows.height > 500 and bad.height > 300
    taken, _ = parser._fast(tokens.Raw.of(lines))
    assert 0.02 < taken.mean() < 0.5  # the compiled scanner takes the plain lines, the rest go on
    monkeypatch.setattr(surfprotect.Parser, "_fast", lambda self, raw: (np.zeros(len(raw.starts), dtype=bool), None))
    want_rows, want_bad = parser.parse(lines, 2)
    assert_frame_equal(rows, want_rows)
    assert_frame_equal(bad, want_bad)


def sp_excel_line(rng: random.Random) -> bytes:
    """A SurfProtect line as Excel may leave it: UK dates, names in cp1252 or UTF-8."""
    day = datetime(2026, 3, 29) + timedelta(minutes=rng.randrange(-3000, 300000), milliseconds=rng.randrange(1000))
    ts = pick(rng, day.strftime("%Y-%m-%dT%H:%M:%S.") + f"{day.microsecond // 1000:03d}Z", day.strftime("%d/%m/%Y %H:%M"),
              day.strftime("%d/%m/%Y %H:%M:%S"), f"{day.day}/{day.month}/{day.year} {day.hour}:{day.minute:02d}",
              "31/11/2026 10:00", "30/11/26 10:00", "1/1/2101 00:00", "1989-12-31T23:59:59.999Z",
              "2100-12-31T23:59:59.999Z", "1990-01-01T00:00:00.000Z", "29/03/2026 01:30", "25/10/2026 01:30")
    user = pick(rng, "anna", "Zoë Brontë", "José", "ZOË", '"Núñez, José"', "Renée", "-", "Œuvre", "Ærø")
    ip = pick(rng, "10.0.0.1", "-", "2001:db8::1")
    url = pick(rng, "https://www.Facebook.com/home", "x.com:443", "https://u@h.com/", "", "https://café.fr/")
    dec = pick(rng, "Permitted", "Blocked", "deny", "quarantined", "Pérmitted")
    line = ",".join([ts, user, ip, url, "Social", dec])
    if rng.random() < 0.02:
        return bytes(rng.choice(b"abc,\x81\x9d\xff\xc3\xa9\r ") for _ in range(rng.randrange(1, 40)))
    return line.encode(pick(rng, "utf-8", "cp1252"))


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_surfprotect_fast_path_equals_general_path_on_excel_bytes(seed, monkeypatch):
    from ingest.reader import make_batch

    rng = random.Random(seed)
    body = b"".join(sp_excel_line(rng) + rng.choice([b"\n", b"\r\n"]) for _ in range(3000))
    parser = surfprotect.make_parser("Time,User,Source IP,URL,Category,Decision", "Europe/London")
    rows, bad = parser.parse(None, 2, make_batch(body, 2, 0).raw())
    assert rows.height > 1000 and bad.height > 100
    assert rows.filter(pl.col("username").str.contains("ë")).height > 30  # cp1252 and UTF-8 names alike
    assert not rows.get_column("username").str.contains("\ufffd").any()
    monkeypatch.setattr(surfprotect.Parser, "_fast", lambda self, raw: (np.zeros(len(raw.starts), dtype=bool), None))
    want_rows, want_bad = parser.parse(None, 2, make_batch(body, 2, 0).raw())
    assert_frame_equal(rows, want_rows)
    assert_frame_equal(bad, want_bad)


def test_surfprotect_scanner_takes_plain_lines_only():
    parser = surfprotect.make_parser("Time,User,Source IP,URL,Category,Decision", "UTC")
    lines = pl.Series([
        "2026-11-21T00:00:00.022Z,Emma.A208,10.0.208.198,https://Mail.Docs.co.uk./p/1,Business,Permitted",
        "2026-11-21T00:00:00.112Z,-,10.9.126.162,www.facebook.com:443,,BLOCKED",
        "2026-11-21T00:00:00.112Z,anna,,https://u@h.com/,Social,Allowed",  # userinfo: general path
        "2026-11-21T00:00:00+01:00,anna,,https://h.com/,Social,Allowed",  # offset: general path
        '2026-11-21T00:00:00.112Z,"x,y",z,https://h.com/,Social,Allowed',  # comma in quotes: general path
        '2026-11-21T00:00:00.112Z,"x""y",z,https://h.com/,Social,Allowed',  # doubled quote: general path
        '2026-11-21T00:00:00.112Z,"Ben 301",10.0.0.1,"https://h.com/",Social,"Blocked"',
    ])
    taken, rows = parser._fast(tokens.Raw.of(lines))
    assert taken.tolist() == [True, True, False, False, False, False, True]
    assert rows.select("user", "username", "client_ip", "host", "action", "category").rows() == [
        ("emma.a208", "Emma.A208", "10.0.208.198", "mail.docs.co.uk", "allowed", "Business"),
        ("10.9.126.162", None, "10.9.126.162", "www.facebook.com", "blocked", None),
        ("ben 301", "Ben 301", "10.0.0.1", "h.com", "blocked", "Social"),
    ]
    assert rows.get_column("ts").dt.epoch("ms").to_list() == [1795219200022, 1795219200112, 1795219200112]


def test_iso_utc_matches_python():
    rng = random.Random(5)
    texts, want = [], []
    for _ in range(2000):
        d = datetime(1900, 1, 1) + timedelta(seconds=rng.randrange(0, 300 * 365 * 86400), milliseconds=rng.randrange(1000))
        texts.append(d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z")
        ok = 1990 <= d.year <= 2100
        want.append((d.replace(tzinfo=timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1) if ok else None)
    texts += ["2024-02-29T23:59:59.999Z", "2023-02-29T10:00:00.000Z", "2026-13-01T10:00:00.000Z", "1899-12-31T23:59:59.999Z",
              "1989-12-31T23:59:59.999Z", "1990-01-01T00:00:00.000Z", "2100-12-31T23:59:59.999Z", "2101-01-01T00:00:00.000Z"]
    want += [1709251199999000, None, None, None, None, 631152000000000, 4133980799999000, None]
    data = np.frombuffer("".join(texts).encode(), dtype=np.uint8)
    got = [csv_scan.iso_utc(data, 24 * k, 24 * k + 24) for k in range(len(texts))]
    assert [m if o else None for m, o in got] == want


def test_compiled_hosts_match_with_host():
    """`scan_util.host` on every URL shape: the plain ones give what `with_host`
    gives; the others are flagged for `with_host` (never a different answer)."""
    urls = ["www.x.com:443", "http://A.B.:80/x", "https://u:p@h.com/", "[::1]:443", "h:1:2", "h:abc",
            "error:x", "", "x.com?q", "x.com#f", "ftp://f.org/a", "HTTPS://X.org", "h.com:", "a:b/c",
            "http://h.com:8080?x", "https://", "x.com...", "...", "h:99999999999999999", "h:9999999999999999/x",
            "https://WWW.Example.ORG./p?q=1", "h.com:443/x://y", "a://b"]
    want = squid.with_host(pl.DataFrame({"url": urls}).lazy()).collect().get_column("host").to_list()
    taken = set()
    for url, expected in zip(urls, want):
        data = np.frombuffer(url.encode() + b" " * 16, dtype=np.uint8)
        rs, he, flags = scan_util.host(data, 0, len(url))
        if flags & scan_util.SLOW_HOST:
            continue
        taken.add(url)
        got = None if flags & scan_util.NO_HOST else bytes(data[rs:he]).decode().lower()
        assert got == expected, url
    assert {"www.x.com:443", "http://A.B.:80/x", "error:x", "x.com?q", "https://WWW.Example.ORG./p?q=1"} <= taken
    assert not {"https://u:p@h.com/", "[::1]:443", "h:1:2", "ftp://f.org/a", "HTTPS://X.org"} & taken
