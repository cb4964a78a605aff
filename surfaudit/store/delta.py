"""The store on object storage: a Delta Lake table (docs/scaling.md says why).

Part of the store package (only the store knows the layout). Beside the local
store, with the same public methods the commands use:

    <uri>/events/_delta_log/...                     the commits (delta-rs; the truth)
    <uri>/events/month=YYYY-MM/part-<tx>-<n>.parquet the data (Hive partitions, zstd)
    <uri>/audit/ (a second Delta table)             who did what
    <uri>/lineages/<lineage>/<version>.json         ingest checkpoints of one source
    <uri>/quarantine/q-<tx>.parquet                 rejected lines
    <uri>/pseudonym.key                             created once, by a conditional put

A commit is one Delta transaction: the month files are uploaded first, then one
log entry adds them all. delta-rs makes that entry atomic on S3 with a conditional
put, so concurrent writers (a nightly per school) never lose or double a commit and
need no lock server. Exactly-once per source file: every ingest commit carries a
Delta application transaction `surfaudit-<lineage>` whose version counts that
source's commits, and the checkpoint it records is written first to
`lineages/<lineage>/<version>.json`; a checkpoint counts only when its version is
at most the committed one. Two runs committing the same source at once both
claim the same version: Delta lets one win and the other fails, storing nothing.
Files uploaded by a run that died before committing are never read (no commit
names them) and `vacuum` deletes them once they are older than the grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import polars as pl
import pyarrow as pa

from surfaudit.errors import StoreError
from surfaudit.schema import AUDIT_ENTRY_SCHEMA, EVENT_SCHEMA, QUARANTINE_SCHEMA, STORED_SCHEMA
from surfaudit.store.arrow_schema import STORED_ARROW_SCHEMA, arrow_schema
from surfaudit.store.delta_write import DeltaTransaction, alive
from surfaudit.store.manifest import Parsed
from surfaudit.store.part import Part
from surfaudit.store.paths import QUARANTINE_NAME, TX_NAME, tx_time
from surfaudit.store.s3 import Location, Objects, deltalake

TABLE_SCHEMA = STORED_ARROW_SCHEMA.append(pa.field("month", pa.string()))  # the partition column last
AUDIT_SCHEMA = arrow_schema(AUDIT_ENTRY_SCHEMA)
# Only `ts` gets statistics in the log: min/max of a URL or a user name would be
# personal data in commit files that outlive the rows.
TABLE_CONFIG = {"delta.dataSkippingNumIndexedCols": "1", "delta.logRetentionDuration": "interval 400 days",
                "delta.deletedFileRetentionDuration": "interval 12 hours"}
GRACE_HOURS = 12  # vacuum keeps unreferenced files this long: a running report or an uncommitted upload


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DeltaStore:
    """A store on S3 (or any delta-rs URI): the local Store's public methods, on Delta."""

    backend = "delta"

    def __init__(self, uri: str, endpoint: str = "", site: str = "", grace_hours: float = GRACE_HOURS):
        self.loc = Location.parse(uri, endpoint)
        self.root = self.loc.uri  # named in messages, like the local store's directory
        self.objects = Objects(self.loc)
        self.events_uri = f"{self.loc.uri}/events"
        self.audit_uri = f"{self.loc.uri}/audit"
        self.site = site
        self.grace_hours = grace_hours
        self._opts = self.loc.storage_options()
        # source lineage -> its committed checkpoint version when this run read it: the
        # run's own commit of that source must be the next version (delta_write.py)
        self.lineage_base: dict[str, int] = {}

    # -- lifecycle -----------------------------------------------------------------
    def delta_table(self, uri: str | None = None):
        """The Delta table at `uri` (the events table by default); None when there is none yet."""
        dl = deltalake()
        try:
            return dl.DeltaTable(uri or self.events_uri, storage_options=self._opts)
        except dl.exceptions.TableNotFoundError:
            return None
        except (OSError, dl.exceptions.DeltaError) as exc:
            raise StoreError(f"{uri or self.events_uri}: cannot open the store ({type(exc).__name__})") from None

    def exists(self) -> bool:
        return self.delta_table() is not None

    def check(self, must_exist: bool) -> None:
        """UsageError when the bucket is missing, or (`must_exist`) there is no store yet."""
        from surfaudit.errors import UsageError

        if not self.objects.bucket_exists():
            raise UsageError(f"{self.root}: no such bucket, or no access to it (check the credentials "
                             "and [store].endpoint)")
        if must_exist and not self.exists():
            raise UsageError(f"{self.root}: no store here (check --store or [store].path; "
                             "`surfaudit ingest` creates it)")

    def ensure(self) -> "DeltaStore":
        self._create(self.events_uri, TABLE_SCHEMA, ["month"])
        return self

    def _create(self, uri: str, schema: pa.Schema, partition_by: list[str] | None):
        dl = deltalake()
        table = self.delta_table(uri)
        if table is not None:
            return table
        try:
            dl.DeltaTable.create(uri, schema, mode="ignore", partition_by=partition_by,
                                 configuration=TABLE_CONFIG, storage_options=self._opts)
        except dl.exceptions.DeltaError:
            pass  # another run created it at the same moment: use theirs
        table = self.delta_table(uri)
        if table is None:
            raise StoreError(f"{uri}: cannot create the store")
        return table

    @contextlib.contextmanager
    def lock(self, wait: float | None = 0) -> Iterator[None]:
        """No lock: Delta's optimistic commits let writers run at once (module doc)."""
        yield

    @contextlib.contextmanager
    def upkeep(self, wait: float = 0) -> Iterator[None]:
        """Hold the upkeep lease (compaction, purge): two runs rewriting the same month at
        once could both commit. The lease is an object created by a conditional put, so
        of two runs one has it; one left by a run that died (its pid gone on this host,
        or older than the grace period) is taken over. LockedError after `wait` s."""
        import socket
        import time

        from surfaudit.errors import LockedError

        body = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "at": _now().isoformat()}).encode()
        deadline = time.monotonic() + (wait or 0)
        while not self.objects.put("upkeep.lease", body, if_absent=True):
            raw = self.objects.get("upkeep.lease")
            if raw is None:  # released meanwhile
                continue
            try:
                held = json.loads(raw)
                at = datetime.fromisoformat(held["at"])
            except (ValueError, KeyError, TypeError):
                held, at = {}, _now() - timedelta(days=1)
            if ((held.get("host") == socket.gethostname() and not alive(held.get("pid"))) or
                    at < _now() - timedelta(hours=self.grace_hours)) and self.objects.take_over("upkeep.lease", raw):
                continue
            if time.monotonic() >= deadline:
                raise LockedError(f"{self.root}: another surfaudit run is compacting or purging this store "
                                  f"(pid {held.get('pid', 'unknown')} on {held.get('host', 'unknown')})")
            time.sleep(0.5)
        try:
            yield
        finally:
            self.objects.delete(["upkeep.lease"])

    def reading(self):
        """A report reads one table version; vacuum's grace period keeps its files."""
        return contextlib.nullcontext()

    # -- the commit log ------------------------------------------------------------------
    def manifest(self) -> list[dict]:
        """Every commit's surfaudit record, oldest first (the whole log: for summaries and verify)."""
        table = self.delta_table()
        if table is None:
            return []
        out = []
        for entry in reversed(table.history()):
            text = entry.get("surfaudit")
            if text:
                try:
                    out.append({**json.loads(text), "version": entry.get("version")})
                except ValueError:
                    continue
        return out

    def manifest_state(self, strict: bool = False) -> Parsed:
        return Parsed(records=self.manifest())

    def lineage_records(self, lineage: str) -> list[dict]:
        """The committed ingest checkpoints of one source: cheap (a listing of its own prefix)."""
        table = self.delta_table()
        if table is None or not TX_NAME.fullmatch(lineage):
            return []
        committed = table.transaction_version(f"surfaudit-{lineage}") or 0
        self.lineage_base[lineage] = committed  # this run's commit of the source must be the next one
        out = []
        for name, _, _ in sorted(self.objects.list(f"lineages/{lineage}/")):
            try:
                version = int(name.rsplit("/", 1)[1].removesuffix(".json"))
            except ValueError:
                continue
            if version <= committed:
                body = self.objects.get(name)
                try:
                    out.append(json.loads(body or b""))
                except ValueError:
                    raise StoreError(f"{self.root}/{name}: damaged checkpoint record; run `surfaudit verify`") from None
        return out

    def adds(self, table=None) -> list[dict]:
        table = table or self.delta_table()
        if table is None:
            return []
        return pa.table(table.get_add_actions(flatten=True)).to_pylist()

    def live_files(self, records=None, table=None) -> dict[str, dict]:
        """Live part (relative to the store) -> month, size, rows, ts range (of `table`, a
        snapshot the caller holds, else the current version)."""
        out = {}
        for add in self.adds(table):
            out[f"events/{add['path']}"] = {"month": add.get("partition.month"), "size": add.get("size_bytes"),
                                            "rows": add.get("num_records"), "ts_min": add.get("min.ts"),
                                            "ts_max": add.get("max.ts")}
        return out

    def live_parts(self) -> dict[str, str]:
        return {rel: info["month"] for rel, info in self.live_files().items()}

    def months(self) -> list[str]:
        return sorted(set(self.live_parts().values()))

    def month_parts(self) -> dict[str, list[Part]]:
        out: dict[str, list[Part]] = {}
        for rel, month in sorted(self.live_parts().items()):
            out.setdefault(month, []).append(Part.in_partition(rel))
        return out

    # -- reading -----------------------------------------------------------------------
    def dataset(self, months: tuple[str, str] | None = None):
        """The table's current version as a pyarrow dataset (no DuckDB extension needed)."""
        import pyarrow.dataset as ds

        table = self.delta_table()
        if table is None:
            return None
        data = table.to_pyarrow_dataset()
        if months is not None:
            data = data.filter((ds.field("month") >= months[0]) & (ds.field("month") <= months[1]))
        return data

    def events_view(self, con, utc_from: datetime | None = None, utc_to: datetime | None = None,
                    name: str = "events", records=None, site: str | None = None) -> list[str]:
        """View `name` over the months overlapping [from, to) of one table version
        (with `site`: only the rows that site's ingest wrote)."""
        import pyarrow.dataset as ds

        lo = utc_from.astimezone(timezone.utc).strftime("%Y-%m") if utc_from else "0000-00"
        hi = utc_to.astimezone(timezone.utc).strftime("%Y-%m") if utc_to else "9999-99"
        con.execute("SET TimeZone = 'UTC'")
        months = sorted({m for m in self.live_parts().values() if lo <= m <= hi})
        data = self.dataset((lo, hi)) if months else None
        if data is not None and site is not None:
            data = data.filter(ds.field("site") == site)
        columns = ", ".join(f'"{c}"' for c in list(EVENT_SCHEMA) + ["site"])
        if data is not None and getattr(con, "engine", "duckdb") != "duckdb":
            # Spark reads the needed months handed over as Arrow (a Delta reader for Spark
            # would need the delta-spark jars, which nothing may download at run time)
            con.register(name, data.to_table(columns=list(EVENT_SCHEMA)))
        elif data is not None:
            con.register(f"_{name}_delta", data)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {columns} FROM _{name}_delta")
        else:
            empty = pl.DataFrame(schema=STORED_SCHEMA).to_arrow()
            con.register(f"_{name}_empty", empty)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM _{name}_empty")
        return months

    def read_months(self, months: list[str], columns: list[str] | None = None,
                    ts_range: tuple[datetime, datetime] | None = None) -> pl.DataFrame:
        """The rows of some months (canonical columns), optionally within a ts range."""
        import pyarrow.dataset as ds

        data = self.dataset()
        if data is None or not months:
            return pl.DataFrame(schema=EVENT_SCHEMA)
        expr = ds.field("month").isin(months)
        if ts_range is not None:
            expr = expr & (ds.field("ts") >= ts_range[0]) & (ds.field("ts") <= ts_range[1])
        table = data.to_table(filter=expr, columns=columns or list(EVENT_SCHEMA))
        return pl.from_arrow(table).cast({c: EVENT_SCHEMA[c] for c in table.column_names})

    def find_damaged_part(self):
        return None

    # -- writing -----------------------------------------------------------------------
    def begin(self, kind: str):
        self.ensure()
        return DeltaTransaction(self, kind)

    def overlap_for(self, records: list[dict]):
        """What the fingerprint check reads for a copy ending between checkpoints: the
        months those later commits touched (a superset of their rows)."""
        months = sorted({m for r in records for m in r.get("months", [])})
        quarantine = [rel for r in records for rel in r.get("quarantine", [])]
        return months, quarantine

    def commit_actions(self, table, actions: list, record: dict, app: tuple[str, int] | None = None,
                       mode: str = "append") -> None:
        from deltalake.transaction import CommitProperties, Transaction

        props = CommitProperties(custom_metadata={"surfaudit": json.dumps(record, separators=(",", ":"))},
                                 app_transactions=[Transaction(*app)] if app else None)
        table.create_write_transaction(actions, mode, TABLE_SCHEMA, partition_by=["month"], commit_properties=props)

    # -- audit log, quarantine, key ---------------------------------------------------------
    def append_audit(self, entry: dict, wait: float = 10, store_lock: bool = True) -> dict:
        """Append one row (a Delta commit: atomic, so no chain of our own); the entry."""
        dl = deltalake()
        row = {name: entry.get(name) for name in AUDIT_SCHEMA.names}
        row["rows"] = int(row["rows"] or 0)
        row["pid"] = int(row["pid"] or 0)
        table = pa.Table.from_pylist([row], schema=AUDIT_SCHEMA)
        try:
            self._create(self.audit_uri, AUDIT_SCHEMA, None)
            dl.write_deltalake(self.audit_uri, table, mode="append", storage_options=self._opts)
        except (OSError, dl.exceptions.DeltaError) as exc:
            raise StoreError(f"{self.root}: cannot write the audit log ({type(exc).__name__})") from None
        return entry

    def audit_entries(self) -> list[dict]:
        table = self.delta_table(self.audit_uri)
        if table is None:
            return []
        rows = table.to_pyarrow_dataset().to_table().to_pylist()
        return sorted(rows, key=lambda r: r.get("time") or "")

    def audit_problems(self) -> list[str]:
        """None: the audit log is a Delta table of typed rows (a damaged commit or file is
        the table's own error), not lines that may tear."""
        return []

    def filter_audit(self, keep) -> int:
        """Delete the entries `keep` rejects (retention: by time), then vacuum them away."""
        table = self.delta_table(self.audit_uri)
        if table is None:
            return 0
        drop = sorted({e["time"] for e in self.audit_entries() if not keep(e)})
        if not drop:
            return 0
        before = len(self.audit_entries())
        # `time` values are our own ISO timestamps (validated): the predicate holds no user text
        cutoff = drop[-1]
        if not all(ch in "0123456789-:+T" for ch in cutoff):
            raise StoreError(f"{self.audit_uri}: damaged audit time {cutoff!r}")
        table.delete(f"time <= '{cutoff}'")
        table.vacuum(retention_hours=self.grace_hours, enforce_retention_duration=False, dry_run=False)  # a file another site uploaded but has not committed yet stays
        return before - len(self.audit_entries())

    def quarantine_files(self) -> list[str]:
        return sorted(name for name, _, _ in self.objects.list("quarantine/") if QUARANTINE_NAME.fullmatch(name))

    def read_quarantine(self) -> pl.DataFrame:
        frames = [pl.from_arrow(t) for t in (self.objects.read_parquet(n) for n in self.quarantine_files()) if t]
        return pl.concat(frames) if frames else pl.DataFrame(schema=QUARANTINE_SCHEMA)

    def quarantined_lines(self) -> pl.DataFrame:
        """The rejected lines of every committed ingest still kept, in commit order, with
        `ingested` (the commit's UTC time); uploads no commit names are never read."""
        schema = {**QUARANTINE_SCHEMA, "ingested": pl.Datetime("us", "UTC")}
        frames = []
        for record in self.manifest():
            for rel in record.get("quarantine", []):
                if not QUARANTINE_NAME.fullmatch(rel):
                    continue
                table = self.objects.read_parquet(rel)
                if table is None:  # forgotten by a purge since the log was read
                    continue
                try:
                    at = datetime.fromisoformat(record.get("at")).astimezone(timezone.utc)
                except (TypeError, ValueError):
                    at = self.quarantine_written_at(rel)
                frames.append(pl.from_arrow(table).select(pl.col(c).cast(t) for c, t in QUARANTINE_SCHEMA.items())
                              .with_columns(pl.lit(at, schema["ingested"]).alias("ingested")))
        return pl.concat(frames) if frames else pl.DataFrame(schema=schema)

    def disk_bytes(self) -> int:
        """Bytes the store takes in the bucket (every object under its prefix)."""
        return sum(size for _, size, _ in self.objects.list(""))

    def quarantine_written_at(self, name: str) -> datetime:
        return tx_time(name)

    def pseudonym_key(self) -> bytes:
        key = self.objects.get("pseudonym.key")
        if key is None:
            self.objects.put("pseudonym.key", os.urandom(32), if_absent=True)  # of two first runs, one wins
            key = self.objects.get("pseudonym.key")
        if not key or len(key) < 16:
            raise StoreError(f"{self.root}/pseudonym.key: damaged")
        return key

    # -- upkeep ------------------------------------------------------------------------
    def sweep(self, wait: float = 0.0, grace_hours: float | None = None) -> tuple[int, int]:
        """Vacuum: delete files no commit names that are older than the grace period
        (replaced parts, uploads of runs that died). (deleted, 0)."""
        table = self.delta_table()
        if table is None:
            return 0, 0
        hours = self.grace_hours if grace_hours is None else grace_hours
        gone = table.vacuum(retention_hours=int(hours), enforce_retention_duration=False, dry_run=False)
        return len(gone), 0

    def recover(self) -> None:
        """What a run that died left: vacuum its uploads, and forget its checkpoint and
        quarantine objects once they are older than the grace period and uncommitted."""
        self.sweep()
        table = self.delta_table()
        if table is None:
            return
        limit = _now() - timedelta(hours=self.grace_hours)
        committed_q = {rel for r in self.manifest() for rel in r.get("quarantine", [])}
        stale = [name for name, _, at in self.objects.list("quarantine/")
                 if name not in committed_q and at < limit]
        self.objects.delete(stale)

    def check_sizes(self) -> list[str]:
        return [line for line, _ in self.size_problems()]

    def size_problems(self) -> list[tuple[str, str]]:
        """(line, the part it names) for every live file missing or not of its committed size."""
        problems = []
        present = {name: size for name, size, _ in self.objects.list("events/")}
        for rel, info in sorted(self.live_files().items()):
            if rel not in present:
                problems.append((f"{self.root}/{rel}: committed part is missing", rel))
            elif info.get("size") is not None and present[rel] != info["size"]:
                problems.append((f"{self.root}/{rel}: committed part is {present[rel]} bytes, "
                                 f"{info['size']} were committed (damaged)", rel))
        return problems
