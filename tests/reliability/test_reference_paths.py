"""Every format read both ways: the compiled scanners and the reference paths give the same rows.

Without numba (or with SURFAUDIT_NO_JIT=1) each parser reads its lines with its
reference path: plain Python and polars (`ingest.fast` says which module holds
which). Here the same fixture lines, good and bad ones from the fuzz suites'
generators plus the sample logs, are parsed once with the compiled scanners and
once without, by parsers made in each mode; the rows (every column, in order)
and the bad lines (line number, reason, text) must be identical.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from ingest import envelope, fast, squid, surfprotect, vendor_csv
from ingest.reader import iter_batches, make_batch

from . import test_fuzz_formats as ff
from . import test_fuzz_squid_formats as fsq
from . import test_fuzz_vendor_csv as fcsv

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
N = 3000  # good lines per format, and about as many bad ones


def both_ways(monkeypatch, make_parser, batches: list) -> None:
    """Parse `batches` ([(first line number, tokens.Raw)]) with the compiled
    scanners and without; assert the same rows and bad lines."""
    monkeypatch.delenv("SURFAUDIT_NO_JIT", raising=False)
    assert fast.enabled(), "the compiled scanners (numba) are needed for this comparison"
    parser = make_parser()
    compiled = [parser.parse(None, first, raw) for first, raw in batches]
    monkeypatch.setenv("SURFAUDIT_NO_JIT", "1")
    assert not fast.enabled()
    parser = make_parser()
    reference = [parser.parse(None, first, raw) for first, raw in batches]
    for (rows_c, bad_c), (rows_r, bad_r) in zip(compiled, reference):
        assert_frame_equal(rows_c, rows_r)
        assert_frame_equal(bad_c, bad_r)
    assert sum(r.height for r, _ in compiled) > 0


@pytest.mark.parametrize("name", list(ff.FORMATS))
def test_filter_formats_read_the_same_both_ways(name, monkeypatch):
    """e2guardian, squidGuard and FortiGate: fuzzed good and bad lines (CRLF, IPv6,
    escaped names, invalid UTF-8, other record types)."""
    module, make_good, make_bad = ff.FORMATS[name]
    rng = random.Random(f"reference-{name}")
    good = [make_good(rng, seq)[0] for seq in range(N)]
    body = [line.encode() + (b"\r" if rng.random() < 0.2 else b"") for line in good]
    for _ in range(N):
        body.insert(rng.randint(0, len(body)), make_bad(rng, rng.choice(good))[1])
    body += [b"", b"   ", b"\t"]
    both_ways(monkeypatch, lambda: module.make_parser("", "Europe/London"),
              [(1, ff.as_raw(body[:2500])), (2501, ff.as_raw(body[2500:]))])


@pytest.mark.parametrize("variant", ["native", "extra-fields", "enveloped", "custom", "combined"])
def test_squid_variants_read_the_same_both_ways(variant, monkeypatch):
    """Native squid (with and without trailing fields), in syslog envelopes, a
    custom logformat and the combined format: fuzzed good and bad lines."""
    rng = random.Random(f"reference-squid-{variant}")
    body = []
    for seq in range(N):
        if variant == "custom":
            line = fsq.custom(rng, seq)
        elif variant == "combined":
            user = rng.choice(["-", "jsmith", "SCHOOL\\\\bob", "Mary%20Ann"])
            line = (f'10.0.0.{seq % 250} - {user} [30/Nov/2026:09:{seq % 60:02d}:01 +0000] '
                    f'"{rng.choice(["GET", "CONNECT"])} {rng.choice(["http://X.com/a", "x.com:443", "ftp://y/"])} '
                    f'HTTP/1.1" {rng.choice([200, 403, 407])} {seq} "-" {fsq.UA} TCP_MISS:HIER_DIRECT')
        else:
            line = fsq.native(rng, seq, extras=variant == "extra-fields" or rng.random() < 0.3)
            if variant == "enveloped":
                line = rng.choice(fsq.ENVELOPES) + line
        body.append(line.encode())
        body.append(fsq.bad_line(rng, line, variant)[1])
    if variant in ("custom", "combined"):
        logformat = fsq.CUSTOM if variant == "custom" else "combined"

        def make():
            return squid.make_parser("", "UTC", fsq.Cfg(fsq.Formats(logformat)))
    elif variant == "enveloped":
        def make():
            return envelope.Enveloped(squid.make_parser("", "UTC"))
    else:
        def make():
            return squid.make_parser("", "UTC")
    both_ways(monkeypatch, make, [(1, fsq.reader_raw(body[:3000])), (3001, fsq.reader_raw(body[3000:]))])


@pytest.mark.parametrize("kind", ["smoothwall", "surfprotect"])
def test_csv_exports_read_the_same_both_ways(kind, monkeypatch):
    """A vendor CSV format and SurfProtect: quoted fields, UK dates, cp1252 and
    UTF-8 lines, clock-change days, bad lines of every kind."""
    rng = random.Random(f"reference-{kind}")
    if kind == "smoothwall":
        header, good, layout = fcsv.VENDOR_HEADER, fcsv.good_vendor, (7, 0, 6, 2, 3, 4)

        def make():
            return vendor_csv.VendorCsv(fcsv.VENDOR).make_parser(header, fcsv.TZ)
    else:
        header, good, layout = fcsv.SP_HEADER, fcsv.good_sp, (6, 0, 5, 1, 2, 3)

        def make():
            return surfprotect.make_parser(header, fcsv.TZ)
    goods = [good(rng, seq) for seq in range(N)]
    body = list(goods)
    for _ in range(N):
        body.insert(rng.randrange(len(body) + 1), fcsv.bad_line(rng, rng.choice(goods), *layout)[1])
    body += [b"", b",,,,,,", header.encode()]
    blobs = [b"".join(line + rng.choice([b"\n", b"\r\n"]) for line in part) for part in (body[:2000], body[2000:])]
    both_ways(monkeypatch, make, [(2, make_batch(blobs[0], 2, 0).raw()), (2002, make_batch(blobs[1], 2002, 0).raw())])


@pytest.mark.parametrize("name", ["access.log", "surfprotect-export.csv"])
def test_sample_logs_read_the_same_both_ways(name, monkeypatch):
    path = SAMPLES / name
    header = 1 if name.endswith(".csv") else 0
    module = surfprotect if header else squid
    first = path.read_text().splitlines()[0]
    batches = [(b.first_line_no + header, b.raw().slice(header)) if b.first_line_no == 1 else (b.first_line_no, b.raw())
               for b in iter_batches(path)]
    both_ways(monkeypatch, lambda: module.make_parser(first, "Europe/London"), batches)


def test_the_reader_splits_lines_the_same_both_ways(monkeypatch):
    rng = random.Random(7)
    blob = b"".join(rng.choice([b"a", b"\n", b"bc", b"\r\n", b"\xff"]) for _ in range(20_000)) + b"\n"
    monkeypatch.delenv("SURFAUDIT_NO_JIT", raising=False)
    compiled = make_batch(blob, 1, 0)
    monkeypatch.setenv("SURFAUDIT_NO_JIT", "1")
    reference = make_batch(blob, 1, 0)
    assert compiled.offsets.tolist() == reference.offsets.tolist()
    assert compiled.lines.to_list() == reference.lines.to_list()
