"""The store's Arrow schemas, derived from the canonical polars schemas (surfaudit/schema.py).

Part of the store package. Parquet parts are written and checked with Arrow types;
they come from `EVENT_SCHEMA`, `STORED_SCHEMA` and `QUARANTINE_SCHEMA` column by
column, so a column is declared once. A dtype without an Arrow translation here
is an error at import, not a part written with a guessed type.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from surfaudit.schema import EVENT_SCHEMA, QUARANTINE_SCHEMA, STORED_SCHEMA

ROW_GROUP = 1_000_000


def arrow_type(dtype: pl.DataType) -> pa.DataType:
    """The Arrow type the store writes for one polars dtype of the canonical schemas."""
    if isinstance(dtype, pl.Datetime):
        return pa.timestamp(dtype.time_unit, tz=dtype.time_zone)
    simple = {pl.String: pa.string(), pl.Int32: pa.int32(), pl.Int64: pa.int64()}
    for polars_type, arrow in simple.items():
        if dtype == polars_type:
            return arrow
    raise TypeError(f"no Arrow type for the store column dtype {dtype!r}")


def arrow_schema(schema: dict[str, pl.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, arrow_type(dtype)) for name, dtype in schema.items()])


def with_string_views(schema: pa.Schema) -> pa.Schema:
    """`schema` with string columns as string views: how polars hands strings over
    without a copy (the write path; the files still read back as `string`)."""
    return pa.schema([pa.field(f.name, pa.string_view() if f.type == pa.string() else f.type) for f in schema])


ARROW_SCHEMA = arrow_schema(EVENT_SCHEMA)
STORED_ARROW_SCHEMA = arrow_schema(STORED_SCHEMA)  # the event columns, then `site`
SITE_FIELD = STORED_ARROW_SCHEMA.field("site")
QUARANTINE_ARROW_SCHEMA = arrow_schema(QUARANTINE_SCHEMA)


def quarantine_arrow(bad: pl.DataFrame) -> pa.Table:
    """Rejected lines as the quarantine files store them, on either backend."""
    table = bad.select(pl.col(c).cast(t) for c, t in QUARANTINE_SCHEMA.items()).to_arrow()
    return table.cast(QUARANTINE_ARROW_SCHEMA)
