"""Top report and summary query, against hand-computed expectations."""

from __future__ import annotations

import socket
import sys
from datetime import date, datetime, timezone

import pytest

from surfaudit.errors import UsageError
from surfaudit.reports import registrable_domain, summary_report, top_report
from surfaudit.reports import specs as top_module
from tests.conftest_reports import cfg, ev, events_con, rows_of

D = date(2026, 1, 5)

ROWS = [
    ev("2026-01-05T09:00:00Z", "alice", "www.facebook.com", nbytes=100, category="Social"),
    ev("2026-01-05T09:01:00Z", "alice", "m.facebook.com", nbytes=200, category="Social"),
    ev("2026-01-05T09:02:00Z", "bob", "www.bbc.co.uk", nbytes=1000, category="News"),
    ev("2026-01-05T09:03:00Z", "bob", "bbc.co.uk", nbytes=10, category=None),
    ev("2026-01-05T09:04:00Z", "bob", "www.facebook.com", "blocked", nbytes=5, category="Social"),
    ev("2026-01-05T09:05:00Z", "carol", "10.1.2.3", nbytes=7),
    # not transactions: never counted
    ev("2026-01-05T09:06:00Z", "carol", "www.facebook.com", "auth", nbytes=999),
    ev("2026-01-05T09:07:00Z", "carol", "www.facebook.com", "error", nbytes=999),
    # outside the date range
    ev("2026-01-06T09:00:00Z", "dave", "www.facebook.com", nbytes=999),
]


def top(by, **kw):
    return top_report(events_con(ROWS), cfg(), D, D, by=by, **kw)


def test_by_host():
    df = top("host")
    assert df.columns == ["host", "requests", "bytes"]
    assert rows_of(df) == [
        ("www.facebook.com", 2, 105),
        ("10.1.2.3", 1, 7),
        ("bbc.co.uk", 1, 10),
        ("m.facebook.com", 1, 200),
        ("www.bbc.co.uk", 1, 1000),
    ]


def test_blocked_only_counts_blocked_requests_alone():
    """The dashboard's top blocked sites: bob's one blocked Facebook request, nothing allowed."""
    assert rows_of(top("host", blocked_only=True)) == [("www.facebook.com", 1, 5)]
    assert rows_of(top("user", blocked_only=True)) == [("bob", 1, 5)]


def test_by_domain():
    assert rows_of(top("domain")) == [
        ("facebook.com", 3, 305),
        ("bbc.co.uk", 2, 1010),
        ("10.1.2.3", 1, 7),
    ]


def test_by_category_null_shown_as_none():
    assert rows_of(top("category")) == [("Social", 3, 305), ("(none)", 2, 17), ("News", 1, 1000)]


def test_by_user_and_user_filter_and_limit():
    assert rows_of(top("user")) == [("bob", 3, 1015), ("alice", 2, 300), ("carol", 1, 7)]
    assert rows_of(top("host", user="alice")) == [("m.facebook.com", 1, 200), ("www.facebook.com", 1, 100)]
    assert rows_of(top("host", user="alice' OR '1'='1")) == []
    assert rows_of(top("host", limit=2)) == [("www.facebook.com", 2, 105), ("10.1.2.3", 1, 7)]


def test_bad_by_or_limit():
    with pytest.raises(UsageError):
        top("url")
    with pytest.raises(UsageError):
        top("host", limit=0)


def test_registrable_domain_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tldextract tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    top_module._extractor.cache_clear()
    assert registrable_domain("bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("www.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("www.facebook.com") == "facebook.com"
    assert registrable_domain("M.FACEBOOK.COM.") == "facebook.com"
    assert registrable_domain("10.1.2.3") == "10.1.2.3"
    assert registrable_domain(None) is None
    assert top_module._extractor().suffix_list_urls == ()


def test_udf_registration_is_idempotent():
    con = events_con(ROWS)
    first = top_report(con, cfg(), D, D, by="domain")
    assert rows_of(top_report(con, cfg(), D, D, by="domain")) == rows_of(first)


def test_summary_per_utc_month():
    rows = [
        ev("2026-01-31T23:30:00Z", "a", "x.example"),
        ev("2026-01-05T09:00:00Z", "b", "x.example", "blocked"),
        ev("2026-02-01T00:30:00Z", "a", "x.example", "auth"),
    ]
    df = summary_report(events_con(rows))
    assert df.columns == ["month", "rows", "first_ts", "last_ts", "users", "blocked", "allowed"]
    utc = timezone.utc
    assert rows_of(df) == [
        ("2026-01", 2, datetime(2026, 1, 5, 9, tzinfo=utc), datetime(2026, 1, 31, 23, 30, tzinfo=utc), 2, 1, 1),
        ("2026-02", 1, datetime(2026, 2, 1, 0, 30, tzinfo=utc), datetime(2026, 2, 1, 0, 30, tzinfo=utc), 1, 0, 0),
    ]


def test_query_files_have_consistent_headers():
    from surfaudit.sql import list_queries, load_query, queries_dir

    names = list_queries()
    assert {"social", "social_segments", "blocked", "top", "summary"} <= set(names)
    assert not (queries_dir() / "__init__.py").exists()
    for name in names:
        q = load_query(name)  # raises if header params differ from the $params used
        assert q.name == name and q.description
    # the social report inlines the segments query instead of repeating its logic
    assert set(load_query("social_segments").params) <= set(load_query("social").params)
    assert "{{social_piece_ctes}}" in (queries_dir() / "social.sql").read_text()
    assert "{{social_piece_ctes}}" in (queries_dir() / "social_pieces.sql").read_text()
    assert "{{social_pieces}}" in (queries_dir() / "social_segments.sql").read_text()


def test_reports_import_rules():
    import subprocess

    code = (
        "import sys, surfaudit.reports, surfaudit.sql\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'ingest', 'retention')\n"
        "       or m in ('surfaudit.cli', 'surfaudit.export') or m.startswith('surfaudit.export.')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("by", ["host", "domain"])
def test_requests_without_a_host_are_listed_as_none_like_a_missing_category(by):
    """A relative URL or `http:///x` has no host: its row read ',2,200' (an empty name)."""
    rows = [ev("2026-01-05T09:00:00Z", "alice", None, url="/x", nbytes=100),  # type: ignore[arg-type]
            ev("2026-01-05T09:01:00Z", "alice", None, url="http:///y", nbytes=100),  # type: ignore[arg-type]
            ev("2026-01-05T09:02:00Z", "bob", "www.bbc.co.uk", nbytes=10)]
    df = top_report(events_con(rows), cfg(), D, D, by=by)
    assert rows_of(df) == [("(none)", 2, 200), ("bbc.co.uk" if by == "domain" else "www.bbc.co.uk", 1, 10)]
