"""The optimised ingest path produces exactly the rows of a plain reference.

The reference below is deliberately slow and simple: Python, one line at a time,
written from DESIGN §3/§4 rather than from the vectorised code. The fast path is
the real reader (zero-copy string views, batches, prefetch thread) plus the real
squid parser. Both must give the same multiset of rows and the same bad line
numbers, on the sample logs and on a generated file with every quirk.
"""

from __future__ import annotations

import gzip
import math
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from ingest import squid, surfprotect
from ingest.reader import iter_batches, prefetch
from surfaudit.schema import COLUMNS

SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"

# -- the reference ---------------------------------------------------------------
_NUM = {
    "ts": re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?"),
    "elapsed": re.compile(r"-?[0-9]{1,12}"),
    "status": re.compile(r"([^ /]+)/([0-9]{1,4})"),
    "bytes": re.compile(r"[0-9]{1,18}"),
}


def ref_fields(line: str) -> list[str] | None:
    """7 fields from the left, 2 from the right, the rest (spaces kept) is the user."""
    line = line.rstrip("\r").lstrip(" ").rstrip(" ")
    left = []
    rest = line
    for _ in range(7):
        if " " not in rest:
            return None
        head, rest = rest.split(" ", 1)
        left.append(head)
        rest = rest.lstrip(" ")
    parts = rest.rsplit(" ", 1)
    if len(parts) != 2 or not parts[1]:
        return None
    parts2 = parts[0].rstrip(" ").rsplit(" ", 1)
    if len(parts2) != 2 or not parts2[1]:
        return None
    user = parts2[0].rstrip(" ")
    if not user or not all(left):
        return None
    ts, elapsed, client, tagstatus, nbytes, method, url = left
    if not (_NUM["ts"].fullmatch(ts) and _NUM["elapsed"].fullmatch(elapsed) and _NUM["status"].fullmatch(tagstatus)
            and _NUM["bytes"].fullmatch(nbytes)):
        return None
    return [ts, elapsed, client, tagstatus, nbytes, method, url, user]


def ref_host(url: str) -> str | None:
    if url.startswith("error:"):
        return None
    h = re.sub(r"^[A-Za-z][A-Za-z0-9+._\-]*://", "", url, count=1)
    for sep in "/?#":
        h = h.split(sep, 1)[0]
    if "@" in h:
        h = h.rsplit("@", 1)[1]
    if h.startswith("["):
        m = re.match(r"^\[([^\]]*)\]", h)
        if m is None:
            return None
        h = m.group(1)
    elif h.count(":") == 1:
        h = re.sub(r":[0-9]*$", "", h)
    h = h.lower().rstrip(".")
    return h or None


def ref_parse(lines: list[str | None]) -> tuple[list[tuple], list[int]]:
    """(rows, bad line numbers) of a squid file's decoded lines, one at a time."""
    rows, bad = [], []
    for no, line in enumerate(lines, start=1):
        if line is not None and line.rstrip("\r").strip(" \t") == "":
            continue
        f = ref_fields(line) if line is not None else None
        if f is None:
            bad.append(no)
            continue
        ts, elapsed, client, tagstatus, nbytes, method, url, user = f
        tag, status = tagstatus.split("/")
        status = int(status)
        if status == 407:
            action = "auth"
        elif tag.startswith(("NONE", "TAG_NONE")) or url.startswith("error:"):
            action = "error"
        elif "_DENIED" in tag:
            action = "blocked"
        else:
            action = "allowed"
        username = None if user == "-" else squid.unescape_user(user)
        ident = username.strip().lower() if username is not None else ""
        ms = math.floor(float(ts) * 1000.0 + 0.5)
        rows.append((datetime.fromtimestamp(ms / 1000, timezone.utc).replace(microsecond=(ms % 1000) * 1000),
                     ident or client, username, client, None if method == "-" else method, ref_host(url), url,
                     action, status, int(nbytes), int(elapsed), None, "squid"))
    return rows, bad


# -- the fast path ---------------------------------------------------------------
def fast_parse(path: Path, block: int | None = None) -> tuple[list[tuple], list[int]]:
    parser = squid.Parser()
    rows, bad = [], []
    kw = {"block": block} if block else {}
    for batch in prefetch(iter_batches(path, **kw)):
        r, b = parser.parse(batch.lines.fill_null("\ufffd"), batch.first_line_no)
        rows.extend(r.select(COLUMNS).iter_rows())
        bad.extend(b.get_column("line_no").to_list())
    return rows, bad


def decoded_lines(path: Path) -> list[str | None]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out = []
    for raw in data.split(b"\n")[:-1]:  # the unterminated tail is not read
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(None)
    return out


QUIRKS = [
    "1793606580.000    217 10.20.1.12 TCP_TUNNEL/200 71868 CONNECT www.Facebook.COM.:443 bokafor HIER_DIRECT/1.2.3.4 -",
    "1793606581.5 5 10.20.1.12 TCP_MISS/200 100 GET http://user:pw@Example.org:8080/a?b#c Anna%20Smith HIER_DIRECT/1.2.3.4 text/html",
    "1793606582.123      0 10.20.1.13 TCP_DENIED/403 3900 GET http://www.tiktok.com/ SCHOOL\\\\jdoe HIER_NONE/- text/html",
    "1793606583.999      1 10.20.1.14 TCP_DENIED/407 3900 CONNECT x.com:443 - HIER_NONE/- text/html",
    "1793606584.000      1 2001:db8::1 NONE_NONE/000 0 - error:invalid-request - HIER_NONE/- -",
    "1793606585.000      1 fe80::2 TAG_NONE/503 0 CONNECT [2001:db8::5]:443 Mary Jane Watson HIER_NONE/- -",
    "1793606586.250     12 10.0.0.1 TCP_MISS/200 512 GET https://[::1]:8443/x  John   Smith   HIER_DIRECT/::1 text/html",
    "1793606587.000     12 10.0.0.2 TCP_MISS/200 512 GET http://Host.Example.COM./ -  HIER_DIRECT/1.1.1.1 -\r",
    "  1793606588.000 12 10.0.0.3 TCP_HIT/200 1 GET http://a.b/ %E2%9C%93user HIER_NONE/- - \r",
    "1793606589.000 12 10.0.0.3 TCP_HIT/200 1 GET http://a.b/ user HIER_NONE/- \r",
    "1793606590.000 -1 10.0.0.4 TCP_DENIED_REPLY/302 0 GET http://c.d/ DOM\\\\Üser HIER_NONE/- -",
    "not a squid line at all",
    "1793606591.000 12 10.0.0.5 TCP_MISS/200 abc GET http://e.f/ u HIER_NONE/- -",
    "17936065920000000.000 12 10.0.0.5 TCP_MISS/200 1 GET http://e.f/ u HIER_NONE/- -",
    "1793606593.000 12 10.0.0.5 TCP_MISS 1 GET http://e.f/ u HIER_NONE/- -",
    "",
    "   \t",
    "\r",
    "1793606594.000 12 10.0.0.6 TCP_MISS/200 1 GET short",
    "1793606595.000 12 10.0.0.7 TCP_MISS/200 1 GET http://g.h/ user HIER_NONE/- -  ",
    "1793606596.000 12 10.0.0.8 TCP_TUNNEL/200 1 CONNECT host.only 🙂user HIER_NONE/- -",
]


def quirk_file(tmp_path: Path, copies: int = 3) -> Path:
    body = "\n".join(QUIRKS * copies).encode() + b"\n"
    body += b"1793606597.000 12 10.0.0.9 TCP_MISS/200 1 GET http://i.j/ \xff\xfe HIER_NONE/- -\n"
    body += "1793606598.000 12 10.0.0.9 TCP_MISS/200 1 GET http://i.j/ last HIER_NONE/- -\n".encode()
    body += b"1793606599.000 12 10.0.0.9 unterminated"
    path = tmp_path / "quirks.log"
    path.write_bytes(body)
    return path


def assert_same(path: Path, block: int | None = None) -> None:
    fast_rows, fast_bad = fast_parse(path, block)
    ref_rows, ref_bad = ref_parse(decoded_lines(path))
    assert sorted(fast_bad) == ref_bad
    assert Counter(fast_rows) == Counter(ref_rows)


@pytest.mark.parametrize("name", ["access.log", "access.log.1.gz"])
def test_samples_match_reference(name):
    assert_same(SAMPLES / name)


@pytest.mark.parametrize("block", [None, 997, 64])
def test_quirks_match_reference(tmp_path, block):
    path = quirk_file(tmp_path)
    rows, bad = ref_parse(decoded_lines(path))
    assert len(rows) > 30 and len(bad) > 10  # the file exercises both sides
    assert_same(path, block)


def test_quirks_gz_match_reference(tmp_path):
    plain = quirk_file(tmp_path)
    gz = tmp_path / "quirks.log.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert_same(gz, 128)


def test_reader_lines_are_the_plain_split(tmp_path):
    """Zero-copy string views: every line (short, long, CRLF, empty, multibyte, invalid) as plainly split."""
    path = quirk_file(tmp_path)
    for block in (None, 50, 7):
        kw = {"block": block} if block else {}
        got, numbers = [], []
        for batch in iter_batches(path, **kw):
            got.extend(batch.lines.to_list())
            numbers.extend(range(batch.first_line_no, batch.first_line_no + len(batch.lines)))
            for i in range(len(batch.lines)):
                if batch.lines[i] is None:
                    assert "\ufffd" in batch.raw_line(i)
        assert got == decoded_lines(path)
        assert numbers == list(range(1, len(got) + 1))


@pytest.mark.parametrize("size", [0, 1, 7, 8, 63, 64, 65, 127, 128, 129, 1000, 100_003])
def test_line_offsets_are_every_newline(size):
    """The compiled newline search (64 bytes at a time, then the tail) finds exactly
    the newlines numpy finds, for every block boundary and newline density."""
    import numpy as np

    from ingest.fast.scan_util import line_offsets
    from ingest.tokens import windows8

    rng = np.random.default_rng(size)
    for density in (0.0, 0.02, 0.5, 1.0):
        data = np.where(rng.random(size) < density, 10, 97).astype(np.uint8)
        want = np.concatenate([[0], np.flatnonzero(data == 10) + 1])
        got = line_offsets(data, windows8(data))
        assert got.dtype == np.int64
        assert got.tolist() == want.tolist()


def test_every_batch_size_gives_the_scanners_one_signature():
    """A batch of 0-8 bytes (empty, blank lines, one short line) has the same numba
    types as a big one: its own signature cost each scanner a second compile, about
    two minutes on a cold cache. The words the padded copy holds are the data's."""
    import numba
    import numpy as np

    from ingest.fast.scan_util import word_at
    from ingest.tokens import windows8

    big = np.frombuffer(b"2026.11.30 9:17:01 a", dtype=np.uint8)
    want = numba.typeof(windows8(big))
    for n in range(0, 21):
        data = big[:n]
        words = windows8(data)
        assert numba.typeof(words) == want, n
        for at in range(n):
            for k in range(0, min(8, n - at) + 1):
                assert int(word_at.py_func(words, data, at, k)) == int.from_bytes(data[at:at + k].tobytes(), "little")


def test_surfprotect_sample_rows_unchanged_by_reader():
    """The SurfProtect parser sees the same lines through the fast reader as through a plain split."""
    path = SAMPLES / "surfprotect-export.csv"
    lines = decoded_lines(path)
    parser = surfprotect.make_parser(lines[0], "Europe/London")
    ref_rows, ref_bad = parser.parse(pl.Series("line", lines[1:], dtype=pl.String), 2)
    fast = [parser.parse(b.lines.slice(1) if b.first_line_no == 1 else b.lines,
                         b.first_line_no + (1 if b.first_line_no == 1 else 0)) for b in prefetch(iter_batches(path))]
    assert Counter(pl.concat([r for r, _ in fast]).iter_rows()) == Counter(ref_rows.iter_rows())
    assert pl.concat([b for _, b in fast]).get_column("line_no").to_list() == ref_bad.get_column("line_no").to_list()


def test_prefetch_propagates_errors_and_stops():
    def boom():
        yield 1
        raise ValueError("corrupt")

    it = prefetch(boom())
    assert next(it) == 1
    with pytest.raises(ValueError):
        next(it)
    early = prefetch(iter(range(100)), depth=1)
    assert next(early) == 0
    early.close()  # the thread is stopped, not left blocked on a full queue


def test_the_compiled_utf8_check_accepts_what_pythons_strict_decoder_does():
    """One UTF-8 rule for every compiled scanner and the batch transcoder: overlong
    forms, surrogates, code points above U+10FFFF, stray and truncated sequences."""
    import numpy as np

    bytescan = pytest.importorskip("ingest.fast.bytescan")
    cases = [b"plain", "caf\u00e9".encode(), "\u20ac".encode(), "\U0001f600".encode(), "\U0010ffff".encode(),
             b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xed\x9f\xbf",
             b"\xf0\x80\x80\xaf", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff",
             b"\x80", b"a\xbfb", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3", b"x\xc3\xa9\xe2\x82\xacy\xf0\x9f\x98\x80z",
             b"\xc3\x28", b"\xe2\x28\xa1", b"\xef\xbb\xbfBOM", "\ufffd".encode()]
    for raw in cases:
        try:
            raw.decode("utf-8")
            expected = True
        except UnicodeDecodeError:
            expected = False
        data = np.frombuffer(raw, dtype=np.uint8)
        assert bool(bytescan.utf8_ok(data, 0, len(raw))) is expected, raw
