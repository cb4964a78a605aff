"""Rows from the lines of one compiled squid logformat (see `ingest.squid_logformat`).

What: `Parser` runs the compiled matcher (`ingest.fast.squid_logformat_scan`)
over a batch, sends the lines it does not take (all of them without the
compiled scanners) to the format's regex (polars `str.extract_groups`, which
defines the format), and maps the captured fields to
the canonical schema: time, user, client, method, URL and host, status, bytes,
elapsed time and the action by the native squid rules.

Why a module of its own: the compiler (codes, modifiers, regex, program) and the
mapping to rows are two concerns, and each stays small.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pyarrow as pa

from ingest import fast as compiled
from ingest import tokens
from surfaudit.schema import conform

# Kinds of the logformat's pieces (a literal, then the field shapes), as the
# compiler (`ingest.squid_logformat`) and the compiled matcher use them.
LIT, NUM, TOKEN, USER, TEXT, QUOTED, FLOAT, TIME = range(8)
VALUE, CLF_TIME = 1, 2  # program[:, 9]: the matcher reads the field's value (a number, a CLF time in µs)
_BAD_SCHEMA = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}


class Parser:
    """Canonical rows from lines of one logformat (see the module docstring)."""

    name = "squid"
    header_lines = 0

    def __init__(self, ops: list, names: list[str], tz: str, regex: str, program):
        self.ops, self.names, self.tz = ops, names, tz
        self.groups = set(names)
        self.regex = regex
        self.line_re = re.compile(self.regex)
        self.program = program
        self.url_quoted = any(not isinstance(op, str) and op[2] == "url" and op[1][0] == QUOTED for op in ops)
        self.times = {op[2]: op[6] for op in ops if not isinstance(op, str) and op[1][0] == TIME and op[2]}
        self.time_shapes = {op[2]: op[5] for op in ops if not isinstance(op, str) and op[1][0] == TIME and op[2]}
        # Fields the compiled matcher reads as numbers (NUM) or µs (squid's default time shape).
        self.valued = {} if program is None else {names[col]: int(v) for col, v in program[0][:, [3, 9]] if v}
        self.numeric = [op[2] for op in ops if not isinstance(op, str) and op[2] and op[1][0] == NUM]

    def matches(self, line: str) -> bool:
        return self.line_re.match(line.rstrip("\r")) is not None

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        raw = raw if raw is not None else tokens.Raw.of(lines.cast(pl.String))
        n = len(raw.starts)
        done = np.zeros(n, dtype=bool)
        parts = []
        if self.program is not None and n and compiled.enabled():
            done, fast = self._fast(raw)
            if fast.height:
                parts.append(fast)
        rest = np.flatnonzero(~done)
        misses = pl.DataFrame(schema={"i": pl.UInt32, "line": pl.String})
        if len(rest):
            df = pl.DataFrame({"i": pl.Series(rest.astype(np.uint32)), "line": _lines_at(raw, rest)})
            df = df.with_columns(pl.col("line").str.strip_chars_end("\r"))
            df = df.filter(pl.col("line").is_null() | (pl.col("line").str.strip_chars(" \t") != ""))
            g = df.lazy().with_columns(pl.col("line").str.extract_groups(self.regex).alias("g")).unnest("g") \
                .collect(engine="streaming")
            miss = g.get_column("url").is_null()  # every group is set (maybe empty) when the line matched
            misses = g.filter(miss).select("i", "line")
            g = g.filter(~miss).with_columns(pl.when(pl.col(k) == "-").then(None).otherwise(pl.col(k))
                                             .cast(pl.Int64, strict=False).alias(k) for k in self.numeric)
            parts.append(self._common(g.with_columns(pl.lit(None, pl.String).alias("host"),
                                                     pl.lit(True).alias("_slow")), fast=False))
        good = pl.concat(parts) if parts else self._common(pl.DataFrame(
            schema={"i": pl.UInt32, **{k: pl.Int64 if k in self.numeric else pl.String for k in self.names},
                    "host": pl.String, "_slow": pl.Boolean}), fast=False)
        rows, bad_ts = self._finish(good)
        reason = pl.when(pl.col("line").is_null()).then(pl.lit("invalid utf-8")) \
            .otherwise(pl.lit("does not match the logformat"))
        bad_parts = [misses.select("i", reason.alias("reason"), "line")]
        if bad_ts.height:
            bad_parts.append(bad_ts.with_columns(_lines_at(raw, bad_ts.get_column("i").to_numpy()).alias("line")))
        bad = pl.concat(bad_parts)
        bad = bad.sort("i").select((pl.col("i").cast(pl.Int64) + first_line_no).alias("line_no"), "reason", "line")
        return rows, bad.cast(_BAD_SCHEMA)

    def _fast(self, raw: tokens.Raw) -> tuple[np.ndarray, pl.DataFrame]:
        """The lines the compiled matcher took (mask) and their fields, as `_common` gives them."""
        scan = compiled.load("squid_logformat_scan")
        ok, hflags, views, numbers = scan.scan(raw, *self.program, len(self.names),
                                                               self.names.index("url"))
        done = ok.astype(bool)
        idx = np.flatnonzero(done)
        every = len(idx) == len(done)
        buffers = [raw.buffer()]
        hf = hflags if every else hflags[idx]
        cols = {}
        for k, name in enumerate(self.names):
            if name in self.valued:
                vals = numbers[:, k] if every else numbers[idx, k]
                cols[name] = pl.Series(pl.from_arrow(pa.array(vals, mask=vals == scan.NONE)))
            else:
                cols[name] = tokens.view_series(views[k] if every else views[k][idx], buffers)
        fast = pl.DataFrame({"i": pl.Series(idx.astype(np.uint32)), **cols,
                             "host": tokens.view_series(views[-1] if every else views[-1][idx], buffers,
                                                        (hf & tokens.NO_HOST) != 0),
                             "_slow": pl.Series(((hf & tokens.SLOW_HOST) != 0) | self.url_quoted)})
        shapes = {t: shape for t, shape in self.time_shapes.items() if t not in self.valued}
        if shapes:  # the time as the regex wants it, else the regex decides
            fit = fast.select(pl.all_horizontal(pl.col(t).str.contains(f"^(?:{shape})$")
                                                for t, shape in shapes.items())).to_series()
            if not fit.all():
                done[idx[~fit.to_numpy()]] = False
                fast = fast.filter(fit)
        return done, self._common(fast, fast=True)

    def _common(self, g: pl.DataFrame, fast: bool) -> pl.DataFrame:
        """The matched fields in the same columns from either route: `_ts` (UTC, null
        where unreadable) instead of the time fields, numbers as Int64 (null for `-`)."""
        keep = [k for k in self.names if k not in ("ts", "tu", "tS", "tl", "tg")]
        return g.select("i", *keep, "host", "_slow", self._ts(fast).alias("_ts"))

    def _finish(self, good: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Canonical rows (in line order) of the matched groups, and the lines whose time is unreadable."""
        from ingest.squid import NEIGHBOUR_QUERY, unescape_user, with_host

        if not good.get_column("i").is_sorted():  # lines from both routes
            good = good.sort("i")
        bad_ts = good.filter(pl.col("_ts").is_null()).select("i", pl.lit("bad timestamp").alias("reason"))
        if bad_ts.height:
            good = good.filter(pl.col("_ts").is_not_null())
        if "method" in good.columns:  # ICP queries of neighbour caches: counted apart (see ingest.squid)
            icp = (pl.col("method") == "ICP_QUERY").fill_null(False)
            queries = good.filter(icp).select("i", pl.lit(NEIGHBOUR_QUERY).alias("reason"))
            if queries.height:
                good = good.filter(~icp)
                bad_ts = pl.concat([bad_ts, queries]).sort("i")
        c, has = pl.col, self.groups.__contains__
        user_codes = [n for n in ("ul", "ue", "us", "ui") if has(n)]
        if has("un"):
            name = c("un")
        elif user_codes:
            name = pl.coalesce([pl.when(c(n) == "-").then(None).otherwise(c(n)) for n in user_codes])
        else:
            name = pl.lit(None, pl.String)
        name = pl.when((name == "-") | (name == "")).then(None).otherwise(name)
        good = good.with_columns(name.alias("username"))
        escaped = good.get_column("username").filter(good.get_column("username").str.contains(r'[%\\"]')).unique()
        if escaped.len():
            good = good.with_columns(c("username").replace(
                {u: unescape_user(u.replace('\\"', '"')) for u in escaped.to_list()}))

        def num(group: str, dtype, default):
            return c(group).fill_null(pl.lit(default, dtype)).cast(dtype) if has(group) else pl.lit(default, dtype)

        status = num("status", pl.Int32, 0)
        url = c("url").str.replace_all('\\"', '"', literal=True) if self.url_quoted else c("url")
        tag = c("tag") if has("tag") else pl.lit("", pl.String)
        from ingest.squid import action_expr  # the one definition of squid's actions

        action = action_expr(tag, status, url)
        method = c("method") if has("method") else pl.lit(None, pl.String)
        user = c("username").str.strip_chars().str.to_lowercase()
        out = good.lazy().select(
            c("_ts").alias("ts"),
            pl.when(user.is_null() | (user == "")).then(c("client")).otherwise(user).alias("user"),
            c("username"), c("client").alias("client_ip"),
            pl.when(method == "-").then(None).otherwise(method).alias("method"),
            c("host").str.to_lowercase(), url.alias("url"), action.alias("action"), status.alias("status"),
            num("bytes", pl.Int64, 0).alias("bytes"), num("elapsed", pl.Int64, None).alias("elapsed_ms"),
            pl.lit(None, pl.String).alias("category"), pl.lit("squid").alias("source"), c("_slow"),
        ).collect()
        slow = np.flatnonzero(out.get_column("_slow").to_numpy())
        if len(slow):  # hosts of the URLs the compiled matcher did not cut (and of the regex route)
            hosts = with_host(out.select("url").gather(slow).lazy()).collect().get_column("host")
            col = out.get_column("host").clone()
            col.scatter(slow, hosts)
            out = out.with_columns(col)
        return conform(out), bad_ts

    def _ts(self, fast: bool) -> pl.Expr:
        """The UTC timestamp of a matched line (null where unreadable)."""
        c = pl.col
        if "ts" in self.groups:
            us = c("ts") * 1_000_000
            if "tu" in self.groups:
                us = us + c("tu") * 1000
            return us.cast(pl.Datetime("us", "UTC"))
        if "tS" in self.groups:
            return ((c("tS").cast(pl.Float64) * 1000.0).round().cast(pl.Int64) * 1000).cast(pl.Datetime("us", "UTC"))
        name = "tg" if "tg" in self.groups else "tl"
        # `%{%Y-%m-%d %H:%M:%S}tl.%03tu`: the milliseconds are %tu's (the clock time has none)
        ms = pl.duration(milliseconds=c("tu").cast(pl.Int64)) if "tu" in self.groups else pl.duration(milliseconds=0)
        if fast and self.valued.get(name) == CLF_TIME:
            return c(name).cast(pl.Datetime("us", "UTC")) + ms
        fmt = self.times[name]
        parsed = c(name).str.replace_all(" +", " ").str.to_datetime(fmt, strict=False, time_unit="us")
        if "%z" in fmt:
            return parsed.dt.convert_time_zone("UTC") + ms
        zone = "UTC" if name == "tg" else self.tz
        return parsed.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC") + ms


def _lines_at(raw: tokens.Raw, index: np.ndarray) -> pl.Series:
    """Lines `index` of `raw` as a String column (decoded here if `raw` has no String column)."""
    if raw._lines is None:
        return pl.Series("line", [raw.data[raw.starts[i]:raw.ends[i]].tobytes().decode("utf-8", "replace")
                                  for i in index.tolist()], dtype=pl.String)
    return raw.lines_at(index).alias("line")
