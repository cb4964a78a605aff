"""The store: the only module that knows the on-disk layout (DESIGN §3).

    <store>/events/month=YYYY-MM/part-<tx>.parquet   the data (Hive partitions, zstd)
    <store>/manifest.jsonl                           committed transactions (the truth)
    <store>/audit.jsonl                              who did what (append-only)
    <store>/quarantine/q-<tx>.parquet                rejected lines, with file and line number
    <store>/staging/<tx>/...                         files being written
    <store>/journal/<tx>.json                        transactions between rename and commit
    <store>/lock                                     flock; holds the holder's pid

Every write is a transaction: files are written under staging/, a journal names the
final paths, they are renamed into place, and a record appended to the manifest
commits them. Readers only see parts named by committed records, so a crash at any
point leaves every row visible exactly once, and `recover()` tidies what was left.
Everything is created private: directories 0700, files 0600, whatever the umask.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute in part_stats
import pyarrow.parquet as pq

from surfaudit.atomic import write_file
from surfaudit.errors import LockedError, OutputError, StoreError
from surfaudit.schema import EVENT_SCHEMA, QUARANTINE_SCHEMA

if TYPE_CHECKING:
    import duckdb

ARROW_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("user", pa.string()), ("username", pa.string()), ("client_ip", pa.string()),
        ("method", pa.string()), ("host", pa.string()), ("url", pa.string()),
        ("action", pa.string()), ("status", pa.int32()), ("bytes", pa.int64()),
        ("elapsed_ms", pa.int64()), ("category", pa.string()), ("source", pa.string()),
    ]
)
ROW_GROUP = 1_000_000
DIR_MODE, FILE_MODE = 0o700, 0o600


def _mkdir(path: Path) -> None:
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def private_file(path: Path, mode: str = "wb"):
    """Open a new file that is 0600 from the moment it exists."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, mode)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.events_dir = self.root / "events"
        self.manifest_path = self.root / "manifest.jsonl"
        self.audit_path = self.root / "audit.jsonl"
        self.quarantine_dir = self.root / "quarantine"
        self.staging_dir = self.root / "staging"
        self.journal_dir = self.root / "journal"
        self.lock_path = self.root / "lock"
        self.key_path = self.root / "pseudonym.key"

    # -- lifecycle -------------------------------------------------------------
    def ensure(self) -> "Store":
        """Create the store (private) if needed."""
        try:
            for path in (self.root, self.events_dir, self.quarantine_dir, self.staging_dir, self.journal_dir):
                _mkdir(path)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create store: {exc.strerror}") from None
        return self

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
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        deadline = time.monotonic() + (wait or 0)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                        raise LockedError(f"{self.root}: store is locked by another surfaudit run (pid {holder})") from None
                    time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._lock_depth = 1
            self.recover()
            yield
        finally:
            self._lock_depth = 0
            os.close(fd)  # closing releases the flock

    def recover(self) -> None:
        """Finish or undo transactions a crash interrupted (call under the lock)."""
        committed = {r["tx"] for r in self.manifest()}
        for journal in sorted(self.journal_dir.glob("*.json")):
            try:
                entry = json.loads(journal.read_text())
            except (OSError, ValueError):
                journal.unlink(missing_ok=True)
                continue
            if entry["tx"] in committed:  # roll forward: drop what it replaced
                doomed = entry.get("removes", [])
            else:  # roll back: its parts were never committed
                doomed = entry.get("parts", []) + entry.get("quarantine", [])
            for rel in doomed:
                (self.root / rel).unlink(missing_ok=True)
            journal.unlink(missing_ok=True)
        for leftover in self.staging_dir.iterdir() if self.staging_dir.is_dir() else ():
            shutil.rmtree(leftover, ignore_errors=True)
        self._remove_empty_months()

    # -- manifest ----------------------------------------------------------------
    def manifest(self) -> list[dict]:
        """Committed records, oldest first; a torn last line (crash mid-append) is ignored."""
        try:
            text = self.manifest_path.read_text()
        except FileNotFoundError:
            return []
        records = []
        for line in text.splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def _append_jsonl(self, path: Path, record: dict) -> None:
        """Append one record; a torn last line (a crash mid-append) is closed off first,
        so it stays one unreadable line instead of swallowing this record."""
        line = json.dumps(record, separators=(",", ":")) + "\n"
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
        """Replace the manifest atomically (used by retention to forget old records)."""
        self._atomic_jsonl(self.manifest_path, records)

    def _atomic_jsonl(self, path: Path, records: list[dict]) -> None:
        write_file(path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))

    def live_parts(self) -> dict[str, str]:
        """Committed, not replaced parts: relative path -> month."""
        return self.live_parts_of(self.manifest())

    # -- reading -----------------------------------------------------------------
    def months(self) -> list[str]:
        return sorted(set(self.live_parts().values()))

    def parts(self, months: Iterable[str] | None = None) -> list[Path]:
        wanted = set(months) if months is not None else None
        return [
            self.root / rel
            for rel, month in sorted(self.live_parts().items())
            if (wanted is None or month in wanted) and (self.root / rel).is_file()
        ]

    def month_parts(self) -> dict[str, list[str]]:
        """Month -> its committed part files (relative), for compaction and retention."""
        out: dict[str, list[str]] = {}
        for rel, month in sorted(self.live_parts().items()):
            out.setdefault(month, []).append(rel)
        return out

    def events_view(self, con: "duckdb.DuckDBPyConnection", utc_from: datetime | None = None,
                    utc_to: datetime | None = None, name: str = "events") -> list[str]:
        """Create view `name` over the committed parts of the months overlapping [from, to).

        Returns the months read. The manifest is read once, so the view is one
        committed state of the store.
        """
        lo = utc_from.astimezone(timezone.utc).strftime("%Y-%m") if utc_from else "0000-00"
        hi = utc_to.astimezone(timezone.utc).strftime("%Y-%m") if utc_to else "9999-99"
        chosen = [(rel, month) for rel, month in sorted(self.live_parts().items())
                  if lo <= month <= hi and (self.root / rel).is_file()]
        files = [str(self.root / rel) for rel, _ in chosen]
        con.execute("SET TimeZone = 'UTC'")
        if files:
            con.read_parquet(files).create_view(name, replace=True)
        else:
            con.register(f"_{name}_empty", pl.DataFrame(schema=EVENT_SCHEMA).to_arrow())
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM _{name}_empty")
        return sorted({month for _, month in chosen})

    def scan_events_dir(self) -> list[str]:
        """Anything under events/ that the store did not put there (symlinks, stray files)."""
        problems = []
        if not self.events_dir.is_dir():
            return problems
        for entry in sorted(self.events_dir.iterdir()):
            rel = entry.relative_to(self.root)
            if entry.is_symlink():
                problems.append(f"{rel}: is a symlink")
            elif not entry.is_dir() or not entry.name.startswith("month=") or len(entry.name) != 13:
                problems.append(f"{rel}: unexpected entry")
            else:
                for child in sorted(entry.iterdir()):
                    if child.is_symlink() or not child.is_file() or not child.name.endswith(".parquet"):
                        problems.append(f"{child.relative_to(self.root)}: unexpected entry")
        return problems

    def _remove_empty_months(self) -> None:
        if self.events_dir.is_dir():
            for entry in self.events_dir.iterdir():
                if entry.is_dir() and not entry.is_symlink() and entry.name.startswith("month=") and not any(entry.iterdir()):
                    entry.rmdir()

    # -- primitives for retention and compaction (added) --------------------------
    @staticmethod
    def live_parts_of(records: Iterable[dict]) -> dict[str, str]:
        """What `live_parts()` would return if the manifest held exactly `records`."""
        live: dict[str, str] = {}
        for record in records:
            for rel in record.get("removes", []):
                live.pop(rel, None)
            for rel in record.get("parts", []):
                live[rel] = rel.split("/")[1].removeprefix("month=")
        return live

    def part_path(self, rel: str) -> Path:
        """The absolute path of a committed part named relative to the store."""
        return self.root / rel

    def part_stats(self, rel: str) -> "PartStats":
        """Rows and ts range of one part from its Parquet footer (falls back to reading ts)."""
        path = self.root / rel
        try:
            meta = pq.read_metadata(path)
            col = meta.schema.names.index("ts")
            stats = [meta.row_group(i).column(col).statistics for i in range(meta.num_row_groups)]
            if all(st is not None and st.has_min_max for st in stats):
                lo, hi = (min(st.min for st in stats), max(st.max for st in stats)) if stats else (None, None)
            else:  # no statistics: read the one column
                ts = pq.read_table(path, columns=["ts"]).column("ts")
                lo, hi = pa.compute.min(ts).as_py(), pa.compute.max(ts).as_py()
            return PartStats(rel, meta.num_rows, lo, hi)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise StoreError(f"{path}: cannot read Parquet part ({exc})") from None

    def read_parts(self, rels: Iterable[str]) -> pl.DataFrame:
        """The rows of the given committed parts (canonical schema)."""
        files = [str(self.root / rel) for rel in rels]
        if not files:
            return pl.DataFrame(schema=EVENT_SCHEMA)
        try:
            return pl.concat([pl.read_parquet(f) for f in files]).cast(EVENT_SCHEMA)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise StoreError(f"{self.root}: cannot read parts ({exc})") from None

    def stream_parts(self, rels: Iterable[str], ts_from: datetime | None = None,
                     batch_rows: int = 1_000_000) -> Iterator[pl.DataFrame]:
        """The rows of the given parts sorted by ts, in batches, with bounded memory.

        DuckDB sorts out of core (spilling under staging/, which is private), so
        compacting or trimming a 30-million-row month does not need it in memory.
        """
        import duckdb  # (imported here: ingest, which never sorts, starts faster without it)

        files = [str(self.root / rel) for rel in rels]
        if not files:
            return
        con = duckdb.connect(config={"memory_limit": "512MB", "temp_directory": str(self.staging_dir / "duckdb-spill")})
        try:
            rel = con.read_parquet(files)
            if ts_from is not None:
                rel = rel.filter(duckdb.ColumnExpression("ts") >= duckdb.ConstantExpression(ts_from))
            reader = rel.order("ts").to_arrow_reader(batch_rows)
            for batch in reader:
                yield pl.from_arrow(pa.Table.from_batches([batch])).cast(EVENT_SCHEMA)
        except (OSError, duckdb.Error) as exc:
            raise StoreError(f"{self.root}: cannot read parts ({type(exc).__name__})") from None
        finally:
            con.close()

    def event_files(self) -> list[str]:
        """Regular files inside the month directories (relative), committed or not."""
        return sorted(str(f.relative_to(self.root)) for f in self.events_dir.glob("*/*")
                      if f.is_file() and not f.parent.is_symlink())

    def quarantine_written_at(self, path: Path) -> datetime:
        """When a quarantine file was written: its transaction id's time, else its mtime."""
        try:
            return datetime.strptime(path.name[2:17], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
        except ValueError:
            return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)

    # -- writing -----------------------------------------------------------------
    def begin(self, kind: str) -> "Transaction":
        self.ensure()
        return Transaction(self, kind)

    # -- audit log ---------------------------------------------------------------
    def append_audit(self, entry: dict, wait: float = 10) -> None:
        """Append under the store lock (so purge's rewrite cannot drop it); StoreError if
        the log cannot be written (read-only store, full disk)."""
        try:
            with self.lock(wait):
                self._append_jsonl(self.audit_path, entry)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot write the audit log ({exc.strerror or type(exc).__name__})") from None
        except StoreError as exc:  # e.g. ensure() on a read-only store
            raise StoreError(f"cannot write the audit log: {exc}") from None

    def audit_entries(self) -> list[dict]:
        try:
            lines = self.audit_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def rewrite_audit(self, entries: list[dict]) -> None:
        """Replace the audit log (retention); under the lock, like every append."""
        with self.lock(10):
            self._atomic_jsonl(self.audit_path, entries)

    def quarantine_files(self) -> list[Path]:
        return sorted(self.quarantine_dir.glob("q-*.parquet")) if self.quarantine_dir.is_dir() else []

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


@dataclass(frozen=True)
class PartStats:
    """One committed part: rows and the UTC range of `ts` (None when it has no rows)."""
    rel: str
    rows: int
    ts_min: datetime | None
    ts_max: datetime | None


from surfaudit.store.transaction import Transaction  # noqa: E402  (needs the helpers above)
