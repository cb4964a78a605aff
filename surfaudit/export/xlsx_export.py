"""The investigation as one Excel workbook (`export --output FILE.xlsx`), built in memory.

Why a workbook beside the CSV: a manager sorting and filtering in Excel wants real
dates and numbers, readable headings and one sheet per question (Summary, Days,
Sessions, Sites, Blocked, Requests), not a CSV whose dates Excel may misread. The
numbers are the HTML report's (`surfaudit.export.views` and the report queries).
XlsxWriter writes into a BytesIO; `investigation.py` then publishes the bytes with
the one private atomic writer, after the audit entry, like the CSV and HTML.

Spreadsheet safety: every text cell is written with `write_string` (Excel stores it
as text and never evaluates it) *and* passed through `surfaudit.safetext.neutralise`,
as in every CSV, so a user name like `=HYPERLINK(...)` stays inert even when the cell
is copied elsewhere. Numbers and dates are written as numbers and dates.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any, Callable

import xlsxwriter

from surfaudit.config import DAY_NAMES
from surfaudit.export import views
from surfaudit.export.data import Investigation
from surfaudit.export.policy import load_policy
from surfaudit.errors import UsageError
from surfaudit.safetext import escape_controls, neutralise

MAX_ROWS = 1_048_575  # Excel's limit, less the header row
MAX_CELL = 32_767  # characters in one Excel cell
TEXT, NUM, INT, DATE, TIME, FLAG = "text", "num", "int", "date", "time", "flag"


class _Book:
    """A thin wrapper: typed cell writers, one header style, frozen header rows."""

    def __init__(self, buf: io.BytesIO, created: datetime) -> None:
        self.wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
        self.wb.set_properties({"title": "Social media use: investigation", "created": created,
                                "comments": "Confidential: produced by surfaudit; recorded in its audit log."})
        self.fmt = {
            "head": self.wb.add_format({"bold": True, "bg_color": "#DCE3EC", "text_wrap": True,
                                        "valign": "top", "bottom": 1}),
            DATE: self.wb.add_format({"num_format": "yyyy-mm-dd"}),
            TIME: self.wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            NUM: self.wb.add_format({"num_format": "0.00"}),
            INT: self.wb.add_format({"num_format": "0"}),
            "wrap": self.wb.add_format({"text_wrap": True, "valign": "top"}),
            "label": self.wb.add_format({"bold": True, "valign": "top"}),
        }

    def cell(self, ws, row: int, col: int, value: Any, kind: str, fmt=None, in_csv: bool = False) -> None:
        """One typed cell; `in_csv`: the CSV export carries this value (a cut one says so)."""
        if value is None:
            ws.write_blank(row, col, None, fmt)
        elif kind in (DATE, TIME):
            ws.write_datetime(row, col, value, fmt or self.fmt[kind])
        elif kind in (NUM, INT):
            ws.write_number(row, col, float(value), fmt or self.fmt[kind])
        elif kind == FLAG:
            ws.write_string(row, col, "Yes" if value else "No", fmt)
        else:
            # controls and bidi overrides shown escaped, as in the HTML and the terminal: Excel
            # would obey a U+202E in a name; line breaks and tabs kept
            text = escape_controls(neutralise(str(value)), keep="\n\t")
            if len(text) > MAX_CELL:  # Excel's limit: say so in the cell rather than cut it in silence
                whole = "; the CSV export has it whole" if in_csv else ""
                note = f"… [cut: {len(text):,} characters, more than an Excel cell holds{whole}]"
                text = text[: max(MAX_CELL - len(note), 0)] + note
            ws.write_string(row, col, text, fmt)

    def table(self, name: str, columns: list[tuple[str, str, int]], rows, in_csv: bool = False) -> int:
        """A sheet with a frozen, filterable header row; columns are (heading, kind, width);
        `in_csv`: the sheet's values are the CSV export's rows."""
        ws = self.wb.add_worksheet(name)
        for c, (heading, kind, width) in enumerate(columns):
            ws.write_string(0, c, heading, self.fmt["head"])
            ws.set_column(c, c, width)
        ws.freeze_panes(1, 0)
        n = 0
        for n, values in enumerate(rows, start=1):
            if n > MAX_ROWS:
                n -= 1
                break
            for c, ((_, kind, _), value) in enumerate(zip(columns, values)):
                self.cell(ws, n, c, value, kind, in_csv=in_csv)
        ws.autofilter(0, 0, max(n, 1), len(columns) - 1)
        return n


def _day(d: date) -> str:
    return DAY_NAMES[d.weekday()].capitalize()


def _summary_rows(inv: Investigation, reason: str, generated: datetime, generated_by: str) -> list[tuple]:
    s, soc, t = inv.cfg.schedule, inv.cfg.social, inv.totals
    kind, caveat = views.identity_label(inv.user)
    title, clauses = load_policy(inv.cfg.org)
    rows: list[tuple] = [
        ("Identity", inv.user, TEXT), ("What the identity is", kind, TEXT),
        *((label, value, TEXT) for label, value in views.directory_rows(inv)),
    ]
    if caveat:
        rows.append(("Caveat", caveat, TEXT))
    rows += [
        ("Period: first day", inv.date_from, DATE), ("Period: last day", inv.date_to, DATE),
        ("Days in the period", len(inv.days), INT), ("Reason for investigation", reason, TEXT),
        ("Time zone (all times are local)", s.timezone, TEXT),
        ("Generated", generated.replace(tzinfo=None), TIME), ("Generated by", generated_by, TEXT),
        ("Web requests in the period", t["requests"], INT),
        ("Allowed requests to social media sites", t["social_requests"], INT),
        ("Social media minutes, all", t["social_minutes"], NUM),
        ("Minutes outside breaks in work hours", t["outside_break_minutes"], NUM),
        ("Minutes in official breaks", t["in_break_minutes"], NUM),
        ("Minutes outside work hours", t["outside_hours_minutes"], NUM),
        ("Days with social media time", t["days_with_social"], INT),
        ("Days flagged", t["flagged_days"], INT),
        ("Blocked requests", t["blocked_requests"], INT), ("Blocked attempts", t["blocked_attempts"], INT),
    ]
    uses = views.timetable_uses(inv)  # the identity's own timetable(s), as the figures used
    quiet = views.days_without_a_site(inv)
    for use in uses:
        at = "Parameter: " if len(uses) == 1 and not quiet else f"Parameter ({views.dates_text(use.dates)}): "
        rows += [(at + "timetable", use.name, TEXT), (at + "workdays", use.workdays, TEXT),
                 (at + "work hours", use.work_hours, TEXT), (at + "official breaks", use.breaks, TEXT)]
        if use.closed:
            rows.append((at + "closed days (no work hours)", views.dates_text(use.closed), TEXT))
    if quiet:
        rows.append(("Parameter: dates with no requests (no site, so no timetable)", views.dates_text(quiet), TEXT))
    rows += [
        ("Parameter: idle gap (seconds)", soc.idle_gap_seconds, INT),
        ("Parameter: tail (seconds)", soc.tail_seconds, INT),
        ("Parameter: flag threshold (minutes outside breaks per day)", soc.flag_minutes, NUM),
        ("Parameter: blocked requests within this many seconds are one attempt", inv.cfg.blocked.burst_seconds, INT),
        ("Parameter: social media sites", ", ".join(soc.domains), TEXT),
        ("Parameter: sites ignored", ", ".join(soc.ignore_hosts) or "none", TEXT),
        ("Policy", title, TEXT),
    ]
    rows += [(f"Policy: {heading}", f"\u201c{quote}\u201d {relates}".strip(), TEXT) for heading, quote, relates in clauses]
    return rows


def render_xlsx(inv: Investigation, *, reason: str, generated: datetime, generated_by: str) -> bytes:
    """The whole workbook as bytes (sheets: Summary, Days, Sessions, Sites, Blocked, Requests).
    A period with more requests than a sheet holds is refused: a workbook never drops rows."""
    if inv.requests.height > MAX_ROWS:
        raise UsageError(f"the period has {inv.requests.height:,} requests, more than an Excel sheet holds "
                         f"({MAX_ROWS:,}): give a shorter --from/--to, or export CSV")
    buf = io.BytesIO()
    book = _Book(buf, generated.replace(tzinfo=None))
    ws = book.wb.add_worksheet("Summary")
    ws.set_column(0, 0, 46)
    ws.set_column(1, 1, 90)
    ws.write_string(0, 0, "Item", book.fmt["head"])
    ws.write_string(0, 1, "Value", book.fmt["head"])
    ws.freeze_panes(1, 0)
    for r, (label, value, kind) in enumerate(_summary_rows(inv, reason, generated, generated_by), start=1):
        book.cell(ws, r, 0, label, TEXT, book.fmt["label"])
        book.cell(ws, r, 1, value, kind, book.fmt["wrap"] if kind == TEXT else None)
    words: Callable[[str], str] = lambda p: views.PERIOD_WORDS.get(p, p or "")  # noqa: E731
    book.table("Days", [("Date", DATE, 12), ("Day", TEXT, 11), ("All social media (minutes)", NUM, 14),
                        ("Outside breaks, work hours (minutes)", NUM, 16), ("In official breaks (minutes)", NUM, 14),
                        ("Outside work hours (minutes)", NUM, 14), ("Requests to social media sites", INT, 14),
                        ("Flagged", FLAG, 9)],
               ((r["date"], _day(r["date"]), r["social_minutes"], r["outside_break_minutes"], r["in_break_minutes"],
                 r["outside_hours_minutes"], r["requests"], r["flagged"]) for r in inv.daily.iter_rows(named=True)))
    book.table("Sessions", [("Date", DATE, 12), ("Day", TEXT, 11), ("From", TIME, 20), ("To", TIME, 20),
                            ("Site", TEXT, 30), ("Minutes", NUM, 10), ("Period", TEXT, 28),
                            ("Clock (on a clock-change day)", TEXT, 14)],
               ((s.date, _day(s.date), s.start, s.end, s.host, s.minutes, words(s.period),
                 (s.start_zone if s.start_zone == s.end_zone else f"{s.start_zone} to {s.end_zone}") or None)
                for s in views.sessions(inv)))
    book.table("Sites", [("Site", TEXT, 32), ("Outside breaks, work hours (minutes)", NUM, 16),
                         ("In official breaks (minutes)", NUM, 14), ("Outside work hours (minutes)", NUM, 14),
                         ("Total (minutes)", NUM, 12), ("Requests", INT, 10)],
               ((s.host, s.outside_break, s.in_break, s.outside_hours, s.total, s.requests) for s in views.sites(inv)))
    book.table("Blocked", [("Date", DATE, 12), ("Day", TEXT, 11), ("First blocked request", TIME, 20),
                           ("Last blocked request", TIME, 20), ("Site", TEXT, 32), ("Blocked requests", INT, 10)],
               ((a.date, _day(a.date), a.first, a.last, a.host, a.requests) for a in views.attempts(inv)))
    zones = views.request_zones(inv).to_list()
    book.table("Requests", [("Local time", TIME, 20), ("Site", TEXT, 30), ("Address (URL)", TEXT, 60),
                            ("Action", TEXT, 9), ("Filter category", TEXT, 18), ("Social media", FLAG, 8),
                            ("Period", TEXT, 28), ("Seconds counted", NUM, 10),
                            ("Clock (on a clock-change day)", TEXT, 14)],
               ((r["local_time"], r["host"], r["url"], r["action"], r["category"], r["social"], words(r["period"]),
                 r["covered_seconds"], zone) for r, zone in zip(inv.requests.iter_rows(named=True), zones)),
               in_csv=True)
    book.wb.close()
    return buf.getvalue()
