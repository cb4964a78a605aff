"""Rendering for the terminal: rich tables and the stderr progress bar.

Kept apart from the library so ingest, reports and retention never import rich;
they report progress through a plain callback that this module provides.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


@contextmanager
def progress(console: Console) -> Iterator:
    """A callback(file, done, total) drawing a bar on stderr; silent when not a terminal."""
    if not console.is_terminal:
        yield None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                   console=console, transient=True)
    tasks: dict[str, int] = {}

    def update(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done)

    with bar:
        yield update


def ingest_table(results) -> Table:
    table = Table(title="Ingest summary", title_justify="left")
    for col in ("file", "format", "lines", "rows written", "duplicates", "expired", "rejected", "status"):
        table.add_column(col, justify="right" if col not in ("file", "format", "status") else "left")
    totals = [0, 0, 0, 0, 0]
    for r in results:
        status = "[red]failed[/red]" if r.error else ("[yellow]bad lines[/yellow]" if r.rejected else "ok")
        nums = [r.lines, r.rows, r.duplicates, r.expired, r.rejected]
        totals = [a + b for a, b in zip(totals, nums)]
        table.add_row(r.file, r.format, *(f"{n:,}" for n in nums), status)
    if len(results) > 1:
        table.add_section()
        table.add_row("total", "", *(f"{n:,}" for n in totals), "")
    return table
