"""Compaction, retention and verification of the object-store (Delta) store.

Part of the store package. The same results as the local store's commands, by
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
from datetime import datetime, timezone

from surfaudit import clock
from surfaudit.store.delta import DeltaStore, _delta


def _props(record: dict):
    from deltalake.transaction import CommitProperties

    return CommitProperties(custom_metadata={"surfaudit": json.dumps(record, separators=(",", ":"))})


def _tx(kind: str) -> str:
    import uuid

    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:10] + "-" + kind


def compact(store: DeltaStore, min_files: int = 2, months: list[str] | None = None, progress=None,
            wait: float = 600):
    """Compact under the upkeep lease (waiting up to `wait` s for another run's)."""
    with store.upkeep(wait):
        return _compact(store, min_files, months, progress)


def _compact(store: DeltaStore, min_files: int, months: list[str] | None, progress):
    from surfaudit.compact import CompactResult, MonthCompaction

    result = CompactResult()
    table = store._table()
    if table is None:
        return result
    files = store.live_files()  # one snapshot: other writers may commit meanwhile
    by_month: dict[str, list[str]] = {}
    for rel, info in sorted(files.items()):
        by_month.setdefault(info["month"], []).append(rel)
    dl = _delta()
    for month, rels in sorted(by_month.items()):
        if (months is not None and month not in months) or len(rels) < max(min_files, 2):
            continue
        rows = sum(files[r].get("rows") or 0 for r in rels)
        tx = _tx("compact")
        try:
            _compact_month(table, month, tx, rows, len(rels))
        except dl.exceptions.CommitFailedError:  # another writer's compaction of this month won
            continue
        result.months.append(MonthCompaction(month, len(rels), rows, tx))
        if progress:
            progress(f"{month}: {len(rels)} -> 1 files, {rows} rows")
    return result


def _compact_month(table, month: str, tx: str, rows: int, files_before: int) -> None:
    record = {"tx": tx, "kind": "compact", "month": month, "rows": rows, "files_before": files_before,
              "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    table.optimize.compact(partition_filters=[("month", "=", month)], target_size=1 << 40,
                           commit_properties=_props(record))


def plan(store: DeltaStore, months_kept: int, now: datetime):
    from retention.plan import MonthPlan, PurgePlan, StraddlePlan

    cutoff = clock.retention_cutoff(months_kept, now)
    out = PurgePlan(months_kept=months_kept, now=now, cutoff=cutoff)
    files = store.live_files()
    straddle = clock.month_key(cutoff)
    for month, rels in sorted(store.month_parts().items()):
        infos = [files[r] for r in rels]
        rows = sum(i.get("rows") or 0 for i in infos)
        lo = min((i["ts_min"] for i in infos if i.get("ts_min")), default=None)
        hi = max((i["ts_max"] for i in infos if i.get("ts_max")), default=None)
        if clock.month_end(month) <= cutoff:
            if hi is not None and hi >= cutoff:
                out.anomalies.append(f"events/month={month}: holds rows at or after the cutoff; not planning its deletion")
                continue
            out.expired.append(MonthPlan(month, len(rels), rows, rels, lo, hi))
        elif month == straddle:
            out.straddling = StraddlePlan(month, len(rels), rows, rels, lo is not None and lo < cutoff)
    return out


def purge(store: DeltaStore, cfg, now: datetime | None = None, dry_run: bool = False, exact: bool = False,
          wait: float = 600):
    """Purge under the upkeep lease (waiting up to `wait` s for another run's)."""
    if dry_run:
        return _purge(store, cfg, now, dry_run, exact)
    with store.upkeep(wait):
        return _purge(store, cfg, now, dry_run, exact)


def _purge(store: DeltaStore, cfg, now: datetime | None, dry_run: bool, exact: bool):
    from retention.purge import PurgeResult, refuse_on_anomalies
    from surfaudit import audit

    now = now or clock.now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    the_plan = plan(store, cfg.retention.months, now)
    refuse_on_anomalies(store, the_plan)
    result = PurgeResult(plan=the_plan, dry_run=dry_run, exact=exact)
    if dry_run:
        return result
    table = store._table()
    straddle = the_plan.straddling if exact and the_plan.straddling and the_plan.straddling.needs_trim else None
    cutoff = the_plan.cutoff.astimezone(timezone.utc)
    if table is not None and (the_plan.expired or straddle):
        # Months are our own YYYY-MM partition values and the cutoff our own instant:
        # the predicate holds no user text.
        terms = []
        if the_plan.expired:
            terms.append("month IN (" + ", ".join(f"'{m.month}'" for m in the_plan.expired) + ")")
        if straddle:
            kept_before = store.read_months([straddle.month], ["ts"]).height
            terms.append(f"(month = '{straddle.month}' AND ts < '{cutoff.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}')")
        tx = _tx("purge")
        table.delete(" OR ".join(terms), commit_properties=_props({
            "tx": tx, "kind": "purge", "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cutoff": the_plan.cutoff.isoformat(), "months": [m.month for m in the_plan.expired],
            "rows": the_plan.rows}))
        if straddle:
            kept = store.read_months([straddle.month], ["ts"]).height
            result.trimmed_month, result.rows_trimmed = straddle.month, kept_before - kept
        result.removed = list(the_plan.expired)
        result.tx = tx
    store.recover()  # vacuum: physically deletes what earlier purges removed, past the grace period
    result.audit_forgotten = audit.forget_before(store, the_plan.cutoff)
    result.quarantine_forgotten = _forget_quarantine(store, the_plan.cutoff)
    detail = [f"cutoff {the_plan.cutoff.isoformat()}"]
    if result.removed:
        detail.append("months " + ",".join(m.month for m in result.removed))
    if result.trimmed_month:
        detail.append(f"trimmed {result.trimmed_month} ({result.rows_trimmed} rows)")
    audit.record(store, "purge", rows=result.rows_removed + result.rows_trimmed, detail="; ".join(detail))
    return result


def _forget_quarantine(store: DeltaStore, cutoff: datetime) -> int:
    old = [name for name in store.quarantine_files() if store.quarantine_written_at(name) < cutoff]
    store.objects.delete(old)
    return len(old)


def verify(store: DeltaStore, deep: bool = True):
    """Every live file present with its committed size; `deep`: decodes, its rows, its month."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from surfaudit.verify import Problem, VerifyResult

    result = VerifyResult()
    live = store.live_files()
    result.parts = len(live)
    result.problems += [Problem(line, None) for line in store.check_sizes()]
    bad = {p.line.split(": ", 1)[0] for p in result.problems}
    if deep:
        for rel, info in sorted(live.items()):
            if f"{store.root}/{rel}" in bad:
                continue
            body = store.objects.get(rel)
            try:
                table = pq.read_table(io.BytesIO(body or b""))
            except (OSError, ValueError, pa.ArrowException) as exc:
                result.problems.append(Problem(f"{store.root}/{rel}: cannot be read as Parquet ({type(exc).__name__})"))
                continue
            if info.get("rows") is not None and table.num_rows != info["rows"]:
                result.problems.append(Problem(f"{store.root}/{rel}: holds {table.num_rows} rows, "
                                               f"{info['rows']} were committed"))
            if table.num_rows:
                ts = table.column("ts")
                for edge in (pa.compute.min(ts).as_py(), pa.compute.max(ts).as_py()):
                    if edge.astimezone(timezone.utc).strftime("%Y-%m") != info["month"]:
                        result.problems.append(Problem(f"{store.root}/{rel}: holds rows outside its month "
                                                       f"{info['month']}"))
                        break
    committed = set(live)
    stray = [name for name, _, _ in store.objects.list("events/")
             if not name.startswith("events/_delta_log/") and name not in committed]
    if stray:
        result.notes.append(f"{len(stray)} files no commit names (replaced, or uploads of a run that did not "
                            f"commit); vacuum deletes them after {store.grace_hours:g} hours")
    return result
