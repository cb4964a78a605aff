"""Content fingerprints that make ingest exactly-once (not by path).

A source is known by its *lineage*: the hash of its first line. Each commit
records a checkpoint (byte offset of the last complete line ingested, and the
hash of the decompressed content up to it). A new file with the same first line
is hashed up to the known checkpoints; the largest checkpoint whose prefix hash
matches is where ingest resumes. So the same file again, a renamed copy, a gzip
of it, the rotated `access.log.1(.gz)` or a grown live file add only lines that
were never committed. Hashes are of decompressed bytes, so compression and names
do not matter.

Copies that end between checkpoints. An old copy of the live file, or a copy cut
at a line boundary, can end *between* two checkpoints of its lineage: it resumes
at the lower one, and its lines from there to its end may already have been
committed by the lineage's later transactions (the file is then a prefix of that
longer content) — or may be new (the file diverged). Without the longer content
no hash can tell, and recording a checkpoint per line would make the manifest as
long as the logs. So when the lineage has records beyond the resume point
(`Overlap.find`), the new rows are de-duplicated against the rows those later
transactions committed: their parts are named in the manifest (when compaction or
a purge has replaced a part, the live parts of its month stand in, a superset),
read only over the time range of the batch, and anti-joined *with multiplicity*
(a row is dropped only while an identical committed row is left to match it), so
a file that is a prefix adds nothing, and a diverging file loses a row only if an
identical row — same instant to the microsecond, identity, URL, size, ... — was
already committed by the same lineage's later content. Rejected lines are matched
against those transactions' quarantine by (line number, text). The ordinary
cases (a grown live file, the same file again, the rotated file) resume at the
lineage's last checkpoint, have no later records, and pay nothing for this.

The content hash is BLAKE3 (cryptographic like SHA-256, and about four times as
fast here, where hashing the stream was a sixth of an ingest's CPU time); its
checkpoints are written `blake3:<hex>`. A bare hex digest is SHA-256, which stores
written before this change hold: those checkpoints are still matched, by hashing
with both, and the next commit of the lineage records BLAKE3.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import blake3
import polars as pl

from ingest.reader import read_blocks
from surfaudit.schema import EVENT_SCHEMA
from surfaudit.store.part import Part

HEAD_LIMIT = 4096


@dataclass
class Resume:
    offset: int  # bytes of the decompressed stream already committed
    lines: int  # complete lines in that prefix
    hasher: "blake3.blake3"  # the content hash's state after content[:offset]


PREFIX = "blake3:"


def new_hasher() -> "blake3.blake3":
    return blake3.blake3()


def checkpoint_digest(hasher: "blake3.blake3") -> str:
    """What a commit records as the hash of the content up to its checkpoint."""
    return PREFIX + hasher.hexdigest()


def _algorithm(digest: str) -> str:
    return "blake3" if digest.startswith(PREFIX) else "sha256"


def lineage_of(first_block: bytes) -> str | None:
    """Hash of the first line (capped), or None when there is no complete line yet."""
    cut = first_block.find(b"\n", 0, HEAD_LIMIT)
    head = first_block[: cut + 1] if cut >= 0 else first_block[:HEAD_LIMIT]
    if cut < 0 and len(first_block) < HEAD_LIMIT:
        return None
    return hashlib.sha256(head).hexdigest()[:32]


def head_block(path: Path) -> bytes:
    for block in read_blocks(path, 0, HEAD_LIMIT + 1):
        return block
    return b""


def find_resume(path: Path, checkpoints: list[tuple[int, str]]) -> Resume:
    """Hash `path` up to its known checkpoints and return where to resume."""
    best = Resume(0, 0, new_hasher())
    if not checkpoints:
        return best
    targets = sorted(set(checkpoints))
    last = targets[-1][0]
    # One running hash per algorithm the checkpoints use; BLAKE3 always, for the resume.
    hashers = {"blake3": new_hasher()}
    if any(_algorithm(d) == "sha256" for _, d in targets):
        hashers["sha256"] = hashlib.sha256()
    pos = lines = 0
    i = 0
    prev_last = b"\n"
    for block in read_blocks(path):
        while i < len(targets) and targets[i][0] <= pos + len(block):
            offset, digest = targets[i]
            piece = block[: offset - pos]
            algorithm = _algorithm(digest)
            probe = hashers[algorithm].copy()
            probe.update(piece)
            if (PREFIX + probe.hexdigest() if algorithm == "blake3" else probe.hexdigest()) == digest:
                if algorithm != "blake3":
                    probe = hashers["blake3"].copy()
                    probe.update(piece)
                # A checkpoint may end on a finished file's unterminated last line.
                unterminated = offset > 0 and (piece[-1:] if piece else prev_last) != b"\n"
                best = Resume(offset, lines + piece.count(b"\n") + (1 if unterminated else 0), probe)
            i += 1
        if i >= len(targets) or pos + len(block) >= last:
            break
        for hasher in hashers.values():
            hasher.update(block)
        lines += block.count(b"\n")
        prev_last = block[-1:]
        pos += len(block)
    return best


def counted_lines(records: list[dict], offset: int) -> int | None:
    """How many lines of the prefix up to `offset` the summaries counted (rows,
    duplicates, expired, rejected: not the ignored ones, header, blank or other
    programs' lines), from the latest committed record ending there; None when no
    record says (one written before these counts were kept). A record's
    duplicates are the counted lines before its start plus the overlap within
    it, so these four counts cover the prefix from the file's first line; less the
    rows syslog's repeat lines stood for beyond their one line (`extra_rows`), so the
    count is of the file's lines, and the prefix's duplicates are its lines."""
    keys = ("rows", "duplicates", "expired", "rejected")
    for r in reversed(records):
        if r.get("offset_to") == offset and all(isinstance(r.get(k), int) for k in keys):
            extra = r.get("extra_rows")  # syslog's repeat lines: N counted, one line in the file
            return sum(r[k] for k in keys) - (extra if isinstance(extra, int) and extra > 0 else 0)
    return None


@dataclass
class Overlap:
    """What a lineage's transactions beyond the resume point committed (see module doc)."""

    files: list[Path]  # committed parts (or their month's live parts) holding those rows
    quarantine: list[Path]  # their quarantine files
    used: pl.DataFrame | None = None  # committed rows already matched: key columns + `_n`
    _bad: set = field(default_factory=set)
    store: object = None  # an object-store store: rows and quarantine are read through it
    months: list[str] = field(default_factory=list)

    @classmethod
    def find(cls, store, records: list[dict], offset: int) -> "Overlap | None":
        """None when no record of the lineage reaches beyond `offset` (the ordinary case)."""
        later = [r for r in records if r.get("offset_to", 0) > offset]
        if not later:
            return None
        if hasattr(store, "overlap_for"):  # object storage: the months those commits touched
            months, quarantine = store.overlap_for(later)
            return cls([], list(quarantine), store=store, months=months)
        live = store.part_list()  # in commit order
        committed = set(live)
        files: dict[Part, None] = {}
        quarantine = []
        for record in later:
            for part in store.part_list([record]):
                if part in committed:
                    files[part] = None
                else:  # replaced by compaction or a purge: its month's live parts hold the rows
                    files.update(dict.fromkeys(p for p in live if p.month == part.month))
            quarantine += [store.quarantine_path(rel) for rel in record.get("quarantine", [])]
        return cls([store.part_path(part) for part in files if store.part_path(part).is_file()],
                   [q for q in quarantine if q.is_file()])

    def subtract(self, rows: pl.DataFrame) -> pl.DataFrame:
        """`rows` minus committed rows, with multiplicity, across calls."""
        if rows.height == 0 or not (self.files or self.months):
            return rows
        cols = list(EVENT_SCHEMA)
        lo, hi = rows["ts"].min(), rows["ts"].max()
        if self.store is not None:
            scan = self.store.read_months(self.months, cols, (lo, hi)).lazy()
        else:
            scan = pl.scan_parquet(self.files, missing_columns="insert", extra_columns="ignore").filter(pl.col("ts").is_between(lo, hi))
        committed = (scan
                     .group_by(cols).agg(pl.len().alias("_avail")).collect().cast({**EVENT_SCHEMA, "_avail": pl.Int64}))
        if self.used is not None:
            committed = (committed.join(self.used, on=cols, how="left", nulls_equal=True)
                         .with_columns((pl.col("_avail") - pl.col("_n").fill_null(0)).alias("_avail")).drop("_n"))
        keyed = rows.with_columns(pl.int_range(pl.len()).over(cols).cast(pl.Int64).alias("_k"))
        keyed = keyed.join(committed, on=cols, how="left", nulls_equal=True, maintain_order="left")
        dup = pl.col("_k") < pl.col("_avail").fill_null(0)
        matched = keyed.filter(dup).group_by(cols).agg(pl.len().cast(pl.Int64).alias("_n"))
        if matched.height:
            self.used = matched if self.used is None else (
                pl.concat([self.used, matched]).group_by(cols).agg(pl.col("_n").sum()))
        return keyed.filter(~dup).select(cols)

    def subtract_bad(self, bad: pl.DataFrame) -> pl.DataFrame:
        """Rejected lines minus those the later transactions already quarantined."""
        if bad.height == 0 or not self.quarantine:
            return bad
        if not self._bad:
            for path in self.quarantine:
                if self.store is not None:
                    table = self.store.objects.read_parquet(path)
                    if table is None:  # purge has forgotten it meanwhile
                        continue
                    q = pl.from_arrow(table).select("line_no", "line")
                else:
                    q = pl.read_parquet(path, columns=["line_no", "line"])
                self._bad.update(zip(q["line_no"].to_list(), q["line"].to_list()))
        keep = [(n, t) not in self._bad for n, t in zip(bad["line_no"].to_list(), bad["line"].to_list())]
        return bad.filter(pl.Series(keep, dtype=pl.Boolean))
