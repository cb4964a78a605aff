"""Blocked report (DESIGN §6): blocked requests, attempts (bursts), hosts and top host
per identity and local date, computed by `queries/blocked.sql`."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from surfaudit.config import Config
from surfaudit.reports.common import range_params
from surfaudit.sql import run_query

BLOCKED_COLUMNS = ("user", "date", "requests", "attempts", "hosts", "top_host")


def blocked_report(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    date_from: date | str,
    date_to: date | str,
    user: str | None = None,
) -> pl.DataFrame:
    """Columns user, date, requests, attempts, hosts, top_host; sorted by date, user."""
    params = range_params(cfg, date_from, date_to, user)
    params["burst_ms"] = int(cfg.blocked.burst_seconds) * 1000
    return run_query(con, "blocked", params).select(BLOCKED_COLUMNS)
