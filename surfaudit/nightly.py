"""The nightly job (DESIGN §7 `nightly PATH...`): ingest, purge, compact, then check, under one lock.

Cron runs this after logrotate. All three steps run under a single `store.lock(wait)`
so no report or second cron run sees a half-done night; a held lock raises
LockedError (exit 3) before anything is touched. Each step runs even when an earlier
one failed (a bad log file must not stop the one-year retention from being enforced),
and each reports one summary line through `log`, so the cron mail says what happened.
The last step, `verify`, is the cheap integrity check (every committed part present
with its recorded size; `surfaudit verify` does the full one): damage is reported
in the cron mail the night it is noticed, not at the next investigation.
The result is ok (exit 0) only when every step succeeded; otherwise exit 1.

This module is an orchestrator beside the CLI: it may call ingest and retention, which
never import each other. It prints nothing itself and imports no typer/rich.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from surfaudit import clock
from surfaudit.compact import compact
from surfaudit.config import Config
from surfaudit.errors import SurfauditError
from surfaudit.store import Store
from surfaudit.verify import cheap_check

Log = Callable[[str], None]


@dataclass
class StepResult:
    name: str  # "ingest", "purge", "compact", "verify"
    ok: bool
    summary: str  # the line logged, without the "name: " prefix
    result: Any = None  # list[FileResult] | PurgeResult | CompactResult, or None on error
    error: str | None = None  # one line, when the step raised


@dataclass
class NightlyResult:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def step(self, name: str) -> StepResult | None:
        return next((s for s in self.steps if s.name == name), None)


_warnings: list[str] = []  # what the pipeline warned of during the ingest step


def _ingest_paths(store: Store, cfg: Config, paths: list, fmt: str, now: datetime):
    """Indirection so tests can stand in for the pipeline."""
    from ingest.pipeline import ingest_paths

    return ingest_paths(store, cfg, paths, fmt=fmt, now=now, warn=_warnings.append)


def _purge(store: Store, cfg: Config, now: datetime, exact: bool):
    from retention.purge import purge

    return purge(store, cfg, now=now, exact=exact)


def run_nightly(store: Store, cfg: Config, paths: Iterable[str | Path], fmt: str = "auto", wait: float = 0,
                now: datetime | None = None, log: Log | None = None, *, exact: bool = False,
                min_files: int = 2) -> NightlyResult:
    """Ingest `paths`, purge expired data, compact; LockedError if the store is held."""
    log = log or (lambda line: None)
    now = now or clock.now()
    if now.tzinfo is None:  # a naive instant is taken as UTC, like $SURFAUDIT_NOW
        now = now.replace(tzinfo=timezone.utc)
    paths = list(paths)
    result = NightlyResult()
    with store.lock(wait):
        result.steps.append(_step("ingest", log, lambda: _ingest_paths(store, cfg, paths, fmt, now), _ingest_summary))
        while _warnings:
            log(f"ingest: warning: {_warnings.pop(0)}")
        result.steps.append(_step("purge", log, lambda: _purge(store, cfg, now, exact), lambda r: (True, r.summary())))
        result.steps.append(_step("compact", log, lambda: compact(store, min_files=min_files),
                                  lambda r: (True, r.summary())))
        result.steps.append(_step("verify", log, lambda: cheap_check(store), lambda r: (not r.problems, r.summary())))
    return result


def _step(name: str, log: Log, run: Callable[[], Any], summarise: Callable[[Any], tuple[bool, str]]) -> StepResult:
    try:
        value = run()
    except SurfauditError as exc:
        step = StepResult(name, False, f"FAILED: {exc}", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one step's bug must not hide the other steps
        # the type only, as the CLI does: the text of an unexpected error can hold URLs or names
        message = f"internal error ({type(exc).__name__}); rerun with SURFAUDIT_DEBUG=1 for details"
        if os.environ.get("SURFAUDIT_DEBUG"):
            traceback.print_exc()
        step = StepResult(name, False, f"FAILED: {message}", error=message)
    else:
        ok, line = summarise(value)
        step = StepResult(name, ok, line, result=value)
    log(f"{name}: {step.summary}")
    if name == "ingest" and step.result is not None:
        for fr in step.result:
            if fr.error:  # the error names the file already
                log(f"ingest: failed: {fr.error}" if fr.error.startswith(fr.file) else
                    f"ingest: failed {fr.file}: {fr.error}")
            elif getattr(fr, "skipped", None):
                log(f"ingest: skipped {fr.file}: {fr.skipped}")
        rejected = sum(fr.rejected for fr in step.result)
        if rejected:
            log(f"ingest: {rejected} rejected lines were quarantined in the store; "
                "see them with `surfaudit quarantine` (--file NAME)")
    return step


def _ingest_summary(files: list) -> tuple[bool, str]:
    rows = sum(f.rows for f in files)
    rejected = sum(f.rejected for f in files)
    failed = sum(1 for f in files if f.error)
    line = f"{len(files)} files, {rows} rows, {rejected} rejected"
    extras = [(sum(f.duplicates for f in files), "duplicates"), (sum(f.expired for f in files), "expired"),
              (sum(getattr(f, "held_back", 0) for f in files), "held back"),
              (sum(1 for f in files if getattr(f, "skipped", None)), "skipped"), (failed, "failed")]
    line += "".join(f", {n} {what}" for n, what in extras if n)
    return failed == 0 and rejected == 0, line
