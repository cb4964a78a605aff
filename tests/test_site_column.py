"""Every stored row carries the site that ingested it; reports filter by it (--proxy-site)."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pyarrow as pa
import pytest

from ingest.pipeline import ingest_paths
from surfaudit.config import Config, Ingest
from surfaudit.store import Store
from tests.conftest import ROOT, run_cli, squid_line, utc

NOW = utc(2026, 11, 20, 12, 0)
T0 = utc(2026, 11, 2, 9, 0)


def log_of(tmp_path, name: str, start: int, count: int):
    path = tmp_path / name
    path.write_text("".join(squid_line(T0 + timedelta(seconds=10 * i), user=f"u{i % 3}") + "\n"
                            for i in range(start, start + count)))
    return path


def ingest_as(store: Store, site: str, *paths):
    store.site = site
    with store.lock():
        return ingest_paths(store, Config(store_path=store.root, ingest=Ingest(site=site)), list(paths), now=NOW)


def ingest_before_site_column(store: Store, monkeypatch, site: str, path):
    """Ingest `path` as an older version did: its part has no site column."""
    from surfaudit.store import transaction

    old = pa.schema([f for f in transaction.WRITE_SCHEMA if f.name != "site"])
    options = {**transaction.PARQUET_OPTIONS,
               "use_dictionary": [c for c in transaction.PARQUET_OPTIONS["use_dictionary"] if c != "site"]}
    with monkeypatch.context() as m:
        m.setattr(transaction, "WRITE_SCHEMA", old)
        m.setattr(transaction, "PARQUET_OPTIONS", options)
        return ingest_as(store, site, path)


def sites(store: Store, site=None):
    con = duckdb.connect()
    store.events_view(con, site=site)
    return dict(con.execute("select coalesce(site, '(none)'), count(*) from events group by 1").fetchall())


def test_rows_carry_their_site_and_the_view_filters_by_it(tmp_path):
    store = Store(tmp_path / "store")
    ingest_as(store, "north", log_of(tmp_path, "a.log", 0, 40))
    ingest_as(store, "south", log_of(tmp_path, "b.log", 1000, 25))
    assert sites(store) == {"north": 40, "south": 25}
    assert sites(store, "south") == {"south": 25}
    assert sites(store, "nowhere") == {}


def test_parts_written_before_the_site_column_still_read(tmp_path, monkeypatch):
    from surfaudit.compact import compact
    from surfaudit.verify import verify_store

    store = Store(tmp_path / "store")
    ingest_before_site_column(store, monkeypatch, "north", log_of(tmp_path, "a.log", 0, 30))
    ingest_as(store, "south", log_of(tmp_path, "b.log", 1000, 20))
    assert sites(store) == {"(none)": 30, "south": 20}
    assert verify_store(store).ok
    with store.lock():
        assert compact(store).files_after == 1  # the rewrite keeps each row's site (or its null)
    assert sites(store) == {"(none)": 30, "south": 20}
    assert verify_store(store).ok


def test_report_proxy_site_on_the_cli(tmp_path):
    store = tmp_path / "store"
    for site, (name, start) in {"north": ("a.log", 0), "south": ("b.log", 1000)}.items():
        conf = tmp_path / f"{site}.toml"
        conf.write_text(f'[store]\npath = "{store}"\n[ingest]\nsite = "{site}"\nsettle_seconds = 0\n')
        log = log_of(tmp_path, name, start, 30 if site == "north" else 12)
        assert run_cli("--config", str(conf), "ingest", str(log), cwd=ROOT,
                       env={"SURFAUDIT_NOW": "2026-11-20T12:00:00Z"}).code == 0
    base = ("--store", str(store), "report", "top", "--from", "2026-11-01", "--to", "2026-11-10", "--format", "csv")
    everyone = run_cli(*base, cwd=ROOT, env={"SURFAUDIT_NOW": "2026-11-20T12:00:00Z"})
    south = run_cli(*base, "--proxy-site", "south", cwd=ROOT, env={"SURFAUDIT_NOW": "2026-11-20T12:00:00Z"})
    assert everyone.code == south.code == 0, south.err
    assert ",42" in everyone.out and ",12" in south.out and ",42" not in south.out


@pytest.mark.s3
def test_one_connection_reading_two_stores_sees_the_second(tmp_path, s3_server):
    """The `events` view is replaced whichever backend made the last one: a relation's
    persistent view used to be shadowed by the temp view an s3:// store had made."""
    from tests.conftest_s3 import new_bucket_store

    con = duckdb.connect()
    s3 = new_bucket_store("east")
    with s3.lock():
        ingest_paths(s3, Config(store_path=s3.root), [log_of(tmp_path, "e.log", 500, 9)], now=NOW)
    local = Store(tmp_path / "store")
    ingest_as(local, "north", log_of(tmp_path, "a.log", 0, 4))
    empty = Store(tmp_path / "empty").ensure()
    for store, rows in ((s3, 9), (local, 4), (s3, 9), (empty, 0), (local, 4)):
        store.events_view(con)
        assert con.execute("select count(*) from events").fetchone()[0] == rows, store.root


def test_a_renamed_events_view_keeps_reading_its_own_parts(tmp_path):
    """org_sql renames `events` to `events_stored`; a later view of another store on the
    same connection must not change what the renamed one reads."""
    first, second = Store(tmp_path / "a"), Store(tmp_path / "b")
    ingest_as(first, "north", log_of(tmp_path, "a.log", 0, 4))
    ingest_as(second, "north", log_of(tmp_path, "b.log", 100, 9))
    con = duckdb.connect()
    first.events_view(con)
    con.execute("ALTER VIEW events RENAME TO events_stored")
    second.events_view(con)
    assert con.execute("select count(*) from events_stored").fetchone()[0] == 4
    assert con.execute("select count(*) from events").fetchone()[0] == 9
