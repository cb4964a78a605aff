"""Parser for squid's native access.log format (DESIGN §4).

Line shape (logformat `squid`):
``%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt``, fields separated
by runs of spaces. A user name may contain spaces, so 7 fields are taken from the
left and the user runs up to the hierarchy field (the first later token shaped
`CODE/peer`: `HIER_NONE/-`, `DIRECT/1.2.3.4`, `FIRST_PARENT_MISS/p`, `NONE/-`),
which the MIME type follows; fields after the MIME type (a logformat appending
Referer, User-Agent or vendor tags) are ignored. A user token never opens a
quote. A line with no hierarchy-shaped field is read as before: its last two
fields are the hierarchy and the MIME type. A line of an ICP query (method
`ICP_QUERY`, result `UDP_*`: a neighbour cache asking, no one's request) is
not a request: counted apart, not stored. Squid's other built-in formats and
custom logformats (`[formats.squid] logformat`) are compiled by
`ingest.squid_logformat`; `make_parser` chooses.

Why it looks like this: ingest is benchmarked on millions of lines, so a batch is
never parsed with a Python loop per line. The format is defined by two regexes
(a strict one assuming a space-free user name, and one allowing spaces), but
running them over every line cost ~0.8 s per million lines. So `_fast` first
has the compiled scanner `ingest.fast.squid_scan` read the plain lines (one pass,
fields as string views into the batch buffer), accepting only lines whose fields
have exactly the shapes the regexes would capture; the rest (odd spacing, tabs,
non-ASCII, other timestamp shapes, ...) go through the regexes, and only lines
rejected by both are diagnosed (a reason per line, vectorised). Without the
compiled scanners (`ingest.fast`) every line takes the regex route, the
reference path; tests/test_parse_fast_paths.py checks that both routes give
the same rows.
Squid's log escaping of the user field (``\\\\`` and ``%XX``) is undone by the
scanner for names that stay plain ASCII, and by `unescape_user` over the
*distinct* other names, which are few.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import polars as pl

from ingest import fast, squid_logformat, tokens
from surfaudit.schema import EVENT_SCHEMA, conform

NAME = "squid"

# Field sub-patterns, shared by the parsing regexes and the diagnosis of bad lines.
_TS = r"[0-9]{9,10}(?:\.[0-9]{1,6})?"  # epoch seconds 1973..2286: a 12-digit one is a bad timestamp, not an overflow
_EL = r"-?[0-9]{1,12}"
_F = r"[^ ]+"
_STATUS = r"([^ /]+)/([0-9]{1,4})"
_BYTES = r"[0-9]{1,18}"
_HEAD = rf"^ *({_TS}) +({_EL}) +({_F}) +{_STATUS} +({_BYTES}) +({_F}) +({_F}) +"
# The hierarchy field (`HIER_DIRECT/1.2.3.4`, `DIRECT/...`, `FIRST_PARENT_MISS/...`,
# `NONE/-`): the user ends before the first token of this shape that is followed
# by the MIME type; anything after the MIME type (Referer, User-Agent, vendor
# tags) is ignored. A user token never opens a quote.
HIER = r"[A-Z][A-Z_]*/[^ ]*"
_UTOK = r'[^ "][^ ]*'
_USER = rf"{_UTOK}(?: +{_UTOK})*?"
# Fast: the user has no spaces (one-pass friendly). Slow: the user may have spaces.
FAST_RE = _HEAD + rf"({_UTOK}) +{HIER} +{_F}(?: .*)?$"
SLOW_RE = _HEAD + rf"({_USER}) +{HIER} +{_F}(?: .*)?$"
# A line without a hierarchy-shaped field: the last two fields are the hierarchy
# and the MIME type (as the server sent it: `text/html`, `unknown`, `-`, but never
# hierarchy-shaped: capitals and `_` alone before any `/`), before them the user,
# one token (no extra fields are possible then). So a line cut short
# (`... Mary Ann HIER_DIRECT/1.2.3.4` without its MIME type, `... Mary Ann HIER_DIR`)
# is rejected, not read as user "mary" with the hierarchy "Ann".
PLAIN_RE = _HEAD + rf'({_UTOK}) +[^ "][^ ]* +(?:-|[^ "/]*[^A-Z_ "/][^ ]*) *$'
_GROUPS = ("ts", "elapsed", "client", "tag", "status", "bytes", "method", "url", "user")

_SCHEME_RE = r"^[A-Za-z][A-Za-z0-9+._\-]*://"

_ESCAPE_RE = re.compile(rb"\\(.)|%([0-9A-Fa-f]{2})", re.DOTALL)
_BACKSLASH = {b"n": b"\n", b"r": b"\r", b"t": b"\t"}
_LINE_RES = (re.compile(SLOW_RE), re.compile(PLAIN_RE))


def with_host(frame: pl.LazyFrame, url: str = "url", out: str = "host") -> pl.LazyFrame:
    """Add column `out`: the lower-cased host of the URL in column `url` (with or
    without scheme, `host:port` for CONNECT), without userinfo, port, brackets or
    trailing dot; null when the URL carries no host (`error:...` pseudo-URLs,
    empty). Staged as separate columns so no step is computed twice, and built
    from capture-free regex replacements, which the regex engine runs with its
    DFA alone (several times cheaper than one capturing regex)."""
    u, h = pl.col(url), pl.col(out)
    return (
        frame.with_columns(u.str.replace(_SCHEME_RE, "").str.replace(r"[/?#].*", "").alias(out))
        .with_columns(pl.when(h.str.contains("@", literal=True)).then(h.str.replace(r"^.*@", "")).otherwise(h).alias(out))
        .with_columns(
            pl.when(h.str.starts_with("["))
            .then(h.str.extract(r"^\[([^\]]*)\]", 1))
            .when(h.str.count_matches(":", literal=True) == 1)
            .then(h.str.replace(r":[0-9]*$", ""))
            .otherwise(h)
            .str.to_lowercase()
            .str.strip_chars_end(".")
            .alias(out)
        )
        .with_columns(pl.when(u.str.starts_with("error:") | (h == "")).then(None).otherwise(h).alias(out))
    )


_SPECIAL = re.compile(rb"[/?#@\[:]")  # what ends a host (or makes it unusual)


def plain_host(url: bytes) -> tuple[int, int, int]:
    """(start, end, flags) of the host in `url` for the plain shapes (`host:port`,
    `http(s)://host[:port][/?#...]`), `tokens.NO_HOST` for `error:...` or an empty
    host, `tokens.SLOW_HOST` for every other shape (then `with_host` decides). The
    compiled scanners' rule (`ingest.fast.scan_util.host`), for the reference paths."""
    if url.startswith(b"error:"):
        return 0, 0, tokens.NO_HOST
    if url.startswith(b"https://"):
        start = 8
    elif url.startswith(b"http://"):
        start = 7
    elif b"://" in url:  # another scheme
        return 0, 0, tokens.SLOW_HOST
    else:
        start = 0
    found = _SPECIAL.search(url, start)
    end = found.start() if found else len(url)
    if found and url[end] in b"@[":  # userinfo, IPv6 brackets
        return start, start, tokens.SLOW_HOST
    if found and url[end] == 58:  # a port: up to 16 digits, then the end or / ? #
        after = _SPECIAL.search(url, end + 1)
        stop = after.start() if after else len(url)
        port = url[end + 1 : stop]
        if (stop < len(url) and url[stop] not in b"/?#") or (port and not (len(port) <= 16 and port.isdigit())):
            return start, start, tokens.SLOW_HOST
    while end > start and url[end - 1] == 46:  # trailing dots
        end -= 1
    return start, end, tokens.NO_HOST if end == start else 0


def unescape_user(raw: str) -> str:
    """Undo squid's log escaping: backslash escapes (`\\\\` -> `\\`) and `%XX` bytes,
    the bytes decoded as UTF-8 (undecodable bytes become U+FFFD)."""

    def repl(m: re.Match) -> bytes:
        if m.group(1) is not None:
            return _BACKSLASH.get(m.group(1), m.group(1))
        return bytes([int(m.group(2), 16)])

    return _ESCAPE_RE.sub(repl, raw.encode("utf-8")).decode("utf-8", "replace")


_compiled = functools.lru_cache(maxsize=16)(squid_logformat.compile_format)  # parsers keep no state


def _logformat(cfg) -> str:
    return getattr(getattr(cfg, "formats", None), "squid_logformat", "squid") if cfg is not None else "squid"


def _is_native(text: str) -> bool:
    """The native format, maybe with fields appended (which the native parser ignores)."""
    body = " ".join(squid_logformat.resolve(text).split())
    return body == squid_logformat.NATIVE or body.startswith(squid_logformat.NATIVE + " ")


def _native_match(line: str) -> bool:
    return any(r.match(line) for r in _LINE_RES)


def looks_like(first_lines: list[str], cfg=None) -> bool:
    """True when most of the first non-blank lines have the shape of the configured
    squid format (`[formats.squid] logformat`; the native one without `cfg`)."""
    lines = [ln.rstrip("\r") for ln in first_lines if ln.strip()][:10]
    if not lines:
        return False
    text = _logformat(cfg)
    match = _native_match if _is_native(text) else _compiled(text, "UTC").matches
    return sum(1 for ln in lines if match(ln)) * 2 > len(lines)


_EPOCH_RE = re.compile(r"^ *[0-9]{9,12}(?:\.[0-9]{1,6})? ")
_COMMON_RE = re.compile(r"^ *[^ ]+ [^ ]+ .*\[[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}\]")


def hint(first_lines: list[str], cfg=None) -> str | None:
    """When the lines look like squid's (an epoch timestamp first, or the common
    format's `[dd/Mon/yyyy:hh:mm:ss +zzzz]`) but not like the configured format,
    a short hint naming the setting to change; else None."""
    from ingest import envelope

    lines = [envelope.strip_line(ln.rstrip("\r")) for ln in first_lines if ln.strip()][:10]
    if not lines or looks_like(lines, cfg):
        return None
    half = len(lines) / 2
    for name in ("combined", "common", "squid", "referrer"):  # referrer's shape is the loosest
        match = _native_match if name == "squid" else _compiled(name, "UTC").matches
        if sum(1 for ln in lines if match(ln) and (name != "referrer" or len(ln.split()) == 4)) > half:
            kind = "native" if name == "squid" else name
            return f'looks like squid\'s {kind} format: set [formats.squid] logformat = "{name}"'
    if sum(1 for ln in lines if _EPOCH_RE.match(ln) or _COMMON_RE.match(ln)) > half:
        return ("looks like squid with a custom logformat: set [formats.squid] logformat "
                "to the logformat line of squid.conf")
    return None


def make_parser(first_line: str, tz: str, cfg=None):
    """The parser of the configured squid format (`[formats.squid] logformat`; the
    native one when `cfg` is None). Squid lines have no header: `first_line` is
    unused; `tz` is the local timezone of `%tl` times without an offset."""
    text = _logformat(cfg)
    if _is_native(text):
        return Parser()
    return _compiled(text, tz)


class Parser:
    """Turns batches of squid lines into canonical rows and bad lines."""

    name = NAME
    header_lines = 0

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows and bad lines of `lines`, or of `raw` (the same lines as bytes: the
        reader's batch buffer, read without a copy) when `lines` is None."""
        raw = raw if raw is not None else tokens.Raw.of(lines.cast(pl.String))
        if fast.enabled():
            done, taken = _fast(raw)
        else:  # the reference path: every line through the regexes
            done, taken = np.zeros(len(raw.starts), dtype=bool), _typed(pl.DataFrame(
                schema={"i": pl.UInt32, **EVENT_SCHEMA}))
        if done.all():
            return _neighbours_apart(taken, _bad_frame(None, first_line_no), raw, first_line_no)
        # The lines the tokenizer did not take (rare) go through the regexes, which
        # define the format: first assuming a user name without spaces, then not.
        rest = np.flatnonzero(~done)
        df = pl.DataFrame({"i": pl.Series(rest.astype(np.uint32)), "line": raw.lines_at(rest)})
        df = df.with_columns(pl.col("line").str.strip_chars_end("\r"))
        parsed = _extract(df, FAST_RE)
        miss = parsed.get_column("ts").is_null()
        ok = parsed.filter(~miss)
        rest = df.filter(miss).filter(pl.col("line").is_null() | (pl.col("line").str.strip_chars(" \t") != ""))
        slow = _extract(rest, SLOW_RE)
        slow_miss = slow.get_column("ts").is_null()
        rest = rest.filter(slow_miss)
        plain = _extract(rest, PLAIN_RE)
        plain_miss = plain.get_column("ts").is_null()
        good = pl.concat([ok, slow.filter(~slow_miss), plain.filter(~plain_miss)])
        rows = pl.concat([taken, _finish(good)]).sort("i") if good.height else taken
        return _neighbours_apart(rows, _bad_frame(rest.filter(plain_miss), first_line_no), raw, first_line_no)


NEIGHBOUR_QUERY = "not a request (an ICP query from a neighbour cache)"


def _neighbours_apart(rows: pl.DataFrame, bad: pl.DataFrame, raw: tokens.Raw,
                      first_line_no: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The canonical rows without squid's log lines of ICP queries (method
    `ICP_QUERY`, result `UDP_*`, status 000: a neighbour cache asking whether an
    object is cached, no one's web request), which join the bad lines with the
    reason NEIGHBOUR_QUERY, so ingest counts them apart as not requests."""
    icp = (rows.get_column("method") == "ICP_QUERY").fill_null(False)
    if not icp.any():
        return conform(rows), bad
    at = rows.get_column("i").filter(icp).to_numpy()
    apart = pl.DataFrame({"line_no": pl.Series(at.astype(np.int64) + first_line_no),
                          "reason": pl.Series([NEIGHBOUR_QUERY] * len(at), dtype=pl.String),
                          "line": raw.lines_at(at).str.strip_chars_end("\r")})
    return conform(rows.filter(~icp)), pl.concat([bad, apart.cast(bad.schema)]).sort("line_no")


def _fast(raw: tokens.Raw | pl.Series) -> tuple[np.ndarray, pl.DataFrame]:
    """The plain lines, tokenized by the compiled scanner (`ingest.fast.squid_scan`):
    printable ASCII, the timestamp as ten digits and three decimals, one run of
    at most 6 spaces after it (the padded elapsed field), single spaces between
    the other fields, a user name that may hold spaces but does not start or end
    with one, every field of the shape the regex wants. Returns the mask of the
    lines taken and their rows (line index `i` and the canonical columns, in line
    order). Escaped user names and unusual URLs are finished here with the exact
    polars code."""
    raw = raw if isinstance(raw, tokens.Raw) else tokens.Raw.of(raw)
    squid_scan = fast.load("squid_scan")
    got = tokens.Scanned(raw, squid_scan.scan(raw), squid_scan.OK)
    done, idx, flags, numbers, strings = got.done, got.idx, got.flags, got.numbers, got.strings

    action = numbers[:, squid_scan.ACTION].astype(np.uint8)
    frame = pl.DataFrame({
        "i": pl.Series(idx.astype(np.uint32)),
        "ts": pl.Series(numbers[:, squid_scan.TS_US]).cast(pl.Datetime("us", "UTC")),
        "user": strings(squid_scan.USER),
        "username": strings(squid_scan.USERNAME, squid_scan.NO_USER),
        "client_ip": strings(squid_scan.CLIENT),
        "method": strings(squid_scan.METHOD, squid_scan.NO_METHOD),
        "host": strings(squid_scan.HOST, squid_scan.NO_HOST),
        "url": strings(squid_scan.URL),
        "action": tokens.constants(["allowed", "blocked", "auth", "error"], action),
        "status": pl.Series(numbers[:, squid_scan.STATUS].astype(np.int32)),
        "bytes": pl.Series(numbers[:, squid_scan.BYTES]),
        "elapsed_ms": pl.Series(numbers[:, squid_scan.ELAPSED]),
        "category": pl.Series([None], dtype=pl.String).new_from_index(0, len(idx)),
        "source": tokens.repeated(NAME, len(idx)),
    })
    redo = np.flatnonzero(flags & squid_scan.ESCAPED)
    if len(redo):  # squid's log escaping undone on the distinct names
        names = frame.get_column("username").gather(redo)
        names = names.replace({u: unescape_user(u) for u in names.unique().to_list()})
        part = pl.DataFrame({"username": names, "client_ip": frame.get_column("client_ip").gather(redo)})
        frame = _scatter(frame, redo, part.select("username", _user_expr().alias("user")))
    slow = np.flatnonzero(flags & squid_scan.SLOW_HOST)
    if len(slow):
        part = with_host(pl.DataFrame({"url": frame.get_column("url").gather(slow)}).lazy()).select("host").collect()
        frame = _scatter(frame, slow, part)
    return done, _typed(frame)


def _user_expr() -> pl.Expr:
    """`user`: the user name trimmed and lower-cased, or the client IP when there is none."""
    user = pl.col("username").str.strip_chars().str.to_lowercase()
    return pl.when(user.is_null() | (user == "")).then(pl.col("client_ip")).otherwise(user)


def _scatter(frame: pl.DataFrame, rows: np.ndarray, part: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the columns of `part` replaced at positions `rows`."""
    cols = {}
    for name in part.columns:
        col = frame.get_column(name).clone()
        col.scatter(rows, part.get_column(name))
        cols[name] = col
    return frame.with_columns(**cols)


def _extract(df: pl.DataFrame, pattern: str) -> pl.DataFrame:
    """Row index plus the regex's string groups; the streaming engine spreads the
    regex over all cores, morsel by morsel."""
    out = df.lazy().select("i", pl.col("line").str.extract_groups(pattern).alias("g")).unnest("g")
    return out.collect(engine="streaming").rename(dict(zip(out.collect_schema().names()[1:], _GROUPS)))


def _finish(g: pl.DataFrame) -> pl.DataFrame:
    """Typed canonical rows from the captured string groups."""
    user = g.get_column("user")
    escaped = user.filter(user.str.contains(r"[%\\]")).unique()
    raw_user = pl.col("user")
    if escaped.len():
        mapping = {u: unescape_user(u) for u in escaped.to_list()}
        raw_user = raw_user.replace(mapping)
    username = pl.when(pl.col("user") == "-").then(None).otherwise(raw_user)
    ts_ms = (pl.col("ts").cast(pl.Float64) * 1000.0).round().cast(pl.Int64)
    status = pl.col("status").cast(pl.Int32)
    tag = pl.col("tag")
    url = pl.col("url")
    action = action_expr(tag, status, url)
    out = g.lazy().select(
        pl.col("i"),
        (ts_ms * 1000).cast(pl.Datetime("us", "UTC")).alias("ts"),
        username.alias("username"),
        pl.col("client").alias("client_ip"),
        pl.when(pl.col("method") == "-").then(None).otherwise(pl.col("method")).alias("method"),
        pl.lit(None, pl.String).alias("host"),
        url.alias("url"),
        action.alias("action"),
        status.alias("status"),
        pl.col("bytes").cast(pl.Int64).alias("bytes"),
        pl.col("elapsed").cast(pl.Int64).alias("elapsed_ms"),
        pl.lit(None, pl.String).alias("category"),
        pl.lit(NAME).alias("source"),
    ).pipe(with_host).with_columns(
        pl.when(pl.col("username").is_null())
        .then(None)
        .otherwise(pl.col("username").str.strip_chars().str.to_lowercase())
        .alias("user")
    ).with_columns(
        pl.when(pl.col("user").is_null() | (pl.col("user") == ""))
        .then(pl.col("client_ip"))
        .otherwise(pl.col("user"))
        .alias("user")
    )
    return _typed(out.collect(engine="streaming"))


def action_expr(tag: pl.Expr, status: pl.Expr, url: pl.Expr) -> pl.Expr:
    """DESIGN §3's action from squid's result tag, HTTP status and URL (the one
    definition; the compiled scanner's table in fast/squid_scan follows it, and
    tests/test_parse_fast_paths.py checks that they agree): 407 is auth; NONE,
    TAG_NONE and `error:` URLs are errors; a *_DENIED tag is blocked."""
    return (
        pl.when(status == 407).then(pl.lit("auth"))
        .when(tag.str.starts_with("NONE") | tag.str.starts_with("TAG_NONE") | url.str.starts_with("error:"))
        .then(pl.lit("error"))
        .when(tag.str.contains("_DENIED", literal=True)).then(pl.lit("blocked"))
        .otherwise(pl.lit("allowed"))
    )


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    """The line index `i` and the canonical columns, in order and typed."""
    return frame.select("i", *(pl.col(name).cast(dtype) for name, dtype in EVENT_SCHEMA.items()))


_DIAG_RE = r"^ *([^ ]*) *([^ ]*) *[^ ]* *([^ ]*) *([^ ]*)"


def _bad_frame(rest: pl.DataFrame | None, first_line_no: int) -> pl.DataFrame:
    """line_no / reason / line for the lines neither regex accepted."""
    schema = {"line_no": pl.Int64, "reason": pl.String, "line": pl.String}
    if rest is None or rest.height == 0:
        return pl.DataFrame(schema=schema)
    d = rest.with_columns(
        pl.col("line").str.extract_groups(_DIAG_RE).struct.rename_fields(["f0", "f1", "f3", "f4"]).alias("d"),
        pl.col("line").str.count_matches(r"[^ ]+").alias("n"),
    ).unnest("d")
    reason = (
        pl.when(pl.col("line").is_null()).then(pl.lit("invalid utf-8"))
        .when(pl.col("n") < 10).then(pl.lit("too few fields"))
        .when(~pl.col("f0").str.contains(rf"^{_TS}$")).then(pl.lit("bad timestamp"))
        .when(~pl.col("f1").str.contains(rf"^{_EL}$")).then(pl.lit("bad elapsed"))
        .when(~pl.col("f3").str.contains(rf"^{_STATUS}$")).then(pl.lit("bad status"))
        .when(~pl.col("f4").str.contains(rf"^{_BYTES}$")).then(pl.lit("bad bytes"))
        .otherwise(pl.lit("malformed line"))
    )
    return d.select(
        (pl.col("i").cast(pl.Int64) + first_line_no).alias("line_no"),
        reason.alias("reason"),
        pl.col("line"),
    )
