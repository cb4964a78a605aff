"""Syslog envelopes around log lines (DESIGN §4): recognised and stripped, for every format.

What: a proxy's access log often reaches the disk through syslog, each line
behind a header. Recognised headers (all in printable ASCII):

- RFC 3164 / BSD: ``[<PRI>]Mmm dd hh:mm:ss HOST [TAG[PID]:] MSG`` (the day
  space- or zero-padded), as syslogd, rsyslog's default file format and
  pfSense write it (``Nov 30 09:17:01 fw (squid-1)[1234]: ...``);
- the same with an ISO 8601 timestamp, as rsyslog's ``RSYSLOG_FileFormat``
  writes it (``2026-11-30T09:17:01.123456+00:00 proxy squid[1234]: ...``);
- RFC 5424: ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`` with ``-`` for nil
  values and structured data ``[id k="v" ...]...`` (OPNsense's log files:
  ``<134>1 2026-11-30T09:17:01+00:00 fw.lan (squid-1) 1234 - [meta sequenceId="7"] ...``),
  a UTF-8 BOM before MSG tolerated.

The TAG is optional: after the host, a token ending in ``:`` is the tag, anything
else starts the message (no supported log line starts with such a token).
`strip_line` and `present` serve detection; `Enveloped(parser)` wraps any
format's parser so that each batch is parsed without its envelopes. A line
without a recognised envelope (or with nothing after it) is passed through
whole, so the inner parser judges it; bad lines are reported with their full
original text.

Why like this: syslog-wrapped squid must still parse at over a million lines a
second, so the envelope is found by one compiled pass over the batch bytes
(`ingest.fast.envelope_scan`; without the compiled scanners `message_start`,
the same rules in Python, line by line), and the wrapped parser gets the same
bytes with each line's start advanced past its envelope: no line is copied. The envelope is ASCII
(but for a BOM), so its byte length gives its length in characters, which lets
the String column of the stripped lines (needed only by the parsers' slow
paths) be cut from the original column.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from ingest import fast, tokens

# The envelope's pieces (bytes; see the module docstring), for the reference path.
_PRI = re.compile(rb"<[0-9]{1,3}>")
_ISO = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}(?::[0-9]{2}|[0-9]{2}))(?= )")
_BSD = re.compile(rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}(?= )")
_TOKEN = re.compile(rb"[!-~]+(?= |\Z)")
_SD = re.compile(rb'(?:\[(?:"(?:\\.|[^"\\])*"|[^"\]])*\])+(?= |\Z)')
_BOM = b"\xef\xbb\xbf"


def _end(pattern: re.Pattern, line: bytes, p: int) -> int:
    """End of `pattern` matched at p, or -1."""
    m = pattern.match(line, p)
    return m.end() if m else -1


def message_start(line: bytes) -> int:
    """Where the message of `line` starts: after its syslog envelope, or 0 when it
    has none (or nothing but spaces after one). The rules of the module docstring,
    one line at a time (the compiled pass `ingest.fast.envelope_scan` is the same)."""
    line = line.rstrip(b"\r")
    e = len(line)
    p = _end(_PRI, line, 0)
    pri = p > 0
    p = max(p, 0)
    if line.startswith(b"<") and not pri:
        return 0
    if pri and p + 1 < e and line[p] in b"123456789" and line[p + 1] == 32:  # RFC 5424, version 1..9
        p += 2
        if p >= e:
            return 0
        q = (p + 1 if line[p + 1 : p + 2] == b" " else -1) if line[p] == 45 else _end(_ISO, line, p)
        if q < 0:
            return 0
        p = q + 1
        for _ in range(4):  # HOSTNAME APP-NAME PROCID MSGID, each followed by a space
            q = _end(_TOKEN, line, p)
            if q < 0 or q >= e:
                return 0
            p = q + 1
        if p >= e:
            return 0
        q = p + 1 if line[p] == 45 else _end(_SD, line, p)  # structured data: `-` or [elements]
        if q < 0 or q + 1 >= e:
            return 0
        p = q + 1
        if line.startswith(_BOM, p):
            p += 3
        return p if line[p:].strip(b" ") else 0
    q = _end(_ISO, line, p) if p < e and 48 <= line[p] <= 57 else _end(_BSD, line, p)
    if q < 0:
        return 0
    p = q + 1
    while p < e and line[p] == 32:
        p += 1
    q = _end(_TOKEN, line, p)  # HOST
    if q < 0 or q + 1 >= e:
        return 0
    p = q + 1
    q = _end(_TOKEN, line, p)  # TAG[PID]: (optional)
    if q > 0 and line[q - 1] == 58 and q - p <= 64 and q + 1 < e:
        p = q + 1
    return p if line[p:].strip(b" ") else 0


def _message_starts(raw: tokens.Raw) -> np.ndarray:
    """Where each line's message starts in raw.data (compiled when it can be)."""
    if fast.enabled():
        return fast.load("envelope_scan").message_starts(raw.data, raw.starts, raw.ends)
    data = raw.data
    return np.array([s + message_start(data[s:e].tobytes()) for s, e in zip(raw.starts.tolist(), raw.ends.tolist())],
                    dtype=np.int64).reshape(-1)


def strip_line(line: str) -> str:
    """`line` without its syslog envelope (unchanged when it has none)."""
    raw = line.encode("utf-8", "surrogateescape")
    at = message_start(raw)
    return raw[at:].decode("utf-8", "surrogateescape") if at else line


def present(first_lines: list[str]) -> bool:
    """True when most of the first non-blank lines carry a syslog envelope."""
    lines = [ln for ln in first_lines if ln.strip()][:20]
    return bool(lines) and sum(1 for ln in lines if strip_line(ln) != ln) * 2 > len(lines)


def strip_raw(raw: tokens.Raw) -> tokens.Raw:
    """The same lines without their envelopes: the same bytes, starts advanced."""
    starts = _message_starts(raw)
    out = tokens.Raw.__new__(tokens.Raw)
    out.source, out.data, out.w8 = raw.source, raw.data, raw.w8
    out.starts, out.ends = starts, raw.ends

    def lines() -> pl.Series:
        full = raw.lines().cast(pl.String)
        cut = starts - raw.starts
        at = np.maximum(starts - 3, 0)
        d = raw.data
        if len(d):  # a BOM skipped after an RFC 5424 header is 3 bytes but one character
            bom = (cut >= 3) & (d[at] == 0xEF) & (d[np.minimum(at + 1, len(d) - 1)] == 0xBB) \
                & (d[np.minimum(at + 2, len(d) - 1)] == 0xBF)
            cut = cut - 2 * bom
        # A line whose text is not its bytes (invalid UTF-8, shown as U+FFFD) is left whole.
        same = full.str.len_bytes().fill_null(-1).to_numpy() == (raw.ends - raw.starts)
        cut = pl.Series(np.where(same, cut, 0))
        return pl.DataFrame({"l": full, "c": cut}).select(pl.col("l").str.slice(pl.col("c"))).to_series().alias(
            full.name)

    out._lines = lines
    return out


class Enveloped:
    """A parser that strips each line's syslog envelope, then delegates to `inner`."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.header_lines = getattr(inner, "header_lines", 0)

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        raw = raw if raw is not None else tokens.Raw.of(lines.cast(pl.String))
        rows, bad = self.inner.parse(None, first_line_no, strip_raw(raw))
        if bad.height:  # the quarantine keeps the line as it was in the file
            idx = (bad.get_column("line_no") - first_line_no).to_numpy()
            bad = bad.with_columns(raw.lines_at(idx).alias("line"))
        return rows, bad
