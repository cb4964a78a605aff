"""The investigation's derived tables: sessions, sites, blocked attempts, the identity's label.

Why a module of its own: the HTML report and the Excel workbook must list the
same sessions and the same per-site minutes, so both read them from here. Nothing
here re-estimates time: sessions and sites are sums of the coverage pieces that
`queries/social_segments.sql` produced (`Investigation.pieces`), and blocked
attempts are the rows of `queries/blocked_attempts.sql`. Plain data (tuples of
dates, numbers and strings) comes out; the renderers only format it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl

from surfaudit.export.data import Investigation

PERIOD_WORDS = {
    "outside_break": "Outside breaks (work hours)",
    "in_break": "In an official break",
    "outside_hours": "Outside work hours",
}
PERIODS = ("outside_break", "in_break", "outside_hours")
JOIN_SECONDS = 1.0  # pieces of one site and period this close together are one session


@dataclass(frozen=True)
class Session:
    date: date
    start: datetime  # local, naive
    end: datetime  # local, naive
    host: str
    period: str
    seconds: float

    @property
    def minutes(self) -> float:
        return round(self.seconds / 60, 2)


@dataclass(frozen=True)
class Site:
    host: str
    outside_break: float  # minutes
    in_break: float
    outside_hours: float
    requests: int  # allowed requests to the site

    @property
    def total(self) -> float:
        return round(self.outside_break + self.in_break + self.outside_hours, 2)


@dataclass(frozen=True)
class Attempt:
    date: date
    host: str
    first: datetime  # local, naive
    last: datetime
    requests: int


def sessions(inv: Investigation) -> list[Session]:
    """Runs of touching coverage pieces of one site, one period and one local date."""
    out: list[Session] = []
    rows = inv.pieces.sort(["date", "host", "period", "start_local"], nulls_last=True).iter_rows(named=True)
    for r in rows:
        start, host = r["start_local"], r["host"] or ""
        end = start + timedelta(seconds=float(r["seconds"]))
        last = out[-1] if out else None
        if (last and last.date == r["date"] and last.host == host and last.period == r["period"]
                and (start - last.end).total_seconds() <= JOIN_SECONDS):
            out[-1] = Session(last.date, last.start, max(last.end, end), host, last.period,
                              last.seconds + float(r["seconds"]))
        else:
            out.append(Session(r["date"], start, end, host, r["period"], float(r["seconds"])))
    return sorted(out, key=lambda s: (s.start, s.host))


def sites(inv: Investigation) -> list[Site]:
    """Minutes per period and allowed requests per social site, most outside-break time first."""
    p = inv.pieces
    if p.height == 0:
        return []
    minutes = p.group_by("host", "period").agg(pl.col("seconds").sum()).iter_rows()
    table: dict[str, dict[str, float]] = {}
    for host, period, seconds in minutes:
        table.setdefault(host or "", {}).setdefault(period, 0.0)
        table[host or ""][period] += float(seconds) / 60
    first_pieces = inv.requests.filter(pl.col("social") & (pl.col("ts_utc") == pl.col("ts")))
    counts = {h or "": int(n) for h, n in first_pieces.group_by("host").len().iter_rows()}
    out = [Site(host, round(m.get("outside_break", 0.0), 2), round(m.get("in_break", 0.0), 2),
                round(m.get("outside_hours", 0.0), 2), counts.get(host, 0)) for host, m in table.items()]
    return sorted(out, key=lambda s: (-s.outside_break, -s.total, s.host))


def attempts(inv: Investigation) -> list[Attempt]:
    """Blocked attempts in time order (the query's rows)."""
    if inv.attempts.height == 0:
        return []
    return [Attempt(d, h or "", f, last, int(n)) for d, h, f, last, n in inv.attempts.iter_rows()]


def is_device_address(identity: str) -> bool:
    """True when the identity is a client address: the log had no user name (DESIGN §3)."""
    try:
        ipaddress.ip_address(identity.strip("[]"))
    except ValueError:
        return False
    return True


def identity_label(identity: str) -> tuple[str, str]:
    """(what the identity is, the caveat to print beside it)."""
    if is_device_address(identity):
        return ("Device address (no user name in the logs)",
                "This is the network address of a computer or phone, not a login: several people may have "
                "used that device or shared that address, so this report may mix more than one person's use.")
    return ("Member of staff (login)", "")
