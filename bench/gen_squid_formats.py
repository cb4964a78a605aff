"""Deterministic benchmark inputs for squid as it is really configured.

`GENERATORS` maps a benchmark name to {"format", "config", "write"}: the
`--format` value, the surfaudit.toml text it needs ('' for none) and
`write(n, path)`, which writes n lines. Each starts from the native lines of
`bench/gen.py` (same users, hosts and action mix) and reshapes them with
vectorised polars string expressions:

- squid-extra-fields: the native line plus a quoted Referer and User-Agent and a
  vendor tag (a `logformat` that appends them, the usual real-world case);
- squid-syslog: the native line inside an rsyslog RFC 3164 envelope
  (`Nov 30 09:17:01 proxy squid[1234]: ...`);
- squid-syslog-5424: inside an RFC 5424 header as pfSense/OPNsense send it;
- squid-combined: squid's built-in `combined` format;
- squid-custom-logformat: a custom logformat with the fields in another order.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen  # noqa: E402

_NATIVE = (r"^(\d+)\.(\d+) +(\d+) (\S+) (\S+)/(\d+) (\d+) (\S+) (\S+) (.+?) ([A-Z_]+/\S+) (\S+)$")
_NAMES = ["sec", "ms", "el", "ip", "tag", "status", "bytes", "method", "url", "user", "hier", "mime"]
UA = ('"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
      'Chrome/131.0.0.0 Safari/537.36"')
CUSTOM = ('%ts.%03tu %>a:%>p %[un %Ss/%03>Hs %<st %tr "%rm %ru HTTP/%rv" %Sh/%<a %mt '
          '"%{Referer}>h" "%{User-Agent}>h"')


def _reshape(n: int, path: Path, make) -> None:
    """Write n native lines reshaped by `make(fields) -> pl.Expr` (one output line)."""
    def chunks():
        for chunk in gen.squid_lines(n):
            lines = pl.Series("line", chunk.decode().rstrip("\n").split("\n"))
            f = lines.to_frame().select(pl.col("line").str.extract_groups(_NATIVE)
                                        .struct.rename_fields(_NAMES)).unnest("line")
            yield (f.select(make(pl.col).str.join("\n")).item() + "\n").encode()
    gen.write(chunks(), path)


def _line(c) -> pl.Expr:
    return pl.concat_str(c("sec"), pl.lit("."), c("ms"), pl.lit(" "), c("el").str.pad_start(6, " "), pl.lit(" "),
                         c("ip"), pl.lit(" "), c("tag"), pl.lit("/"), c("status"), pl.lit(" "), c("bytes"),
                         pl.lit(" "), c("method"), pl.lit(" "), c("url"), pl.lit(" "), c("user"), pl.lit(" "),
                         c("hier"), pl.lit(" "), c("mime"))


def _extra(c) -> pl.Expr:
    ref = pl.when(c("method") == "CONNECT").then(pl.lit('"-"')).otherwise(pl.lit('"https://www.google.com/"'))
    return pl.concat_str(_line(c), pl.lit(" "), ref, pl.lit(" " + UA + " cat=General"))


def _stamp(c, fmt: str) -> pl.Expr:
    return ((c("sec").cast(pl.Int64) * 1000 + c("ms").cast(pl.Int64)) * 1000).cast(pl.Datetime("us", "UTC")) \
        .dt.strftime(fmt)


def _syslog(c) -> pl.Expr:
    return pl.concat_str(_stamp(c, "%b %e %H:%M:%S"), pl.lit(" proxy squid[1234]: "), _line(c))


def _syslog5424(c) -> pl.Expr:
    return pl.concat_str(pl.lit("<134>1 "), _stamp(c, "%Y-%m-%dT%H:%M:%S%.6f+00:00"),
                         pl.lit(" fw.school.lan (squid-1) 81234 - - "), _line(c))


def _combined(c) -> pl.Expr:
    user = pl.when(c("user") == "-").then(pl.lit("-")).otherwise(c("user").str.replace_all(" ", "%20"))
    hier = c("hier").str.extract(r"^([A-Z_]+)/", 1)
    return pl.concat_str(c("ip"), pl.lit(" - "), user, pl.lit(" ["), _stamp(c, "%d/%b/%Y:%H:%M:%S +0000"),
                         pl.lit('] "'), c("method"), pl.lit(" "), c("url"), pl.lit(' HTTP/1.1" '), c("status"),
                         pl.lit(" "), c("bytes"), pl.lit(' "-" ' + UA + " "), c("tag"), pl.lit(":"), hier)


def _custom(c) -> pl.Expr:
    return pl.concat_str(c("sec"), pl.lit("."), c("ms"), pl.lit(" "), c("ip"), pl.lit(":51234 "), c("user"),
                         pl.lit(" "), c("tag"), pl.lit("/"), c("status"), pl.lit(" "), c("bytes"), pl.lit(" "),
                         c("el"), pl.lit(' "'), c("method"), pl.lit(" "), c("url"), pl.lit(' HTTP/1.1" '),
                         c("hier"), pl.lit(" "), c("mime"), pl.lit(' "-" ' + UA))


def _custom_user(c) -> pl.Expr:  # the custom format's user field is squid-escaped: no spaces
    return _custom(lambda name: c(name).str.replace_all(" ", "%20") if name == "user" else c(name))


GENERATORS: dict[str, dict] = {
    "squid-extra-fields": {"format": "squid", "config": "", "write": lambda n, p: _reshape(n, p, _extra)},
    "squid-syslog": {"format": "squid", "config": "", "write": lambda n, p: _reshape(n, p, _syslog)},
    "squid-syslog-5424": {"format": "squid", "config": "", "write": lambda n, p: _reshape(n, p, _syslog5424)},
    "squid-combined": {"format": "squid", "config": "[formats.squid]\nlogformat = \"combined\"\n",
                       "write": lambda n, p: _reshape(n, p, _combined)},
    "squid-custom-logformat": {"format": "squid", "config": f"[formats.squid]\nlogformat = '{CUSTOM}'\n",
                               "write": lambda n, p: _reshape(n, p, _custom_user)},
}
