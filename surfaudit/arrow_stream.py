"""A polars frame handed to DuckDB as a bare Arrow C stream.

Why: `con.register(name, frame)` and `frame.to_arrow()` both go through pyarrow,
which costs a report about 0.2 s of start-up (pyarrow and numpy imports) for
tables of a few rows (the directory, the timetables, an empty view). An object
that offers only `__arrow_c_stream__` is read by DuckDB's own Arrow scanner, once
per scan, so the relation can be joined any number of times. Engines that want a
pyarrow table (surfaudit.spark_engine) still get one from `frame.to_arrow()`.
"""

from __future__ import annotations

import polars as pl


class ArrowStream:
    """`frame` exposed only through the Arrow PyCapsule stream interface."""

    __slots__ = ("frame",)

    def __init__(self, frame: pl.DataFrame):
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema=None):
        return self.frame.__arrow_c_stream__(requested_schema)


def register_frame(con, name: str, frame: pl.DataFrame) -> None:
    """Register `frame` as relation `name` on a DuckDB connection (or on another
    engine's look-alike, which takes an Arrow table)."""
    if hasattr(con, "run_query"):  # surfaudit.spark_engine.SparkConnection
        con.register(name, frame.to_arrow())
    else:
        con.register(name, ArrowStream(frame))
