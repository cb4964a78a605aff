"""Ingest: log files -> canonical rows -> one store transaction per file.

For each file: detect the format, find where its content was already ingested
(fingerprint.find_resume), parse the remaining complete lines batch by batch,
drop rows older than the retention cutoff, quarantine bad lines, and commit the
rows, the quarantine and a manifest checkpoint together. A file that cannot be
read to the end (corrupt or truncated compression) is aborted whole: nothing of
it becomes visible, and the other files still go in. The caller holds the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from ingest import detect, fingerprint
from ingest.reader import first_lines, is_log_file, iter_batches, prefetch
from surfaudit import audit, clock
from surfaudit.config import Config
from surfaudit.errors import InputError, StoreError
from surfaudit.store import Store

Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)


@dataclass
class FileResult:
    file: str
    format: str = "-"
    lines: int = 0  # lines read this run, duplicates included
    rows: int = 0  # rows written
    duplicates: int = 0  # lines skipped because already ingested
    expired: int = 0  # rows older than the retention cutoff, not written
    rejected: int = 0  # malformed lines, quarantined
    error: str | None = None  # the file was rejected whole

    def as_dict(self) -> dict:
        return asdict(self)


COMPILING = "compiling the log parsers: the first run after an install takes about half a minute"


def warm(notice: Callable[[str], None] | None = None) -> None:
    """Compile the parsers' scanners now (numba; after the first run they load
    from its on-disk cache in a fraction of a second). `notice` is told, once,
    if that takes more than two seconds (the first run). Tests and benchmarks
    call this first so that no timing includes the one-time compile."""
    from ingest import csv_scan, squid_scan
    from ingest.reader import make_batch

    timer = threading.Timer(2.0, notice, (COMPILING,)) if notice else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        squid_scan.warm()
        csv_scan.warm()
        make_batch(b"x\n", 1, 0)
    finally:
        if timer:
            timer.cancel()


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and every log file inside named directories (oldest first)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [p for p in path.iterdir() if is_log_file(p)]
            out.extend(sorted(found, key=lambda p: (p.stat().st_mtime, p.name)))
        else:
            out.append(path)
    return out


def ingest_paths(store: Store, cfg: Config, paths: Iterable[str | Path], fmt: str = "auto",
                 progress: Progress | None = None, now: datetime | None = None,
                 notice: Callable[[str], None] | None = None) -> list[FileResult]:
    """Ingest every file; one FileResult each. The caller holds the store lock.
    `notice` hears of a slow first run (see `warm`)."""
    store.ensure()
    warm(notice)
    cutoff = clock.retention_cutoff(cfg.retention.months, now)
    results = [ingest_file(store, cfg, path, fmt, cutoff, progress) for path in expand(paths)]
    audit.record(store, "ingest", rows=sum(r.rows for r in results),
                 detail=f"{len(results)} files, {sum(r.rejected for r in results)} lines rejected, "
                        f"{sum(1 for r in results if r.error)} files failed")
    return results


def ingest_file(store: Store, cfg: Config, path: Path, fmt: str, cutoff: datetime,
                progress: Progress | None = None) -> FileResult:
    result = FileResult(file=str(path))
    try:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        head = fingerprint.head_block(path)
        lineage = fingerprint.lineage_of(head)
        if lineage is None:  # empty, or no complete line yet: wait for the next run
            return result
        module = _choose_format(path, fmt)
        result.format = module.NAME
        records = [r for r in store.manifest() if r.get("kind") == "ingest" and r.get("lineage") == lineage]
        checkpoints = [(r["offset_to"], r["hash"]) for r in records]
        resume = fingerprint.find_resume(path, checkpoints)
        overlap = fingerprint.Overlap.find(store, records, resume.offset)
        result.duplicates = resume.lines
        result.lines = resume.lines
        parser = module.make_parser(head.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r"),
                                    cfg.schedule.timezone)
        _ingest_rest(store, path, parser, resume, lineage, cutoff, result, progress, overlap)
    except (InputError, StoreError) as exc:
        result.error = str(exc)
    except OSError as exc:
        result.error = f"{path}: cannot read ({exc.strerror})"
    return result


def _choose_format(path: Path, fmt: str):
    if fmt != "auto":
        return detect.get_format(fmt)
    module = detect.detect(first_lines(path))
    if module is None:
        raise InputError(f"{path}: unknown log format (use --format squid|surfprotect)")
    return module


def _ingest_rest(store: Store, path: Path, parser, resume: fingerprint.Resume, lineage: str,
                 cutoff: datetime, result: FileResult, progress: Progress | None,
                 overlap: fingerprint.Overlap | None = None) -> None:
    hasher = resume.hasher
    end = resume.offset
    total = path.stat().st_size
    with _writing(store):
        txn = store.begin("ingest")
    writer = _BackgroundWriter(txn, path.name)
    try:
        skip_header = parser.header_lines if resume.offset == 0 else 0
        # Reading, decompression and hashing run in a thread beside the parser.
        for batch in prefetch(iter_batches(path, resume.offset, resume.lines + 1, hasher=hasher)):
            end = batch.end
            raw = batch.raw()  # the parser makes a String column of the lines only if it needs one
            first_no = batch.first_line_no
            if skip_header:
                raw, first_no, skip_header = raw.slice(skip_header), first_no + skip_header, 0
            result.lines += batch.n
            rows, bad = parser.parse(None, first_no, raw)
            bad = _fix_invalid_utf8(batch, bad)
            fresh = rows.filter(pl.col("ts") >= cutoff)
            result.expired += rows.height - fresh.height
            if overlap is not None:  # a copy ending between checkpoints: drop what was committed
                unseen, new_bad = overlap.subtract(fresh), overlap.subtract_bad(bad)
                result.duplicates += fresh.height - unseen.height + bad.height - new_bad.height
                fresh, bad = unseen, new_bad
            result.rows += fresh.height
            result.rejected += bad.height
            with _writing(store):
                writer.submit(fresh, bad)  # Parquet encoding overlaps the next batch's parse
            if progress:
                progress(path.name, min(batch.end, total), total)
        with _writing(store):
            writer.drain()
        if end == resume.offset:  # nothing new
            txn.abort()
            return
        with _writing(store):
            txn.commit({"lineage": lineage, "offset_from": resume.offset, "offset_to": end,
                        "hash": hasher.hexdigest(), "file": path.name, "format": result.format,
                        "lines": result.lines, "rows": result.rows, "duplicates": result.duplicates,
                        "expired": result.expired, "rejected": result.rejected})
    except BaseException:
        writer.close()
        txn.abort()
        result.rows = 0
        raise
    finally:
        writer.close()


class _BackgroundWriter:
    """Writes parsed batches in worker threads while the next batch is parsed.

    pyarrow encodes and compresses without the GIL, so the writes use the core the
    parser leaves idle. Batches alternate between SLOTS threads, each writing its
    own file per month (so a large file becomes SLOTS parts; compaction merges
    them); each slot keeps its batches in order and has at most one in flight, so
    memory stays bounded. A failed write re-raises in the caller at the next
    submit or drain.
    """

    SLOTS = 2

    def __init__(self, txn, file_name: str):
        self.txn, self.file_name = txn, file_name
        self.pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"surfaudit-write{k}")
                      for k in range(self.SLOTS)]
        self.pending: list = [None] * self.SLOTS
        self.count = 0

    def submit(self, rows: pl.DataFrame, bad: pl.DataFrame) -> None:
        # Rejected lines (few) are written here, so the quarantine keeps line order.
        self.txn.quarantine(bad.with_columns(pl.lit(self.file_name).alias("file")))
        slot = self.count % self.SLOTS
        self.count += 1
        self._wait(slot)
        self.pending[slot] = self.pools[slot].submit(self.txn.write, rows, slot)

    def _wait(self, slot: int) -> None:
        if self.pending[slot] is not None:
            pending, self.pending[slot] = self.pending[slot], None
            pending.result()

    def drain(self) -> None:
        for slot in range(self.SLOTS):
            self._wait(slot)

    def close(self) -> None:
        for slot, pending in enumerate(self.pending):
            if pending is not None:
                pending.cancel()
                try:
                    pending.result()
                except BaseException:  # noqa: BLE001 - the first error is already propagating
                    pass
                self.pending[slot] = None
        for pool in self.pools:
            pool.shutdown(wait=True)


@contextmanager
def _writing(store: Store) -> Iterator[None]:
    """A failed write to the store (a full disk) is the store's error, not an unreadable log."""
    try:
        yield
    except OSError as exc:
        raise StoreError(f"{store.root}: write failed ({exc.strerror or exc}); the store was left as it was") from None


def _fix_invalid_utf8(batch, bad: pl.DataFrame) -> pl.DataFrame:
    """Lines that were not UTF-8 are quarantined as such, with their bytes decoded leniently."""
    # An invalid line is always a bad line, and reaches the parser as U+FFFD alone.
    suspects = bad.filter(pl.col("line") == "\ufffd").get_column("line_no").to_list()
    numbers = {}
    for line_no in suspects:
        raw = batch.raw_line_bytes(line_no - batch.first_line_no)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            numbers[line_no] = raw.decode("utf-8", "replace")
    if not numbers:
        return bad
    fixed = bad.with_columns(
        pl.when(pl.col("line_no").is_in(list(numbers))).then(pl.lit("invalid utf-8")).otherwise(pl.col("reason")).alias("reason"),
        pl.col("line_no").replace_strict(numbers, default=pl.col("line"), return_dtype=pl.String).alias("line"),
    )
    return fixed
