"""`export_investigation`: one identity, a stated reason, one private file, one audit entry.

Why it is strict: the policy lets the trust monitor internet use only for a
valid reason, and the audit log must show why each investigation was run. So
the reason is required, the identity is matched exactly (a bound parameter;
quotes, `%` or SQL words in a name are just characters), an empty result
writes nothing, and the file is written by the one private atomic writer
(surfaudit.atomic: 0600 from creation, renamed into place) with the audit entry
appended after the data is written but before the rename, so a file never exists
without its entry, and an entry that cannot be written means no file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from surfaudit import audit, clock
from surfaudit.clock import as_date
from surfaudit.config import Config
from surfaudit.atomic import write_file
from surfaudit.errors import NoDataError, OutputError, SurfauditError, UsageError
from surfaudit.export.csv_export import render_csv
from surfaudit.export.data import gather
from surfaudit.export.html_export import render_html
from surfaudit.export.xlsx_export import render_xlsx
from surfaudit.people import resolve_user
from surfaudit.store import Store

FORMATS = {".csv": "csv", ".html": "html", ".xlsx": "xlsx"}
EXPORT_DAYS = 30  # without --from/--to: the 30 days ending today


@dataclass
class ExportResult:
    path: Path
    rows: int  # data rows in the CSV (requests plus extra pieces); the same count for HTML
    days: int  # local dates in the range
    format: str  # "csv" | "html" | "xlsx"
    requests: int = 0  # requests of the identity made in the range
    totals: dict[str, Any] = field(default_factory=dict)
    audit_entry: dict[str, Any] = field(default_factory=dict)


def check_arguments(user: object, reason: object, date_from, date_to, output) -> tuple[str, str, date, date, Path, str]:
    """Validate everything before touching the store; UsageError (exit 2) otherwise."""
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError("--reason is required: state why this investigation is being run (policy: monitoring needs a valid reason)")
    if not isinstance(user, str) or not user:
        raise UsageError("--user is required: the identity to export")
    d1, d2 = clock.check_range(as_date(date_from, "--from"), as_date(date_to, "--to"))
    if output is None or str(output) == "":
        raise UsageError("--output is required (a .csv, .html or .xlsx file)")
    path = Path(output)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"--output: the file name must end in .csv, .html or .xlsx, got {path.suffix or 'no suffix'!r}")
    if path.is_dir():
        raise UsageError(f"--output: {path} is a directory")
    if not path.parent.is_dir():
        raise UsageError(f"--output: directory {path.parent} does not exist")
    return user, reason.strip(), d1, d2, path, fmt


def export_investigation(store: Store, cfg: Config, user: str, reason: str, date_from: date | str | None,
                         date_to: date | str | None, output: Path | str, now: datetime | None = None,
                         wait: float = 10) -> ExportResult:
    """Write the CSV, HTML or Excel investigation file for `user` and record it in the audit log.

    Without `date_from`/`date_to` the range is the EXPORT_DAYS local days ending today.
    Raises UsageError (exit 2) for a missing reason, bad dates or an output that is
    not .csv/.html/.xlsx; NoDataError (exit 1) when the identity has no requests in the
    range, in which case no file is written and nothing is audited. The audit entry
    is appended (under the store lock and the audit log's lock, waiting up to `wait` s) after the file is
    written in full but before it is renamed into place: if the entry cannot be
    written (read-only store, full disk, lock held) there is no file; if the rename
    fails after it, an `export-failed` entry follows.
    """
    date_from, date_to = clock.local_range(cfg.schedule.timezone, date_from, date_to, EXPORT_DAYS)
    user, reason, d1, d2, path, fmt = check_arguments(user, reason, date_from, date_to, output)
    user = resolve_user(store, cfg, user)  # alias, any case, directory name or pseudonym -> the identity
    inv = gather(store, cfg, user, d1, d2)
    if inv.requests.height == 0 and inv.daily.height == 0:
        raise NoDataError(f"no requests for that identity between {d1} and {d2}: nothing exported, no file written")
    generated = (now or clock.now())
    generated_by = audit.os_user()
    if fmt == "csv":
        data = render_csv(inv)
    elif fmt == "xlsx":
        data = render_xlsx(inv, reason=reason, generated=generated, generated_by=generated_by)
    else:
        data = render_html(inv, reason=reason, generated=generated, generated_by=generated_by)
    recorded: dict[str, Any] = {}

    def record() -> None:
        recorded.update(audit.record(store, "export", rows=inv.requests.height, target=user, date_from=d1,
                                     date_to=d2, reason=reason, detail=path.name, wait=wait))

    try:
        write_file(path, data, before_publish=record)
    except OutputError:
        if recorded:  # the entry is there but the file is not: say so in the log too
            try:
                audit.record(store, "export-failed", target=user, date_from=d1, date_to=d2, reason=reason,
                             detail=f"{path.name}: not written", wait=wait)
            except SurfauditError:
                pass
        raise
    return ExportResult(path=path, rows=inv.requests.height, days=len(inv.days), format=fmt,
                        requests=inv.totals["requests"], totals=inv.totals, audit_entry=recorded)
