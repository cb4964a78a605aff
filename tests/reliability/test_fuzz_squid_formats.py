"""Fuzzed squid variants: native lines with extra trailing fields, squid lines
in syslog envelopes, and a custom logformat; at least 10,000 fuzzed lines each.

Each batch mixes good lines (a unique sequence number in the reply-size field) with bad
ones of many kinds (random bytes, printable junk, NUL runs, latin-1 text that is
invalid UTF-8, fields swapped, lines cut before the user, an envelope with another
program's message or none). The batch is handed to the parser as the reader hands it
(the bytes plus a String column in which invalid UTF-8 lines are U+FFFD), in pieces of
a few thousand lines. Expected: no exception; every good line a row with its sequence
number; every bad line reported once, with its line number; rows + bad = lines.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pytest

from ingest import envelope, squid, tokens

from .helpers import LONG, tried

pytestmark = pytest.mark.slow  # long trials: -m 'not slow' leaves them out

N = 12_000 * (4 if LONG else 1)
UA = '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"'
USERS = ["alice", "-", "Mary Ann", "SCHOOL\\\\bob", "carol@SCHOOL.LAN", "dave%20x", "DOMAIN\\\\John Smith"]
CUSTOM = '%ts.%03tu %>a:%>p %[un %Ss/%03>Hs %<st %tr "%rm %ru HTTP/%rv" %Sh/%<a %mt "%{Referer}>h" "%{User-Agent}>h"'
ENVELOPES = ["Nov 30 09:17:01 proxy squid[1234]: ", "<134>Nov  3 09:17:01 proxy squid: ", "Nov 30 09:17:01 proxy ",
             "2026-11-30T09:17:01.123456+00:00 proxy squid[99]: ",
             '<134>1 2026-11-30T09:17:01+00:00 fw.lan (squid-1) 81234 - [meta sequenceId="7"] ',
             "<134>1 2026-11-30T09:17:01Z fw.lan squid - - - ", "Nov 30 09:17:01 pfSense (squid-1)[12345]: ",
             "Nov 30 2026 09:17:01 proxy squid[1234]: ", "2026-11-30 09:17:01\tLocal7.Info\t10.0.0.1\tsquid[123]: "]


@dataclass
class Formats:
    squid_logformat: str = "squid"
    csv: tuple = ()


@dataclass
class Cfg:
    formats: Formats = field(default_factory=Formats)


def native(rng: random.Random, seq: int, extras: bool) -> str:
    user = rng.choice(USERS)
    tag, hier = rng.choice([("TCP_TUNNEL/200", "HIER_DIRECT/1.2.3.4"), ("TCP_DENIED/403", "HIER_NONE/-"),
                            ("TCP_DENIED/407", "HIER_NONE/-"), ("TCP_MISS/200", "DIRECT/10.0.0.9"),
                            ("NONE_NONE/000", "NONE/-"), ("TCP_MISS/200", "FIRST_PARENT_MISS/proxy.lan")])
    ip = rng.choice(["10.0.0.5", "2001:db8::7", "fe80::1"])
    line = (f"{1795219200 + seq}.{seq % 1000:03d} {rng.randrange(100000):6d} {ip} {tag} {seq} CONNECT "
            f"www.facebook.com:443 {user} {hier} {rng.choice(['-', 'text/html'])}")
    if extras:
        line += " " + " ".join(rng.choice(['"-"', '"https://www.google.com/?q=a b"', UA, "vendor=tag", '"x \\"y\\""'])
                               for _ in range(rng.randrange(1, 4)))
    return line + ("\r" if rng.random() < 0.05 else "")


def custom(rng: random.Random, seq: int) -> str:
    user = rng.choice(["alice", "-", "SCHOOL\\\\bob", "dave%20x"])
    ip = rng.choice(["10.0.0.5:51234", "2001:db8::7:4000"])
    tag = rng.choice(["TCP_TUNNEL/200", "TCP_DENIED/403", "TCP_DENIED/407", "NONE_NONE/000"])
    return (f'{1795219200 + seq}.{seq % 1000:03d} {ip} {user} {tag} {seq} {rng.randrange(9999)} '
            f'"CONNECT www.facebook.com:443 HTTP/1.1" HIER_DIRECT/1.2.3.4 - "-" {rng.choice([UA, chr(34) + "-" + chr(34)])}')


def bad_line(rng: random.Random, good: str, variant: str) -> tuple[str, bytes]:
    kind = rng.choice(["bytes", "junk", "nul", "latin1", "swapped", "cut"] + (["envelope-other", "envelope-only"]
                                                                             if variant == "enveloped" else []))
    text = good.rstrip("\r")
    body = envelope.strip_line(text)
    fields = body.split(" ")
    if kind == "bytes":
        line = b"~" + rng.randbytes(rng.randint(1, 300)).replace(b"\n", b"\xff").replace(b"\r", b"\xff")
    elif kind == "junk":
        line = ("~" + "".join(rng.choice("abcxyz0123456789 ,./:-_?=&%\"'[]") for _ in range(rng.randint(1, 200))))\
            .encode()
    elif kind == "nul":
        line = b"\x00" * rng.randint(1, 100) + text.encode()
    elif kind == "latin1":
        line = text.encode() + " jos\u00e9".encode("latin-1")
    elif kind == "swapped":  # the time and the reply size swapped: no longer a timestamp first
        fields[0], fields[4] = "x" + fields[4], fields[0]
        line = (text[: len(text) - len(body)] + " ".join(fields)).encode()
    elif kind == "cut":  # before the user field (native) or inside the request (custom)
        line = (text[: len(text) - len(body)] + " ".join(fields[:7])).encode()
    elif kind == "envelope-other":
        line = (rng.choice(ENVELOPES) + rng.choice(["-- MARK --", "kernel: eth0 up", "x"])).encode()
    else:
        line = ENVELOPES[4].rstrip().encode()
    return kind, line


def reader_raw(lines: list[bytes]) -> tokens.Raw:
    """The batch as the reader gives it: the bytes, and a String column (invalid UTF-8 is U+FFFD)."""
    data = b"".join(ln + b"\n" for ln in lines)
    ends = np.cumsum([len(ln) + 1 for ln in lines]) - 1
    starts = ends - np.array([len(ln) for ln in lines])

    def text(b: bytes) -> str:
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return "\ufffd"
    column = pl.Series("line", [text(b) for b in lines], dtype=pl.String)
    return tokens.Raw(data, starts.astype(np.int64), ends.astype(np.int64), lines=lambda: column)


@pytest.mark.parametrize("variant", ["extra-fields", "enveloped", "custom"])
def test_fuzzed_squid_variants(variant):
    rng = random.Random(f"squid-{variant}")
    if variant == "custom":
        parser = squid.make_parser("", "UTC", Cfg(Formats(CUSTOM)))
    elif variant == "enveloped":
        parser = envelope.Enveloped(squid.make_parser("", "UTC"))
    else:
        parser = squid.make_parser("", "UTC")
    body: list[tuple[int | None, bytes]] = []
    kinds = Counter()
    for seq in range(N):
        if variant == "custom":
            good = custom(rng, seq)
        else:
            good = native(rng, seq, extras=variant == "extra-fields" or rng.random() < 0.3)
            if variant == "enveloped":
                good = rng.choice(ENVELOPES) + good
        body.append((seq, good.encode()))
        if rng.random() < 0.9:
            kind, line = bad_line(rng, good, variant)
            kinds[kind] += 1
            # the kernel's own message (its tag after an untagged envelope) is no line of squid's log: ignored
            body.append((-1 if line.startswith(b"Nov 30 09:17:01 proxy kernel:") else None, line))
    assert len(body) >= 20_000 and sum(kinds.values()) >= 10_000
    got_rows, got_bad = [], []
    first = 1
    for at in range(0, len(body), 5000):  # batches, line numbers running on
        piece = body[at:at + 5000]
        rows, bad = parser.parse(None, first, reader_raw([ln for _, ln in piece]))
        got_rows.append(rows)
        got_bad.append(bad)
        first += len(piece)
    rows, bad = pl.concat(got_rows), pl.concat(got_bad)
    want_seqs = [s for s, _ in body if s is not None and s >= 0]
    bad_numbers = [i + 1 for i, (s, _) in enumerate(body) if s is None]
    ignored = sum(1 for s, _ in body if s == -1)
    assert sorted(rows.get_column("bytes").to_list()) == want_seqs
    assert bad.get_column("line_no").to_list() == bad_numbers
    assert rows.height + bad.height + ignored == len(body)
    assert ignored > 20 or variant != "enveloped"
    assert bad.get_column("reason").null_count() == 0
    texts = dict(zip(bad.get_column("line_no").to_list(), bad.get_column("line").to_list()))
    for n in bad_numbers[:2000]:  # the quarantine keeps the line as it was (U+FFFD for invalid UTF-8)
        raw = body[n - 1][1]
        try:
            want = raw.decode("utf-8")
        except UnicodeDecodeError:
            want = "\ufffd"
        assert texts[n] == want, (n, raw[:80])
    tried("fuzz-squid-formats", f"{variant} lines", len(body))
    tried("fuzz-squid-formats", f"{variant} bad lines", len(bad_numbers))
