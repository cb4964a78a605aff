"""The investigation workbook (`export --output FILE.xlsx`), read back with openpyxl.

The store is test_export_csv's hand-made week (January 2026, GMT so local = UTC,
default schedule 08:00-17:00, breaks 10:30-10:50 and 12:00-13:00, idle gap 300 s,
tail 60 s, flag 30 min). Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")

from tests.conftest import run_cli  # noqa: E402 - after the importorskip
from tests.conftest_reports import ev  # noqa: E402
from tests.test_export_csv import EVIL, export, make_store, read_csv, sample_rows  # noqa: E402

SHEETS = ["Summary", "Days", "Sessions", "Sites", "Blocked", "Requests"]


@pytest.fixture
def store(tmp_path: Path):
    return make_store(tmp_path / "store", sample_rows())


def load(path: Path):
    return openpyxl.load_workbook(path)


def rows(ws) -> list[tuple]:
    return [r for r in ws.iter_rows(min_row=2, values_only=True)]


def summary(wb) -> dict:
    return {k: v for k, v in rows(wb["Summary"])}


def test_sheets_headers_frozen_widths(store, tmp_path):
    result = export(store, tmp_path, name="inv.xlsx")
    assert result.format == "xlsx"
    wb = load(result.path)
    assert wb.sheetnames == SHEETS
    for ws in wb:
        assert ws.freeze_panes == "A2", ws.title  # the header row stays on screen
        assert all(c.font.bold for c in ws[1]), ws.title
        assert ws.column_dimensions["A"].width >= 10, ws.title
    heads = {ws.title: [c.value for c in ws[1]] for ws in wb}
    assert heads["Days"] == ["Date", "Day", "All social media (minutes)", "Outside breaks, work hours (minutes)",
                             "In official breaks (minutes)", "Outside work hours (minutes)",
                             "Requests to social media sites", "Flagged"]
    assert heads["Sessions"] == ["Date", "Day", "From", "To", "Site", "Minutes", "Period",
                                 "Clock (on a clock-change day)"]
    assert heads["Blocked"] == ["Date", "Day", "First blocked request", "Last blocked request", "Site",
                                "Blocked requests"]
    assert heads["Requests"][0] == "Local time" and len(heads["Requests"]) == 9
    assert heads["Requests"][-1] == "Clock (on a clock-change day)"
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600


def test_values_and_types_hand_computed(store, tmp_path):
    wb = load(export(store, tmp_path, name="inv.xlsx").path)
    # Mon 5 Jan: YouTube 10:48 -> 10:52 (2 min in break, 2 outside) + 1 min tail outside; Instagram
    # 23:58:30 -> 24:00 is 1.5 min outside hours. Tue 6 Jan: Instagram 00:00 -> 00:03 (2 + 1 tail)
    # outside hours; LinkedIn 09:00 -> 09:40 every 2 min + 1 min tail = 41 min outside breaks: flagged.
    assert rows(wb["Days"]) == [
        (datetime(2026, 1, 5), "Mon", 6.5, 3, 2, 1.5, 3, "No"),
        (datetime(2026, 1, 6), "Tue", 44, 41, 0, 3, 22, "Yes"),
    ]
    days = wb["Days"]
    assert days["A2"].is_date and days["C2"].data_type == "n" and days["G2"].data_type == "n"
    assert rows(wb["Sessions"]) == [
        (datetime(2026, 1, 5), "Mon", datetime(2026, 1, 5, 10, 48), datetime(2026, 1, 5, 10, 50),
         "www.youtube.com", 2, "In an official break", None),
        (datetime(2026, 1, 5), "Mon", datetime(2026, 1, 5, 10, 50), datetime(2026, 1, 5, 10, 53),
         "www.youtube.com", 3, "Outside breaks (work hours)", None),
        (datetime(2026, 1, 5), "Mon", datetime(2026, 1, 5, 23, 58, 30), datetime(2026, 1, 6),
         "www.instagram.com", 1.5, "Outside work hours", None),
        (datetime(2026, 1, 6), "Tue", datetime(2026, 1, 6), datetime(2026, 1, 6, 0, 3),
         "www.instagram.com", 3, "Outside work hours", None),
        (datetime(2026, 1, 6), "Tue", datetime(2026, 1, 6, 9), datetime(2026, 1, 6, 9, 41),
         "www.linkedin.com", 41, "Outside breaks (work hours)", None),
    ]
    assert wb["Sessions"]["C2"].is_date and wb["Sessions"]["C2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert rows(wb["Sites"]) == [
        ("www.linkedin.com", 41, 0, 0, 41, 21),
        ("www.youtube.com", 3, 2, 0, 5, 2),
        ("www.instagram.com", 0, 0, 4.5, 4.5, 2),
    ]
    # Mon 12:30:00 and 12:30:30 blocked www.facebook.com: within the 60 s burst, one attempt of 2
    assert rows(wb["Blocked"]) == [(datetime(2026, 1, 5), "Mon", datetime(2026, 1, 5, 12, 30),
                                    datetime(2026, 1, 5, 12, 30, 30), "www.facebook.com", 2)]
    s = summary(wb)
    assert s["Identity"] == "jsmith" and s["What the identity is"] == "Member of staff (login)"
    assert s["Period: first day"] == datetime(2026, 1, 5) and s["Period: last day"] == datetime(2026, 1, 9)
    assert s["Reason for investigation"] == "Head's request: suspected use in lesson time"
    assert s["Time zone (all times are local)"] == "Europe/London"
    assert s["Minutes outside breaks in work hours"] == 44 and s["Days flagged"] == 1
    assert s["Blocked attempts"] == 1 and s["Blocked requests"] == 2
    assert s["Parameter: flag threshold (minutes outside breaks per day)"] == 30
    assert s["Parameter: idle gap (seconds)"] == 300 and s["Parameter: work hours"] == "08:00-17:00"
    assert s["Generated"] == datetime(2026, 1, 10, 9, 30)
    assert "Social Media Policy" in s["Policy"]
    assert any(k.startswith("Policy: Monitoring use of social media") for k in s)


def test_requests_sheet_matches_csv(store, tmp_path):
    wb = load(export(store, tmp_path, name="inv.xlsx").path)
    csv_rows = read_csv(export(store, tmp_path, name="inv.csv").path)
    got = rows(wb["Requests"])
    assert len(got) == len(csv_rows) == 31
    for (when, host, url, action, category, social, _period, seconds, zone), c in zip(got, csv_rows):
        assert zone is None  # January: no clock change
        assert isinstance(when, datetime) and when.strftime("%Y-%m-%d %H:%M:%S.%f")[:23] == c["local_time"]
        assert (host, url, action, category or "") == (c["host"], c["url"], c["action"], c["category"])
        assert social == ("Yes" if c["social"] == "true" else "No")
        assert isinstance(seconds, (int, float)) and f"{seconds:.3f}" == c["covered_seconds"]


def test_hostile_text_stays_text(tmp_path):
    rows_ = sample_rows() + [ev("2026-01-07T09:05:00.000Z", EVIL, "@evil.example", "blocked", category="=1+1")]
    store = make_store(tmp_path / "store", rows_)
    reason = "=cmd|' /C calc'!A0"
    wb = load(export(store, tmp_path, user=EVIL, name="evil.xlsx", reason=reason).path)
    formulas = [(ws.title, c.coordinate) for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    s = summary(wb)
    assert s["Identity"] == "'" + EVIL and s["Reason for investigation"] == "'" + reason
    texts = [c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not any(t.lstrip().startswith(("=", "+", "-", "@")) for t in texts)
    assert "'@evil.example" in [r[4] for r in rows(wb["Blocked"])]
    assert "'-2+3+cmd|' /C calc'!A0" in [r[2] for r in rows(wb["Requests"])]


def test_device_address_is_labelled(tmp_path):
    store = make_store(tmp_path / "store", [ev("2026-01-06T09:00:00.000Z", "10.1.2.3", "www.linkedin.com")])
    wb = load(export(store, tmp_path, user="10.1.2.3", name="ip.xlsx").path)
    s = summary(wb)
    assert s["What the identity is"] == "Device address (no user name in the logs)"
    assert "several people" in s["Caveat"]


def test_audited_before_published(store, tmp_path, monkeypatch):
    from surfaudit.errors import StoreError

    result = export(store, tmp_path, name="Inv.XLSX")
    (entry,) = store.audit_entries()
    assert (entry["command"], entry["detail"], entry["target"]) == ("export", "Inv.XLSX", "jsmith")
    assert result.audit_entry == entry

    def no_audit(entry, wait=10, store_lock=True):
        raise StoreError(f"{store.root}: cannot write the audit log (Read-only file system)")

    monkeypatch.setattr(store, "append_audit", no_audit)
    with pytest.raises(StoreError):
        export(store, tmp_path, name="second.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Inv.XLSX", "store"]  # no file, no temp file


def test_cli_writes_workbook(store, tmp_path):
    out = tmp_path / "cli.xlsx"
    run = run_cli("--store", str(store.root), "export", "--user", "jsmith", "--reason", "complaint ref 9",
                  "--from", "2026-01-05", "--to", "2026-01-09", "--output", str(out), cwd=tmp_path)
    assert run.code == 0, run.err
    assert run.err == ""
    assert run.out.startswith(f"wrote {out} (29 requests over 5 days)") and "audit log" in run.out
    assert load(out).sheetnames == SHEETS


def test_cli_refuses_other_suffix(store, tmp_path):
    out = tmp_path / "cli.xls"
    run = run_cli("--store", str(store.root), "export", "--user", "jsmith", "--reason", "r",
                  "--from", "2026-01-05", "--to", "2026-01-09", "--output", str(out), cwd=tmp_path)
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and ".csv, .html or .xlsx" in run.err
    assert not out.exists()


def test_a_period_larger_than_a_sheet_is_refused_not_cut(store, tmp_path, monkeypatch):
    from surfaudit.errors import UsageError
    from surfaudit.export import xlsx_export

    monkeypatch.setattr(xlsx_export, "MAX_ROWS", 3)  # the sample week has more requests than that
    with pytest.raises(UsageError, match="more than an Excel sheet holds"):
        export(store, tmp_path, name="big.xlsx")
    assert not (tmp_path / "big.xlsx").exists()


def test_a_cell_over_excels_limit_says_it_was_cut(store, tmp_path, monkeypatch):
    from surfaudit.export import xlsx_export

    monkeypatch.setattr(xlsx_export, "MAX_CELL", 100)
    wb = load(export(store, tmp_path, name="cut.xlsx").path)
    urls = [r[2] for r in rows(wb["Requests"])]
    assert all(len(u) <= 100 for u in urls)
    summary_values = [v for v in summary(wb).values() if isinstance(v, str)]
    # (the sample's URLs are shorter than 100: a cut Requests cell is the next test's)
    # a Summary value is not in the CSV export: its note does not send the reader there
    cut = [v for v in summary_values if "[cut: " in v]
    assert cut and all(v.endswith("characters, more than an Excel cell holds]") for v in cut)


def test_a_cut_value_sends_the_reader_to_the_csv_only_when_it_is_there_and_controls_are_shown(monkeypatch):
    import io
    from datetime import datetime as dt

    from surfaudit.export import xlsx_export

    monkeypatch.setattr(xlsx_export, "MAX_CELL", 200)
    buf = io.BytesIO()
    book = xlsx_export._Book(buf, dt(2026, 1, 1))
    ws = book.wb.add_worksheet("t")
    book.cell(ws, 0, 0, "x" * 500, xlsx_export.TEXT, in_csv=True)
    book.cell(ws, 1, 0, "y" * 500, xlsx_export.TEXT)
    book.cell(ws, 2, 0, "Ben\u202egnp.exe\x07 line\nnext\ttab", xlsx_export.TEXT)
    book.wb.close()
    a, b, c = (r[0] for r in openpyxl.load_workbook(io.BytesIO(buf.getvalue()))["t"].iter_rows(values_only=True))
    assert len(a) == 200 and a.endswith("[cut: 500 characters, more than an Excel cell holds; the CSV export has it whole]")
    assert len(b) == 200 and b.endswith("[cut: 500 characters, more than an Excel cell holds]")
    assert c == "Ben\\u202egnp.exe\\x07 line\nnext\ttab"  # shown escaped, never obeyed by Excel
