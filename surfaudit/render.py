"""Rendering for the terminal: rich tables and the stderr progress bar and spinner.

Kept apart from the library so ingest, reports and retention never import rich;
they report progress through a plain callback that this module provides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
from rich import box, filesize
from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from surfaudit.safetext import neutralise_frame, printable


class _Size(DownloadColumn):
    """Bytes done/total; nothing for a task without a size (the compile spinner)."""

    def render(self, task) -> Text:
        return Text("") if task.total is None else super().render(task)


class Feedback:
    """What ingest shows while it works, on stderr: on a terminal, a bar per file and a
    spinner with the reason while the parsers compile; otherwise no bar, and the
    compile as one line (so a cron mail or a pipe never looks hung without a reason)."""

    def __init__(self, console: Console, bar: Progress | None):
        self.console, self.bar = console, bar
        self.progress = self._update if bar is not None else None  # the pipeline's progress callback
        self._tasks: dict[str, int] = {}
        self._spinner: int | None = None

    def _update(self, name: str, done: int, total: int) -> None:
        if name not in self._tasks:
            self._tasks[name] = self.bar.add_task(printable(name), total=total)
        self.bar.update(self._tasks[name], completed=done)

    def notice(self, text: str) -> None:
        """The pipeline's notice callback (called from a timer thread too)."""
        from ingest.pipeline import COMPILED, COMPILING

        if self.bar is None:
            if text != COMPILED:  # one line, not two
                self.console.print(f"surfaudit: {text}", markup=False)
        elif text == COMPILING:
            self._spinner = self.bar.add_task(text, total=None)
        elif text == COMPILED:
            if self._spinner is not None:
                self.bar.remove_task(self._spinner)
                self._spinner = None
        else:
            self.console.print(f"surfaudit: {text}", markup=False)

    def warn(self, text: str) -> None:
        """The pipeline's warn callback: what makes every run slow, terminal or not."""
        self.console.print(f"surfaudit: warning: {text}", markup=False)


@contextmanager
def feedback(console: Console) -> Iterator[Feedback]:
    """A Feedback on `console`, its live display running for the block when a terminal."""
    if not console.is_terminal:
        yield Feedback(console, None)
        return
    bar = Progress(SpinnerColumn(finished_text=" "), TextColumn("{task.description}", markup=False), BarColumn(),
                   _Size(), TimeRemainingColumn(), console=console, transient=True)
    with bar:
        yield Feedback(console, bar)


def ingest_table(results) -> Table:
    table = Table(title="Ingest summary", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("format")
    cols = ["lines", "rows written", "duplicates", "expired", "rejected"]
    held = any(r.held_back for r in results)
    if held:
        cols.append("held back")
    for col in cols:
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    totals = [0] * len(cols)
    styles = {"failed": "[red]failed[/red]", "bad lines": "[yellow]bad lines[/yellow]", "skipped": "[dim]skipped[/dim]"}
    for r in results:
        nums = [r.lines, r.rows, r.duplicates, r.expired, r.rejected] + ([r.held_back] if held else [])
        totals = [a + b for a, b in zip(totals, nums)]
        table.add_row(_cell(r.file), _cell(r.format), *(f"{n:,}" for n in nums), styles.get(r.status, "ok"))
    if len(results) > 1:
        table.add_section()
        table.add_row("total", "", *(f"{n:,}" for n in totals), "")
    return table


def ingest_csv(results) -> str:
    """The ingest summary as CSV (one row per file, the JSON summary's fields), formulas neutralised."""
    import polars as pl

    rows = [r.as_dict() for r in results]
    frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame({"file": []})
    return neutralise_frame(frame).write_csv()


def ingest_notes(results) -> list[str]:
    """One line per skipped file and per held-back line, and where rejected lines went."""
    lines = [f"skipped {printable(r.file)}: {r.skipped}" for r in results if r.skipped]
    lines += [f"held back {printable(r.file)}: its last line is still being written; it is read on the next run"
              for r in results if r.held_back]
    other = sum(getattr(r, "not_requests", 0) for r in results)
    if other:
        lines.append(f"{other:,} record(s) were no web request (FortiGate traffic/event records, squidGuard's "
                     "own messages): counted, not stored")
    rejected = sum(r.rejected for r in results)
    if rejected:
        lines.append(f"{rejected:,} rejected line(s) were quarantined in the store with their file, line number "
                     "and reason; see them with `surfaudit quarantine` (--file NAME, --reason TEXT)")
    return lines


def report_text(result, fmt: str) -> str:
    """csv: exactly the §6 columns; json: the rows plus the parameters used."""
    table = result.table
    if fmt == "csv":  # text cells neutralised (surfaudit.safetext); numbers stay numbers
        return neutralise_frame(table).write_csv(date_format="%Y-%m-%d", datetime_format="%Y-%m-%dT%H:%M:%S%.3fZ", float_precision=None)
    payload = {
        "report": result.kind,
        "from": result.date_from.isoformat() if result.date_from else None,
        "to": result.date_to.isoformat() if result.date_to else None,
        "parameters": result.parameters,
        "totals": result.totals,
        "rows": json.loads(table.write_json()),
    }
    return json.dumps(payload, indent=2, default=str) + "\n"


# Short headings, so a report fits 80 columns; the title says the unit (minutes).
LARGE_TABLE = 2000  # rows above which `users` and `audit` print aligned plain text (see _table)
HEADINGS = {
    "social_minutes": "total", "outside_break_minutes": "outside break", "in_break_minutes": "in break",
    "outside_hours_minutes": "outside hours", "flagged_days": "flagged days", "top_host": "top host",
    "first_ts": "first (UTC)", "last_ts": "last (UTC)",
}
# What goes first when a terminal is too narrow for every column (the CSV always has all).
DROP_FIRST = ("in_break_minutes", "outside_hours_minutes", "hosts", "days", "allowed", "requests", "social_minutes",
              "users", "top_host")


def report(console: Console, result) -> None:
    """The terminal view: flagged rows highlighted, columns fitted to the width, then what
    the figures assume, the order and, for the summary, what counts as what."""
    table, p = result.table, result.parameters
    title = _title(result)
    if table.height == 0:
        console.print(f"{title}: no rows.", markup=False)
    else:
        grid, dropped = _fitting(console, result)
        console.print(title, markup=False, style="bold")
        console.print(grid)
        if dropped:
            console.print(f"Not shown at {console.width} columns: {', '.join(_heading(c) for c in dropped)} "
                          "(a wider terminal or --format csv shows them).", style="dim", markup=False)
    if result.kind == "social":
        console.print(
            f"Estimate: each social request counts until the next one when that is at most "
            f"{p['idle_gap_seconds']} s later, else {p['tail_seconds']} s. Breaks {', '.join(p['breaks'])}; "
            f"work hours {p['work_hours']} on {', '.join(p['workdays'])}. "
            f"A day is flagged at {p['flag_minutes']} min outside breaks.",
            style="dim", markup=False,
        )
        flagged = "flagged_days" if result.by == "user" else "flagged"
        n = int((table[flagged].cast(pl.Int64) > 0).sum()) if table.height else 0
        what = "people" if result.by == "user" else "user-days"
        console.print(f"{_shown(result)} {what}, {n} {'with a flagged day' if result.by == 'user' else 'flagged'}.",
                      markup=False)
    elif result.kind == "blocked":
        console.print(f"Attempts: blocked requests to the same host within {p['burst_seconds']} s count once.",
                      style="dim", markup=False)
    elif result.kind == "summary":
        t = result.totals
        runs = t.get("ingest_runs", 0)
        when = f" between {result.date_from or 'the first'} and {result.date_to or 'the last'}" \
            if result.date_from or result.date_to else ""
        console.print(
            f"{runs} ingest run{'' if runs == 1 else 's'}{when}: {t.get('files_ingested', 0)} source files "
            f"ingested, {t.get('lines_rejected', 0)} lines rejected (quarantined), "
            f"{t.get('rows_expired', 0)} rows expired on ingest.", markup=False)
        console.print("users: distinct identities as the logs record them (the login name, or the client address "
                      "when the filter logged none), before directory aliases merge them; `surfaudit users` "
                      "lists them.", style="dim", markup=False)
    if result.sort and table.height:
        console.print(_order_line(result), style="dim", markup=False)


def _title(result) -> str:
    tz = result.parameters.get("timezone")
    if result.kind == "summary":
        if result.date_from or result.date_to:
            return f"What the store holds, events dated {_dates(result)} ({tz})"
        return "What the store holds, per UTC month"
    title = f"{result.kind} report{' by ' + result.by if result.kind == 'top' else ''}, {_dates(result)} ({tz})"
    unit = "per person" if result.by == "user" and result.kind != "top" else "per day"
    return title + {"social": f": minutes {unit}", "blocked": f": {unit}"}.get(result.kind, "")


def _dates(result) -> str:
    return f"{result.date_from or 'the first'} to {result.date_to or 'the last'}"


def _shown(result) -> str:
    total = getattr(result, "total_rows", 0) or result.table.height
    return f"{result.table.height} of {total}" if total > result.table.height else f"{result.table.height}"


def _order_line(result) -> str:
    """'Sorted by A, B (highest first), then C (--sort x; also: ...). Showing 5 of 16 rows.'"""
    down = [_heading(c) for c, desc in result.order_keys if desc]
    up = [_heading(c) for c, desc in result.order_keys if not desc]
    keys = (f"{', '.join(down)} (highest first)" if down else "") + (", then " if down and up else "") + ", ".join(up)
    others = ", ".join(s for s in result.sorts if s != result.sort)
    cut = f" Showing {result.table.height} of {result.total_rows} rows." if result.total_rows > result.table.height else ""
    return f"Sorted by {keys} (--sort {result.sort}; also: {others}).{cut}"


def _heading(column: str) -> str:
    return HEADINGS.get(column, column.replace("_", " "))


def _fitting(console: Console, result) -> tuple[Table, list[str]]:
    """The table at the console's width: every column as wide as its widest cell (headings
    wrap between words), dropping the least important columns first; a name that is still
    too wide wraps inside its cell instead of being cut."""
    cells = {c: [_text(c, v).plain for v in result.table[c]] for c in result.table.columns}
    need = {c: max([len(max(_heading(c).split(), key=len)), *map(len, vals)]) for c, vals in cells.items()}
    columns, dropped = list(result.table.columns), []

    def width(cols: list[str]) -> int:
        return sum(need[c] for c in cols) + 2 * (len(cols) - 1)

    for column in DROP_FIRST:
        if width(columns) <= console.width:
            break
        if column in columns:
            columns.remove(column)
            dropped.append(column)
    wide = [c for c in columns if c in ("user", "top_host", result.by)]
    for c in wide:  # still too wide: the names wrap
        need[c] = max(8, need[c] - max(0, width(columns) - console.width))
    return _grid(result, columns, need), dropped


def _grid(result, columns: list[str], widths: dict[str, int]) -> Table:
    table = result.table
    grid = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col in columns:
        grid.add_column(_heading(col), justify="right" if table.schema[col].is_numeric() else "left",
                        width=widths[col], overflow="fold")
    for row in table.iter_rows(named=True):
        flagged = bool(row.get("flagged")) or (row.get("flagged_days") or 0) > 0
        grid.add_row(*(_text(c, row[c]) for c in columns), style="bold red" if flagged else None)
    return grid


def _text(column: str, value) -> Text:
    """A report cell: bytes as people read them, instants to the second, flags as FLAGGED."""
    if column == "bytes" and value is not None:
        return Text(filesize.decimal(int(value)))  # decimal units: 28.7 MB
    if column in ("first_ts", "last_ts") and value is not None:
        return Text(value.strftime("%Y-%m-%d %H:%M:%S"))  # the CSV and JSON keep the milliseconds
    if column == "flagged":
        return Text("FLAGGED" if value else "")
    return _cell(value)


def _cell(value) -> Text:
    """A table cell: always a Text (never parsed as markup), control characters escaped."""
    return Text(_cell_text(value))


def _cell_text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return printable(value)


def _table(console: Console, table, title: str) -> None:
    """A frame as a terminal table. Up to LARGE_TABLE rows a rich table; beyond, the same
    cells as aligned plain text written straight out, since rich measures every cell of
    every row (a 100,000-person directory took 46 s in `users`, this takes about 1)."""
    headings = [col.replace("_", " ") for col in table.columns]
    right = [table.schema[col].is_numeric() for col in table.columns]
    if table.height <= LARGE_TABLE:
        grid = Table(title=title, title_justify="left", header_style="bold")
        for heading, r in zip(headings, right):
            grid.add_column(heading, justify="right" if r else "left")
        for row in table.iter_rows():
            grid.add_row(*(_cell(v) for v in row))
        console.print(grid)
        return
    rows = [[_cell_text(v) for v in row] for row in table.iter_rows()]
    widths = [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headings)]

    def line(cells: list[str]) -> str:
        return "  ".join((" " * (w - cell_len(c)) + c) if r else (c + " " * (w - cell_len(c)))
                         for c, w, r in zip(cells, widths, right)).rstrip()

    text = [title, line(headings), "  ".join("\u2500" * w for w in widths), *(line(r) for r in rows)]
    console.file.write("\n".join(text) + "\n")
    console.file.flush()


def report_plain(result, width: int = 160) -> str:
    """The terminal view as plain text (no colours), for `--output FILE` in table format."""
    import io

    buf = io.StringIO()
    report(Console(file=buf, width=width, color_system=None, force_terminal=False, highlight=False), result)
    return buf.getvalue()


def audit_text(table, fmt: str) -> str:
    """The audit log as CSV (text cells neutralised) or JSON lines of a list."""
    if fmt == "csv":
        return neutralise_frame(table).write_csv()
    return table.write_json() + "\n"


def audit(console: Console, table) -> None:
    if table.height == 0:
        console.print("The audit log is empty for this range.")
        return
    _table(console, table, "Audit log")


def users(console: Console, table) -> None:
    """`surfaudit users`: one row per identity (cells never parsed as markup)."""
    if table.height == 0:
        console.print("No identities match.")
        return
    _table(console, table, "Identities (aliases resolved)")
    console.print(f"{table.height} identities.")


def purge(console: Console, result, dry_run: bool) -> None:
    """The cutoff, then one line per month removed (or that would be)."""
    for line in result.lines(dry_run):
        console.print(line, markup=False)


def quarantine(console: Console, listing) -> None:
    """`surfaudit quarantine`: raw log lines are hostile input, so every cell is a plain Text
    with control characters escaped (never markup, never an escape sequence)."""
    table = listing.table
    if table.height == 0:
        console.print(listing.empty_message(), markup=False)
        return
    grid = Table(title="Rejected lines (quarantine)", title_justify="left", header_style="bold")
    for col, opts in (("reason", {}), ("file", {}), ("line no", {"justify": "right", "no_wrap": True}),
                      ("line", {"overflow": "fold"}), ("ingested (UTC)", {"no_wrap": True})):
        grid.add_column(col, **opts)
    for row in table.iter_rows(named=True):
        when = row["ingested"].strftime("%Y-%m-%d %H:%M") if row["ingested"] else None
        grid.add_row(_cell(row["reason"]), _cell(row["file"]), _cell(row["line_no"]), _cell(row["line"]), _cell(when))
    console.print(grid)
    console.print(f"{table.height:,} rejected lines; this listing is recorded in the audit log.", markup=False)


def quarantine_text(table, fmt: str, terminal: bool = False) -> str:
    """csv: text cells neutralised (and control characters escaped when stdout is a terminal);
    json: a list of objects, ASCII only (every control character escaped)."""
    import polars as pl

    table = table.with_columns(pl.col("ingested").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if fmt == "csv":
        if terminal:
            table = table.with_columns(pl.col(c).map_elements(printable, return_dtype=pl.String, skip_nulls=True)
                                       for c in ("reason", "file", "line"))
        return neutralise_frame(table).write_csv()
    return json.dumps(table.to_dicts(), indent=2) + "\n"  # ASCII: C1 controls and bidi overrides escaped too
