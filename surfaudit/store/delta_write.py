"""A transaction of the object-store (Delta) store: one Delta commit per write.

Part of the store package. Month files are spooled to a private local temporary
directory while the rows arrive, uploaded whole on commit (an object store has no
append), and added by one Delta log entry: the commit point. An ingest commit
first claims its source's next checkpoint version with a conditional put
(`delta.py` says why that makes ingest exactly-once with concurrent writers).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq

from surfaudit import scratch
from surfaudit.errors import CommittedError, StoreError
from surfaudit.store import transaction
from surfaudit.store.arrow_schema import ROW_GROUP, STORED_ARROW_SCHEMA, quarantine_arrow, with_string_views
from surfaudit.store.part import Part
from surfaudit.store.paths import PART_NAME, TX_NAME, new_tx_id, record_time
from surfaudit.store.s3 import deltalake

if TYPE_CHECKING:
    from surfaudit.store.delta import DeltaStore

FILE_SCHEMA = with_string_views(STORED_ARROW_SCHEMA)  # a month file (the table adds `month`)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DeltaTransaction:
    """Month files spooled locally, uploaded on commit, added by one Delta commit."""

    def __init__(self, store: DeltaStore, kind: str):
        self.store, self.kind = store, kind
        self.id = new_tx_id()
        self.dir = scratch.make("spool")  # removed on commit and abort; a killed run's by a later run
        self._writers: dict[tuple[str, int], tuple[pq.ParquetWriter, str]] = {}
        self._rows: dict[tuple[str, int], list] = {}
        self._quarantine: tuple[pq.ParquetWriter, str] | None = None
        self._lock = threading.Lock()
        self.rows = 0
        self.removes: list[str] = []
        self.uploaded: list[str] = []
        self._base: int | None = None  # the table version our commit builds on, once it is tried

    def write(self, df: pl.DataFrame, slot: int = 0) -> None:
        if df.height == 0:
            return
        if "site" not in df.columns:
            df = df.with_columns(pl.lit(self.store.site, pl.String).alias("site"))
        df = df.with_columns(pl.col("ts").dt.strftime("%Y-%m").alias("_month"))
        options = {**transaction.PARQUET_OPTIONS,
                   "use_dictionary": [*transaction.PARQUET_OPTIONS["use_dictionary"], "site"]}
        for (month,), part in df.partition_by("_month", as_dict=True, maintain_order=True).items():
            key = (month, slot)
            part = part.drop("_month")
            table = part.to_arrow(compat_level=pl.CompatLevel.newest()).cast(FILE_SCHEMA)
            with self._lock:
                if key not in self._writers:
                    path = os.path.join(self.dir, f"{month}-{slot}.parquet")
                    self._writers[key] = (pq.ParquetWriter(path, FILE_SCHEMA, **options), path)
                    self._rows[key] = [0, None, None]
                writer = self._writers[key][0]
            writer.write_table(table, row_group_size=ROW_GROUP)
            lo, hi = part["ts"].min(), part["ts"].max()
            with self._lock:
                stat = self._rows[key]
                stat[0] += part.height
                stat[1] = lo if stat[1] is None or lo < stat[1] else stat[1]
                stat[2] = hi if stat[2] is None or hi > stat[2] else stat[2]
                self.rows += part.height

    def quarantine(self, bad: pl.DataFrame) -> None:
        if bad.height == 0:
            return
        table = quarantine_arrow(bad)
        with self._lock:
            if self._quarantine is None:
                path = os.path.join(self.dir, "quarantine.parquet")
                self._quarantine = (pq.ParquetWriter(path, table.schema, compression="zstd"), path)
            self._quarantine[0].write_table(table)

    def replace(self, parts) -> None:
        self.removes.extend(parts)

    def _close(self) -> None:
        for writer, _ in list(self._writers.values()) + ([self._quarantine] if self._quarantine else []):
            writer.close()

    def commit(self, record: dict) -> dict:
        """Upload the files, then one Delta commit adds them (the commit point)."""
        from deltalake.transaction import AddAction

        dl = deltalake()
        store = self.store
        self._close()
        adds, parts, files = [], [], {}
        try:
            for (month, slot), (_, path) in sorted(self._writers.items()):
                rows, lo, hi = self._rows[(month, slot)]
                part = Part.written(month, self.id, slot)
                name, rel = part.partition_path, part.relpath
                assert PART_NAME.fullmatch(rel)
                size = os.path.getsize(path)
                store.objects.upload(rel, path)
                self.uploaded.append(rel)
                stats = {"numRecords": rows, "minValues": {"ts": _iso(lo)}, "maxValues": {"ts": _iso(hi)},
                         "nullCount": {"ts": 0}}
                adds.append(AddAction(name, size, {"month": month}, int(_now().timestamp() * 1000), True,
                                      json.dumps(stats)))
                parts.append(rel)
                files[rel] = {"size": size, "rows": rows}
            quarantine = []
            if self._quarantine:
                quarantine = [f"quarantine/q-{self.id}.parquet"]
                store.objects.upload(quarantine[0], self._quarantine[1])
                self.uploaded.append(quarantine[0])
            record = {"tx": self.id, "kind": self.kind, "at": record_time(),
                      "site": store.site, **record, "parts": parts, "months": sorted({Part.of(p).month for p in parts}),
                      "removes": [], "quarantine": quarantine, "files": files}
            table = store.ensure().delta_table()
            app = None
            lineage = record.get("lineage")
            if self.kind == "ingest" and isinstance(lineage, str) and TX_NAME.fullmatch(lineage):
                now_at = table.transaction_version(f"surfaudit-{lineage}") or 0
                version = store.lineage_base.get(lineage, now_at) + 1
                if now_at >= version:  # another run committed this source since we read its checkpoints
                    raise _Busy()
                self._claim(lineage, version, record)
                app = (f"surfaudit-{lineage}", version)
            self._base = table.version()  # our commit, if it lands, is a later version (`_committed`)
            store.commit_actions(table, adds, record, app)
        except BaseException as exc:
            landed = self.abort()
            if landed is not False and isinstance(exc, Exception):
                raise _after_commit(store.root, self.id, exc, landed) from None
            if isinstance(exc, _Busy):
                raise StoreError(f"{store.root}: another run is storing the same source right now; nothing from "
                                 "this run was stored (run it again later: it resumes after the other)") from None
            if isinstance(exc, dl.exceptions.CommitFailedError):
                raise StoreError(f"{store.root}: another run committed the same source at the same time; nothing "
                                 "from this run was stored (run it again: it resumes after the other)") from None
            if isinstance(exc, (OSError, dl.exceptions.DeltaError)):
                raise StoreError(f"{store.root}: write failed ({type(exc).__name__}); nothing from this run was "
                                 "stored and the store was left as it was") from None
            raise
        scratch.remove(self.dir)
        return record

    def _claim(self, lineage: str, version: int, record: dict) -> None:
        """Create the checkpoint object of `version` (conditional put: one run per version).
        An uncommitted claim left by a run that died (its pid gone on this host, or older
        than the grace period) is taken over; a live one means another run is busy."""
        import socket

        objects = self.store.objects
        name = f"lineages/{lineage}/{version:012d}.json"
        body = json.dumps({**record, "claim": {"host": socket.gethostname(), "pid": os.getpid(),
                                                "at": _now().isoformat()}}).encode()
        for _ in range(2):
            if objects.put(name, body, if_absent=True):
                self.uploaded.append(name)
                return
            raw = objects.get(name)
            if raw is None:  # taken over and released meanwhile: try again
                continue
            try:
                claim = json.loads(raw).get("claim") or {}
                at = datetime.fromisoformat(claim.get("at"))
            except (ValueError, TypeError, AttributeError):
                claim, at = {}, _now() - timedelta(hours=self.store.grace_hours + 1)
            table = self.store.delta_table()
            if table is not None and (table.transaction_version(f"surfaudit-{lineage}") or 0) >= version:
                raise _Busy()  # committed by another run: never taken over
            dead = claim.get("host") == socket.gethostname() and not alive(claim.get("pid"))
            if not dead and at > _now() - timedelta(hours=self.store.grace_hours):
                raise _Busy()
            if not objects.take_over(name, raw):
                raise _Busy()  # another run is taking this stale claim over
        raise _Busy()

    def _committed(self) -> bool | None:
        """Whether our Delta commit landed (None: it could not be read back). Exact however
        many writers commit meanwhile: every version after the one we built on is looked at."""
        if self._base is None:  # failed before the commit was tried
            return False
        try:
            return find_commit(self.store, self._base, self.id) is not None
        except StoreError:
            return None

    def abort(self) -> bool | None:
        """Undo what an unfinished commit left. Returns whether the commit had landed (None:
        unknown); the uploads of a landed, or maybe landed, commit are kept (vacuum deletes
        them once no commit names them)."""
        with contextlib.suppress(Exception):
            self._close()
        landed = self._committed()
        if self.uploaded and landed is False:
            with contextlib.suppress(StoreError):
                self.store.objects.delete(self.uploaded)  # uncommitted: no reader can see them
        self.uploaded = []
        scratch.remove(self.dir)
        return landed


def find_commit(store: DeltaStore, since: int, tx: str) -> dict | None:
    """The history entry of the commit carrying surfaudit record `tx` among the versions
    after `since` (the version the writer built on), else None. Every one of them is read:
    a fixed window (the newest 50) misses ours when many writers commit meanwhile."""
    table = store.delta_table()
    newer = table.version() - since if table is not None else 0
    if newer <= 0:
        return None
    for entry in table.history(limit=newer):
        try:
            if json.loads(entry.get("surfaudit") or "{}").get("tx") == tx:
                return entry
        except (ValueError, AttributeError):
            continue
    return None


def _after_commit(root: str, tx: str, exc: BaseException, landed: bool | None) -> StoreError:
    """What is true after a failure once the commit was sent: it landed (or may have)."""
    if landed:
        return CommittedError(f"{root}: this run's data was committed (transaction {tx}), but the write then failed "
                          f"({type(exc).__name__}): the Delta log's post-commit upkeep (checkpoint, log clean-up) "
                          "may not have run, a later commit does it; a rerun skips what was committed")
    return StoreError(f"{root}: the write failed ({type(exc).__name__}) and whether this run's data was committed "
                      f"(transaction {tx}) could not be read back; `surfaudit verify` shows it, and a rerun stores "
                      "the source once either way")


class _Busy(Exception):
    """Another live run holds the checkpoint version this run needs."""


def alive(pid) -> bool:
    """Whether the run of `pid` (on this host) still runs. Our own pid in an object we
    are trying to take means a dead run whose pid was reused (containers start every
    cron run as the same pid)."""
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
