"""What a purge did (or, with --dry-run, would do), worded once for every layout.

`PurgeResult` holds the plan and what was removed, trimmed and forgotten; its
summary() is the nightly's line, lines() the `purge` command's output and
audit_detail() the audit entry. Both purges (the local store's, retention/purge.py,
and the object store's, retention/purge_delta.py) return one, so the wording
cannot drift between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from retention.plan import MonthPlan, PurgePlan
from surfaudit.errors import StoreError
from surfaudit.store import Store


@dataclass
class PurgeResult:
    plan: PurgePlan
    dry_run: bool = False
    exact: bool = False
    removed: list[MonthPlan] = field(default_factory=list)  # months whose partitions were removed
    trimmed_month: str | None = None
    rows_trimmed: int = 0
    audit_forgotten: int = 0
    audit_not_trimmed: str | None = None  # why old audit entries were kept (the log has problems)
    quarantine_forgotten: int = 0
    manifest_forgotten: int = 0
    tx: str | None = None  # the store transaction that removed the data
    deferred: int = 0  # expired files still on disk because a report was reading (next run deletes them)
    damaged_deleted: list[str] = field(default_factory=list)  # damaged/ files of expired months, deleted

    @property
    def cutoff(self) -> datetime:
        return self.plan.cutoff

    @property
    def files_removed(self) -> int:
        return sum(m.files for m in self.removed)

    @property
    def rows_removed(self) -> int:
        return sum(m.rows for m in self.removed)

    # What a purge did is worded here once; summary() (the nightly's line), lines() (the
    # `purge` command) and audit_detail() (the audit entry) are three layouts of it.
    @property
    def cutoff_text(self) -> str:
        return f"cutoff {self.cutoff.isoformat()}"

    def trimmed_text(self, why: str = "") -> str | None:
        return f"trimmed {self.trimmed_month} ({self.rows_trimmed} rows{why})" if self.trimmed_month else None

    @property
    def forgotten(self) -> list[str]:
        """E.g. `3 audit entries`: the bookkeeping forgotten, none that is zero."""
        counts = [(self.audit_forgotten, "audit entries"), (self.quarantine_forgotten, "quarantine files"),
                  (self.manifest_forgotten, "manifest records")]
        return [f"{n} {what}" for n, what in counts if n]

    def summary(self) -> str:
        """One line, e.g. `removed 2025-10 (3 files, 12000 rows)`."""
        if self.dry_run:
            months = ", ".join(_month_text(m) for m in self.plan.expired)
            return f"would remove {months}" if months else NOTHING
        parts = [
            "removed " + ", ".join(_month_text(m) for m in self.removed) if self.removed else None,
            self.trimmed_text(),
            "forgot " + ", ".join(self.forgotten) if self.forgotten else None,
            f"{self.deferred} files to delete on the next run (a report was reading)" if self.deferred else None,
            "audit log not trimmed: it has problems (run `surfaudit verify`)" if self.audit_not_trimmed else None,
        ]
        return "; ".join(p for p in parts if p) or NOTHING

    def lines(self, dry_run: bool | None = None) -> list[str]:
        """Several lines for the `purge` command: the cutoff, then one line per month."""
        if self.dry_run if dry_run is None else dry_run:
            return [line.replace("expired ", "would remove ", 1) for line in self.plan.describe()]
        out = [self.cutoff_text]
        out += [f"removed {_month_text(m)}" for m in self.removed]
        trimmed = self.trimmed_text(" older than the cutoff")
        if trimmed:
            out.append(trimmed)
        if not self.removed and not self.trimmed_month:
            out.append(NOTHING)
        out += [f"forgot {f} older than the cutoff" for f in self.forgotten]
        if self.audit_not_trimmed:
            out.append(self.audit_not_trimmed)
        if self.deferred:
            out.append(f"{self.deferred} removed files are still on disk because a report was reading them; "
                       f"the next surfaudit command that writes deletes them")
        return out

    def audit_detail(self) -> str:
        """The audit entry's detail: the cutoff, the months removed, the trim, damaged
        parts, and how many audit entries, quarantine files and manifest records it forgot."""
        detail = [self.cutoff_text]
        if self.removed:
            detail.append("months " + ",".join(m.month for m in self.removed))
        trimmed = self.trimmed_text()
        if trimmed:
            detail.append(trimmed)
        damaged = len(self.plan.damaged_expired) + len(self.damaged_deleted)
        if damaged:
            detail.append(f"{damaged} damaged parts of expired months deleted unread")
        if self.forgotten:  # the bookkeeping it dropped is said where the purge is recorded
            detail.append("forgot " + ", ".join(self.forgotten))
        if self.audit_not_trimmed:
            detail.append("audit log not trimmed (it has problems)")
        return "; ".join(detail)


NOTHING = "nothing expired"


def _month_text(m: MonthPlan) -> str:
    return f"{m.month} ({m.files} files, {m.rows} rows)"


def refuse_on_anomalies(store: Store, plan: PurgePlan) -> None:
    """Raise StoreError (one line, naming the first path) when the store holds surprises."""
    if plan.anomalies:
        more = f" (and {len(plan.anomalies) - 1} more)" if len(plan.anomalies) > 1 else ""
        raise StoreError(f"refusing to purge: {store.root}/{plan.anomalies[0]}{more}")
