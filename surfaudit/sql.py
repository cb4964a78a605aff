"""Load and run the report queries in `queries/*.sql` (DESIGN §2, §6).

The SQL lives in data files so that every number a manager sees can be traced to
one readable query. Each file starts with a header::

    -- name: social
    -- description: one line saying what it returns
    -- params: $tz, $date_from, ...

User values (identities, dates, hosts) and config-derived lists are always bound
as DuckDB `$named` parameters, never formatted into the SQL text. The only text
substitution is `{{other_query}}`, which inlines another *query file's* body so a
report can aggregate exactly the rows another query returns (the social report is
built on the per-request segments query this way, so the two cannot disagree).
An included file may also be a fragment of a WITH list (`timetable_ctes`: CTEs
that several queries share), so a rule is written in one file only.

This module also turns a Config's schedule into its query parameter
(`schedule_params`: the time zone) and a schedule into the elementary local-clock
segments of a workday, each classified for §6 "Social time" (`schedule_segments`,
the rows of the timetable tables `surfaudit.org_sql` registers).
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from surfaudit.config import Config, Schedule
from surfaudit.errors import ResourceError

PERIODS = ("in_break", "outside_break", "outside_hours")
_HEADER = re.compile(r"^--\s*(name|description|params)\s*:\s*(.*)$")
_INCLUDE = re.compile(r"\{\{\s*([a-z0-9_]+)\s*\}\}")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")


@dataclass(frozen=True)
class Query:
    """One query file: its header and its body (with includes expanded)."""

    name: str
    description: str
    params: tuple[str, ...]  # every $param the expanded body uses, without the '$'
    sql: str
    path: str


def queries_dir() -> Path:
    """The directory holding the .sql files.

    A wheel ships it as package data at `surfaudit/queries`; a source checkout
    has it at `<repo>/queries`, next to the package.
    """
    try:
        packaged = importlib.resources.files("surfaudit") / "queries"
        if packaged.is_dir():
            return Path(str(packaged))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - exotic loaders
        pass
    source = Path(__file__).resolve().parent.parent / "queries"
    if source.is_dir():
        return source
    raise FileNotFoundError("surfaudit queries directory not found (neither packaged nor in the source tree)")


def list_queries() -> list[str]:
    """Names of all query files (file stem == header name)."""
    return sorted(p.stem for p in queries_dir().glob("*.sql"))


def _parse(name: str) -> tuple[dict[str, str], str, str]:
    path = queries_dir() / f"{name}.sql"
    if not re.fullmatch(r"[a-z0-9_]+", name) or not path.is_file():
        raise KeyError(f"unknown query {name!r}")
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines) and lines[i].startswith("--"):
        m = _HEADER.match(lines[i])
        if m:
            header[m.group(1)] = m.group(2).strip()
        i += 1
    body = "\n".join(lines[i:]).strip().rstrip(";").strip()
    for key in ("name", "description", "params"):
        if key not in header:
            raise ValueError(f"{path}: header lacks '-- {key}:'")
    if header["name"] != name:
        raise ValueError(f"{path}: header name {header['name']!r} differs from file name")
    return header, body, str(path)


def load_query(name: str, _stack: tuple[str, ...] = ()) -> Query:
    """Read `queries/<name>.sql`, expand `{{includes}}` and check the header.

    The header's params must list exactly the parameters the file's own body
    uses; an included query contributes its own params.
    """
    if name in _stack:
        raise ValueError(f"query include cycle: {' -> '.join(_stack + (name,))}")
    header, body, path = _parse(name)
    declared = tuple(p.strip().lstrip("$") for p in header["params"].split(",") if p.strip())
    used = set(_PARAM.findall(_COMMENT.sub("", _INCLUDE.sub("", body))))
    if used != set(declared):
        raise ValueError(f"{path}: header params {sorted(declared)} differ from those used {sorted(used)}")
    params = list(declared)

    def expand(m: re.Match) -> str:
        inner = load_query(m.group(1), _stack + (name,))
        params.extend(p for p in inner.params if p not in params)
        return inner.sql

    sql = _INCLUDE.sub(expand, body)
    return Query(header["name"], header["description"], tuple(params), sql, path)


def run_query(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> pl.DataFrame:
    """Run a named query with bound parameters and return a polars DataFrame.

    `con` is a DuckDB connection or an engine's look-alike with its own
    `run_query` (surfaudit.spark_engine.SparkConnection), the one place a query
    runs. Only the parameters the query declares are bound (DuckDB rejects extras);
    a declared one missing from `params` is a programming error. The session
    time zone is set to UTC so TIMESTAMPTZ columns come back as UTC.
    """
    query = load_query(name)
    missing = [p for p in query.params if p not in params]
    if missing:
        raise KeyError(f"query {name!r} needs parameters {missing}")
    if hasattr(con, "run_query"):  # another engine (surfaudit.spark_engine): it translates and binds
        df = con.run_query(name, params)
    else:
        con.sql("SET TimeZone = 'UTC'")
        try:
            # polars reads the result's Arrow C stream itself (`.pl()` would go through pyarrow)
            df = pl.DataFrame(con.sql(query.sql, params={p: params[p] for p in query.params}))
        except duckdb.OutOfMemoryException:
            limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
            raise ResourceError(f"the {name} query needs more memory than DuckDB may use here "
                                f"({limit}): raise [engine] memory_limit in the config") from None
    return df.with_columns(
        pl.col(c).dt.convert_time_zone("UTC")
        for c, t in df.schema.items()
        if isinstance(t, pl.Datetime) and t.time_zone is not None
    )


def schedule_segments(schedule: Schedule) -> list[dict[str, Any]]:
    """The elementary segments [start_min, end_min) of a workday, classified.

    Boundaries are local midnight, the work hours and every break edge. A
    segment inside any break is 'in_break' (even beyond work hours), else
    'outside_break' inside work hours, else 'outside_hours'. Adjacent segments
    of the same class are merged. The segments cover 0..1440 exactly.
    """
    wh = schedule.work_hours
    points = {0, 24 * 60, wh.start, wh.end}
    for b in schedule.breaks:
        points.update((b.start, b.end))
    edges = sorted(points)
    out: list[dict[str, Any]] = []
    for a, b in zip(edges, edges[1:]):
        if any(w.start <= a and b <= w.end for w in schedule.breaks):
            period = "in_break"
        elif wh.start <= a and b <= wh.end:
            period = "outside_break"
        else:
            period = "outside_hours"
        if out and out[-1]["period"] == period:
            out[-1]["end_min"] = b
        else:
            out.append({"start_min": a, "end_min": b, "period": period})
    return out


def schedule_params(cfg: Config) -> dict[str, Any]:
    """Query parameters of the schedule: $tz. Workdays, hours and breaks reach the
    queries as the timetable tables `surfaudit.org_sql.prepare` registers (per person),
    not as parameters."""
    return {"tz": cfg.schedule.timezone}


def social_params(cfg: Config) -> dict[str, Any]:
    """Query parameters for social-host classification and coverage (§6)."""
    return {
        "domains": list(cfg.social.domains),
        "ignore_hosts": list(cfg.social.ignore_hosts),
        "idle_ms": int(cfg.social.idle_gap_seconds) * 1000,
        "tail_ms": int(cfg.social.tail_seconds) * 1000,
    }


def dated_params(cfg: Config, date_from: Any, date_to: Any, user: str | None) -> dict[str, Any]:
    """$tz, $date_from, $date_to, $utc_from, $utc_to and $user for the dated queries.

    For callers that may not import surfaudit.reports (the export, DESIGN §2).
    `date_from`/`date_to` are `datetime.date` values (local, inclusive); the UTC
    bounds follow the same rule as `surfaudit.reports.specs.needed_utc_range`
    (at least a day either side, never less than the longest coverage before
    nor the idle gap after); tests/test_export_csv.py checks the two agree.
    """
    soc, day = cfg.social, timedelta(days=1)
    zone = ZoneInfo(cfg.schedule.timezone)

    def midnight(d: Any) -> datetime:
        return datetime.combine(d, time(0), tzinfo=zone).astimezone(timezone.utc)

    before = max(day, timedelta(seconds=max(soc.idle_gap_seconds, soc.tail_seconds) + 1))
    after = max(day, timedelta(seconds=soc.idle_gap_seconds + 1))
    lo, hi = midnight(date_from) - before, midnight(date_to + day) + after
    return {
        "tz": cfg.schedule.timezone,
        "date_from": date_from,
        "date_to": date_to,
        "utc_from": lo.replace(tzinfo=None),  # naive UTC, read with timezone('UTC', ...)
        "utc_to": hi.replace(tzinfo=None),
        "user": user,
    }
