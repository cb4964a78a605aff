"""The reports as one table: what each computes, its columns, the options it takes
and the orders it can be sorted in.

Every report is a query in `queries/` over a DuckDB view named `events` (the
store creates it over the month partitions `needed_utc_range` names, and
`surfaudit.org_sql.prepare` puts the directory's aliases and scope in front of
it). A `Spec` says which CLI options a report takes, so an option it cannot use
is refused instead of ignored, and which `--sort` keys it has, so every report
sorts the same way. The functions return polars DataFrames with exactly the
documented columns, in the documented order; sorting for reading happens in
`surfaudit.reports.run`.

Registrable domains (`top --by domain`) come from tldextract's bundled
public-suffix snapshot, with no network access and no cache on disk (the tool
runs on an offline box and a report must not change because a download
succeeded or failed); the mapping is a DuckDB Python UDF applied after grouping
by host, so it runs once per host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from surfaudit.clock import as_date, check_range
from surfaudit.config import Config
from surfaudit.errors import UsageError
from surfaudit.org_sql import Filters, prepare
from surfaudit.sql import dated_params, run_query, schedule_params, social_params

if TYPE_CHECKING:
    import tldextract

SOCIAL_COLUMNS = (
    "user", "date", "social_minutes", "outside_break_minutes",
    "in_break_minutes", "outside_hours_minutes", "requests", "flagged",
)
SEGMENT_COLUMNS = ("ts", "local_time", "user", "host", "url", "date", "period", "covered_seconds")
BLOCKED_COLUMNS = ("user", "date", "requests", "attempts", "hosts", "top_host")
SUMMARY_COLUMNS = ("month", "rows", "first_ts", "last_ts", "users", "blocked", "allowed")
TOP_KEYS = ("host", "domain", "category", "user")
PERSON_SOCIAL_COLUMNS = ("user", "days", "flagged_days", "social_minutes", "outside_break_minutes",
                         "in_break_minutes", "outside_hours_minutes", "requests")
PERSON_BLOCKED_COLUMNS = ("user", "days", "requests", "attempts")
UDF_NAME = "surfaudit_registrable_domain"
DEFAULT_DAYS = 7  # a dated report without --from/--to covers the last week
TOP_LIMIT = 20

_MINUTES = ("social_minutes", "outside_break_minutes", "in_break_minutes", "outside_hours_minutes")
_PEOPLE = frozenset({"--user", "--site", "--group", "--pseudonymise", "--reveal", "--sort", "--limit", "--by"})


@dataclass(frozen=True)
class Spec:
    """One report: its CLI name, columns, options beyond --from/--to/--format/--output,
    `--by` values, and `--sort` keys (each a list of (column, descending))."""

    kind: str
    columns: tuple[str, ...]  # "key" stands for the --by column of top
    options: frozenset[str]
    by: tuple[str, ...] = ()
    sorts: dict[str, tuple[tuple[str, bool], ...]] = field(default_factory=dict)
    table_sort: str | None = None  # the terminal's order; CSV/JSON keep the documented one unless --sort
    dated: bool = True  # False: the whole store unless --from/--to are given


def _keys(*pairs: str) -> tuple[tuple[str, bool], ...]:
    """'-col' sorts descending, 'col' ascending."""
    return tuple((p.lstrip("-"), p.startswith("-")) for p in pairs)


SPECS: dict[str, Spec] = {
    "social": Spec("social", SOCIAL_COLUMNS, _PEOPLE | {"--flagged"}, ("user",), {
        "flagged": _keys("-flagged", "-outside_break_minutes", "date", "user"),
        "outside": _keys("-outside_break_minutes", "date", "user"),
        "social": _keys("-social_minutes", "date", "user"),
        "requests": _keys("-requests", "date", "user"),
        "user": _keys("user", "date"),
        "date": _keys("date", "user"),
    }, "flagged"),
    "social --by user": Spec("social", PERSON_SOCIAL_COLUMNS, _PEOPLE | {"--flagged"}, ("user",), {
        "flagged": _keys("-flagged_days", "-outside_break_minutes", "user"),
        "outside": _keys("-outside_break_minutes", "user"),
        "social": _keys("-social_minutes", "user"),
        "requests": _keys("-requests", "user"),
        "days": _keys("-days", "user"),
        "user": _keys("user"),
    }, "flagged"),
    "blocked": Spec("blocked", BLOCKED_COLUMNS, _PEOPLE, ("user",), {
        "attempts": _keys("-attempts", "-requests", "date", "user"),
        "requests": _keys("-requests", "date", "user"),
        "hosts": _keys("-hosts", "-attempts", "date", "user"),
        "user": _keys("user", "date"),
        "date": _keys("date", "user"),
    }, "attempts"),
    "blocked --by user": Spec("blocked", PERSON_BLOCKED_COLUMNS, _PEOPLE, ("user",), {
        "attempts": _keys("-attempts", "-requests", "user"),
        "requests": _keys("-requests", "user"),
        "days": _keys("-days", "user"),
        "user": _keys("user"),
    }, "attempts"),
    "top": Spec("top", ("key", "requests", "bytes"), _PEOPLE, TOP_KEYS, {
        "requests": _keys("-requests", "key"),
        "bytes": _keys("-bytes", "key"),
        "name": _keys("key"),
    }, "requests"),
    "summary": Spec("summary", SUMMARY_COLUMNS, frozenset(), dated=False),
}
KINDS = ("social", "blocked", "top", "summary")


def report_spec(kind: str) -> Spec:
    """The spec of `report KIND`; UsageError for an unknown kind (the one place it is checked)."""
    if kind not in KINDS:
        raise UsageError(f"unknown report {kind!r} (choose {', '.join(KINDS)})")
    return SPECS[kind]


def check_limit(limit: object) -> None:
    """UsageError unless `limit` is None or a positive integer (`--limit`) that fits the
    engines' 64-bit row counts."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit < 2**63):
        raise UsageError(f"--limit: expected a positive integer below 2**63, got {limit!r}")


def spec_for(kind: str, by: str | None) -> Spec:
    """The spec of `report KIND [--by BY]`; UsageError for an unknown kind or a --by it lacks."""
    spec = report_spec(kind)
    if by is not None and by not in spec.by:
        takes = f"takes --by {' or '.join(spec.by)}" if spec.by else "takes no --by"
        raise UsageError(f"--by {by}: report {kind} {takes}")
    return SPECS.get(f"{kind} --by {by}", spec)


def check_options(spec: Spec, given: dict[str, Any]) -> None:
    """Refuse an option the report cannot use (given = option -> value, None/False when absent)."""
    refused = [name for name, value in given.items() if value not in (None, False) and name not in spec.options]
    if refused:
        takes = ", ".join(sorted(spec.options)) or "only --from, --to, --format and --output"
        raise UsageError(f"report {spec.kind} does not take {', '.join(refused)} (it takes {takes})")


def sort_keys(spec: Spec, sort: str) -> tuple[tuple[str, bool], ...]:
    """The (column, descending) keys of `--sort`; UsageError listing the valid values."""
    if sort not in spec.sorts:
        raise UsageError(f"--sort {sort}: report {spec.kind} sorts by {', '.join(spec.sorts)}")
    return spec.sorts[sort]


# -- parameters shared by the dated reports ------------------------------------------------------

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
    d1, d2 = _dates(date_from, date_to)
    if user is not None and not isinstance(user, str):
        raise UsageError("--user: expected an identity string")
    return dated_params(cfg, d1, d2, user)


def _dates(date_from: date | str, date_to: date | str) -> tuple[date, date]:
    d1, d2 = check_range(as_date(date_from, "--from"), as_date(date_to, "--to"))
    return d1, d2  # type: ignore[return-value]


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


# -- the reports -------------------------------------------------------------------------------

def _social_params(con, cfg: Config, date_from, date_to, user, filters: Filters | None = None) -> dict:
    """Bound parameters, after registering the organisation's relations on `con`
    (each identity-date's timetable is chosen in the SQL)."""
    d1, d2 = _dates(date_from, date_to)
    prepare(con, cfg, d1, d2, filters)
    return {**range_params(cfg, d1, d2, user), **schedule_params(cfg), **social_params(cfg)}


def social_segments(
    con: duckdb.DuckDBPyConnection, cfg: Config, date_from: date | str, date_to: date | str, user: str
) -> pl.DataFrame:
    """One row per (request, local date, period) piece of `user`'s social time.

    Columns: ts (UTC), local_time, user, host, url, date, period
    (in_break|outside_break|outside_hours), covered_seconds (float). Sorted by ts.
    A request in the same millisecond as the next one has a 0-second piece.
    """
    if not isinstance(user, str):
        raise UsageError("social segments need one identity (--user)")
    df = run_query(con, "social_segments", _social_params(con, cfg, date_from, date_to, user))
    return df.select(SEGMENT_COLUMNS)


def social_report(con: duckdb.DuckDBPyConnection, cfg: Config, date_from: date | str, date_to: date | str,
                  user: str | None = None, flagged_only: bool = False, filters: Filters | None = None) -> pl.DataFrame:
    """One row per identity and local date with social time, columns SOCIAL_COLUMNS,
    sorted by date, user. `queries/social.sql` aggregates `social_segments.sql`
    (inlined), so the investigation export and this report can never disagree."""
    params = _social_params(con, cfg, date_from, date_to, user, filters)
    params["flag_minutes"] = float(cfg.social.flag_minutes)
    df = run_query(con, "social", params).select(SOCIAL_COLUMNS)
    return df.filter(pl.col("flagged")) if flagged_only else df


def blocked_report(con: duckdb.DuckDBPyConnection, cfg: Config, date_from: date | str, date_to: date | str,
                   user: str | None = None, filters: Filters | None = None) -> pl.DataFrame:
    """Blocked requests, attempts (bursts), hosts and top host per identity and local
    date (`queries/blocked.sql`), columns BLOCKED_COLUMNS, sorted by date, user."""
    d1, d2 = _dates(date_from, date_to)
    prepare(con, cfg, d1, d2, filters, calendar=False)
    params = range_params(cfg, d1, d2, user)
    params["burst_ms"] = int(cfg.blocked.burst_seconds) * 1000
    return run_query(con, "blocked", params).select(BLOCKED_COLUMNS)


def summary_report(con: duckdb.DuckDBPyConnection, cfg: Config | None = None, date_from: date | None = None,
                   date_to: date | None = None) -> pl.DataFrame:
    """Per UTC month of `events`: rows, first/last ts, identities, blocked, allowed
    (`queries/summary.sql`); only events on local dates [date_from, date_to] when given."""
    d1, d2 = check_range(date_from, date_to)
    tz = cfg.schedule.timezone if cfg is not None else "UTC"
    params = {"tz": tz, "date_from": d1, "date_to": d2}
    return run_query(con, "summary", params).select(SUMMARY_COLUMNS)


@lru_cache(maxsize=1)
def _extractor() -> "tldextract.TLDExtract":
    # suffix_list_urls=() -> never fetch; cache_dir=None -> no disk cache;
    # fallback_to_snapshot (default True) -> the list bundled with the package.
    # Imported here: only `top --by domain` and the export need it (it brings
    # `requests` along, a tenth of a report's start-up).
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registrable_domain(host: str | None) -> str | None:
    """`www.bbc.co.uk` -> `bbc.co.uk`; IPs and bare suffixes are returned unchanged."""
    if host is None:
        return None
    h = host.strip().lower().rstrip(".")
    ext = _extractor()(h)
    if ext.domain and ext.suffix:
        return f"{ext.domain}.{ext.suffix}"
    return h


def register_udf(con: duckdb.DuckDBPyConnection) -> None:
    """Register the registrable-domain UDF on `con` (once per connection)."""
    if hasattr(con, "run_query"):  # another engine (surfaudit.spark_engine): registering replaces
        con.create_function(UDF_NAME, registrable_domain)
        return
    exists = con.sql(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = $n", params={"n": UDF_NAME}
    ).fetchall()[0][0]
    if not exists:
        from duckdb.sqltypes import VARCHAR

        con.create_function(UDF_NAME, registrable_domain, [VARCHAR], VARCHAR)


def top_report(con: duckdb.DuckDBPyConnection, cfg: Config, date_from: date | str, date_to: date | str,
               by: str = "host", user: str | None = None, limit: int | None = TOP_LIMIT,
               blocked_only: bool = False) -> pl.DataFrame:
    """Columns `<by>`, requests, bytes; sorted by requests desc, then key; `limit`
    rows (None: all); `blocked_only`: blocked requests alone (the top blocked sites)."""
    if by not in TOP_KEYS:
        raise UsageError(f"--by: expected one of {', '.join(TOP_KEYS)}, got {by!r}")
    check_limit(limit)
    register_udf(con)
    params = range_params(cfg, date_from, date_to, user)
    params.update(by=by, limit=limit, blocked_only=bool(blocked_only))
    df = run_query(con, "top", params)
    # bytes is summed as HUGEINT (a year of video overflows BIGINT); Int128 keeps it an integer
    return df.select(pl.col("key").alias(by), "requests", pl.col("bytes").cast(pl.Int128))


def per_person(kind: str, daily: pl.DataFrame) -> pl.DataFrame:
    """`--by user`: the per-day rows of social or blocked summed per identity over the range."""
    if kind == "social":
        agg = [pl.len().alias("days"), pl.col("flagged").sum().cast(pl.Int64).alias("flagged_days"),
               *(pl.col(c).sum().round(2) for c in _MINUTES), pl.col("requests").sum().cast(pl.Int64)]
        columns = PERSON_SOCIAL_COLUMNS
    else:
        agg = [pl.len().alias("days"), pl.col("requests").sum().cast(pl.Int64),
               pl.col("attempts").sum().cast(pl.Int64)]
        columns = PERSON_BLOCKED_COLUMNS
    out = daily.group_by("user").agg(agg).with_columns(pl.col("days").cast(pl.Int64))
    return out.sort("user").select(columns)
