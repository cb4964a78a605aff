"""Which timetable applies (DESIGN §6), with hand-computed figures.

2026-01-05 is a Monday in GMT (local = UTC), so every literal time below is local.
[schedule] (the default): work 08:00-17:00, breaks 10:30-10:50 and 12:00-13:00.
Every social request here is alone, so it covers exactly the 60 s tail: 1.00 minute,
in the bucket of the request's own minute under the identity's timetable.
"""

from __future__ import annotations

from datetime import date

import pytest

from surfaudit.errors import ConfigError
from surfaudit.reports import social_report, social_segments
from tests.conftest_org import evc, org_cfg
from tests.conftest_reports import events_con, rows_of

MON, TUE, WED = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
FB, IG = "www.facebook.com", "www.instagram.com"

TOML = '''
[directory]
path = "staff.csv"
scope = "all"
[schedules.north]
breaks = ["12:00-12:30"]
[schedules.south]
breaks = ["12:30-13:15"]
[schedules.late]
work_hours = "13:00-20:00"
breaks = []
[groups.g1]
schedule = "south"
[groups.comms]
work_hosts = ["facebook.com"]
[sites.north]
schedule = "north"
clients = ["10.1.0.0/16"]
[sites.south]
schedule = "south"
clients = ["10.2.0.0/16"]
'''
STAFF = """Identity,Name,Group,Site,Aliases,Schedule,Workdays
rowsched,Row Person,g1,north,,late,
grpsched,Group Person,g1,north,,,
northie,North Person,,north,,,
southie,South Person,,south,,,
plain,Plain Person,,,,,
parttime,Pat Time,,,,,mon;tue
comms1,Casey Comms,comms,,,,
"""

# (social, outside_break, in_break, outside_hours, requests, flagged) for a lone request
IN_BREAK = (1.0, 0.0, 1.0, 0.0, 1, False)
OUTSIDE_BREAK = (1.0, 1.0, 0.0, 0.0, 1, False)
OUTSIDE_HOURS = (1.0, 0.0, 0.0, 1.0, 1, False)


@pytest.fixture
def cfg(tmp_path):
    return org_cfg(tmp_path, TOML, STAFF)


def report(cfg, rows, d1=MON, d2=MON):
    return {(r[0], r[1]): r[2:] for r in rows_of(social_report(events_con(rows), cfg, d1, d2))}


def test_two_sites_whose_lunch_breaks_differ(cfg):
    # 12:05: inside north's lunch (12:00-12:30), before south's (12:30-13:15)
    got = report(cfg, [evc("2026-01-05T12:05:00Z", u, FB) for u in ("northie", "southie")])
    assert got[("northie", MON)] == IN_BREAK
    assert got[("southie", MON)] == OUTSIDE_BREAK


def test_precedence_each_level(cfg):
    rows = [evc("2026-01-05T12:05:00Z", u, FB) for u in ("rowsched", "grpsched", "southie", "plain", "nobody")]
    got = report(cfg, rows)
    # directory row's schedule (late: work from 13:00) beats its group's (south) and site's (north)
    assert got[("rowsched", MON)] == OUTSIDE_HOURS
    # the group's schedule (south) beats the row's site (north: 12:05 would be in break)
    assert got[("grpsched", MON)] == OUTSIDE_BREAK
    # the row's site (south) beats [schedule] (12:05 in its 12:00-13:00 lunch)
    assert got[("southie", MON)] == OUTSIDE_BREAK
    # a row with no schedule, group or site, and an identity without a row: [schedule]
    assert got[("plain", MON)] == IN_BREAK
    assert got[("nobody", MON)] == IN_BREAK


def test_site_by_client_address_of_the_first_request_that_day(cfg):
    rows = [
        # Monday: first request (not social) from the south network, the social one from elsewhere
        evc("2026-01-05T08:00:00Z", "10.2.0.5", "www.bbc.co.uk", ip="10.2.0.5"),
        evc("2026-01-05T12:05:00Z", "10.2.0.5", FB, ip="10.9.9.9"),
        # Tuesday: first request from no site's network -> [schedule]
        evc("2026-01-06T08:00:00Z", "10.2.0.5", "www.bbc.co.uk", ip="10.9.9.9"),
        evc("2026-01-06T12:05:00Z", "10.2.0.5", FB, ip="10.2.0.5"),
        # a directory row without a site is never placed by address: [schedule]
        evc("2026-01-05T08:00:00Z", "plain", "www.bbc.co.uk", ip="10.2.0.7"),
        evc("2026-01-05T12:05:00Z", "plain", FB, ip="10.2.0.7"),
    ]
    got = report(cfg, rows, MON, TUE)
    assert got[("10.2.0.5", MON)] == OUTSIDE_BREAK
    assert got[("10.2.0.5", TUE)] == IN_BREAK
    assert got[("plain", MON)] == IN_BREAK


def test_part_time_person_on_a_day_off_is_outside_hours(cfg):
    rows = [evc("2026-01-07T09:00:00Z", u, FB) for u in ("parttime", "plain")]
    rows.append(evc("2026-01-06T09:00:00Z", "parttime", FB))
    got = report(cfg, rows, TUE, WED)
    assert got[("parttime", WED)] == OUTSIDE_HOURS  # Wednesday is not one of mon;tue
    assert got[("plain", WED)] == OUTSIDE_BREAK  # a full-time colleague at the same minute
    assert got[("parttime", TUE)] == OUTSIDE_BREAK


def test_work_hosts_are_not_social_for_the_group(cfg):
    rows = [
        evc("2026-01-05T09:00:00Z", "comms1", FB),  # work: the trust's Facebook page
        evc("2026-01-05T09:00:30Z", "comms1", "m.facebook.com"),  # sub-domains too
        evc("2026-01-05T09:30:00Z", "comms1", IG),  # another social site: social
        evc("2026-01-05T09:00:00Z", "plain", FB),  # not in comms: social
    ]
    got = report(cfg, rows)
    assert got[("comms1", MON)] == OUTSIDE_BREAK  # only the Instagram request: 1.00
    assert got[("plain", MON)] == OUTSIDE_BREAK
    seg = social_segments(events_con(rows), cfg, MON, MON, "comms1")
    assert seg["host"].to_list() == [IG]


def test_a_coverage_crossing_midnight_uses_each_dates_timetable(cfg):
    # parttime works mon;tue: Tue 23:59:30 -> Wed; 30 s on each date, both outside hours
    rows = [evc("2026-01-06T23:59:30Z", "parttime", FB)]
    got = report(cfg, rows, TUE, WED)
    assert got[("parttime", TUE)] == (0.5, 0.0, 0.0, 0.5, 1, False)
    assert got[("parttime", WED)] == (0.5, 0.0, 0.0, 0.5, 0, False)


def test_unknown_schedule_in_the_directory_is_a_config_error_naming_file_and_line(tmp_path):
    cfg = org_cfg(tmp_path, TOML, STAFF + "oops,Oops,,,,nosuch,\n")
    with pytest.raises(ConfigError) as info:
        social_report(events_con([]), cfg, MON, MON)
    assert "staff.csv" in str(info.value) and "line 9" in str(info.value) and "nosuch" in str(info.value)


def test_first_request_that_day_is_by_local_date_in_summer_time(cfg):
    # Mon 1 June 2026 is BST (UTC+1): 23:30Z on 31 May is 00:30 local on 1 June
    mon = date(2026, 6, 1)
    rows = [
        evc("2026-05-31T23:30:00Z", "early", "www.bbc.co.uk", ip="10.2.0.5"),  # first on 1 June: south
        evc("2026-06-01T11:05:00Z", "early", FB, ip="10.9.9.9"),  # 12:05 local
        evc("2026-06-01T11:05:00Z", "late", FB, ip="10.9.9.9"),  # first on 1 June: no site
        evc("2026-06-01T23:30:00Z", "late", "www.bbc.co.uk", ip="10.2.0.5"),  # 00:30 on 2 June
    ]
    got = report(cfg, rows, mon, mon)
    assert got[("early", mon)] == OUTSIDE_BREAK  # south: lunch from 12:30
    assert got[("late", mon)] == IN_BREAK  # [schedule]: lunch 12:00-13:00


def test_an_ipv4_mapped_ipv6_client_is_at_the_site_of_its_ipv4_address():
    """A dual-stack proxy may log `::ffff:10.1.0.5`: it is 10.1.0.5, in 10.1.0.0/16."""
    from surfaudit.config_org import Site
    from surfaudit.org_sql import _site_matcher

    site_of = _site_matcher({"north": Site("north", None, ("10.1.0.0/16",)),
                             "v6": Site("v6", None, ("2001:db8::/32",))})
    assert [site_of(ip) for ip in ("::ffff:10.1.0.5", "10.1.0.5", "::FFFF:10.9.0.1", "2001:db8::5", "::1", None)] \
        == ["north", "north", None, "v6", None, None]
