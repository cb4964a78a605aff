"""The export is about the identity's own person: their timetable and their directory row.

It states and draws the identity's OWN timetable (DESIGN §6 "Which timetable applies").

The figures of an investigation are cut by the identity's timetable (directory row >
group > site > [schedule], own workdays, closed days); the HTML's method text and
timeline bands and the workbook's "Parameter:" rows must show that same timetable,
never the default [schedule] (a manager's document must not contradict itself).
Hand-checked: 2026-01-05 is a Monday in GMT (local = UTC); a lone social request
covers its 60 s tail. Timeline x of clock minute m: 96 + m / 1440 * 826 (charts.timeline).
And it says whom a login belongs to: the directory's name, group, site and aliases.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import openpyxl
import pytest

from surfaudit.export import html_export, views
from surfaudit.export.data import gather
from surfaudit.export.investigation import export_investigation
from tests.conftest_org import evc, org_cfg
from tests.test_export_csv import make_store
from tests.test_export_html import parse


def text_of(path) -> str:
    """The page's words, without the space html.parser leaves before a full stop after </b>."""
    return parse(path).all_text.replace(" .", ".")

MON, TUE, WED = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
NOW = datetime(2026, 1, 10, 9, 30, tzinfo=timezone.utc)
FB = "www.facebook.com"
TOML = '''
[directory]
path = "staff.csv"
scope = "all"
[schedules.south]
breaks = ["12:30-13:15"]
[sites.south]
schedule = "south"
clients = ["10.2.0.0/16"]
[calendar]
closed = ["2026-01-06"]
'''
STAFF = """Identity,Name,Group,Site,Aliases,Schedule,Workdays
southpt,South Parttime,,south,,,mon;tue
"""
EVIL_NAME = '=HYPERLINK("https://evil.example","x") <script>alert(1)</script>'



def x(minute: float) -> float:
    return round(96 + minute / 1440 * 826, 2)


@pytest.fixture
def setup(tmp_path):
    rows = [
        evc("2026-01-05T12:10:00Z", "southpt", FB),  # in [schedule]'s lunch, not in south's
        evc("2026-01-06T12:10:00Z", "southpt", FB),  # closed day
        evc("2026-01-07T12:10:00Z", "southpt", FB),  # not one of mon;tue
        # no directory row: Monday from the south network, Tuesday from no site's network
        evc("2026-01-05T08:00:00Z", "roamer", "www.bbc.co.uk", ip="10.2.0.5"),
        evc("2026-01-05T12:10:00Z", "roamer", FB, ip="10.2.0.5"),
        evc("2026-01-06T08:00:00Z", "roamer", "www.bbc.co.uk", ip="10.9.9.9"),
        evc("2026-01-06T12:10:00Z", "roamer", FB, ip="10.9.9.9"),
    ]
    store = make_store(tmp_path / "store", rows)
    return store, org_cfg(tmp_path, TOML, STAFF, store=tmp_path / "store")


def test_the_figures_and_the_drawing_use_the_same_own_timetable(setup):
    store, cfg = setup
    inv = gather(store, cfg, "southpt", MON, WED)
    # the figures: Mon 12:10 is outside south's breaks; Tue is closed, Wed a day off
    assert [(r["date"], r["outside_break_minutes"], r["outside_hours_minutes"]) for r in inv.daily.iter_rows(named=True)] == [
        (MON, 1.0, 0.0), (TUE, 0.0, 1.0), (WED, 0.0, 1.0)]
    ctx = html_export.context(inv, reason="r", generated=NOW, generated_by="t")
    mon, tue, wed = ctx["lanes"]["lanes"]
    assert mon["work"] == {"x": x(8 * 60), "w": round(x(17 * 60) - x(8 * 60), 2)}
    assert mon["breaks"] == [{"x": x(750), "w": round(x(795) - x(750), 2)}]  # 12:30-13:15 only
    assert tue["work"] is None and tue["breaks"] == [] and not tue["workday"]  # closed
    assert wed["work"] is None and wed["breaks"] == []  # not a workday of this person
    # the 12:10 run is drawn outside every break band, in the outside-break colour
    run = mon["runs"][0]
    assert run["pattern"] == "pat-ob" and not any(b["x"] <= run["x"] < b["x"] + b["w"] for b in mon["breaks"])


def test_the_method_text_names_the_identitys_timetable(setup, tmp_path):
    store, cfg = setup
    out = export_investigation(store, cfg, "southpt", "HR ref 7", MON, WED, tmp_path / "s.html", now=NOW)
    text = text_of(out.path)
    assert ("This identity's timetable is \u201csouth\u201d. Workdays: Mon, Tue. Work hours: 08:00\u201317:00. "
            "Official breaks: 12:30\u201313:15. Closed (no work hours: all time counts as outside work hours): "
            "6 Jan 2026.") in text
    assert "10:30\u201310:50" not in text and "12:00\u201313:00" not in text  # [schedule]'s breaks


def test_a_timetable_that_changes_within_the_period_is_stated_per_dates(setup, tmp_path):
    store, cfg = setup
    inv = gather(store, cfg, "roamer", MON, WED)
    uses = views.timetable_uses(inv)
    assert [(u.name, u.dates, u.breaks, u.closed) for u in uses] == [
        ("\u201csouth\u201d", (MON,), "12:30-13:15", ()),
        ("the default ([schedule])", (TUE,), "10:30-10:50, 12:00-13:00", (TUE,)),
    ]
    out = export_investigation(store, cfg, "roamer", "HR ref 8", MON, WED, tmp_path / "r.html", now=NOW)
    text = text_of(out.path)
    assert "5 Jan 2026: this identity's timetable is \u201csouth\u201d." in text
    assert "6 Jan 2026: this identity's timetable is the default ([schedule])." in text
    # Wednesday has no request, so no site and no timetable: not stated as [schedule]'s
    assert ("7 Jan 2026: no requests. This identity has no staff-directory row, so its timetable on a date is "
            "that of the site of its first request that day; on these dates there is none, and none is drawn.") in text
    lanes = html_export.context(inv, reason="r", generated=NOW, generated_by="t")["lanes"]["lanes"]
    assert [(lane["quiet"], lane["work"] is None) for lane in lanes] == [(False, False), (False, True), (True, True)]
    assert "no requests" in parse(out.path).all_text
    book = export_investigation(store, cfg, "roamer", "HR ref 8", MON, WED, tmp_path / "r.xlsx", now=NOW).path
    summary = {r[0]: r[1] for r in openpyxl.load_workbook(book)["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Parameter (6 Jan 2026): timetable"] == "the default ([schedule])"
    assert summary["Parameter: dates with no requests (no site, so no timetable)"] == "7 Jan 2026"
    # the figures agree: Monday 12:10 outside south's breaks, Tuesday closed
    assert [(r["date"], r["outside_break_minutes"]) for r in inv.daily.iter_rows(named=True)] == [
        (MON, 1.0), (TUE, 0.0)]


def test_the_workbook_parameters_are_the_identitys_timetable(setup, tmp_path):
    store, cfg = setup
    out = export_investigation(store, cfg, "southpt", "HR ref 9", MON, WED, tmp_path / "s.xlsx", now=NOW)
    ws = openpyxl.load_workbook(out.path)["Summary"]
    s = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert s["Parameter: timetable"] == "\u201csouth\u201d"
    assert s["Parameter: workdays"] == "Mon, Tue"
    assert s["Parameter: work hours"] == "08:00-17:00"
    assert s["Parameter: official breaks"] == "12:30-13:15"
    assert s["Parameter: closed days (no work hours)"] == "6 Jan 2026"
    out = export_investigation(store, cfg, "roamer", "HR ref 10", MON, WED, tmp_path / "r.xlsx", now=NOW)
    s = {r[0]: r[1] for r in openpyxl.load_workbook(out.path)["Summary"].iter_rows(min_row=2, values_only=True)}
    assert s["Parameter (5 Jan 2026): official breaks"] == "12:30-13:15"
    assert s["Parameter (6 Jan 2026): official breaks"] == "10:30-10:50, 12:00-13:00"
    assert s["Parameter (6 Jan 2026): closed days (no work hours)"] == "6 Jan 2026"
    assert "Parameter: work hours" not in s


def test_bands_are_clock_times_on_a_clock_change_day(tmp_path):
    """Sun 25 Oct 2026 (Europe/London, 25 hours): a Sunday workday's 08:00-17:00 is drawn
    at 08:00 and 17:00 on the clock, not an hour early (elapsed time since midnight)."""
    toml = '[schedule]\nworkdays = ["sun"]\nbreaks = ["12:00-12:30"]\n'
    store = make_store(tmp_path / "store", [evc("2026-10-25T12:10:00Z", "sunny", FB)])  # 12:10 GMT
    cfg = org_cfg(tmp_path, toml, store=tmp_path / "store")
    inv = gather(store, cfg, "sunny", date(2026, 10, 25), date(2026, 10, 25))
    assert inv.daily["in_break_minutes"].to_list() == [1.0]
    (lane,) = html_export.context(inv, reason="r", generated=NOW, generated_by="t")["lanes"]["lanes"]
    assert lane["work"]["x"] == x(480) and lane["breaks"] == [{"x": x(720), "w": round(x(750) - x(720), 2)}]
    assert round(lane["work"]["x"] + lane["work"]["w"], 2) == x(1020)


def test_the_directory_row_is_shown_escaped_and_neutralised(tmp_path):
    staff = f'Identity,Name,Group,Site,Aliases\nsouthpt,"{EVIL_NAME.replace(chr(34), chr(34) * 2)}",,south,SCH\\sp;sp@x.uk\n'
    store = make_store(tmp_path / "store", [evc("2026-01-05T12:10:00Z", "southpt", FB)])
    cfg = org_cfg(tmp_path, TOML, staff, store=tmp_path / "store")
    html = export_investigation(store, cfg, "southpt", "r", MON, MON, tmp_path / "p.html", now=NOW).path
    raw = html.read_text(encoding="utf-8")
    assert "<script>" not in raw and "&lt;script&gt;" in raw
    page = parse(html)
    assert EVIL_NAME in page.all_text
    for words in ("Name (staff directory)", "Site south", "Also logged as sch\\sp, sp@x.uk"):
        assert words in page.all_text, words
    assert "Group" not in page.all_text.split("Period examined")[0]  # no group in the row: not shown
    book = export_investigation(store, cfg, "southpt", "r", MON, MON, tmp_path / "p.xlsx", now=NOW).path
    s = {r[0]: r[1] for r in openpyxl.load_workbook(book)["Summary"].iter_rows(min_row=2, values_only=True)}
    assert s["Name (staff directory)"] == "'" + EVIL_NAME  # text, never a formula
    assert s["Site"] == "south" and s["Also logged as"] == "sch\\sp, sp@x.uk"


def test_an_identity_without_a_directory_row_shows_no_directory_fields(setup, tmp_path):
    store, cfg = setup
    out = export_investigation(store, cfg, "roamer", "r", MON, WED, tmp_path / "r.xlsx", now=NOW)
    s = {r[0]: r[1] for r in openpyxl.load_workbook(out.path)["Summary"].iter_rows(min_row=2, values_only=True)}
    assert "Name (staff directory)" not in s and "Site" not in s and s["Identity"] == "roamer"


def _every_2_min(start: str, n: int) -> list[str]:
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    return [(t0.replace(minute=t0.minute + 2 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(n)]


def test_the_repeated_hour_of_the_autumn_clock_change_is_two_sessions(tmp_path):
    """Sun 25 Oct 2026, Europe/London: 02:00 BST is 01:00 GMT (01:00Z), local midnight is
    23:00Z. Requests every 2 min (tail 60 s) at 00:30Z-00:40Z (01:30-01:40 BST),
    00:55Z-01:05Z (01:55 BST-01:05 GMT) and 01:30Z-01:40Z (01:30-01:40 GMT): three
    sessions of 11 min (10 min of gaps + the tail), in time order; the first and last
    share their local clock times and were joined into one of 22 min by local time."""
    stamps = (_every_2_min("2026-10-25T00:30:00Z", 6) + _every_2_min("2026-10-25T00:55:00Z", 3)
              + _every_2_min("2026-10-25T01:01:00Z", 3) + _every_2_min("2026-10-25T01:30:00Z", 6))
    store = make_store(tmp_path / "store", [evc(t, "owl", FB) for t in stamps])
    cfg = org_cfg(tmp_path, "", store=tmp_path / "store")
    day = date(2026, 10, 25)
    inv = gather(store, cfg, "owl", day, day)
    assert inv.daily["outside_hours_minutes"].to_list() == [33.0]
    got = [(s.start.strftime("%H:%M:%S"), s.start_zone, s.end.strftime("%H:%M:%S"), s.end_zone, s.minutes)
           for s in views.sessions(inv)]
    assert got == [("01:30:00", "BST", "01:41:00", "BST", 11.0), ("01:55:00", "BST", "01:06:00", "GMT", 11.0),
                   ("01:30:00", "GMT", "01:41:00", "GMT", 11.0)]
    # the timeline: joined in elapsed time (90-101, 115-126, 150-161 min after midnight),
    # drawn at clock time: the run across the change is split at it (01:55-02:00 BST,
    # 01:00-01:06 GMT) and the GMT 01:30 run is drawn over the BST one
    (lane,) = html_export.context(inv, reason="r", generated=NOW, generated_by="t")["lanes"]["lanes"]
    runs = [(r["x"], r["w"], r["title"].split(" Outside")[0]) for r in lane["runs"]]
    span = lambda a, b: (x(a), round(x(b) - x(a), 2))  # noqa: E731
    assert runs == [(*span(90, 101), "01:30 BST\u201301:41 BST"), (*span(115, 120), "01:55 BST\u201301:06 GMT"),
                    (*span(60, 66), "01:55 BST\u201301:06 GMT"), (*span(90, 101), "01:30 GMT\u201301:41 GMT")]
    # the workbook's Requests sheet marks each time of that day with its zone
    book = export_investigation(store, cfg, "owl", "r", day, day, tmp_path / "owl.xlsx", now=NOW).path
    marks = [(r[0].strftime("%H:%M"), r[-1]) for r in openpyxl.load_workbook(book)["Requests"].iter_rows(
        min_row=2, values_only=True)]
    assert marks[:2] == [("01:30", "BST"), ("01:32", "BST")] and marks[-1] == ("01:40", "GMT")
    assert ("01:30", "GMT") in marks
    out = tmp_path / "owl.html"
    export_investigation(store, cfg, user="owl", date_from=day, date_to=day, reason="r", output=out, now=NOW)
    text = text_of(out)
    assert "01:30:00 BST – 01:41:00 BST" in text and "01:55:00 BST – 01:06:00 GMT" in text
    assert "01:30:00 GMT – 01:41:00 GMT" in text


def test_sessions_on_an_ordinary_day_carry_no_zone(setup):
    store, cfg = setup
    assert {(s.start_zone, s.end_zone) for s in views.sessions(gather(store, cfg, "southpt", MON, WED))} == {("", "")}


def test_the_spring_clock_change_leaves_the_missing_hour_a_gap():
    """Sun 29 Mar 2026: 01:00 GMT becomes 02:00 BST at 01:00Z (60 min after midnight)."""
    change = views.clock_change("Europe/London", date(2026, 3, 29))
    assert change == views.ClockChange(60.0, 60.0, "GMT", "BST")
    assert views.clock_change("Europe/London", date(2026, 3, 30)) is None
    from surfaudit.export.charts import _clock_pieces
    assert _clock_pieces(50, 70, (60.0, 60.0, "GMT", "BST")) == [(50, 60.0, "GMT", "GMT"), (120.0, 130, "BST", "BST")]
