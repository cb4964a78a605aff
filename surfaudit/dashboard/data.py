"""What the dashboard shows, computed by the reports' library functions (no SQL here).

Why: the morning view must agree with `surfaudit report` to the minute, and name
people exactly as reports do: `run_report` pseudonymises under `[privacy]
reports_name_people = false` unless `--reveal --reason` is given, and records
in the audit log every view that names people (with a directory, or revealed).
Opening a person's days is one more such report, recorded the same way.

"This week" is the last seven local days ending today, the reports' default range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from surfaudit import clock
from surfaudit.config import Config
from surfaudit.naming import decide, must_record
from surfaudit.reports.run import run_report
from surfaudit.store import Store
from surfaudit.store.access import reading

DAYS = 7
TOP_BLOCKED = 10


@dataclass(frozen=True)
class Viewing:
    """How people are named: the reports' --pseudonymise / --reveal --reason."""
    pseudonymise: bool = False
    reveal: bool = False
    reason: str | None = None

    def kwargs(self) -> dict:
        return {"pseudonymise": self.pseudonymise, "reveal": self.reveal, "reason": self.reason}


@dataclass
class Morning:
    today: date
    week_from: date
    timezone: str
    flag_minutes: float
    named: bool  # people shown by identity (False: pseudonyms)
    recorded: bool  # views naming people are recorded in the audit log (a directory, or --reveal)
    last_ingest: dict | None  # the latest audit entries of each
    last_purge: dict | None
    flagged_today: pl.DataFrame  # user, outside_break_minutes, social_minutes, requests
    flagged_week: pl.DataFrame  # user, days_flagged, outside_break_minutes, social_minutes, last_flagged
    top_blocked: pl.DataFrame  # host, requests (blocked), bytes
    store_bytes: int
    months: list[str]
    rows: int
    oldest: datetime | None  # the oldest row kept (UTC)
    retention_months: int
    cutoff: datetime  # rows before this instant are purged by the next nightly


def local_today(cfg: Config, now: datetime | None = None) -> date:
    return (now or clock.now()).astimezone(ZoneInfo(cfg.schedule.timezone)).date()


def _last(entries: list[dict], command: str) -> dict | None:
    found = [e for e in entries if e.get("command") == command]
    return found[-1] if found else None


def load_morning(store: Store, cfg: Config, viewing: Viewing = Viewing(), now: datetime | None = None) -> Morning:
    """Everything on the main screen; a UsageError for a bad --reveal/--reason first."""
    how = decide(cfg, **viewing.kwargs())
    today = local_today(cfg, now)
    week_from = today - timedelta(days=DAYS - 1)
    with reading(store):
        social = run_report(store, cfg, "social", week_from, today, flagged=True, **viewing.kwargs()).table
        blocked = run_report(store, cfg, "top", week_from, today, by="host", limit=TOP_BLOCKED,
                             blocked_only=True).table
        summary = run_report(store, cfg, "summary").table  # the whole store: months held, rows, oldest
    week = (social.group_by("user")
            .agg(pl.len().alias("days_flagged"), pl.col("outside_break_minutes").sum(),
                 pl.col("social_minutes").sum(), pl.col("date").max().alias("last_flagged"))
            .sort(["outside_break_minutes", "user"], descending=[True, False]))
    today_rows = (social.filter(pl.col("date") == today)
                  .select("user", "outside_break_minutes", "social_minutes", "requests")
                  .sort(["outside_break_minutes", "user"], descending=[True, False]))
    entries = store.audit_entries()
    return Morning(
        today=today, week_from=week_from, timezone=cfg.schedule.timezone, flag_minutes=cfg.social.flag_minutes,
        named=not how.pseudonymise, recorded=must_record(cfg, how), last_ingest=_last(entries, "ingest"), last_purge=_last(entries, "purge"),
        flagged_today=today_rows, flagged_week=week, top_blocked=blocked, store_bytes=store.disk_bytes(),
        months=summary["month"].to_list(), rows=int(summary["rows"].sum()) if summary.height else 0,
        oldest=summary["first_ts"].min() if summary.height else None, retention_months=cfg.retention.months,
        cutoff=clock.retention_cutoff(cfg.retention.months, now),
    )


def person_days(store: Store, cfg: Config, person: str, morning: Morning, viewing: Viewing = Viewing()) -> pl.DataFrame:
    """One person's social days of the week (every day with social time, flagged or not),
    `person` as the dashboard shows it (identity or pseudonym); audited like the report."""
    with reading(store):
        return run_report(store, cfg, "social", morning.week_from, morning.today, user=person,
                          **viewing.kwargs()).table


def entry_line(entry: dict | None, tz: str) -> str:
    """An audit entry as one line: local time, rows, what it says."""
    if entry is None:
        return "none recorded"
    when = datetime.fromisoformat(entry["time"]).astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")
    detail = f"; {entry['detail']}" if entry.get("detail") else ""
    return f"{when}: {entry.get('rows', 0):,} rows{detail}"


def size_text(n: int) -> str:
    """Bytes for people: 1,234 bytes, 12.3 KB, 4.5 MB, 6.7 GB."""
    if n < 1024:
        return f"{n:,} bytes"
    value = n / 1024
    for unit in ("KB", "MB", "GB"):
        if value < 1024:
            return f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TB"
