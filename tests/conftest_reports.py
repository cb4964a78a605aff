"""Helpers for the report tests: build an `events` view from a few hand-written rows.

Not a pytest conftest (tests/conftest.py belongs to another module); the report
test files import it by path. Timestamps are written in UTC with a 'Z' so every
expectation in the tests is computed by hand from the literal values.
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import polars as pl

from surfaudit.config import Config
from surfaudit.schema import conform, empty_events


def ev(ts: str, user: str, host: str, action: str = "allowed", *, url: str | None = None,
       category: str | None = None, nbytes: int = 100, status: int | None = None) -> dict:
    """One canonical event; `ts` is ISO 8601 UTC ('2026-01-05T12:00:00.000Z')."""
    t = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc)
    if status is None:
        status = {"allowed": 200, "blocked": 403, "auth": 407, "error": 0}[action]
    return {
        "ts": t, "user": user, "username": user, "client_ip": "10.0.0.1",
        "method": "GET", "host": host, "url": url or f"http://{host}/",
        "action": action, "status": status, "bytes": nbytes, "elapsed_ms": 5,
        "category": category, "source": "squid",
    }


def events_con(rows: list[dict]) -> duckdb.DuckDBPyConnection:
    """A fresh connection with the rows registered as the view `events`."""
    if rows:
        df = conform(pl.DataFrame(rows, schema_overrides={"ts": pl.Datetime("us", "UTC")}))
    else:
        df = empty_events()
    con = duckdb.connect()
    con.register("events_df", df.to_arrow())
    con.execute("CREATE VIEW events AS SELECT * FROM events_df")
    return con


def cfg(**social) -> Config:
    """The default config, optionally with [social] overrides."""
    from dataclasses import replace

    base = Config()
    return replace(base, social=replace(base.social, **social)) if social else base


def rows_of(df: pl.DataFrame) -> list[tuple]:
    return [tuple(r) for r in df.iter_rows()]
