"""The nightly job: ingest -> purge -> compact under one lock, one log line per step, exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from surfaudit import nightly
from surfaudit.config import Config
from surfaudit.errors import InputError, LockedError
from surfaudit.nightly import run_nightly
from surfaudit.schema import conform
from surfaudit.store import Store

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # cutoff 2025-11-20 12:00Z
CFG = Config()


@dataclass
class FakeFileResult:  # the fields of ingest.pipeline.FileResult
    file: str
    format: str = "squid"
    lines: int = 0
    rows: int = 0
    duplicates: int = 0
    expired: int = 0
    rejected: int = 0
    error: str | None = None


def events(times: list[datetime]) -> pl.DataFrame:
    n = len(times)
    return conform(pl.DataFrame({
        "ts": pl.Series(times, dtype=pl.Datetime("us", "UTC")), "user": ["alice"] * n, "username": ["alice"] * n,
        "client_ip": ["10.0.0.1"] * n, "method": ["GET"] * n, "host": ["www.facebook.com"] * n,
        "url": [f"http://www.facebook.com/{i}" for i in range(n)], "action": ["allowed"] * n, "status": [200] * n,
        "bytes": list(range(n)), "elapsed_ms": [3] * n, "category": [None] * n, "source": ["squid"] * n,
    }))


def commit(store: Store, times: list[datetime]) -> None:
    tx = store.begin("ingest")
    tx.write(events(times))
    tx.commit({})


@pytest.fixture
def store(tmp_path: Path, monkeypatch) -> Store:
    monkeypatch.setenv("SURFAUDIT_NOW", NOW.isoformat())
    s = Store(tmp_path / "store").ensure()
    commit(s, [datetime(2025, 9, 3, tzinfo=UTC)] * 4)   # 14 months old
    commit(s, [datetime(2025, 9, 9, tzinfo=UTC)])
    commit(s, [datetime(2025, 10, 1, tzinfo=UTC)] * 2)  # 13 months old
    commit(s, [datetime(2026, 10, 5, tzinfo=UTC)] * 3)
    commit(s, [datetime(2026, 10, 6, tzinfo=UTC)] * 3)
    return s


def fake_ingest(rows_per_file: int = 5, rejected: int = 0, error: str | None = None):
    calls = []

    def ingest(store, cfg, paths, fmt, now):
        with pytest.raises(LockedError):  # the caller holds the lock
            with Store(store.root).lock():
                pass
        calls.append((list(paths), fmt, now))
        out = []
        for i, path in enumerate(paths):
            tx = store.begin("ingest")
            tx.write(events([now - timedelta(hours=1 + i)] * rows_per_file))
            tx.commit({"file": str(path)})
            out.append(FakeFileResult(str(path), lines=rows_per_file + rejected, rows=rows_per_file, rejected=rejected))
        if error:
            out.append(FakeFileResult("broken.log.gz", error=error))
        return out

    ingest.calls = calls
    return ingest


def test_all_steps_run_under_the_lock_and_log_one_line_each(store: Store, monkeypatch):
    ingest = fake_ingest()
    monkeypatch.setattr(nightly, "_ingest_paths", ingest)
    lines: list[str] = []
    result = run_nightly(store, CFG, ["a.log", "b.log"], now=NOW, log=lines.append)
    assert lines == [
        "ingest: 2 files, 10 rows, 0 rejected",
        "purge: removed 2025-09 (2 files, 5 rows), 2025-10 (1 files, 2 rows)",
        "compact: 2 months, 4 -> 2 files",
        "verify: 2 parts present with their committed sizes",
    ]
    assert ingest.calls == [(["a.log", "b.log"], "auto", NOW)]
    assert result.ok and result.exit_code == 0
    assert [s.name for s in result.steps] == ["ingest", "purge", "compact", "verify"]
    assert result.step("purge").result.rows_removed == 7
    assert store.months() == ["2026-10", "2026-11"]
    assert {m: len(p) for m, p in store.month_parts().items()} == {"2026-10": 1, "2026-11": 1}
    assert [e["command"] for e in store.audit_entries()] == ["purge"]


def test_rejected_lines_make_exit_1_but_everything_runs(store: Store, monkeypatch):
    monkeypatch.setattr(nightly, "_ingest_paths", fake_ingest(rejected=2, error="broken.log.gz: truncated gzip"))
    lines: list[str] = []
    result = run_nightly(store, CFG, ["a.log"], now=NOW, log=lines.append)
    assert lines[0] == "ingest: 2 files, 5 rows, 2 rejected, 1 failed"
    assert lines[1] == "ingest: failed: broken.log.gz: truncated gzip"
    assert lines[2] == ("ingest: 2 rejected lines were quarantined in the store; "
                        "see them with `surfaudit quarantine` (--file NAME)")
    assert lines[3].startswith("purge: removed 2025-09") and lines[4].startswith("compact: ")
    assert not result.ok and result.exit_code == 1
    assert [s.ok for s in result.steps] == [False, True, True, True]


def test_a_missing_part_is_reported_by_the_nightly_check(store: Store, monkeypatch):
    monkeypatch.setattr(nightly, "_ingest_paths", fake_ingest())
    real_compact = nightly.compact
    monkeypatch.setattr(nightly, "compact", lambda store, min_files: real_compact(store, months=[]))
    victim = store.parts()[-1]  # the newest month: not purged
    victim.unlink()
    lines: list[str] = []
    result = run_nightly(store, CFG, ["a.log"], now=NOW, log=lines.append)
    assert lines[-1].startswith("verify: FAILED: ") and victim.name in lines[-1] and "missing" in lines[-1]
    assert not result.step("verify").ok and result.exit_code == 1


def test_ingest_raising_does_not_stop_purge_and_compact(store: Store, monkeypatch):
    def boom(*args, **kwargs):
        raise InputError("/var/log/squid: permission denied")

    monkeypatch.setattr(nightly, "_ingest_paths", boom)
    lines: list[str] = []
    result = run_nightly(store, CFG, ["/var/log/squid"], now=NOW, log=lines.append)
    assert lines[0] == "ingest: FAILED: /var/log/squid: permission denied"
    assert result.step("ingest").error == "/var/log/squid: permission denied"
    assert result.step("purge").ok and result.step("compact").ok
    assert store.months() == ["2026-10"]
    assert result.exit_code == 1


def test_purge_refusal_is_reported_and_compaction_still_runs(store: Store, monkeypatch, tmp_path: Path):
    monkeypatch.setattr(nightly, "_ingest_paths", fake_ingest())
    (store.events_dir / "stray.txt").write_text("x")
    lines: list[str] = []
    result = run_nightly(store, CFG, ["a.log"], now=NOW, log=lines.append)
    assert lines[0] == "ingest: 1 files, 5 rows, 0 rejected"
    assert lines[1].startswith("purge: FAILED: refusing to purge: ") and "stray.txt" in lines[1]
    assert lines[2] == "compact: 2 months, 4 -> 2 files"  # 2025-09 (not purged) and 2026-10
    assert "2025-09" in store.months()  # nothing purged
    assert result.exit_code == 1 and result.step("ingest").ok and result.step("compact").ok


def test_locked_store_raises_before_doing_anything(store: Store, monkeypatch):
    ingest = fake_ingest()
    monkeypatch.setattr(nightly, "_ingest_paths", ingest)
    lines: list[str] = []
    with store.lock():
        with pytest.raises(LockedError) as info:
            run_nightly(Store(store.root), CFG, ["a.log"], now=NOW, log=lines.append)
    assert info.value.exit_code == 3
    assert lines == [] and ingest.calls == []


def test_exact_option_trims_the_straddling_month(store: Store, monkeypatch):
    monkeypatch.setattr(nightly, "_ingest_paths", fake_ingest(rows_per_file=0))
    commit(store, [datetime(2025, 11, 2, tzinfo=UTC), datetime(2025, 11, 25, tzinfo=UTC)])
    lines: list[str] = []
    result = run_nightly(store, CFG, [], now=NOW, log=lines.append, exact=True)
    assert lines[0] == "ingest: 0 files, 0 rows, 0 rejected"
    assert "trimmed 2025-11 (1 rows)" in lines[1]
    assert result.ok


def test_real_pipeline_end_to_end(store: Store, tmp_path: Path):
    pytest.importorskip("ingest.pipeline", exc_type=ImportError)
    from tests.conftest import squid_line

    logdir = tmp_path / "squid"
    logdir.mkdir()
    recent = [squid_line(NOW - timedelta(hours=5, seconds=i), user=f"u{i % 3}") for i in range(20)]
    old = [squid_line(NOW - timedelta(days=400, seconds=i)) for i in range(4)]
    (logdir / "access.log.1").write_text("\n".join(old + recent) + "\n")
    lines: list[str] = []
    first = run_nightly(store, CFG, [logdir], now=NOW, log=lines.append)
    assert lines[0] == "ingest: 1 files, 20 rows, 0 rejected, 4 expired", lines
    assert first.ok, lines
    lines.clear()
    second = run_nightly(store, CFG, [logdir], now=NOW, log=lines.append)  # re-feeding is safe
    assert lines[0].startswith("ingest: 1 files, 0 rows, 0 rejected"), lines
    assert second.ok
    assert sum(store.part_stats(rel).rows for rel in store.month_parts()["2026-11"]) == 20


def test_loser_names_the_winner_even_inside_the_winners_first_instant(store: Store):
    """The winner writes its pid just after taking the flock; a loser arriving in that
    instant waits for the pid instead of saying "pid unknown" (a CI failure, stop 17)."""
    import fcntl
    import os
    import threading

    store.ensure()
    fd = os.open(store.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)  # held, pid not written yet
    timer = threading.Timer(0.3, lambda: os.pwrite(fd, b"424242\n", 0))
    timer.start()
    try:
        with pytest.raises(LockedError, match=r"pid 424242\b"):
            with Store(store.root).lock():
                pass
    finally:
        timer.join()
        os.close(fd)


def test_a_released_lock_keeps_no_stale_pid(store: Store):
    with store.lock():
        assert store.lock_path.read_text().strip().isdigit()
    assert store.lock_path.read_text() == ""
