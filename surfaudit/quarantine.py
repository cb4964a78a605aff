"""`surfaudit quarantine`: the lines ingest rejected, with file, line number and reason.

Why: a rejected line is counted in the ingest summary but is only useful if the
technician can see it (a new log format, a proxy upgrade, a damaged rotation).
The store keeps the lines (only it knows where); this module filters them and,
because they are raw log lines (URLs, user names), records each listing that
shows any in the audit log, like a report that names people: the audit log's own
lock only, so a listing never waits for a nightly run holding the store lock.

Filters are plain values, never SQL or patterns: `--file` is a log file's name
(a path is reduced to its name, as the store records it) and `--reason` a
case-insensitive piece of the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

import polars as pl

from surfaudit import audit
from surfaudit.errors import UsageError
from surfaudit.store import Store

COLUMNS = ("reason", "file", "line_no", "line", "ingested")


@dataclass
class Listing:
    table: pl.DataFrame  # COLUMNS, in commit then line order
    files: list[str] = field(default_factory=list)  # every file with quarantined lines (unfiltered)
    file: str | None = None
    reason: str | None = None

    def empty_message(self) -> str:
        """What an empty listing means, naming the files that do have lines when --file matched none."""
        if not self.files:
            return "No rejected lines are kept in the store (or purge has forgotten them)."
        if self.file is not None and self.file not in self.files:
            shown = ", ".join(self.files[:10]) + (" ..." if len(self.files) > 10 else "")
            return f"No rejected lines from a file named {self.file}; files with rejected lines: {shown}"
        return "No rejected lines match."


def _filter_value(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{option}: expected a non-empty value")
    return value.strip()


def list_rejected(store: Store, *, file: str | None = None, reason: str | None = None,
                  wait: float = 10, name_people: bool = True, reveal: str | None = None) -> Listing:
    """The quarantined lines matching the filters; a listing that shows any is audited.

    Raw lines name people: where reports do not (`name_people` false, from
    `[privacy] reports_name_people`), they are shown only with `reveal`, the reason
    why, which the audit entry records."""
    file = _filter_value(file, "--file")
    reason = _filter_value(reason, "--reason")
    reveal = _filter_value(reveal, "--reveal")
    if not name_people and reveal is None:
        raise UsageError("rejected lines are raw log lines that name people, and [privacy] reports_name_people "
                         "is false: give --reveal TEXT saying why they must be shown (it is recorded)")
    if file is not None:
        file = PurePath(file).name or file
    lines = store.quarantined_lines()
    files = sorted(set(lines.get_column("file").drop_nulls().to_list()))
    if file is not None:
        lines = lines.filter(pl.col("file") == file)
    if reason is not None:
        lines = lines.filter(pl.col("reason").str.to_lowercase().str.contains(reason.lower(), literal=True))
    table = lines.select(COLUMNS)
    if table.height:
        shown = {k: v for k, v in (("file", file), ("reason", reason)) if v is not None}
        detail = f"showed {table.height} raw log lines from {table['file'].n_unique()} files" + (
            f"; filters {', '.join(f'{k}={v}' for k, v in shown.items())}" if shown else "") + (
            f"; revealed because: {reveal}" if reveal else "")
        audit.record(store, "quarantine", rows=table.height, detail=detail, wait=wait, store_lock=False)
    return Listing(table, files, file, reason)
