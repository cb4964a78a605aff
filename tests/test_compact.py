"""Compaction: many small parts per month -> one sorted zstd file, rows unchanged."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

from surfaudit.compact import compact
from surfaudit.schema import conform
from surfaudit.store import Store

UTC = timezone.utc


def events(times: list[datetime], seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    n = len(times)
    users = [rng.choice(["alice", "bob", "10.0.0.9"]) for _ in range(n)]
    return conform(pl.DataFrame({
        "ts": pl.Series(times, dtype=pl.Datetime("us", "UTC")),
        "user": users, "username": [None if u[0].isdigit() else u for u in users],
        "client_ip": ["10.0.0.9"] * n, "method": [rng.choice(["GET", "CONNECT", None]) for _ in range(n)],
        "host": [rng.choice(["www.facebook.com", "bbc.co.uk"]) for _ in range(n)],
        "url": [f"http://x/{rng.randrange(5)}" for _ in range(n)],
        "action": [rng.choice(["allowed", "blocked"]) for _ in range(n)],
        "status": [200] * n, "bytes": [rng.randrange(3) for _ in range(n)],
        "elapsed_ms": [rng.choice([None, 4]) for _ in range(n)], "category": [None] * n, "source": ["squid"] * n,
    }))


def build(root: Path) -> tuple[Store, pl.DataFrame]:
    store = Store(root).ensure()
    rng = random.Random(7)
    frames = []
    plan = {"2026-08": 5, "2026-09": 3, "2026-10": 1}
    for month, nparts in plan.items():
        start = datetime.fromisoformat(month + "-01T00:00:00+00:00")
        for p in range(nparts):
            times = [start + timedelta(seconds=rng.randrange(27 * 86400)) for _ in range(200)]
            df = events(times, seed=int(month[-2:]) * 100 + p)
            df = pl.concat([df, df.head(3)])  # identical rows are kept: a multiset, not a set
            tx = store.begin("ingest")
            tx.write(df)
            tx.commit({})
            frames.append(df)
    return store, pl.concat(frames)


def multiset(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(df.columns, nulls_last=True)


def test_compact_rewrites_months_with_many_parts(tmp_path: Path):
    store, rows = build(tmp_path / "store")
    untouched = store.month_parts()["2026-10"]
    result = compact(store, min_files=2)
    assert [(m.month, m.files_before) for m in result.months] == [("2026-08", 5), ("2026-09", 3)]
    assert result.summary() == "2 months, 8 -> 2 files"
    parts = store.month_parts()
    assert {m: len(p) for m, p in parts.items()} == {"2026-08": 1, "2026-09": 1, "2026-10": 1}
    assert parts["2026-10"] == untouched
    assert sorted(store.event_files()) == sorted(store.live_parts())  # old files deleted
    # rows identical (as a multiset)
    after = store.read_parts(store.live_parts())
    assert multiset(after).equals(multiset(rows))
    # each compacted file is sorted by ts and zstd-compressed in large row groups
    for month in ("2026-08", "2026-09"):
        path = store.part_path(parts[month][0])
        df = pl.read_parquet(path)
        assert df["ts"].is_sorted()
        meta = pq.read_metadata(path)
        assert meta.num_row_groups == 1
        assert meta.row_group(0).column(0).compression == "ZSTD"


def test_reports_see_no_duplicates_after_compaction(tmp_path: Path):
    store, rows = build(tmp_path / "store")
    compact(store)
    con = duckdb.connect()
    store.events_view(con)
    total = con.execute("select count(*) from events").fetchone()[0]
    assert total == rows.height
    counts = con.execute(
        "select month, count(*) from (select strftime(ts, '%Y-%m') as month from events) group by 1 order by 1"
    ).fetchall()
    assert counts == [("2026-08", 5 * 203), ("2026-09", 3 * 203), ("2026-10", 203)]
    # a date-range view sees the same rows as before
    con2 = duckdb.connect()
    store.events_view(con2, datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC))
    assert con2.execute("select count(*) from events").fetchone()[0] == 3 * 203


def test_compact_is_idempotent_and_respects_min_files(tmp_path: Path):
    store, _ = build(tmp_path / "store")
    assert compact(store, min_files=6).summary() == "nothing to do"
    assert [m.month for m in compact(store, min_files=4).months] == ["2026-08"]
    manifest = store.manifest_path.read_bytes()
    lines = []
    result = compact(store, min_files=2, progress=lines.append)
    assert [m.month for m in result.months] == ["2026-09"] and lines == ["2026-09: 3 -> 1 files, 609 rows"]
    assert store.manifest_path.read_bytes() != manifest
    assert compact(store).months == []
    assert [r["kind"] for r in store.manifest()].count("compact") == 2


def test_compact_empty_store(tmp_path: Path):
    store = Store(tmp_path / "s").ensure()
    assert compact(store).summary() == "nothing to do"
