"""Parser for SurfProtect web-filter CSV exports (DESIGN §4).

The export has a header row whose spelling varies between product versions, so
columns are found by case-insensitive aliases (time, user, client IP, url,
category, decision) and extra columns are ignored. The format is defined by
one quote-aware regex built from the header, which splits a line into exactly as
many CSV fields as the header has (a line with another field count is rejected,
never silently shifted), capturing only the columns we need; quoted fields are
then unquoted (`""` -> `"`). That regex and the polars steps after it cost about
a microsecond per row, so the plain lines (nearly all of an export: printable
ASCII, simple fields, `...T10:00:00.123Z` times, a known decision, a plain URL)
are read instead by the compiled scanner `ingest.csv_scan` in one pass, as string
views into the batch buffer; every other line takes the regex path, `_general`
(tests/test_parse_fast_paths.py checks that both give the same rows).

Timestamps are ISO 8601, or UK day-first dates as Excel rewrites them when an
export is opened and saved (`30/11/2026 09:17`, `30/11/2026 9:17:05`). A slash
date is always day-first, `01/02/2026` is 1 February: the product is British
and so is Excel's locale on its customers' machines. With an offset (`Z`,
`+01:00`) a time is exact; without one it is local time in the configured
timezone, read as Python's `zoneinfo` does with `fold=0` (`ingest.localtime`).
A time outside the years 1990-2100 rejects the line. Lines that are not valid
UTF-8 are read as cp1252 (`ingest.text`: Excel on Windows saves CSV that way),
so `Zo\xeb` is `Zoë`, never a rejected line.
"""

from __future__ import annotations

import csv
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from ingest import csv_scan, localtime, text, tokens
from ingest.squid import with_host
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

# One CSV field: quoted (with "" escapes, optional spaces around) or unquoted.
_FIELD = r'(?: *"(?:[^"]|"")*" *|[^,"]*)'
_BAD_SCHEMA = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}


def _norm(header: str) -> str:
    return " ".join(header.strip().strip("\ufeff").strip().lower().split())


def _columns(first_line: str) -> tuple[list[str], dict[str, int]]:
    """Header cells and, per canonical column, the index of its first alias found."""
    cells = next(csv.reader([first_line.rstrip("\r")]), [])
    names = [_norm(c) for c in cells]
    found: dict[str, int] = {}
    for key, aliases in ALIASES.items():
        for i, name in enumerate(names):
            if name in aliases and key not in found and i not in found.values():
                found[key] = i
    return cells, found


def looks_like(first_lines: list[str]) -> bool:
    """True when the first line is a header with time, url and decision columns."""
    if not first_lines or "," not in first_lines[0]:
        return False
    _, found = _columns(first_lines[0])
    return {"time", "url", "decision"} <= found.keys()


def make_parser(first_line: str, tz: str, cfg=None) -> Parser:
    """A parser for files whose header is `first_line`; InputError if it lacks a
    required column (time, url, decision, and a user or client IP)."""
    cells, found = _columns(first_line)
    missing = [k for k in ("time", "url", "decision") if k not in found]
    if "user" not in found and "client_ip" not in found:
        missing.append("user or client ip")
    if missing:
        raise InputError(f"surfprotect header lacks required column(s): {', '.join(missing)}")
    try:
        ZoneInfo(tz)
    except Exception:
        raise InputError(f"unknown timezone: {tz}") from None
    return Parser(len(cells), found, tz, first_line.rstrip("\r"))


class Parser:
    """Turns batches of SurfProtect CSV lines into canonical rows and bad lines."""

    name = NAME
    header_lines = 1

    def __init__(self, n_fields: int, found: dict[str, int], tz: str, header: str = ""):
        self.tz = tz
        self.header = header
        self.keys = [k for k, _ in sorted(found.items(), key=lambda kv: kv[1])]
        self.found, self.n_fields = found, n_fields
        self.layout = csv_scan.Layout(n_fields, found, DECISIONS)
        capture = set(found.values())
        fields = [f"({_FIELD})" if i in capture else _FIELD for i in range(n_fields)]
        self.pattern = "^" + ",".join(fields) + "$"

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows and bad lines of `lines`, or of `raw` (the same lines as bytes: the
        reader's batch buffer, read without a copy) when `lines` is None. The
        plain lines are read by the compiled scanner, the rest by `_general`."""
        raw = raw if raw is not None else tokens.Raw.of(lines.cast(pl.String))
        done, fast = self._fast(raw)
        if done.all():
            return conform(fast), pl.DataFrame(schema=_BAD_SCHEMA)
        rest = np.flatnonzero(~done)
        rows, bad = self._general(text.lines(raw, rest), rest, first_line_no)
        if len(rest) < len(done):
            rows = pl.concat([fast.select(rows.columns), rows]).sort("i")
        return conform(rows), bad

    def _fast(self, raw: tokens.Raw) -> tuple[np.ndarray, pl.DataFrame]:
        """The mask of the plain lines and their rows (with the line index `i`)."""
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

    def _general(self, lines: pl.Series, index: np.ndarray, first_line_no: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows (with the line index `i`) and bad lines of `lines`, which are the
        lines `index` of the batch: the definition of the format, for every line."""
        df = (
            pl.DataFrame({"i": pl.Series(index.astype(np.uint32)), "line": lines})
            .with_columns(pl.col("line").str.strip_chars_end("\r"))
            .filter(pl.col("line").is_null() | ((pl.col("line").str.strip_chars() != "") & (pl.col("line") != self.header)))
        )
        g = df.with_columns(pl.col("line").str.extract_groups(self.pattern).alias("g")).unnest("g")
        g = g.rename(dict(zip(g.columns[2:], self.keys))).with_columns(_unquote(pl.col(k)).alias(k) for k in self.keys)
        for key in ALIASES:
            if key not in self.keys:
                g = g.with_columns(pl.lit(None, pl.String).alias(key))
        blank = lambda c: (pl.col(c).str.len_bytes() == 0) | (pl.col(c) == "-")  # noqa: E731
        g = g.with_columns(
            _timestamps(g.get_column("time"), self.tz),
            pl.col("decision").str.to_lowercase().replace_strict(DECISIONS, default=None).alias("action"),
            pl.when(blank("user")).then(None).otherwise(pl.col("user")).alias("username"),
            pl.when(blank("client_ip")).then(None).otherwise(pl.col("client_ip")).alias("client_ip"),
        )
        g = with_host(g.lazy()).collect()
        g = g.with_columns(pl.coalesce(pl.col("username").str.to_lowercase(), pl.col("client_ip")).alias("user"))
        reason = (
            pl.when(pl.col("line").is_null()).then(pl.lit("invalid utf-8"))
            .when(pl.col("url").is_null() & pl.col("time").is_null()).then(pl.lit("wrong field count"))
            .when(pl.col("ts").is_null()).then(pl.lit("bad timestamp"))
            .when(~localtime.in_window(pl.col("ts"))).then(pl.lit(localtime.OUT_OF_RANGE))
            .when(pl.col("action").is_null()).then(pl.lit("unknown decision"))
            .when(pl.col("host").is_null()).then(pl.lit("bad url"))
            .when(pl.col("user").is_null()).then(pl.lit("no user"))
        )
        g = g.with_columns(reason.alias("reason"))
        bad = g.filter(pl.col("reason").is_not_null()).select(
            (pl.col("i").cast(pl.Int64) + first_line_no).alias("line_no"), "reason", "line"
        )
        rows = g.filter(pl.col("reason").is_null()).with_columns(
            pl.lit(None, pl.String).alias("method"),
            pl.lit(0).alias("status"),
            pl.lit(0).alias("bytes"),
            pl.lit(None, pl.Int64).alias("elapsed_ms"),
            pl.when(pl.col("category") == "").then(None).otherwise(pl.col("category")).alias("category"),
            pl.lit(NAME).alias("source"),
        )
        return rows.select("i", *(pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items())), bad.cast(_BAD_SCHEMA)


def _unquote(field: pl.Expr) -> pl.Expr:
    """CSV field value: trimmed, outer quotes removed and doubled quotes undone."""
    f = field.str.strip_chars()
    inner = f.str.slice(1, f.str.len_chars() - 2).str.replace_all('""', '"', literal=True)
    return pl.when(f.str.starts_with('"')).then(inner.str.strip_chars()).otherwise(f)


def _timestamps(text: pl.Series, tz: str) -> pl.Series:
    """`ts` (UTC) of the time text: ISO 8601 (exact with an offset, else local in
    `tz`) or a UK day-first date (local in `tz`); null where it is neither."""
    t = pl.col("time")
    part = pl.DataFrame({"time": text}).select(*localtime.iso(t), localtime.day_first(t).alias("uk"))
    part = part.with_columns(pl.coalesce("naive", "uk").alias("naive"))
    return localtime.to_utc(part, tz).get_column("ts").alias("ts")
