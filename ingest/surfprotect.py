"""Parser for SurfProtect web-filter CSV exports (DESIGN §4).

The export has a header row whose spelling varies between product versions, so
columns are found by case-insensitive aliases (time, user, client IP, url,
category, decision) and extra columns are ignored. Nearly every line of an
export is plain (printable ASCII, simple fields, `...T10:00:00.123Z` times, a
known decision, a plain URL), and those are read by the compiled scanner
`ingest.fast.csv_scan` in one pass, as string views into the batch buffer
(without the compiled scanners, every line takes the general path). Every
other line (quoted fields, local times, UK dates, accented names, odd URLs, bad
lines) is read by the general CSV reader of the vendor formats
(`ingest.vendor_csv.Parser`, with the aliases' columns and the decision words
below), which defines the format: a line needs the header's number of fields
(extra empty ones allowed), a readable time, a known decision, a URL with a
host and a user or client IP; a bad line gets its reason.
tests/test_parse_fast_paths.py checks that both routes give the same rows; when a
batch of a file has no plain line at all (an export rewritten by Excel), the next
few batches skip the scanner.

Timestamps are ISO 8601, or UK day-first dates as Excel rewrites them when an
export is opened and saved (`30/11/2026 09:17`, `30/11/2026 9:17:05`). A slash
date is always day-first, `01/02/2026` is 1 February: the product is British
and so is Excel's locale on its customers' machines. With an offset (`Z`,
`+01:00`) a time is exact; without one it is local time in the configured
timezone, read as Python's `zoneinfo` does with `fold=0` (`ingest.localtime`).
A time outside the years 1990-2100 rejects the line. Lines that are not valid
UTF-8 are read as cp1252 (`ingest.text`: Excel on Windows saves CSV that way),
so `Zo\\xeb` is `Zoë`, never a rejected line.
"""

from __future__ import annotations

import csv
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from ingest import fast, localtime, text, tokens, vendor_csv
from surfaudit.errors import InputError
from surfaudit.schema import EVENT_SCHEMA, conform

NAME = "surfprotect"

ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("timestamp", "time", "date/time", "datetime"),
    "user": ("username", "user", "who"),
    "client_ip": ("client_ip", "source ip", "ip address", "internal ip", "ip"),
    "url": ("url", "request", "destination"),
    "category": ("category", "categories"),
    "decision": ("action", "decision", "result", "status"),
}
DECISIONS = {
    **dict.fromkeys(("allowed", "permitted", "permit", "pass"), "allowed"),
    **dict.fromkeys(("blocked", "rejected", "reject", "denied", "deny"), "blocked"),
}
_COLUMN = {"time": vendor_csv.TIME, "user": vendor_csv.USERNAME, "client_ip": vendor_csv.CLIENT, "url": vendor_csv.URL,
           "category": vendor_csv.CATEGORY, "decision": vendor_csv.DECISION}
_BAD_SCHEMA = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}
# An export whose lines are not plain (UK dates...) skips the scanner, trying it again every so many batches.
_PROBE_EVERY = 8


def _norm(header: str) -> str:
    return " ".join(header.strip().strip("\ufeff").strip().lower().split())


DELIMITERS = (",", ";", "\t", "|")  # ',' as exported; ';' and tab as Excel saves it in some locales


def _columns(first_line: str) -> tuple[list[str], dict[str, int], str]:
    """Header cells, per canonical column the index of its first alias found, and the
    delimiter: the first of DELIMITERS whose split has time, url and decision columns
    (Excel saves with ';' where the decimal mark is a comma, "Unicode Text" with tabs)."""
    best: tuple[list[str], dict[str, int], str] | None = None
    for delimiter in DELIMITERS:
        try:
            cells = next(csv.reader([first_line.rstrip("\r").lstrip("\ufeff")], delimiter=delimiter), [])
        except csv.Error:
            continue
        names = [_norm(c) for c in cells]
        found: dict[str, int] = {}
        for key, aliases in ALIASES.items():
            for i, name in enumerate(names):
                if name in aliases and key not in found and i not in found.values():
                    found[key] = i
        if {"time", "url", "decision"} <= found.keys():
            return cells, found, delimiter
        if best is None:
            best = (cells, found, delimiter)
    assert best is not None
    return best


def looks_like(first_lines: list[str]) -> bool:
    """True when the first line (after an Excel `sep=` line) is a header with time, url
    and decision columns."""
    header, _ = vendor_csv.header_of(first_lines[:2])
    if header is None or not any(d in header for d in DELIMITERS):
        return False
    _, found, _ = _columns(header)
    return {"time", "url", "decision"} <= found.keys()


def make_parser(first_line: str, tz: str, cfg=None) -> Parser:
    """A parser for files whose header is `first_line`; InputError if it lacks a
    required column (time, url, decision, and a user or client IP)."""
    cells, found, delimiter = _columns(first_line)
    missing = [k for k in ("time", "url", "decision") if k not in found]
    if "user" not in found and "client_ip" not in found:
        missing.append("user or client ip")
    if missing:
        raise InputError(f"surfprotect header lacks required column(s): {', '.join(missing)}")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise InputError(f"unknown timezone: {tz}") from None
    return Parser(len(cells), found, tz, first_line.rstrip("\r").lstrip("\ufeff"), delimiter)


def read_times(tz: str):
    """Time texts -> UTC instants: a UK day-first date (local in `tz`) or ISO 8601
    (exact with an offset, else local in `tz`); null where it is neither. The
    day-first patterns are cheap, so the ISO rules only read what they leave."""
    t = pl.col("time")

    def read(time: pl.Series) -> pl.Series:
        part = pl.DataFrame({"time": time}).with_columns(localtime.day_first(t), pl.lit(None, pl.Int64).alias("offset_s"))
        part = localtime.two_digit_years(part)  # `16/06/26 10:00`
        rest = part.get_column("naive").is_null()
        if rest.any():
            iso = localtime.iso_frame(part.filter(rest).get_column("time"))
            naive, offset_s = part.get_column("naive").clone(), part.get_column("offset_s").clone()
            where = np.flatnonzero(rest.to_numpy())
            naive.scatter(where, iso.get_column("naive"))
            offset_s.scatter(where, iso.get_column("offset_s"))
            part = part.with_columns(naive, offset_s)
        return localtime.to_utc(part, tz).get_column("ts")

    return read


class Parser:
    """Turns batches of SurfProtect CSV lines into canonical rows and bad lines."""

    name = NAME
    header_lines = 1

    def __init__(self, n_fields: int, found: dict[str, int], tz: str, header: str = "", delimiter: str = ","):
        self.tz, self.header, self.found, self.n_fields = tz, header, found, n_fields
        # the compiled scanner reads the exported shape (commas); a re-saved file takes the general path
        plain = fast.enabled() and delimiter == ","
        self.layout = fast.load("csv_scan").Layout(n_fields, found, DECISIONS) if plain else None
        columns = [-1] * n_fields
        for key, j in found.items():
            columns[j] = _COLUMN[key]
        self._probe = 0  # batches since the compiled scanner last found no plain line (0: use it)
        self.general = vendor_csv.Parser(NAME, vendor_csv.Layout(columns, delimiter, header, DECISIONS), DECISIONS, "utf-8",
                                         read_times(tz))

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows and bad lines of `lines`, or of `raw` (the same lines as bytes: the
        reader's batch buffer, read without a copy) when `lines` is None. The
        plain lines are read by the compiled scanner, the rest by `_general`."""
        raw = raw if raw is not None else tokens.Raw.of(lines.cast(pl.String))
        if self.layout is None or self._probe % _PROBE_EVERY:  # no compiled scanner, or it found no plain lines
            self._probe += 1
            done, fast = np.zeros(len(raw.starts), dtype=bool), None
        else:
            done, fast = self._fast(raw)
            self._probe = 1 if len(done) >= 1000 and done.mean() < 0.01 else 0
        if done.all():
            return conform(fast), pl.DataFrame(schema=_BAD_SCHEMA)
        rest = np.flatnonzero(~done)
        rows, bad = self._general(raw, rest, first_line_no)
        if len(rest) < len(done):
            rows = pl.concat([fast.select(rows.columns), rows]).sort("i")
        return conform(rows), bad

    def _general(self, raw: tokens.Raw, rest: np.ndarray, first_line_no: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows (with the line index `i`) and bad lines of the lines `rest` of the
        batch, decoded (UTF-8, else cp1252) and read by the general CSV reader."""
        sub = text.subset(raw, rest)
        decoded = text.decoded(sub, "utf-8")
        texts = decoded.lines_at if decoded is not sub else (lambda k: raw.lines_at(rest[k]))
        return self.general.read(decoded, rest, first_line_no, texts)

    def _fast(self, raw: tokens.Raw) -> tuple[np.ndarray, pl.DataFrame]:
        """The mask of the plain lines and their rows (with the line index `i`)."""
        csv_scan = fast.load("csv_scan")
        got = tokens.Scanned(raw, csv_scan.scan(raw, self.layout), csv_scan.OK)
        done, idx, numbers, strings = got.done, got.idx, got.numbers, got.strings

        m = len(idx)
        frame = pl.DataFrame({
            "i": pl.Series(idx.astype(np.uint32)),
            "ts": pl.Series(numbers[:, 0]).cast(pl.Datetime("us", "UTC")),
            "user": strings(csv_scan.USER),
            "username": strings(csv_scan.USERNAME, csv_scan.NO_USERNAME),
            "client_ip": strings(csv_scan.CLIENT, csv_scan.NO_CLIENT),
            "method": pl.Series([None], dtype=pl.String).new_from_index(0, m),
            "host": strings(csv_scan.HOST),
            "url": strings(csv_scan.URL),
            "action": tokens.constants(["", "allowed", "blocked"], numbers[:, 1].astype(np.uint8)),
            "status": pl.Series([0], dtype=pl.Int32).new_from_index(0, m),
            "bytes": pl.Series([0], dtype=pl.Int64).new_from_index(0, m),
            "elapsed_ms": pl.Series([None], dtype=pl.Int64).new_from_index(0, m),
            "category": strings(csv_scan.CATEGORY, csv_scan.NO_CATEGORY),
            "source": tokens.repeated(NAME, m),
        })
        return done, frame.select("i", *(pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()))
