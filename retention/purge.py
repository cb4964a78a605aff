"""Removing expired data (DESIGN §6 "Retention", §7 `purge [--dry-run] [--exact]`).

The policy keeps gathered data for one year, so the purge removes more than Parquet:

* **Expired month partitions** go in ONE store transaction that `replace()`s all their
  parts and adds none: a crash leaves either every expired month visible or none, and
  `Store.recover()` finishes the deletion. `exact=True` adds, to the same transaction,
  a rewrite of the straddling month keeping only rows with `ts >= cutoff`.
* **Audit entries** older than the cutoff (`audit.forget_before`).
* **Quarantine files** written before the cutoff: they hold raw log lines (personal
  data). A line quarantined at time T was logged no later than T, so it has expired.
* **Manifest records** older than the cutoff whose parts are all gone. The manifest must
  keep the fingerprint records of sources ingested *within* the retention period, or
  re-feeding `access.log.1.gz` would duplicate rows. A record committed before the
  cutoff describes a source whose lines were all logged before the cutoff; re-feeding
  it yields only rows that ingest counts as expired, so forgetting it duplicates
  nothing. Records that still name a visible part are kept whatever their age, and a
  record is never dropped if that would make a replaced part visible again.

The expired parts are invisible from the commit on (readers read the manifest); their
files are deleted at the end of the same purge once no report is reading them (it
waits up to SWEEP_WAIT seconds), else by the next command that takes the store lock
(the next nightly at the latest): the retention promise holds to within a day.

The caller holds the store lock. Nothing here prints: the result describes itself.
"""

from __future__ import annotations

from datetime import datetime

from retention import purge_delta
from retention.plan import plan_purge
from retention.result import NOTHING, PurgeResult, refuse_on_anomalies  # noqa: F401 - public here too
from surfaudit import audit, clock
from surfaudit.config import Config
from surfaudit.errors import StoreError
from surfaudit.store import Store

SWEEP_WAIT = 10.0  # seconds a purge waits for running reports before deferring the deletion


def purge(store: Store, cfg: Config, now: datetime | None = None, dry_run: bool = False,
          exact: bool = False, wait: float | None = None) -> PurgeResult:
    """Remove what the retention policy says has expired at `now` (caller holds the lock).
    `wait`: on object storage, seconds to wait for another run's upkeep lease (None: the
    nightly's default); the local store's lock is the caller's."""
    if getattr(store, "backend", "local") == "delta":  # object storage: Delta delete + vacuum
        if wait is None:
            return purge_delta.purge(store, cfg, now, dry_run, exact)
        return purge_delta.purge(store, cfg, now, dry_run, exact, wait=wait)
    now = now or clock.now()
    plan = plan_purge(store, cfg.retention.months, now)
    refuse_on_anomalies(store, plan)
    result = PurgeResult(plan=plan, dry_run=dry_run, exact=exact)
    if dry_run:
        return result

    straddle = plan.straddling if exact and plan.straddling and plan.straddling.needs_trim else None
    if plan.expired or straddle:
        tx = store.begin("purge")
        try:
            tx.replace(plan.parts)
            if straddle:
                kept = 0  # (stream_parts refuses a missing or damaged part: verify --repair sets it aside)
                for batch in store.stream_parts(straddle.parts, ts_from=plan.cutoff):
                    tx.write(batch)
                    kept += batch.height
                tx.replace(straddle.parts)
                result.trimmed_month, result.rows_trimmed = straddle.month, straddle.rows - kept
            record = tx.commit({
                "cutoff": plan.cutoff.isoformat(),
                "months": [m.month for m in plan.expired],
                "rows": plan.rows,
                "trimmed_month": result.trimmed_month,
                "rows_trimmed": result.rows_trimmed,
            })
        except OSError as exc:  # e.g. the disk fills while --exact rewrites the straddling month
            tx.abort()
            reason = exc.strerror or ("No space left on device" if "No space left" in str(exc) else type(exc).__name__)
            raise StoreError(f"{store.root}: purge failed, write failed ({reason}); nothing was purged, "
                             "the store was left as it was") from None
        except BaseException:
            tx.abort()
            raise
        result.removed = list(plan.expired)
        result.tx = record["tx"]
        # Invisible since the commit; physically deleted now unless a report is still reading
        # them (waiting a little for it), else by the next command that takes the lock.
        result.deferred = store.sweep(wait=SWEEP_WAIT)[1]

    if not dry_run:
        result.damaged_deleted = store.delete_damaged(lambda month: clock.month_end(month) <= plan.cutoff)
    try:
        result.audit_forgotten = audit.forget_before(store, plan.cutoff)
    except StoreError as exc:  # hand-edited or damaged: the data is purged, the log kept as found
        result.audit_not_trimmed = str(exc)
    result.quarantine_forgotten = forget_quarantine(store, plan.cutoff)
    result.manifest_forgotten = forget_manifest(store, plan.cutoff)
    audit.record(store, "purge", rows=result.rows_removed + result.rows_trimmed, detail=result.audit_detail())
    return result


def forget_quarantine(store: Store, cutoff: datetime) -> int:
    """Delete quarantine files written before the cutoff; returns how many."""
    gone = 0
    for path in store.quarantine_files():
        if store.quarantine_written_at(path) < cutoff:
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def forget_manifest(store: Store, cutoff: datetime) -> int:
    """Drop manifest records older than the cutoff whose parts are all gone; returns how many."""
    records = store.manifest()
    live = store.live_parts_of(records)
    # A record naming a file still on disk (a replaced part awaiting sweep) is kept, so the
    # file stays known to the store and the next sweep deletes it.
    on_disk = {part.relpath for part in store.retired()} | set(live)
    drop = {i for i, r in enumerate(records) if _older(r, cutoff)
            and not any(p in on_disk for p in r.get("parts", []) + r.get("removes", []))}
    while drop:
        kept = [r for i, r in enumerate(records) if i not in drop]
        after = store.live_parts_of(kept)
        if after == live:
            store.rewrite_manifest(kept)
            return len(drop)
        # A dropped record replaced a part that a kept record added: keep the replacer.
        back = set(after) - set(live)
        restore = {i for i in drop if back & set(records[i].get("removes", []))}
        if not restore:
            return 0  # cannot happen (dropped records add no live part); never guess
        drop -= restore
    return 0


def _older(record: dict, cutoff: datetime) -> bool:
    try:
        at = datetime.fromisoformat(record["at"])
    except (KeyError, TypeError, ValueError):
        return False
    if at.tzinfo is None:
        return False
    return at < cutoff
