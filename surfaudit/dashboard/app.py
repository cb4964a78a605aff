"""The dashboard's terminal user interface (Textual, which is built on rich).

Why Textual: keyboard navigation (a person's row, Enter, their days, Escape back)
and a clean quit come with it, and its test harness drives the real app. Every
value shown comes from `surfaudit.dashboard.data`; identities, hosts and audit
details come from logs and the command line, so every cell is a `rich.text.Text`
with control characters escaped (never markup, never an escape sequence).
"""

from __future__ import annotations

import sys

import polars as pl
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from surfaudit.dashboard.data import Morning, Viewing, entry_line, load_morning, person_days, size_text
from surfaudit.errors import SurfauditError, UsageError
from surfaudit.naming import decide
from surfaudit.safetext import printable


def _text(value) -> Text:
    if value is None:
        return Text("-")
    if isinstance(value, float):
        return Text(f"{value:,.1f}", justify="right")
    if isinstance(value, int):
        return Text(f"{value:,}", justify="right")
    return Text(printable(value))


def _fill(table: DataTable, frame: pl.DataFrame, columns: list[tuple[str, str]], key: str | None = None,
          empty: str = "none") -> None:
    table.add_columns(*(label for _, label in columns))
    for row in frame.iter_rows(named=True):
        table.add_row(*(_text(row[c]) for c, _ in columns), key=str(row[key]) if key else None)
    if frame.height == 0:
        table.add_row(*([Text(empty, style="dim")] + [Text("")] * (len(columns) - 1)))


class PersonScreen(Screen):
    """One person's social days of the week; Escape goes back."""

    BINDINGS = [Binding("escape,backspace", "app.pop_screen", "Back"), Binding("q", "app.quit", "Quit")]

    def __init__(self, person: str, days: pl.DataFrame | None, error: str | None, morning: Morning):
        super().__init__()
        self.person, self.days, self.error, self.morning = person, days, error, morning

    def compose(self) -> ComposeResult:
        yield Header()
        m = self.morning
        yield Static(Text(f"{printable(self.person)}: social days {m.week_from} to {m.today} ({m.timezone}); "
                          f"flagged at {m.flag_minutes:g} min outside breaks"), id="person-title")
        if self.error is not None:
            yield Static(Text(printable(self.error), style="bold red"), id="person-error")
        else:
            table = DataTable(id="days", cursor_type="row", zebra_stripes=True)
            yield table
        yield Footer()

    def on_mount(self) -> None:
        if self.error is None:
            days = self.days.with_columns(pl.when(pl.col("flagged")).then(pl.lit("FLAGGED")).otherwise(pl.lit(""))
                                          .alias("flag"))
            _fill(self.query_one("#days", DataTable), days,
                  [("date", "date"), ("social_minutes", "social min"), ("outside_break_minutes", "outside break"),
                   ("in_break_minutes", "in break"), ("outside_hours_minutes", "outside hours"),
                   ("requests", "requests"), ("flag", "")], empty="no social time this week")
            self.query_one("#days", DataTable).focus()


class Dashboard(App):
    """The technician's morning: last night, flagged people, blocked sites, the store."""

    TITLE = "surfaudit"
    CSS = """
    #top { height: auto; }
    .panel { border: round $primary; height: auto; padding: 0 1; width: 1fr; }
    DataTable { height: auto; max-height: 14; }
    .label { text-style: bold; margin-top: 1; }
    """
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, store, cfg, morning: Morning, viewing: Viewing = Viewing()):
        super().__init__()
        self.store, self.cfg, self.morning, self.viewing = store, cfg, morning, viewing

    def compose(self) -> ComposeResult:
        m = self.morning
        yield Header()
        with Horizontal(id="top"):
            yield Static(Text("Last night\n", style="bold") + Text(
                f"ingest: {printable(entry_line(m.last_ingest, m.timezone))}\n"
                f"purge:  {printable(entry_line(m.last_purge, m.timezone))}"), classes="panel", id="night")
            oldest = m.oldest.date().isoformat() if m.oldest else "-"
            span = f"{m.months[0]} to {m.months[-1]}" if m.months else "no data"
            yield Static(Text("Store\n", style="bold") + Text(
                f"{size_text(m.store_bytes)}, {m.rows:,} rows, months {span}, oldest {oldest}\n"
                f"retention {m.retention_months} months: rows before {m.cutoff.date()} go at the next purge"),
                classes="panel", id="store")
        if not m.named:
            naming = "People are pseudonymised; `surfaudit dashboard --reveal --reason TEXT` names them (recorded)."
        else:
            naming = "People are named" + ("; this view is recorded in the audit log." if m.recorded else ".")
        yield Static(Text(naming + "  Tab: next table, Enter: a person's days, Esc: back, q: quit.", style="dim"),
                     id="naming")
        with Vertical():
            yield Static(Text(f"Flagged today ({m.today}, {m.flag_minutes:g} min outside breaks or more)"),
                         classes="label")
            yield DataTable(id="today", cursor_type="row")
            yield Static(Text(f"Flagged this week ({m.week_from} to {m.today})"), classes="label")
            yield DataTable(id="week", cursor_type="row")
            yield Static(Text("Top blocked sites this week"), classes="label")
            yield DataTable(id="blocked", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        m = self.morning
        _fill(self.query_one("#today", DataTable), m.flagged_today,
              [("user", "person"), ("outside_break_minutes", "outside break min"), ("social_minutes", "social min"),
               ("requests", "requests")], key="user", empty="nobody flagged today")
        _fill(self.query_one("#week", DataTable), m.flagged_week,
              [("user", "person"), ("days_flagged", "days flagged"), ("outside_break_minutes", "outside break min"),
               ("social_minutes", "social min"), ("last_flagged", "last flagged")], key="user",
              empty="nobody flagged this week")
        _fill(self.query_one("#blocked", DataTable), m.top_blocked,
              [("host", "host"), ("requests", "blocked requests")], empty="no blocked requests this week")
        self.query_one("#today" if m.flagged_today.height else "#week", DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id in ("today", "week") and event.row_key.value is not None:
            self.open_person(event.row_key.value)

    def open_person(self, person: str) -> None:
        try:
            days, error = person_days(self.store, self.cfg, person, self.morning, self.viewing), None
        except SurfauditError as exc:  # e.g. the audit log cannot be written: say so, show nothing
            days, error = None, str(exc)
        self.push_screen(PersonScreen(person, days, error, self.morning))


def run(store, cfg, viewing: Viewing = Viewing()) -> None:
    """`surfaudit dashboard`: check the options and the terminal, gather the data, run the UI."""
    decide(cfg, **viewing.kwargs())  # a bad --reveal/--reason is exit 2 before anything is read
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("dashboard: needs a terminal (for scripts and cron use `surfaudit report social --flagged`)")
    Dashboard(store, cfg, load_morning(store, cfg, viewing), viewing).run()
