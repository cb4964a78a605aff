"""Retention on the object-store (Delta) store: the local purge's plan and result, by Delta.

The plan reads only the Delta log (files, rows and `ts` ranges per month). The purge,
under the store's upkeep lease, commits one delete of the expired months and, with
`--exact`, of the straddling month's rows before the cutoff: the rows are invisible
from that commit on. It then vacuums (`DeltaStore.recover`): files no commit names and
older than the grace period are deleted from the bucket, so what one night's purge
removed is physically gone by the next night's. Audit entries and quarantine files
older than the cutoff go in the same run, and so do the copies `verify --repair` kept
in damaged/ of the expired months.
"""

from __future__ import annotations

from datetime import datetime, timezone

from retention.plan import MonthPlan, PurgePlan, StraddlePlan
from retention.result import PurgeResult, refuse_on_anomalies
from surfaudit import audit, clock
from surfaudit.store import delta_upkeep


def plan(store, months_kept: int, now: datetime) -> PurgePlan:
    cutoff = clock.retention_cutoff(months_kept, now)
    out = PurgePlan(months_kept=months_kept, now=now, cutoff=cutoff)
    straddle = clock.month_key(cutoff)
    for month, m in sorted(delta_upkeep.month_stats(store).items()):
        lo, hi = m["ts_min"], m["ts_max"]
        if clock.month_end(month) <= cutoff:
            if hi is not None and hi >= cutoff:
                out.anomalies.append(f"month {month}: holds rows at or after the cutoff; "
                                     "not planning its deletion")
                continue
            out.expired.append(MonthPlan(month, len(m["parts"]), m["rows"], m["parts"], lo, hi))
        elif month == straddle:
            out.straddling = StraddlePlan(month, len(m["parts"]), m["rows"], m["parts"], lo is not None and lo < cutoff)
    return out


def purge(store, cfg, now: datetime | None = None, dry_run: bool = False, exact: bool = False,
          wait: float = 600):
    """Remove what has expired at `now` (under the upkeep lease, waiting up to `wait` s)."""
    now = now or clock.now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    the_plan = plan(store, cfg.retention.months, now)
    refuse_on_anomalies(store, the_plan)
    result = PurgeResult(plan=the_plan, dry_run=dry_run, exact=exact)
    if dry_run:
        return result
    with store.upkeep(wait):
        straddle = the_plan.straddling if exact and the_plan.straddling and the_plan.straddling.needs_trim else None
        tx, trimmed = delta_upkeep.delete_rows(
            store, [m.month for m in the_plan.expired], straddle.month if straddle else None, the_plan.cutoff,
            {"cutoff": the_plan.cutoff.isoformat(), "months": [m.month for m in the_plan.expired],
             "rows": the_plan.rows})
        if tx:
            result.removed, result.tx = list(the_plan.expired), tx
        if straddle:
            result.trimmed_month, result.rows_trimmed = straddle.month, trimmed
        result.damaged_deleted = delta_upkeep.delete_damaged(store, lambda month: clock.month_end(month) <= the_plan.cutoff)
        store.recover()  # vacuum: physically deletes what earlier purges removed, past the grace period
        result.audit_forgotten = audit.forget_before(store, the_plan.cutoff)
        result.quarantine_forgotten = delta_upkeep.forget_quarantine(store, the_plan.cutoff)
    audit.record(store, "purge", rows=result.rows_removed + result.rows_trimmed, detail=result.audit_detail())
    return result
