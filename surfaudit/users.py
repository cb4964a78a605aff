"""`surfaudit users`: which identities the store holds and who they are.

Why: with a staff directory, reports cover its members only (scope "staff"), so
pupils, guests and unlisted service accounts would otherwise be invisible; a
technician finds them here (`--unknown`) and either adds them to the directory
(an alias, a new row) or knows they are outside the staff policy. The rules
live in `queries/users.sql`; this module registers the organisation's tables
and runs it over every committed part.
"""

from __future__ import annotations

import polars as pl

from surfaudit import engine, naming
from surfaudit.arrow_stream import register_frame
from surfaudit.directory import Directory, load_directory
from surfaudit.org_sql import check_filters, register_site_udf, tables
from surfaudit.sql import run_query
from surfaudit.store import Store

USER_COLUMNS = ("identity", "name", "group", "site", "first_seen", "last_seen", "requests", "in_directory")


def list_users(store: Store, cfg, *, unknown: bool = False, site: str | None = None,
               group: str | None = None) -> tuple[pl.DataFrame, Directory]:
    """The listing (USER_COLUMNS, sorted by identity) and the directory it used."""
    filters = check_filters(cfg, site, group)
    directory = load_directory(cfg)
    con = engine.local(cfg)
    try:
        store.events_view(con, name="events_stored")
        for name, df in tables(cfg, directory).items():
            register_frame(con, name, df)
        register_site_udf(con, cfg)
        df = run_query(con, "users", {"tz": cfg.schedule.timezone, "unknown": bool(unknown),
                                      "site": filters.site, "grp": filters.group})
    finally:
        con.close()
    return df.select(USER_COLUMNS), directory


def run_users(store: Store, cfg, *, unknown: bool = False, site: str | None = None, group: str | None = None,
              pseudonymise: bool = False, reveal: bool = False, reason: str | None = None) -> pl.DataFrame:
    """The listing as the CLI shows it: naming as `[privacy]` and --reveal say, and the
    audit entry of a listing that named people (surfaudit.naming)."""
    how = naming.decide(cfg, pseudonymise=pseudonymise, reveal=reveal, reason=reason)
    table, _ = list_users(store, cfg, unknown=unknown, site=site, group=group)
    naming.record(store, cfg, how, "users", table, column="identity",
                  filters={"unknown": unknown, "site": site, "group": group})
    if how.pseudonymise:
        table = naming.apply(store, how, table, column="identity").with_columns(pl.lit(None, pl.String).alias("name"))
    return table
