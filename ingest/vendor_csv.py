"""Any vendor's CSV export as a format declared in the config (`[formats.NAME]`, DESIGN §4, §5).

What: `formats(cfg)` gives one format object per `surfaudit.config.CsvFormat`
(Smoothwall, Lightspeed, Netsweeper, Securly... exports, whose layouts are not
public), each with the format protocol of `ingest.detect`: `NAME`,
`looks_like(first_lines)` (the first non-blank line is a header holding the
configured time, url and decision headers, case and surrounding spaces
ignored) and `make_parser(first_line, tz)`; `get(cfg, name)` finds one by name.

How a line is read: the batch is decoded in the configured encoding
(`ingest.text`: cp1252, or UTF-8 with a cp1252 fallback per line), split into
fields by the compiled tokenizer `ingest.fast.vendor_scan` (quotes, `""`, the
delimiter, spaces around fields; without the compiled scanners by its Python
twin `ingest.csv_fields`), then every step is vectorised polars: the
time by the configured strptime pattern (translated to the chrono pattern
polars uses) or as ISO 8601, a time without an offset being local time in the
schedule's timezone (`ingest.localtime`, zoneinfo's fold=0); the decision by
the configured words (trimmed, case ignored); the host by the rules of
`ingest.squid.with_host`. The columns are found by header, so their order, extra
columns and a BOM do not matter; every configured column must be in the
header (a missing one is an InputError naming it, so a wrong export is refused
whole rather than read wrong). A line with fewer fields than the header, an
unclosed quote, a bad or out-of-range time, an unknown decision (named in the
reason), no host or no identity is a bad line with its reason; blank lines, rows
of empty fields (Excel writes them) and the header repeated are skipped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from ingest import fast, localtime, text, tokens
from ingest.squid import with_host
from surfaudit.config import CsvFormat
from surfaudit.errors import ConfigError, InputError
from surfaudit.schema import EVENT_SCHEMA, conform

# What the CSV tokenizer (`ingest.fast.vendor_scan`, or `ingest.csv_fields` without it)
# gives per line: flags, and the wanted fields in these columns.
OK = 1  # the line has the header's number of fields (extra empty fields allowed)
NO_USERNAME = 2  # no user column, or the user field is empty or "-"
NO_CLIENT = 4  # no client IP column, or the field is empty or "-"
NO_CATEGORY = 8  # no category column, or the field is empty
SKIP = 16  # a blank line (only spaces, tabs and delimiters) or the header again
BAD_QUOTE = 32  # a quoted field without its closing quote, or text after it
WIDE_USER = 64  # the user name has non-ASCII bytes: lower-cased by polars
SLOW = 128  # the URL's host needs `ingest.squid.with_host`

# Columns of `views`; `layout` gives, per field of the header, the column it fills (-1: none).
USERNAME, USER, CLIENT, URL, HOST, CATEGORY, TIME, DECISION = range(8)
N_VIEWS = 8
WIDTH = 2  # numbers: [fields found, decision code (0 unknown, 1 allowed, 2 blocked)]


class Layout:
    """What the kernel needs of a header: the column each field fills, the
    delimiter, the header line's bytes (to skip it when it comes again) and the
    decision words, lower-cased, with their codes (1 allowed, 2 blocked)."""

    def __init__(self, columns: list[int], delimiter: str, header: str, decisions: dict[str, str]):
        self.layout = np.array(columns, dtype=np.int64)
        self.delim = ord(delimiter)
        self.header = np.frombuffer(header.encode("utf-8") or b"\n", dtype=np.uint8)  # "\n": matches no line
        ascii_words = {w: a for w, a in decisions.items() if w.isascii()}
        table = tokens.Words({w: 1 if a == "allowed" else 2 for w, a in ascii_words.items()})
        self.words, self.offsets, self.codes = table.words, table.offsets, table.codes


_COLUMN = {"time": TIME, "url": URL, "decision": DECISION, "user": USERNAME,
           "client_ip": CLIENT, "category": CATEGORY}
_BAD_SCHEMA = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}
# strptime directives polars (chrono) reads the same way; `.%f` becomes `%.f`.
_SAME = set("aAbBhdmyYHIMSpjz%")


def chrono_format(pattern: str) -> str:
    """The polars (chrono) parsing pattern of a strptime pattern; ValueError naming
    a directive that has no equal (`%f` must follow a `.`)."""
    out, k = [], 0
    while k < len(pattern):
        ch = pattern[k]
        if ch != "%":
            out.append(ch)
            k += 1
            continue
        d = pattern[k + 1 : k + 2]
        if d == "f" and out and out[-1] == ".":
            out[-1] = "%.f"  # 1 to 9 digits after the dot
        elif d in _SAME and d:
            out.append("%" + d)
        else:
            raise ValueError(f"time_format {pattern!r}: %{d} is not supported (use %d %m %Y %y %b %B %H %I %M %S "
                             f"%p %j %z, and .%f for fractions)")
        k += 2
    return "".join(out)


def _norm(header: str) -> str:
    return " ".join(header.strip().strip("\ufeff").strip().lower().split())


# Excel's first line naming the delimiter ("sep=;"), in any case, padded by a re-save
# ("sep=;;;;") or quoted: the header is the line after it.
_SEP_LINE = re.compile(r'\ufeff?"?sep=\s*([^\w\s"]|\t)\1*"?\s*', re.IGNORECASE)


def excel_sep(line: str) -> str | None:
    """The delimiter an Excel `sep=` line names, or None when `line` is not one."""
    m = _SEP_LINE.fullmatch(line.rstrip("\r\n"))
    return m.group(1) if m else None


def without_sep_lines(bad: pl.DataFrame) -> pl.DataFrame:
    """Rejected lines less Excel `sep=` lines (exports joined with `cat`: blank, as the
    header again is)."""
    again = [excel_sep(line or "") is not None for line in bad.get_column("line").to_list()]
    return bad.filter(~pl.Series(again)) if any(again) else bad


def header_of(first_lines: list[str]) -> tuple[str | None, int]:
    """(the header line, the lines before and with it): the first non-blank line, or
    the one after an Excel `sep=` line."""
    for k, line in enumerate(first_lines):
        if not line.strip().strip("\ufeff").strip():
            continue
        if excel_sep(line) is not None:
            return (first_lines[k + 1] if k + 1 < len(first_lines) else None), k + 2
        return line, k + 1
    return None, 0


def _cells(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line.strip("\r\n").lstrip("\ufeff")], delimiter=delimiter), [])


class VendorCsv:
    """A `[formats.NAME]` CSV export as an input format (the protocol of `ingest.detect`)."""

    def __init__(self, spec: CsvFormat):
        self.spec = spec
        self.NAME = spec.name
        self.decisions = {**{v.strip().lower(): "allowed" for v in spec.allowed},
                          **{v.strip().lower(): "blocked" for v in spec.blocked}}
        self.wanted = {key: getattr(spec, key) for key in _COLUMN if getattr(spec, key)}

    def __repr__(self) -> str:
        return f"<vendor CSV format {self.NAME!r}>"

    def _found(self, header: str) -> tuple[list[str], dict[str, int]]:
        names = [_norm(c) for c in _cells(header, self.spec.delimiter)]
        found: dict[str, int] = {}
        for key, want in self.wanted.items():
            # The header reaches us decoded as UTF-8 with U+FFFD for what is not:
            # a cp1252 header spells `Catégorie` as `Cat\ufffdgorie`.
            as_cp1252 = want.encode("cp1252", "replace").decode("utf-8", "replace")
            for spelling in (_norm(want), _norm(as_cp1252)):
                if spelling in names and key not in found:
                    found[key] = names.index(spelling)
        return names, found

    def looks_like(self, first_lines: list[str]) -> bool:
        """True when the first non-blank line is a header with this format's time,
        url and decision headers."""
        first, _ = header_of(first_lines)
        if first is None:
            return False
        _, found = self._found(first)
        return {"time", "url", "decision"} <= found.keys()

    def make_parser(self, first_line: str, tz: str, cfg=None) -> Parser:
        """A parser for files whose header is `first_line`; InputError when the
        header lacks a configured column, or the format or timezone is unusable."""
        spec = self.spec
        if spec.user is None and spec.client_ip is None:
            raise InputError(f"[formats.{spec.name}]: set user or client_ip (each event needs an identity)")
        try:
            pattern = chrono_format(spec.time_format) if spec.time_format else None
        except ValueError as exc:
            raise InputError(f"[formats.{spec.name}].{exc}") from None
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            raise InputError(f"unknown timezone: {tz}") from None
        names, found = self._found(first_line)
        missing = [self.wanted[k] for k in self.wanted if k not in found]
        if missing:  # the first line may be a data row (names, URLs): say only how many cells it has
            raise InputError(f"format {spec.name!r}: the file's header has no column "
                             f"{', '.join(repr(m) for m in missing)} (its first line has {len(names)} cells)")
        twice = sorted({self.wanted[k] for k, j in found.items() if list(found.values()).count(j) > 1})
        if twice:
            raise InputError(f"[formats.{spec.name}]: {', '.join(map(repr, twice))} names two columns; "
                             f"give each its own header")
        columns = [-1] * len(names)
        for key, j in found.items():
            columns[j] = _COLUMN[key]
        header = first_line.strip("\r\n").lstrip("\ufeff")
        layout = Layout(columns, spec.delimiter, header, self.decisions)
        return Parser(self.NAME, layout, self.decisions, spec.encoding, time_reader(pattern, tz))


def time_reader(pattern: str | None, tz: str) -> Callable[[pl.Series], pl.Series]:
    """The function from time texts to UTC instants (null where unreadable) for a
    chrono `pattern` (None: ISO 8601); a time without an offset is local in `tz`."""
    t = pl.col("time")

    def read(time: pl.Series) -> pl.Series:
        frame = pl.DataFrame({"time": time})
        if pattern is None:
            part = localtime.iso_frame(time)
        elif "%z" in pattern:
            exact = t.str.replace(r"[Zz]$", "+0000").str.strptime(pl.Datetime("us"), pattern, strict=False)
            return frame.select(exact.dt.convert_time_zone("UTC").alias("ts")).get_column("ts")
        else:
            part = frame.select(t.str.strptime(pl.Datetime("us"), pattern, strict=False).alias("naive"),
                                pl.lit(None, pl.Int64).alias("offset_s"))
        return localtime.to_utc(part, tz).get_column("ts")

    return read


class Parser:
    """Turns batches of one CSV export into canonical rows and bad lines: the
    fields cut by `layout`, the decision words `decisions` (lower-case word ->
    allowed|blocked), the times read by `read_time` (texts -> UTC instants)."""

    header_lines = 1

    def __init__(self, name: str, layout: Layout, decisions: dict[str, str], encoding: str,
                 read_time: Callable[[pl.Series], pl.Series]):
        self.name, self.layout, self.decisions, self.encoding = name, layout, decisions, encoding
        self.read_time = read_time
        self.n_fields = len(layout.layout)

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows and bad lines of `lines` (text), or of `raw` (the batch's bytes,
        decoded here in the format's encoding) when `lines` is None."""
        raw = tokens.Raw.of(lines.cast(pl.String)) if raw is None else text.decoded(raw, self.encoding)
        rows, bad = self.read(raw, None, first_line_no, raw.lines_at)
        return conform(rows.drop("i")), bad

    def read(self, raw: tokens.Raw, index: np.ndarray | None, first_line_no: int,
             texts: Callable[[np.ndarray], pl.Series]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows (with `i`, the line's position in the batch) and bad lines of the
        decoded lines `raw`, which are lines `index` of the batch (None: all);
        `texts(k)` gives the text of raw's lines k (for the bad lines)."""
        if fast.enabled():
            result = fast.load("vendor_scan").scan(raw, self.layout)
            flags, fields, got = result[0], result[1][:, 0], tokens.Scanned(raw, result, OK)
        else:
            from ingest.csv_fields import split

            flags, numbers, columns = split(raw, self.layout)
            fields, got = numbers[:, 0], tokens.Listed(flags, numbers, columns, OK)
        rows = self._rows(got)
        ok_bad = rows.filter(pl.col("reason").is_not_null()).select("i", "reason")
        rows = rows.filter(pl.col("reason").is_null()).drop("reason")
        shape = np.flatnonzero((flags & (OK | SKIP)) == 0)
        bad = self._bad(shape, flags, fields, ok_bad, first_line_no, texts, index)
        if index is not None:
            rows = rows.with_columns(pl.Series("i", index[rows.get_column("i").to_numpy()].astype(np.uint32)))
        return rows, bad

    def _rows(self, got: tokens.Scanned | tokens.Listed) -> pl.DataFrame:
        """The lines with the header's fields, as canonical columns plus `i` and `reason`."""
        flags, numbers, strings, m = got.flags, got.numbers, got.strings, len(got.idx)
        none = lambda dtype: pl.Series([None], dtype=dtype).new_from_index(0, m)  # noqa: E731
        username = strings(USERNAME, NO_USERNAME)
        frame = pl.DataFrame({
            "i": pl.Series(got.idx.astype(np.uint32)),
            "time": strings(TIME),
            "decision": strings(DECISION),
            "user": strings(USER),
            "username": username,
            "client_ip": strings(CLIENT, NO_CLIENT),
            "host": strings(HOST, SLOW),
            "url": strings(URL),
            "action": tokens.constants([None, "allowed", "blocked"], numbers[:, 1].astype(np.uint8)),
            "category": strings(CATEGORY, NO_CATEGORY),
        })
        no_one = ((flags & NO_USERNAME) != 0) & ((flags & NO_CLIENT) != 0)
        wide = (flags & WIDE_USER) != 0
        fix = []
        if wide.any():  # non-ASCII names: Unicode lower case
            frame = frame.with_columns(pl.Series("wide", wide))
            fix.append(pl.when("wide").then(pl.col("username").str.to_lowercase()).otherwise(pl.col("user")).alias("user"))
        if no_one.any():
            frame = frame.with_columns(pl.Series("no_one", no_one))
            fix.append(pl.when("no_one").then(None).otherwise(pl.col("user")).alias("user"))
        if (numbers[:, 1] == 0).any():  # words the compiled pass cannot compare (non-ASCII)
            fix.append(pl.coalesce("action", pl.col("decision").str.to_lowercase()
                                   .replace_strict(self.decisions, default=None)).alias("action"))
        for f in fix:
            frame = frame.with_columns(f)
        slow = np.flatnonzero(flags & SLOW)
        if len(slow):
            hosts = with_host(pl.DataFrame({"url": frame.get_column("url").gather(slow)}).lazy()).collect()
            col = frame.get_column("host").clone()
            col.scatter(slow, hosts.get_column("host"))
            frame = frame.with_columns(col)
        frame = frame.with_columns(self.read_time(frame.get_column("time")).alias("ts"))
        reason = (
            pl.when(pl.col("ts").is_null()).then(pl.lit("bad timestamp"))
            .when(~localtime.in_window(pl.col("ts"))).then(pl.lit(localtime.OUT_OF_RANGE))
            .when(pl.col("action").is_null())
            .then(pl.format("unknown decision {}", pl.lit('"') + pl.col("decision").str.slice(0, 60) + pl.lit('"')))
            .when(pl.col("host").is_null()).then(pl.lit("bad url"))
            .when(pl.col("user").is_null()).then(pl.lit("no user"))
        )
        return frame.with_columns(
            reason.alias("reason"),
            none(pl.String).alias("method"),
            pl.Series([0], dtype=pl.Int32).new_from_index(0, m).alias("status"),
            pl.Series([0], dtype=pl.Int64).new_from_index(0, m).alias("bytes"),
            none(pl.Int64).alias("elapsed_ms"),
            tokens.repeated(self.name, m).alias("source"),
        ).select("i", "reason", *(pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()))

    def _bad(self, shape: np.ndarray, flags: np.ndarray, fields: np.ndarray, ok_bad: pl.DataFrame,
             first_line_no: int, texts: Callable[[np.ndarray], pl.Series], index: np.ndarray | None) -> pl.DataFrame:
        """Bad lines: those without the header's fields (`shape`, with the scanner's
        `flags` and field counts `fields` of every line) and the rows in `ok_bad`."""
        if not len(shape) and not ok_bad.height:
            return pl.DataFrame(schema=_BAD_SCHEMA)
        why = pl.DataFrame({"i": pl.Series(shape.astype(np.uint32)), "quote": (flags[shape] & BAD_QUOTE) != 0,
                            "n": fields[shape]}).select(
            "i", pl.when(pl.col("quote")).then(pl.lit("unclosed quote"))
            .otherwise(pl.format("wrong field count ({} of {})", pl.col("n"), pl.lit(self.n_fields))).alias("reason"))
        bad = pl.concat([why, ok_bad.cast({"i": pl.UInt32})]).sort("i")
        local = bad.get_column("i").to_numpy()
        at = local if index is None else index[local]
        return bad.select(
            pl.Series("line_no", at.astype(np.int64) + first_line_no), "reason",
            texts(local).str.strip_chars_end("\r").alias("line"),
        ).cast(_BAD_SCHEMA)


def check_time_formats(cfg) -> None:
    """ConfigError for a [formats.NAME] time_format that cannot be read (before any file)."""
    for spec in cfg.formats.csv:
        if spec.time_format is not None:
            try:
                chrono_format(spec.time_format)
            except ValueError as exc:
                where = f"{cfg.source}: " if cfg.source else ""
                raise ConfigError(f"{where}[formats.{spec.name}].time_format: {exc}") from None


def formats(cfg) -> list[VendorCsv]:
    """The vendor CSV formats declared in `cfg` ([formats.NAME]), in file order."""
    if cfg is None:
        return []
    return [VendorCsv(spec) for spec in cfg.formats.csv]


def get(cfg, name: str) -> VendorCsv | None:
    """The vendor CSV format called `name` in `cfg`, or None."""
    spec = cfg.formats.csv_named(name.strip().lower()) if cfg is not None else None
    return VendorCsv(spec) if spec is not None else None

