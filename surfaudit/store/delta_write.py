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
import shutil
import tempfile
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq

from surfaudit.errors import StoreError
from surfaudit.store import transaction
from surfaudit.store.arrow_schema import ROW_GROUP, STORED_ARROW_SCHEMA, quarantine_arrow, with_string_views
from surfaudit.store.part import Part
from surfaudit.store.paths import PART_NAME, TX_NAME
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
        self.id = _now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:10]
        self.dir = tempfile.mkdtemp(prefix=f"surfaudit-{self.id}-")
        self._writers: dict[tuple[str, int], tuple[pq.ParquetWriter, str]] = {}
        self._rows: dict[tuple[str, int], list] = {}
        self._quarantine: tuple[pq.ParquetWriter, str] | None = None
        self._lock = threading.Lock()
        self.rows = 0
        self.removes: list[str] = []
        self.uploaded: list[str] = []

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
            record = {"tx": self.id, "kind": self.kind, "at": _now().isoformat(timespec="seconds"),
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
            store.commit_actions(table, adds, record, app)
        except _Busy:
            self.abort()
            raise StoreError(f"{store.root}: another run is storing the same source right now; nothing from "
                             "this run was stored (run it again later: it resumes after the other)") from None
        except dl.exceptions.CommitFailedError:
            self.abort()
            raise StoreError(f"{store.root}: another run committed the same source at the same time; nothing "
                             "from this run was stored (run it again: it resumes after the other)") from None
        except (OSError, dl.exceptions.DeltaError) as exc:
            self.abort()
            raise StoreError(f"{store.root}: write failed ({type(exc).__name__}); the store was left as it was") from None
        except BaseException:
            self.abort()
            raise
        shutil.rmtree(self.dir, ignore_errors=True)
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

    def _committed(self) -> bool:
        table = self.store.delta_table()
        return table is not None and any(self.id in (h.get("surfaudit") or "") for h in table.history(limit=50))

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._close()
        if self.uploaded and self._committed():  # a failure after the commit point (a post-commit hook)
            self.uploaded = []
        if self.uploaded:
            with contextlib.suppress(StoreError):
                self.store.objects.delete(self.uploaded)  # uncommitted: no reader can see them
            self.uploaded = []
        shutil.rmtree(self.dir, ignore_errors=True)


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
