"""The store's read side: which parts are committed, and reading them safely.

Part of the store package (a mixin of `Store`; only the store knows the layout).
Readers see ONE manifest state: `events_view` takes the shared reader lock before
it reads the manifest and keeps it as long as the DuckDB connection lives, so the
parts it lists stay on disk however many compactions and purges commit meanwhile
(readers.py). Every part a read needs is checked first (present, regular, its
recorded size; integrity.py): a missing or damaged part is one line naming it,
never silently wrong totals.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from surfaudit.arrow_stream import register_frame
from surfaudit.errors import StoreError
from surfaudit.schema import EVENT_SCHEMA, QUARANTINE_SCHEMA, STORED_SCHEMA
from surfaudit.store import integrity, readers
from surfaudit.store.part import Part, relpath
from surfaudit.store.paths import confined, month_of, refuse_symlink, symlink_error, tx_time

_VIEWS = itertools.count()  # names the relation views behind `events_view` (see there)

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class PartStats:
    """One committed part: rows and the UTC range of `ts` (None when it has no rows)."""
    part: Part
    rows: int
    ts_min: datetime | None
    ts_max: datetime | None

    @property
    def rel(self) -> str:
        return self.part.relpath


class Reading:
    """Read-side methods of Store (needs root, events_dir, quarantine_dir, manifest())."""

    # -- which parts are committed -----------------------------------------------
    @staticmethod
    def live_parts_of(records: Iterable[dict]) -> dict[str, str]:
        """What `live_parts()` would return if the manifest held exactly `records`."""
        return {rel: info["month"] for rel, info in Reading.live_files_of(records).items()}

    @staticmethod
    def live_files_of(records: Iterable[dict]) -> dict[str, dict]:
        """Live part -> {month, and size/sha256/rows when its record has them (newer stores)}."""
        live: dict[str, dict] = {}
        for record in records:
            for rel in record.get("removes", []):
                live.pop(rel, None)
            files = record.get("files") or {}
            for rel in record.get("parts", []):
                live[rel] = {**(files.get(rel) or {}), "month": month_of(rel)}
        return live

    def lineage_records(self, lineage: str) -> list[dict]:
        """The committed ingest records of one source (its fingerprint checkpoints)."""
        return [r for r in self.manifest() if r.get("kind") == "ingest" and r.get("lineage") == lineage]

    def live_parts(self) -> dict[str, str]:
        """Committed, not replaced parts: relative path -> month."""
        return self.live_parts_of(self.manifest())

    def part_list(self, records: Iterable[dict] | None = None) -> list[Part]:
        """The live parts (of `records`, else of the manifest) in commit order."""
        return [Part.of(rel) for rel in self.live_parts_of(self.manifest() if records is None else records)]

    def live_files(self, records: list[dict] | None = None) -> dict[str, dict]:
        return self.live_files_of(self.manifest() if records is None else records)

    def retired(self, records: list[dict] | None = None) -> list[Part]:
        """Parts a committed record replaced that are still on disk (deleted by `sweep`)."""
        records = self.manifest() if records is None else records
        live = self.live_parts_of(records)
        out = set()
        for record in records:
            for rel in record.get("removes", []):
                if rel not in live:
                    path = confined(self.root, rel, f"{self.manifest_path}")
                    if path.is_file():
                        out.add(Part.of(rel))
        return sorted(out)

    def retired_parts(self, records: list[dict] | None = None) -> list[Path]:
        """The paths of `retired()`."""
        return [self.root / part.relpath for part in self.retired(records)]

    def sweep(self, wait: float = 0.0) -> tuple[int, int]:
        """Delete retired parts unless a reader is active: (deleted, deferred)."""
        return readers.sweep(self, wait)

    def reading(self):
        """Context manager: the parts of the manifest read inside stay on disk until it ends."""
        return readers.reading(self)

    def months(self) -> list[str]:
        return sorted(set(self.live_parts().values()))

    def _checked(self, parts: Iterable[Part | str], files: dict[str, dict] | None = None) -> list[Path]:
        """Absolute paths of committed parts, each present with its recorded size (else StoreError)."""
        files = self.live_files() if files is None else files
        out = []
        for rel in map(relpath, parts):
            path = confined(self.root, rel, "a committed part")
            integrity.check_cheap(path, files.get(rel))
            out.append(path)
        return out

    def parts(self, months: Iterable[str] | None = None) -> list[Path]:
        wanted = set(months) if months is not None else None
        files = self.live_files()
        return self._checked([rel for rel, info in sorted(files.items())
                              if wanted is None or info["month"] in wanted], files)

    def month_parts(self) -> dict[str, list[Part]]:
        """Month -> its committed parts (sorted), for compaction and retention."""
        out: dict[str, list[Part]] = {}
        for part in sorted(self.part_list()):
            out.setdefault(part.month, []).append(part)
        return out

    def events_view(self, con: "duckdb.DuckDBPyConnection", utc_from: datetime | None = None,
                    utc_to: datetime | None = None, name: str = "events",
                    records: list[dict] | None = None, site: str | None = None) -> list[str]:
        """Create view `name` over the committed parts of the months overlapping [from, to)
        (with `site`: only the rows that site's ingest wrote).

        Returns the months read. The reader lock is taken before the manifest is read
        and held while `con` lives, so the view is one committed state of the store
        from the first query to the last. Pass `records` read inside `reading()` to
        use the caller's manifest state.
        """
        if records is None:
            readers.pin(self, con)
            records = self.manifest()
        lo = utc_from.astimezone(timezone.utc).strftime("%Y-%m") if utc_from else "0000-00"
        hi = utc_to.astimezone(timezone.utc).strftime("%Y-%m") if utc_to else "9999-99"
        live = self.live_files(records)
        chosen = [(rel, info["month"]) for rel, info in sorted(live.items()) if lo <= info["month"] <= hi]
        files = [str(path) for path in self._checked([rel for rel, _ in chosen], live)]
        con.execute("SET TimeZone = 'UTC'")
        if files and getattr(con, "engine", "duckdb") != "duckdb":  # Spark: the canonical columns
            con.read_parquet(files).create_view(name, replace=True, site=site)
        elif files:
            import duckdb

            rel = con.read_parquet(files, union_by_name=True)  # parts older than `site` read it as null
            if "site" not in rel.columns:
                rel = rel.select(*[duckdb.ColumnExpression(c) for c in rel.columns],
                                 duckdb.ConstantExpression(None).cast(duckdb.sqltype("VARCHAR")).alias("site"))
            if site is not None:
                rel = rel.filter(duckdb.ColumnExpression("site") == duckdb.ConstantExpression(site))
            # a TEMP view, as the other paths and the s3:// store make (an older temp view of
            # the same name would shadow a persistent one), over a relation's view named once:
            # a view renamed meanwhile (org_sql's events_stored) keeps reading its own parts
            parts = f"_{name}_parts_{next(_VIEWS)}"
            rel.create_view(parts, replace=True)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {parts}")
        else:
            register_frame(con, f"_{name}_empty", pl.DataFrame(schema=STORED_SCHEMA))
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM _{name}_empty")
        return sorted({month for _, month in chosen})

    def check_sizes(self) -> list[str]:
        """The cheap check of every committed part (nightly): one line per problem."""
        problems = []
        for rel, info in sorted(self.live_files().items()):
            problem = integrity.cheap_problem(self.root / rel, info)
            if problem:
                problems.append(problem)
        return problems

    def part_problem(self, part: Part | str) -> str | None:
        """The cheap check of one committed part: None, or one line naming it."""
        rel = relpath(part)
        return integrity.cheap_problem(confined(self.root, rel, "a committed part"), self.live_files().get(rel))

    def part_problems(self, part: Part | str, info: dict) -> list[str]:
        """The deep check of one committed part (verify)."""
        from surfaudit.store.arrow_schema import ARROW_SCHEMA

        return integrity.deep_problems(confined(self.root, relpath(part), "a committed part"), info, info["month"],
                                       ARROW_SCHEMA)

    def find_unreadable_part(self, parts: Iterable[Part | str] | None = None) -> Path | None:
        """The first committed part whose Parquet footer does not read (to name it in an error)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        for rel in sorted(map(relpath, parts) if parts is not None else self.live_parts()):
            path = self.root / rel
            try:
                pq.read_metadata(path)
            except (OSError, ValueError, pa.ArrowException):
                return path
        return None

    def find_damaged_part(self) -> Path | None:
        """After a read failed without naming a file: the first live part that is missing,
        the wrong size, unreadable or (where recorded) not its checksum."""
        for rel, info in sorted(self.live_files().items()):
            path = confined(self.root, rel, "a committed part")
            if integrity.cheap_problem(path, info) or integrity.checksum_differs(path, info):
                return path
        return self.find_unreadable_part()

    def scan_events_dir(self) -> list[str]:
        """Anything under events/ that the store did not put there (symlinks, stray files)."""
        problems = []
        refuse_symlink(self.events_dir)
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

    def remove_empty_months(self) -> None:
        """Remove month directories left empty (after a commit, a sweep, a repair)."""
        if self.events_dir.is_dir() and not self.events_dir.is_symlink():
            for entry in self.events_dir.iterdir():
                if entry.is_dir() and not entry.is_symlink() and entry.name.startswith("month=") and not any(entry.iterdir()):
                    entry.rmdir()

    def part_path(self, part: Part | str) -> Path:
        """The absolute path of a committed part (a `Part`, or named relative to the store)."""
        return confined(self.root, relpath(part), "a committed part")

    def quarantine_path(self, rel: str) -> Path:
        """The absolute path of a committed quarantine file named relative to the store."""
        return confined(self.root, rel, "a committed quarantine file", quarantine=True)

    def part_stats(self, part: Part | str) -> PartStats:
        """Rows and ts range of one part from its Parquet footer (falls back to reading ts)."""
        import pyarrow as pa
        import pyarrow.compute  # noqa: F401 - pa.compute
        import pyarrow.parquet as pq

        path = self._checked([part])[0]
        try:
            meta = pq.read_metadata(path)
            col = meta.schema.names.index("ts")
            stats = [meta.row_group(i).column(col).statistics for i in range(meta.num_row_groups)]
            if all(st is not None and st.has_min_max for st in stats):
                lo, hi = (min(st.min for st in stats), max(st.max for st in stats)) if stats else (None, None)
            else:  # no statistics: read the one column
                ts = pq.read_table(path, columns=["ts"]).column("ts")
                lo, hi = pa.compute.min(ts).as_py(), pa.compute.max(ts).as_py()
            return PartStats(Part.of(part), meta.num_rows, lo, hi)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise StoreError(f"{path}: cannot read Parquet part ({type(exc).__name__}); run `surfaudit verify`") from None

    def read_parts(self, parts: Iterable[Part | str]) -> pl.DataFrame:
        """The rows of the given committed parts (canonical schema)."""
        files = [str(p) for p in self._checked(list(parts))]
        if not files:
            return pl.DataFrame(schema=EVENT_SCHEMA)
        try:
            return pl.concat([_stored(pl.read_parquet(f)) for f in files]).select(list(EVENT_SCHEMA))
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise StoreError(f"{self.root}: cannot read parts ({type(exc).__name__}); run `surfaudit verify`") from None

    def stream_parts(self, parts: Iterable[Part | str], ts_from: datetime | None = None,
                     batch_rows: int = 1_000_000) -> Iterator[pl.DataFrame]:
        """The rows of the given parts sorted by ts, in batches, with bounded memory.

        DuckDB sorts out of core (spilling under staging/, which is private), so
        compacting or trimming a 30-million-row month does not need it in memory.
        """
        import duckdb  # (imported here: ingest, which never sorts, starts faster without it)
        import pyarrow as pa

        rels = [relpath(part) for part in parts]
        files = [str(p) for p in self._checked(rels)]
        if not files:
            return
        con = duckdb.connect(config={"memory_limit": "512MB", "temp_directory": str(self.staging_dir / "duckdb-spill")})
        try:
            rel = con.read_parquet(files, union_by_name=True)
            if ts_from is not None:
                rel = rel.filter(duckdb.ColumnExpression("ts") >= duckdb.ConstantExpression(ts_from))
            reader = rel.order("ts").to_arrow_reader(batch_rows)
            for batch in reader:
                yield _stored(pl.from_arrow(pa.Table.from_batches([batch])))
        except (OSError, duckdb.Error) as exc:
            bad = self.find_unreadable_part(rels)
            where = f"{bad}: cannot read Parquet part" if bad else f"{self.root}: cannot read parts"
            raise StoreError(f"{where} ({type(exc).__name__}); run `surfaudit verify`") from None
        finally:
            con.close()

    def event_files(self) -> list[str]:
        """Regular files inside the month directories (relative), committed or not."""
        return sorted(str(f.relative_to(self.root)) for f in self.events_dir.glob("*/*")
                      if f.is_file() and not f.is_symlink() and not f.parent.is_symlink())

    def quarantine_files(self) -> list[Path]:
        """The quarantine files; a symlink among them is refused."""
        if not self.quarantine_dir.is_dir():
            return []
        files = sorted(self.quarantine_dir.glob("q-*.parquet"))
        for path in files:
            if path.is_symlink():
                raise symlink_error(path)
        return files

    def disk_bytes(self) -> int:
        """Bytes the store takes on disk: its regular files, symlinks neither followed nor counted."""
        import os
        import stat

        total = 0
        for top, dirs, files in os.walk(self.root):  # os.walk does not descend into symlinked directories
            for name in files:
                try:
                    st = os.lstat(os.path.join(top, name))
                except OSError:  # removed meanwhile (a sweep, a purge)
                    continue
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
        return total

    def quarantined_lines(self) -> pl.DataFrame:
        """The rejected lines of every committed ingest whose quarantine file is still kept
        (purge forgets them with the data), in commit order: file, line_no, reason, line
        and `ingested` (the UTC time of the commit). Only files a committed record names
        are read, never one a crash left between rename and commit."""
        schema = {**QUARANTINE_SCHEMA, "ingested": pl.Datetime("us", "UTC")}
        frames = []
        for record in self.manifest():
            for rel in record.get("quarantine", []):
                path = self.quarantine_path(rel)
                refuse_symlink(path)
                try:
                    frame = pl.read_parquet(path)
                except FileNotFoundError:  # forgotten by a purge since the manifest was read
                    continue
                except (OSError, pl.exceptions.PolarsError) as exc:
                    raise StoreError(f"{path}: cannot read quarantine file ({type(exc).__name__}); "
                                     "run `surfaudit verify`") from None
                at = _commit_time(record.get("at")) or self.quarantine_written_at(path)
                frames.append(frame.select(pl.col(c).cast(t) for c, t in QUARANTINE_SCHEMA.items())
                              .with_columns(pl.lit(at, schema["ingested"]).alias("ingested")))
        return pl.concat(frames) if frames else pl.DataFrame(schema=schema)

    def quarantine_written_at(self, path: Path) -> datetime:
        """When a quarantine file was written: its transaction id's time, else its mtime."""
        try:
            return tx_time(path.name)
        except ValueError:
            return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


def _stored(df: pl.DataFrame) -> pl.DataFrame:
    """Rows of a part in the stored schema (a part older than `site` gets it as null)."""
    if "site" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("site"))
    return df.select(pl.col(c).cast(t) for c, t in STORED_SCHEMA.items())


def _commit_time(text: object) -> datetime | None:
    """A manifest record's `at` as a UTC datetime (None when absent or unreadable)."""
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc) if isinstance(text, str) else None
    except ValueError:
        return None
