"""Compaction, retention, verification and repair primitives of the object-store (Delta) store.

Part of the store package; `surfaudit.compact`, `retention.purge_delta` and
`surfaudit.verify` build their results from these. The same effects as the local store's, by
Delta's own operations: `optimize.compact` per month (one commit replaces a
month's small files), `delete` for expired months and the `--exact` trim (one
commit; a month partition delete removes whole files without reading them), and
`vacuum`, which physically deletes what no commit names any more once it is older
than the grace period (`DeltaStore.grace_hours`, which protects a report still
reading an older version and a concurrent run's uploads that are not committed
yet). So expired rows are invisible from the purge's commit on and gone from the
bucket at the first purge (every nightly runs one) after the grace period: within
a day of expiring with a daily nightly.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from surfaudit.errors import StoreError
from surfaudit.store.delta import DeltaStore
from surfaudit.store.delta_write import find_commit
from surfaudit.store.part import DAMAGED_NAME, Part
from surfaudit.store.paths import new_tx_id, record_time, repair_record
from surfaudit.store.s3 import deltalake


def _props(record: dict):
    from deltalake.transaction import CommitProperties

    return CommitProperties(custom_metadata={"surfaudit": json.dumps(record, separators=(",", ":"))})


def compact_months(store, min_files: int = 2, months: list[str] | None = None,
                   wait: float = 600) -> list[dict]:
    """Compact every month with >= `min_files` files, under the upkeep lease (waiting up to
    `wait` s for another run's); one dict per month compacted (month, files_before, rows, tx)."""
    with store.upkeep(wait):
        table = store.delta_table()
        if table is None:
            return []
        files = store.live_files()  # one snapshot: other writers may commit meanwhile
        by_month: dict[str, list[str]] = {}
        for rel, info in sorted(files.items()):
            by_month.setdefault(info["month"], []).append(rel)
        dl = deltalake()
        done = []
        for month, rels in sorted(by_month.items()):
            if (months is not None and month not in months) or len(rels) < max(min_files, 2):
                continue
            rows = sum(files[r].get("rows") or 0 for r in rels)
            tx = new_tx_id("compact")
            record = {"tx": tx, "kind": "compact", "month": month, "rows": rows, "files_before": len(rels),
                      "at": record_time()}
            base = table.version()
            try:
                table.optimize.compact(partition_filters=[("month", "=", month)], target_size=1 << 40,
                                       commit_properties=_props(record))
            except (dl.exceptions.DeltaError, OSError) as exc:
                if _landed(store, base, tx) is not None:
                    pass  # committed: only the post-commit upkeep of the log failed
                elif isinstance(exc, dl.exceptions.CommitFailedError):
                    continue  # another writer's compaction of this month won
                else:
                    raise StoreError(f"{store.root}: compacting {month} failed ({type(exc).__name__}); "
                                     "the table was left as it was") from None
            done.append({"month": month, "files_before": len(rels), "rows": rows, "tx": tx})
        return done


def month_stats(store: DeltaStore) -> dict[str, dict]:
    """Month -> its parts, rows and the ts range, from the log alone."""
    out: dict[str, dict] = {}
    for rel, info in sorted(store.live_files().items()):
        m = out.setdefault(info["month"], {"parts": [], "rows": 0, "ts_min": None, "ts_max": None})
        m["parts"].append(Part.in_partition(rel))
        m["rows"] += info.get("rows") or 0
        if info.get("ts_min") and (m["ts_min"] is None or info["ts_min"] < m["ts_min"]):
            m["ts_min"] = info["ts_min"]
        if info.get("ts_max") and (m["ts_max"] is None or info["ts_max"] > m["ts_max"]):
            m["ts_max"] = info["ts_max"]
    return out


def delete_rows(store: DeltaStore, months: list[str], straddle: str | None, cutoff: datetime,
                record: dict) -> tuple[str | None, int]:
    """One Delta commit deleting the whole `months` and, when `straddle` is given, that
    month's rows before `cutoff`. Returns (tx, rows trimmed from the straddling month).

    The trimmed rows are what this commit deleted (its own metrics) less the rows of the
    whole months' files in the version it deleted from: rows other writers append
    meanwhile never enter the count (a count of the month before and after would
    subtract theirs)."""
    table = store.delta_table()
    if table is None or not (months or straddle):
        return None, 0
    for month in months + ([straddle] if straddle else []):
        if not re.fullmatch(r"\d{4}-\d{2}", month):
            raise StoreError(f"{store.root}: not a month partition {month!r}")
    # Months are our own YYYY-MM partition values and the cutoff our own instant:
    # the predicate holds no user text.
    terms = ["month IN (" + ", ".join(f"'{m}'" for m in months) + ")"] if months else []
    if straddle:
        stamp = cutoff.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        terms.append(f"(month = '{straddle}' AND ts < '{stamp}')")
    # whole files of `months` in the version deleted from (a concurrent add there conflicts)
    whole = sum(add.get("num_records") or 0 for add in store.adds(table) if add.get("partition.month") in months)
    tx = new_tx_id("purge")
    base = table.version()
    dl = deltalake()
    try:
        metrics = table.delete(" OR ".join(terms), commit_properties=_props({
            "tx": tx, "kind": "purge", "at": record_time(), **record}))
    except (dl.exceptions.DeltaError, OSError) as exc:  # e.g. a concurrent writer's commit conflicted
        entry = _landed(store, base, tx)
        if entry is None:
            raise StoreError(f"{store.root}: purge's delete failed ({type(exc).__name__}); nothing was deleted, "
                             "run it again") from None
        metrics = entry.get("operationMetrics") or {}  # committed; only the post-commit upkeep failed
    deleted = int(metrics.get("num_deleted_rows") or 0)
    return tx, max(deleted - whole, 0) if straddle else 0


def _landed(store: DeltaStore, base: int, tx: str) -> dict | None:
    """The commit of `tx` after version `base`, when an error came after it landed."""
    try:
        return find_commit(store, base, tx)
    except StoreError:
        return None


def forget_quarantine(store: DeltaStore, cutoff: datetime) -> int:
    old = [name for name in store.quarantine_files() if store.quarantine_written_at(name) < cutoff]
    store.objects.delete(old)
    return len(old)


def verify_lines(store, deep: bool = True) -> tuple[int, list[tuple[str, str]], list[str]]:
    """(parts, problems as (line, the part it names), notes): every live file present with
    its committed size; `deep`: it decodes, holds its committed rows, and only rows of its
    month. Setting the named part aside (`set_aside` below) repairs each problem."""
    import io

    import pyarrow as pa
    import pyarrow.compute  # noqa: F401 - pa.compute
    import pyarrow.parquet as pq

    live = store.live_files()
    problems = store.size_problems()
    notes: list[str] = []
    bad = {rel for _, rel in problems}
    if deep:
        for rel, info in sorted(live.items()):
            if rel in bad:
                continue
            body = store.objects.get(rel)
            try:
                table = pq.read_table(io.BytesIO(body or b""))
            except (OSError, ValueError, pa.ArrowException) as exc:
                problems.append((f"{store.root}/{rel}: cannot be read as Parquet ({type(exc).__name__})", rel))
                continue
            if info.get("rows") is not None and table.num_rows != info["rows"]:
                problems.append((f"{store.root}/{rel}: holds {table.num_rows} rows, {info['rows']} were committed",
                                 rel))
            if table.num_rows:
                ts = table.column("ts")
                for edge in (pa.compute.min(ts).as_py(), pa.compute.max(ts).as_py()):
                    if edge.astimezone(timezone.utc).strftime("%Y-%m") != info["month"]:
                        problems.append((f"{store.root}/{rel}: holds rows outside its month {info['month']}", rel))
                        break
    stray = [name for name, _, _ in store.objects.list("events/")
             if not name.startswith("events/_delta_log/") and name not in live]
    if stray:
        notes.append(f"{len(stray)} files no commit names (replaced, or uploads of a run that did not "
                     f"commit); vacuum deletes them after {store.grace_hours:g} hours")
    return len(live), problems, notes


def set_aside(store, rels: list[str], why: str, wait: float = 0) -> dict:
    """Copy damaged committed files to damaged/ and drop them from the table by one
    commit of remove actions, all under the upkeep lease (waiting up to `wait` s for
    another run's) and from one table snapshot: the rest stays usable. No commit names
    the originals afterwards, so `vacuum` deletes them after the grace period. The
    record's `kept` lists the files copied (a missing one has nothing to keep). If the
    commit fails (a writer that takes no lease removed one of them first), the copies
    are deleted again and the table is as it was."""
    from deltalake.transaction import RemoveAction

    dl = deltalake()
    with store.upkeep(wait):  # not while a compaction or purge rewrites the table
        table = store.delta_table()
        live = store.live_files(table=table)
        for rel in rels:
            if table is None or rel not in live:
                raise StoreError(f"{store.root}/{rel}: not a committed part; nothing set aside")
        at = datetime.now(timezone.utc)
        actions, kept = [], []
        try:
            for rel in rels:
                part = Part.in_partition(rel)
                body = store.objects.get(rel)
                if body is not None:
                    store.objects.put(f"damaged/{part.damaged_name}", body)
                    kept.append(rel)
                actions.append(RemoveAction(part.partition_path, True, int(at.timestamp() * 1000),
                                            live[rel]["size"], {"month": part.month}))
            record = repair_record(rels, why)
            store.commit_actions(table, actions, record)
        except (dl.exceptions.DeltaError, OSError, StoreError) as exc:
            store.objects.delete([f"damaged/{Part.in_partition(rel).damaged_name}" for rel in kept])
            raise StoreError(f"{store.root}: setting the damaged parts aside failed ({type(exc).__name__}); the "
                             "table was left as it was (another run may have changed them: verify again)") from None
    return {**record, "kept": kept}


def delete_damaged(store, expired) -> list[str]:
    """Delete the copies `set_aside` kept in damaged/ whose month `expired(month)` says
    has expired: retention covers them too. Their names."""
    gone = [name for name, _, _ in store.objects.list("damaged/")
            if (m := DAMAGED_NAME.fullmatch(name.removeprefix("damaged/"))) and expired(m.group(1))]
    store.objects.delete(gone)
    return gone
