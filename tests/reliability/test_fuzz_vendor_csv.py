"""Fuzzed CSV exports: bad lines mixed into a vendor CSV and into SurfProtect
exports as Excel leaves them (UK dates, cp1252 names), fed to the parsers directly.

Good lines carry a unique sequence number in their URL (`/s<seq>`), users with
domains, realms, spaces, commas (quoted) and accented names (in cp1252 or UTF-8),
and local times all over the year, the clock-change days included. Bad lines are
of many kinds (random bytes, printable junk, truncated good lines, huge lines,
NUL runs, swapped fields, an opening quote, impossible dates, years out of range,
unknown decisions, no user, no URL); blank lines, empty rows and the header again
are sprinkled in and must be skipped. The batch is parsed as the pipeline does
(bytes of a reader batch, in several batches, mixed LF/CRLF): no exception, every
good line is a row exactly once, every bad line is reported with its line number,
and rows + bad + skipped = lines.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest

from ingest import surfprotect, vendor_csv
from ingest.reader import make_batch
from surfaudit.config import CsvFormat

from .helpers import LONG, failed, tried

pytestmark = pytest.mark.slow  # long trials: -m 'not slow' leaves them out

SCALE = 4 if LONG else 1
TZ = "Europe/London"
VENDOR = CsvFormat(name="smoothwall", time="Date/Time", time_format="%d/%m/%Y %H:%M:%S", user="Username",
                   client_ip="IP Address", url="URL", category="Category", decision="Action",
                   allowed=("Allowed", "Logged"), blocked=("Blocked", "Denied"))
VENDOR_HEADER = "Date/Time,Group,Username,IP Address,URL,Category,Action"
SP_HEADER = "Time,User,Source IP,URL,Category,Decision"
USERS = ["jsmith", "SCHOOL\\JSmith", "mary.jones@school.org.uk", "Mary Ann Evans", '"Smith, John"', "Zoë Brontë",
         "José Núñez", "ZOË", '"Núñez, José"', "Renée O'Brien", "-", ""]
_ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789 ,./:-_?=&%\"'"
_PRINTABLE = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))


def _when(rng: random.Random) -> datetime:
    if rng.random() < 0.2:  # the clock-change days: skipped and repeated local hours
        day = rng.choice([datetime(2026, 3, 29), datetime(2026, 10, 25)])
        return day + timedelta(seconds=rng.randrange(0, 4 * 3600))
    return datetime(2026, 1, 1) + timedelta(seconds=rng.randrange(0, 365 * 86400))


def good_vendor(rng: random.Random, seq: int) -> bytes:
    user = rng.choice(USERS)
    ip = rng.choice(["10.0.0.5", "2001:db8::5", "10.1.2.3"])  # a line without a user has the IP as identity
    url = rng.choice([f"https://www.facebook.com/s{seq}", f'"https://x.com/s{seq}?q=a,b"', f"http://h.org:8080/s{seq}"])
    action = rng.choice(["Allowed", "Logged", "Blocked", "Denied", "ALLOWED", " blocked "])
    cat = rng.choice(["Social Networking", '"Social, Media"', ""])
    line = ",".join([f"{_when(rng):%d/%m/%Y %H:%M:%S}", "Staff", user, ip, url, cat, action])
    return line.encode(rng.choice(["utf-8", "cp1252"]))


def good_sp(rng: random.Random, seq: int) -> bytes:
    user = rng.choice(USERS)
    stamp = rng.choice([f"{_when(rng):%d/%m/%Y %H:%M}", f"{_when(rng):%d/%m/%Y %H:%M:%S}",
                        f"{_when(rng):%Y-%m-%dT%H:%M:%S}.123Z"])
    ip = "10.0.0.7"
    url = rng.choice([f"https://www.facebook.com/s{seq}", f"x.com/s{seq}"])
    action = rng.choice(["Permitted", "Blocked", "allowed", "deny"])
    line = ",".join([stamp, user, ip, url, "Social", action])
    return line.encode(rng.choice(["utf-8", "cp1252"]))


def bad_line(rng: random.Random, good: bytes, n_fields: int, time_at: int, decision_at: int,
             user_at: int, ip_at: int, url_at: int) -> tuple[str, bytes]:
    kind = rng.choice(["bytes", "junk", "truncated", "huge", "nul", "swapped", "quote", "date", "year",
                       "decision", "no user", "no url"])
    cells = good.split(b",")
    simple = len(cells) == n_fields  # no quoted comma: fields can be replaced by position

    def with_field(at: int, value: bytes) -> bytes:
        c = list(cells)
        c[at] = value
        return b",".join(c)

    if kind in ("swapped", "date", "year", "decision", "no user", "no url") and not simple:
        kind = "truncated"
    if kind == "bytes":
        line = rng.randbytes(rng.randint(1, 400)).replace(b"\n", b"\xff").replace(b"\r", b"\xfe")
    elif kind == "junk":
        line = rng.randbytes(rng.randint(1, 300)).translate(_PRINTABLE)
    elif kind == "truncated":  # cut before the last field ("Permit" is a whole decision word)
        line = good[: rng.randint(1, good.rindex(b","))]
    elif kind == "huge":
        line = rng.randbytes(rng.randint(65 * 1024, 90 * 1024)).translate(_PRINTABLE)
    elif kind == "nul":
        line = b"\x00" * rng.randint(1, 4000) + good
    elif kind == "swapped":
        c = list(cells)
        c[time_at], c[decision_at] = c[decision_at], c[time_at]
        line = b",".join(c)
    elif kind == "quote":
        line = b'"' + good
    elif kind == "date":
        line = with_field(time_at, rng.choice([b"31/02/2026 10:00:00", b"30/11/2026 25:00", b"2026-13-01T00:00:00Z"]))
    elif kind == "year":
        line = with_field(time_at, rng.choice([b"31/12/1989 23:59:59", b"01/01/2101 00:00:00"]))
    elif kind == "decision":
        line = with_field(decision_at, rng.choice([b"Quarantined", "Bloqu\xe9".encode("cp1252"), b"", b"-"]))
    elif kind == "no user":
        line = with_field(ip_at, b"-")
        line = b",".join(line.split(b",")[:user_at] + [b""] + line.split(b",")[user_at + 1:])
    else:
        line = with_field(url_at, rng.choice([b"", b"error:invalid-request"]))
    if not line.strip(b" \t\r,\x0b\x0c"):
        line = b"~" + line
    return kind, line


def run_fuzz(rng: random.Random, parser, header: str, good, n_good: int, n_bad: int, layout: tuple) -> list[str]:
    """Parse a fuzzed export; return the problems found."""
    body: list[tuple[str, bytes, int | None]] = []  # (kind, bytes, seq of a good line)
    for seq in range(n_good):
        body.append(("good", good(rng, seq), seq))
    goods = [line for _, line, _ in body]
    kinds = Counter()
    for _ in range(n_bad):
        kind, line = bad_line(rng, rng.choice(goods), *layout)
        kinds[kind] += 1
        body.insert(rng.randrange(len(body) + 1), (kind, line, None))
    for _ in range(n_bad // 20):
        body.insert(rng.randrange(len(body) + 1), ("skip", rng.choice([b"", b"  ", b",,,,,,", header.encode()]), None))
    want_bad = {i + 2 for i, (kind, _, _) in enumerate(body) if kind not in ("good", "skip")}
    want_seq = Counter(seq for _, _, seq in body if seq is not None)
    got_seq, got_bad, skipped = Counter(), set(), 0
    problems = []
    k = 0
    while k < len(body):  # batches of a few thousand lines, as the reader cuts them
        part = body[k : k + rng.randint(500, 6000)]
        blob = b"".join(line + rng.choice([b"\n", b"\r\n"]) for _, line, _ in part)
        try:
            rows, bad = parser.parse(None, k + 2, make_batch(blob, k + 2, 0).raw())
        except Exception as exc:  # noqa: BLE001 - the point of the test
            problems.append(f"lines {k + 2}..: {type(exc).__name__}: {exc}")
            k += len(part)
            continue
        got_seq.update(int(u.rsplit("/s", 1)[1].split("?")[0]) for u in rows.get_column("url").to_list())
        got_bad |= set(bad.get_column("line_no").to_list())
        if bad.get_column("reason").is_null().any():
            problems.append(f"lines {k + 2}..: a bad line without a reason")
        skipped += len(part) - rows.height - bad.height
        k += len(part)
    if got_seq != want_seq:
        problems.append(f"{sum((want_seq - got_seq).values())} good lines lost, {sum((got_seq - want_seq).values())} extra")
    if got_bad != want_bad:
        problems.append(f"{len(want_bad - got_bad)} bad lines not reported, {len(got_bad - want_bad)} good lines "
                        f"reported bad (e.g. {sorted(got_bad - want_bad)[:3]})")
    if skipped != sum(1 for kind, _, _ in body if kind == "skip"):
        problems.append(f"{skipped} lines skipped, {sum(1 for kind, _, _ in body if kind == 'skip')} blank/empty/header")
    tried("fuzz-csv", f"{parser.name} bad lines", len(want_bad))
    tried("fuzz-csv", f"{parser.name} good lines", n_good)
    for kind, n in kinds.items():
        tried("fuzz-csv", f"{parser.name} bad:{kind}", n)
    return problems


def test_fuzzed_vendor_csv_lines_are_all_counted():
    rng = random.Random(20261201)
    parser = vendor_csv.VendorCsv(VENDOR).make_parser(VENDOR_HEADER, TZ)
    problems = run_fuzz(rng, parser, VENDOR_HEADER, good_vendor, 8000 * SCALE, 10_500 * SCALE, (7, 0, 6, 2, 3, 4))
    for p in problems:
        failed("fuzz-csv", f"smoothwall: {p}")
    assert not problems, problems


def test_fuzzed_surfprotect_excel_lines_are_all_counted():
    rng = random.Random(20261202)
    parser = surfprotect.make_parser(SP_HEADER, TZ)
    problems = run_fuzz(rng, parser, SP_HEADER, good_sp, 8000 * SCALE, 10_500 * SCALE, (6, 0, 5, 1, 2, 3))
    for p in problems:
        failed("fuzz-csv", f"surfprotect: {p}")
    assert not problems, problems
