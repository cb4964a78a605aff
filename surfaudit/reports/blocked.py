"""Blocked report (DESIGN §6): blocked requests, attempts (bursts), hosts and top host
per identity and local date, computed by `queries/blocked.sql`."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from surfaudit.config import Config
from surfaudit.org_sql import Filters, prepare
from surfaudit.reports.common import check_range, range_params
from surfaudit.sql import run_query

BLOCKED_COLUMNS = ("user", "date", "requests", "attempts", "hosts", "top_host")


def blocked_report(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    date_from: date | str,
    date_to: date | str,
    user: str | None = None,
    filters: Filters | None = None,
) -> pl.DataFrame:
    """Columns user, date, requests, attempts, hosts, top_host; sorted by date, user.

    Identities are resolved through the directory's aliases and limited to the
    report's scope by the `events` view `surfaudit.org_sql.prepare` puts in place."""
    d1, d2 = check_range(date_from, date_to)
    prepare(con, cfg, d1, d2, filters)
    params = range_params(cfg, d1, d2, user)
    params["burst_ms"] = int(cfg.blocked.burst_seconds) * 1000
    return run_query(con, "blocked", params).select(BLOCKED_COLUMNS)
