"""Summary of what the `events` view holds, per UTC month (`queries/summary.sql`).

The store owner joins this with its manifest (files ingested, rejected,
expired); this module knows nothing about paths or the on-disk layout.
"""

from __future__ import annotations

import duckdb
import polars as pl

from surfaudit.sql import run_query

SUMMARY_COLUMNS = ("month", "rows", "first_ts", "last_ts", "users", "blocked", "allowed")


def summary_report(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Columns month (YYYY-MM, UTC), rows, first_ts, last_ts, users, blocked, allowed."""
    return run_query(con, "summary", {}).select(SUMMARY_COLUMNS)
