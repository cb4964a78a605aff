"""A part: one Parquet file of one month partition, as a value instead of a path string.

Part of the store package, which alone knows the layout: a part of month `M` named
`N` lives at `events/month=M/N`. Retention, compaction and the fingerprint check
pass `Part` values around and hand them back to the store, which turns them into
paths; the manifest and the journal keep naming parts by `relpath`, so the files
on disk read exactly as before. Parts sort by month, then name (the order of
their `relpath`s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from surfaudit.errors import StoreError
from surfaudit.store.paths import PART_NAME

_PARTITION = re.compile(r"events/month=([^/]+)/([^/]+)")
# a part `verify --repair` set aside: `damaged/<damaged_name>` (our names and delta-rs's)
DAMAGED_NAME = re.compile(r"month=(\d{4}-\d{2})-part-[0-9A-Za-z.-]+\.parquet")


@dataclass(frozen=True, order=True)
class Part:
    month: str  # YYYY-MM, the UTC month of every row in it
    name: str  # the file name inside the month's directory

    @property
    def partition_path(self) -> str:
        """The path inside `events/` (what a Delta log entry names)."""
        return f"month={self.month}/{self.name}"

    @property
    def relpath(self) -> str:
        """The path relative to the store, as the manifest and the journal name it."""
        return f"events/{self.partition_path}"

    def __str__(self) -> str:
        return self.relpath

    @property
    def damaged_name(self) -> str:
        """Its file name in `damaged/` once `verify --repair` set it aside (DAMAGED_NAME)."""
        return f"month={self.month}-{self.name}"

    @classmethod
    def written(cls, month: str, tx: str, slot: int = 0) -> "Part":
        """The part a transaction `tx` writes for `month` (slot 0, 1, ...: one file per writer)."""
        return cls(month, f"part-{tx}{f'-{slot}' if slot else ''}.parquet")

    @classmethod
    def of(cls, rel: "Part | str") -> "Part":
        """The part a relative path names; StoreError unless it is one of this store's part names."""
        if isinstance(rel, Part):
            return rel
        match = PART_NAME.fullmatch(rel) if isinstance(rel, str) else None
        if not match:
            raise StoreError(f"{rel!r} is not a part of this store")
        return cls(match.group(1), rel.rsplit("/", 1)[1])

    @classmethod
    def in_partition(cls, rel: str) -> "Part":
        """Like `of`, for a file another writer named (delta-rs's optimize): any name
        inside `events/month=M/`."""
        match = _PARTITION.fullmatch(rel)
        if not match:
            raise StoreError(f"{rel!r} is not a part of this store")
        return cls(match.group(1), match.group(2))


def relpath(part: Part | str) -> str:
    """The relative path of a part given as a `Part` or (a manifest's name) a string."""
    return part.relpath if isinstance(part, Part) else part
