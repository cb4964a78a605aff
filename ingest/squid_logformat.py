"""Squid's other log formats: the built-in `common`, `combined` and `referrer`, and any
custom `logformat` from squid.conf (`[formats.squid] logformat`, DESIGN §4, §5).

What: `compile_format(text, tz)` turns a logformat body (or a whole
`logformat NAME ...` line, or a built-in name) into a list of literals and
fields, and from it both a regular expression (a named group per field the
canonical schema needs; it defines the format) and a program for the compiled
matcher `ingest.fast.squid_logformat_scan`. The returned
`ingest.squid_logformat_parse.Parser` maps the fields to canonical rows:

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

Why: one code table and one list of fields give the regex, the compiled
program and the exact error for an unknown code; the compiled matcher takes the
plain lines at well over half a million lines a second (the regex alone reads
combined-format lines at about 0.3 M/s) and leaves every doubtful line to the
regex, so no line is decided by it alone. The `useragent`
built-in (`%>a [%tl] "%{User-Agent}>h"`) has no URL and is refused with a
config error: its lines are not requests that can be audited.
"""

from __future__ import annotations

import re

import numpy as np

from ingest import squid_logformat_parse as K
from ingest.squid_logformat_parse import Parser
from surfaudit.errors import ConfigError

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
_SPEC_RE = re.compile(r"%(?P<q>[\"\[#'/])?(?P<left>-)?(?P<zero>0)?(?P<width>[0-9]+)?(?:\.(?P<prec>[0-9]+))?"
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
            if code == "tu" and spec.group("prec") not in (None, "3"):  # squid: .6 = microseconds
                raise ConfigError(f"{KEY}: %tu with a precision (.{spec.group('prec')}: digits of the "
                                  "second other than milliseconds) is not read; log %03tu")
            if code == "tu" and (spec.group("width") or "").isdigit() and int(spec.group("width")) > 3:
                kind = (K.NUM, int(spec.group("width")), 0, 0)  # `%06tu`: milliseconds padded to six digits
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
            rows.append([K.LIT, len(lits), len(lits) + len(data), -1, 0, 0, 0, 0, 0, 0])
            lits += data
            continue
        if k + 1 < len(ops) and not isinstance(ops[k + 1], str):
            return None
        _, kind, name, pad_l, pad_r, _, arg = op
        num = list(kind[1:4]) if len(kind) == 4 else [0, 0, 0]
        value = 0  # the matcher also reads numbers, and times in squid's default shape
        if name and kind[0] == K.NUM:
            value = K.VALUE
        elif name and kind[0] == K.TIME and arg == _DEFAULT_TIME:
            value = K.CLF_TIME
        rows.append([kind[0], 0, 0, names.index(name) if name else -1, int(pad_l), int(pad_r), *num, value])
    return np.array(rows, dtype=np.int64).reshape(-1, 10), np.frombuffer(bytes(lits) + b"\0", dtype=np.uint8)


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
    return Parser(ops, names, tz, _regex(ops), _program(ops, names))


def validate(text: str) -> None:
    """Raise ConfigError if `text` is not a usable [formats.squid] logformat."""
    if resolve(text) != NATIVE:
        compile_format(text, "UTC")
