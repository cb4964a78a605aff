"""The manifest's integrity (and the audit log's): a hash chain over its records and a head file.

Part of the store package. `manifest.jsonl` is the store's truth, so damage to it
must be found, never absorbed:

* every record carries `seq` (1, 2, ...) and `prev`, a hash of the previous
  record's line: a record edited, removed or replaced by garbage in the middle
  breaks the chain at the next record, and the error names that line;
* `manifest.head` holds the `seq` and hash of the last committed line (written
  after the manifest line, atomically): a manifest cut short at a line boundary
  ends before the head's record. A crash between the two writes leaves the head
  one record behind, which is fine;
* an unreadable line whose neighbours still chain (a torn append: the crash came
  before the commit point) hid no record and is tolerated, as before (the lines
  are read by jsonl.py, like the audit log's).

Records written by an older version carry neither field: they are read as they
are ("unknown"), and the chain starts at the first record that has one.

The audit log (`audit.jsonl`, `audit.head`) is chained the same way, so an entry
removed or edited by hand is found by `verify`; its appends never refuse (an export
must be recorded even beside a damaged line), so they chain to the last line that
reads (`tail`) rather than check the whole log first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from surfaudit.store import jsonl


def line_hash(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()[:32]


def dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))


@dataclass
class Parsed:
    records: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line number of each record
    problems: list[str] = field(default_factory=list)  # one line each, naming the line
    texts: list[str] = field(default_factory=list)  # the line of each record
    last_line: str | None = None  # the text of the last record's line (what the next `prev` is)
    last_seq: int = 0
    chained: bool = False  # some record carries the chain (a store written by this version)
    forced_prev: str | None = None  # `tail`: chain the next record to this hash, not to last_line


def parse(text: str, head: dict | None, name: str = "manifest.jsonl") -> Parsed:
    """Records of the manifest (or audit log) text `name`, and every integrity problem found."""
    out = Parsed()
    unreadable: list[int] = []
    for entry in jsonl.lines(text):
        number, line, record = entry.number, entry.text, entry.value
        if not entry.readable:
            unreadable.append(number)
            continue
        if not isinstance(record, dict):
            out.problems.append(f"{name} line {number}: not {_kind(name)} record (damaged)")
            continue
        if "prev" in record or out.chained:
            expected = line_hash(out.last_line) if out.last_line is not None else ""
            if record.get("prev") != expected:
                where = f"line {unreadable[-1]} is unreadable and " if unreadable else ""
                out.problems.append(f"{name} line {number}: {where}this record does not follow the one before it "
                                    f"(a record was edited, removed or damaged)")
            out.chained = True
        unreadable = []
        seq = record.get("seq")
        if isinstance(seq, int):
            if seq <= out.last_seq:
                out.problems.append(f"{name} line {number}: sequence number {seq} repeats or goes back")
            out.last_seq = seq
        out.records.append(record)
        out.lines.append(number)
        out.texts.append(line)
        out.last_line = line
    _check_head(out, head, name)
    return out


def _kind(name: str) -> str:
    return "an audit" if name.rsplit("/", 1)[-1].startswith("audit") else "a manifest"


def _head_name(name: str) -> str:
    """manifest.jsonl -> manifest.head, audit.jsonl -> audit.head (the file's own head)."""
    return name.rsplit("/", 1)[-1].rsplit(".", 1)[0] + ".head"


def _check_head(out: Parsed, head: dict | None, name: str) -> None:
    """`head` may carry `or`: the head before a rewrite (retention), written with the new
    one before the rewritten manifest is renamed into place, so that a crash between
    the rename and the final head leaves a manifest that either head accepts."""
    if isinstance(head, dict) and isinstance(head.get("or"), dict):
        first, second = Parsed(), Parsed()
        for probe, candidate in ((first, {k: v for k, v in head.items() if k != "or"}), (second, head["or"])):
            probe.records, probe.lines, probe.texts = out.records, out.lines, out.texts
            probe.chained, probe.last_seq = out.chained, out.last_seq
            _check_one_head(probe, candidate, name)
        out.problems.extend(first.problems if first.problems and second.problems else [])
        return
    _check_one_head(out, head, name)


def _check_one_head(out: Parsed, head: dict | None, name: str) -> None:
    if head is None:
        if out.chained:
            out.problems.append(f"{name}: {_head_name(name)} is missing (cannot tell whether records were cut off)")
        return
    try:
        seq, digest = int(head["seq"]), str(head["hash"])
    except (KeyError, TypeError, ValueError):
        out.problems.append(f"{name}: {_head_name(name)} is damaged")
        return
    if seq == 0:
        return
    for record, number, text in zip(out.records, out.lines, out.texts):
        if record.get("seq") == seq:
            if line_hash(text) != digest:
                out.problems.append(f"{name} line {number}: this committed record was edited or damaged")
            return
    if out.last_seq < seq:
        out.problems.append(f"{name}: ends at record {out.last_seq} but {seq} records were committed "
                            f"(truncated or records removed)")
    else:
        out.problems.append(f"{name}: committed record {seq} is missing")


def chain(records: list[dict]) -> tuple[list[str], dict]:
    """Lines for `records` re-chained (a rewrite keeps each record's seq), and the head."""
    lines: list[str] = []
    previous, last_seq = None, 0
    for record in records:
        record = dict(record)
        seq = record.get("seq")
        record["seq"] = seq if isinstance(seq, int) and seq > last_seq else last_seq + 1
        last_seq = record["seq"]
        record["prev"] = line_hash(previous) if previous is not None else ""
        previous = dumps(record)
        lines.append(previous)
    return lines, head_for(last_seq, previous)


def next_line(parsed: Parsed, record: dict) -> tuple[str, dict]:
    """The line appending `record` after `parsed`, and the head that follows it."""
    prev = parsed.forced_prev if parsed.forced_prev is not None else (
        line_hash(parsed.last_line) if parsed.last_line is not None else "")
    record = {**record, "seq": parsed.last_seq + 1 if parsed.records else 1, "prev": prev}
    line = dumps(record)
    return line, head_for(record["seq"], line)


def tail(text: str, head: dict | None) -> Parsed:
    """What an audit append chains to, without checking the whole log: the last readable
    record's line and the last sequence number written. When the log does not end where
    `head` says (its last entry removed or edited by hand; the line after it may be one
    a crash left before the head was moved), the append chains to the head instead, so
    the gap stays visible to `verify` rather than being papered over."""
    out = Parsed()
    for line in reversed(text.splitlines()):
        try:
            record = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        seq = record.get("seq")
        if out.last_line is None:
            out.records, out.last_line = [record], line
        if isinstance(seq, int) and not isinstance(seq, bool):
            out.last_seq = seq
            break
    heads = [h for h in (head, (head or {}).get("or")) if isinstance(h, dict)]
    if not heads or not all(isinstance(h.get("seq"), int) and isinstance(h.get("hash"), str) for h in heads):
        return out  # no head (an older version's log) or a damaged one (verify says so)
    last = out.records[0] if out.records else {}
    for h in heads:
        if h["seq"] == 0 or (out.last_line is not None and (
                (last.get("seq") == h["seq"] and line_hash(out.last_line) == h["hash"])
                or (last.get("seq") == h["seq"] + 1 and last.get("prev") == h["hash"]))):
            return out
    h = heads[0]
    out.last_seq = max(out.last_seq, h["seq"])
    out.records = out.records or [{}]
    out.forced_prev = h["hash"]
    return out


def head_for(seq: int, line: str | None) -> dict:
    return {"seq": seq, "hash": line_hash(line) if line is not None else ""}
