"""What a committed part must be: its recorded size, checksum, row count, schema and month.

Part of the store package. At commit every part's size, sha256
and row count go into its manifest record (`files`). Every read makes the cheap
check (one `stat` per part: present, regular, recorded size); `surfaudit verify`
makes the deep one (checksum, footer row count, every column decodes with the
canonical schema, every row's month is the partition's month). Parts committed by
an older version have no `files` entry: their size and checksum are unknown and
only the deep decode can be checked.
"""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING

from surfaudit.errors import StoreError

if TYPE_CHECKING:
    import pyarrow as pa


def describe(path: Path) -> dict:
    """size, sha256 and rows of a part just written (read back from the page cache)."""
    import pyarrow.parquet as pq  # here, not at import: a report reads without pyarrow

    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
        size = os.fstat(fh.fileno()).st_size
    return {"size": size, "sha256": digest, "rows": pq.read_metadata(path).num_rows}


def cheap_problem(path: Path, info: dict | None) -> str | None:
    """One line when the part is missing, not a regular file or not its recorded size."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return f"{path}: committed part is missing"
    except OSError as exc:
        return f"{path}: cannot read committed part ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return f"{path}: is a symlink; refusing to use it (nothing inside a store may be a symlink)"
    if not stat.S_ISREG(st.st_mode):
        return f"{path}: committed part is not a regular file"
    size = (info or {}).get("size")
    if isinstance(size, int) and st.st_size != size:
        return f"{path}: committed part is {st.st_size} bytes, {size} were committed (damaged)"
    return None


def check_cheap(path: Path, info: dict | None) -> None:
    problem = cheap_problem(path, info)
    if problem:
        raise StoreError(f"{problem}; run `surfaudit verify`")


def checksum_differs(path: Path, info: dict | None) -> bool:
    """True when a checksum was recorded and the file's bytes no longer match it."""
    if not (info or {}).get("sha256"):
        return False
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest() != info["sha256"]


def deep_problems(path: Path, info: dict | None, month: str, schema: pa.Schema) -> list[str]:
    """Every problem of one part, one line each (empty when it is sound)."""
    import pyarrow as pa
    import pyarrow.compute  # noqa: F401 - pa.compute
    import pyarrow.parquet as pq

    problem = cheap_problem(path, info)
    if problem:
        return [problem]
    info = info or {}
    out = []
    if checksum_differs(path, info):
        out.append(f"{path}: checksum differs from the one committed (damaged)")
    try:
        pf = pq.ParquetFile(path)
        rows, lo, hi = 0, None, None
        names = pf.schema_arrow.names
        if names == schema.names + ["site"]:  # written since the site column (older parts lack it)
            schema = schema.append(pa.field("site", pa.string()))
        if names != schema.names:
            return out + [f"{path}: columns {names} are not the store's schema"]
        for batch in pf.iter_batches(batch_size=1_000_000):
            batch = pa.Table.from_batches([batch]).cast(schema)
            rows += batch.num_rows
            ts = batch.column("ts")
            if batch.num_rows:
                bmin, bmax = pa.compute.min(ts).as_py(), pa.compute.max(ts).as_py()
                lo = bmin if lo is None or bmin < lo else lo
                hi = bmax if hi is None or bmax > hi else hi
    except (OSError, ValueError, pa.ArrowException) as exc:
        return out + [f"{path}: cannot be read as Parquet ({type(exc).__name__})"]
    if isinstance(info.get("rows"), int) and rows != info["rows"]:
        out.append(f"{path}: holds {rows} rows, {info['rows']} were committed")
    for edge in (lo, hi):
        if edge is not None and edge.astimezone(timezone.utc).strftime("%Y-%m") != month:
            out.append(f"{path}: holds rows outside its month {month} ({edge.astimezone(timezone.utc):%Y-%m})")
            break
    return out
