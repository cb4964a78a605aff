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

from surfaudit import naming
from surfaudit.config import Config
from surfaudit.errors import UsageError
from surfaudit.org_sql import check_filters, prepare
from surfaudit.people import resolve_user
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
    notes: list[str] = field(default_factory=list)  # exemptions and scope the figures reflect


def run_report(store: Store, cfg: Config, kind: str, date_from: date, date_to: date, *, user: str | None = None,
               flagged: bool = False, by: str = "host", limit: int = 20, site: str | None = None,
               group: str | None = None, pseudonymise: bool = False, reveal: bool = False,
               reason: str | None = None, proxy_site: str | None = None) -> ReportResult:
    """Run one report. `user` is matched as `surfaudit.people.resolve_user` says (exit 2
    with suggestions when nothing matches); `site`/`group` limit it to those people;
    naming follows `[privacy]` and `--reveal --reason` (surfaudit.naming), and a report
    that names people with a directory is recorded in the audit log. `proxy_site` keeps
    only the rows ingested at that site (`[ingest] site`), whoever the people are."""
    if kind not in KINDS:
        raise UsageError(f"unknown report {kind!r} (choose {', '.join(KINDS)})")
    how = naming.decide(cfg, pseudonymise=pseudonymise, reveal=reveal, reason=reason)
    con = duckdb.connect()
    if kind == "summary":
        months = store.events_view(con, site=proxy_site)  # one manifest state; its parts stay on disk while con lives
        return ReportResult(kind, summary_report(con), None, None, totals=manifest_totals(store), months_read=months)
    d1, d2 = check_range(date_from, date_to)
    filters = check_filters(cfg, site, group)
    if pseudonymise and user is not None and not user.strip().lower().startswith("staff-"):
        raise UsageError("--user and --pseudonymise cannot be combined (pseudonymised views name nobody); "
                         "give the pseudonym to --user instead")
    identity = resolve_user(store, cfg, user)
    lo, hi = needed_utc_range(cfg, d1, d2)
    months = store.events_view(con, lo, hi, site=proxy_site)
    if kind == "social":
        table = social_report(con, cfg, d1, d2, user=identity, flagged_only=flagged, filters=filters)
    elif kind == "blocked":
        table = blocked_report(con, cfg, d1, d2, user=identity, filters=filters)
    else:
        prepare(con, cfg, d1, d2, filters)
        table = top_report(con, cfg, d1, d2, by=by, user=identity, limit=limit)
    column = "user" if "user" in table.columns else None
    if column:
        naming.record(store, cfg, how, f"report {kind}", table, target=identity, date_from=d1, date_to=d2,
                      filters={"user": user, "site": filters.site, "group": filters.group, "flagged": flagged})
        table = naming.apply(store, how, table)
    notes = report_notes(cfg, kind)
    parameters = report_parameters(cfg) | ({"notes": notes} if notes else {})  # JSON states them too
    return ReportResult(kind, table, d1, d2, parameters, months_read=months, notes=notes)


def report_notes(cfg: Config, kind: str) -> list[str]:
    """What the figures reflect beyond [schedule]: scope and work-use exemptions (point 4)."""
    org, notes = cfg.org, []
    if org.staff_only:
        notes.append("Scope: staff directory members only ([directory] scope = \"staff\"); "
                     "others: `surfaudit users --unknown`.")
    if kind == "social":
        for g in org.groups.values():
            if g.work_hosts:
                notes.append(f"Work use exempted: for group {g.name}, {', '.join(g.work_hosts)} "
                             "(and sub-domains) are not social time.")
        if org.schedules or org.closed or org.sites or org.directory_path is not None:
            bank = f" and {org.bank_holidays} bank holidays" if org.bank_holidays else ""
            notes.append(f"Timetables: per person (directory row > group > site > [schedule], whose hours are "
                         f"stated above); [calendar] closed days{bank} are non-workdays.")
            for name, sched in org.schedules.items():
                breaks = ", ".join(str(b) for b in sched.breaks) or "none"
                notes.append(f"Schedule {name}: work hours {sched.work_hours} on {', '.join(sched.workday_names)}; "
                             f"breaks {breaks}.")
    return notes


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
