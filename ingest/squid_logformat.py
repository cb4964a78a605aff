"""Squid's other log formats: the built-in `common`, `combined` and `referrer`, and any
custom `logformat` from squid.conf (`[formats.squid] logformat`, DESIGN §4, §5).

What: `compile_format(text, tz)` turns a logformat body (or a whole
`logformat NAME ...` line, or a built-in name) into one regular expression with
a named group per field the canonical schema needs, and returns a `Parser`
that runs it over a batch with polars (`str.extract_groups`, spread over the
cores by the streaming engine) and maps the groups to canonical rows:

- time: `%ts` (+ `%tu` milliseconds), else `%tS`, else `%tg` (UTC), else `%tl`
  (local: with `%z` in its strftime argument the offset is read, without it
  the time is in the configured timezone; a time in the skipped spring hour
  is rejected, in the repeated autumn hour the earlier one is taken);
- client `%>a` (else `%>A`), user `%un` (else the first of `%ul %ue %us %ui`
  that is not `-`), squid's log escaping (`\\\\`, `%XX`) undone;
- `%rm` method, `%ru` URL (host per DESIGN §3), `%>Hs` status (else `%Hs`, `%<Hs`;
  none: 0), `%<st` bytes (else `%st`; none: 0), `%tr` elapsed ms, `%Ss` the tag
  deciding the action as for native squid (status 407 auth; `NONE*`,
  `TAG_NONE*` or an `error:` URL error; `*_DENIED*` blocked; else allowed);
- every other known code is matched and ignored; an unknown code is a
  ConfigError naming it and the key.

Field shapes follow squid's output: width padding (`%6tr`, `%-10un`), zero fill
(`%03tu`), the quoting modifiers (`%"` quoted string, `%[` squid escaping, `%#`
URL encoding, `%'` raw), `%%`, `{arg}` before or after the code. Values that may
hold spaces (user names, headers) are matched lazily, so the fields after them
decide where they end; inside quotes they end at the closing quote.

Why: a regex compiled once per format and run vectorised keeps any logformat
above half a million lines a second without a per-line Python loop, and one
code table keeps the error for an unknown code exact. The `useragent`
built-in (`%>a [%tl] "%{User-Agent}>h"`) has no URL and is refused with a
config error: its lines are not requests that can be audited.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from ingest import squid_logformat_scan, tokens
from surfaudit.errors import ConfigError
from surfaudit.schema import EVENT_SCHEMA, conform

KEY = "[formats.squid].logformat"
BUILTIN = {
    "common": '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh',
    "combined": '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh',
    "referrer": "%ts.%03tu %>a %{Referer}>h %ru",
    "useragent": '%>a [%tl] "%{User-Agent}>h"',
}
NATIVE = "%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt"

_TOKEN = r"[^ ]+"
_TEXT = r".*?"
_USER = r"[^ ](?:.*?[^ ])??"
_QUOTED = r'(?:[^"\\]|\\.)*'
K = squid_logformat_scan
# Known codes: (kind, most digits, minus allowed, `-` allowed) for numbers, else (kind,).
_SPECS = {
    "ts": (K.NUM, 12, 0, 0), "tu": (K.NUM, 3, 0, 0), "tS": (K.FLOAT, 12, 0, 0), "tr": (K.NUM, 12, 1, 1),
    **{c: (K.NUM, 4, 0, 1) for c in (">Hs", "Hs", "<Hs")},
    **{c: (K.NUM, 18, 0, 1) for c in ("<st", "st")},
    **{c: (K.NUM, 99, 1, 1) for c in ("tt", "dt", "busy_time", "<pt", "<tt", ">p", "<p", "lp", ">lp", "<lp", ">st",
                                       ">sh", "<sh", "sh", "<bs", ">bs", "sn", "master_xaction")},
    **{c: (K.TOKEN,) for c in (">a", ">A", "<a", "<A", "la", ">la", "<la", "Ss", "Sh", "rm", ">rm", "<rm", "ru", ">ru",
                               "<ru", "rp", ">rp", "<rp", "rs", ">rs", "<rs", "rd", ">rd", "<rd", "rP", ">rP", "<rP",
                               "rv", ">rv", "<rv", "mt", "err_code", ">eui", ">qos", "<qos", ">nfmark", "<nfmark",
                               "et")},
    **{c: (K.USER,) for c in ("un", "ul", "ui", "ue", "us")},
    **{c: (K.TEXT,) for c in (">h", "<h", ">ha", "<ha", "note", "err_detail", "ea", "credentials", ">handshake")},
}
_CODE_RE = re.compile("|".join(re.escape(c) for c in sorted(_SPECS, key=len, reverse=True))
                      + r"|tl|tg|(?:ssl|tls|icap|adapt|proxy_protocol|transport)::[<>]?[A-Za-z_>]+")
_SPEC_RE = re.compile(r"%(?P<q>[\"\[#'/])?(?P<left>-)?(?P<zero>0)?(?P<width>[0-9]+)?(?:\.[0-9]+)?"
                      r"(?:\{(?P<arg>[^}]*)\})?")
# Columns and the codes that fill them, first present wins.
_WANT = {"ts": ["ts"], "tu": ["tu"], "tS": ["tS"], "tg": ["tg"], "tl": ["tl"], "client": [">a", ">A"],
         "un": ["un"], "ul": ["ul"], "ue": ["ue"], "us": ["us"], "ui": ["ui"], "method": ["rm", ">rm", "<rm"],
         "url": ["ru", ">ru", "<ru"], "status": [">Hs", "Hs", "<Hs"], "bytes": ["<st", "st"], "elapsed": ["tr"],
         "tag": ["Ss"]}
_GROUP = {code: name for name, codes in _WANT.items() for code in codes}
_STRFTIME = {"d": "[0-9]{2}", "e": " ?[0-9]{1,2}", "m": "[0-9]{2}", "y": "[0-9]{2}", "Y": "[0-9]{4}",
             "H": "[0-9]{2}", "I": "[0-9]{2}", "M": "[0-9]{2}", "S": "[0-9]{2}", "j": "[0-9]{3}", "b": "[A-Za-z]{3}",
             "h": "[A-Za-z]{3}", "a": "[A-Za-z]{3}", "B": "[A-Za-z]+", "A": "[A-Za-z]+", "p": "[AaPp][Mm]",
             "z": "[+-][0-9]{4}", "Z": "[A-Za-z]+", "s": "[0-9]{1,12}", "F": "[0-9]{4}-[0-9]{2}-[0-9]{2}",
             "T": "[0-9]{2}:[0-9]{2}:[0-9]{2}", "D": "[0-9]{2}/[0-9]{2}/[0-9]{2}", "R": "[0-9]{2}:[0-9]{2}",
             "%": "%"}
_DEFAULT_TIME = "%d/%b/%Y:%H:%M:%S %z"


def resolve(text: str) -> str:
    """The logformat body of `text`: a built-in name, a body, or a whole squid.conf line."""
    text = text.strip()
    m = re.match(r"^logformat\s+(\S+)\s*(.*)$", text)
    if m:
        text = m.group(2).strip() or m.group(1)
    return BUILTIN.get(text.lower(), NATIVE if text.lower() == "squid" else text)


def _time_regex(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            out.append(_STRFTIME.get(fmt[i + 1], ".+?"))
            i += 2
        else:
            out.append(" +" if c == " " else re.escape(c))
            i += 1
    return "".join(out)


def compile_ops(body: str) -> list:
    """The literals and fields of a logformat body; ConfigError naming an unknown code."""
    i, n = 0, len(body)
    pieces: list = []  # literal strings and (code, spec match)
    lit = []
    while i < n:
        c = body[i]
        if c != "%":
            lit.append(c)
            i += 1
            continue
        if body.startswith("%%", i):
            lit.append("%")
            i += 2
            continue
        spec = _SPEC_RE.match(body, i)
        j = spec.end()
        code = _CODE_RE.match(body, j)
        if not code:
            bad = re.match(r"[<>]?[A-Za-z_:]*", body[j:]).group(0) or body[j:j + 1]
            raise ConfigError(f"{KEY}: unknown % code {'%' + bad!r} in the logformat"
                              if bad else f"{KEY}: a lone '%' at the end of the logformat")
        j = code.end()
        arg = spec.group("arg")
        if body.startswith("{", j):
            close = body.find("}", j)
            if close < 0:
                raise ConfigError(f"{KEY}: unterminated '{{' after %{code.group(0)}")
            arg, j = body[j + 1:close], close + 1
        pieces.append("".join(lit))
        lit = []
        pieces.append((code.group(0), spec, arg))
        i = j
    pieces.append("".join(lit))
    return _ops(pieces)


def _shape(spec: tuple) -> str:
    kind = spec[0]
    if kind == K.NUM:
        digits = "+" if spec[1] >= 99 else f"{{1,{spec[1]}}}"
        return ("-?" if spec[2] else "") + f"[0-9]{digits}" + ("|-" if spec[3] else "")
    if kind == K.FLOAT:
        return r"[0-9]{1,12}(?:\.[0-9]{1,6})?"
    return {K.TOKEN: _TOKEN, K.USER: _USER, K.TEXT: _TEXT, K.QUOTED: _QUOTED}[kind]


def _ops(pieces: list) -> list:
    """Literal strings and fields (code, spec, group or None, pad left, pad right, regex
    shape), with quotes of the `%"` modifier folded into the literals around."""
    ops, used = [], set()

    def literal(text: str) -> None:
        if text:
            if ops and isinstance(ops[-1], str):
                ops[-1] += text
            else:
                ops.append(text)

    for k, piece in enumerate(pieces):
        if isinstance(piece, str):
            literal(piece)
            continue
        code, spec, arg = piece
        before, after = pieces[k - 1], pieces[k + 1] if k + 1 < len(pieces) else ""
        q = spec.group("q")
        if code in ("tl", "tg"):
            kind, shape = (K.TIME,), _time_regex(arg or _DEFAULT_TIME)
        else:
            kind = _SPECS.get(code, (K.TEXT,))
            if q == "#" and kind[0] in (K.USER, K.TEXT):
                kind = (K.TOKEN,)
            quoted = q == '"' or (isinstance(before, str) and before.endswith('"')
                              and isinstance(after, str) and after.startswith('"'))
            if quoted and kind[0] in (K.USER, K.TEXT, K.TOKEN):
                kind = (K.QUOTED,)
            shape = _shape(kind)
        name = code if code in ("tl", "tg") else _GROUP.get(code)
        if name in used:
            name = None
        if name:
            used.add(name)
        if q == '"':
            literal('"')
        width, left = spec.group("width"), spec.group("left")
        ops.append((code, kind, name, bool(width and not left), bool(width and left), shape, arg or _DEFAULT_TIME))
        if q == '"':
            literal('"')
    return ops


def _regex(ops: list) -> str:
    parts = ["^ *"]
    for op in ops:
        if isinstance(op, str):
            parts.append("".join(" +" if ch == " " else re.escape(ch) for ch in op))
        else:
            _, _, name, pad_l, pad_r, shape, _ = op
            group = f"(?P<{name}>{shape})" if name else f"(?:{shape})"
            parts.append((" *" if pad_l else "") + group + (" *" if pad_r else ""))
    parts.append(" *$")
    return "".join(parts)


def _program(ops: list, names: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """The compiled matcher's program (see `squid_logformat_scan`), or None when two
    fields touch (no literal between them: only the regex can split them)."""
    rows, lits = [], bytearray()
    for k, op in enumerate(ops):
        if isinstance(op, str):
            data = op.encode("ascii", "replace")
            rows.append([K.LIT, len(lits), len(lits) + len(data), -1, 0, 0, 0, 0, 0])
            lits += data
            continue
        if k + 1 < len(ops) and not isinstance(ops[k + 1], str):
            return None
        _, kind, name, pad_l, pad_r, _, _ = op
        num = list(kind[1:4]) if len(kind) == 4 else [0, 0, 0]
        rows.append([kind[0], 0, 0, names.index(name) if name else -1, int(pad_l), int(pad_r), *num])
    return np.array(rows, dtype=np.int64).reshape(-1, 9), np.frombuffer(bytes(lits) + b"\0", dtype=np.uint8)


def compile_format(text: str, tz: str) -> Parser:
    """The parser of logformat `text` (see `resolve`); ConfigError if it cannot give rows."""
    body = resolve(text)
    if text.strip().lower() == "useragent" or body == BUILTIN["useragent"]:
        raise ConfigError(f"{KEY}: squid's useragent log has no URL, so it holds no requests to audit; "
                          "point surfaudit at the access log")
    ops = compile_ops(body)
    names = [op[2] for op in ops if not isinstance(op, str) and op[2]]
    if not set(names) & {"ts", "tS", "tl", "tg"}:
        raise ConfigError(f"{KEY}: the logformat has no time (%ts, %tS, %tl or %tg)")
    if "url" not in names:
        raise ConfigError(f"{KEY}: the logformat has no URL (%ru)")
    if "client" not in names:
        raise ConfigError(f"{KEY}: the logformat has no client address (%>a)")
    return Parser(ops, names, tz)


def validate(text: str) -> None:
    """Raise ConfigError if `text` is not a usable [formats.squid] logformat."""
    if resolve(text) != NATIVE:
        compile_format(text, "UTC")


_BAD_SCHEMA = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}


class Parser:
    """Canonical rows from lines of one logformat (see the module docstring)."""

    name = "squid"
    header_lines = 0

    def __init__(self, ops: list, names: list[str], tz: str):
        self.ops, self.names, self.tz = ops, names, tz
        self.groups = set(names)
        self.regex = _regex(ops)
        self.line_re = re.compile(self.regex)
        self.program = _program(ops, names)
        self.url_quoted = any(not isinstance(op, str) and op[2] == "url" and op[1][0] == K.QUOTED for op in ops)
        self.times = {op[2]: op[6] for op in ops if not isinstance(op, str) and op[1][0] == K.TIME and op[2]}
        self.time_shapes = {op[2]: op[5] for op in ops if not isinstance(op, str) and op[1][0] == K.TIME and op[2]}

    def matches(self, line: str) -> bool:
        return self.line_re.match(line.rstrip("\r")) is not None

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        raw = raw if raw is not None else tokens.Raw.of(lines.cast(pl.String))
        n = len(raw.starts)
        done = np.zeros(n, dtype=bool)
        fast = None
        if self.program is not None and n:
            ok, hflags, views = squid_logformat_scan.scan(raw, *self.program, len(self.names),
                                                          self.names.index("url"))
            done = ok.astype(bool)
            idx = np.flatnonzero(done)
            buffers = [raw.buffer()]
            hf = hflags[idx]
            fast = pl.DataFrame({"i": pl.Series(idx.astype(np.uint32)),
                                 **{name: tokens.view_series(views[k][idx], buffers)
                                    for k, name in enumerate(self.names)},
                                 "host": tokens.view_series(views[-1][idx], buffers,
                                                            (hf & squid_logformat_scan.NO_HOST) != 0),
                                 "_slow": pl.Series(((hf & squid_logformat_scan.SLOW_HOST) != 0) | self.url_quoted)})
            if self.time_shapes:  # the time as the regex wants it, else the regex decides
                fit = fast.select(pl.all_horizontal(pl.col(t).str.contains(f"^(?:{shape})$")
                                                    for t, shape in self.time_shapes.items())).to_series()
                if not fit.all():
                    done[idx[~fit.to_numpy()]] = False
                    fast = fast.filter(fit)
        rest = np.flatnonzero(~done)
        parts = [fast] if fast is not None and fast.height else []
        misses = pl.DataFrame(schema={"i": pl.UInt32, "line": pl.String})
        if len(rest):
            df = pl.DataFrame({"i": pl.Series(rest.astype(np.uint32)), "line": _lines_at(raw, rest)})
            df = df.with_columns(pl.col("line").str.strip_chars_end("\r"))
            df = df.filter(pl.col("line").is_null() | (pl.col("line").str.strip_chars(" \t") != ""))
            g = df.lazy().with_columns(pl.col("line").str.extract_groups(self.regex).alias("g")).unnest("g") \
                .collect(engine="streaming")
            miss = g.get_column("url").is_null()  # every group is set (maybe empty) when the line matched
            misses = g.filter(miss).select("i", "line")
            parts.append(g.filter(~miss).select("i", *self.names, pl.lit(None, pl.String).alias("host"),
                                                pl.lit(True).alias("_slow")))
        good = pl.concat(parts) if parts else pl.DataFrame(schema={"i": pl.UInt32, **{k: pl.String for k in self.names},
                                                                   "host": pl.String, "_slow": pl.Boolean})
        rows, bad_ts = self._finish(good)
        reason = pl.when(pl.col("line").is_null()).then(pl.lit("invalid utf-8")) \
            .otherwise(pl.lit("does not match the logformat"))
        bad_parts = [misses.select("i", reason.alias("reason"), "line")]
        if bad_ts.height:
            bad_parts.append(bad_ts.with_columns(_lines_at(raw, bad_ts.get_column("i").to_numpy()).alias("line")))
        bad = pl.concat(bad_parts)
        bad = bad.sort("i").select((pl.col("i").cast(pl.Int64) + first_line_no).alias("line_no"), "reason", "line")
        return rows, bad.cast(_BAD_SCHEMA)

    def _finish(self, good: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Canonical rows (in line order) of the matched groups, and the lines whose time is unreadable."""
        from ingest.squid import unescape_user, with_host

        if not good.get_column("i").is_sorted():  # lines from both routes
            good = good.sort("i")
        good = good.with_columns(self._ts().alias("_ts"))
        bad_ts = good.filter(pl.col("_ts").is_null()).select("i", pl.lit("bad timestamp").alias("reason"))
        if bad_ts.height:
            good = good.filter(pl.col("_ts").is_not_null())
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
            if not has(group):
                return pl.lit(default, dtype)
            return pl.when(c(group) == "-").then(pl.lit(default, dtype)).otherwise(c(group).cast(dtype, strict=False))

        status = num("status", pl.Int32, 0)
        url = c("url").str.replace_all('\\"', '"', literal=True) if self.url_quoted else c("url")
        tag = c("tag") if has("tag") else pl.lit("", pl.String)
        action = (
            pl.when(status == 407).then(pl.lit("auth"))
            .when(tag.str.starts_with("NONE") | tag.str.starts_with("TAG_NONE") | url.str.starts_with("error:"))
            .then(pl.lit("error"))
            .when(tag.str.contains("_DENIED", literal=True)).then(pl.lit("blocked"))
            .otherwise(pl.lit("allowed"))
        )
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

    def _ts(self) -> pl.Expr:
        """The UTC timestamp of a matched line (null where unreadable)."""
        c = pl.col
        if "ts" in self.groups:
            us = c("ts").cast(pl.Int64) * 1_000_000
            if "tu" in self.groups:
                us = us + c("tu").cast(pl.Int64) * 1000
            return us.cast(pl.Datetime("us", "UTC"))
        if "tS" in self.groups:
            return ((c("tS").cast(pl.Float64) * 1000.0).round().cast(pl.Int64) * 1000).cast(pl.Datetime("us", "UTC"))
        name = "tg" if "tg" in self.groups else "tl"
        fmt = self.times[name]
        parsed = c(name).str.replace_all(" +", " ").str.to_datetime(fmt, strict=False, time_unit="us")
        if "%z" in fmt:
            return parsed.dt.convert_time_zone("UTC")
        zone = "UTC" if name == "tg" else self.tz
        return parsed.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")


def _lines_at(raw: tokens.Raw, index: np.ndarray) -> pl.Series:
    """Lines `index` of `raw` as a String column (decoded here if `raw` has no String column)."""
    if raw._lines is None:
        return pl.Series("line", [raw.data[raw.starts[i]:raw.ends[i]].tobytes().decode("utf-8", "replace")
                                  for i in index.tolist()], dtype=pl.String)
    return raw.lines_at(index).alias("line")
