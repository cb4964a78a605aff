"""The store: the only module that knows the on-disk layout (DESIGN §3).

    <store>/events/month=YYYY-MM/part-<tx>.parquet   the data (Hive partitions, zstd)
    <store>/manifest.jsonl                           committed transactions (the truth, hash-chained)
    <store>/manifest.head                            seq and hash of the last committed record
    <store>/audit.jsonl                              who did what (append-only, hash-chained)
    <store>/audit.head                               seq and hash of the last audit entry
    <store>/quarantine/q-<tx>.parquet                rejected lines, with file and line number
    <store>/staging/<tx>/...                         files being written
    <store>/journal/<tx>.json                        transactions between rename and commit
    <store>/lock                                     flock; holds the holder's pid
    <store>/readers.lock                             shared flock of running readers (readers.py)
    <store>/damaged/                                 parts `verify --repair` moved aside

Every write is a transaction: files are written under staging/, a journal names the
final paths, they are renamed into place, and a record appended to the manifest
commits them. Readers only see parts named by committed records, so a crash at any
point leaves every row visible exactly once, and `recover()` tidies what was left.
Parts a record replaces stay on disk until no reader can be using them (readers.py).
No path read from the journal, the manifest or a directory is trusted (paths.py);
the manifest and the parts are checked on every read (manifest.py, integrity.py).
Everything is created private: directories 0700, files 0600, whatever the umask
(files.py). A part is a `Part` value (part.py) outside the store; the Arrow schemas
come from the canonical polars ones (arrow_schema.py); the manifest and the audit
log are read by one JSON-lines reader (jsonl.py). A transaction (transaction.py)
uses only the Store's public methods.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from surfaudit.atomic import write_file
from surfaudit.errors import LockedError, OutputError, StoreError
from surfaudit.schema import QUARANTINE_SCHEMA
from surfaudit.store import jsonl, manifest as chain
from surfaudit.store.files import DIR_MODE, FILE_MODE, fsync_dir, make_dir, private_file  # noqa: F401
from surfaudit.store.part import DAMAGED_NAME, Part
from surfaudit.store.paths import confined, flock_within, no_symlink_below, open_private, refuse_symlink, repair_record
from surfaudit.store.audit_log import AuditLog, usable_entry  # noqa: F401 - usable_entry is public
from surfaudit.store.reading import PartStats, Reading  # noqa: F401 - PartStats is public

if TYPE_CHECKING:
    from surfaudit.store.transaction import Transaction

# The Arrow schemas live in arrow_schema.py (the transaction uses them too) and stay
# importable from here, loaded on first use: pyarrow is for writing and verifying,
# and a report that only reads through DuckDB starts without it.
_ARROW_NAMES = frozenset({"ARROW_SCHEMA", "ROW_GROUP", "SITE_FIELD", "STORED_ARROW_SCHEMA", "quarantine_arrow"})


def __getattr__(name: str):
    if name in _ARROW_NAMES:
        from surfaudit.store import arrow_schema

        return getattr(arrow_schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Store(AuditLog, Reading):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.events_dir = self.root / "events"
        self.manifest_path = self.root / "manifest.jsonl"
        self.audit_path = self.root / "audit.jsonl"
        self.audit_head_path = self.root / "audit.head"  # the audit log's chain head (manifest.py)
        self.quarantine_dir = self.root / "quarantine"
        self.staging_dir = self.root / "staging"
        self.journal_dir = self.root / "journal"
        self.lock_path = self.root / "lock"
        self.key_path = self.root / "pseudonym.key"
        self.head_path = self.root / "manifest.head"
        self.audit_lock_path = self.root / "audit.lock"  # held by every audit append and purge's rewrite
        self.readers_path = self.root / "readers.lock"
        self.damaged_dir = self.root / "damaged"

    # -- lifecycle -------------------------------------------------------------
    def ensure(self) -> "Store":
        """Create the store (private) if needed."""
        try:
            self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            os.chmod(self.root, DIR_MODE)
            self.check_no_symlinks()
            for path in (self.events_dir, self.quarantine_dir, self.staging_dir, self.journal_dir):
                make_dir(path)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create store: {exc.strerror}") from None
        return self

    def check_no_symlinks(self) -> None:
        """StoreError naming the first bookkeeping entry of the store that is a symlink."""
        for path in (self.events_dir, self.quarantine_dir, self.staging_dir, self.journal_dir, self.damaged_dir,
                     self.manifest_path, self.head_path, self.audit_path, self.lock_path, self.readers_path,
                     self.key_path, self.audit_lock_path, self.audit_head_path):
            refuse_symlink(path)
            refuse_symlink(path.with_name(path.name + ".tmp"))

    def exists(self) -> bool:
        return self.events_dir.is_dir()

    @contextmanager
    def lock(self, wait: float | None = 0) -> Iterator[None]:
        """Hold the exclusive store lock; LockedError names the holder's pid.

        Re-entrant on one Store object: a caller already holding it (ingest, purge) can
        append to the audit log, which takes the lock too, without deadlocking."""
        if getattr(self, "_lock_depth", 0):
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.ensure()
        fd = open_private(self.lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        held = False
        try:
            if not flock_within(fd, wait or 0, 0.1):
                raise LockedError(f"{self.root}: store is locked by another surfaudit run (pid {_holder(fd)})")
            mine = f"{os.getpid()}\n".encode()
            try:  # never empty while held: a loser reads a pid, not a gap
                os.pwrite(fd, mine, 0)
                os.ftruncate(fd, len(mine))
            except OSError:  # a full disk: the pid is only a courtesy; the command says what failed
                pass
            self._lock_depth = 1
            held = True
            self.recover()
            yield
        finally:
            self._lock_depth = 0
            if held:
                try:
                    os.ftruncate(fd, 0)  # free again: the next loser waits for its winner's pid
                except OSError:
                    pass
            os.close(fd)  # closing releases the flock

    def recover(self) -> None:
        """Finish or undo transactions a crash interrupted (call under the lock).

        A committed transaction's replaced parts are left to `sweep` (a reader may
        still use them); an uncommitted one's files are deleted. Every name in a
        journal must be a file of this store (paths.py), checked before anything
        is deleted.
        """
        parsed = self.manifest_state(strict=True)
        committed = {r.get("tx") for r in parsed.records}
        plans = []
        for journal in sorted(self.journal_dir.glob("*.json")):
            refuse_symlink(journal)
            try:
                entry = json.loads(journal.read_text())
                names = entry.get("parts", []) + entry.get("quarantine", []) + entry.get("removes", [])
                tx = entry["tx"]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                plans.append((journal, []))
                continue
            for rel in names:  # every name is checked, also those a roll-forward leaves to sweep
                confined(self.root, rel, f"{journal}", quarantine=True)
            doomed = [] if tx in committed else entry.get("parts", []) + entry.get("quarantine", [])
            plans.append((journal, [self.root / rel for rel in doomed]))
        for journal, doomed in plans:
            for path in doomed:
                path.unlink(missing_ok=True)
            journal.unlink(missing_ok=True)
        leftovers = sorted(self.staging_dir.iterdir()) if self.staging_dir.is_dir() else []
        for leftover in leftovers:
            refuse_symlink(leftover)
        for leftover in leftovers:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)  # rmtree never follows a symlink inside
            else:
                leftover.unlink(missing_ok=True)
        head = self._head() or {}
        seq = head.get("seq", 0) if isinstance(head.get("seq", 0), int) else None
        if parsed.chained and not parsed.problems and seq is not None and (parsed.last_seq > seq or "or" in head):
            # a crash before the head write (or between a rewrite's rename and its final head)
            self._write_head(chain.head_for(parsed.last_seq, parsed.last_line))
        self.sweep()
        self.remove_empty_months()

    # -- manifest ----------------------------------------------------------------
    def manifest(self) -> list[dict]:
        """Committed records, oldest first; a torn last line (crash mid-append) is ignored.

        StoreError (one line naming the line) when the manifest is damaged: a record
        edited or missing, garbage in the middle, cut short (manifest.py).
        """
        return self.manifest_state(strict=True).records

    def manifest_state(self, strict: bool = False) -> chain.Parsed:
        """The parsed manifest with its problems (raised when `strict`)."""
        previous = None
        for _ in range(5):  # a rewrite between reading the head and the manifest: read again
            head = self._head()
            refuse_symlink(self.manifest_path)
            text = jsonl.read_text(self.manifest_path, errors="replace")
            parsed = chain.parse(text, head, str(self.manifest_path))
            for record, number in zip(parsed.records, parsed.lines):
                source = f"{self.manifest_path} line {number}"
                try:
                    for rel in record.get("parts", []) + record.get("removes", []):
                        confined(self.root, rel, source)
                    for rel in record.get("quarantine", []):
                        confined(self.root, rel, source, quarantine=True)
                except StoreError as exc:
                    parsed.problems.append(str(exc))
                except TypeError:
                    parsed.problems.append(f"{source}: not a manifest record (damaged)")
            if not parsed.problems or (head, text) == previous:
                break
            previous = (head, text)
        if strict and parsed.problems:
            more = f" (and {len(parsed.problems) - 1} more)" if len(parsed.problems) > 1 else ""
            raise StoreError(f"{parsed.problems[0]}{more}; run `surfaudit verify`, restore from a backup")
        return parsed

    def _head(self, path: Path | None = None) -> dict | None:
        path = path or self.head_path
        refuse_symlink(path)
        try:
            head = json.loads(path.read_text())
            return head if isinstance(head, dict) else {"seq": "damaged"}
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"seq": "damaged"}

    def _write_head(self, head: dict, path: Path | None = None) -> None:
        self._atomic_lines(path or self.head_path, [json.dumps(head)])

    def append_record(self, record: dict) -> dict:
        """Append one chained record (a transaction's commit point), then move the head to
        it; the record as committed (with `seq` and `prev`). Call under the lock."""
        line, head = chain.next_line(self.manifest_state(strict=True), record)
        record = json.loads(line)
        self._append_jsonl(self.manifest_path, record)  # serialises to exactly `line`
        self._write_head(head)
        return record

    def _append_jsonl(self, path: Path, record: dict) -> None:
        self._append_line(path, json.dumps(record, separators=(",", ":")))

    def _append_line(self, path: Path, line: str) -> None:
        """Append one line; a torn last line (a crash mid-append) is closed off first,
        so it stays one unreadable line instead of swallowing this record."""
        line = line + "\n"
        refuse_symlink(path)
        try:
            with open(path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    line = "\n" + line
        except OSError:  # missing or empty
            pass
        with private_file(path, "ab") as fh:
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())

    def rewrite_manifest(self, records: list[dict]) -> None:
        """Replace the manifest atomically (used by retention to forget old records); re-chained."""
        self._rewrite_chained(self.manifest_path, self.head_path, records)

    def _rewrite_chained(self, path: Path, head_path: Path, records: list[dict]) -> None:
        """Replace a chained file with `records` re-chained: the new head is written with the
        old one as `or` first, so a crash before the final head leaves a file either accepts."""
        lines, head = chain.chain(records)
        old = self._head(head_path)
        if old is None:  # a file written before the chain: its old form needs no head
            old = chain.head_for(0, None)
        if isinstance(old.get("seq"), int):
            self._write_head({**head, "or": {k: v for k, v in old.items() if k != "or"}}, head_path)
        self._atomic_lines(path, lines)
        self._write_head(head, head_path)

    def _atomic_lines(self, path: Path, lines: list[str]) -> None:
        refuse_symlink(path)  # the store refuses a symlink rather than replacing it
        write_file(path, "".join(line + "\n" for line in lines))

    # -- writing -----------------------------------------------------------------
    def begin(self, kind: str) -> "Transaction":
        from surfaudit.store.transaction import Transaction

        self.ensure()
        return Transaction(self, kind)

    def set_aside(self, rels: list[str], why: str) -> dict:
        """Move damaged committed parts to damaged/ and commit a record that drops them
        from the manifest (call under the lock); the rest of the store stays usable."""
        self.ensure()
        make_dir(self.damaged_dir)
        live = self.live_parts()
        moved = []
        for rel in rels:
            path = confined(self.root, rel, "verify --repair")
            if rel not in live:
                raise StoreError(f"{path}: not a committed part; nothing set aside")
            if path.exists():
                part = Part.of(rel)
                os.replace(path, self.damaged_dir / part.damaged_name)
            moved.append(rel)
        fsync_dir(self.damaged_dir)
        record = self.append_record(repair_record(moved, why))
        self.remove_empty_months()
        return record

    def delete_damaged(self, expired) -> list[str]:
        """Delete the parts `set_aside` moved to damaged/ whose month `expired(month)` says
        has expired (call under the lock): retention covers them too. Their names."""
        gone: list[str] = []
        if not self.damaged_dir.is_dir():
            return gone
        no_symlink_below(self.root, self.damaged_dir)
        for path in sorted(self.damaged_dir.iterdir()):
            m = DAMAGED_NAME.fullmatch(path.name)
            if m and not path.is_symlink() and path.is_file() and expired(m.group(1)):
                path.unlink()
                gone.append(f"damaged/{path.name}")
        if gone:
            fsync_dir(self.damaged_dir)
        return gone

    def read_quarantine(self) -> pl.DataFrame:
        files = self.quarantine_files()
        if not files:
            return pl.DataFrame(schema=QUARANTINE_SCHEMA)
        return pl.concat([pl.read_parquet(f) for f in files])

    def pseudonym_key(self) -> bytes:
        """A per-store random key for pseudonymising identities (created on first use)."""
        self.ensure()
        try:
            return self.key_path.read_bytes()
        except FileNotFoundError:
            try:  # created exclusively: of two first runs, one key wins and both use it
                write_file(self.key_path, os.urandom(32), exclusive=True)
            except OutputError:
                if not self.key_path.exists():
                    raise
                # another run created it first: use that one
            return self.key_path.read_bytes()


def _holder(fd: int, wait: float = 1.0) -> str:
    """The lock holder's pid; a winner writes it just after taking the flock, so wait briefly."""
    import time

    deadline = time.monotonic() + wait
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").split("\n", 1)[0].strip()
        if text.isdigit() or time.monotonic() >= deadline:
            return text if text.isdigit() else "unknown"
        time.sleep(0.02)
