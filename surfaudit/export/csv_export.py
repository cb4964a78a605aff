"""The investigation CSV: one row per request (or per piece of a split social request).

Why these choices: the file is opened by a manager in Excel, so it is UTF-8
with a byte-order mark (Excel otherwise guesses a legacy code page), RFC 4180
quoting with CRLF line ends (the stdlib csv module), and every cell that a
spreadsheet would read as a formula is neutralised as OWASP advises for CSV
injection, by the one neutraliser every CSV of the tool uses
(`surfaudit.safetext.neutralise`: `=`, `+`, `-`, `@`, tab, CR, also after leading
spaces, invisible characters or quotes, and their full-width forms). URLs,
hosts and categories come from the network and the identity from a login
prompt, so none of them is trusted.

Columns: local_time, host, url, action, category, social, period,
covered_seconds. `local_time` is `YYYY-MM-DD HH:MM:SS.mmm` in the configured
time zone: the request's time, except for the continuation piece of a social
request whose coverage crosses midnight or a work-hours/break edge, where it is
the instant that piece starts. So summing covered_seconds per date of
local_time gives exactly the social report's minutes x 60 for that date.
"""

from __future__ import annotations

import csv
import io

import polars as pl

from surfaudit.export.data import REQUEST_COLUMNS, Investigation
from surfaudit.safetext import neutralise

BOM = "\ufeff"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralise(str(value))


def csv_rows(inv: Investigation) -> list[list[str]]:
    """The data rows as strings (header excluded), neutralised."""
    df = inv.requests.select(
        pl.col("local_time").dt.strftime("%Y-%m-%d %H:%M:%S%.3f"),
        "host", "url", "action", "category", "social", "period",
        pl.col("covered_seconds").round(3).map_elements(lambda v: f"{v:.3f}", return_dtype=pl.String),
    )
    return [[_cell(v) for v in row] for row in df.iter_rows()]


def render_csv(inv: Investigation) -> bytes:
    """The whole file: BOM, header, rows; CRLF line ends; UTF-8."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(REQUEST_COLUMNS)
    writer.writerows(csv_rows(inv))
    return (BOM + buf.getvalue()).encode("utf-8")
