"""Top report: the busiest hosts, registrable domains, categories or identities.

Registrable domains come from tldextract's bundled public-suffix snapshot, with
no network access and no cache on disk (the tool runs on an offline box and a
report must not change because a download succeeded or failed). The mapping is
a DuckDB Python UDF applied after grouping by host, so it runs once per host.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import duckdb
import polars as pl
import tldextract

from surfaudit.config import Config
from surfaudit.errors import UsageError
from surfaudit.reports.common import range_params
from surfaudit.sql import run_query

TOP_KEYS = ("host", "domain", "category", "user")
UDF_NAME = "surfaudit_registrable_domain"


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # suffix_list_urls=() -> never fetch; cache_dir=None -> no disk cache;
    # fallback_to_snapshot (default True) -> the list bundled with the package.
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
    exists = con.sql(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = $n", params={"n": UDF_NAME}
    ).fetchall()[0][0]
    if not exists:
        from duckdb.sqltypes import VARCHAR

        con.create_function(UDF_NAME, registrable_domain, [VARCHAR], VARCHAR)


def top_report(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    date_from: date | str,
    date_to: date | str,
    by: str = "host",
    user: str | None = None,
    limit: int = 20,
    blocked_only: bool = False,
) -> pl.DataFrame:
    """Columns `<by>`, requests, bytes; sorted by requests desc, then key
    (`blocked_only`: blocked requests alone, for the top blocked sites)."""
    if by not in TOP_KEYS:
        raise UsageError(f"--by: expected one of {', '.join(TOP_KEYS)}, got {by!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise UsageError(f"--limit: expected a positive integer, got {limit!r}")
    register_udf(con)
    params = range_params(cfg, date_from, date_to, user)
    params.update(by=by, limit=limit, blocked_only=bool(blocked_only))
    df = run_query(con, "top", params)
    # bytes is summed as HUGEINT (a year of video overflows BIGINT); Int128 keeps it an integer
    return df.select(pl.col("key").alias(by), "requests", pl.col("bytes").cast(pl.Int128))
