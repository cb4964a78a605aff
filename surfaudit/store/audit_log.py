"""The audit log's file: appends, reading, its problems and the retention rewrite.

Part of the store package (a mixin of `Store`, which knows the paths and locks). Why
apart: the audit log is the trust's record of who looked at whom, so it has rules of
its own: an append never refuses (an export must be recorded even beside a damaged
line) yet chains to the head so a hand edit stays visible (manifest.py), every line
that cannot be shown is named, and the retention rewrite never re-chains over damage.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import polars as pl

from surfaudit.errors import LockedError, OutputError, StoreError
from surfaudit.schema import AUDIT_ENTRY_SCHEMA
from surfaudit.store import jsonl, manifest as chain
from surfaudit.store.files import FILE_MODE
from surfaudit.store.paths import flock_within, open_private, refuse_symlink


class AuditLog:
    """The audit-log methods of `Store` (audit_path, audit_head_path, audit_lock_path)."""

    @contextmanager
    def _audit_lock(self, wait: float = 10) -> Iterator[None]:
        """The audit log's own lock: every append and purge's rewrite take it, so no entry
        is lost to a rewrite, while a report that must record itself never waits for a
        nightly ingest holding the store lock (which may run for hours)."""
        refuse_symlink(self.audit_lock_path)
        fd = open_private(self.audit_lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            if not flock_within(fd, wait):
                raise LockedError(f"{self.root}: the audit log is being rewritten by another run")
            yield
        finally:
            os.close(fd)

    def append_audit(self, entry: dict, wait: float = 10, store_lock: bool = True) -> dict:
        """Append under the store lock (unless `store_lock` is False) and the audit log's
        own lock, which purge's rewrite also holds, so the rewrite cannot drop it; the
        entry as written (chained: `seq`, `prev`). StoreError if the log cannot be
        written (read-only store, full disk)."""
        try:
            self.ensure()
            with self.lock(wait) if store_lock else contextlib.nullcontext(), self._audit_lock(wait):
                refuse_symlink(self.audit_path)
                text = jsonl.read_text(self.audit_path, errors="replace")
                line, head = chain.next_line(chain.tail(text, self._head(self.audit_head_path)), entry)
                self._append_line(self.audit_path, line)
                try:  # the entry is written: a head left one behind is what a crash here leaves too
                    self._write_head(head, self.audit_head_path)
                except (OSError, OutputError):
                    pass
                return json.loads(line)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot write the audit log ({exc.strerror or type(exc).__name__})") from None
        except StoreError as exc:  # e.g. ensure() on a read-only store
            raise StoreError(f"cannot write the audit log: {exc}") from None

    def audit_entries(self) -> list[dict]:
        """The audit log's entries, oldest first; a line that does not read (a torn last
        line, damage) or is no entry (`usable_entry`) is skipped; `audit_problems` names it."""
        return [e for e in jsonl.values(jsonl.read_text(self.audit_path, errors="replace")) if usable_entry(e)]

    def audit_problems(self) -> list[str]:
        """The audit log's lines that do not read, each named (an entry that cannot be
        shown is a record lost: `verify` reports it; `audit_entries` skips it)."""
        for _ in range(5):  # an append between reading the log and its head: read again
            head = self._head(self.audit_head_path)
            text = jsonl.read_text(self.audit_path, errors="replace")
            if self._head(self.audit_head_path) == head:
                break
        torn = [f"{line.where(str(self.audit_path))}: not a readable audit entry (a torn append or damage); "
                "it is kept as found" for line in jsonl.lines(text) if not line.readable]
        torn += [f"{line.where(str(self.audit_path))}: not an audit entry (a field missing or of the wrong "
                 "kind); it is kept as found" for line in jsonl.lines(text) if line.readable and not usable_entry(line.value)]
        named = {t.split(": ", 1)[0] for t in torn}  # one problem per line: the first found
        chained = chain.parse(text, head, str(self.audit_path)).problems
        return torn + [c for c in chained if c.split(": ", 1)[0] not in named]

    def filter_audit(self, keep) -> int:
        """Keep the audit entries for which `keep(entry)` is true (retention), read and
        rewritten under the audit lock so that no entry appended meanwhile is lost;
        returns how many were dropped."""
        with self._audit_lock(10):
            current = self.audit_entries()
            kept = [e for e in current if keep(e)]
            if len(kept) != len(current):
                problems = self.audit_problems()
                if problems:  # a rewrite would re-chain over them (and drop what cannot be shown)
                    raise StoreError(f"{problems[0]}; the audit log was not trimmed (run `surfaudit verify`)")
                self._rewrite_chained(self.audit_path, self.audit_head_path, kept)
        return len(current) - len(kept)

    def rewrite_audit(self, entries: list[dict]) -> None:
        """Replace the audit log (retention); under the audit lock, like every append, so an
        entry appended meanwhile is either in `entries` or waits for the rewrite."""
        with self._audit_lock(10):
            self._rewrite_chained(self.audit_path, self.audit_head_path, entries)


def usable_entry(entry) -> bool:
    """An audit entry `audit` can show: a JSON object whose time is an ISO instant and whose
    fields of AUDIT_ENTRY_SCHEMA are text or whole numbers as declared (or absent)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("time"), str):
        return False
    try:
        if datetime.fromisoformat(entry["time"]).tzinfo is None:
            return False
    except ValueError:
        return False
    for name, kind in AUDIT_ENTRY_SCHEMA.items():
        value = entry.get(name)
        if value is not None and not (isinstance(value, str) if kind == pl.String()
                                      else isinstance(value, int) and not isinstance(value, bool)
                                      and -2**63 <= value < 2**63):
            return False
    return True
