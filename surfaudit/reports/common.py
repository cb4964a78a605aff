"""Shared pieces of the reports: date handling, the UTC range a report reads,
and a plain description of the estimate's parameters.

The store creates the `events` view limited to the month partitions a report
needs; `needed_utc_range` tells it which instants those are, and the same range
is bound into the SQL so rows outside it are never read.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from surfaudit.clock import as_date
from surfaudit.config import Config
from surfaudit.errors import UsageError
from surfaudit.sql import dated_params

def check_range(date_from: date | str, date_to: date | str) -> tuple[date, date]:
    d1, d2 = as_date(date_from, "--from"), as_date(date_to, "--to")
    if d1 > d2:
        raise UsageError(f"--from {d1} is after --to {d2}")
    return d1, d2


def needed_utc_range(cfg: Config, date_from: date | str, date_to: date | str) -> tuple[datetime, datetime]:
    """UTC [from, to) of the rows any report over local dates [date_from, date_to] reads.

    The rule (margins for coverage spilling over midnight and for the next
    request after the range) lives in surfaudit.sql.dated_params, shared with
    the export.
    """
    params = range_params(cfg, date_from, date_to, None)
    return params["utc_from"].replace(tzinfo=timezone.utc), params["utc_to"].replace(tzinfo=timezone.utc)


def range_params(cfg: Config, date_from: date | str, date_to: date | str, user: str | None) -> dict[str, Any]:
    """Parameters common to the dated reports: tz, local dates, UTC bounds, user."""
    d1, d2 = check_range(date_from, date_to)
    if user is not None and not isinstance(user, str):
        raise UsageError("--user: expected an identity string")
    return dated_params(cfg, d1, d2, user)


def report_parameters(cfg: Config) -> dict[str, Any]:
    """What the estimate assumes, for display next to a report (plain values)."""
    s, soc = cfg.schedule, cfg.social
    return {
        "timezone": s.timezone,
        "workdays": s.workday_names,
        "work_hours": str(s.work_hours),
        "breaks": [str(b) for b in s.breaks],
        "idle_gap_seconds": soc.idle_gap_seconds,
        "tail_seconds": soc.tail_seconds,
        "flag_minutes": soc.flag_minutes,
        "burst_seconds": cfg.blocked.burst_seconds,
        "social_domains": list(soc.domains),
        "ignore_hosts": list(soc.ignore_hosts),
    }
