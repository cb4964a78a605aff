"""Ingest of whole files: partitions, permissions, bad lines, corrupt files."""

from __future__ import annotations

import gzip
import os
import stat
from datetime import timedelta

import duckdb
import polars as pl
import pytest

from ingest.pipeline import ingest_paths
from surfaudit.config import Config, Retention
from surfaudit.store import Store
from tests.conftest import squid_line, utc

NOW = utc(2026, 11, 20, 12, 0)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


def ingest(store, *paths, months=12):
    with store.lock():
        return ingest_paths(store, Config(store_path=store.root, retention=Retention(months)), list(paths), now=NOW)


def rows(store) -> pl.DataFrame:
    con = duckdb.connect()
    store.events_view(con)
    return con.sql("select *, strftime(ts, '%Y-%m') as m from events order by ts").pl()


def test_utc_month_partitions_across_the_boundary(store, tmp_path):
    # 23:59:59.500 UTC on 31 Oct is 31 Oct in UTC whatever the local zone says
    log = tmp_path / "access.log"
    log.write_text("".join(squid_line(utc(2026, 10, 31, 23, 59, 59) + timedelta(milliseconds=500 * i)) + "\n" for i in range(4)))
    result, = ingest(store, log)
    assert result.rows == 4
    assert store.months() == ["2026-10", "2026-11"]
    assert rows(store)["m"].to_list() == ["2026-10", "2026-10", "2026-11", "2026-11"]
    for part in store.parts():
        assert part.parent.name in ("month=2026-10", "month=2026-11")
        assert part.name.startswith("part-") and part.suffix == ".parquet"


def test_parquet_is_zstd(store, tmp_path):
    import pyarrow.parquet as pq

    log = tmp_path / "access.log"
    log.write_text(squid_line(utc(2026, 11, 2, 9)) + "\n")
    ingest(store, log)
    meta = pq.ParquetFile(store.parts()[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_store_is_private_even_with_a_permissive_umask(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("".join(squid_line(utc(2026, 11, 2, 9, m)) + "\n" for m in range(3)) + "not a squid line at all\n")
    old = os.umask(0)
    try:
        ingest(store, log)
    finally:
        os.umask(old)
    for path in [store.root, *store.root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"
    assert store.quarantine_files(), "the bad line should have been quarantined"


def test_bad_lines_are_counted_and_quarantined_good_lines_kept(store, tmp_path):
    log = tmp_path / "access.log"
    good = [squid_line(utc(2026, 11, 2, 9, 0, i)) for i in range(5)]
    content = [good[0], "garbage", good[1], good[2], "1762070400.000 too few", good[3], "", good[4]]
    log.write_text("\n".join(content) + "\n")
    result, = ingest(store, log)
    assert (result.lines, result.rows, result.rejected, result.ignored, result.error) == (7, 5, 2, 1, None)
    q = store.read_quarantine().sort("line_no")
    assert q["line_no"].to_list() == [2, 5]
    assert q["file"].to_list() == ["access.log", "access.log"]
    assert q["line"].to_list() == ["garbage", "1762070400.000 too few"]


def test_invalid_utf8_line_is_quarantined(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_bytes((squid_line(utc(2026, 11, 2, 9)) + "\n").encode() + b"caf\xe9 \xff\n"
                    + (squid_line(utc(2026, 11, 2, 10)) + "\n").encode())
    result, = ingest(store, log)
    assert (result.rows, result.rejected) == (2, 1)
    q = store.read_quarantine()
    assert q["line_no"].to_list() == [2] and q["reason"].to_list() == ["invalid utf-8"]


def test_truncated_gzip_is_rejected_whole(store, tmp_path):
    good = tmp_path / "good.log"
    good.write_text(squid_line(utc(2026, 11, 2, 9)) + "\n")
    packed = gzip.compress("".join(squid_line(utc(2026, 11, 3, 9) + timedelta(seconds=i)) + "\n" for i in range(2000)).encode())
    bad = tmp_path / "access.log.2.gz"
    bad.write_bytes(packed[: len(packed) // 2])
    results = ingest(store, bad, good)
    assert results[0].error and "access.log.2.gz" in results[0].error and results[0].rows == 0
    assert "\n" not in results[0].error
    assert results[1].rows == 1
    assert len(rows(store)) == 1  # nothing of the truncated file committed
    assert not any(store.staging_dir.iterdir())


def test_binary_file_is_rejected_not_a_traceback(store, tmp_path):
    blob = tmp_path / "core.dump"
    blob.write_bytes(bytes(range(256)) * 100)
    result, = ingest(store, blob)
    assert result.error and "core.dump" in result.error
    assert store.months() == []


def test_empty_file_is_fine(store, tmp_path):
    empty = tmp_path / "access.log"
    empty.write_text("")
    result, = ingest(store, empty)
    assert (result.rows, result.rejected, result.error) == (0, 0, None)


def test_rows_older_than_retention_are_counted_as_expired(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_line(utc(2025, 11, 20, 11, 59)) + "\n" + squid_line(utc(2025, 11, 20, 12, 1)) + "\n")
    result, = ingest(store, log, months=12)
    assert (result.rows, result.expired) == (1, 1)


def test_directory_means_every_log_file_inside(store, tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    (d / "access.log").write_text(squid_line(utc(2026, 11, 2, 9)) + "\n")
    with gzip.open(d / "access.log.1.gz", "wt") as fh:
        fh.write(squid_line(utc(2026, 11, 1, 9)) + "\n")
    (d / "README.md").write_text("# not a log\n")
    (d / ".hidden").write_text("x\n")
    results = ingest(store, d)
    read = sorted(r.file.rsplit("/", 1)[-1] for r in results if not r.skipped)
    assert read == ["access.log", "access.log.1.gz"]
    assert [(r.file.rsplit("/", 1)[-1], r.status) for r in results if r.skipped] == [("README.md", "skipped")]
    assert len(rows(store)) == 2


def test_a_file_of_many_batches_is_written_by_two_writers_exactly(store, tmp_path, monkeypatch):
    """Batches alternate between two writer threads, each with its own part file:
    every row once, the quarantine in line order, and compaction merges the parts."""
    from ingest import reader
    from surfaudit.compact import compact

    monkeypatch.setattr(reader, "BLOCK", 8192)  # ~70 lines per batch
    start = utc(2026, 11, 2, 8)
    lines = []
    for i in range(3000):
        lines.append(squid_line(start + timedelta(seconds=i), user=f"u{i % 37}", host=f"h{i % 11}.example.org"))
        if i % 450 == 7:
            lines.append(f"garbage line {i}")
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    result, = ingest(store, log)
    assert (result.rows, result.rejected) == (3000, 7)
    parts = store.parts()
    assert len(parts) == 2 and all(p.parent.name == "month=2026-11" for p in parts)
    got = rows(store)
    assert got.height == 3000 and got["ts"].n_unique() == 3000
    assert got["user"].to_list() == [f"u{i % 37}" for i in range(3000)]
    quarantined = pl.concat([pl.read_parquet(q) for q in store.quarantine_files()])
    assert quarantined["line_no"].to_list() == sorted(quarantined["line_no"].to_list())
    assert quarantined["line"].to_list() == [f"garbage line {i}" for i in range(3000) if i % 450 == 7]
    again, = ingest(store, log)  # exactly once across both writers' parts
    assert (again.rows, again.duplicates) == (0, 3007)
    with log.open("a") as fh:
        fh.write("".join(squid_line(start + timedelta(hours=2, seconds=i)) + "\n" for i in range(10)))
    grown, = ingest(store, log)
    assert grown.rows == 10
    compact(store)
    assert len(store.parts()) == 1
    assert rows(store).head(3000).equals(got) and rows(store).height == 3010


def test_a_slow_first_compile_is_announced_once(monkeypatch):
    """The first run after an install compiles the scanners (a long pause): the technician
    is told, once, instead of facing a silent pause; a warm start says nothing."""
    import time

    from ingest import pipeline
    from ingest.fast import csv_scan

    heard = []
    pipeline.warm(heard.append)
    assert heard == []  # cached: well under the two seconds
    monkeypatch.setattr(csv_scan, "warm", lambda: time.sleep(2.5))
    misses = iter(range(1000))  # every look counts one more miss: numba is compiling
    monkeypatch.setattr(pipeline, "_cache_misses", lambda: next(misses))
    monkeypatch.setattr(pipeline, "_warmed", set())
    pipeline.warm(heard.append)
    assert heard == [pipeline.COMPILING, pipeline.COMPILED]


def test_a_cold_cache_is_filled_by_several_processes_and_a_warm_one_by_none(monkeypatch):
    """warm(jobs=2): when the first module misses numba's cache, the others compile in
    child processes side by side (then load here from the cache); a warm cache starts none."""
    from ingest import fast, pipeline

    apart = []
    monkeypatch.setattr(fast, "compile_apart", lambda names, jobs: apart.append((list(names), jobs)) or [])
    monkeypatch.setattr(pipeline, "_warmed", set())
    pipeline.warm(jobs=2)
    assert apart == []  # the cache is warm (the session started with warm())
    misses = iter(range(1000))
    monkeypatch.setattr(pipeline, "_cache_misses", lambda: next(misses))
    monkeypatch.setattr(pipeline, "_warmed", set())
    pipeline.warm(jobs=2)
    assert len(apart) == 1 and apart[0][1] == 2
    assert "csv_scan" not in apart[0][0] and {"squid_scan", "fortigate_scan", "vendor_scan"} <= set(apart[0][0])
    assert pipeline._warmed >= set(apart[0][0])  # and each was loaded here afterwards
    # with no writable cache the children's work would be thrown away: none is started
    from ingest.fast import jit

    monkeypatch.setattr(jit, "uncached", lambda: ["csv_scan.scan"])
    monkeypatch.setattr(pipeline, "_warmed", set())
    pipeline.warm(jobs=2)
    assert len(apart) == 1
    # a child that failed is named to `notice` (the module then compiled here)
    monkeypatch.setattr(jit, "uncached", lambda: [])
    monkeypatch.setattr(fast, "compile_apart", lambda names, jobs: ["fortigate_scan"])
    monkeypatch.setattr(pipeline, "_warmed", set())
    told = []
    pipeline.warm(told.append, jobs=2)
    assert "compiling fortigate_scan in a child process failed; compiling here instead" in told
    assert "fortigate_scan" in pipeline._warmed


def test_the_compile_children_really_load_each_module():
    """The child processes of compile_apart import and warm real modules (from the cache
    here) and say which failed: a name that is no module."""
    from ingest import fast

    assert fast.compile_apart(["squid_scan", "envelope_scan", "no_such_scanner"], 2) == ["no_such_scanner"]


def test_ingest_compiles_only_the_scanners_of_the_formats_it_reads(store, tmp_path, monkeypatch):
    """Per format on first use: a squid log does not compile the CSV scanners."""
    from ingest import pipeline

    monkeypatch.setattr(pipeline, "_warmed", set())
    log = tmp_path / "access.log"
    log.write_text(squid_line(utc(2026, 11, 2, 9)) + "\n")
    ingest(store, log)
    assert pipeline._warmed == {"squid_scan"}


def test_the_compile_cache_is_keyed_on_the_compiled_code_and_what_it_imports():
    """An edit to the pipeline or the fingerprint keeps the compiled scanners' cache;
    an edit to a scanner or to a module a scanner imports (its constants, its helpers) does not."""
    pytest.importorskip("numba")
    from ingest.fast.jit import _PACKAGE, compiled_sources

    names = {str(p.relative_to(_PACKAGE)) for p in compiled_sources()}
    fast = {f"fast/{p.name}" for p in (_PACKAGE / "fast").glob("*.py")}
    assert fast <= names
    assert {"tokens.py", "localtime.py", "filterlog.py", "vendor_csv.py", "squid_logformat_parse.py"} <= names
    assert not names & {"pipeline.py", "fingerprint.py", "reader.py", "writer.py", "detect.py", "sources.py"}
