"""Disk full: ingest into a store on a 2 MB tmpfs.

The store lives on a freshly mounted `tmpfs -o size=2m` (unmounted afterwards); when
mounting is not permitted the test simulates the full disk in-process by making Parquet
writes raise OSError(ENOSPC). Either way the failing ingest ends with one clear line
(exit 1, no traceback), the committed rows are unchanged, and after the next lock no
staging, journal or uncommitted part is left.
"""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from surfaudit.store import Store

from .helpers import assert_clean_stderr, check_recovered, run_cli, squid, tried, visible_column, write_lines

UTC = timezone.utc
NOW = "2026-11-20T12:00:00+00:00"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def logs(tmp_path: Path) -> tuple[Path, Path, int]:
    rng = random.Random(3)
    small = write_lines(tmp_path / "src" / "small.log",
                        [squid(i, T0 + timedelta(seconds=i), url=f"http://x.com/s{i}") for i in range(300)])
    big = write_lines(tmp_path / "src" / "big.log",  # random URLs: the Parquet does not compress below 2 MB
                      [squid(10_000 + i, T0 + timedelta(days=1, seconds=i), url=f"http://x.com/{rng.randbytes(24).hex()}")
                       for i in range(120_000)])
    return small, big, 300


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_ingest_on_a_full_disk_fails_cleanly(tmp_path, small_fs, monkeypatch):
    small, big, committed = logs(tmp_path)
    if small_fs is None:  # no mount permission: simulate ENOSPC in-process
        simulate(tmp_path, small, big, monkeypatch)
        return
    store = small_fs / "store"
    first = run_cli("--store", str(store), "ingest", str(small), now=NOW)
    assert_clean_stderr(first, (0,))
    before = visible_column(Store(store))
    manifest_before = Store(store).manifest()
    run = run_cli("--store", str(store), "ingest", "--summary", "json", str(big), now=NOW)
    tried("disk-full", "tmpfs ingests")
    assert_clean_stderr(run, (1,))
    err_lines = [ln for ln in run.err.splitlines() if ln.strip()]
    assert len(err_lines) == 1 and ("No space left" in err_lines[0] or "write failed" in err_lines[0]), run.err
    assert "cannot read" not in err_lines[0], f"a full store is reported as an unreadable log: {err_lines[0]}"
    assert json.loads(run.out)[0]["rows"] == 0
    s = Store(store)
    assert visible_column(s) == before and s.manifest() == manifest_before
    with s.lock():
        check_recovered(s)
    assert visible_column(s) == before


def simulate(tmp_path, small, big, monkeypatch):
    import pyarrow.parquet as pq

    from ingest.pipeline import ingest_paths
    from surfaudit.config import Config

    store = Store(tmp_path / "store")
    cfg = Config(store_path=store.root)
    now = datetime.fromisoformat(NOW)
    with store.lock():
        ingest_paths(store, cfg, [small], now=now)
    before = visible_column(store)

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    with store.lock():
        result, = ingest_paths(store, cfg, [big], now=now)
    tried("disk-full", "simulated ENOSPC ingests")
    assert result.error and "No space left" in result.error and "cannot read" not in result.error, result.error
    monkeypatch.undo()
    with store.lock():
        check_recovered(store)
    assert visible_column(store) == before


def test_simulated_enospc_in_process(tmp_path, monkeypatch):
    """The same guarantee without a mount (runs everywhere)."""
    small, big, _ = logs(tmp_path)
    simulate(tmp_path, small, big, monkeypatch)
