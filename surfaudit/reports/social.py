"""Social time (DESIGN §6): the per-request segments and the daily social report.

Both run SQL from `queries/`: `social_segments.sql` computes each allowed
social request's coverage split at local midnight, work hours and breaks;
`social.sql` inlines that query and only aggregates it, so the investigation
export (built on `social_segments`) and the report can never disagree.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from surfaudit.config import Config
from surfaudit.errors import UsageError
from surfaudit.org_sql import Filters, prepare
from surfaudit.reports.common import check_range, range_params
from surfaudit.sql import run_query, schedule_params, social_params

SOCIAL_COLUMNS = (
    "user", "date", "social_minutes", "outside_break_minutes",
    "in_break_minutes", "outside_hours_minutes", "requests", "flagged",
)
SEGMENT_COLUMNS = ("ts", "local_time", "user", "host", "url", "date", "period", "covered_seconds")


def _params(con, cfg: Config, date_from, date_to, user, filters: Filters | None = None) -> dict:
    """Bound parameters, after registering the organisation's relations on `con`
    (each identity-date's timetable is chosen in the SQL, DESIGN §6)."""
    d1, d2 = check_range(date_from, date_to)
    prepare(con, cfg, d1, d2, filters)
    return {**range_params(cfg, d1, d2, user), **schedule_params(cfg), **social_params(cfg)}


def social_segments(
    con: duckdb.DuckDBPyConnection, cfg: Config, date_from: date | str, date_to: date | str, user: str
) -> pl.DataFrame:
    """One row per (request, local date, period) piece of `user`'s social time.

    Columns: ts (UTC), local_time, user, host, url, date, period
    (in_break|outside_break|outside_hours), covered_seconds (float). Sorted by ts.
    A request in the same millisecond as the next one has a 0-second piece.
    """
    if not isinstance(user, str):
        raise UsageError("social segments need one identity (--user)")
    df = run_query(con, "social_segments", _params(con, cfg, date_from, date_to, user))
    return df.select(SEGMENT_COLUMNS)


def social_report(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    date_from: date | str,
    date_to: date | str,
    user: str | None = None,
    flagged_only: bool = False,
    filters: Filters | None = None,
) -> pl.DataFrame:
    """The social report of §6: one row per identity and local date with social time.

    Columns, in order: user, date, social_minutes, outside_break_minutes,
    in_break_minutes, outside_hours_minutes, requests, flagged; sorted by date,
    user. `user` is matched exactly (bound parameter).
    """
    params = _params(con, cfg, date_from, date_to, user, filters)
    params["flag_minutes"] = float(cfg.social.flag_minutes)
    df = run_query(con, "social", params).select(SOCIAL_COLUMNS)
    if flagged_only:
        df = df.filter(pl.col("flagged"))
    return df
