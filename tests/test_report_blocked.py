"""Blocked report (DESIGN §6) against hand-computed expectations.

Default burst_seconds = 60. January dates are GMT (local = UTC); 2026-01-05 is a Monday.
"""

from __future__ import annotations

from datetime import date

import pytest

from surfaudit.reports import BLOCKED_COLUMNS, blocked_report, social_report
from tests.conftest_reports import cfg, ev, events_con, rows_of

D = date(2026, 1, 5)


def report(rows, d1=D, d2=D, **kw):
    return blocked_report(events_con(rows), cfg(), d1, d2, **kw)


def blk(ts, user="a", host="bad.example"):
    return ev(ts, user, host, "blocked")


def test_burst_boundary_exactly_burst_seconds_and_one_more():
    rows = [
        blk("2026-01-05T09:00:00Z"),
        blk("2026-01-05T09:01:00Z"),  # exactly 60 s later: same attempt
        blk("2026-01-05T09:02:01Z"),  # 61 s later: new attempt
    ]
    df = report(rows)
    assert tuple(df.columns) == BLOCKED_COLUMNS
    assert rows_of(df) == [("a", D, 3, 2, 1, "bad.example")]


def test_millisecond_precision():
    rows = [blk("2026-01-05T09:00:00.000Z"), blk("2026-01-05T09:01:00.001Z")]  # 60.001 s: new attempt
    assert rows_of(report(rows)) == [("a", D, 2, 2, 1, "bad.example")]


def test_chain_extends_the_burst():
    # each 50 s after the previous; 150 s from first to last, still one attempt
    rows = [blk(f"2026-01-05T09:{t}Z") for t in ("10:00", "10:50", "11:40", "12:30")]
    assert rows_of(report(rows)) == [("a", D, 4, 1, 1, "bad.example")]


def test_different_hosts_are_separate_attempts_and_top_host_tie_is_alphabetical():
    rows = [
        blk("2026-01-05T10:00:00Z", host="b.example"),
        blk("2026-01-05T10:00:10Z", host="a.example"),  # other host: new attempt
        blk("2026-01-05T10:00:20Z", host="b.example"),  # 20 s after b's previous: same attempt
        blk("2026-01-05T10:00:30Z", host="a.example"),  # 20 s after a's previous: same attempt
    ]
    assert rows_of(report(rows)) == [("a", D, 4, 2, 2, "a.example")]


def test_top_host_is_most_requests():
    rows = [blk("2026-01-05T10:00:00Z", host="a.example")] + [
        blk(f"2026-01-05T11:0{i}:00Z", host="z.example") for i in range(3)
    ]
    assert rows_of(report(rows)) == [("a", D, 4, 2, 2, "z.example")]


def test_burst_does_not_cross_local_midnight_and_dates_are_local():
    rows = [
        blk("2026-01-05T23:59:50Z"), blk("2026-01-06T00:00:20Z"),  # 30 s apart, different dates
        # BST: 2026-03-29 23:30 UTC is Monday 30 March 00:30 local
        blk("2026-03-29T23:30:00Z", user="b"),
    ]
    assert rows_of(report(rows, D, date(2026, 1, 6))) == [
        ("a", D, 1, 1, 1, "bad.example"),
        ("a", date(2026, 1, 6), 1, 1, 1, "bad.example"),
    ]
    assert rows_of(report(rows, date(2026, 3, 30), date(2026, 3, 30))) == [
        ("b", date(2026, 3, 30), 1, 1, 1, "bad.example"),
    ]
    assert report(rows, date(2026, 3, 29), date(2026, 3, 29)).height == 0


def test_local_dates_at_the_last_and_first_millisecond_around_clock_changes():
    """The local date of each blocked request (read from its UTC quarter hour) on the
    UK clock-change days of 2026: 29 March (01:00 GMT -> 02:00 BST) and 25 October
    (02:00 BST -> 01:00 GMT), one millisecond either side of each local midnight."""
    stamps = {
        "2026-03-28T23:59:59.999Z": date(2026, 3, 28),  # GMT: Saturday 23:59:59.999
        "2026-03-29T00:00:00.000Z": date(2026, 3, 29),
        "2026-03-29T00:59:59.999Z": date(2026, 3, 29),  # the last GMT millisecond
        "2026-03-29T01:00:00.000Z": date(2026, 3, 29),  # 02:00 BST
        "2026-03-29T22:59:59.999Z": date(2026, 3, 29),  # BST: Sunday 23:59:59.999
        "2026-03-29T23:00:00.000Z": date(2026, 3, 30),  # Monday 00:00 BST
        "2026-10-24T22:59:59.999Z": date(2026, 10, 24),  # BST: Saturday 23:59:59.999
        "2026-10-24T23:00:00.000Z": date(2026, 10, 25),  # Sunday 00:00 BST
        "2026-10-25T00:59:59.999Z": date(2026, 10, 25),  # 01:59:59.999 BST, the first 01:xx
        "2026-10-25T01:00:00.000Z": date(2026, 10, 25),  # 01:00 GMT, the repeated hour
        "2026-10-25T23:59:59.999Z": date(2026, 10, 25),  # GMT: Sunday 23:59:59.999
        "2026-10-26T00:00:00.000Z": date(2026, 10, 26),
    }
    # one user per instant, so no two requests chain
    rows = [blk(ts, user=f"u{i:02}") for i, ts in enumerate(stamps)]
    got = {(r[0], r[1]) for r in rows_of(report(rows, date(2026, 3, 28), date(2026, 10, 26)))}
    assert got == {(f"u{i:02}", d) for i, d in enumerate(stamps.values())}


def test_only_blocked_rows_count():
    rows = [
        ev("2026-01-05T09:00:00Z", "a", "www.facebook.com", "auth"),  # 407 challenge
        ev("2026-01-05T09:00:01Z", "a", "www.facebook.com", "error"),
        ev("2026-01-05T09:00:02Z", "a", "www.facebook.com"),  # allowed
        ev("2026-01-05T09:00:03Z", "b", "www.facebook.com", "auth"),
    ]
    assert report(rows).height == 0


def test_blocked_social_request_is_blocked_not_social_and_auth_is_neither():
    rows = [
        ev("2026-01-05T09:00:00Z", "a", "www.facebook.com", "blocked"),
        ev("2026-01-05T09:00:00Z", "b", "www.facebook.com", "auth", status=407),
    ]
    con = events_con(rows)
    assert rows_of(blocked_report(con, cfg(), D, D)) == [("a", D, 1, 1, 1, "www.facebook.com")]
    assert social_report(con, cfg(), D, D).height == 0


def test_identities_separate_and_sorted_by_date_then_user():
    rows = [
        blk("2026-01-06T09:00:00Z", user="a"),
        blk("2026-01-05T09:00:00Z", user="b"),
        blk("2026-01-05T09:00:30Z", user="a"),  # 30 s after b's, but another identity
        blk("2026-01-05T09:00:40Z", user="b"),
    ]
    assert rows_of(report(rows, D, date(2026, 1, 6))) == [
        ("a", D, 1, 1, 1, "bad.example"),
        ("b", D, 2, 1, 1, "bad.example"),
        ("a", date(2026, 1, 6), 1, 1, 1, "bad.example"),
    ]


@pytest.mark.parametrize("evil", ["o'brien", "%", "x'; DROP VIEW events; --", 'DOMAIN\\user "q"'])
def test_user_filter_matches_literally(evil):
    rows = [blk("2026-01-05T09:00:00Z", user=evil), blk("2026-01-05T09:00:00Z", user="other")]
    con = events_con(rows)
    assert rows_of(blocked_report(con, cfg(), D, D, user=evil)) == [(evil, D, 1, 1, 1, "bad.example")]
    assert blocked_report(con, cfg(), D, D).height == 2


def test_custom_burst_seconds():
    from dataclasses import replace

    config = replace(cfg(), blocked=replace(cfg().blocked, burst_seconds=0))
    rows = [blk("2026-01-05T09:00:00Z"), blk("2026-01-05T09:00:00Z"), blk("2026-01-05T09:00:01Z")]
    assert rows_of(blocked_report(events_con(rows), config, D, D)) == [("a", D, 3, 2, 1, "bad.example")]
