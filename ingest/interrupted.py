"""What a Ctrl-C during ingest leaves: which files were committed and which were not.

Why: each file is one store transaction, so an interrupted run has committed
some files whole and nothing of the rest; the technician must be told which, and
that running the same ingest again reads the rest exactly once (each file
resumes from its last committed checkpoint). The exceptions are
KeyboardInterrupts, so anything that does not know them still exits 130.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class FileInterrupted(KeyboardInterrupt):
    """Ctrl-C while one file was being ingested; `committed` says whether its commit finished."""

    def __init__(self, committed: bool, rows: int = 0):
        super().__init__()
        self.committed, self.rows = committed, rows


@dataclass(eq=False)  # compared and hashed as the exception it is
class Interrupted(KeyboardInterrupt):
    """Ctrl-C during an ingest run: the files finished, the one cut short, those not started."""
    done: list = field(default_factory=list)  # FileResults of the files finished before it
    current: str | None = None  # the file being read when it came
    current_committed: bool = False  # its commit had finished (the Ctrl-C came just after)
    current_rows: int = 0
    pending: list[str] = field(default_factory=list)  # files not started

    def __post_init__(self) -> None:
        KeyboardInterrupt.__init__(self)

    def committed(self) -> list[str]:
        names = [r.file for r in self.done if not r.error and not r.skipped]
        return names + ([self.current] if self.current and self.current_committed else [])

    def not_committed(self) -> list[str]:
        cut = [self.current] if self.current and not self.current_committed else []
        return cut + list(self.pending)

    def lines(self) -> list[str]:
        """One line per file, then what to do: for stderr."""
        out = []
        for r in self.done:
            if r.error:
                out.append(f"failed (nothing of it stored): {r.error}")
            elif not r.skipped:
                out.append(f"committed: {r.file} ({r.rows:,} rows)")
        if self.current is not None:
            out.append(f"committed: {self.current} ({self.current_rows:,} rows)" if self.current_committed else
                       f"not committed: {self.current} (interrupted while reading it; nothing of this run's "
                       "reading of it was stored)")
        out += [f"not committed: {name} (not started)" for name in self.pending]
        out.append(f"interrupted: {len(self.committed())} files committed, {len(self.not_committed())} not; "
                   "run the same ingest again to read the rest (committed lines are never read twice)")
        return out

    def audit_detail(self) -> str:
        return (f"interrupted: {len(self.committed())} files committed, {len(self.not_committed())} not committed, "
                f"{sum(r.rejected for r in self.done)} lines rejected")
