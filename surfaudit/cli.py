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
# Piped or in cron mail there is no terminal width: use a wide page rather than 80 columns.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class State:
    config: Optional[Path] = None
    store: Optional[str] = None


STATE = State()


INPUT_FORMATS = "auto|squid|surfprotect|e2guardian|squidguard|fortigate|NAME"
_FORMAT_HELP = ("Input format: auto (detect it), squid, surfprotect, e2guardian, squidguard, fortigate, or NAME, "
                "a vendor CSV export declared as \\[formats.NAME] in the config; 'json' = auto + JSON summary.")


def _input_format(value: str) -> str:
    """The --format of ingest/nightly: a known format (checked against the config
    once it is loaded) or 'json', the summary shorthand."""
    value = (value or "auto").strip().lower()
    if not value:
        raise typer.BadParameter("empty format")
    return value


class OutFmt(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.callback()
def main_options(
    config: Optional[Path] = typer.Option(None, "--config", help="Config file (else $SURFAUDIT_CONFIG, ./surfaudit.toml, /etc/surfaudit/surfaudit.toml)."),
    store: Optional[str] = typer.Option(None, "--store", help="Store directory (overrides [store].path)."),
) -> None:
    STATE.config, STATE.store = config, store


def _cfg():
    from surfaudit.config import load_config

    return load_config(STATE.config, STATE.store)


def _store(cfg, *, must_exist: bool = False):
    """The configured store, checked first: ours (else exit 2) and, for reading, present."""
    from surfaudit.store import Store
    from surfaudit.store.access import check_store

    store = Store(cfg.store_path)
    check_store(store, must_exist=must_exist)
    return store


def parse_date(text: Optional[str], option: str) -> Optional[date]:
    from surfaudit.clock import as_date

    return None if text is None else as_date(text, option)


def date_range(cfg, date_from: Optional[str], date_to: Optional[str], days: int = 7) -> tuple[date, date]:
    """Local dates, inclusive; the default is the last `days` days ending today."""
    from zoneinfo import ZoneInfo

    from surfaudit import clock

    today = clock.now().astimezone(ZoneInfo(cfg.schedule.timezone)).date()
    end = parse_date(date_to, "--to") or today
    start = parse_date(date_from, "--from") or (end - timedelta(days=days - 1))
    if start > end:
        raise UsageError(f"--from {start} is after --to {end}")
    return start, end


@app.command()
def init(
    path: Path = typer.Argument(Path("surfaudit.toml"), help="Where to write the file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented surfaudit.toml with every key and its default."""
    from surfaudit.atomic import write_file
    from surfaudit.config import DEFAULT_TOML
    from surfaudit.safetext import printable

    if (path.exists() or path.is_symlink()) and not force:
        raise UsageError(f"{path}: already exists (use --force to overwrite)")
    write_file(path, DEFAULT_TOML, exclusive=not force)
    out.print(f"wrote {printable(path)}", markup=False)


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Log files or directories (plain, .gz, .bz2, .xz, .zst)."),
    fmt: str = typer.Option("auto", "--format", help=_FORMAT_HELP, callback=_input_format),
    summary: OutFmt = typer.Option(OutFmt.table, "--summary", help="Summary as table, csv or json (csv/json: for scripts)."),
    wait: float = typer.Option(0, "--wait", help="Seconds to wait for the store lock."),
) -> None:
    """Ingest proxy logs into the store, exactly once."""
    from ingest.pipeline import ingest_paths
    from surfaudit import render

    cfg = _cfg()
    store = _store(cfg)
    with render.progress(err) as progress, store.lock(wait):
        notice = (lambda text: err.print(f"surfaudit: {text}", markup=False)) if err.is_terminal else None
        results = ingest_paths(store, cfg, paths, "auto" if fmt == "json" else fmt, progress=progress,
                               notice=notice, warn=lambda text: err.print(f"surfaudit: warning: {text}", markup=False))
    if summary is OutFmt.json or fmt == "json":
        out.print_json(json.dumps([r.as_dict() for r in results]))
    elif summary is OutFmt.csv:
        sys.stdout.write(render.ingest_csv(results))
    else:
        out.print(render.ingest_table(results))
    for r in results:
        if r.error:
            err.print(f"surfaudit: error: {_printable(r.error)}", markup=False)
    if summary is OutFmt.table and fmt != "json":
        for line in render.ingest_notes(results):
            out.print(line, markup=False, soft_wrap=True)
    if any(r.error or r.rejected for r in results):
        raise typer.Exit(1)


class Kind(str, Enum):
    social = "social"
    blocked = "blocked"
    top = "top"
    summary = "summary"


class By(str, Enum):
    host = "host"
    domain = "domain"
    category = "category"
    user = "user"


@app.command()
def report(
    kind: Kind = typer.Argument(..., help="social | blocked | top | summary"),
    date_from: Optional[str] = typer.Option(None, "--from", help="First local date YYYY-MM-DD (default: 6 days before --to)."),
    date_to: Optional[str] = typer.Option(None, "--to", help="Last local date YYYY-MM-DD, inclusive (default: today)."),
    user: Optional[str] = typer.Option(None, "--user", help="Only this person: an identity, alias, directory name or "
                                       "pseudonym (any case); unknown = exit 2 with close matches."),
    site: Optional[str] = typer.Option(None, "--site", help="Only people of this site ([sites.NAME] or the directory's)."),
    group: Optional[str] = typer.Option(None, "--group", help="Only people of this directory group."),
    flagged: bool = typer.Option(False, "--flagged", help="social: only days over the threshold."),
    fmt: Optional[OutFmt] = typer.Option(None, "--format", help="table (terminal), csv (DESIGN §6 columns) or json; "
                                         "default: from the --output extension (.csv, .json), else table."),
    output: Optional[str] = typer.Option(None, "--output", help="Write to FILE instead of stdout ('-' = stdout)."),
    by: By = typer.Option(By.host, "--by", help="top: group by host, domain, category or user."),
    limit: int = typer.Option(20, "--limit", help="top: number of rows."),
    pseudonymise: bool = typer.Option(False, "--pseudonymise", "--pseudonymize",
                                      help="Replace identities with stable per-store pseudonyms."),
    reveal: bool = typer.Option(False, "--reveal", help="Name people although [privacy] reports_name_people = false "
                                "(needs --reason; recorded in the audit log)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="With --reveal: why people must be named."),
) -> None:
    """Social-media time, blocked attempts, top hosts, or what the store holds."""
    from surfaudit import render
    from surfaudit.reports.run import run_report

    cfg = _cfg()
    start, end = date_range(cfg, date_from, date_to)
    store = _store(cfg, must_exist=True)
    from surfaudit.store.access import reading

    with reading(store):
        result = run_report(store, cfg, kind.value, start, end, user=user, flagged=flagged, by=by.value, limit=limit,
                            site=site, group=group, pseudonymise=pseudonymise, reveal=reveal, reason=reason)
    kind_out = (fmt or _format_for(output)).value
    if kind_out == "table" and output in (None, "-"):
        render.report(out, result)
        for note in result.notes:
            out.print(note, markup=False, style="dim")
        return
    for note in result.notes:  # the CSV keeps the exact §6 columns: exemptions and scope go to stderr
        err.print(f"surfaudit: note: {note}", markup=False)
    text = render.report_plain(result) if kind_out == "table" else render.report_text(result, kind_out)
    if output in (None, "-"):
        sys.stdout.write(text)
    else:
        from surfaudit.atomic import write_file
        from surfaudit.safetext import printable

        written = write_file(output, text)
        if written is not None:  # a file (not a stream such as /dev/stdout)
            err.print(f"wrote {result.table.height} rows to {printable(output)}", markup=False)


def _format_for(output: Optional[str]) -> OutFmt:
    """--format from the --output name: .csv -> csv, .json -> json, anything else -> table."""
    suffix = Path(output).suffix.lower() if output not in (None, "-") else ""
    return {".csv": OutFmt.csv, ".json": OutFmt.json}.get(suffix, OutFmt.table)


@app.command()
def export(
    user: str = typer.Option(..., "--user", help="The person investigated: identity, alias, directory name or pseudonym (any case)."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log and on the report)."),
    date_from: Optional[str] = typer.Option(None, "--from", help="First local date YYYY-MM-DD (default: 30 days before --to)."),
    date_to: Optional[str] = typer.Option(None, "--to", help="Last local date YYYY-MM-DD, inclusive (default: today)."),
    output: Path = typer.Option(..., "--output", help="FILE.csv (one row per request), FILE.xlsx (an Excel workbook) or FILE.html (one self-contained report)."),
    wait: float = typer.Option(10, "--wait", help="Seconds to wait for the store lock (the audit entry takes it)."),
) -> None:
    """An investigation file about one person for a manager; recorded in the audit log."""
    from surfaudit.export import export_investigation
    from surfaudit.safetext import printable

    cfg = _cfg()
    start, end = date_range(cfg, date_from, date_to, days=30)
    store = _store(cfg, must_exist=True)
    from surfaudit.store.access import reading

    with reading(store):
        result = export_investigation(store, cfg, user, reason, start, end, output, wait=wait)
    out.print(f"wrote {printable(result.path)} ({result.requests} requests over {result.days} days); recorded in the audit log",
              markup=False)


@app.command()
def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be removed; change nothing."),
    exact: bool = typer.Option(False, "--exact", help="Also trim the month that straddles the cutoff."),
    wait: float = typer.Option(0, "--wait", help="Seconds to wait for the store lock."),
) -> None:
    """Delete month partitions older than [retention].months (policy: one year)."""
    from retention.purge import purge as run_purge
    from surfaudit import render

    cfg = _cfg()
    store = _store(cfg)
    with store.lock(wait):
        result = run_purge(store, cfg, dry_run=dry_run, exact=exact)
    render.purge(out, result, dry_run)


@app.command()
def nightly(
    paths: list[Path] = typer.Argument(..., help="Log files or directories to ingest (e.g. /var/log/squid/)."),
    fmt: str = typer.Option("auto", "--format", help=_FORMAT_HELP, callback=_input_format),
    wait: float = typer.Option(0, "--wait", help="Seconds to wait for the store lock instead of exiting 3."),
) -> None:
    """For cron: ingest, purge and compact under the store lock; one line per step."""
    from surfaudit.nightly import run_nightly

    cfg = _cfg()
    store = _store(cfg)
    result = run_nightly(store, cfg, paths, fmt="auto" if fmt == "json" else fmt, wait=wait,
                         log=lambda line: out.print(_printable(line), markup=False, soft_wrap=True))
    if not result.ok:
        raise typer.Exit(1)


@app.command("users")
def users_cmd(
    unknown: bool = typer.Option(False, "--unknown", help="Only identities without a directory row."),
    site: Optional[str] = typer.Option(None, "--site", help="Only this site."),
    group: Optional[str] = typer.Option(None, "--group", help="Only this directory group."),
    fmt: OutFmt = typer.Option(OutFmt.table, "--format", help="table, csv or json."),
    pseudonymise: bool = typer.Option(False, "--pseudonymise", "--pseudonymize", help="Replace identities with pseudonyms."),
    reveal: bool = typer.Option(False, "--reveal", help="Name people although [privacy] reports_name_people = false."),
    reason: Optional[str] = typer.Option(None, "--reason", help="With --reveal: why (recorded)."),
) -> None:
    """Identities seen and directory members: name, group, site, first/last seen, requests."""
    from surfaudit import render
    from surfaudit.users import run_users

    cfg = _cfg()
    store = _store(cfg, must_exist=True)
    table = run_users(store, cfg, unknown=unknown, site=site, group=group, pseudonymise=pseudonymise,
                      reveal=reveal, reason=reason)
    if fmt is OutFmt.table:
        render.users(out, table)
    else:
        sys.stdout.write(render.audit_text(table, fmt.value))


@app.command()
def verify(
    repair: bool = typer.Option(False, "--repair", help="Move damaged parts to <store>/damaged/ and drop them "
                                "from the manifest (recorded in the audit log)."),
    wait: float = typer.Option(0, "--wait", help="Seconds to wait for the store lock (--repair)."),
) -> None:
    """Check every part (checksum, rows, schema, month) and the bookkeeping; exit 1 on any problem."""
    from surfaudit.verify import repair_store, verify_store

    store = _store(_cfg(), must_exist=True)
    result = verify_store(store)
    for line in result.lines():
        out.print(line, markup=False)
    if repair and not result.ok:
        for line in repair_store(store, result, wait):
            out.print(line, markup=False)
    if not result.ok:
        raise typer.Exit(1)


@app.command("audit")
def audit_cmd(
    date_from: Optional[str] = typer.Option(None, "--from", help="First date YYYY-MM-DD (UTC)."),
    date_to: Optional[str] = typer.Option(None, "--to", help="Last date YYYY-MM-DD (UTC), inclusive."),
    fmt: OutFmt = typer.Option(OutFmt.table, "--format", help="table, csv or json."),
) -> None:
    """Who ran which investigation, every ingest and every purge."""
    from surfaudit import audit, render

    cfg = _cfg()
    store = _store(cfg, must_exist=True)
    table = audit.entries(store, parse_date(date_from, "--from"), parse_date(date_to, "--to"))
    if fmt is OutFmt.table:
        render.audit(out, table)
    else:
        sys.stdout.write(render.audit_text(table, fmt.value))


def _printable(text: str) -> str:
    """File names and messages with control characters shown escaped (surfaudit.safetext)."""
    from surfaudit.safetext import printable

    return printable(text)


def main() -> None:
    """Console-script entry point: run the app and turn errors into one line + exit code."""
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except SurfauditError as exc:
        from surfaudit.safetext import printable

        err.print(f"surfaudit: error: {printable(exc)}", markup=False)
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
        if _is_click_usage_error(exc):
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            err.print(f"surfaudit: error: {' '.join(message.split()) or 'bad usage'}", markup=False)
            sys.exit(2)
        if os.environ.get("SURFAUDIT_DEBUG"):
            raise
        err.print(f"surfaudit: internal error ({type(exc).__name__}); rerun with SURFAUDIT_DEBUG=1 for details")
        sys.exit(1)


def _is_click_usage_error(exc: Exception) -> bool:
    """Typer may vendor click: recognise its usage errors by class name, not identity."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"UsageError", "BadParameter", "NoSuchOption", "MissingParameter", "BadOptionUsage", "BadArgumentUsage"}) \
        and hasattr(exc, "exit_code")


if __name__ == "__main__":  # pragma: no cover
    main()
