"""Delta commits among many writers (a real moto S3 server on localhost).

Whether our commit landed is decided by reading every version after the one it was
built on, however many writers committed meanwhile; an error after the commit point
says the data was committed. The purge counts the rows it trimmed from its own
delete, not from totals other writers change.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from surfaudit.schema import conform
from surfaudit.store.delta import DeltaStore
from tests.conftest import squid_line, utc
from tests.conftest_reports import ev
from tests.test_s3_store import lines, open_s3, rows_of, sa

pytestmark = pytest.mark.s3
REAL_COMMIT = DeltaStore.commit_actions  # before any test patches it


def _other_commits(uri: str, count: int) -> None:
    """`count` commits of another writer (each adds nothing but its record)."""
    other = open_s3(uri)
    table = other.delta_table()
    for i in range(count):
        # brought up to date first: a commit from a stale snapshot re-reads every newer
        # version to check for conflicts (60 commits took 43 s instead of a few)
        table.update_incremental()
        REAL_COMMIT(other, table, [], {"tx": f"other-writer-{i}", "kind": "other"})


def test_a_failure_after_the_commit_says_committed_with_60_commits_after_ours(s3_store, tmp_path, monkeypatch):
    """Our commit lands, 60 other commits follow, then the call fails (as a post-commit
    hook can): the run must see its commit (not the newest 50 only), keep its files and
    checkpoint, and say the data was committed; a rerun stores nothing twice."""
    import deltalake

    ours = {}

    def commit_then_fail(self, table, actions, record, app=None, mode="append"):
        ours.update(version=table.version() + 1, tx=record["tx"])  # no other writer yet
        REAL_COMMIT(self, table, actions, record, app, mode)
        _other_commits(s3_store, 60)
        raise deltalake.exceptions.DeltaError("post-commit hook failed")

    log = tmp_path / "access.log"
    log.write_text(lines(0, 300))
    monkeypatch.setattr(DeltaStore, "commit_actions", commit_then_fail)
    run = sa(s3_store, "ingest", "--summary", "json", str(log))
    monkeypatch.setattr(DeltaStore, "commit_actions", REAL_COMMIT)
    assert "data was committed" in run.err and "(DeltaError)" in run.err and "nothing" not in run.err, run.err
    assert '"rows": 300' in run.out, run.out  # the summary counts what was stored
    store = open_s3(s3_store)
    assert store.delta_table().version() == ours["version"] + 60
    assert rows_of(store)[0][0] == 300  # its files were kept: the table reads
    assert store.check_sizes() == []
    rerun = sa(s3_store, "ingest", str(log))
    assert rerun.code == 0, rerun.err
    assert rows_of(store)[0][0] == 300  # the checkpoint was kept: nothing stored twice
    assert sa(s3_store, "verify").code == 0

    from surfaudit.store.delta_write import find_commit

    assert find_commit(store, ours["version"] - 1, ours["tx"])["version"] == ours["version"]
    assert find_commit(store, ours["version"], ours["tx"]) is None  # only the versions after the base


def test_an_uncommitted_failure_still_says_nothing_was_stored(s3_store, tmp_path, monkeypatch):
    import deltalake

    def fail(self, *a, **k):
        raise deltalake.exceptions.DeltaError("the log was unreachable")

    log = tmp_path / "access.log"
    log.write_text(lines(0, 50))
    monkeypatch.setattr(DeltaStore, "commit_actions", fail)
    run = sa(s3_store, "ingest", str(log))
    monkeypatch.undo()
    assert "nothing from this run was stored" in run.err, run.err
    store = open_s3(s3_store)
    assert rows_of(store)[0][0] == 0
    assert [n for n, _, _ in store.objects.list("events/month=")] == []  # its uploads were deleted
    assert [n for n, _, _ in store.objects.list("lineages/")] == []  # and its checkpoint claim


def _append(uri: str, when, count: int) -> None:
    """Another writer's commit of `count` rows at `when` onwards."""
    other = open_s3(uri, site="other-school")
    tx = other.begin("ingest")
    tx.write(conform(pl.DataFrame([ev((when + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                                      f"o{i}", "example.org") for i in range(count)])))
    tx.commit({})


def test_purge_counts_only_the_rows_it_trimmed_while_others_append(s3_store, tmp_path, monkeypatch):
    """Another writer appends 37 rows to the straddling month while the purge runs (right
    after its delete commits, before anything is counted again): rows_trimmed is what the
    purge deleted, not a difference of totals that includes the other writer's rows."""
    import deltalake

    from retention import purge_delta
    from surfaudit.config import Config, Retention

    log = tmp_path / "access.log"
    log.write_text("".join(squid_line(utc(2026, 10, 1) + timedelta(minutes=20 * i), user=f"u{i % 5}") + "\n"
                           for i in range(4000)))
    assert sa(s3_store, "ingest", str(log), env={"SURFAUDIT_NOW": "2026-11-30T00:00:00Z"}).code == 0
    times = [utc(2026, 10, 1) + timedelta(minutes=20 * i) for i in range(4000)]
    cutoff = utc(2026, 11, 10)
    trimmed = sum(1 for t in times if t.strftime("%Y-%m") == "2026-11" and t < cutoff)
    expired = sum(1 for t in times if t.strftime("%Y-%m") == "2026-10")
    real = deltalake.DeltaTable.delete

    def delete_then_append(self, *a, **k):
        out = real(self, *a, **k)
        _append(s3_store, utc(2026, 11, 20), 37)  # the straddling month, after the cutoff
        return out

    monkeypatch.setattr(deltalake.DeltaTable, "delete", delete_then_append)
    result = purge_delta.purge(open_s3(s3_store), Config(retention=Retention(months=1)),
                               now=utc(2026, 12, 10), exact=True)
    monkeypatch.undo()
    assert (result.trimmed_month, result.rows_trimmed, result.rows_removed) == ("2026-11", trimmed, expired)
    assert rows_of(open_s3(s3_store))[0][0] == 4000 - expired - trimmed + 37


def test_purge_with_an_append_to_another_month_before_its_commit(s3_store, tmp_path, monkeypatch):
    """An append to a month the purge does not touch, between the purge's read of the log
    and its delete commit: no conflict, and the counts are the purge's own."""
    import deltalake

    from retention import purge_delta
    from surfaudit.config import Config, Retention

    log = tmp_path / "access.log"
    log.write_text("".join(squid_line(utc(2026, 10, 1) + timedelta(minutes=20 * i), user=f"u{i % 5}") + "\n"
                           for i in range(4000)))
    assert sa(s3_store, "ingest", str(log), env={"SURFAUDIT_NOW": "2026-11-30T00:00:00Z"}).code == 0
    times = [utc(2026, 10, 1) + timedelta(minutes=20 * i) for i in range(4000)]
    trimmed = sum(1 for t in times if t.strftime("%Y-%m") == "2026-11" and t < utc(2026, 11, 10))
    real = deltalake.DeltaTable.delete

    def append_then_delete(self, *a, **k):
        _append(s3_store, utc(2026, 12, 9), 11)
        return real(self, *a, **k)

    monkeypatch.setattr(deltalake.DeltaTable, "delete", append_then_delete)
    result = purge_delta.purge(open_s3(s3_store), Config(retention=Retention(months=1)),
                               now=utc(2026, 12, 10), exact=True)
    monkeypatch.undo()
    assert result.rows_trimmed == trimmed
    assert rows_of(open_s3(s3_store), "select count(*) from events where ts >= '2026-12-01'")[0][0] == 11


def test_both_backends_name_transactions_alike(s3_store, tmp_path):
    """One transaction-id format (surfaudit.store.paths.new_tx_id): UTC second, random
    part; the quarantine file's time is read back from it on either backend."""
    import re

    from surfaudit.store import Store
    from surfaudit.store.paths import TX_NAME, new_tx_id, tx_time

    local, delta = Store(tmp_path / "store").ensure().begin("ingest"), open_s3(s3_store).begin("ingest")
    try:
        shape = re.compile(r"\d{8}T\d{6}-[0-9a-f]{10}")
        assert shape.fullmatch(local.id) and shape.fullmatch(delta.id) and local.id != delta.id
        purge = new_tx_id("purge")
        assert TX_NAME.fullmatch(purge) and purge.endswith("-purge")
        stamp = tx_time(f"quarantine/q-{delta.id}.parquet")
        assert stamp.tzinfo is not None and stamp.strftime("%Y%m%dT%H%M%S") == delta.id[:15]
        assert open_s3(s3_store).quarantine_written_at(f"quarantine/q-{delta.id}.parquet") == stamp
        assert Store(tmp_path / "store").quarantine_written_at(tmp_path / f"q-{local.id}.parquet") == tx_time(f"q-{local.id}")
    finally:
        local.abort()
        delta.abort()
