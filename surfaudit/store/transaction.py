"""A store transaction: files written under staging/ that become visible together.

Part of the store package (only the store knows the on-disk layout). Rows are
split into UTC month files in staging; commit() writes a journal naming the
final paths, renames the files into place and appends the manifest record — the
commit point. abort() (or recover() after a crash) removes whatever was staged.
The record names each part's size, sha256 and row count (integrity.py); the parts
it replaces are deleted by `Store.sweep()` once no reader can be using them.

A transaction uses only the public methods of its store (`StoreHost` names them)
and the store package's leaf modules, so the Store can import it plainly.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import polars as pl
import pyarrow.parquet as pq

from surfaudit.errors import StoreError
from surfaudit.store.arrow_schema import ROW_GROUP, STORED_ARROW_SCHEMA, quarantine_arrow, with_string_views
from surfaudit.store.files import fsync_dir, make_dir, private_file
from surfaudit.store.integrity import describe
from surfaudit.store.manifest import Parsed
from surfaudit.store.part import Part, relpath
from surfaudit.store.paths import confined, new_tx_id, record_time


class StoreHost(Protocol):
    """What a transaction needs of its store (`Store` has it all, publicly)."""

    root: Path
    staging_dir: Path
    journal_dir: Path

    def manifest(self) -> list[dict]: ...
    def manifest_state(self, strict: bool = False) -> Parsed: ...
    def append_record(self, record: dict) -> dict: ...
    def sweep(self, wait: float = 0.0) -> tuple[int, int]: ...
    def remove_empty_months(self) -> None: ...


# Write path (docs/performance.md): polars hands string views over without a copy;
# zstd level 1 (level 3 costs ~40 % more time for ~1 % smaller files); dictionary
# pages for every string column (url too: most are CONNECT host:443, and with row
# groups of one 16 MB batch its dictionary fits; pyarrow falls back to plain pages
# when it would not); min/max statistics on ts
# only (DuckDB prunes row groups on ts; rows are in time order, so the min/max of
# a string column spans nearly everything and cost a quarter of the write);
# delta encoding for the integer columns (smaller and faster than zstd alone).
WRITE_SCHEMA = with_string_views(STORED_ARROW_SCHEMA)
PARQUET_OPTIONS = dict(compression="zstd", compression_level=1, write_statistics=["ts"], store_schema=False,
                       use_dictionary=["user", "username", "client_ip", "method", "host", "url", "action", "category",
                                       "source", "site"],
                       column_encoding=dict.fromkeys(("ts", "bytes", "elapsed_ms"), "DELTA_BINARY_PACKED"))


def _host() -> str:
    import socket

    return socket.gethostname()


class Transaction:
    """Files written under staging/ that become visible together on commit()."""

    def __init__(self, store: StoreHost, kind: str):
        self.store = store
        self.kind = kind
        self.id = new_tx_id()
        self.dir = store.staging_dir / self.id
        make_dir(self.dir)
        # (month, slot) -> writer: a slot is one file per month, written by one thread.
        self._writers: dict[tuple[str, int], tuple[pq.ParquetWriter, object]] = {}
        self._quarantine: tuple[pq.ParquetWriter, object] | None = None
        self._lock = threading.Lock()
        self.removes: list[str] = []
        self.rows = 0
        self.site = getattr(store, "site", None) or _host()

    def _rel(self, key: tuple[str, int]) -> str:
        return Part.written(key[0], self.id, key[1]).relpath

    def write(self, df: pl.DataFrame, slot: int = 0) -> None:
        """Append canonical rows; they are split into UTC month partitions. Writes
        to different slots (separate files of the same months) may run at once in
        different threads; writes to one slot must come from one thread at a time."""
        if df.height == 0:
            return
        if "site" not in df.columns:  # parsed rows; a rewrite (compaction) keeps each row's own
            df = df.with_columns(pl.lit(self.site, pl.String).alias("site"))
        lo, hi = df.select(pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi")).row(0)
        if lo is not None and (lo.year, lo.month) == (hi.year, hi.month):  # the usual case: one month
            self._write_month((lo.strftime("%Y-%m"), slot), df)
            return
        df = df.with_columns(pl.col("ts").dt.strftime("%Y-%m").alias("_month"))
        for (month,), part in df.partition_by("_month", as_dict=True, maintain_order=True).items():
            self._write_month((month, slot), part.drop("_month"))

    def _write_month(self, key: tuple[str, int], part: pl.DataFrame) -> None:
        """Zero-copy hand-over (string views) to the month's Parquet writer; the
        file keeps no Arrow schema, so it reads back as ARROW_SCHEMA (string)."""
        table = part.select(WRITE_SCHEMA.names).to_arrow(compat_level=pl.CompatLevel.newest()).cast(WRITE_SCHEMA)
        with self._lock:
            if key not in self._writers:
                fh = private_file(self.dir / self._staged(key))
                self._writers[key] = (pq.ParquetWriter(fh, WRITE_SCHEMA, **PARQUET_OPTIONS), fh)
            writer = self._writers[key][0]
        writer.write_table(table, row_group_size=ROW_GROUP)
        with self._lock:
            self.rows += part.height

    @staticmethod
    def _staged(key: tuple[str, int]) -> str:
        return f"{key[0]}-{key[1]}.parquet"

    def quarantine(self, bad: pl.DataFrame) -> None:
        """Append rejected lines (file, line_no, reason, line)."""
        if bad.height == 0:
            return
        table = quarantine_arrow(bad)
        with self._lock:
            if self._quarantine is None:
                fh = private_file(self.dir / "quarantine.parquet")
                self._quarantine = (pq.ParquetWriter(fh, table.schema, compression="zstd"), fh)
            self._quarantine[0].write_table(table)

    def replace(self, parts: Iterable[Part | str]) -> None:
        """On commit, these committed parts stop being visible (and are deleted by sweep)."""
        rels = [relpath(part) for part in parts]
        for rel in rels:
            confined(self.store.root, rel, "a replaced part")
        self.removes.extend(rels)

    def _close(self) -> None:
        for writer, fh in list(self._writers.values()) + ([self._quarantine] if self._quarantine else []):
            writer.close()
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()

    def commit(self, record: dict) -> dict:
        """Rename the files into place and append the manifest record (the commit point)."""
        self._close()
        store = self.store
        moves = [(self.dir / self._staged(key), self._rel(key)) for key in sorted(self._writers)]
        quarantine = []
        if self._quarantine:
            quarantine = [f"quarantine/q-{self.id}.parquet"]
            moves.append((self.dir / "quarantine.parquet", quarantine[0]))
        try:
            store.manifest_state(strict=True)  # a damaged manifest: refuse before anything is renamed
        except StoreError:
            self.abort()
            raise
        try:
            files = {rel: describe(src) for src, rel in moves if rel.startswith("events/")}
        except OSError as exc:
            self.abort()
            raise StoreError(f"{store.root}: write failed ({exc.strerror}); the store was left as it was") from None
        record = {"tx": self.id, "kind": self.kind, "at": record_time(),
                  **record, "parts": [rel for _, rel in moves if rel.startswith("events/")],
                  "removes": self.removes, "quarantine": quarantine, "files": files}
        journal = store.journal_dir / f"{self.id}.json"
        try:
            with private_file(journal) as fh:
                fh.write(json.dumps({"tx": self.id, "parts": record["parts"], "removes": self.removes,
                                     "quarantine": quarantine}).encode())
                fh.flush()
                os.fsync(fh.fileno())
            for src, rel in moves:
                dst = store.root / rel
                make_dir(dst.parent)
                os.replace(src, dst)
                fsync_dir(dst.parent)
            record = store.append_record(record)
        except StoreError:  # a damaged manifest: nothing is committed to it
            self.abort()
            raise
        except OSError as exc:
            self.abort()
            raise StoreError(f"{store.root}: write failed ({exc.strerror}); the store was left as it was") from None
        journal.unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        store.sweep()  # the replaced parts, unless a reader may still be using them
        store.remove_empty_months()
        return record

    def abort(self) -> None:
        """Forget everything written; nothing becomes visible."""
        try:
            self._close()
        except Exception:  # noqa: BLE001 - closing a broken writer must not mask the real error
            pass
        journal = self.store.journal_dir / f"{self.id}.json"
        if journal.exists():
            try:
                committed = {r.get("tx") for r in self.store.manifest()}
            except StoreError:  # a damaged manifest: leave the journal to a later recover()
                shutil.rmtree(self.dir, ignore_errors=True)
                return
            if self.id not in committed:
                for rel in [self._rel(key) for key in self._writers] + [f"quarantine/q-{self.id}.parquet"]:
                    (self.store.root / rel).unlink(missing_ok=True)
            journal.unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)
