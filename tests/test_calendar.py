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


# -- the bank-holiday cache ------------------------------------------------------------------

def _holidays_uncached(nation, first, last):
    import holidays

    from surfaudit.config_org import BANK_HOLIDAYS

    found = holidays.country_holidays("GB", subdiv=BANK_HOLIDAYS[nation], years=range(first.year, last.year + 1))
    return {d: str(n) for d, n in sorted(found.items()) if first <= d <= last}


@pytest.mark.parametrize("nation", ["england-and-wales", "scotland", "northern-ireland"])
def test_cached_bank_holidays_are_the_packages(tmp_path, monkeypatch, nation):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first, last = date(2025, 12, 1), date(2027, 1, 31)
    want = _holidays_uncached(nation, first, last)
    assert bank_holidays(nation, first, last) == want  # computed and written
    cache = tmp_path / "surfaudit" / "bank-holidays.json"
    assert cache.stat().st_mode & 0o077 == 0
    assert bank_holidays(nation, first, last) == want  # read back
    assert bank_holidays(nation, date(2026, 5, 1), date(2026, 5, 31)) == {
        d: n for d, n in want.items() if d.month == 5 and d.year == 2026}


def test_a_report_run_with_the_cache_warm_does_not_import_holidays(tmp_path):
    import os
    import subprocess
    import sys

    code = ("import sys\nfrom datetime import date\nfrom surfaudit.closed_days import bank_holidays\n"
            "print(len(bank_holidays('england-and-wales', date(2026, 1, 1), date(2026, 12, 31))), "
            "'holidays' in sys.modules)\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    n = len(_holidays_uncached("england-and-wales", date(2026, 1, 1), date(2026, 12, 31)))
    assert runs == [f"{n} True\n", f"{n} False\n"]


@pytest.mark.parametrize("damage", [
    "", "{", "[]", '{"key": 1}', "null",
    '{"key": "KEY", "years": {"ENG:2026": [["2026-13-01", "x"]]}}',
    '{"key": "KEY", "years": {"ENG:2026": [["2026-01-01"]]}}',
    '{"key": "KEY", "years": {"ENG:2026": [["2026-01-01", 5]]}}',
    '{"key": "KEY", "years": {"ENG:2026": "nope"}}',
    '{"key": "KEY", "years": []}',
])
def test_a_damaged_cache_is_recomputed_and_rewritten(tmp_path, monkeypatch, damage):
    from surfaudit import closed_days as cd

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = tmp_path / "surfaudit" / "bank-holidays.json"
    cache.parent.mkdir()
    cache.write_text(damage.replace("KEY", cd._library_key() or ""))
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    assert bank_holidays("england-and-wales", first, last) == _holidays_uncached("england-and-wales", first, last)
    assert '"ENG:2026"' in cache.read_text()


def test_a_cache_of_another_holidays_release_is_not_used(tmp_path, monkeypatch):
    from surfaudit import closed_days as cd

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = tmp_path / "surfaudit" / "bank-holidays.json"
    cache.parent.mkdir()
    cache.write_text('{"key": "elsewhere", "years": {"ENG:2026": [["2026-06-01", "Made Up Day"]]}}')
    got = bank_holidays("england-and-wales", date(2026, 1, 1), date(2026, 12, 31))
    assert date(2026, 6, 1) not in got and date(2026, 12, 25) in got
    assert cd._library_key() in cache.read_text()


def test_no_writable_cache_directory_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    assert bank_holidays("scotland", first, last) == _holidays_uncached("scotland", first, last)
    assert blocker.read_text() == ""
