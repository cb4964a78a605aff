"""The investigation's derived tables: sessions, sites, blocked attempts, the identity's label.

Why a module of its own: the HTML report and the Excel workbook must list the
same sessions and the same per-site minutes, so both read them from here. Nothing
here re-estimates time: sessions and sites are sums of the coverage pieces that
`queries/social_segments.sql` produced (`Investigation.pieces`), and blocked
attempts are the rows of `queries/blocked_attempts.sql`, and the timetable each
date is drawn and described with is the identity's own, from
`queries/person_timetable.sql` (which one applies is decided there, never here).
Plain data (tuples of dates, numbers and strings) comes out; the renderers only
format it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl

from surfaudit.config import DAY_NAMES
from surfaudit.export.data import Investigation
from surfaudit.people import person_of

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
    # on a date the clocks change, the zone of start and end ('BST', 'GMT'): 01:30 is
    # then two instants an hour apart; '' on every other date
    start_zone: str = ""
    end_zone: str = ""

    @property
    def minutes(self) -> float:
        return round(self.seconds / 60, 2)


@dataclass(frozen=True)
class ClockChange:
    """The clock change on one local date: `at` minutes after local midnight (elapsed
    time), the clock jumps by `shift` minutes (+60 in spring, -60 in autumn)."""

    at: float
    shift: float
    before: str  # zone abbreviations
    after: str


def clock_change(tz: str, d: date) -> ClockChange | None:
    """The clock change on local date d, if there is one (found to the minute)."""
    zone = ZoneInfo(tz)
    start = datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(timezone.utc)
    end = datetime.combine(d + timedelta(days=1), datetime.min.time(), zone).astimezone(timezone.utc)
    first, last = start.astimezone(zone), (end - timedelta(microseconds=1)).astimezone(zone)
    if first.utcoffset() == last.utcoffset():
        return None
    lo, hi = 0, int((end - start).total_seconds() // 60)  # the first minute with the new offset
    while lo < hi:
        mid = (lo + hi) // 2
        if (start + timedelta(minutes=mid)).astimezone(zone).utcoffset() == first.utcoffset():
            lo = mid + 1
        else:
            hi = mid
    shift = ((last.utcoffset() or timedelta()) - (first.utcoffset() or timedelta())).total_seconds() / 60
    return ClockChange(float(lo), shift, first.tzname() or "", last.tzname() or "")


def request_zones(inv: Investigation) -> pl.Series:
    """Per row of `inv.requests`, the zone of its time ('BST', 'GMT') on a date the clocks
    change (01:30 is two instants an hour apart then), else null."""
    tz = inv.cfg.schedule.timezone
    changed = [d for d in inv.days if clock_change(tz, d) is not None]
    r = inv.requests
    if not changed or r.height == 0:
        return pl.Series("zone", [None] * r.height, dtype=pl.String)
    zone = pl.col("ts_utc").dt.convert_time_zone(tz).dt.strftime("%Z")
    return r.select(pl.when(pl.col("date").is_in(changed)).then(zone).otherwise(None).alias("zone")).to_series()


def _local(t: datetime, zone: ZoneInfo) -> datetime:
    return t.astimezone(zone).replace(tzinfo=None)


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
    """Runs of touching coverage pieces of one site, one period and one local date, in
    time order. Pieces are joined by the instant (UTC), not the local clock, so the two
    01:30s of the autumn clock change are two sessions and one across the change is one;
    on such a date each time carries its zone."""
    zone = ZoneInfo(inv.cfg.schedule.timezone)
    runs: list[list] = []  # [date, host, period, start_utc, end_utc, seconds]
    rows = inv.pieces.sort(["date", "host", "period", "start_utc"], nulls_last=True).iter_rows(named=True)
    for r in rows:
        start, host, seconds = r["start_utc"], r["host"] or "", float(r["seconds"])
        end = start + timedelta(seconds=seconds)
        last = runs[-1] if runs else None
        if (last and last[0] == r["date"] and last[1] == host and last[2] == r["period"]
                and (start - last[4]).total_seconds() <= JOIN_SECONDS):
            last[4], last[5] = max(last[4], end), last[5] + seconds
        else:
            runs.append([r["date"], host, r["period"], start, end, seconds])
    changes = {d: clock_change(inv.cfg.schedule.timezone, d) for d in {r[0] for r in runs}}
    out = []
    for d, host, period, start, end, seconds in sorted(runs, key=lambda r: (r[3], r[1])):
        marked = changes[d] is not None
        out.append(Session(d, _local(start, zone), _local(end, zone), host, period, seconds,
                           start.astimezone(zone).tzname() or "" if marked else "",
                           end.astimezone(zone).tzname() or "" if marked else ""))
    return out


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


@dataclass(frozen=True)
class DayPlan:
    """The identity's timetable on one local date: work hours and breaks in clock
    minutes (0-1440), or no work hours (a non-workday, closed day or bank holiday)."""

    date: date
    schedule: str  # '' = [schedule]
    workdays: tuple[int, ...]  # Monday = 0
    work: tuple[float, float] | None
    breaks: tuple[tuple[float, float], ...]

    @property
    def closed(self) -> bool:
        """A workday of the timetable with no work hours: the calendar closed it."""
        return self.work is None and self.date.weekday() in self.workdays


@dataclass(frozen=True)
class TimetableUse:
    """One timetable as it applied over some dates of the period, in words."""

    name: str  # as the reader sees it
    workdays: str
    work_hours: str
    breaks: str
    dates: tuple[date, ...]
    closed: tuple[date, ...]  # its workdays the calendar closed


def _clock(t: datetime, d: date) -> float:
    """Clock minutes of local time t on date d (the next midnight is 1440)."""
    return 1440.0 if t.date() > d else t.hour * 60 + t.minute + t.second / 60


def day_plans(inv: Investigation) -> dict[date, DayPlan]:
    """Each date's timetable, from the query's slots (a date it lacks has no work hours)."""
    slots: dict[date, list] = {}
    for d, schedule, workdays, period, start, end in inv.timetable.iter_rows():
        slots.setdefault(d, []).append((schedule, tuple(w - 1 for w in workdays or ()), period,
                                        _clock(start, d), _clock(end, d)))
    plans = {}
    for d, rows in slots.items():
        working = [(s, e) for _, _, period, s, e in rows if period != "outside_hours"]
        work = (min(s for s, _ in working), max(e for _, e in working)) if working else None
        breaks = tuple((s, e) for _, _, period, s, e in rows if period == "in_break")
        plans[d] = DayPlan(d, rows[0][0], rows[0][1], work, breaks)
    return plans


def dates_text(days) -> str:
    """Dates as runs: "26 Oct 2026 \u2013 30 Oct 2026, 3 Nov 2026"."""
    runs: list[list[date]] = []
    for d in sorted(days):
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    def day(d: date) -> str:
        return f"{d.day} {d:%b %Y}"

    return ", ".join(day(r[0]) if len(r) == 1 else f"{day(r[0])} \u2013 {day(r[-1])}" for r in runs)


def timetable_uses(inv: Investigation) -> list[TimetableUse]:
    """The timetables the identity's dates were cut by, in order of first use. The
    hours and breaks of a schedule are the configuration's (the query's slots come
    from the same schedules); which schedule and workdays applied is the query's."""
    named = {"": inv.cfg.schedule, **inv.cfg.org.schedules}
    groups: dict[tuple[str, tuple[int, ...]], list[DayPlan]] = {}
    quiet = set(days_without_a_site(inv))
    for plan in sorted(day_plans(inv).values(), key=lambda p: p.date):
        if plan.date in quiet:
            continue
        groups.setdefault((plan.schedule, plan.workdays), []).append(plan)
    out = []
    for (schedule, workdays), plans in groups.items():
        s = named[schedule]
        out.append(TimetableUse(
            name=f"\u201c{schedule}\u201d" if schedule else "the default ([schedule])",
            workdays=", ".join(DAY_NAMES[w].capitalize() for w in workdays) or "none",
            work_hours=str(s.work_hours), breaks=", ".join(str(b) for b in s.breaks) or "none",
            dates=tuple(p.date for p in plans), closed=tuple(p.date for p in plans if p.closed)))
    return out


def days_without_a_site(inv: Investigation) -> list[date]:
    """The dates whose timetable nothing decided: for an identity without a directory row,
    where sites are known by client address, the site of a date is that of its first
    request, and a date without requests has none ([schedule] by the definition, but
    stating "the default on 3 Nov" beside "riverside on 2 Nov" for a day with no use
    misleads): the export does not state or draw a timetable for them."""
    if person_of(inv.cfg, inv.user) is not None or not any(s.clients for s in inv.cfg.org.sites.values()):
        return []
    used = set(inv.requests["date"].to_list()) if inv.requests.height else set()
    return [d for d in inv.days if d not in used]


def is_device_address(identity: str) -> bool:
    """True when the identity is a client address: the log had no user name (DESIGN §3)."""
    try:
        ipaddress.ip_address(identity.strip("[]"))
    except ValueError:
        return False
    return True


def directory_rows(inv: Investigation) -> list[tuple[str, str]]:
    """(label, value) of the identity's staff-directory row, for the reader to know whom
    the login belongs to: name, group, site and the other names it is logged under.
    Empty without a row (no directory, or an identity it does not list)."""
    person = person_of(inv.cfg, inv.user)
    if person is None:
        return []
    rows = [("Name (staff directory)", person.name), ("Group", person.group), ("Site", person.site),
            ("Also logged as", ", ".join(person.aliases))]
    return [(label, value) for label, value in rows if value]


def identity_label(identity: str) -> tuple[str, str]:
    """(what the identity is, the caveat to print beside it)."""
    if is_device_address(identity):
        return ("Device address (no user name in the logs)",
                "This is the network address of a computer or phone, not a login: several people may have "
                "used that device or shared that address, so this report may mix more than one person's use.")
    return ("Member of staff (login)", "")
