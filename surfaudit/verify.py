"""`surfaudit verify [--repair]`: find damage in the store, name it, and set it aside.

Corruption must be found, not silently absorbed. The store
records each part's size, sha256 and row count at commit and chains its manifest
(surfaudit.store.integrity, surfaudit.store.manifest); every read already makes the
cheap check (sizes). This module makes the full check on demand:

* the manifest: every line readable or a harmless torn append, the chain intact,
  the head matching (not cut short), every name a file of the store;
* every live part: present, its recorded size and checksum, its row count, the
  canonical schema (every column decodes), every row in the partition's month;
* the bookkeeping around them: stray or uncommitted files under events/,
  symlinks, replaced parts still awaiting deletion (a note, not a problem).

Each problem is one line naming the file; `ok` is False when there is any. With
`repair`, damaged or missing parts are moved to `damaged/` and dropped from the
manifest by a committed record, and the repair is written to the audit log, so the
rest of the store stays usable (on an s3:// store: copied to `damaged/` and dropped
by one Delta commit, surfaudit.store.delta_upkeep); a damaged manifest cannot be repaired
here (restore it from a backup: docs/operations.md). `nightly` runs `cheap_check` (one stat per part).

Nothing here prints or knows the on-disk layout: the store answers, the CLI renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from surfaudit import audit
from surfaudit.errors import StoreError, UsageError
from surfaudit.store import Store


@dataclass
class Problem:
    line: str  # one line naming the file
    part: str | None = None  # the committed part it concerns, when setting it aside repairs it


@dataclass
class VerifyResult:
    parts: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def repairable(self) -> list[str]:
        return sorted({p.part for p in self.problems if p.part})

    def lines(self) -> list[str]:
        out = [f"problem: {p.line}" for p in self.problems] + [f"note: {n}" for n in self.notes]
        state = "ok" if self.ok else f"{len(self.problems)} problems"
        out.append(f"checked {self.parts} parts and the bookkeeping: {state}")
        return out


def verify_store(store: Store, deep: bool = True) -> VerifyResult:
    """Check the manifest, every live part (`deep`: checksum, rows, schema, month) and the bookkeeping."""
    if not store.exists():
        raise UsageError(f"{store.root}: no store here (check --store or [store].path)")
    if getattr(store, "backend", "local") == "delta":  # object storage: the Delta table's files
        from surfaudit.store import delta_upkeep

        parts, problems, notes = delta_upkeep.verify_lines(store, deep)
        return VerifyResult(parts, [Problem(line, rel) for line, rel in problems], notes)
    result = VerifyResult()
    with store.reading():  # the parts checked stay on disk while we read them
        parsed = store.manifest_state()
        result.problems += [Problem(line) for line in parsed.problems]
        if parsed.problems:
            result.notes.append("a damaged manifest cannot be repaired here: restore the store from a backup "
                                "(docs/operations.md)")
        try:
            live = store.live_files_of(parsed.records)
        except StoreError:  # a record naming a file outside the store (already a problem above)
            live = store.live_files_of(r for r in parsed.records if _names_ok(store, r))
        result.parts = len(live)
        older = 0
        for rel, info in sorted(live.items()):
            lines = store.part_problems(rel, info) if deep else [p for p in [store.part_problem(rel)] if p]
            result.problems += [Problem(line, rel) for line in lines]
            older += "sha256" not in info
        if older:
            result.notes.append(f"{older} parts: no checksum recorded (older store); checked by decoding them")
        _bookkeeping(store, set(live), [r for r in parsed.records if _names_ok(store, r)], result)
    return result


def _names_ok(store: Store, record: dict) -> bool:
    try:
        store.live_files_of([record])
        return True
    except StoreError:
        return False


def _bookkeeping(store: Store, live: set[str], records: list[dict], result: VerifyResult) -> None:
    try:
        result.problems += [Problem(f"{store.root}/{line}") for line in store.scan_events_dir()]
        retired = {part.relpath for part in store.retired(records)}
    except StoreError as exc:
        result.problems.append(Problem(str(exc)))
        return
    for rel in store.event_files():
        if rel not in live and rel not in retired and rel.endswith(".parquet"):
            result.problems.append(Problem(f"{store.root}/{rel}: not a committed part (not in the manifest)"))
    if retired:
        result.notes.append(f"{len(retired)} replaced parts still on disk, deleted once no report is reading")
    try:
        store.quarantine_files()
    except StoreError as exc:
        result.problems.append(Problem(str(exc)))
    result.problems += [Problem(line) for line in store.audit_problems()]


def repair_store(store: Store, result: VerifyResult, wait: float = 0) -> list[str]:
    """Set the damaged parts aside (under the store lock) and audit it; returns lines to show."""
    rels = result.repairable
    if not rels:
        return ["nothing to repair" if result.ok else "nothing verify --repair can repair: restore from a backup"]
    with store.lock(wait):  # audited first: a repair is never made without its entry
        audit.record(store, "verify --repair", detail=f"setting aside {len(rels)} damaged parts: " + ", ".join(rels))
        try:
            if getattr(store, "backend", "local") == "delta":
                from surfaudit.store import delta_upkeep

                kept = delta_upkeep.set_aside(store, rels, "verify --repair", wait)["kept"]
            else:
                store.set_aside(rels, "verify --repair")
                kept = None
        except BaseException:
            audit.record(store, "verify --repair failed", detail="nothing was set aside")
            raise
    result.repaired = rels
    if kept is None:
        return [f"set aside {rel} (moved to damaged/, dropped from the manifest)" for rel in rels]
    return [f"set aside {rel} ({'copied to damaged/' if rel in kept else 'missing, nothing to copy'}, "
            "dropped from the table by a commit)" for rel in rels]


@dataclass
class CheapCheck:
    parts: int
    problems: list[str]

    def summary(self) -> str:
        if not self.problems:
            return f"{self.parts} parts present with their committed sizes"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"FAILED: {self.problems[0]}{more}; run `surfaudit verify`"


def cheap_check(store: Store) -> CheapCheck:
    """The nightly check: every live part present with its recorded size."""
    return CheapCheck(len(store.live_parts()), store.check_sizes())
