"""Rejected lines that ingest itself finds, beside the parsers' own.

What: `sane` keeps the rows whose time is within 1990..2099 and gives the others
as rejected lines with their line number and text; `too_long` gives the lines
the reader cut off at the length limit; `fix_invalid_utf8` names the lines that
were not UTF-8 as such, with their bytes decoded leniently.

Why: the parsers reject out-of-range times themselves; `sane` is the net under
them, so that no parser's oversight can become an exception (a year past 9999)
or a partition of nonsense, and the technician must still be able to find the
line (`surfaudit quarantine` shows file and line number). A parser's rows carry
no line number, but they come in line order and a parser reads each line alone,
so the lines of the odd rows are found by parsing halves of the batch again
(only when there are odd rows, which is rare: a few parses of the batch).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl

from ingest import tokens

SCHEMA = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}
SANE_FROM, SANE_TO = datetime(1990, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)
_SANE_US = tuple((t - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1) for t in (SANE_FROM, SANE_TO))
OUT_OF_RANGE = "timestamp out of range (before 1990 or after 2099)"

Parse = Callable[..., tuple[pl.DataFrame, pl.DataFrame]]  # a parser's parse(lines, first_line_no, raw)


def _ok(rows: pl.DataFrame) -> np.ndarray:
    us = rows.get_column("ts").dt.cast_time_unit("us").to_physical().to_numpy()
    return (us >= _SANE_US[0]) & (us < _SANE_US[1])  # null (NaN) compares False


def sane(rows: pl.DataFrame, first_no: int, raw: tokens.Raw | None = None,
         parse: Parse | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose time is within 1990..2099, and the others as rejected lines: with
    their line number and text when `raw` (the batch the rows were parsed from,
    its first line `first_no`) and `parse` are given, else (or if the lines cannot
    be told) without a number and with the URL for the text."""
    ok = _ok(rows)
    if ok.all():
        return rows, pl.DataFrame(schema=SCHEMA)
    keep = pl.Series(ok)
    where = None
    if raw is not None and parse is not None:
        where = _locate(parse, raw, first_no, 0, len(raw.starts), int((~ok).sum()))
    if where is None:
        odd = rows.filter(~keep).select(pl.lit(None, pl.Int64).alias("line_no"), pl.lit(OUT_OF_RANGE).alias("reason"),
                                        pl.col("url").fill_null("").alias("line"))
    else:
        at = np.array(where, dtype=np.int64)
        odd = pl.DataFrame({"line_no": pl.Series(at + first_no, dtype=pl.Int64),
                            "reason": pl.Series([OUT_OF_RANGE] * len(at), dtype=pl.String),
                            "line": raw.lines_at(at).str.strip_chars_end("\r")}).cast(SCHEMA)
    return rows.filter(keep), odd


def _locate(parse: Parse, raw: tokens.Raw, first_no: int, lo: int, hi: int, want: int) -> list[int] | None:
    """Indices of the `want` lines in lo..hi whose rows are out of range (None when
    the parses disagree: the caller then gives no line numbers)."""
    if want == 0:
        return []
    if hi - lo <= 1:  # one line: a syslog repeat line gives `want` rows of it
        return [lo] * want if hi - lo == 1 else None
    mid = (lo + hi) // 2
    rows, _ = parse(None, first_no + lo, raw.part(lo, mid))
    left = int((~_ok(rows)).sum()) if rows.height else 0
    if left > want:
        return None
    a = _locate(parse, raw, first_no, lo, mid, left)
    b = _locate(parse, raw, first_no, mid, hi, want - left)
    return None if a is None or b is None else a + b


def too_long(batch, max_line: int) -> pl.DataFrame:
    """The batch's lines over the length limit, as rejected lines (the parser saw them empty)."""
    if not batch.too_long:
        return pl.DataFrame(schema=SCHEMA)
    rows = [(batch.first_line_no + i, f"line too long ({n:,} bytes; [ingest] max_line_bytes = {max_line:,})",
             text + "…") for i, (n, text) in sorted(batch.too_long.items())]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def fix_invalid_utf8(batch, bad: pl.DataFrame) -> pl.DataFrame:
    """Lines that were not UTF-8 are quarantined as such, with their bytes decoded leniently."""
    # An invalid line is always a bad line, and reaches the parser as U+FFFD alone.
    suspects = bad.filter(pl.col("line") == "\ufffd").get_column("line_no").to_list()
    numbers = {}
    for line_no in suspects:
        raw = batch.raw_line_bytes(line_no - batch.first_line_no)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            numbers[line_no] = raw.decode("utf-8", "replace")
    if not numbers:
        return bad
    return bad.with_columns(
        pl.when(pl.col("line_no").is_in(list(numbers))).then(pl.lit("invalid utf-8")).otherwise(pl.col("reason")).alias("reason"),
        pl.col("line_no").replace_strict(numbers, default=pl.col("line"), return_dtype=pl.String).alias("line"),
    )
