"""The current time, and calendar arithmetic shared by ingest, retention and the reports.

`now()` honours $SURFAUDIT_NOW (an ISO 8601 instant) so tests, and a technician
re-running a missed night, can fix the clock of a real subprocess. `check_range`
is the one check of a --from/--to pair that every command uses, so a bad range
reads the same whichever command was given it.
"""

from __future__ import annotations

import calendar
import os
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

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


# The dates a command takes: no log line is older than the Unix epoch, and squid's
# ten-digit epoch seconds end in 2286.
FIRST_DATE, LAST_DATE = date(1970, 1, 1), date(2299, 12, 31)


def as_date(value: date | str, option: str = "date") -> date:
    """A local date from a `date` or 'YYYY-MM-DD'; UsageError naming the option otherwise."""
    if isinstance(value, datetime):
        raise UsageError(f"{option}: expected a date, not a date and time")
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value))
        except ValueError:
            raise UsageError(f"{option}: expected a date YYYY-MM-DD, got {value!r}") from None
    if not FIRST_DATE <= value <= LAST_DATE:  # a day either side must still be a date, in UTC too
        raise UsageError(f"{option}: {value} is outside the dates a log can hold "
                         f"({FIRST_DATE} to {LAST_DATE}); leave the option out for no limit")
    return value


def check_range(date_from: date | str | None, date_to: date | str | None) -> tuple[date | None, date | None]:
    """--from and --to as dates (None where not given); UsageError when one is no date or from > to."""
    d1 = None if date_from is None else as_date(date_from, "--from")
    d2 = None if date_to is None else as_date(date_to, "--to")
    if d1 is not None and d2 is not None and d1 > d2:
        raise UsageError(f"--from {d1} is after --to {d2}")
    return d1, d2


def local_range(tz: str, date_from: date | str | None, date_to: date | str | None, days: int) -> tuple[date, date]:
    """The range a dated command covers: --to defaults to today in `tz`, --from to `days` days ending --to."""
    d1, d2 = check_range(date_from, date_to)
    end = d2 if d2 is not None else now().astimezone(ZoneInfo(tz)).date()
    start = d1 if d1 is not None else end - timedelta(days=days - 1)
    return check_range(start, end)  # type: ignore[return-value]  # --from alone may lie after today
