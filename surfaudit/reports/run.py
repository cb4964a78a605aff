"""One entry point per report for the CLI: open the store's view, run, describe.

The CLI stays thin: it parses options and calls `run_report`, which reads only
the month partitions the date range needs (the store knows which files those
are) and returns the table plus the parameters the estimate used, so the table
view can state them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import polars as pl

from surfaudit.config import Config
from surfaudit.errors import UsageError
from surfaudit.reports.blocked import blocked_report
from surfaudit.reports.common import check_range, needed_utc_range, report_parameters
from surfaudit.reports.social import social_report
from surfaudit.reports.summary import summary_report
from surfaudit.reports.top import top_report
from surfaudit.store import Store

KINDS = ("social", "blocked", "top", "summary")


@dataclass
class ReportResult:
    kind: str
    table: pl.DataFrame
    date_from: date | None
    date_to: date | None
    parameters: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    months_read: list[str] = field(default_factory=list)


def run_report(store: Store, cfg: Config, kind: str, date_from: date, date_to: date, *, user: str | None = None,
               flagged: bool = False, by: str = "host", limit: int = 20) -> ReportResult:
    if kind not in KINDS:
        raise UsageError(f"unknown report {kind!r} (choose {', '.join(KINDS)})")
    con = duckdb.connect()
    if kind == "summary":
        months = store.events_view(con)  # one manifest state; its parts stay on disk while con lives
        return ReportResult(kind, summary_report(con), None, None, totals=manifest_totals(store), months_read=months)
    d1, d2 = check_range(date_from, date_to)
    lo, hi = needed_utc_range(cfg, d1, d2)
    months = store.events_view(con, lo, hi)
    if kind == "social":
        table = social_report(con, cfg, d1, d2, user=user, flagged_only=flagged)
    elif kind == "blocked":
        table = blocked_report(con, cfg, d1, d2, user=user)
    else:
        table = top_report(con, cfg, d1, d2, by=by, user=user, limit=limit)
    return ReportResult(kind, table, d1, d2, report_parameters(cfg), months_read=months)


def manifest_totals(store: Store) -> dict[str, int]:
    """Files ingested and lines rejected/expired/skipped, from the ingest manifest."""
    records = [r for r in store.manifest() if r.get("kind") == "ingest"]
    return {
        "files_ingested": len({r.get("lineage") for r in records}),
        "ingest_runs": len(records),
        "rows_written": sum(r.get("rows", 0) for r in records),
        "lines_rejected": sum(r.get("rejected", 0) for r in records),
        "rows_expired": sum(r.get("expired", 0) for r in records),
        "quarantine_files": len(store.quarantine_files()),
    }
