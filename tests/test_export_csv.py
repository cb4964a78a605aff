"""The investigation export (DESIGN §7 `export`): the CSV, the checks around it, the audit entry.

A small hand-made store (January 2026, GMT so local = UTC; 2026-01-05 is a
Monday; default schedule 08:00-17:00, breaks 10:30-10:50 and 12:00-13:00, idle
gap 300 s, tail 60 s, flag 30 min) gives hand-computable rows; the sample logs
give a byte-level golden file. Helpers here are imported by the HTML and
browser export tests.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
import pytest

from surfaudit.errors import NoDataError, UsageError
from surfaudit.export import ExportResult, export_investigation
from surfaudit.schema import conform
from surfaudit.store import Store
from tests.conftest_reports import cfg as default_cfg
from tests.conftest_reports import ev

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
NOW = datetime(2026, 1, 10, 9, 30, tzinfo=timezone.utc)
D1, D2 = date(2026, 1, 5), date(2026, 1, 9)
HEADER = "local_time,host,url,action,category,social,period,covered_seconds"
EVIL = '=HYPERLINK("http://x")'
SQLISH = "o'brien%\"; DROP TABLE events;--"


def sample_rows() -> list[dict]:
    yt, li, ig = "www.youtube.com", "www.linkedin.com", "www.instagram.com"
    rows = [
        # Mon: 10:48 -> 10:52 covers 2 min in break + 2 min outside; 10:52 tail 1 min outside
        ev("2026-01-05T10:48:00.000Z", "jsmith", yt, category="Video"),
        ev("2026-01-05T10:52:00.000Z", "jsmith", yt, url="https://www.youtube.com/watch?v=1", category="Video"),
        ev("2026-01-05T11:00:00.250Z", "jsmith", "www.bbc.co.uk", category="News"),
        ev("2026-01-05T12:30:00.000Z", "jsmith", "www.facebook.com", "blocked", category="Social Networking"),
        ev("2026-01-05T12:30:30.000Z", "jsmith", "www.facebook.com", "blocked", category="Social Networking"),
        ev("2026-01-05T16:59:59.999Z", "jsmith", "proxy.local", "auth"),
        # Mon 23:58:30 -> Tue 00:02:00: 90 s on Monday, 120 s on Tuesday, then a 60 s tail
        ev("2026-01-05T23:58:30.000Z", "jsmith", ig, category="Social"),
        ev("2026-01-06T00:02:00.000Z", "jsmith", ig, category="Social"),
        # another identity: must never appear
        ev("2026-01-05T10:00:00.000Z", "other", yt),
        ev("2026-01-05T10:00:00.000Z", "jsmith2", yt),
        ev("2026-01-07T09:00:00.000Z", SQLISH, yt),
        ev("2026-01-07T09:00:00.000Z", EVIL, "-evil.example", url="-2+3+cmd|' /C calc'!A0", category="@SUM(1+1)"),
        ev("2026-01-07T09:00:01.000Z", EVIL, "www.example.org", url="\thttp://www.example.org/", category="+x"),
    ]
    # Tue 09:00..09:40 LinkedIn every 2 minutes: 40 min + 1 min tail outside breaks (flagged)
    for i in range(21):
        rows.append(ev(f"2026-01-06T09:{2 * i:02d}:00.000Z", "jsmith", li, category="Social"))
    return rows


def make_store(root: Path, rows: list[dict]) -> Store:
    store = Store(root).ensure()
    df = conform(pl.DataFrame(rows, schema_overrides={"ts": pl.Datetime("us", "UTC")}))
    tx = store.begin("ingest")
    tx.write(df)
    tx.commit({"rows": df.height})
    return store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store(tmp_path / "store", sample_rows())


def read_csv(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"), newline="")))


def export(store: Store, tmp_path: Path, user: str = "jsmith", name: str = "out.csv", **kw) -> ExportResult:
    kw.setdefault("reason", "Head's request: suspected use in lesson time")
    kw.setdefault("date_from", D1)
    kw.setdefault("date_to", D2)
    return export_investigation(store, kw.pop("cfg", default_cfg()), user, kw.pop("reason"), kw.pop("date_from"),
                                kw.pop("date_to"), tmp_path / name, now=NOW)


def social_report_for(store: Store, cfg, user: str, d1, d2) -> pl.DataFrame:
    from surfaudit.reports import needed_utc_range, social_report

    con = duckdb.connect()
    store.events_view(con, *needed_utc_range(cfg, d1, d2))
    return social_report(con, cfg, d1, d2, user=user)


def per_day_seconds(rows: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        out[r["local_time"][:10]] = out.get(r["local_time"][:10], 0.0) + float(r["covered_seconds"])
    return out


def test_rows_hand_computed(store, tmp_path):
    result = export(store, tmp_path)
    rows = read_csv(result.path)
    got = [(r["local_time"], r["host"], r["action"], r["social"], r["period"], r["covered_seconds"]) for r in rows[:9]]
    assert got == [
        ("2026-01-05 10:48:00.000", "www.youtube.com", "allowed", "true", "in_break", "120.000"),
        ("2026-01-05 10:50:00.000", "www.youtube.com", "allowed", "true", "outside_break", "120.000"),
        ("2026-01-05 10:52:00.000", "www.youtube.com", "allowed", "true", "outside_break", "60.000"),
        ("2026-01-05 11:00:00.250", "www.bbc.co.uk", "allowed", "false", "outside_break", "0.000"),
        ("2026-01-05 12:30:00.000", "www.facebook.com", "blocked", "false", "in_break", "0.000"),
        ("2026-01-05 12:30:30.000", "www.facebook.com", "blocked", "false", "in_break", "0.000"),
        ("2026-01-05 16:59:59.999", "proxy.local", "auth", "false", "outside_break", "0.000"),
        ("2026-01-05 23:58:30.000", "www.instagram.com", "allowed", "true", "outside_hours", "90.000"),
        ("2026-01-06 00:00:00.000", "www.instagram.com", "allowed", "true", "outside_hours", "120.000"),
    ]
    assert rows[0]["category"] == "Video" and rows[3]["category"] == "News"
    assert rows[2]["url"] == "https://www.youtube.com/watch?v=1"
    assert {r["host"] for r in rows} <= {"www.youtube.com", "www.bbc.co.uk", "www.facebook.com", "proxy.local",
                                         "www.instagram.com", "www.linkedin.com"}
    assert len(rows) == result.rows == 9 + 1 + 21
    assert result.requests == 8 + 21  # the midnight piece is not a request of its own
    assert result.days == 5 and result.format == "csv"


def test_bytes_bom_crlf_header(store, tmp_path):
    raw = export(store, tmp_path).path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_day_sums_equal_social_report(store, tmp_path):
    cfg = default_cfg()
    rows = read_csv(export(store, tmp_path).path)
    report = social_report_for(store, cfg, "jsmith", D1, D2)
    sums = per_day_seconds(rows)
    assert report.height == 2
    for day, minutes, flagged in report.select("date", "social_minutes", "flagged").iter_rows():
        assert abs(sums[day.isoformat()] / 60 - minutes) <= 0.01, day
    assert report["flagged"].to_list() == [False, True]
    assert sums == {"2026-01-05": 390.0, "2026-01-06": 120.0 + 60 + 41 * 60}


def test_formula_injection_neutralised(store, tmp_path):
    path = export(store, tmp_path, user=EVIL).path
    rows = read_csv(path)
    assert [r["host"] for r in rows] == ["'-evil.example", "www.example.org"]
    assert rows[0]["url"] == "'-2+3+cmd|' /C calc'!A0"
    assert rows[0]["category"] == "'@SUM(1+1)"
    assert rows[1]["url"] == "'\thttp://www.example.org/"
    assert rows[1]["category"] == "'+x"
    for r in rows:
        for cell in r.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert b"=HYPERLINK" not in path.read_bytes()


def test_identity_matched_exactly(store, tmp_path):
    rows = read_csv(export(store, tmp_path, user=SQLISH).path)
    assert len(rows) == 1 and rows[0]["local_time"] == "2026-01-07 09:00:00.000"
    for user in ("%", "jsmith%", "' OR '1'='1", "*"):  # no such identity: exit 2
        with pytest.raises(UsageError):
            export(store, tmp_path, user=user, name="none.csv")
    assert not (tmp_path / "none.csv").exists()
    # case and surrounding spaces do not matter (identities are stored lower-cased, DESIGN §3)
    plain = read_csv(export(store, tmp_path, user="jsmith", name="a.csv").path)
    assert read_csv(export(store, tmp_path, user="JSMITH ", name="b.csv").path) == plain


@pytest.mark.parametrize("reason", [None, "", "   ", "\t\n"])
def test_reason_required(store, tmp_path, reason):
    with pytest.raises(UsageError) as err:
        export(store, tmp_path, reason=reason)
    assert "--reason" in str(err.value) and err.value.exit_code == 2
    assert not (tmp_path / "out.csv").exists()
    assert store.audit_entries() == []


def test_unknown_user_writes_nothing(store, tmp_path):
    with pytest.raises(UsageError) as err:  # an identity that does not exist: exit 2
        export(store, tmp_path, user="nobody")
    assert err.value.exit_code == 2 and "no such identity" in str(err.value)
    assert "nobody" not in str(err.value)  # error messages never carry identities
    assert list(tmp_path.glob("out*")) == [] and list(tmp_path.glob(".out*")) == []
    assert store.audit_entries() == []


def test_no_data_in_range(store, tmp_path):
    with pytest.raises(NoDataError):
        export(store, tmp_path, date_from="2026-02-01", date_to="2026-02-03")


@pytest.mark.parametrize("name", ["out.txt", "out", "out.csv.gz", "out.xls"])  # .xlsx is a workbook now
def test_output_suffix(store, tmp_path, name):
    with pytest.raises(UsageError):
        export(store, tmp_path, name=name)
    assert not (tmp_path / name).exists()


def test_bad_dates(store, tmp_path):
    with pytest.raises(UsageError):
        export(store, tmp_path, date_from="2026-01-09", date_to="2026-01-05")
    with pytest.raises(UsageError):
        export(store, tmp_path, date_from="05/01/2026")


def test_private_atomic_and_audited(store, tmp_path):
    old = tmp_path / "out.csv"
    old.write_text("old")
    os.chmod(old, 0o644)
    result = export(store, tmp_path, reason="  Complaint from a parent  ")
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "store"]  # no temp file left
    entries = store.audit_entries()
    assert len(entries) == 1
    e = entries[0]
    assert (e["command"], e["target"], e["reason"], e["detail"]) == ("export", "jsmith", "Complaint from a parent", "out.csv")
    assert (e["date_from"], e["date_to"], e["rows"]) == ("2026-01-05", "2026-01-09", result.rows)
    assert result.audit_entry == e


def test_audit_after_data_before_publish(store, tmp_path, monkeypatch):
    """Writing the data fails (disk full): no audit entry and no file. The audit
    entry fails: no file. (The entry is appended between the two.)"""
    import errno

    import surfaudit.atomic as atomic
    from surfaudit.errors import OutputError, StoreError

    real = atomic._write_all

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "_write_all", full)
    with pytest.raises(OutputError) as info:
        export(store, tmp_path)
    assert info.value.exit_code == 1 and "No space left" in str(info.value)
    assert store.audit_entries() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    monkeypatch.setattr(atomic, "_write_all", real)

    def no_audit(entry, wait=10, store_lock=True):
        raise StoreError(f"{store.root}: cannot write the audit log (Read-only file system)")

    monkeypatch.setattr(store, "append_audit", no_audit)
    with pytest.raises(StoreError):
        export(store, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_dated_params_agree_with_reports():
    from dataclasses import replace

    from surfaudit.reports import range_params
    from surfaudit.sql import dated_params

    base = default_cfg()
    for c in (base, replace(base, social=replace(base.social, idle_gap_seconds=200_000, tail_seconds=90_000))):
        for d1, d2 in ((D1, D2), (date(2026, 3, 29), date(2026, 3, 29)), (date(2026, 10, 25), date(2026, 11, 1))):
            assert dated_params(c, d1, d2, "u") == range_params(c, d1, d2, "u")


# -- the sample logs: a byte-level golden file --------------------------------------------

# flagged days and break edges; blocked bursts; a session across midnight (and a
# space in the name); an anonymous client whose only requests are auth challenges
SAMPLE_USERS = ("amorgan", "bokafor", "e walsh", "10.20.1.11")


def sample_store(root: Path):
    from ingest.pipeline import ingest_paths
    from surfaudit.config import load_config

    cfg = load_config(ROOT / "sample_logs" / "surfaudit.toml")
    store = Store(root)
    with store.lock():
        ingest_paths(store, cfg, [ROOT / "sample_logs"])
    return store, cfg


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    return sample_store(tmp_path_factory.mktemp("samples") / "store")


@pytest.mark.parametrize("user", SAMPLE_USERS)
def test_sample_golden(samples, tmp_path, user):
    store, cfg = samples
    name = "export_" + re.sub(r"[^a-z0-9]+", "_", user) + ".csv"
    path = export_investigation(store, cfg, user, "golden test", "2026-10-26", "2026-11-06", tmp_path / name, now=NOW).path
    golden = GOLDEN / name
    if os.environ.get("SURFAUDIT_REGEN_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(path.read_bytes())
    assert golden.is_file(), f"{golden} missing: run with SURFAUDIT_REGEN_GOLDEN=1 and review it"
    assert path.read_bytes() == golden.read_bytes()


def test_sample_day_sums_equal_social_report(samples, tmp_path):
    store, cfg = samples
    d1, d2 = date(2026, 10, 26), date(2026, 11, 6)
    report = social_report_for(store, cfg, None, d1, d2)
    users = sorted(set(report["user"]))
    assert len(users) >= 3
    for i, user in enumerate(users):
        rows = read_csv(export_investigation(store, cfg, user, "check", d1, d2, tmp_path / f"u{i}.csv", now=NOW).path)
        sums = per_day_seconds(rows)
        mine = report.filter(pl.col("user") == user)
        for day, minutes in mine.select("date", "social_minutes").iter_rows():
            assert abs(sums.get(day.isoformat(), 0.0) / 60 - minutes) <= 0.01, (user, day)
        social_days = {d for d, s in sums.items() if s > 0}
        assert social_days == {d.isoformat() for d in mine["date"]}, user


@pytest.mark.parametrize("seed", range(4))
def test_random_sessions_across_clock_changes(tmp_path, seed):
    """Per-date sums equal the report for random sessions around both 2026 clock changes,
    with a break shorter than the idle gap (a request's coverage can leave and re-enter a period)."""
    import random
    from dataclasses import replace

    from surfaudit.config import Window

    rnd = random.Random(seed)
    base = default_cfg()
    c = replace(base, schedule=replace(base.schedule, breaks=(Window(630, 632), Window(720, 780)),
                                       workdays=(0, 1, 2, 3, 4, 6)))
    hosts = ["www.youtube.com", "m.facebook.com", "www.bbc.co.uk", "x.com"]
    rows = []
    for start in (datetime(2026, 3, 28, tzinfo=timezone.utc), datetime(2026, 10, 24, tzinfo=timezone.utc)):
        t = start.timestamp()
        for _ in range(400):
            t += rnd.choice([0.0, 0.001, rnd.uniform(1, 290), rnd.uniform(290, 310), rnd.uniform(300, 3 * 3600)])
            when = datetime.fromtimestamp(round(t, 3), timezone.utc)
            rows.append(ev(when.isoformat().replace("+00:00", "Z"), "u1", rnd.choice(hosts),
                           rnd.choice(["allowed"] * 5 + ["blocked"])))
    store = make_store(tmp_path / "store", rows)
    for d1, d2 in ((date(2026, 3, 28), date(2026, 4, 2)), (date(2026, 10, 24), date(2026, 10, 31))):
        path = export_investigation(store, c, "u1", "test", d1, d2, tmp_path / f"{d1}.csv", now=NOW).path
        got = per_day_seconds(read_csv(path))
        report = social_report_for(store, c, "u1", d1, d2)
        for day, minutes in report.select("date", "social_minutes").iter_rows():
            assert abs(got.get(day.isoformat(), 0.0) / 60 - minutes) <= 0.01, day
        assert {d for d, s in got.items() if s > 0} <= {d.isoformat() for d in report["date"]}


def test_export_import_rules():
    """surfaudit.export never imports the reports, ingest, retention, the CLI, typer or rich (DESIGN §2)."""
    import ast

    forbidden = ("surfaudit.reports", "surfaudit.cli", "surfaudit.render", "ingest", "retention", "typer", "rich",
                 "click")
    for path in sorted((ROOT / "surfaudit" / "export").glob("*.py")) + [ROOT / "surfaudit" / "pseudonym.py"]:
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), path
        assert len(path.read_text().splitlines()) <= 400, path
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in forbidden), (path.name, name)
