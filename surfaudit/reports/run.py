"""Running a report for the CLI: check its options, read the store, name or
pseudonymise people, order and cut the rows, describe what the figures assume.

The CLI stays thin: it parses options and calls `run_report`, which refuses an
option the report cannot use (the table in `surfaudit.reports.specs`), fills in
the default date range, reads only the month partitions the range needs (the
store knows which files those are) and returns the table plus the parameters
the estimate used, so the terminal view can state them.

Row order: CSV and JSON keep the documented order (date, then user; top by
requests) unless `--sort` is given, so scripts and the golden files never see
a change; the terminal puts what matters first (flagged days, then minutes
outside breaks; blocked attempts; top requests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from surfaudit import naming
from surfaudit.clock import check_range, local_range
from surfaudit.config import Config
from surfaudit.engine import connect
from surfaudit.errors import UsageError
from surfaudit.org_sql import check_filters, prepare
from surfaudit.people import resolve_user
from surfaudit.reports.specs import (DEFAULT_DAYS, TOP_LIMIT, blocked_report, check_limit, check_options,
                                     needed_utc_range, per_person, report_parameters, report_spec, social_report,
                                     sort_keys, spec_for, summary_report, top_report)
from surfaudit.store import Store


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
    by: str | None = None  # "user" for the per-person view of social/blocked; top's grouping
    sort: str | None = None  # the order the rows are in (None: the documented one)
    total_rows: int = 0  # rows before --limit
    order_keys: tuple[tuple[str, bool], ...] = ()  # (column, descending) of `sort`
    sorts: tuple[str, ...] = ()  # the --sort values this report takes


def run_report(store: Store, cfg: Config, kind: str, date_from: date | str | None = None,
               date_to: date | str | None = None, *, user: str | None = None, flagged: bool = False,
               by: str | None = None, limit: int | None = None, sort: str | None = None, site: str | None = None,
               group: str | None = None, pseudonymise: bool = False, reveal: bool = False,
               reason: str | None = None, readable: bool = False, blocked_only: bool = False,
               engine: str | None = None, proxy_site: str | None = None) -> ReportResult:
    """Run one report. An option the report does not take, an unknown `--sort` or
    `--by`, a bad `--limit` or date range: UsageError (exit 2). Dates default to the
    last week (summary: the whole store). `user` is matched as
    `surfaudit.people.resolve_user` says; `site`/`group` limit it to those people;
    naming follows `[privacy]` and `--reveal --reason` (surfaudit.naming), and a
    report that names people with a directory is recorded in the audit log.
    `readable`: order for the terminal when no `--sort` is given; `blocked_only` (top):
    blocked requests alone, for the dashboard's top blocked sites. `engine`
    (duckdb | spark) overrides `[engine] kind` (surfaudit.engine). `proxy_site` keeps
    only the rows ingested at that site (`[ingest] site`), whoever the people are."""
    check_options(report_spec(kind), {"--user": user, "--site": site, "--group": group, "--flagged": flagged,
                                "--sort": sort, "--limit": limit, "--by": by, "--pseudonymise": pseudonymise,
                                "--reveal": reveal})
    spec = spec_for(kind, by)
    order = sort or (spec.table_sort if readable else None)
    keys = sort_keys(spec, order) if order else None
    check_limit(limit)
    how = naming.decide(cfg, pseudonymise=pseudonymise, reveal=reveal, reason=reason)
    if not spec.dated:
        d1, d2 = check_range(date_from, date_to)
        return _summary(store, cfg, connect(cfg, engine), d1, d2, proxy_site=proxy_site)
    d1, d2 = local_range(cfg.schedule.timezone, date_from, date_to, DEFAULT_DAYS)
    filters = check_filters(cfg, site, group)
    if how.pseudonymise and user is not None and not user.strip().lower().startswith("staff-"):
        # A named look-up would show that person's rows and tie them to their pseudonym,
        # with no reason given and nothing recorded: only a pseudonym, or --reveal.
        if pseudonymise:
            raise UsageError("--user and --pseudonymise cannot be combined (pseudonymised views name nobody); "
                             "give the pseudonym to --user instead")
        raise UsageError("--user names a person while reports are pseudonymised ([privacy] reports_name_people = "
                         "false): give their pseudonym (staff-...), or --reveal --reason TEXT (recorded)")
    identity = resolve_user(store, cfg, user)
    con = connect(cfg, engine)  # every option checked: a bad one never waits for a JVM to start
    months = store.events_view(con, *needed_utc_range(cfg, d1, d2), site=proxy_site)
    top_by = by or "host"
    if kind == "social":
        table = social_report(con, cfg, d1, d2, user=identity, flagged_only=flagged and by is None, filters=filters)
    elif kind == "blocked":
        table = blocked_report(con, cfg, d1, d2, user=identity, filters=filters)
    else:
        prepare(con, cfg, d1, d2, filters, calendar=False)
        in_sql = order in (None, "requests")  # the query's own order: let it cut the rows
        table = top_report(con, cfg, d1, d2, by=top_by, user=identity, limit=(limit or TOP_LIMIT) if in_sql else None,
                           blocked_only=blocked_only)
        limit = limit or TOP_LIMIT
    if by == "user" and kind != "top":
        table = per_person(kind, table)
        if flagged:
            table = table.filter(pl.col("flagged_days") > 0)
    table = naming.apply(store, how, table)
    if how.pseudonymise and "user" in table.columns:  # before --sort: its ties keep this order
        table = _in_pseudonym_order(table, kind, top_by)
    if keys:
        table = _ordered(table, keys, top_by if kind == "top" else None)
    total = table.height
    table = table.head(limit) if limit else table
    if "user" in table.columns or identity is not None:  # `top --by host --user X` is about X too
        naming.record(store, cfg, how, f"report {kind}" + (" --by user" if by == "user" else ""), table,
                      target=identity, date_from=d1, date_to=d2,
                      filters={"user": user, "site": filters.site, "group": filters.group, "proxy-site": proxy_site,
                               "flagged": flagged})
    notes = report_notes(cfg, kind)
    parameters = report_parameters(cfg) | ({"notes": notes} if notes else {})  # JSON states them too
    return ReportResult(kind, table, d1, d2, parameters, months_read=months, notes=notes,
                        by=top_by if kind == "top" else by, sort=order, total_rows=total,
                        order_keys=tuple((top_by if c == "key" else c, d) for c, d in keys or ()),
                        sorts=tuple(spec.sorts))


def _in_pseudonym_order(table: pl.DataFrame, kind: str, top_by: str | None) -> pl.DataFrame:
    """The documented order again, now over the pseudonyms: rows still in real-name order
    would let anyone with the staff list match pseudonyms to people by their rank."""
    if kind == "top":
        return table.sort(["requests", top_by], descending=[True, False], nulls_last=True) if top_by == "user" else table
    return table.sort(["date", "user"] if "date" in table.columns else ["user"], nulls_last=True)


def _ordered(table: pl.DataFrame, keys: tuple[tuple[str, bool], ...], key_column: str | None) -> pl.DataFrame:
    """The rows sorted by `keys` ((column, descending); "key" is top's --by column)."""
    columns = [key_column if c == "key" and key_column else c for c, _ in keys]
    return table.sort(columns, descending=[d for _, d in keys], nulls_last=True, maintain_order=True)


def _summary(store: Store, cfg: Config, con, d1: date | None, d2: date | None,
             proxy_site: str | None = None) -> ReportResult:
    """What the store holds: per UTC month, events of [d1, d2] (all when absent), and its ingest runs."""
    months = store.events_view(con, site=proxy_site)  # one manifest state; its parts stay on disk while con lives
    table = summary_report(con, cfg, d1, d2)
    return ReportResult("summary", table, d1, d2, {"timezone": cfg.schedule.timezone},
                        totals=ingest_totals(store, cfg, d1, d2), months_read=months, total_rows=table.height)


def report_notes(cfg: Config, kind: str) -> list[str]:
    """What the figures reflect beyond [schedule]: scope and work-use exemptions."""
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
            notes.append(f"Timetables: per person (directory row > group > site > [schedule]); [calendar] "
                         f"closed days{bank} are non-workdays.")
            for name, sched in (("[schedule]", cfg.schedule), *org.schedules.items()):
                breaks = ", ".join(str(b) for b in sched.breaks) or "none"
                notes.append(f"Schedule {name}: work hours {sched.work_hours} on {', '.join(sched.workday_names)}; "
                             f"breaks {breaks}.")
    return notes


def ingest_totals(store: Store, cfg: Config, d1: date | None = None, d2: date | None = None) -> dict[str, int]:
    """Ingest runs (one audit entry each, however many files and commits a run made),
    files ingested and lines rejected/expired, for runs on local dates [d1, d2] (all when absent)."""
    zone = ZoneInfo(cfg.schedule.timezone)

    def within(stamp: str | None) -> bool:
        if d1 is None and d2 is None:
            return True
        if not stamp:
            return False
        day = datetime.fromisoformat(stamp).astimezone(zone).date()
        return (d1 is None or day >= d1) and (d2 is None or day <= d2)

    records = [r for r in store.manifest() if r.get("kind") == "ingest" and within(r.get("at"))]
    runs = [e for e in store.audit_entries() if e.get("command") == "ingest" and within(e.get("time"))]
    return {
        "ingest_runs": len(runs),
        "files_ingested": len({r.get("lineage") for r in records}),
        "rows_written": sum(r.get("rows", 0) for r in records),
        "lines_rejected": sum(r.get("rejected", 0) for r in records),
        "rows_expired": sum(r.get("expired", 0) for r in records),
        "quarantine_files": len(store.quarantine_files()),
    }
