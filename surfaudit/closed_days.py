"""Non-workdays for everyone (DESIGN §5 `[calendar]`): closed days and ranges
(holidays, INSET days) and the UK bank holidays of the configured nation.

Bank holidays come from the `holidays` package (python-holidays, a core
dependency): its rules for England and Wales, Scotland and Northern Ireland are
computed offline, substitute days included, and it is kept up to date with
one-off holidays (a coronation, a jubilee) by its maintainers; so no list goes
stale inside this tool and nothing is fetched at run time. The dates are handed
to the SQL as a small table (`closed_days`), where the workday rule lives.
"""

from __future__ import annotations

from datetime import date, timedelta

from surfaudit.config_org import BANK_HOLIDAYS


def bank_holidays(nation: str, first: date, last: date) -> dict[date, str]:
    """Bank holidays of `nation` (england-and-wales | scotland | northern-ireland | "")
    between `first` and `last` inclusive, with their names."""
    subdiv = BANK_HOLIDAYS.get(nation)
    if subdiv is None:
        return {}
    import holidays

    years = range(first.year, last.year + 1)
    found = holidays.country_holidays("GB", subdiv=subdiv, years=years)
    return {d: str(name) for d, name in sorted(found.items()) if first <= d <= last}


def closed_days(org, first: date, last: date) -> list[date]:
    """Every local date in [first, last] that is a non-workday for everyone."""
    out = set(bank_holidays(org.bank_holidays, first, last))
    for start, end in org.closed:
        d = max(start, first)
        while d <= min(end, last):
            out.add(d)
            d += timedelta(days=1)
    return sorted(out)
