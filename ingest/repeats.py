"""Syslog's repeated-message lines read as the requests they stand for.

What: with repeated-message reduction on (rsyslog's `$RepeatedMsgReduction on`, in
Ubuntu's default rsyslog.conf; BSD syslogd always), N identical lines in a row are
written once and then as one line: rsyslog's ``message repeated N times: [ MSG]``
(behind the program's tag; rsyslog cuts MSG at 800 characters) or syslogd's
``last message repeated N times`` (no tag, no message: the line before it).

Why: a squidGuard or e2guardian line has second resolution, so a page retrying a
blocked address repeats it. Rejected, every nightly run exited 1 and the N requests
were lost; ignored, they would be lost in silence. So such a line gives N rows of
the message it names, and counts as the N lines it stands for. A message that does
not parse (a cut one) is rejected like any line; a `last message repeated` line
whose line was read by an earlier run is read back from a plain file
(`Enveloped.resume_after`), and rejected, saying so, when it cannot be (the start of a
file, a compressed one resumed); across the batches of one run its line is carried
over (`Carry`). Found by the first 8 bytes of each message: a batch without them costs
nothing more than a gather of one word per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ingest import tokens
from ingest.badlines import SCHEMA

_STARTS = np.array([int.from_bytes(w, "little") for w in (b"message ", b"last mes", b"--- last")], dtype=np.uint64)
_MARK = re.compile(rb"(?:--- )?(last )?message repeated ([0-9]{1,12}) times?(?: ---)?(?:: \[(.*)\])?", re.S)
MOST = 100_000  # repeats a line may stand for (rsyslog flushes within seconds; a bigger one would flood memory)
NOTHING = "syslog repeat line that names no message (or repeats one that names none)"
NO_PREVIOUS = ("syslog 'last message repeated' line: the line it repeats cannot be read (it is the "
               "file's first line, or opens the unread part of a compressed file)")


def _candidates(bare: tokens.Raw) -> np.ndarray:
    """The lines whose message starts with the first 8 bytes of a repeat line: one
    gather of a word per line (a few ms for a million lines), no scan of the text."""
    if len(bare.data) < 9 or not len(bare.starts):
        return np.zeros(0, dtype=np.int64)
    long = (bare.ends - bare.starts) >= 8
    at = np.minimum(bare.starts, len(bare.w8) - 1)
    word = bare.w8[at]
    return np.flatnonzero(long & ((word == _STARTS[0]) | (word == _STARTS[1]) | (word == _STARTS[2])))


def mark(message: str) -> re.Match | None:
    """The repeat line's match (groups: 'last ', N, the message) of a line's message."""
    return _MARK.fullmatch(message.rstrip("\r").encode("utf-8", "surrogateescape"))


def is_repeat(message: str) -> bool:
    """True when a line's message (its envelope stripped) is a repeat line: detection
    judges a feed by the lines around it."""
    return mark(message) is not None


@dataclass
class Repeats:
    """The batch's repeat lines: their indices, counts and the message each repeats."""

    index: np.ndarray  # line indices in the batch
    counts: np.ndarray  # how many requests each stands for
    messages: list[bytes | None]  # None: nothing to repeat (NO_PREVIOUS)
    tagged: np.ndarray  # the line whose syslog tag applies (syslogd's line has none: its line's; -1 the Carry's)
    why: list[str]  # for a message None: why the line is rejected


@dataclass
class Carry:
    """The last line of the batch before: what a `last message repeated` line that
    opens the next batch repeats (its message, and the whole line, for its tag)."""

    next_line_no: int  # the line number the next batch starts at
    message: bytes | None
    line: str


def carry_of(bare: tokens.Raw, raw: tokens.Raw, reps: Repeats | None, first_line_no: int,
             before: Carry | None) -> Carry | None:
    """The Carry after this batch (None for an empty one)."""
    n = len(bare.starts)
    if n == 0:
        return before
    last = n - 1
    if reps is not None and len(reps.index) and reps.index[-1] == last:
        message, tagged = reps.messages[-1], int(reps.tagged[-1])
        line = before.line if tagged < 0 and before is not None else raw.lines_at(np.array([max(tagged, 0)]))[0]
    else:
        message = bare.data[bare.starts[last]:bare.ends[last]].tobytes().rstrip(b"\r")
        line = raw.lines_at(np.array([last]))[0]
    return Carry(first_line_no + n, message, line or "")


def find(bare: tokens.Raw, before: Carry | None = None) -> Repeats | None:
    """The repeat lines of a batch whose envelopes are stripped (`bare`), or None;
    `before`: the last line of the batch before it (a `last message repeated` line
    opening this batch repeats that one; `tagged` is then -1)."""
    lines = _candidates(bare)
    if not len(lines):
        return None
    index, counts, messages, tagged, why = [], [], [], [], []
    own: dict[int, bytes | None] = {}  # a repeat line's message (None: it names none)
    tag_of: dict[int, int] = {}
    for i in lines.tolist():
        m = _MARK.fullmatch(bare.data[bare.starts[i]:bare.ends[i]].tobytes().rstrip(b"\r"))
        if m is None:
            continue
        tag_of[i], reason = i, None
        message: bytes | None
        if m.group(1) or m.group(3) is None:  # syslogd's: the line before (blank lines passed over)
            k = i - 1
            while k >= 0 and k not in own and not bare.data[bare.starts[k]:bare.ends[k]].tobytes().strip():
                k -= 1
            if k < 0:  # the line before is the last batch's
                tag_of[i] = -1 if before is not None else i
                message, reason = (before.message, None) if before is not None else (None, NO_PREVIOUS)
            elif k in own:  # a repeat line: its message
                tag_of[i], message = tag_of[k], own[k]
                reason = None if message is not None else NOTHING
            else:
                tag_of[i] = k
                message = bare.data[bare.starts[k]:bare.ends[k]].tobytes().rstrip(b"\r")
        else:
            message = m.group(3).lstrip(b" ")
        if message is not None and not message.strip():
            message, reason = None, NOTHING
        count = int(m.group(2))
        if message is not None and not 1 <= count <= MOST:  # 0 was never written; a huge one is a flood
            message, reason = None, f"syslog repeat line of {count:,} messages (1 to {MOST:,} are read)"
        if message is not None:
            try:
                message.decode("utf-8")
            except UnicodeDecodeError:
                message, reason = None, "invalid utf-8"
        own[i] = message
        index.append(i)
        counts.append(count)
        messages.append(message)
        tagged.append(tag_of[i])
        why.append(reason or NO_PREVIOUS)
    if not index:
        return None
    return Repeats(np.array(index, dtype=np.int64), np.array(counts, dtype=np.int64), messages,
                   np.array(tagged, dtype=np.int64), why)


def blanked(bare: tokens.Raw, index: np.ndarray) -> tokens.Raw:
    """`bare` with lines `index` empty (a parser skips them as blank lines)."""
    out = tokens.Raw.__new__(tokens.Raw)
    out.source, out.data, out.w8 = bare.source, bare.data, bare.w8
    out.starts, out.ends = bare.starts.copy(), bare.ends
    out.starts[index] = bare.ends[index]
    out._lines = lambda: bare.lines().cast(pl.String).scatter(index, "")
    out.tags = getattr(bare, "tags", None)
    return out


def expand(parse, reps: Repeats, first_line_no: int, raw: tokens.Raw) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(rows, bad lines, extra) of the repeat lines: each message parsed once and its
    row taken `count` times; a message that is rejected rejects its repeat line (with
    the line as the file has it); `extra` is the rows beyond one per line."""
    have = [k for k, m in enumerate(reps.messages) if m is not None]
    texts = pl.Series("line", [reps.messages[k].decode("utf-8", "replace") for k in have], dtype=pl.String)
    rows, bad = parse(texts, 0)
    bad_k = set(bad.get_column("line_no").to_list()) if bad.height else set()
    good = [k for j, k in enumerate(have) if j not in bad_k]
    if rows.height != len(good):  # a parser that did not give one row per good line: one at a time
        parts, good = [], []
        for j, k in enumerate(have):
            r, _ = parse(texts.slice(j, 1), 0)
            if r.height == 1:
                parts.append(r)
                good.append(k)
        rows = pl.concat(parts) if parts else rows.clear()
        good_set = set(good)
        bad_k = {j for j, k in enumerate(have) if k not in good_set}
        reasons = dict(zip(bad.get_column("line_no").to_list(), bad.get_column("reason").to_list())) \
            if bad.height else {}
        bad = pl.DataFrame({"line_no": sorted(bad_k), "reason": [reasons.get(j, "not a line of this format")
                                                                  for j in sorted(bad_k)]})
    counts = reps.counts[good] if good else np.zeros(0, dtype=np.int64)
    rows = rows.select(pl.all().gather(np.repeat(np.arange(rows.height), counts))) if rows.height else rows
    # the rejected: a message that did not parse, and a repeat with nothing to repeat
    where = [have[j] for j in bad.get_column("line_no").to_list()] if bad.height else []
    why = bad.get_column("reason").to_list() if bad.height else []
    missing = [k for k, m in enumerate(reps.messages) if m is None]
    where, why = where + missing, why + [reps.why[k] for k in missing]
    at = reps.index[np.array(where, dtype=np.int64)] if where else np.zeros(0, dtype=np.int64)
    rejected = pl.DataFrame({"line_no": pl.Series(at + first_line_no, dtype=pl.Int64),
                             "reason": pl.Series(why, dtype=pl.String),
                             "line": raw.lines_at(at).str.strip_chars_end("\r") if len(at) else
                             pl.Series([], dtype=pl.String)}).cast(SCHEMA).sort("line_no")
    return rows, rejected, int(counts.sum()) - len(good)


def line_before(path: Path, offset: int, max_line: int) -> str | None:
    """The line of a plain file that ends at `offset` (None if it cannot be read)."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, offset - max_line - 2))
            data = f.read(offset - max(0, offset - max_line - 2))
    except OSError:
        return None
    if not data.endswith(b"\n"):
        return None
    return data[:-1].rsplit(b"\n", 1)[-1].decode("utf-8", "surrogateescape")  # bad bytes kept: the repeat is rejected as they are
