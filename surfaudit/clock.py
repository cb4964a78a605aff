"""The current time, and calendar arithmetic shared by ingest and retention.

`now()` honours $SURFAUDIT_NOW (an ISO 8601 instant) so tests, and a technician
re-running a missed night, can fix the clock of a real subprocess.
"""

from __future__ import annotations

import calendar
import os
from datetime import date, datetime, timezone

from surfaudit.errors import ConfigError, UsageError


def now() -> datetime:
    """The current instant (UTC, aware)."""
    fixed = os.environ.get("SURFAUDIT_NOW")
    if fixed:
        try:
            value = datetime.fromisoformat(fixed.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"$SURFAUDIT_NOW: not an ISO 8601 time: {fixed!r}") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def months_before(instant: datetime, months: int) -> datetime:
    """The same instant `months` calendar months earlier (day clamped to month end)."""
    total = instant.year * 12 + (instant.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def retention_cutoff(months: int, at: datetime | None = None) -> datetime:
    """Rows strictly older than this instant are outside the retention period (§6)."""
    return months_before(at or now(), months)


def month_key(instant: datetime) -> str:
    """The UTC month partition name `YYYY-MM` an instant belongs to."""
    return instant.astimezone(timezone.utc).strftime("%Y-%m")


def month_end(month: str) -> datetime:
    """The first instant after UTC month `YYYY-MM`."""
    year, mon = map(int, month.split("-"))
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return datetime(year, mon, 1, tzinfo=timezone.utc)


def as_date(value: date | str, option: str = "date") -> date:
    """A local date from a `date` or 'YYYY-MM-DD'; UsageError naming the option otherwise."""
    if isinstance(value, datetime):
        raise UsageError(f"{option}: expected a date, not a date and time")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{option}: expected a date YYYY-MM-DD, got {value!r}") from None
