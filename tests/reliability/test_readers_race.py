"""Reports during nightly compaction and purge read one committed state.

Another process runs, in a loop and as fast as it can, the real `run_nightly` (purge,
then compaction, then the nightly check; its ingest step is given nothing to read)
on a small store, after each cycle re-fragmenting every month into several parts and
re-adding a month that has expired, so that every cycle replaces every part at least
twice: compaction rewrites each month, purge deletes the expired one. Meanwhile this
process runs `report summary` in a loop (in-process, like the CLI does, plus a few
through the real CLI). Every report must succeed and its total must be the total of
a committed state: the kept rows, or the kept rows plus the expired month (before the
purge commits). On the old code the replaced files were unlinked at commit and
reports failed with `IOException` or missed a month.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from surfaudit.config import load_config
from surfaudit.reports.run import run_report
from surfaudit.schema import conform
from surfaudit.store import Store

from .helpers import LONG, ROOT, cli_env, failed, run_cli, tried

pytestmark = pytest.mark.slow  # long trials: -m 'not slow' leaves them out

UTC = timezone.utc
SUITE = "readers race"
NOW = "2026-11-20T12:00:00+00:00"
TRIALS = 1000 if LONG else 200
CLI_TRIALS = 4
KEPT_MONTHS = [datetime(2026, m, 3, tzinfo=UTC) for m in (8, 9, 10, 11)]
EXPIRED = datetime(2024, 5, 3, tzinfo=UTC)  # older than 12 months at NOW
PER_MONTH, EXPIRED_ROWS = 150, 70


def rows(first: int, n: int, start: datetime) -> pl.DataFrame:
    ts = [start + timedelta(minutes=i) for i in range(n)]
    return conform(pl.DataFrame({
        "ts": ts, "user": ["u"] * n, "username": ["u"] * n, "client_ip": ["10.0.0.1"] * n, "method": ["GET"] * n,
        "host": ["h"] * n, "url": ["http://h/"] * n, "action": ["allowed"] * n, "status": [200] * n,
        "bytes": list(range(first, first + n)), "elapsed_ms": [1] * n, "category": [None] * n,
        "source": ["squid"] * n,
    }))


CHILD = r"""
import os, sys, time
from datetime import datetime
sys.path.insert(0, sys.argv[4])
from surfaudit import nightly
from surfaudit.config import load_config
from surfaudit.store import Store
from tests.reliability.test_readers_race import EXPIRED, EXPIRED_ROWS, rows

root, config, stop = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = load_config(config, root)
store = Store(root)
nightly._ingest_paths = lambda *a: []
now = datetime.fromisoformat(sys.argv[5])
cycles, deferred = 0, 0
while not os.path.exists(stop):
    with store.lock(30):
        tx = store.begin("ingest")                   # an expired month for the purge to remove
        tx.write(rows(10**6, EXPIRED_ROWS, EXPIRED))
        tx.commit({})
        for month, rels in store.month_parts().items():   # fragment: the compaction rewrites it
            if month == EXPIRED.strftime("%Y-%m"):
                continue
            df = store.read_parts(rels)
            tx = store.begin("ingest")
            for slot, part in enumerate(df.iter_slices(max(1, df.height // 3))):
                tx.write(part, slot=slot)
            tx.replace(rels)
            tx.commit({})
    result = nightly.run_nightly(store, cfg, [], now=now, wait=30)
    assert result.ok, [s.summary for s in result.steps]  # (the check step too: no part lost)
    deferred += getattr(result.step("purge").result, "deferred", 0)
    cycles += 1
print(cycles, deferred, flush=True)
"""


def test_reports_during_nightly_compaction_and_purge_see_one_committed_state(tmp_path: Path, monkeypatch):
    config = tmp_path / "surfaudit.toml"
    config.write_text("[retention]\nmonths = 12\n")
    store = Store(tmp_path / "store").ensure()
    for i, start in enumerate(KEPT_MONTHS):
        tx = store.begin("ingest")
        tx.write(rows(i * PER_MONTH, PER_MONTH, start))
        tx.commit({})
    kept = PER_MONTH * len(KEPT_MONTHS)
    valid = {kept, kept + EXPIRED_ROWS}
    cfg = load_config(config, store.root)
    stop = tmp_path / "stop"
    monkeypatch.setenv("SURFAUDIT_NOW", NOW)

    child = subprocess.Popen([sys.executable, "-c", CHILD, str(store.root), str(config), str(stop), str(ROOT), NOW],
                             env=cli_env(NOW), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    failures, wrong, seen = [], [], {}
    started = time.monotonic()
    try:
        time.sleep(1.0)  # let the child start its first cycle
        for trial in range(TRIALS):
            try:
                if trial % (TRIALS // CLI_TRIALS) == 0:
                    run = run_cli("--config", str(config), "--store", str(store.root), "report", "summary",
                                  "--format", "json", now=NOW)
                    if run.code != 0:
                        raise RuntimeError(f"exit {run.code}: {run.err.strip()}")
                    total = sum(r["rows"] for r in json.loads(run.out)["rows"])
                else:
                    result = run_report(store, cfg, "summary", None, None)
                    total = int(result.table["rows"].sum())
            except Exception as exc:  # noqa: BLE001 - every failure is counted, then the test fails
                failures.append(f"trial {trial}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            seen[total] = seen.get(total, 0) + 1
            if total not in valid:
                wrong.append(f"trial {trial}: total {total}, expected one of {sorted(valid)}")
    finally:
        stop.write_text("")
        out, err = child.communicate(timeout=120)
    elapsed = time.monotonic() - started
    tried(SUITE, "reports during nightly", TRIALS)
    tried(SUITE, "of them through the CLI", CLI_TRIALS)
    for message in failures + wrong:
        failed(SUITE, message)
    print(f"{TRIALS} reports in {elapsed:.1f} s; totals seen {seen}; {len(failures)} failures, {len(wrong)} wrong")
    assert child.returncode == 0, err[-2000:]
    cycles, deferred = (int(x) for x in out.split())
    tried(SUITE, "nightly cycles (purge + compaction) meanwhile", cycles)
    tried(SUITE, "purges that deferred a deletion to a later run", deferred)
    print(f"writer: {cycles} nightly cycles, {deferred} deferred deletions")
    assert cycles >= 5, f"only {cycles} nightly cycles ran during the reports"
    assert not failures and not wrong, (failures + wrong)[:10]
    assert len(seen) == 2, f"the reports never overlapped a purge: {seen}"
    # after the writer stops, the next lock deletes every replaced part no reader uses
    with store.lock():
        pass
    assert sorted(store.event_files()) == sorted(store.live_parts())


def test_purge_defers_deletion_while_a_report_reads_and_the_next_lock_deletes(tmp_path: Path, monkeypatch):
    """The retention promise with a reader active: invisible at once, deleted by the next run."""
    import duckdb

    import retention.purge as purge_module
    from retention.purge import purge

    config = tmp_path / "surfaudit.toml"
    config.write_text("[retention]\nmonths = 12\n")
    store = Store(tmp_path / "store").ensure()
    for first, start in ((0, EXPIRED), (1000, KEPT_MONTHS[-1])):
        tx = store.begin("ingest")
        tx.write(rows(first, 10, start))
        tx.commit({})
    expired = store.parts([EXPIRED.strftime("%Y-%m")])
    cfg = load_config(config, store.root)
    now = datetime.fromisoformat(NOW)
    monkeypatch.setattr(purge_module, "SWEEP_WAIT", 0.2)

    con = duckdb.connect()
    store.events_view(con)  # a report that started before the purge: pins the readers' lock
    with store.lock():
        result = purge(store, cfg, now=now)
    tried(SUITE, "purges with a reader active")
    assert result.deferred == len(expired) and "next run" in result.summary()
    assert all(p.exists() for p in expired)  # the running report can still read them
    assert con.execute("select count(*) from events").fetchone()[0] == 20
    assert [m for m in store.months()] == [KEPT_MONTHS[-1].strftime("%Y-%m")]  # invisible to new readers
    fresh = duckdb.connect()
    store.events_view(fresh)
    assert fresh.execute("select count(*) from events").fetchone()[0] == 10
    del con, fresh  # the reports end
    with store.lock():  # the next command that takes the lock
        pass
    assert not any(p.exists() for p in expired)

    # without a reader the same purge deletes at its end
    tx = store.begin("ingest")
    tx.write(rows(2000, 10, EXPIRED))
    tx.commit({})
    again = store.parts([EXPIRED.strftime("%Y-%m")])
    with store.lock():
        result = purge(store, cfg, now=now)
    assert result.deferred == 0 and not any(p.exists() for p in again)
