"""The organisation as small relations on a DuckDB connection, for `queries/*.sql`.

Why: the rules of DESIGN §6 "Which timetable applies" (directory row > group >
site > `[schedule]`; per-person workdays; closed days; `work_hosts`; aliases;
scope) are evaluated in SQL, per identity and local date, next to the estimator
they feed. Python only hands the SQL data: the directory, its aliases, the
groups, sites and schedules, the closed days of the range, and a scalar UDF
saying which site's `clients` network holds an address (CIDR matching with the
stdlib `ipaddress`, longest prefix first). No user value is ever formatted into
SQL text: everything is a registered Arrow table.

`prepare(con, cfg, ...)` must run after the store created the `events` view. With
a directory (or a --site/--group filter) it renames that view `events_stored` and
puts `queries/people_events.sql` in its place, so every report reads resolved,
in-scope identities under the old name (`queries/alias_events.sql` when nothing
is hidden). Without one, `events` stays exactly the
stored rows, so default figures are today's figures by construction.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import duckdb
import polars as pl

from surfaudit.arrow_stream import register_frame
from surfaudit.closed_days import closed_days
from surfaudit.directory import Directory, check_in_scope, load_directory
from surfaudit.errors import UsageError
from surfaudit.sql import load_query, schedule_segments

SITE_UDF = "surfaudit_site_of"
DEFAULT_SCHEDULE = ""  # the key of [schedule] in org_timetables (named schedules are never empty)


@dataclass(frozen=True)
class Filters:
    """--site and --group of a report (lower-cased; None = all)."""

    site: str | None = None
    group: str | None = None

    @property
    def any(self) -> bool:
        return self.site is not None or self.group is not None


def check_filters(cfg, site: str | None, group: str | None) -> Filters:
    """Validate --site/--group against the configuration and the directory."""
    d = load_directory(cfg)
    out = []
    for option, value, known in (("--site", site, set(cfg.org.sites) | {p.site for p in d.people if p.site}),
                                 ("--group", group, set(cfg.org.groups) | {p.group for p in d.people if p.group})):
        if value is None:
            out.append(None)
            continue
        key = value.strip().lower()
        if key not in known:
            names = ", ".join(sorted(known)) or "none configured"
            raise UsageError(f"{option} {value!r}: unknown (known: {names})")
        out.append(key)
    return Filters(*out)


def _site_matcher(sites: dict):
    nets = sorted(((ipaddress.ip_network(n), s.name) for s in sites.values() for n in s.clients),
                  key=lambda x: -x[0].prefixlen)

    @lru_cache(maxsize=65536)
    def site_of(ip: str | None) -> str | None:
        if not ip:
            return None
        try:
            addr = ipaddress.ip_address(ip.strip().strip("[]"))
        except ValueError:
            return None
        mapped = getattr(addr, "ipv4_mapped", None)  # ::ffff:10.30.0.41, as a dual-stack proxy logs it
        addr = mapped or addr
        return next((name for net, name in nets if addr.version == net.version and addr in net), None)

    return site_of


def tables(cfg, directory: Directory, date_from: date | None = None,
           date_to: date | None = None) -> dict[str, pl.DataFrame]:
    """The relations the queries join (each small: people, schedules, a range's closed days)."""
    org = cfg.org
    people = pl.DataFrame(
        [{"identity": p.identity, "name": p.name, "grp": p.group, "site": p.site, "schedule": p.schedule,
          "workdays": [d + 1 for d in p.workdays] if p.workdays is not None else None} for p in directory.people],
        schema={"identity": pl.String, "name": pl.String, "grp": pl.String, "site": pl.String,
                "schedule": pl.String, "workdays": pl.List(pl.Int32)}, orient="row")
    aliases = pl.DataFrame([{"alias": a, "identity": i} for a, i in directory.alias_map().items() if a != i],
                           schema={"alias": pl.String, "identity": pl.String}, orient="row")
    groups = pl.DataFrame([{"grp": g.name, "schedule": g.schedule} for g in org.groups.values()],
                          schema={"grp": pl.String, "schedule": pl.String}, orient="row")
    work_hosts = pl.DataFrame([{"grp": g.name, "h": h} for g in org.groups.values() for h in g.work_hosts],
                              schema={"grp": pl.String, "h": pl.String}, orient="row")
    sites = pl.DataFrame([{"site": s.name, "schedule": s.schedule} for s in org.sites.values()],
                         schema={"site": pl.String, "schedule": pl.String}, orient="row")
    named = {DEFAULT_SCHEDULE: cfg.schedule, **org.schedules}
    timetables = pl.DataFrame([{"schedule": n, "workdays": [d + 1 for d in s.workdays]} for n, s in named.items()],
                              schema={"schedule": pl.String, "workdays": pl.List(pl.Int32)}, orient="row")
    segments = pl.DataFrame([{"schedule": n, **seg} for n, s in named.items() for seg in schedule_segments(s)],
                            schema={"schedule": pl.String, "start_min": pl.Int32, "end_min": pl.Int32,
                                    "period": pl.String}, orient="row")
    days = closed_days(org, date_from, date_to) if date_from and date_to else []
    closed = pl.DataFrame({"d": days}, schema={"d": pl.Date})
    return {"org_people": people, "org_aliases": aliases, "org_groups": groups, "org_work_hosts": work_hosts,
            "org_sites": sites, "org_timetables": timetables, "org_segments": segments, "org_closed": closed}


def register_site_udf(con: duckdb.DuckDBPyConnection, cfg) -> None:
    """`surfaudit_site_of(ip)`: a Python UDF over the sites' `clients` networks. When no
    site has any, every address is in none, and on DuckDB a SQL macro returning NULL
    says so (no Python call per row, and DuckDB's UDF machinery, which loads numpy,
    stays unloaded)."""
    from duckdb.sqltypes import VARCHAR

    try:
        con.remove_function(SITE_UDF)
    except Exception:  # noqa: BLE001 - not registered yet on this connection
        pass
    if not hasattr(con, "run_query"):  # DuckDB (surfaudit.spark_engine registers UDFs only)
        con.execute(f"DROP MACRO IF EXISTS {SITE_UDF}")
        if not any(s.clients for s in cfg.org.sites.values()):
            con.execute(f"CREATE TEMP MACRO {SITE_UDF}(ip) AS CAST(NULL AS VARCHAR)")
            return
    con.create_function(SITE_UDF, _site_matcher(cfg.org.sites), [VARCHAR], VARCHAR, null_handling="special",
                        side_effects=False)


def prepare(con: duckdb.DuckDBPyConnection, cfg, date_from: date, date_to: date,
            filters: Filters | None = None, *, calendar: bool = True) -> Directory:
    """Register the organisation's relations on `con` and, when a directory or a
    filter applies, put the resolved, in-scope `events` view in place.

    calendar=False leaves the range's closed days out (`org_closed` empty), for the
    reports that read no timetable (blocked, top): working out the bank holidays
    costs a tenth of a second."""
    filters = filters or Filters()
    directory = load_directory(cfg)
    check_in_scope(cfg, directory)
    days = (date_from, date_to) if calendar else (None, None)
    for name, df in tables(cfg, directory, *days).items():
        register_frame(con, name, df)
    register_site_udf(con, cfg)
    staff_only = cfg.org.staff_only
    register_frame(con, "org_filter", pl.DataFrame({"staff_only": [staff_only], "site": [filters.site],
                                                    "grp": [filters.group]},
                                                   schema={"staff_only": pl.Boolean, "site": pl.String,
                                                           "grp": pl.String}))
    wrap = cfg.org.directory_path is not None or filters.any
    if hasattr(con, "has_view"):  # another engine (surfaudit.spark_engine)
        exists = con.has_view("events_stored")
    else:
        exists = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'events_stored'").fetchone()[0]
    if wrap and not exists:
        con.execute("ALTER VIEW events RENAME TO events_stored")
        # scoped or filtered: people_events; else only the aliases (half the cost per row)
        view = "people_events" if staff_only or filters.any else "alias_events"
        con.execute(f"CREATE TEMP VIEW events AS {load_query(view).sql}")
    source = "events_stored" if (wrap or exists) else "events"
    # the client-address rule of §6 reads events only when some site has `clients`
    if any(s.clients for s in cfg.org.sites.values()):
        con.execute(f"CREATE OR REPLACE TEMP VIEW org_client_events AS SELECT * FROM {source}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW org_client_events AS SELECT * FROM {source} LIMIT 0")
    return directory
