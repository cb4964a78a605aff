"""The calendar (DESIGN §5 `[calendar]`): closed days and ranges
and UK bank holidays are non-workdays for everyone (outside hours all day).

Dates (all GMT, local = UTC): Thu 2026-01-01 New Year's Day (a bank holiday in every
UK nation); Fri 2026-01-02 a bank holiday in Scotland only; Mon 2026-01-05 and
Tue 2026-01-06 ordinary workdays unless closed. A lone social request at 09:00
covers its 60 s tail: outside break on a workday, outside hours on a closed day.
"""

from __future__ import annotations

from datetime import date

import pytest

from surfaudit.closed_days import bank_holidays, closed_days
from surfaudit.reports import social_report
from tests.conftest_org import evc, org_cfg
from tests.conftest_reports import events_con, rows_of

FB = "www.facebook.com"
OUTSIDE_BREAK = (1.0, 1.0, 0.0, 0.0, 1, False)
OUTSIDE_HOURS = (1.0, 0.0, 0.0, 1.0, 1, False)


def by_date(cfg, days):
    rows = [evc(f"{d}T09:00:00Z", "alice", FB) for d in days]
    df = social_report(events_con(rows), cfg, date.fromisoformat(days[0]), date.fromisoformat(days[-1]))
    return {r[1].isoformat(): r[2:] for r in rows_of(df)}


def test_bank_holiday_and_closed_day_are_outside_hours(tmp_path):
    cfg = org_cfg(tmp_path, '[calendar]\nclosed = ["2026-01-06"]\n')
    got = by_date(cfg, ["2026-01-01", "2026-01-02", "2026-01-05", "2026-01-06", "2026-01-07"])
    assert got["2026-01-01"] == OUTSIDE_HOURS  # New Year's Day, england-and-wales by default
    assert got["2026-01-02"] == OUTSIDE_BREAK  # a workday in England
    assert got["2026-01-05"] == OUTSIDE_BREAK
    assert got["2026-01-06"] == OUTSIDE_HOURS  # closed (an INSET day)
    assert got["2026-01-07"] == OUTSIDE_BREAK


def test_closed_range_is_inclusive(tmp_path):
    cfg = org_cfg(tmp_path, '[calendar]\nclosed = ["2026-01-06..2026-01-07"]\nbank_holidays = ""\n')
    got = by_date(cfg, ["2026-01-01", "2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"])
    assert got["2026-01-01"] == OUTSIDE_BREAK  # no bank holidays at all
    assert [got[d] for d in ("2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08")] == [
        OUTSIDE_BREAK, OUTSIDE_HOURS, OUTSIDE_HOURS, OUTSIDE_BREAK]


def test_scotland_has_the_second_of_january(tmp_path):
    cfg = org_cfg(tmp_path, '[calendar]\nbank_holidays = "scotland"\n')
    got = by_date(cfg, ["2026-01-01", "2026-01-02", "2026-01-05"])
    assert got == {"2026-01-01": OUTSIDE_HOURS, "2026-01-02": OUTSIDE_HOURS, "2026-01-05": OUTSIDE_BREAK}


@pytest.mark.parametrize("nation,expected", [
    ("england-and-wales", {date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 4), date(2026, 5, 25),
                           date(2026, 8, 31)}),
    ("scotland", {date(2026, 4, 3), date(2026, 5, 4), date(2026, 5, 25), date(2026, 8, 3)}),
    ("northern-ireland", {date(2026, 3, 17), date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 4),
                          date(2026, 5, 25), date(2026, 7, 12), date(2026, 7, 13), date(2026, 8, 31)}),
])
def test_bank_holidays_per_nation_offline(nation, expected):
    # gov.uk's published 2026 dates, March to August (Christmas and New Year checked above);
    # Northern Ireland's Sunday 12 July is listed beside its Monday substitute
    got = set(bank_holidays(nation, date(2026, 3, 1), date(2026, 8, 31)))
    assert expected <= got
    assert not (got - expected) or nation == "scotland"  # Scotland may add one-off days


def test_closed_days_merge_ranges_and_holidays(tmp_path):
    cfg = org_cfg(tmp_path, '[calendar]\nclosed = ["2026-12-21..2026-12-24", "2026-12-23"]\n')
    days = closed_days(cfg.org, date(2026, 12, 20), date(2026, 12, 31))
    assert days == [date(2026, 12, d) for d in (21, 22, 23, 24, 25, 26, 28)]  # 28th: Boxing Day substitute
