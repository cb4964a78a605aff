"""Which month partitions have expired under the retention policy (DESIGN §6 "Retention").

With `months = N` the cutoff is the same instant N months before now. A month partition
is expired when its whole UTC month lies before the cutoff (`month_end(m) <= cutoff`);
the one month containing the cutoff "straddles" it and is only trimmed by `purge --exact`.

Planning reads nothing but Parquet footers, so it is cheap enough for every nightly run
and for `purge --dry-run`. It is also the safety net of the purge: anything under
`events/` the store did not put there (symlinks, stray files, uncommitted parts) is an
anomaly that makes the purge refuse, and a partition is never planned for deletion when
its `ts` statistics show a row at or after the cutoff (defence in depth against a
misfiled part: deleting it would destroy data the policy says to keep).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from surfaudit import clock
from surfaudit.store import PartStats, Store
from surfaudit.store.part import Part


@dataclass
class MonthPlan:
    """One month partition and what it holds."""

    month: str
    files: int
    rows: int
    parts: list[Part] = field(default_factory=list)
    ts_min: datetime | None = None
    ts_max: datetime | None = None


@dataclass
class StraddlePlan:
    """The month containing the cutoff: rows before the cutoff are trimmed by --exact."""

    month: str
    files: int
    rows: int
    parts: list[Part] = field(default_factory=list)
    needs_trim: bool = False  # some row is older than the cutoff (by ts statistics)


@dataclass
class PurgePlan:
    months_kept: int  # the policy's N
    now: datetime
    cutoff: datetime
    expired: list[MonthPlan] = field(default_factory=list)
    straddling: StraddlePlan | None = None
    anomalies: list[str] = field(default_factory=list)  # "path: problem", one per line
    missing: list[Part] = field(default_factory=list)  # committed parts whose file is gone
    damaged_expired: list[Part] = field(default_factory=list)  # damaged parts deleted with their expired month

    @property
    def files(self) -> int:
        return sum(m.files for m in self.expired)

    @property
    def rows(self) -> int:
        return sum(m.rows for m in self.expired)

    @property
    def parts(self) -> list[Part]:
        return [part for m in self.expired for part in m.parts]

    def describe(self) -> list[str]:
        """Human-readable lines (for --dry-run output), no personal data."""
        lines = [f"cutoff {self.cutoff.isoformat()} ({self.months_kept} months before {self.now.isoformat()})"]
        for m in self.expired:
            lines.append(f"expired {m.month}: {m.files} files, {m.rows} rows")
        if self.straddling is not None:
            s = self.straddling
            state = "has rows before the cutoff" if s.needs_trim else "no rows before the cutoff"
            lines.append(f"straddling {s.month}: {s.files} files, {s.rows} rows ({state})")
        if not self.expired:
            lines.append("nothing expired")
        lines += [f"anomaly: {a}" for a in self.anomalies]
        lines += [f"missing part: {m.relpath}" for m in self.missing]
        return lines


def plan_purge(store: Store, months: int, now: datetime | None = None) -> PurgePlan:
    """Plan (read-only) which partitions are expired at `now` under an N-month policy."""
    now = now or clock.now()
    if now.tzinfo is None:  # a naive instant is taken as UTC, like $SURFAUDIT_NOW
        now = now.replace(tzinfo=timezone.utc)
    cutoff = clock.retention_cutoff(months, now)
    plan = PurgePlan(months_kept=months, now=now, cutoff=cutoff)
    plan.anomalies.extend(store.scan_events_dir())

    month_parts = store.month_parts()
    committed = {part.relpath for parts in month_parts.values() for part in parts}
    committed |= {part.relpath for part in store.retired()}  # replaced, awaiting sweep
    for rel in store.event_files():
        if rel not in committed and rel.endswith(".parquet"):
            plan.anomalies.append(f"{rel}: not a committed part (not in the manifest)")

    straddle_month = clock.month_key(cutoff)
    for month, parts in sorted(month_parts.items()):
        present = [part for part in parts if store.part_path(part).is_file()]
        plan.missing.extend(part for part in parts if part not in present)
        expired = clock.month_end(month) <= cutoff
        if not expired and month != straddle_month:
            continue
        problems = {part: store.part_problem(part) for part in present}
        damaged = [p for p in problems.values() if p]
        if damaged and not expired:  # never read for a rewrite, nor trimmed: verify names it
            plan.anomalies.extend(f"{p.removeprefix(str(store.root) + '/')}" for p in damaged)
            continue
        # A whole expired month goes, damaged parts included: its partition says its month,
        # and retention must not be defeated by a file nobody can read any more.
        readable = [part for part in present if not problems[part]]
        plan.damaged_expired.extend(part for part in present if problems[part])
        stats = [store.part_stats(part) for part in readable]
        rows = sum(s.rows for s in stats)
        if expired:
            late = [s for s in stats if s.ts_max is not None and s.ts_max >= cutoff]
            if late:
                for s in late:
                    plan.anomalies.append(f"{s.part.relpath}: holds rows at or after the cutoff "
                                          f"({_span(s)}); not planning its deletion")
                continue
            plan.expired.append(MonthPlan(month, len(present), rows, parts,
                                          _min(s.ts_min for s in stats), _max(s.ts_max for s in stats)))
        else:
            needs_trim = any(s.ts_min is not None and s.ts_min < cutoff for s in stats)
            plan.straddling = StraddlePlan(month, len(present), rows, parts, needs_trim)
    return plan


def _span(s: PartStats) -> str:
    lo = s.ts_min.isoformat() if s.ts_min else "-"
    hi = s.ts_max.isoformat() if s.ts_max else "-"
    return f"ts {lo} .. {hi}"


def _min(values):
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _max(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None
