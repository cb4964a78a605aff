"""The audit log: who ran which investigation, every ingest and every purge.

Entries are appended to the store's audit log (only the store knows where) and
hold no URLs: an investigation entry names the identity, the reason and the
range, because the policy requires the trust to be able to show why it looked.
Entries older than the retention period are dropped by the purge like the data
they describe (see README "Privacy").
"""

from __future__ import annotations

import getpass
import os
from datetime import date, datetime, timezone

import polars as pl

from surfaudit import clock
from surfaudit.schema import AUDIT_ENTRY_SCHEMA
from surfaudit.store import Store

AUDIT_COLUMNS = tuple(name for name in AUDIT_ENTRY_SCHEMA if name != "pid")  # what `audit` shows


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return str(os.getuid())


def record(store: Store, command: str, *, rows: int = 0, target: str | None = None,
           date_from: date | None = None, date_to: date | None = None, reason: str | None = None,
           detail: str | None = None, wait: float = 10, store_lock: bool = True) -> dict:
    """Append one entry and return it as written: under the store lock (exports, purges,
    repairs) and the audit log's own lock, waiting up to `wait` s; `store_lock=False`
    (a report recording whom it named) takes the audit log's lock alone, so it never
    waits for a nightly run. Purge's rewrite holds both, so no entry is ever lost."""
    entry = {
        "time": clock.now().isoformat(timespec="seconds"),
        "os_user": os_user(),
        "command": command,
        "target": target,
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "reason": reason,
        "rows": int(rows),
        "detail": detail,
        "pid": os.getpid(),
    }
    return store.append_audit(entry, wait=wait, store_lock=store_lock)


def entries(store: Store, date_from: date | None = None, date_to: date | None = None) -> pl.DataFrame:
    """Audit entries (UTC dates, inclusive) as a table with AUDIT_COLUMNS."""
    rows = []
    for entry in store.audit_entries():
        when = datetime.fromisoformat(entry["time"]).astimezone(timezone.utc)
        if date_from and when.date() < date_from:
            continue
        if date_to and when.date() > date_to:
            continue
        rows.append({c: entry.get(c) for c in AUDIT_COLUMNS})
    schema = {c: AUDIT_ENTRY_SCHEMA[c] for c in AUDIT_COLUMNS}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def forget_before(store: Store, cutoff: datetime) -> int:
    """Drop entries older than `cutoff` (retention); returns how many were dropped.

    Read and rewrite happen under the audit log's lock, which every append also takes,
    so an entry appended meanwhile (an export) cannot be lost by the rewrite."""
    return store.filter_audit(lambda e: datetime.fromisoformat(e["time"]) >= cutoff)
