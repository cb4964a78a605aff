"""Everything an investigation export shows, gathered once from the store.

Why a module of its own: the CSV and the HTML must show the same numbers as
`report social` and `report blocked`. So this runs the very same query files
(`social_segments`, `social`, `blocked`) with the same parameters, built by
`surfaudit.sql` helpers, and never re-implements the estimator or the periods
(DESIGN §6): every period and piece start shown comes from the SQL. The only
extra readings are the identity's requests with their periods (`request_periods`,
for the non-social and blocked rows of the CSV; an allowed request is social
exactly when `social_segments` lists it) and the identity's own timetable on each
date (`person_timetable`), which the HTML and Excel files state and draw, so they
never show a timetable other than the one the figures were cut by.

The export may not import `surfaudit.reports` (DESIGN §2 import rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta, timezone
from typing import Any

import polars as pl

from surfaudit.config import Config
from surfaudit.engine import connect
from surfaudit.org_sql import prepare
from surfaudit.sql import dated_params, run_query, schedule_params, social_params
from surfaudit.store import Store

REQUEST_COLUMNS = ("local_time", "host", "url", "action", "category", "social", "period", "covered_seconds")
DAILY_COLUMNS = (
    "date", "social_minutes", "outside_break_minutes", "in_break_minutes",
    "outside_hours_minutes", "requests", "flagged",
)
BLOCKED_COLUMNS = ("date", "requests", "attempts", "hosts", "top_host")
ATTEMPT_COLUMNS = ("date", "host", "first_local", "last_local", "requests")  # queries/blocked_attempts.sql
TIMETABLE_COLUMNS = ("date", "schedule", "workdays", "period", "start_local", "end_local")  # person_timetable

@dataclass
class Investigation:
    """One identity over local dates [date_from, date_to], ready to render."""

    user: str
    date_from: date
    date_to: date
    cfg: Config
    requests: pl.DataFrame  # REQUEST_COLUMNS + ts_utc (piece start), date, seconds; one row per request/piece
    daily: pl.DataFrame  # DAILY_COLUMNS: the social report rows of this identity
    blocked: pl.DataFrame  # BLOCKED_COLUMNS: the blocked report rows of this identity
    # social pieces: date, period, start_local (naive), seconds, host, start_utc (the
    # instant: the repeated hour of the autumn clock change has two of each local time)
    pieces: pl.DataFrame
    totals: dict[str, Any] = field(default_factory=dict)
    attempts: pl.DataFrame = field(default_factory=pl.DataFrame)  # ATTEMPT_COLUMNS: one row per blocked attempt
    # TIMETABLE_COLUMNS: the identity's own timetable, one row per slot of each date
    # (schedule '' = [schedule]; workdays ISO 1-7; start/end local, naive)
    timetable: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def days(self) -> list[date]:
        n = (self.date_to - self.date_from).days + 1
        return [self.date_from + timedelta(days=i) for i in range(n)]


def gather(store: Store, cfg: Config, user: str, date_from: date, date_to: date) -> Investigation:
    """Run the report queries for one identity and build the per-request rows."""
    params = {**dated_params(cfg, date_from, date_to, user), **schedule_params(cfg), **social_params(cfg)}
    params["flag_minutes"] = float(cfg.social.flag_minutes)
    params["burst_ms"] = int(cfg.blocked.burst_seconds) * 1000
    con = connect(cfg)  # DuckDB, or Spark under [engine] kind = "spark" (surfaudit.engine)
    try:
        lo = params["utc_from"].replace(tzinfo=timezone.utc)
        hi = params["utc_to"].replace(tzinfo=timezone.utc)
        store.events_view(con, lo, hi)
        prepare(con, cfg, date_from, date_to)  # aliases, scope and timetables (DESIGN §6)
        segments = run_query(con, "social_segments", params)
        daily = run_query(con, "social", params).select(DAILY_COLUMNS)
        blocked = run_query(con, "blocked", params).select(BLOCKED_COLUMNS)
        attempts = run_query(con, "blocked_attempts", params).select(ATTEMPT_COLUMNS)
        # the identity's requests, each with its period under the identity's own timetable
        # (run_query sets the session to UTC and returns its timestamps in UTC)
        raw = run_query(con, "request_periods", params)
        slots = run_query(con, "person_timetable", params)
    finally:
        con.close()
    requests, pieces = _request_rows(cfg, raw, segments, date_from, date_to)
    inv = Investigation(user, date_from, date_to, cfg, requests, daily, blocked, pieces, attempts=attempts,
                        timetable=_timetable_rows(cfg, slots))
    inv.totals = _totals(inv)
    return inv


def _request_rows(cfg: Config, raw: pl.DataFrame, segments: pl.DataFrame, d1: date, d2: date):
    tz = cfg.schedule.timezone
    keys = ["ts", "host", "url"]
    social_keys = segments.select(keys).unique()
    # Non-social requests: everything of the identity except allowed requests that
    # social_segments lists (an allowed request is social exactly when it is there).
    allowed = raw.filter(pl.col("action") == "allowed").join(social_keys, on=keys, how="anti")
    others = pl.concat([allowed, raw.filter(pl.col("action") != "allowed")]).with_columns(
        pl.col("ts").dt.convert_time_zone(tz).dt.replace_time_zone(None).alias("local_time"),
    ).with_columns(
        pl.col("local_time").dt.date().alias("date"),
        pl.lit(False).alias("social"),
        pl.lit(0.0).alias("covered_seconds"),
        pl.col("ts").alias("ts_utc"),
        pl.lit(0, dtype=pl.Int64).alias("order"),
    ).filter(pl.col("date").is_between(d1, d2))

    category = raw.filter(pl.col("action") == "allowed").unique(subset=keys, keep="first").select(*keys, "category")
    social = segments.with_columns(
        _piece_start().alias("ts_utc"),
        pl.lit("allowed").alias("action"),
        pl.lit(True).alias("social"),
        pl.col("req_id").cast(pl.Int64).alias("order"),
    ).join(category, on=keys, how="left").with_columns(
        pl.col("ts_utc").dt.convert_time_zone(tz).dt.replace_time_zone(None).alias("local_time"),
    )
    cols = ["ts_utc", "ts", "order", "local_time", "host", "url", "action", "category", "social",
            "period", "covered_seconds", "date"]
    rows = pl.concat([
        others.select(cols),
        social.select(pl.col(c).cast(others.schema[c]) for c in cols),
    ]).sort(["ts_utc", "ts", "order", "period"])
    pieces = social.select(
        "date", "period", pl.col("local_time").alias("start_local"),
        pl.col("covered_seconds").alias("seconds"), "host", pl.col("ts_utc").alias("start_utc"),
    ).filter(pl.col("seconds") > 0)
    return rows, pieces


def _timetable_rows(cfg: Config, slots: pl.DataFrame) -> pl.DataFrame:
    """The query's slots with local (naive) start and end times instead of epoch ms."""
    tz = cfg.schedule.timezone

    def local(c: str) -> pl.Expr:
        ms = pl.from_epoch(pl.col(c).cast(pl.Int64), time_unit="ms").dt.replace_time_zone("UTC")
        return ms.dt.convert_time_zone(tz).dt.replace_time_zone(None).alias(c.replace("_ms", "_local"))

    return slots.with_columns(local("start_ms"), local("end_ms"),
                              pl.col("workdays").cast(pl.List(pl.Int32))).select(TIMETABLE_COLUMNS)


def _piece_start() -> pl.Expr:
    """When each piece starts, from the query (`piece_start_ms`, the later of the
    coverage start and the start of the identity's own timetable slot), so a person
    on another schedule gets that schedule's edges; a request's own first piece
    keeps the request's exact time (microseconds)."""
    own_ms = (pl.col("ts").dt.epoch("us") + 500) // 1000  # as the SQL's round(epoch_us / 1000.0)
    return (
        pl.when(pl.col("piece_start_ms") == own_ms).then(pl.col("ts").dt.convert_time_zone("UTC"))
        .otherwise(pl.from_epoch(pl.col("piece_start_ms"), time_unit="ms").dt.replace_time_zone("UTC"))
        .cast(pl.Datetime("us", "UTC"))
    )


def _totals(inv: Investigation) -> dict[str, Any]:
    d, b = inv.daily, inv.blocked
    return {
        "requests": int(inv.requests.filter(pl.col("ts_utc") == pl.col("ts")).height),
        "rows": inv.requests.height,
        "social_requests": int(d["requests"].sum()) if d.height else 0,
        "social_minutes": round(float(d["social_minutes"].sum()), 2) if d.height else 0.0,
        "outside_break_minutes": round(float(d["outside_break_minutes"].sum()), 2) if d.height else 0.0,
        "in_break_minutes": round(float(d["in_break_minutes"].sum()), 2) if d.height else 0.0,
        "outside_hours_minutes": round(float(d["outside_hours_minutes"].sum()), 2) if d.height else 0.0,
        "days_with_social": d.height,
        "flagged_days": int(d["flagged"].sum()) if d.height else 0,
        "blocked_requests": int(b["requests"].sum()) if b.height else 0,
        "blocked_attempts": int(b["attempts"].sum()) if b.height else 0,
        "blocked_days": b.height,
    }
