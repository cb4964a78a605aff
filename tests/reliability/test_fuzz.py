"""Fuzzed input: bad lines mixed into good squid logs and SurfProtect CSVs.

Bad lines: random bytes, random printable junk, truncated good lines, huge lines
(> 64 KB), NUL bytes (a NUL run before a line, as after a crash with preallocation),
latin-1 text (invalid UTF-8), and good lines with two fields swapped; some end in
CRLF. Good lines are kept whatever their line ending (some use CRLF). Each file is
ingested by the real CLI: no traceback, every good line stored once, every bad line
counted in `rejected` and quarantined with its line number. Compressed files that are
corrupt or truncated are rejected whole, with the file named, and the others still go in.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import zstandard

from surfaudit.store import Store

from .helpers import LONG, SP_HEADER, assert_clean_stderr, failed, run_cli, squid, surfprotect, tried, \
    visible_column

pytestmark = pytest.mark.slow  # long trials: -m 'not slow' leaves them out

UTC = timezone.utc
NOW = "2026-11-20T12:00:00+00:00"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SCALE = 4 if LONG else 1


_ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789 ,./:-_?=&%\"'"
_PRINTABLE = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))


def _junk(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n).translate(_PRINTABLE)


def _random_bytes(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n).replace(b"\n", b"\xff")


def bad_squid(rng: random.Random, good: str) -> tuple[str, bytes]:
    kind = rng.choice(["bytes", "junk", "truncated", "huge", "nul", "latin1", "swapped"])
    f = good.split(" ")
    fields = [x for x in f if x]
    if kind == "bytes":
        line = _random_bytes(rng, rng.randint(1, 400))
    elif kind == "junk":
        line = _junk(rng, rng.randint(1, 300))
    elif kind == "truncated":  # cut before the last field: never a whole squid line
        line = good.encode()[: rng.randint(1, len(good) - 3)]
    elif kind == "huge":
        line = _junk(rng, rng.randint(65 * 1024, 90 * 1024))
    elif kind == "nul":
        line = b"\x00" * rng.randint(1, 4000) + good.encode() if rng.random() < 0.5 else \
            b"\x00" + good.encode()[1:]
    elif kind == "latin1":
        line = good.replace(" alice ", " jos\u00e9 ").replace(" bob ", " ren\u00e9e ") \
            .replace(" carol ", " fran\u00e7ois ").encode("latin-1")
    else:  # swap the status tag with the size, or the time with the client IP
        i, j = rng.choice([(3, 4), (0, 2)])
        fields[i], fields[j] = fields[j], fields[i]
        line = " ".join(fields).encode()
    line = line.replace(b"\r", b"?")  # a bare CR is a line end: it would make two lines
    if not line.strip(b" \t\r\x0b\x0c"):
        line = b"~" + line
    return kind, line


def bad_csv(rng: random.Random, good: str) -> tuple[str, bytes]:
    # (no "latin1" kind here: a SurfProtect line that is not UTF-8 is read as cp1252, as
    # Excel on Windows saves it; tests/reliability/test_fuzz_vendor_csv.py fuzzes that)
    kind = rng.choice(["bytes", "junk", "truncated", "huge", "nul", "swapped", "quote"])
    cells = good.split(",")
    if kind == "bytes":
        line = _random_bytes(rng, rng.randint(1, 400))
    elif kind == "junk":
        line = _junk(rng, rng.randint(1, 300))
    elif kind == "truncated":
        line = good.encode()[: rng.randint(1, len(good) - 1)]
    elif kind == "huge":
        line = _junk(rng, rng.randint(65 * 1024, 90 * 1024))
    elif kind == "nul":
        line = b"\x00" * rng.randint(1, 4000) + good.encode()
    elif kind == "swapped":  # time <-> decision, or category <-> decision
        i, j = rng.choice([(0, 5), (4, 5)])
        cells[i], cells[j] = cells[j], cells[i]
        line = ",".join(cells).encode()
    else:
        line = ('"' + good).encode()
    line = line.replace(b"\r", b"?")  # a bare CR is a line end: it would make two lines
    if not line.strip(b" \t\r\x0b\x0c"):
        line = b"~" + line
    return kind, line


def make_file(path: Path, rng: random.Random, n_good: int, n_bad: int, first_seq: int, csv: bool):
    """Write a file; return (expected urls, bad line numbers, kinds)."""
    good, urls = [], []
    for i in range(n_good):
        seq, ts = first_seq + i, T0 + timedelta(seconds=3 * (first_seq + i))
        if csv:
            good.append(surfprotect(seq, ts, ("alice", "bob", "carol")[i % 3]))
            urls.append(f"https://www.facebook.com/s{seq}")
        else:
            url = f"http://www.facebook.com/s{seq}"
            good.append(squid(seq, ts, ("alice", "bob", "carol")[i % 3], url=url))
            urls.append(url)
    body: list[tuple[bool, bytes]] = [(True, g.encode()) for g in good]
    kinds = Counter()
    for _ in range(n_bad):
        kind, line = (bad_csv if csv else bad_squid)(rng, rng.choice(good))
        kinds[kind] += 1
        body.insert(rng.randint(30, len(body)), (False, line))  # the first 30 lines stay good (detection)
    out, bad_numbers = [SP_HEADER.encode() + b"\n"] if csv else [], set()
    offset = 2 if csv else 1
    for i, (ok, line) in enumerate(body):
        out.append(line + (b"\r\n" if rng.random() < 0.2 else b"\n"))
        if not ok:
            bad_numbers.add(i + offset)
    path.write_bytes(b"".join(out))
    return urls, bad_numbers, kinds


def test_fuzzed_lines_are_counted_and_quarantined(tmp_path):
    rng = random.Random(20261124)
    logs, store = tmp_path / "logs", tmp_path / "store"
    logs.mkdir()
    expected_urls, expected_bad, kinds, files = Counter(), set(), Counter(), {}
    seq = 0
    for i in range(3 * SCALE):
        name = f"squid-{i}.log"
        urls, bad, k = make_file(logs / name, rng, 3000, 2200, seq, csv=False)
        seq += 3000
        files[name] = (len(urls), len(bad))
        expected_urls.update(urls)
        expected_bad |= {(name, n) for n in bad}
        kinds.update(k)
    for i in range(2 * SCALE):
        name = f"surfprotect-{i}.csv"
        urls, bad, k = make_file(logs / name, rng, 3000, 2000, seq, csv=True)
        seq += 3000
        files[name] = (len(urls), len(bad))
        expected_urls.update(urls)
        expected_bad |= {(name, n) for n in bad}
        kinds.update(k)
    assert len(expected_bad) >= 10_000
    run = run_cli("--store", str(store), "ingest", "--summary", "json", str(logs), now=NOW)
    assert_clean_stderr(run)
    assert run.code == 1  # bad lines were rejected
    results = {Path(r["file"]).name: r for r in json.loads(run.out)}
    problems = []
    for name, (n_good, n_bad) in files.items():
        r = results[name]
        if (r["rows"], r["rejected"], r["error"]) != (n_good, n_bad, None):
            problems.append(f"{name}: rows {r['rows']}/{n_good}, rejected {r['rejected']}/{n_bad}, error {r['error']}")
    s = Store(store)
    got = visible_column(s, "url")
    q = s.read_quarantine()
    quarantined = set(zip(q["file"].to_list(), q["line_no"].to_list()))
    if got != expected_urls:
        problems.append(f"rows: {sum((expected_urls - got).values())} good lines lost, "
                        f"{sum((got - expected_urls).values())} rows extra")
    if quarantined != expected_bad or q.height != len(expected_bad):
        problems.append(f"quarantine: {len(expected_bad - quarantined)} bad lines missing, "
                        f"{len(quarantined - expected_bad)} good lines quarantined, {q.height} entries")
    tried("fuzz", "bad lines", len(expected_bad))
    tried("fuzz", "good lines", sum(expected_urls.values()))
    for kind, n in kinds.items():
        tried("fuzz", f"bad:{kind}", n)
    for p in problems:
        failed("fuzz", p)
    assert not problems, problems


def test_huge_good_line_is_kept_up_to_the_limit(tmp_path):
    """A well-formed line with a 100 KB URL is a good line when [ingest] max_line_bytes
    allows it; over the limit (default 64 KiB) it is rejected as too long."""
    lines = [squid(i, T0 + timedelta(seconds=i), url=f"http://www.facebook.com/s{i}") for i in range(40)]
    lines.insert(35, squid(999, T0, url="http://www.facebook.com/s999?q=" + "a" * 100_000))
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    config = tmp_path / "surfaudit.toml"
    config.write_text("[ingest]\nmax_line_bytes = 262144\n")
    run = run_cli("--config", str(config), "--store", str(tmp_path / "store"), "ingest", "--summary", "json",
                  str(path), now=NOW)
    assert_clean_stderr(run, (0,))
    assert json.loads(run.out)[0]["rows"] == 41
    default = run_cli("--store", str(tmp_path / "store2"), "ingest", "--summary", "json", str(path), now=NOW)
    assert_clean_stderr(default, (1,))
    (r,) = json.loads(default.out)
    assert (r["rows"], r["rejected"]) == (40, 1)
    tried("fuzz", "huge good lines")


COMPRESSORS = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda data: zstandard.ZstdCompressor(write_checksum=True).compress(data),
}


def test_corrupt_and_truncated_compressed_files_are_rejected_whole(tmp_path):
    rng = random.Random(5)
    logs, store = tmp_path / "logs", tmp_path / "store"
    logs.mkdir()
    seq, bad_files = 0, []
    good_urls = Counter()
    for ext, compress in COMPRESSORS.items():
        for damage in ("corrupt", "truncated", "intact"):
            lines = [squid(seq + i, T0 + timedelta(seconds=5 * (seq + i)), url=f"http://x.com/s{seq + i}")
                     for i in range(4000)]
            data = compress(("\n".join(lines) + "\n").encode())
            if damage == "corrupt":
                blob = bytearray(data)
                at = rng.randint(len(blob) // 3, 2 * len(blob) // 3)
                for k in range(32):
                    blob[at + k] ^= 0xA5
                data = bytes(blob)
            elif damage == "truncated":
                data = data[: rng.randint(len(data) // 4, len(data) - 8)]
            name = f"{damage}{ext}"
            (logs / name).write_bytes(data)
            if damage == "intact":
                good_urls.update(f"http://x.com/s{seq + i}" for i in range(4000))
            else:
                bad_files.append(name)
            seq += 4000
    plain = [squid(seq + i, T0 + timedelta(seconds=5 * (seq + i)), url=f"http://x.com/s{seq + i}") for i in range(500)]
    (logs / "plain.log").write_text("\n".join(plain) + "\n")
    good_urls.update(f"http://x.com/s{seq + i}" for i in range(500))
    run = run_cli("--store", str(store), "ingest", "--summary", "json", str(logs), now=NOW)
    assert_clean_stderr(run)
    assert run.code == 1
    results = {Path(r["file"]).name: r for r in json.loads(run.out)}
    problems = []
    for name in bad_files:
        r = results[name]
        if r["error"] is None or r["rows"] != 0:
            problems.append(f"{name}: not rejected whole (rows {r['rows']}, error {r['error']})")
        elif not any(name in line and line.startswith("surfaudit: error:") for line in run.err.splitlines()):
            problems.append(f"{name}: the error does not name the file")
    s = Store(store)
    named = {r.get("file") for r in s.manifest()}
    problems += [f"{name}: has a manifest record" for name in bad_files if name in named]
    if visible_column(s, "url") != good_urls:
        problems.append("stored rows are not exactly the intact files' lines")
    if s.read_quarantine().height:
        problems.append("something was quarantined from a rejected file")
    tried("fuzz", "damaged compressed files", len(bad_files))
    for p in problems:
        failed("fuzz", p)
    assert not problems, problems
