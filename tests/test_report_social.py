"""Social time and the social report (DESIGN §6), against hand-computed expectations.

Default config: Europe/London, mon-fri, work 08:00-17:00, breaks 10:30-10:50 and
12:00-13:00, idle gap 300 s, tail 60 s, flag 30 min. January is GMT (local = UTC);
2026-03-29 and 2026-10-25 are the clock-change Sundays. 2026-01-05 is a Monday.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import polars as pl
import pytest

from surfaudit.config import Schedule, Window
from surfaudit.reports import (
    SOCIAL_COLUMNS,
    needed_utc_range,
    report_parameters,
    social_report,
    social_segments,
)
from surfaudit.sql import schedule_segments
from tests.conftest_reports import cfg, ev, events_con, rows_of

FB = "www.facebook.com"
D = date(2026, 1, 5)  # Monday, GMT


def report(rows, d1=D, d2=D, config=None, **kw):
    return social_report(events_con(rows), config or cfg(), d1, d2, **kw)


def by_user(df: pl.DataFrame) -> dict:
    """user -> (social, outside_break, in_break, outside_hours, requests, flagged) for one-date reports."""
    return {r[0]: r[2:] for r in rows_of(df)}


def test_columns_and_types():
    df = report([ev("2026-01-05T09:00:00Z", "alice", FB)])
    assert tuple(df.columns) == SOCIAL_COLUMNS
    assert rows_of(df) == [("alice", D, 1.0, 1.0, 0.0, 0.0, 1, False)]
    assert df.schema["date"] == pl.Date and df.schema["flagged"] == pl.Boolean


def test_idle_gap_boundaries_and_tail():
    rows = [
        # exactly 300 s: first covers 300, last gets the 60 s tail -> 360 s = 6.00
        ev("2026-01-05T09:00:00Z", "gap300", FB), ev("2026-01-05T09:05:00Z", "gap300", FB),
        # 301 s: both get the tail -> 120 s = 2.00
        ev("2026-01-05T09:00:00Z", "gap301", FB), ev("2026-01-05T09:05:01Z", "gap301", FB),
        # 300.001 s (millisecond precision): tail -> 120 s = 2.00
        ev("2026-01-05T09:00:00.000Z", "gapms", FB), ev("2026-01-05T09:05:00.001Z", "gapms", FB),
        # 299.999 s: covered -> 299.999 + 60 = 359.999 s = 6.00 (rounded)
        ev("2026-01-05T09:00:00.001Z", "gapunder", FB), ev("2026-01-05T09:05:00.000Z", "gapunder", FB),
        # a single request: just the tail, 60 s
        ev("2026-01-05T09:00:00Z", "single", FB),
    ]
    got = by_user(report(rows))
    assert got["gap300"] == (6.0, 6.0, 0.0, 0.0, 2, False)
    assert got["gap301"] == (2.0, 2.0, 0.0, 0.0, 2, False)
    assert got["gapms"] == (2.0, 2.0, 0.0, 0.0, 2, False)
    assert got["gapunder"] == (6.0, 6.0, 0.0, 0.0, 2, False)
    assert got["single"] == (1.0, 1.0, 0.0, 0.0, 1, False)


def test_session_straddling_end_of_break():
    # 12:58 -> 13:02: 120 s in the lunch break, 120 s after it, then a 60 s tail
    got = by_user(report([ev("2026-01-05T12:58:00Z", "a", FB), ev("2026-01-05T13:02:00Z", "a", FB)]))
    assert got["a"] == (5.0, 3.0, 2.0, 0.0, 2, False)


def test_session_straddling_start_of_work_and_morning_break():
    rows = [
        ev("2026-01-05T07:59:30Z", "a", FB),  # tail 60: 30 s outside hours, 30 s in work
        ev("2026-01-05T10:29:00Z", "a", FB),  # -> 10:31 covered 120: 60 outside break, 60 in break
        ev("2026-01-05T10:31:00Z", "a", FB),  # tail 60 in break
    ]
    assert by_user(report(rows))["a"] == (4.0, 1.5, 2.0, 0.5, 3, False)


def test_crossing_local_midnight_splits_and_spill_over_date_has_zero_requests():
    rows = [ev("2026-01-07T23:59:30Z", "a", FB)]  # Wednesday; tail 30 s Wed + 30 s Thu
    df = report(rows, date(2026, 1, 7), date(2026, 1, 8))
    assert rows_of(df) == [
        ("a", date(2026, 1, 7), 0.5, 0.0, 0.0, 0.5, 1, False),
        ("a", date(2026, 1, 8), 0.5, 0.0, 0.0, 0.5, 0, False),
    ]
    # Reporting only the Thursday still sees the Wednesday request (margin before)
    assert rows_of(report(rows, date(2026, 1, 8), date(2026, 1, 8))) == [
        ("a", date(2026, 1, 8), 0.5, 0.0, 0.0, 0.5, 0, False),
    ]
    # ...and reporting only the Wednesday does not include the Thursday part
    assert rows_of(report(rows, date(2026, 1, 7), date(2026, 1, 7))) == [
        ("a", date(2026, 1, 7), 0.5, 0.0, 0.0, 0.5, 1, False),
    ]


def test_session_across_midnight_with_request_after():
    # Fri 23:58 -> Sat 00:01 (gap 180): 120 s Fri, 60 s Sat; Sat 00:01 tail 60 s
    rows = [ev("2026-01-09T23:58:00Z", "a", FB), ev("2026-01-10T00:01:00Z", "a", FB)]
    assert rows_of(report(rows, date(2026, 1, 9), date(2026, 1, 10))) == [
        ("a", date(2026, 1, 9), 2.0, 0.0, 0.0, 2.0, 1, False),
        ("a", date(2026, 1, 10), 2.0, 0.0, 0.0, 2.0, 1, False),
    ]


def test_next_request_after_range_decides_coverage():
    # the last request of the Wednesday is followed 200 s later on Thursday
    rows = [ev("2026-01-07T16:59:00Z", "a", FB), ev("2026-01-07T17:02:20Z", "a", FB)]
    # 16:59 -> 17:02:20: 60 s in work hours, 140 s outside; then tail 60 outside
    assert by_user(report(rows, date(2026, 1, 7), date(2026, 1, 7)))["a"] == (4.33, 1.0, 0.0, 3.33, 2, False)


@pytest.mark.parametrize(
    "ts_utc, local_date, expected",
    [
        # Monday after the spring change (BST): 12:05 local = 11:05 UTC -> lunch break
        ("2026-03-30T11:05:00Z", date(2026, 3, 30), (1.0, 0.0, 1.0, 0.0, 1, False)),
        # BST: 07:59:30 local = 06:59:30 UTC -> 30 s before 08:00, 30 s after
        ("2026-03-30T06:59:30Z", date(2026, 3, 30), (1.0, 0.5, 0.0, 0.5, 1, False)),
        # BST: 11:05 UTC is not the break at 11:05 local... it is 12:05 local; 12:05 UTC is 13:05 local
        ("2026-03-30T12:05:00Z", date(2026, 3, 30), (1.0, 1.0, 0.0, 0.0, 1, False)),
        # Monday after the autumn change (GMT): 12:05 local = 12:05 UTC -> lunch break
        ("2026-10-26T12:05:00Z", date(2026, 10, 26), (1.0, 0.0, 1.0, 0.0, 1, False)),
        # Friday before the autumn change (BST): 12:05 local = 11:05 UTC
        ("2026-10-23T11:05:00Z", date(2026, 10, 23), (1.0, 0.0, 1.0, 0.0, 1, False)),
        # the clock-change Sundays are not workdays
        ("2026-03-29T11:05:00Z", date(2026, 3, 29), (1.0, 0.0, 0.0, 1.0, 1, False)),
        ("2026-10-25T12:05:00Z", date(2026, 10, 25), (1.0, 0.0, 0.0, 1.0, 1, False)),
        # a Saturday
        ("2026-01-10T12:05:00Z", date(2026, 1, 10), (1.0, 0.0, 0.0, 1.0, 1, False)),
        # BST local date: 23:30 UTC on Sunday 29 March is 00:30 on Monday 30 March
        ("2026-03-29T23:30:00Z", date(2026, 3, 30), (1.0, 0.0, 0.0, 1.0, 1, False)),
    ],
)
def test_local_time_and_clock_changes(ts_utc, local_date, expected):
    df = report([ev(ts_utc, "a", FB)], local_date, local_date)
    assert rows_of(df) == [("a", local_date) + expected]


def test_repeated_autumn_hour_counts_real_seconds():
    # Sunday 25 Oct: 00:59:00 UTC (01:59 BST) -> 01:01:00 UTC (01:01 GMT): 120 real seconds
    rows = [ev("2026-10-25T00:59:00Z", "a", FB), ev("2026-10-25T01:01:00Z", "a", FB)]
    d = date(2026, 10, 25)
    assert rows_of(report(rows, d, d)) == [("a", d, 3.0, 0.0, 0.0, 3.0, 2, False)]


def test_social_host_matching_and_ignore_hosts():
    rows = [
        ev("2026-01-05T09:00:00Z", "not1", "notfacebook.com"),
        ev("2026-01-05T09:00:00Z", "not2", "facebook.com.example.org"),
        ev("2026-01-05T09:00:00Z", "upper", "FACEBOOK.COM."),
        ev("2026-01-05T09:00:00Z", "mobile", "m.facebook.com"),
        ev("2026-01-05T09:00:00Z", "ignored", "widgets.facebook.com"),
        ev("2026-01-05T09:00:00Z", "ignored2", "Widgets.Facebook.com."),
        ev("2026-01-05T09:00:00Z", "bare", "x.com"),
        ev("2026-01-05T09:00:00Z", "bare2", "box.com"),
    ]
    got = by_user(report(rows, config=cfg(ignore_hosts=("widgets.facebook.com",))))
    assert sorted(got) == ["bare", "mobile", "upper"]


def test_ignored_host_does_not_bridge_or_split_a_session():
    rows = [
        ev("2026-01-05T09:00:00Z", "a", FB),
        ev("2026-01-05T09:04:00Z", "a", "widgets.facebook.com"),  # ignored: not a request at all
        ev("2026-01-05T09:08:00Z", "a", FB),  # gap 480 > 300 from 09:00 -> tails: 120 s
    ]
    assert by_user(report(rows, config=cfg(ignore_hosts=("widgets.facebook.com",))))["a"][0] == 2.0


def test_only_allowed_requests_count():
    rows = [
        ev("2026-01-05T09:00:00Z", "blk", FB, "blocked"),
        ev("2026-01-05T09:00:00Z", "auth", FB, "auth"),
        ev("2026-01-05T09:00:00Z", "err", FB, "error"),
        ev("2026-01-05T09:00:00Z", "ok", FB),
        # a blocked request between two allowed ones does not shorten the gap
        ev("2026-01-05T10:00:00Z", "mix", FB), ev("2026-01-05T10:04:00Z", "mix", FB, "blocked"),
        ev("2026-01-05T10:08:00Z", "mix", FB),
    ]
    got = by_user(report(rows))
    assert sorted(got) == ["mix", "ok"]
    assert got["mix"] == (2.0, 2.0, 0.0, 0.0, 2, False)


def test_identities_are_separate():
    rows = [
        ev("2026-01-05T09:00:00Z", "alice", FB), ev("2026-01-05T09:01:00Z", "bob", FB),
        ev("2026-01-05T09:02:00Z", "alice", FB), ev("2026-01-05T09:03:00Z", "bob", FB),
    ]
    df = report(rows)
    assert rows_of(df) == [
        ("alice", D, 3.0, 3.0, 0.0, 0.0, 2, False),
        ("bob", D, 3.0, 3.0, 0.0, 0.0, 2, False),
    ]


def _every_five_minutes(user: str, last: str) -> list[dict]:
    return [ev(f"2026-01-05T09:{m:02d}:00Z", user, FB) for m in range(0, 30, 5)] + [
        ev(f"2026-01-05T{last}Z", user, FB)
    ]


def test_flagged_at_exactly_flag_minutes():
    # 09:00..09:25 every 300 s = 1500 s, 09:25 -> 09:29 = 240 s, tail 60 -> 1800 s = 30.00
    # the other user stops at 09:28:59 -> 1799 s = 29.98
    rows = _every_five_minutes("at", "09:29:00") + _every_five_minutes("under", "09:28:59")
    got = by_user(report(rows))
    assert got["at"] == (30.0, 30.0, 0.0, 0.0, 7, True)
    assert got["under"] == (29.98, 29.98, 0.0, 0.0, 7, False)
    flagged = report(rows, flagged_only=True)
    assert flagged["user"].to_list() == ["at"]


def test_in_break_time_never_flags():
    # 12:00..12:55 every 300 s = 3300 s, tail to 12:56: 56 minutes, all in the lunch break
    rows = [ev(f"2026-01-05T12:{m:02d}:00Z", "lunch", FB) for m in range(0, 60, 5)]
    assert by_user(report(rows))["lunch"] == (56.0, 0.0, 56.0, 0.0, 12, False)


@pytest.mark.parametrize("evil", ["o'brien", 'a"b', "%", "a%", "x'; DROP TABLE events; --", "' OR 1=1 --", "SELECT"])
def test_user_filter_matches_literally(evil):
    rows = [
        ev("2026-01-05T09:00:00Z", evil, FB),
        ev("2026-01-05T09:00:00Z", "a-decoy", FB),
        ev("2026-01-05T09:00:00Z", "o'brien2", FB),
        ev("2026-01-05T09:00:00Z", "", FB),
    ]
    con = events_con(rows)
    df = social_report(con, cfg(), D, D, user=evil)
    assert rows_of(df) == [(evil, D, 1.0, 1.0, 0.0, 0.0, 1, False)]
    assert social_report(con, cfg(), D, D, user="nobody%").height == 0
    assert social_report(con, cfg(), D, D).height == 4  # the view survived


def test_dates_outside_range_excluded_and_sorted_by_date_then_user():
    rows = [
        ev("2026-01-04T09:00:00Z", "z", FB), ev("2026-01-06T09:00:00Z", "b", FB),
        ev("2026-01-06T09:00:00Z", "a", FB), ev("2026-01-05T09:00:00Z", "z", FB),
        ev("2026-01-08T09:00:00Z", "a", FB),
    ]
    df = report(rows, date(2026, 1, 5), date(2026, 1, 6))
    assert [(r[0], r[1]) for r in rows_of(df)] == [
        ("z", date(2026, 1, 5)), ("a", date(2026, 1, 6)), ("b", date(2026, 1, 6)),
    ]


def test_segments_sum_to_report_minutes():
    rows = (
        _every_five_minutes("at", "09:29:00")
        + [ev("2026-01-05T12:58:00Z", "a", FB), ev("2026-01-05T13:02:00.250Z", "a", "m.facebook.com")]
        + [ev("2026-01-05T23:59:30.5Z", "a", FB), ev("2026-01-06T10:29:59.999Z", "a", FB)]
        + [ev("2026-01-06T10:30:00.000Z", "a", FB), ev("2026-01-06T10:30:00.000Z", "a", FB)]
    )
    con = events_con(rows)
    d1, d2 = date(2026, 1, 5), date(2026, 1, 6)
    rep = social_report(con, cfg(), d1, d2)
    for user in ("a", "at"):
        seg = social_segments(con, cfg(), d1, d2, user)
        assert seg.columns == ["ts", "local_time", "user", "host", "url", "date", "period", "covered_seconds"]
        assert set(seg["period"]) <= {"in_break", "outside_break", "outside_hours"}
        sums = seg.group_by("date", "period").agg(pl.col("covered_seconds").sum())
        for r in rep.filter(pl.col("user") == user).iter_rows(named=True):
            for period, col in (("in_break", "in_break_minutes"), ("outside_break", "outside_break_minutes"),
                                ("outside_hours", "outside_hours_minutes")):
                s = sums.filter((pl.col("date") == r["date"]) & (pl.col("period") == period))["covered_seconds"].sum()
                assert abs(s / 60 - r[col]) <= 0.005 + 1e-9
            total = seg.filter(pl.col("date") == r["date"])["covered_seconds"].sum()
            assert abs(total / 60 - r["social_minutes"]) <= 0.005 + 1e-9
    # hand-computed pieces for user a on Monday: 12:58 -> 13:02:00.250
    seg = social_segments(con, cfg(), d1, d1, "a")
    first = seg.filter(pl.col("ts") == datetime(2026, 1, 5, 12, 58, tzinfo=timezone.utc))
    assert sorted(zip(first["period"], first["covered_seconds"])) == [("in_break", 120.0), ("outside_break", 120.25)]
    # the midnight-straddling request (tail 60 s) has 29.5 s on Monday, 30.5 s on Tuesday
    both = social_segments(con, cfg(), d1, d2, "a")
    late = both.filter(pl.col("ts") == datetime(2026, 1, 5, 23, 59, 30, 500000, tzinfo=timezone.utc))
    assert sorted(zip(late["date"], late["covered_seconds"])) == [(d1, 29.5), (d2, 30.5)]
    # two requests in the same millisecond: both listed, together 60 s (the tail)
    dup = both.filter(pl.col("ts") == datetime(2026, 1, 6, 10, 30, tzinfo=timezone.utc))
    assert dup.height == 2 and sorted(dup["covered_seconds"]) == [0.0, 60.0]
    tue = rep.filter((pl.col("user") == "a") & (pl.col("date") == d2)).row(0)
    # Tue: 30.5 s spill (outside hours); 10:29:59.999 covers 0.001 s before the break
    # (gap 0.001 <= 300), then 0 + 60 s tail in the break
    assert tue == ("a", d2, 1.51, 0.0, 1.0, 0.51, 3, False)
    assert seg["local_time"].dtype == pl.Datetime("us") and seg["ts"].dtype == pl.Datetime("us", "UTC")


def test_break_beyond_work_hours_still_in_break():
    sched = Schedule(breaks=(Window(16 * 60 + 30, 17 * 60 + 30),))
    config = replace(cfg(), schedule=sched)
    assert schedule_segments(sched) == [
        {"start_min": 0, "end_min": 480, "period": "outside_hours"},
        {"start_min": 480, "end_min": 990, "period": "outside_break"},
        {"start_min": 990, "end_min": 1050, "period": "in_break"},
        {"start_min": 1050, "end_min": 1440, "period": "outside_hours"},
    ]
    df = report([ev("2026-01-05T17:10:00Z", "a", FB), ev("2026-01-10T17:10:00Z", "a", FB)],
                D, date(2026, 1, 10), config=config)
    assert rows_of(df) == [
        ("a", D, 1.0, 0.0, 1.0, 0.0, 1, False),
        ("a", date(2026, 1, 10), 1.0, 0.0, 0.0, 1.0, 1, False),  # Saturday: no breaks
    ]


def test_needed_utc_range_and_parameters():
    lo, hi = needed_utc_range(cfg(), date(2026, 3, 30), date(2026, 3, 30))
    # local midnight 30 March (BST) = 29 March 23:00 UTC; minus a day / plus a day after 31 March 00:00 BST
    assert lo == datetime(2026, 3, 28, 23, 0, tzinfo=timezone.utc)
    assert hi == datetime(2026, 3, 31, 23, 0, tzinfo=timezone.utc)
    lo, hi = needed_utc_range(cfg(), "2026-01-05", "2026-01-06")
    assert (lo, hi) == (datetime(2026, 1, 4, tzinfo=timezone.utc), datetime(2026, 1, 8, tzinfo=timezone.utc))
    p = report_parameters(cfg())
    assert p["timezone"] == "Europe/London" and p["work_hours"] == "08:00-17:00"
    assert p["breaks"] == ["10:30-10:50", "12:00-13:00"] and p["workdays"] == ["mon", "tue", "wed", "thu", "fri"]
    assert (p["idle_gap_seconds"], p["tail_seconds"], p["flag_minutes"]) == (300, 60, 30)


def test_bad_dates_are_usage_errors():
    from surfaudit.errors import UsageError

    with pytest.raises(UsageError):
        report([], date(2026, 1, 6), date(2026, 1, 5))
    with pytest.raises(UsageError):
        report([], "2026-13-01", "2026-01-05")


def test_empty_store_gives_empty_report_with_columns():
    df = report([ev("2026-01-05T09:00:00Z", "a", "example.org")])
    assert df.height == 0 and tuple(df.columns) == SOCIAL_COLUMNS


def test_every_query_parameter_built_is_one_some_query_takes():
    """schedule_params and social_params build only parameters a query declares (they
    used to pass $workdays and $segments, which no query reads any more)."""
    from surfaudit.sql import list_queries, load_query, schedule_params, social_params

    declared = {p for name in list_queries() for p in load_query(name).params}
    built = {**schedule_params(cfg()), **social_params(cfg())}
    assert set(built) - declared == set()


def test_requests_are_the_distinct_requests_made_each_local_date():
    """`requests` counts each request once, on the local date it was made, however
    many pieces its time has (split by a break, by midnight, 0-second duplicates):
    the report counts the piece whose slot holds its start, which must equal
    counting distinct requests over the listed pieces by the date of their start."""
    rows = [
        ev("2026-01-05T12:58:00Z", "a", FB), ev("2026-01-05T13:02:00Z", "a", FB),  # across the lunch end
        ev("2026-01-05T10:30:00Z", "a", FB), ev("2026-01-05T10:30:00Z", "a", FB),  # the same millisecond
        ev("2026-01-05T23:59:30Z", "a", FB),  # its tail runs into Tuesday
        ev("2026-01-06T23:59:59.9996Z", "a", FB),  # rounds to Wednesday's first millisecond
        ev("2026-01-07T08:00:00Z", "b", FB),
    ]
    con = events_con(rows)
    d1, d2 = date(2026, 1, 5), date(2026, 1, 7)
    rep = social_report(con, cfg(), d1, d2)
    got = {(r["user"], r["date"]): r["requests"] for r in rep.iter_rows(named=True)}
    assert got == {("a", d1): 5, ("a", date(2026, 1, 6)): 0, ("a", d2): 1, ("b", d2): 1}
    assert sum(got.values()) == len(rows)  # every request counted, exactly once
    # Tuesday: only the spill of Monday's last request. Tuesday's late request is,
    # at the log's millisecond precision (DESIGN §6), at Wednesday 00:00:00.000: its
    # time and its count are Wednesday's (its local_time keeps the stored microseconds)
    seg = social_segments(con, cfg(), d1, d2, "a")
    late = seg.filter(pl.col("ts") == datetime(2026, 1, 6, 23, 59, 59, 999600, tzinfo=timezone.utc))
    assert late["date"].to_list() == [d2] and late["local_time"].dt.date().to_list() == [date(2026, 1, 6)]


def test_coverages_of_several_hours_cross_every_slot_they_span():
    # idle gap 4 h: a coverage can start hours before the slots it reaches (the join
    # on the hour a coverage starts in must still meet every one of them)
    c = cfg(idle_gap_seconds=4 * 3600)
    # Mon 07:30 -> 10:40 (3 h 10 min, covered): 30 min outside hours, 08:00-10:30
    # 150 min outside break, 10:30-10:40 10 min in break; then a 60 s tail in break
    rows = [ev("2026-01-05T07:30:00Z", "a", FB), ev("2026-01-05T10:40:00Z", "a", FB)]
    # Sun 23:30 -> Mon 02:45 (3 h 15 min): 30 min on Sunday, 165 min on Monday before
    # work, then the tail: 2.75 h + 1 min outside hours on Monday
    rows += [ev("2026-01-04T23:30:00Z", "b", FB), ev("2026-01-05T02:45:00Z", "b", FB)]
    # Mon 16:00 -> 19:59:59.999 (just under 4 h, covered): 60 min outside break,
    # 179.99998 min outside hours, then the tail
    rows += [ev("2026-01-05T16:00:00Z", "d", FB), ev("2026-01-05T19:59:59.999Z", "d", FB)]
    got = rows_of(report(rows, date(2026, 1, 4), D, config=c))
    assert got == [
        ("b", date(2026, 1, 4), 30.0, 0.0, 0.0, 30.0, 1, False),
        ("a", D, 191.0, 150.0, 11.0, 30.0, 2, True),
        ("b", D, 166.0, 0.0, 0.0, 166.0, 1, False),
        ("d", D, 241.0, 60.0, 0.0, 181.0, 2, True),
    ]
    # in summer time (BST, local = UTC+1): Mon 2026-06-01 06:30Z is 07:30 local, the
    # same pieces as Monday a's in January
    june = [ev("2026-06-01T06:30:00Z", "a", FB), ev("2026-06-01T09:40:00Z", "a", FB)]
    assert rows_of(report(june, date(2026, 6, 1), date(2026, 6, 1), config=c)) == [
        ("a", date(2026, 6, 1), 191.0, 150.0, 11.0, 30.0, 2, True),
    ]
