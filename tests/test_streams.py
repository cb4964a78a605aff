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


# -- UTF-16 ("Unicode Text" from Excel, "Unicode" from Notepad) -------------------

def _utf16_files(tmp_path, text: str):
    import gzip

    le = tmp_path / "le.txt"
    le.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    be = tmp_path / "be.txt"
    be.write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    gz = tmp_path / "le.txt.gz"
    gz.write_bytes(gzip.compress(le.read_bytes()))
    return le, be, gz


def test_utf16_with_either_bom_reads_as_utf8_whatever_the_read_sizes(tmp_path):
    from ingest.streams import open_stream

    text = "Zeit\tBenutzer\tURL\r\n" + "".join(f"30/11/2026 09:{i % 60:02d}\tJosé Ñúñez\thttp://x.com/{i}\r\n"
                                              for i in range(3000)) + "last 𝄞 line, no end"
    for path in _utf16_files(tmp_path, text):
        with open_stream(path) as fh:
            got = _read_all(fh, random.Random(3))
        assert got == text.encode("utf-8"), path.name


def test_damaged_utf16_rejects_the_file_naming_it(tmp_path):
    import pytest

    from ingest.streams import read_blocks
    from surfaudit.errors import InputError

    bad = tmp_path / "export.txt"
    bad.write_bytes(b"\xff\xfe" + "user,url\n".encode("utf-16-le") + b"\x00\xd8" + "x\n".encode("utf-16-le"))
    with pytest.raises(InputError, match=r"export\.txt: corrupt or truncated file \(not valid UTF-16 text"):
        list(read_blocks(bad))
    odd = tmp_path / "cut.txt"
    odd.write_bytes(b"\xff\xfe" + "user,url\n".encode("utf-16-le") + b"x")  # an odd trailing byte
    with pytest.raises(InputError, match=r"cut\.txt: corrupt or truncated file"):
        list(read_blocks(odd))


def test_a_file_that_only_starts_like_utf16_is_not_touched(tmp_path):
    from ingest.streams import open_stream

    plain = tmp_path / "a.log"
    plain.write_bytes(b"\xff\xfd" + b"abc\n")
    with open_stream(plain) as fh:
        assert fh.read() == b"\xff\xfdabc\n"
