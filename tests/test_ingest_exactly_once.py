"""Exactly-once ingest: fingerprints by content, not by path."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
from datetime import timedelta

import duckdb
import pytest
import zstandard

from ingest.pipeline import ingest_paths
from surfaudit.config import Config
from surfaudit.store import Store
from tests.conftest import squid_line, utc

NOW = utc(2026, 11, 20, 12, 0)
T0 = utc(2026, 11, 2, 9, 0)


def lines(start: int, count: int) -> str:
    return "".join(squid_line(T0 + timedelta(seconds=10 * i), user=f"u{i % 7}") + "\n" for i in range(start, start + count))


def count_rows(store: Store) -> int:
    con = duckdb.connect()
    store.events_view(con)
    return con.execute("select count(*) from events").fetchone()[0]


def distinct_rows(store: Store) -> int:
    con = duckdb.connect()
    store.events_view(con)
    return con.execute("select count(*) from (select distinct * from events)").fetchone()[0]


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


def ingest(store, *paths):
    with store.lock():
        return ingest_paths(store, Config(store_path=store.root), list(paths), now=NOW)


def test_same_file_twice_adds_nothing(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 100))
    first, = ingest(store, log)
    second, = ingest(store, log)
    assert (first.rows, second.rows, second.duplicates) == (100, 0, 100)
    assert count_rows(store) == 100


def test_renamed_copy_adds_nothing(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 50))
    ingest(store, log)
    copy = tmp_path / "other-name.txt"
    shutil.copy(log, copy)
    result, = ingest(store, copy)
    assert result.rows == 0 and result.duplicates == 50
    assert count_rows(store) == 50


@pytest.mark.parametrize("suffix,opener", [
    (".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open),
    (".zst", lambda p, m: zstandard.open(p, m)),
])
def test_compressed_copy_adds_nothing(store, tmp_path, suffix, opener):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 40))
    ingest(store, log)
    packed = tmp_path / f"access.log.1{suffix}"
    with opener(packed, "wb") as fh:
        fh.write(log.read_bytes())
    result, = ingest(store, packed)
    assert result.error is None and result.rows == 0 and result.duplicates == 40
    assert count_rows(store) == 40


def test_compressed_first_then_plain(store, tmp_path):
    packed = tmp_path / "a.gz"
    with gzip.open(packed, "wt") as fh:
        fh.write(lines(0, 30))
    ingest(store, packed)
    plain = tmp_path / "a.log"
    plain.write_text(lines(0, 30))
    assert ingest(store, plain)[0].rows == 0
    assert count_rows(store) == 30


def test_rotation_chain(store, tmp_path):
    """access.log -> access.log.1 -> access.log.1.gz, with growth between runs."""
    live = tmp_path / "access.log"
    live.write_text(lines(0, 60))
    assert ingest(store, live)[0].rows == 60
    with live.open("a") as fh:  # the proxy keeps writing
        fh.write(lines(60, 15))
    live.rename(tmp_path / "access.log.1")  # logrotate
    live.write_text(lines(75, 10))  # a new live file
    results = ingest(store, tmp_path / "access.log.1", live)
    assert [r.rows for r in results] == [15, 10]
    with open(tmp_path / "access.log.1", "rb") as src, gzip.open(tmp_path / "access.log.1.gz", "wb") as dst:
        dst.write(src.read())
    (tmp_path / "access.log.1").unlink()
    assert ingest(store, tmp_path / "access.log.1.gz")[0].rows == 0
    assert count_rows(store) == 85 == distinct_rows(store)


def test_grown_file_adds_only_new_lines(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 20))
    ingest(store, log)
    with log.open("a") as fh:
        fh.write(lines(20, 5))
    result, = ingest(store, log)
    assert (result.rows, result.duplicates) == (5, 20)
    assert count_rows(store) == 25 == distinct_rows(store)


def test_unterminated_last_line_waits(store, tmp_path):
    log = tmp_path / "access.log"
    full = lines(0, 10)
    log.write_text(full + lines(10, 1).rstrip("\n")[:40])  # proxy mid-write
    assert ingest(store, log)[0].rows == 10
    log.write_text(full + lines(10, 1))  # the line is finished
    assert ingest(store, log)[0].rows == 1
    assert count_rows(store) == 11


def test_file_with_no_complete_line_is_left_for_later(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_line(T0)[:30])
    result, = ingest(store, log)
    assert (result.rows, result.error) == (0, None)
    assert count_rows(store) == 0


def test_same_content_twice_in_one_run(store, tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text(lines(0, 12))
    b.write_text(lines(0, 12))
    assert [r.rows for r in ingest(store, a, b)] == [12, 0]


def test_checkpoints_are_blake3_and_sha256_ones_from_older_stores_still_resume(store, tmp_path, monkeypatch):
    """Stores written before the fingerprint moved to BLAKE3 hold bare SHA-256 digests:
    a file seen then is still recognised, and the lineage's next commit records BLAKE3."""
    import hashlib

    from ingest import fingerprint

    log = tmp_path / "access.log"
    log.write_text(lines(0, 50))
    with monkeypatch.context() as old:  # what the previous release wrote
        old.setattr(fingerprint, "new_hasher", hashlib.sha256)
        old.setattr(fingerprint, "checkpoint_digest", lambda h: h.hexdigest())
        first, = ingest(store, log)
    old_hash = store.lineage_records(next(iter(_lineages(store))))[0]["hash"]
    assert first.rows == 50 and len(old_hash) == 64 and ":" not in old_hash
    assert old_hash == hashlib.sha256(log.read_bytes()).hexdigest()
    again, = ingest(store, log)
    assert (again.rows, again.duplicates) == (0, 50)
    with log.open("a") as fh:
        fh.write(lines(50, 30))
    grown, = ingest(store, log)
    assert (grown.rows, grown.duplicates) == (30, 50)
    records = store.lineage_records(next(iter(_lineages(store))))
    newest = max(records, key=lambda r: r["offset_to"])
    import blake3

    assert newest["hash"] == "blake3:" + blake3.blake3(log.read_bytes()).hexdigest()
    assert count_rows(store) == 80 and distinct_rows(store) == 80
    assert ingest(store, log)[0].rows == 0


def _lineages(store):
    return {r["lineage"] for r in store.manifest() if "lineage" in r}


def test_find_resume_matches_either_algorithm_and_resumes_with_blake3(tmp_path):
    import hashlib

    import blake3

    from ingest import fingerprint

    data = b"".join(b"line %d\n" % i for i in range(2000))
    path = tmp_path / "log"
    path.write_bytes(data)
    cut, late = data.index(b"line 700\n"), data.index(b"line 1500\n")
    for checkpoints, want in [
        ([(cut, hashlib.sha256(data[:cut]).hexdigest())], cut),
        ([(cut, "blake3:" + blake3.blake3(data[:cut]).hexdigest())], cut),
        ([(cut, hashlib.sha256(data[:cut]).hexdigest()),
          (late, "blake3:" + blake3.blake3(data[:late]).hexdigest())], late),
        ([(cut, "blake3:" + blake3.blake3(data[:cut]).hexdigest()),
          (late, hashlib.sha256(data[:late]).hexdigest())], late),
        ([(late, "blake3:" + blake3.blake3(b"other" + data[5:late]).hexdigest())], 0),  # diverged
    ]:
        got = fingerprint.find_resume(path, checkpoints)
        assert (got.offset, got.lines) == (want, data[:want].count(b"\n"))
        got.hasher.update(data[want:])  # the state carried on is BLAKE3 of the prefix
        assert fingerprint.checkpoint_digest(got.hasher) == "blake3:" + blake3.blake3(data).hexdigest()
