"""Non-workdays for everyone (DESIGN §5 `[calendar]`): closed days and ranges
(holidays, INSET days) and the UK bank holidays of the configured nation.

Bank holidays come from the `holidays` package (python-holidays, a core
dependency): its rules for England and Wales, Scotland and Northern Ireland are
computed offline, substitute days included, and it is kept up to date with
one-off holidays (a coronation, a jubilee) by its maintainers; so no list goes
stale inside this tool and nothing is fetched at run time. The dates are handed
to the SQL as a small table (`closed_days`), where the workday rule lives.

Working a year out takes the package a tenth of a second, on every report that
reads a timetable; so the years computed are kept in the user's cache directory
(`$XDG_CACHE_HOME/surfaudit/bank-holidays.json`), keyed on the installed
package's version file: an upgrade of `holidays` recomputes them. A cache that is
missing, unreadable, damaged or unwritable is simply not used.
"""

from __future__ import annotations

import importlib.util
import json
import os
from datetime import date, timedelta
from pathlib import Path

from surfaudit.config_org import BANK_HOLIDAYS


def bank_holidays(nation: str, first: date, last: date) -> dict[date, str]:
    """Bank holidays of `nation` (england-and-wales | scotland | northern-ireland | "")
    between `first` and `last` inclusive, with their names."""
    subdiv = BANK_HOLIDAYS.get(nation)
    if subdiv is None:
        return {}
    years = [f"{subdiv}:{y}" for y in range(first.year, last.year + 1)]
    key = _library_key()
    cache = _read_cache(key)
    missing = [y for y in years if y not in cache]
    if missing:
        import holidays

        found = holidays.country_holidays("GB", subdiv=subdiv, years=[int(y.split(":")[1]) for y in missing])
        for y in missing:
            cache[y] = sorted([d.isoformat(), str(name)] for d, name in found.items() if str(d.year) == y.split(":")[1])
        _write_cache(key, cache)
    out = {date.fromisoformat(d): name for y in years for d, name in cache[y]}
    return {d: out[d] for d in sorted(out) if first <= d <= last}


def _cache_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "surfaudit" / "bank-holidays.json"


def _library_key() -> str | None:
    """Where the installed `holidays` is and its version file's size and mtime (no import)."""
    try:
        spec = importlib.util.find_spec("holidays")
        version = Path(spec.origin).parent / "version.py"  # type: ignore[union-attr, arg-type]
        st = version.stat()
    except (ImportError, AttributeError, TypeError, OSError):
        return None
    return f"{version}:{st.st_size}:{st.st_mtime_ns}"


def _read_cache(key: str | None) -> dict[str, list[list[str]]]:
    if key is None:
        return {}
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
        years = data["years"] if data.get("key") == key else {}
        # the shape checked here, so that a damaged file is a miss, never an error later
        if not all(isinstance(name, str) and date.fromisoformat(d) for rows in years.values() for d, name in rows):
            return {}
        return dict(years)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _write_cache(key: str | None, years: dict[str, list[list[str]]]) -> None:
    if key is None:
        return
    from surfaudit.atomic import write_file
    from surfaudit.errors import OutputError

    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, json.dumps({"key": key, "years": years}, sort_keys=True))
    except (OSError, OutputError):
        pass  # no writable cache: the next run computes the years again


def closed_days(org, first: date, last: date) -> list[date]:
    """Every local date in [first, last] that is a non-workday for everyone."""
    out = set(bank_holidays(org.bank_holidays, first, last))
    for start, end in org.closed:
        d = max(start, first)
        while d <= min(end, last):
            out.add(d)
            d += timedelta(days=1)
    return sorted(out)
