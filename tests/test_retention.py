"""Retention (DESIGN §6): which partitions expire, purge, --exact, --dry-run, refusals, forgetting.

The clock is controlled with `now=` (and $SURFAUDIT_NOW for the audit entry times).
NOW = 2026-06-15 12:00Z, 12 months => cutoff 2025-06-15 12:00Z: 2025-04 (14 months old)
and 2025-05 (13) are expired, 2025-06 (12, contains the cutoff) straddles, 2025-07 (11) stays.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from retention.plan import plan_purge
from retention.purge import forget_manifest, purge
from surfaudit import audit
from surfaudit.config import Config
from surfaudit.errors import StoreError
from surfaudit.schema import conform
from surfaudit.store import Store

UTC = timezone.utc
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
CUTOFF = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
CFG = Config()


def events(times: list[datetime], user: str = "alice") -> pl.DataFrame:
    n = len(times)
    return conform(pl.DataFrame({
        "ts": pl.Series(times, dtype=pl.Datetime("us", "UTC")),
        "user": [user] * n, "username": [user] * n, "client_ip": ["10.0.0.1"] * n,
        "method": ["GET"] * n, "host": [f"h{i % 3}.example.org" for i in range(n)],
        "url": [f"http://h{i % 3}.example.org/{i}" for i in range(n)], "action": ["allowed"] * n,
        "status": [200] * n, "bytes": list(range(n)), "elapsed_ms": [5] * n, "category": [None] * n,
        "source": ["squid"] * n,
    }))


def commit(store: Store, df: pl.DataFrame, **record) -> dict:
    tx = store.begin("ingest")
    tx.write(df)
    return tx.commit(record)


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=UTC)


STRADDLE_BEFORE = [utc(2025, 6, 1), utc(2025, 6, 15, 11, 59, 59, 999999)]
STRADDLE_AFTER = [CUTOFF, utc(2025, 6, 20), utc(2025, 6, 30, 23, 59, 59)]


@pytest.fixture
def store(tmp_path: Path, monkeypatch) -> Store:
    monkeypatch.setenv("SURFAUDIT_NOW", NOW.isoformat())
    s = Store(tmp_path / "store").ensure()
    commit(s, events([utc(2025, 4, 1), utc(2025, 4, 30, 23, 59, 59)]))          # 14 months old
    commit(s, events([utc(2025, 4, 10)] * 3))                                    # second part, same month
    commit(s, events([utc(2025, 5, 1), utc(2025, 5, 31, 23, 59, 59, 999999)]))  # 13 months old
    commit(s, events(STRADDLE_BEFORE))                                           # 12: the straddling month
    commit(s, events(STRADDLE_AFTER))
    commit(s, events([utc(2025, 7, 1), utc(2025, 7, 15)]))                       # 11 months old
    commit(s, events([utc(2026, 6, 1)]))                                         # this month
    return s


def all_rows(store: Store) -> pl.DataFrame:
    return store.read_parts(store.live_parts()).sort("ts", "bytes")


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_plan_expired_and_straddling(store: Store):
    plan = plan_purge(store, 12, NOW)
    assert plan.cutoff == CUTOFF
    assert [(m.month, m.files, m.rows) for m in plan.expired] == [("2025-04", 2, 5), ("2025-05", 1, 2)]
    assert plan.straddling.month == "2025-06"
    assert (plan.straddling.files, plan.straddling.rows, plan.straddling.needs_trim) == (2, 5, True)
    assert plan.anomalies == [] and plan.missing == []
    assert plan.rows == 7 and plan.files == 3


def test_month_ending_exactly_at_cutoff_is_expired(store: Store):
    plan = plan_purge(store, 12, utc(2026, 6, 1))  # cutoff 2025-06-01T00:00Z = end of 2025-05
    assert [m.month for m in plan.expired] == ["2025-04", "2025-05"]
    assert plan.straddling.month == "2025-06" and plan.straddling.needs_trim is False


def test_purge_drops_14_and_13_keeps_12_and_11(store: Store):
    before = all_rows(store)
    result = purge(store, CFG, now=NOW)
    assert [m.month for m in result.removed] == ["2025-04", "2025-05"]
    assert (result.files_removed, result.rows_removed, result.rows_trimmed) == (3, 7, 0)
    assert store.months() == ["2025-06", "2025-07", "2026-06"]
    assert all_rows(store).equals(before.filter(pl.col("ts") >= utc(2025, 6, 1)))
    on_disk = {p.name for p in store.events_dir.iterdir()}
    assert not any("2025-04" in n or "2025-05" in n for n in on_disk)  # directories deleted too
    assert sorted(store.event_files()) == sorted(store.live_parts())
    assert result.summary() == "removed 2025-04 (2 files, 5 rows), 2025-05 (1 files, 2 rows)"
    # the boundary month keeps its rows older than the cutoff without --exact
    assert all_rows(store)["ts"].min() == STRADDLE_BEFORE[0]
    # idempotent
    again = purge(store, CFG, now=NOW)
    assert again.removed == [] and again.summary() == "nothing expired"


def test_purge_exact_trims_the_straddling_month(store: Store):
    before = all_rows(store)
    result = purge(store, CFG, now=NOW, exact=True)
    assert result.trimmed_month == "2025-06" and result.rows_trimmed == 2
    after = all_rows(store)
    assert after["ts"].min() == CUTOFF  # the row exactly at the cutoff is kept
    assert after.equals(before.filter(pl.col("ts") >= CUTOFF))
    assert len(store.month_parts()["2025-06"]) == 1
    # one commit did everything
    purge_records = [r for r in store.manifest() if r["kind"] == "purge"]
    assert len(purge_records) == 1 and len(purge_records[0]["removes"]) == 5
    assert "trimmed 2025-06 (2 rows)" in result.summary()
    assert purge(store, CFG, now=NOW, exact=True).rows_trimmed == 0  # nothing left to trim


def test_dry_run_changes_nothing(store: Store):
    files = listing(store.root)
    manifest = store.manifest_path.read_bytes()
    audit_bytes = store.audit_path.read_bytes() if store.audit_path.exists() else b""
    result = purge(store, CFG, now=NOW, dry_run=True, exact=True)
    assert result.dry_run and result.removed == [] and result.rows_trimmed == 0
    assert [m.month for m in result.plan.expired] == ["2025-04", "2025-05"]
    assert result.summary() == "would remove 2025-04 (2 files, 5 rows), 2025-05 (1 files, 2 rows)"
    assert listing(store.root) == files
    assert store.manifest_path.read_bytes() == manifest
    assert (store.audit_path.read_bytes() if store.audit_path.exists() else b"") == audit_bytes


@pytest.mark.parametrize("make", ["symlink_month", "symlink_part", "stray_file", "stray_dir", "orphan_part"])
def test_unexpected_entries_are_refused(store: Store, tmp_path: Path, make: str):
    month_dir = store.part_path(store.month_parts()["2025-04"][0]).parent
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    if make == "symlink_month":
        bad = store.events_dir / (month_dir.name[:-7] + "2024-01")
        bad.symlink_to(outside)
    elif make == "symlink_part":
        bad = month_dir / "evil.parquet"
        bad.symlink_to(outside / "x.parquet")
    elif make == "stray_file":
        bad = month_dir / "notes.txt"
        bad.write_text("hello")
    elif make == "stray_dir":
        bad = store.events_dir / "backup"
        bad.mkdir()
    else:
        bad = month_dir / "copy.parquet"
        bad.write_bytes(store.part_path(store.month_parts()["2025-04"][0]).read_bytes())
    files, manifest = listing(store.root), store.manifest_path.read_bytes()
    for kwargs in ({}, {"dry_run": True}, {"exact": True}):
        with pytest.raises(StoreError) as info:
            purge(store, CFG, now=NOW, **kwargs)
        message = str(info.value)
        assert "\n" not in message and bad.name in message and "refusing to purge" in message
    assert listing(store.root) == files and store.manifest_path.read_bytes() == manifest


def test_partition_holding_rows_after_cutoff_is_never_planned(store: Store):
    # A misfiled part: rows of this month inside an expired partition's file.
    rel = store.month_parts()["2025-05"][0].relpath
    events([utc(2025, 5, 2), utc(2026, 6, 2)]).write_parquet(store.part_path(rel))
    records = store.manifest()  # as committed by an older version: no recorded size to betray it
    for record in records:
        (record.get("files") or {}).pop(rel, None)
    store.rewrite_manifest(records)
    plan = plan_purge(store, 12, NOW)
    assert [m.month for m in plan.expired] == ["2025-04"]
    assert any(rel in a and "after the cutoff" in a for a in plan.anomalies)
    with pytest.raises(StoreError, match="refusing to purge"):
        purge(store, CFG, now=NOW)
    assert store.part_path(rel).is_file()


def test_audit_entry_written_and_old_entries_forgotten(store: Store):
    store.append_audit({"time": "2024-01-01T09:00:00+00:00", "command": "export", "target": "bob", "rows": 3})
    store.append_audit({"time": "2025-06-15T11:59:59+00:00", "command": "export", "target": "bob", "rows": 3})
    store.append_audit({"time": "2025-06-15T12:00:00+00:00", "command": "export", "target": "carol", "rows": 1})
    result = purge(store, CFG, now=NOW, exact=True)
    assert result.audit_forgotten == 2
    entries = store.audit_entries()
    assert all(datetime.fromisoformat(e["time"]) >= CUTOFF for e in entries)
    assert any(e.get("target") == "carol" for e in entries)
    last = entries[-1]
    assert last["command"] == "purge" and last["rows"] == 9
    assert "2025-04,2025-05" in last["detail"] and "trimmed 2025-06" in last["detail"]
    assert "forgot 2 audit entries" in last["detail"]  # the purge's own entry says what it dropped
    table = audit.entries(store)
    assert table.filter(pl.col("command") == "purge").height == 1


def test_old_quarantine_files_are_forgotten(store: Store):
    bad = pl.DataFrame({"file": ["access.log"], "line_no": [3], "reason": ["bad"], "line": ["raw line"]})
    tx = store.begin("ingest")
    tx.quarantine(bad)
    tx.commit({})
    recent = store.quarantine_files()
    assert len(recent) == 1
    old = store.quarantine_dir / "q-20240101T000000-0123456789.parquet"
    old.write_bytes(recent[0].read_bytes())
    result = purge(store, CFG, now=datetime.now(UTC))
    assert result.quarantine_forgotten == 1
    assert store.quarantine_files() == recent


def test_manifest_forgets_old_records_of_gone_parts_only(store: Store):
    old_at = "2025-01-01T00:00:00+00:00"
    kept_part = commit(store, events([utc(2025, 8, 1)]), at=old_at, lineage="keep")  # old but live
    gone = commit(store, events([utc(2025, 3, 3)]), at=old_at, lineage="gone")  # old, will be purged
    fresh = commit(store, events([]), at=NOW.isoformat(), lineage="fresh")  # recent, no parts: fingerprint kept
    live_before = {k: v for k, v in store.live_parts().items() if v >= "2025-06"}
    result = purge(store, CFG, now=NOW)
    lineages = {r.get("lineage") for r in store.manifest()}
    assert "keep" in lineages and "fresh" in lineages and "gone" not in lineages
    assert result.manifest_forgotten == 1
    assert store.live_parts() == live_before
    assert kept_part["tx"] and gone["tx"] and fresh["tx"]


def test_manifest_never_resurrects_a_replaced_part(tmp_path: Path):
    s = Store(tmp_path / "s").ensure()
    a = commit(s, events([utc(2026, 5, 1)]), at=datetime.now(UTC).isoformat())  # recent: kept
    tx = s.begin("compact")
    tx.write(events([utc(2026, 5, 2)]))
    tx.replace(a["parts"])
    tx.commit({"at": "2000-01-01T00:00:00+00:00"})  # old and its part is... live, so kept
    tx = s.begin("compact")
    tx.write(events([utc(2026, 5, 3)]))
    tx.replace(s.month_parts()["2026-05"])
    tx.commit({})
    live = s.live_parts()
    # the old compact record's part is gone; dropping it would revive `a`'s part, so it stays
    assert forget_manifest(s, utc(2020, 1, 1)) == 0
    assert s.live_parts() == live
    assert len(s.manifest()) == 3


def test_env_clock_is_used_when_now_is_omitted(store: Store):
    assert os.environ["SURFAUDIT_NOW"] == NOW.isoformat()
    result = purge(store, CFG, dry_run=True)
    assert result.cutoff == CUTOFF and result.plan.now == NOW
    assert timedelta(0) < NOW - result.cutoff


def test_result_lines_for_the_cli(store: Store):
    dry = purge(store, CFG, now=NOW, dry_run=True, exact=True)
    assert dry.lines()[0].startswith("cutoff 2025-06-15T12:00:00+00:00")
    assert "would remove 2025-04: 2 files, 5 rows" in dry.lines()
    done = purge(store, CFG, now=NOW, exact=True)
    assert done.lines()[1:3] == ["removed 2025-04 (2 files, 5 rows)", "removed 2025-05 (1 files, 2 rows)"]
    assert "trimmed 2025-06 (2 rows older than the cutoff)" in done.lines()
    assert purge(store, CFG, now=NOW).lines()[1] == "nothing expired"


def test_naive_now_is_utc(store: Store):
    assert plan_purge(store, 12, NOW.replace(tzinfo=None)).cutoff == CUTOFF
