"""Syslog envelopes around log lines (DESIGN §4): recognised and stripped, for every format.

What: a proxy's access log often reaches the disk through syslog, each line
behind a header. Recognised headers (all in printable ASCII):

- RFC 3164 / BSD: ``[<PRI>]Mmm dd [YYYY ]hh:mm:ss HOST [TAG[PID]:] MSG`` (the day
  space- or zero-padded; the year as syslog-ng's and Cisco's ``Nov 19 2026
  09:17:01`` has it), as syslogd, rsyslog's default file format and pfSense
  write it (``Nov 30 09:17:01 fw (squid-1)[1234]: ...``);
- the same with an ISO 8601 timestamp, as rsyslog's ``RSYSLOG_FileFormat``
  writes it (``2026-11-30T09:17:01.123456+00:00 proxy squid[1234]: ...``);
- RFC 5424: ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`` with ``-`` for nil
  values and structured data ``[id k="v" ...]...`` (OPNsense's log files:
  ``<134>1 2026-11-30T09:17:01+00:00 fw.lan (squid-1) 1234 - [meta sequenceId="7"] ...``),
  a UTF-8 BOM before MSG tolerated; APP is the tag;
- Kiwi Syslog's tab-separated log file: ``DATE TIME<TAB>Facility.Level<TAB>HOST<TAB>MSG``
  (the date ``YYYY-MM-DD``, or ``MM-DD-YYYY`` / ``DD-MM-YYYY`` as its other date
  settings write it), MSG maybe starting with the sender's own BSD or ISO header
  and host, then the optional TAG.

The TAG is optional: after the host, a token ending in ``:`` is the tag, anything
else starts the message (no supported log line starts with such a token).
`strip_line` and `present` serve detection; `Enveloped(parser)` wraps any
format's parser so that each batch is parsed without its envelopes. A line
without a recognised envelope (or with nothing after it) is passed through
whole, so the inner parser judges it; bad lines are reported with their full
original text. A bad line whose tag names another program than the format's
(`PROGRAMS`: a firewall forwarding its whole syslog, pfSense's ``filterlog``,
``dhcpd``, ``sshd``, ``kernel`` ... between squid's lines) is no line of this log:
it is left out of the bad lines, so ingest counts it as ignored. A line that
parses is a row whatever its tag says (rsyslog's imfile tags are the
technician's choice). Syslog's repeated-message lines ("message repeated 3 times:
[ ...]") are expanded into the rows they stand for (`ingest.repeats`).

Why like this: syslog-wrapped squid must still parse at over a million lines a
second, so the envelope is found by one compiled pass over the batch bytes
(`ingest.fast.envelope_scan`; without the compiled scanners `parts`,
the same rules in Python, line by line), and the wrapped parser gets the same
bytes with each line's start advanced past its envelope: no line is copied. The envelope is ASCII
(but for a BOM), so its byte length gives its length in characters, which lets
the String column of the stripped lines (needed only by the parsers' slow
paths) be cut from the original column, and the tags of the bad lines be cut
from their text.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from ingest import fast, repeats, tokens

# The envelope's pieces (bytes; see the module docstring), for the reference path.
_PRI = re.compile(rb"<[0-9]{1,3}>")
_ISO = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}(?::[0-9]{2}|[0-9]{2}))(?= )")
_BSD = re.compile(rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9][0-9] (?:[0-9]{4} )?[0-9]{2}:[0-9]{2}:[0-9]{2}(?= )")
LEVELS = ("emerg", "emergency", "alert", "crit", "critical", "err", "error", "warning", "warn", "notice", "info",
          "debug")  # Kiwi's `Facility.Level` levels (any case)
_KIWI = re.compile(rb"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}-[0-9]{2}-[0-9]{4}) [0-9]{2}:[0-9]{2}:[0-9]{2}\t"
                   rb"[A-Za-z][A-Za-z0-9]*\.(?i:" + "|".join(LEVELS).encode() + rb")\t[!-~]+\t")
_TOKEN = re.compile(rb"[!-~]+(?= |\Z)")
_SD = re.compile(rb'(?:\[(?:"(?:\\.|[^"\\])*"|[^"\]])*\])+(?= |\Z)')
_BOM = b"\xef\xbb\xbf"
NONE = (0, -1, -1)  # parts() of a line without an envelope

# The programs whose lines each format reads (a tag's program: `squid` of
# `(squid-1)[123]:`, lower-cased); a format not named here (a vendor's CSV) has
# no known program, so no line of it is another program's. FortiOS writes no tag.
PROGRAMS: dict[str, tuple[str, ...]] = {"squid": ("squid",), "e2guardian": ("e2guardian", "dansguardian"),
                                        "squidguard": ("squidguard",), "fortigate": ()}


def _end(pattern: re.Pattern, line: bytes, p: int) -> int:
    """End of `pattern` matched at p, or -1."""
    m = pattern.match(line, p)
    return m.end() if m else -1


def _message(line: bytes, p: int, ts: int, te: int) -> tuple[int, int, int]:
    return (p, ts, te) if line[p:].strip(b" ") else NONE


def _host_tag(line: bytes, p: int, e: int) -> tuple[int, int, int]:
    """After a BSD or ISO timestamp ending before p: spaces, HOST, then the optional TAG."""
    while p < e and line[p] == 32:
        p += 1
    q = _end(_TOKEN, line, p)  # HOST
    if q < 0 or q + 1 >= e:
        return NONE
    return _tag(line, q + 1, e)


def _tag(line: bytes, p: int, e: int) -> tuple[int, int, int]:
    """The message at p, past the optional `TAG[PID]:` token there."""
    q = _end(_TOKEN, line, p)
    if q > 0 and line[q - 1] == 58 and q - p <= 64 and q + 1 < e:
        return _message(line, q + 1, p, q)
    return _message(line, p, -1, -1)


def parts(line: bytes) -> tuple[int, int, int]:
    """(where the message starts, where the tag starts, where it ends) in `line`:
    (0, -1, -1) when it has no envelope (or nothing but spaces after one), the tag
    (-1, -1) when there is none. The rules of the module docstring, one line at a
    time (the compiled pass `ingest.fast.envelope_scan` is the same)."""
    line = line.rstrip(b"\r")
    e = len(line)
    p = _end(_PRI, line, 0)
    pri = p > 0
    p = max(p, 0)
    if line.startswith(b"<") and not pri:
        return NONE
    if pri and p + 1 < e and line[p] in b"123456789" and line[p + 1] == 32:  # RFC 5424, version 1..9
        p += 2
        if p >= e:
            return NONE
        q = (p + 1 if line[p + 1 : p + 2] == b" " else -1) if line[p] == 45 else _end(_ISO, line, p)
        if q < 0:
            return NONE
        p = q + 1
        ts = te = -1
        for k in range(4):  # HOSTNAME APP-NAME PROCID MSGID, each followed by a space
            q = _end(_TOKEN, line, p)
            if q < 0 or q >= e:
                return NONE
            if k == 1 and line[p:q] != b"-":
                ts, te = p, q
            p = q + 1
        if p >= e:
            return NONE
        q = p + 1 if line[p] == 45 else _end(_SD, line, p)  # structured data: `-` or [elements]
        if q < 0 or q + 1 >= e:
            return NONE
        p = q + 1
        if line.startswith(_BOM, p):
            p += 3
        return _message(line, p, ts, te)
    if not pri:
        q = _end(_KIWI, line, 0)
        if q > 0:  # Kiwi: the sender's own header may follow
            r = _end(_ISO, line, q) if q < e and 48 <= line[q] <= 57 else _end(_BSD, line, q)
            got = _host_tag(line, r + 1, e) if r > 0 else NONE
            return got if got[0] else _tag(line, q, e)
    q = _end(_ISO, line, p) if p < e and 48 <= line[p] <= 57 else _end(_BSD, line, p)
    if q < 0:
        return NONE
    return _host_tag(line, q + 1, e)


def message_start(line: bytes) -> int:
    """Where the message of `line` starts: after its syslog envelope, or 0 when it
    has none (or nothing but spaces after one)."""
    return parts(line)[0]


def _scan(raw: tokens.Raw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per line of raw.data: where its message starts, where its tag starts and ends
    (-1 for none), compiled when it can be."""
    if fast.enabled():
        return fast.load("envelope_scan").envelopes(raw.data, raw.starts, raw.ends)
    data = raw.data
    got = [parts(data[s:e].tobytes()) for s, e in zip(raw.starts.tolist(), raw.ends.tolist())]
    out = np.array(got, dtype=np.int64).reshape(-1, 3)
    starts = raw.starts.astype(np.int64)
    tags = np.where(out[:, 1:] >= 0, out[:, 1:] + starts[:, None], -1)
    return starts + out[:, 0], tags[:, 0].copy(), tags[:, 1].copy()


def program(tag: pl.Expr) -> pl.Expr:
    """The program a tag names: `squid` of `(squid-1)[123]:` or `squid:` (lower-cased;
    `program_name` is the same for one tag)."""
    return (tag.str.to_lowercase().str.strip_suffix(":").str.replace(r"\[.*$", "").str.strip_chars("()")
            .str.replace(r"-[0-9]+$", ""))


def program_name(tag: str) -> str:
    """`program` of one tag, in Python."""
    name = re.sub(r"\[.*$", "", tag.lower().removesuffix(":")).strip("()")
    return re.sub(r"-[0-9]+$", "", name)


def foreign(tag: pl.Expr, programs: tuple[str, ...]) -> pl.Expr:
    """True where the tag names a program not among `programs`, nor one of their
    names with a suffix (`squid-access`, `squid_access`, `squid.access`); `is_foreign`
    is the same for one name."""
    name = program(tag)
    ours = pl.lit(False)
    for p in programs:
        ours = ours | (name == p) | name.str.starts_with(p + "-") | name.str.starts_with(p + "_") \
            | name.str.starts_with(p + ".")
    return (tag.str.len_bytes() > 0) & ~ours


def is_foreign(name: str, programs: tuple[str, ...]) -> bool:
    """`foreign` of one program name (`program_name`), in Python."""
    return bool(name) and not any(name == p or name.startswith((p + "-", p + "_", p + ".")) for p in programs)


def program_of(line: str) -> str | None:
    """The program named by the tag of `line`'s envelope (None: no envelope or no tag)."""
    raw = line.encode("utf-8", "surrogateescape")
    _, ts, te = parts(raw)
    return None if ts < 0 else program_name(raw[ts:te].decode("ascii", "replace"))


def ours(lines: list[str], name: str) -> list[str]:
    """The lines that may be the format `name`'s: all but those whose tag names another program."""
    programs = PROGRAMS.get(name)
    if programs is None:
        return lines
    return [ln for ln in lines if not is_foreign(program_of(ln) or "", programs)]


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
    """The same lines without their envelopes: the same bytes, starts advanced
    (`tags`: where each line's tag starts and ends in the bytes, -1 for none)."""
    starts, tag_s, tag_e = _scan(raw)
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
    out.tags = (tag_s, tag_e)
    return out


class Enveloped:
    """A parser that strips each line's syslog envelope, then delegates to `inner`;
    a bad line tagged by another program than `programs` (by default the format's,
    `PROGRAMS`) is left out (ingest counts it as ignored)."""

    def __init__(self, inner, programs: tuple[str, ...] | None = None):
        self.inner = inner
        self.name = inner.name
        self.header_lines = getattr(inner, "header_lines", 0)
        self.programs = programs if programs is not None else PROGRAMS.get(inner.name)

    extra_rows = 0  # of the last parse: rows beyond one per line (syslog's repeat lines)
    _carry: repeats.Carry | None = None  # the last line read, for a repeat line opening the next batch

    def parse(self, lines: pl.Series | None, first_line_no: int,
              raw: tokens.Raw | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        raw = raw if raw is not None else tokens.Raw.of(lines.cast(pl.String))
        bare = strip_raw(raw)
        carry = self._carry if self._carry is not None and self._carry.next_line_no == first_line_no else None
        reps = repeats.find(bare, carry)  # syslog's "message repeated N times" lines (ingest.repeats)
        self.extra_rows = 0
        rows, bad = self.inner.parse(None, first_line_no, bare if reps is None else repeats.blanked(bare, reps.index))
        if bad.height:  # the quarantine keeps the line as it was in the file
            idx = (bad.get_column("line_no") - first_line_no).to_numpy()
            bad = bad.with_columns(raw.lines_at(idx).alias("line"))
            if self.programs is not None:
                bad = self._own(bad, idx, raw, bare.tags)
        if reps is not None:
            more, rejected, self.extra_rows = repeats.expand(
                lambda texts, no: self.inner.parse(texts, no), reps, first_line_no, raw)
            if rejected.height and self.programs is not None:  # another program's repeated line
                at = np.searchsorted(reps.index, (rejected.get_column("line_no") - first_line_no).to_numpy())
                tagged = reps.tagged[at]
                tags = raw.lines_at(np.maximum(tagged, 0)).to_list()
                tags = [carry.line if k < 0 and carry is not None else t for k, t in zip(tagged.tolist(), tags)]
                rejected = rejected.filter(pl.Series([not is_foreign(program_of(t or "") or "", self.programs)
                                                      for t in tags]))
            rows = pl.concat([rows, more.select(rows.columns).cast(rows.schema)]) if more.height else rows
            bad = pl.concat([bad, rejected.select(bad.columns).cast(bad.schema)]).sort("line_no") \
                if rejected.height else bad
        after = repeats.carry_of(bare, raw, reps, first_line_no, carry)
        if after is not None and (self._carry is None or after.next_line_no >= self._carry.next_line_no):
            self._carry = after  # (a re-parse of part of a batch, to find a line, never goes back)
        return rows, bad

    def resume_after(self, line: str, line_no: int) -> None:
        """Resuming a file after its line `line_no` (`line`, as in the file): a syslogd
        `last message repeated` line that opens the rest repeats that one."""
        message = strip_line(line.rstrip("\r"))
        m = repeats.mark(message)
        if m is not None:  # itself a repeat line: its message, if it names one
            inner = m.group(3)
            message = inner.decode("utf-8", "surrogateescape").lstrip(" ") if inner is not None and not m.group(1) else ""
        data = message.encode("utf-8", "surrogateescape") if message.strip() else None
        self._carry = repeats.Carry(line_no + 1, data, line)

    def _own(self, bad: pl.DataFrame, idx: np.ndarray, raw: tokens.Raw, tags) -> pl.DataFrame:
        """`bad` without the lines another program's tag marks as not this log's."""
        ts, te = tags[0][idx], tags[1][idx]
        if (ts < 0).all():
            return bad
        # The envelope is ASCII, so the tag's byte offsets are its character offsets
        # in the line's text (a line shown as U+FFFD gives no tag: it stays bad).
        same = bad.get_column("line").str.len_bytes().fill_null(-1).to_numpy() == (raw.ends[idx] - raw.starts[idx])
        at = np.where((ts >= 0) & same, ts - raw.starts[idx], 0)
        n = np.where((ts >= 0) & same, te - ts, 0)
        tag = pl.col("line").str.slice(pl.Series(at), pl.Series(n))
        return bad.filter(~foreign(tag, self.programs))
