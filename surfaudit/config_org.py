"""The trust's organisation in the configuration (DESIGN §5, §6): `[directory]`,
`[schedules.NAME]`, `[groups.NAME]`, `[sites.NAME]`, `[calendar]`, `[privacy]`, `[policy]`.

Why a module of its own: these sections describe people, schools and timetables,
not the log pipeline, and `surfaudit.config` would outgrow one concept with them.
`parse_org` is called by `surfaudit.config.parse_config` with the parsed TOML and
the already validated `[schedule]`, so every error still names its key, and a
named schedule inherits the keys it leaves unset from `[schedule]`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from surfaudit.config_names import day_number, host_problem, normalise_host, unknown
from surfaudit.errors import ConfigError

if TYPE_CHECKING:  # config imports this module: the type only, for the annotations
    from surfaudit.config import Schedule

SECTIONS = ("directory", "schedules", "groups", "sites", "calendar", "privacy", "policy")
BANK_HOLIDAYS = {"england-and-wales": "ENG", "scotland": "SCT", "northern-ireland": "NIR", "": None}
SCOPES = ("staff", "all")

# The commented sections `surfaudit init` writes after surfaudit.config's (every key, its default).
ORG_TOML = '''
[directory]
# The staff directory: a CSV exported from the MIS, Active Directory or Entra ID with
# the columns identity,name,group,site,aliases,schedule,workdays (only identity is
# required; headers in any case and order; aliases and workdays ';'-separated, e.g.
# "LTE\\amorgan;amorgan@lte.sch.uk" and "mon;tue;wed"). Aliases resolve to the
# identity when reports run, so editing this file re-attributes history.
# A relative path is relative to this file's directory. "" = no directory.
path = ""
# With a directory: "staff" = reports cover its members only (others are listed by
# `surfaudit users --unknown`); "all" = everyone, members with their names.
scope = "staff"

# Named timetables, chosen per person (directory row > group > site > [schedule]).
# Same keys as [schedule]; a key left out comes from [schedule]. The timezone, if
# given, must be [schedule]'s (one trust, one clock).
# [schedules.primary]
# work_hours = "08:30-15:30"
# breaks = ["10:15-10:30", "12:15-13:00"]

# Directory groups: their schedule, and hosts that are work, not social, for members
# (a host and its sub-domains), e.g. the staff who run the trust's official accounts.
# [groups.comms]
# schedule = "primary"
# work_hosts = ["facebook.com", "x.com"]

# Sites (schools): their schedule, and the client networks that identify an identity
# without a directory row (by the address of its first request that day).
# [sites.northfield]
# schedule = "primary"
# clients = ["10.1.0.0/16"]

[calendar]
# Non-workdays for everyone (outside hours all day): local dates or inclusive
# ranges, e.g. ["2026-10-26..2026-10-30", "2027-01-04"] (holidays, INSET days).
closed = []
# UK bank holidays (computed offline by the `holidays` package):
# england-and-wales | scotland | northern-ireland | "" (none).
bank_holidays = "england-and-wales"

[privacy]
# false: reports and `users` are pseudonymised unless --reveal --reason TEXT is given.
# With a directory, every report or listing that names people is in the audit log.
reports_name_people = true

[policy]
# The trust's policy for the HTML export: its name and date, and a text file of its
# clauses (blocks separated by a blank line: heading, quote, then how the report
# relates to it). "" = the shipped policy.
name = ""
date = ""
clauses = ""
'''


@dataclass(frozen=True)
class Group:
    name: str
    schedule: str | None = None
    work_hosts: tuple[str, ...] = ()  # not social for the group's members (domain or sub-domain)


@dataclass(frozen=True)
class Site:
    name: str
    schedule: str | None = None
    clients: tuple[str, ...] = ()  # networks, e.g. "10.1.0.0/16" (normalised)


@dataclass(frozen=True)
class Organisation:
    """Everything about people and timetables; the defaults change no figure."""

    directory_path: Path | None = None  # the staff CSV; None = no directory
    scope: str = "staff"  # with a directory: staff = reports cover its members only; all
    schedules: dict = field(default_factory=dict)  # name -> surfaudit.config.Schedule
    groups: dict = field(default_factory=dict)  # name -> Group
    sites: dict = field(default_factory=dict)  # name -> Site
    closed: tuple[tuple[date, date], ...] = ()  # inclusive local date ranges
    bank_holidays: str = "england-and-wales"  # scotland | northern-ireland | ""
    reports_name_people: bool = True
    policy_name: str = ""
    policy_date: str = ""
    policy_clauses: Path | None = None

    @property
    def staff_only(self) -> bool:
        return self.directory_path is not None and self.scope == "staff"


def _where(source: Path | None, message: str) -> str:
    return f"{source}: {message}" if source else message


def _table(data: dict, name: str, source: Path | None) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(_where(source, f"[{name}] must be a table"))
    return value


def _keys(table: dict, where: str, known: set[str], source: Path | None) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(_where(source, f"{where}.{key}: {unknown('unknown key', key, known, True)}"))


def _get(table: dict, key: str, kind, default, where: str, source: Path | None):
    if key not in table:
        return default
    value = table[key]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ConfigError(_where(source, f"{where}.{key}: expected {kind.__name__}, got {value!r}"))
    return value


def _path(text: str, source: Path | None) -> Path | None:
    if not text.strip():
        return None
    path = Path(text.strip()).expanduser()
    if not path.is_absolute() and source is not None:
        path = source.parent / path
    return path



def _once(spellings: dict, name: str, section: str, source) -> None:
    """Names are matched ignoring case (the directory's cells are), so [groups.Comms] and
    [groups.comms] are one group: defined twice is an error, not the last one winning."""
    first = spellings.setdefault(name.lower(), name)
    if first != name:
        raise ConfigError(_where(source, f"[{section}.{name}] and [{section}.{first}] are one name "
                                         "(names ignore case): define it once"))

def parse_org(data: dict, source: Path | None) -> Organisation:
    """Validate the organisation sections; `[schedule]` supplies the keys a named
    schedule leaves unset (it is validated by surfaudit.config, read here again)."""
    from surfaudit.config import Schedule

    base_schedule = schedule_table(data.get("schedule", {}), "[schedule]", Schedule(), source)
    directory = _table(data, "directory", source)
    _keys(directory, "[directory]", {"path", "scope"}, source)
    dir_path = _path(_get(directory, "path", str, "", "[directory]", source), source)
    scope = _get(directory, "scope", str, "staff", "[directory]", source).strip().lower()
    if scope not in SCOPES:
        raise ConfigError(_where(source, f"[directory].scope: expected staff or all, got {scope!r}"))

    schedules = {}
    for name, table in _table(data, "schedules", source).items():
        where = f"[schedules.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(_where(source, f"{where} must be a table"))
        _keys(table, where, {"timezone", "workdays", "work_hours", "breaks"}, source)
        sched = schedule_table(table, where, base_schedule, source)
        if sched.timezone != base_schedule.timezone:
            raise ConfigError(_where(source, f"{where}.timezone: must equal [schedule].timezone "
                                             f"({base_schedule.timezone}); one trust keeps one clock"))
        schedules[name] = sched

    def schedule_ref(table: dict, where: str) -> str | None:
        value = _get(table, "schedule", str, "", where, source).strip()
        if value and value not in schedules:
            raise ConfigError(_where(source, f"{where}.schedule: no [schedules.{value}] is defined"))
        return value or None

    groups, group_names = {}, {}
    for name, table in _table(data, "groups", source).items():
        where = f"[groups.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(_where(source, f"{where} must be a table"))
        _keys(table, where, {"schedule", "work_hosts"}, source)
        hosts = _get(table, "work_hosts", list, [], where, source)
        for host in hosts:
            problem = host_problem(host)
            if problem:
                raise ConfigError(_where(source, f"{where}.work_hosts: {host!r} {problem}"))
        _once(group_names, name, "groups", source)
        groups[name.lower()] = Group(name.lower(), schedule_ref(table, where),
                                     tuple(dict.fromkeys(normalise_host(h) for h in hosts)))

    sites, site_names = {}, {}
    for name, table in _table(data, "sites", source).items():
        where = f"[sites.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(_where(source, f"{where} must be a table"))
        _keys(table, where, {"schedule", "clients"}, source)
        nets = []
        for net in _get(table, "clients", list, [], where, source):
            try:
                nets.append(str(ipaddress.ip_network(str(net).strip(), strict=False)))
            except ValueError:
                raise ConfigError(_where(source, f"{where}.clients: {net!r} is not a network "
                                                 "(e.g. \"10.1.0.0/16\")")) from None
        _once(site_names, name, "sites", source)
        for net in nets:  # nested networks are fine (the longest prefix wins); the same one twice is not
            other = next((o.name for o in sites.values() if net in o.clients), None)
            if other is not None:
                raise ConfigError(_where(source, f"{where}.clients: {net} is also [sites.{other}]'s: "
                                                 "an address must belong to one site"))
        sites[name.lower()] = Site(name.lower(), schedule_ref(table, where), tuple(nets))

    calendar = _table(data, "calendar", source)
    _keys(calendar, "[calendar]", {"closed", "bank_holidays"}, source)
    closed = tuple(_closed(v, i, source) for i, v in enumerate(_get(calendar, "closed", list, [], "[calendar]", source)))
    bank = _get(calendar, "bank_holidays", str, "england-and-wales", "[calendar]", source).strip().lower()
    if bank not in BANK_HOLIDAYS:
        raise ConfigError(_where(source, "[calendar].bank_holidays: expected england-and-wales, scotland, "
                                         f"northern-ireland or \"\", got {bank!r}"))

    privacy = _table(data, "privacy", source)
    _keys(privacy, "[privacy]", {"reports_name_people"}, source)
    name_people = _get(privacy, "reports_name_people", bool, True, "[privacy]", source)

    policy = _table(data, "policy", source)
    _keys(policy, "[policy]", {"name", "date", "clauses"}, source)
    clauses = _path(_get(policy, "clauses", str, "", "[policy]", source), source)
    if clauses is not None and not clauses.is_file():
        raise ConfigError(_where(source, f"[policy].clauses: file not found: {clauses}"))
    return Organisation(
        directory_path=dir_path, scope=scope, schedules=schedules, groups=groups, sites=sites,
        closed=closed, bank_holidays=bank, reports_name_people=name_people,
        policy_name=_get(policy, "name", str, "", "[policy]", source).strip(),
        policy_date=_get(policy, "date", str, "", "[policy]", source).strip(),
        policy_clauses=clauses,
    )


def schedule_table(table: dict, where: str, base: Schedule, source: Path | None) -> Schedule:
    """A `[schedules.NAME]` table: the keys of [schedule]; unset keys come from `base`."""
    from surfaudit.config import Schedule, _window, check_timetable

    tz = table.get("timezone", base.timezone)
    if not isinstance(tz, str):
        raise ConfigError(_where(source, f"{where}.timezone: expected a time zone name"))
    workdays = base.workdays
    if "workdays" in table:
        if not isinstance(table["workdays"], list):
            raise ConfigError(_where(source, f"{where}.workdays: expected a list of days"))
        numbers = [day_number(d) for d in table["workdays"]]
        if None in numbers:
            bad = table["workdays"][numbers.index(None)]
            raise ConfigError(_where(source, f"{where}.workdays: unknown day {bad!r} (use mon..sun)"))
        workdays = tuple(sorted(set(numbers)))
    hours = base.work_hours
    if "work_hours" in table:
        if not isinstance(table["work_hours"], str):
            raise ConfigError(_where(source, f"{where}.work_hours: expected \"HH:MM-HH:MM\""))
        hours = _window(table["work_hours"], f"{where}.work_hours", source)
    breaks = base.breaks
    if "breaks" in table:
        if not isinstance(table["breaks"], list) or not all(isinstance(b, str) for b in table["breaks"]):
            raise ConfigError(_where(source, f"{where}.breaks: expected a list of \"HH:MM-HH:MM\""))
        breaks = tuple(sorted((_window(b, f"{where}.breaks[{i}]", source) for i, b in enumerate(table["breaks"])),
                              key=lambda w: w.start))
    check_timetable(workdays, hours, breaks, where, source)
    return Schedule(tz, workdays, hours, breaks)


def _closed(value: object, i: int, source: Path | None) -> tuple[date, date]:
    key = f"[calendar].closed[{i}]"
    if not isinstance(value, str):
        raise ConfigError(_where(source, f"{key}: expected \"YYYY-MM-DD\" or \"YYYY-MM-DD..YYYY-MM-DD\""))
    parts = value.strip().split("..")
    try:  # YYYY-MM-DD only: fromisoformat also takes 2026-W45 (its Monday alone) and 20261102
        days = [date.fromisoformat(p.strip()) for p in parts if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", p.strip())]
    except ValueError:
        days = []
    if len(days) not in (1, 2) or len(days) != len(parts):
        raise ConfigError(_where(source, f"{key}: expected \"YYYY-MM-DD\" or \"YYYY-MM-DD..YYYY-MM-DD\", got {value!r}"))
    first, last = days[0], days[-1]
    if last < first:
        raise ConfigError(_where(source, f"{key}: {value!r} ends before it starts"))
    return first, last


def with_org(cfg: Any, **changes) -> Any:
    """A copy of `cfg` whose organisation has `changes` (for tests and callers)."""
    return replace(cfg, org=replace(cfg.org, **changes))
