"""The command line (DESIGN §7): parse, call one library function, render, map errors.

Nothing else imports this module. Output for people is rich tables on stdout;
progress goes to stderr and only when stderr is a terminal, so cron mail and
pipes stay clean. Every failure is one line on stderr and an exit code:
0 success, 1 some input rejected or a file failed, 2 usage or config error,
3 the store is locked by another run.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from surfaudit.errors import SurfauditError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Audit staff social-media use from web-filter (proxy) logs.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class State:
    config: Optional[Path] = None
    store: Optional[Path] = None


STATE = State()


class Fmt(str, Enum):
    auto = "auto"
    squid = "squid"
    surfprotect = "surfprotect"
    json = "json"  # shorthand: auto-detect the input and print the summary as JSON


class OutFmt(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.callback()
def main_options(
    config: Optional[Path] = typer.Option(None, "--config", help="Config file (else $SURFAUDIT_CONFIG, ./surfaudit.toml, /etc/surfaudit/surfaudit.toml)."),
    store: Optional[Path] = typer.Option(None, "--store", help="Store directory (overrides [store].path)."),
) -> None:
    STATE.config, STATE.store = config, store


def _cfg():
    from surfaudit.config import load_config

    return load_config(STATE.config, STATE.store)


def _store(cfg):
    from surfaudit.store import Store

    return Store(cfg.store_path)


def parse_date(text: Optional[str], option: str) -> Optional[date]:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: expected a date YYYY-MM-DD, got {text!r}") from None


def date_range(cfg, date_from: Optional[str], date_to: Optional[str], days: int = 7) -> tuple[date, date]:
    """Local dates, inclusive; the default is the last `days` days ending today."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from surfaudit import clock

    today = clock.now().astimezone(ZoneInfo(cfg.schedule.timezone)).date()
    end = parse_date(date_to, "--to") or today
    start = parse_date(date_from, "--from") or (end - timedelta(days=days - 1))
    if start > end:
        raise UsageError(f"--from {start} is after --to {end}")
    del datetime
    return start, end


@app.command()
def init(
    path: Path = typer.Argument(Path("surfaudit.toml"), help="Where to write the file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented surfaudit.toml with every key and its default."""
    from surfaudit.config import DEFAULT_TOML

    if path.exists() and not force:
        raise UsageError(f"{path}: already exists (use --force to overwrite)")
    path.write_text(DEFAULT_TOML)
    out.print(f"wrote {path}")


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Log files or directories (plain, .gz, .bz2, .xz, .zst)."),
    fmt: Fmt = typer.Option(Fmt.auto, "--format", help="Input format (auto detects it); 'json' = auto + JSON summary."),
    summary: OutFmt = typer.Option(OutFmt.table, "--summary", help="Summary as table or json (json: for scripts)."),
    wait: float = typer.Option(0, "--wait", help="Seconds to wait for the store lock."),
) -> None:
    """Ingest proxy logs into the store, exactly once."""
    from ingest.pipeline import ingest_paths
    from surfaudit import render

    cfg = _cfg()
    store = _store(cfg)
    with render.progress(err) as progress, store.lock(wait):
        results = ingest_paths(store, cfg, paths, "auto" if fmt is Fmt.json else fmt.value, progress=progress)
    if summary is OutFmt.json or fmt is Fmt.json:
        out.print_json(json.dumps([r.as_dict() for r in results]))
    else:
        out.print(render.ingest_table(results))
    for r in results:
        if r.error:
            err.print(f"surfaudit: error: {r.error}", markup=False)
    if any(r.error or r.rejected for r in results):
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point: run the app and turn errors into one line + exit code."""
    try:
        app(standalone_mode=False)
    except SurfauditError as exc:
        err.print(f"surfaudit: error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("surfaudit: aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("surfaudit: interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - never a traceback; no message either (it may hold URLs)
        import click

        if isinstance(exc, click.exceptions.UsageError):
            err.print(f"surfaudit: error: {exc.format_message()}", markup=False)
            sys.exit(2)
        if isinstance(exc, click.exceptions.ClickException):
            err.print(f"surfaudit: error: {exc.format_message()}", markup=False)
            sys.exit(exc.exit_code)
        if os.environ.get("SURFAUDIT_DEBUG"):
            raise
        err.print(f"surfaudit: internal error ({type(exc).__name__}); rerun with SURFAUDIT_DEBUG=1 for details")
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
