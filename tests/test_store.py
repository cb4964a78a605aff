"""Store bookkeeping edge cases: a torn manifest or audit line never hides a later record."""

from __future__ import annotations

import duckdb
import polars as pl

from surfaudit.schema import conform
from surfaudit.store import Store
from tests.conftest import utc


def one_row(ts) -> pl.DataFrame:
    return conform(pl.DataFrame({
        "ts": [ts], "user": ["u"], "username": ["u"], "client_ip": ["10.0.0.1"], "method": ["GET"],
        "host": ["h"], "url": ["http://h/"], "action": ["allowed"], "status": [200], "bytes": [1],
        "elapsed_ms": [1], "category": [None], "source": ["squid"],
    }))


def test_torn_manifest_line_does_not_hide_the_next_commit(tmp_path):
    store = Store(tmp_path / "s").ensure()
    store.manifest_path.write_text('{"tx":"torn","par')  # power cut mid-append
    tx = store.begin("ingest")
    tx.write(one_row(utc(2026, 11, 2, 9)))
    tx.commit({})
    assert len(store.manifest()) == 1
    con = duckdb.connect()
    store.events_view(con)
    assert con.execute("select count(*) from events").fetchone()[0] == 1


def test_torn_audit_line_does_not_hide_the_next_entry(tmp_path):
    store = Store(tmp_path / "s").ensure()
    store.audit_path.write_text('{"time":"2026-11')
    store.append_audit({"time": "2026-11-24T08:00:00+00:00", "command": "purge"})
    assert [e["command"] for e in store.audit_entries()] == ["purge"]
