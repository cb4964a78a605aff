"""Line ends read the same whatever the read sizes: a bare CR is LF, CRLF stays."""

from __future__ import annotations

import io
import random
import re

from ingest.streams import _LineEnds


def _reference(data: bytes) -> bytes:
    return re.sub(rb"\r(?!\n)", b"\n", data)


def _read_all(stream, rng: random.Random) -> bytes:
    out = bytearray()
    while True:
        buf = bytearray(rng.choice([1, 1, 2, 3, 5, 64, 4096]))
        n = stream.readinto(buf)
        if n == 0:
            return bytes(out)
        out += buf[:n]


def test_bare_crs_become_lfs_at_every_read_boundary():
    rng = random.Random(7)
    for _ in range(4000):
        data = bytes(rng.choice(b"\r\nab") for _ in range(rng.randint(0, 80)))
        k = rng.randint(0, len(data))  # bytes already read to sniff the file come first
        got = _read_all(_LineEnds(io.BytesIO(data[k:]), data[:k]), rng)
        assert got == _reference(data), data
        assert len(got) == len(data)  # byte for byte: offsets and checkpoints unchanged


def test_known_cases():
    rng = random.Random(1)
    for data, want in [(b"a\r\nb\rc\n", b"a\r\nb\nc\n"), (b"\r", b"\n"), (b"\r\r\n", b"\n\r\n"), (b"", b""),
                       (b"x" * 10000 + b"\r", b"x" * 10000 + b"\n")]:
        assert _read_all(_LineEnds(io.BytesIO(data)), rng) == want
