"""The canonical event schema (DESIGN §3): one row per proxy request.

Every parser produces exactly these columns, in this order, with these types, so
the store, the queries and the exports can rely on them.
"""

import polars as pl

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "user": pl.String(),
    "username": pl.String(),
    "client_ip": pl.String(),
    "method": pl.String(),
    "host": pl.String(),
    "url": pl.String(),
    "action": pl.String(),
    "status": pl.Int32(),
    "bytes": pl.Int64(),
    "elapsed_ms": pl.Int64(),
    "category": pl.String(),
    "source": pl.String(),
}

COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA)

# What the store keeps per row: the event, and the site whose ingest wrote it
# (`[ingest] site`, else the host name). Parts written before the column existed
# read it as null.
STORED_SCHEMA: dict[str, pl.DataType] = {**EVENT_SCHEMA, "site": pl.String()}

ACTIONS = ("allowed", "blocked", "auth", "error")

# Quarantined (rejected) lines: where they came from and why.
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line_no": pl.Int64(),
    "reason": pl.String(),
    "line": pl.String(),
}

# An audit entry (surfaudit.audit): what the audit command shows, then the writer's pid.
AUDIT_ENTRY_SCHEMA: dict[str, pl.DataType] = {
    **{name: pl.String() for name in ("time", "os_user", "command", "target", "date_from", "date_to", "reason")},
    "rows": pl.Int64(),
    "detail": pl.String(),
    "pid": pl.Int64(),
}


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Return `df` with exactly the canonical columns, order and types."""
    return df.select(pl.col(name).cast(dtype) for name, dtype in EVENT_SCHEMA.items())


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=EVENT_SCHEMA)
