"""The command line: parse, call one library function, render, map errors.

Nothing else imports this module. Output for people is rich tables on stdout;
progress bars go to stderr only when stderr is a terminal, so cron mail and pipes
stay clean (a first run's real compile is told in one stderr line). Every failure
is one line on stderr and an exit code: 0 success, 1 some input rejected or a file
failed, 2 usage or config error, 3 store locked, 130 Ctrl-C, 143 SIGTERM, 141 reader gone.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import typer
from rich.console import Console

from surfaudit.cli_exit import broken_pipe, write_stdout
from surfaudit.errors import SurfauditError, UsageError

# Plain help (rich_markup_mode=None): option texts such as "[store].path" stay as written and
# flags show as flags; rich still draws the reports.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Audit staff social-media use from web-filter (proxy) logs.")
# Piped or in cron mail there is no terminal width: use a wide page rather than 80 columns.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out = Console(highlight=False, width=_WIDTH)
out.on_broken_pipe = broken_pipe  # type: ignore[method-assign]  # `| head`: exit 141 quietly, as plain writes do
err = Console(stderr=True, highlight=False, soft_wrap=True)


STATE = SimpleNamespace(config=None, store=None)  # the global --config and --store of this invocation


INPUT_FORMATS = "auto|squid|surfprotect|e2guardian|squidguard|fortigate|NAME"
_FORMAT_HELP = ("Input format: auto (detect it), squid, surfprotect, e2guardian, squidguard, fortigate, or NAME, "
                "a vendor CSV export declared as [formats.NAME] in the config.")


def _input_format(value: str) -> str:
    """The --format of ingest/nightly: a known format (checked against the config
    once it is loaded); 'json', the old spelling of `--summary json`, still means
    auto-detection, with a warning."""
    value = (value or "auto").strip().lower()
    if not value:
        raise typer.BadParameter("empty format")
    if value == "json":
        err.print("surfaudit: warning: --format json is deprecated: --format names the log format; "
                  "use --summary json for a JSON summary", markup=False)
    return value


OutFmt = Enum("OutFmt", {"table": "table", "csv": "csv", "json": "json"}, type=str)


@app.callback()
def main_options(
    config: Optional[Path] = typer.Option(None, "--config", metavar="PATH", help="Config file (else $SURFAUDIT_CONFIG, ./surfaudit.toml, /etc/surfaudit/surfaudit.toml)."),
    store: Optional[str] = typer.Option(None, "--store", metavar="DIR", help="Store directory (overrides [store].path)."),
) -> None:
    STATE.config, STATE.store = config, store


def _cfg():
    from surfaudit.config import load_config

    return load_config(STATE.config, STATE.store)


def _store(cfg, *, must_exist: bool = False):
    """The configured store, checked first: ours (else exit 2) and, for reading, present."""
    from surfaudit.store.backend import open_store

    return open_store(cfg, must_exist=must_exist)


@app.command()
def init(
    path: Path = typer.Argument(Path("surfaudit.toml"), metavar="PATH", help="Where to write the file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented surfaudit.toml with every key's default."""
    from surfaudit.atomic import write_file
    from surfaudit.config import DEFAULT_TOML
    from surfaudit.safetext import printable

    if (path.exists() or path.is_symlink()) and not force:
        raise UsageError(f"{path}: already exists (use --force to overwrite)")
    write_file(path, DEFAULT_TOML, exclusive=not force)
    out.print(f"wrote {printable(path)}", markup=False)


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., metavar="PATH...", help="Log files or directories (plain, .gz, .bz2, .xz, .zst)."),
    fmt: str = typer.Option("auto", "--format", metavar="FORMAT", help=_FORMAT_HELP, callback=_input_format),
    summary: OutFmt = typer.Option(OutFmt.table, "--summary", help="Summary as table, csv or json (csv/json: for scripts)."),
    wait: float = typer.Option(0, "--wait", metavar="SECONDS", help="Seconds to wait for the store lock."),
) -> None:
    """Ingest proxy logs into the store, exactly once."""
    from ingest.interrupted import Interrupted
    from ingest.pipeline import check as check_ingest, ingest_paths
    from surfaudit import render
    from surfaudit.cli_exit import interrupted

    cfg = _cfg()
    check_ingest(cfg, "auto" if fmt == "json" else fmt)  # before the store: a mistake makes none
    store = _store(cfg)
    try:
        with render.feedback(err) as shown, store.lock(wait):  # a bar, and why a first run is slow
            results = ingest_paths(store, cfg, paths, "auto" if fmt == "json" else fmt, progress=shown.progress,
                                   notice=shown.notice, warn=shown.warn)
    except Interrupted as exc:  # Ctrl-C: which files were committed and which were not
        interrupted(err, exc)
    if summary is OutFmt.json or fmt == "json":
        out.print_json(json.dumps([r.as_dict() for r in results]))
    elif summary is OutFmt.csv:
        write_stdout(render.ingest_csv(results))
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


_SORT_HELP = ("Row order. social: flagged (the terminal's default: flagged days first, then minutes outside breaks), "
              "outside, social, requests, user, date; with --by user also days (not date). blocked: attempts "
              "(default), requests, hosts, user, date; with --by user: attempts, requests, days, user. "
              "top: requests (default), bytes, name. CSV and JSON keep date order (top: requests) unless given.")


class EngineKind(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


_ENGINE_HELP = ("SQL engine: duckdb, or spark (Apache Spark at [engine] master; pip install 'surfaudit[spark]' "
                "and Java 17+). Default: [engine] kind.")


def _with_engine(cfg, engine: Optional[EngineKind]):
    """The config with --engine, when given, in place of [engine] kind."""
    if engine is None:
        return cfg
    from dataclasses import replace

    return replace(cfg, engine=replace(cfg.engine, kind=engine.value))


@app.command()
def report(
    kind: Kind = typer.Argument(..., metavar="KIND", help="social | blocked | top | summary"),
    date_from: Optional[str] = typer.Option(None, "--from", metavar="DATE", help="First local date YYYY-MM-DD (default: 6 days before --to; summary: the whole store)."),
    date_to: Optional[str] = typer.Option(None, "--to", metavar="DATE", help="Last local date YYYY-MM-DD, inclusive (default: today; summary: the whole store)."),
    user: Optional[str] = typer.Option(None, "--user", metavar="ID", help="Only this person: an identity, alias, directory "
                                       "name or pseudonym (any case); unknown = exit 2 with close matches."),
    site: Optional[str] = typer.Option(None, "--site", metavar="NAME", help="Only people of this site ([sites.NAME] or the directory's)."),
    group: Optional[str] = typer.Option(None, "--group", metavar="NAME", help="Only people of this directory group."),
    proxy_site: Optional[str] = typer.Option(None, "--proxy-site", metavar="NAME", help="Only rows ingested at this "
                                             "site (the [ingest] site of the machine whose nightly stored them)."),
    flagged: bool = typer.Option(False, "--flagged", help="social: only flagged days (with --by user: people with one)."),
    fmt: Optional[OutFmt] = typer.Option(None, "--format", help="table (terminal), csv (the documented columns) or json; "
                                         "default: from the --output extension (.csv, .json), else table."),
    output: Optional[str] = typer.Option(None, "--output", metavar="FILE", help="Write to FILE instead of stdout ('-' = stdout)."),
    by: Optional[str] = typer.Option(None, "--by", metavar="KEY", help="social, blocked: user (one row per person over the "
                                     "range). top: host (default), domain, category or user."),
    sort: Optional[str] = typer.Option(None, "--sort", metavar="KEY", help=_SORT_HELP),
    limit: Optional[int] = typer.Option(None, "--limit", metavar="N", help="Only the first N rows (top: default 20)."),
    pseudonymise: bool = typer.Option(False, "--pseudonymise", "--pseudonymize",
                                      help="Replace identities with stable per-store pseudonyms."),
    reveal: bool = typer.Option(False, "--reveal", help="Name people although [privacy] reports_name_people = false "
                                "(needs --reason; recorded in the audit log)."),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="TEXT", help="With --reveal: why people must be named."),
    engine: Optional[EngineKind] = typer.Option(None, "--engine", help=_ENGINE_HELP),
) -> None:
    """Social time, blocked attempts, top traffic, store summary.

    An option a report does not use is refused (exit 2). The terminal shows what
    matters first; CSV and JSON keep the documented columns and order.
    """
    from surfaudit import render
    from surfaudit.reports.run import run_report
    from surfaudit.store.access import reading

    cfg = _with_engine(_cfg(), engine)
    kind_out = (fmt or _format_for(output)).value
    store = _store(cfg, must_exist=True)
    with reading(store):
        result = run_report(store, cfg, kind.value, date_from, date_to, user=user, flagged=flagged, by=by, limit=limit,
                            sort=sort, site=site, group=group, pseudonymise=pseudonymise, reveal=reveal,
                            reason=reason, readable=kind_out == "table", proxy_site=proxy_site)
    if kind_out == "table" and output in (None, "-"):
        render.report(out, result)
        for note in result.notes:
            out.print(note, markup=False, style="dim")
        return
    for note in result.notes:  # the CSV keeps the exact documented columns: exemptions and scope go to stderr
        err.print(f"surfaudit: note: {note}", markup=False)
    text = render.report_plain(result) if kind_out == "table" else render.report_text(result, kind_out)
    if output in (None, "-"):
        write_stdout(text)
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
    user: str = typer.Option(..., "--user", metavar="ID", help="The person investigated: identity, alias, directory name or pseudonym (any case)."),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why (recorded in the audit log and on the report)."),
    date_from: Optional[str] = typer.Option(None, "--from", metavar="DATE", help="First local date YYYY-MM-DD (default: 29 days before --to)."),
    date_to: Optional[str] = typer.Option(None, "--to", metavar="DATE", help="Last local date YYYY-MM-DD, inclusive (default: today)."),
    output: Path = typer.Option(..., "--output", metavar="FILE", help="FILE.csv (one row per request), FILE.xlsx (an Excel workbook) or FILE.html (one self-contained report)."),
    wait: float = typer.Option(10, "--wait", metavar="SECONDS", help="Seconds to wait for the store lock (the audit entry takes it)."),
    engine: Optional[EngineKind] = typer.Option(None, "--engine", help=_ENGINE_HELP),
) -> None:
    """Investigation file about one person for a manager; audited."""
    from surfaudit.export import export_investigation
    from surfaudit.safetext import printable

    cfg = _with_engine(_cfg(), engine)
    store = _store(cfg, must_exist=True)
    from surfaudit.store.access import reading

    with reading(store):
        result = export_investigation(store, cfg, user, reason, date_from, date_to, output, wait=wait)
    out.print(f"wrote {printable(result.path)} ({result.requests} requests over {result.days} days); recorded in the audit log",
              markup=False)


@app.command()
def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be removed; change nothing."),
    exact: bool = typer.Option(False, "--exact", help="Also trim the month that straddles the cutoff."),
    wait: float = typer.Option(0, "--wait", metavar="SECONDS", help="Seconds to wait for the store lock."),
) -> None:
    """Delete months older than [retention].months (one year)."""
    from retention.purge import purge as run_purge
    from surfaudit import render

    cfg = _cfg()
    store = _store(cfg, must_exist=True)  # a mistyped path is "no store here", never made one
    with store.lock(wait):
        result = run_purge(store, cfg, dry_run=dry_run, exact=exact, wait=wait)
    render.purge(out, result, dry_run)


@app.command()
def nightly(
    paths: list[Path] = typer.Argument(..., metavar="PATH...", help="Log files or directories to ingest (e.g. /var/log/squid/)."),
    fmt: str = typer.Option("auto", "--format", metavar="FORMAT", help=_FORMAT_HELP, callback=_input_format),
    wait: float = typer.Option(0, "--wait", metavar="SECONDS", help="Seconds to wait for the store lock instead of exiting 3."),
) -> None:
    """For cron: ingest, purge and compact under the store lock."""
    from ingest.pipeline import check as check_ingest
    from surfaudit.nightly import run_nightly

    cfg = _cfg()
    check_ingest(cfg, "auto" if fmt == "json" else fmt)  # before the store: a mistake makes none
    store = _store(cfg)
    result = run_nightly(store, cfg, paths, fmt="auto" if fmt == "json" else fmt, wait=wait,
                         log=lambda line: out.print(_printable(line), markup=False, soft_wrap=True))
    if not result.ok:
        raise typer.Exit(1)


@app.command("users")
def users_cmd(
    unknown: bool = typer.Option(False, "--unknown", help="Only identities without a directory row."),
    site: Optional[str] = typer.Option(None, "--site", metavar="NAME", help="Only this site."),
    group: Optional[str] = typer.Option(None, "--group", metavar="NAME", help="Only this directory group."),
    fmt: OutFmt = typer.Option(OutFmt.table, "--format", help="table, csv or json."),
    pseudonymise: bool = typer.Option(False, "--pseudonymise", "--pseudonymize", help="Replace identities with pseudonyms."),
    reveal: bool = typer.Option(False, "--reveal", help="Name people although [privacy] reports_name_people = false."),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="TEXT", help="With --reveal: why (recorded)."),
) -> None:
    """Identities seen and directory members: name, group, site."""
    from surfaudit import render
    from surfaudit.users import run_users

    cfg = _cfg()
    store = _store(cfg, must_exist=True)
    table = run_users(store, cfg, unknown=unknown, site=site, group=group, pseudonymise=pseudonymise,
                      reveal=reveal, reason=reason)
    if fmt is OutFmt.table:
        render.users(out, table)
    else:
        write_stdout(render.audit_text(table, fmt.value))


@app.command()
def verify(
    repair: bool = typer.Option(False, "--repair", help="Move damaged parts to <store>/damaged/ and drop them "
                                "from the manifest (recorded in the audit log)."),
    wait: float = typer.Option(0, "--wait", metavar="SECONDS", help="Seconds to wait for the store lock (--repair; on s3://, the upkeep lease)."),
) -> None:
    """Check every part and the bookkeeping; exit 1 on any problem."""
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
    date_from: Optional[str] = typer.Option(None, "--from", metavar="DATE", help="First date YYYY-MM-DD (UTC; default: the first entry)."),
    date_to: Optional[str] = typer.Option(None, "--to", metavar="DATE", help="Last date YYYY-MM-DD (UTC), inclusive (default: the last entry)."),
    fmt: OutFmt = typer.Option(OutFmt.table, "--format", help="table, csv or json."),
) -> None:
    """Who ran which investigation, every ingest and every purge."""
    from surfaudit import audit, clock, render

    store = _store(_cfg(), must_exist=True)
    table = audit.entries(store, *clock.check_range(date_from, date_to))
    for problem in store.audit_problems():  # an entry that cannot be shown is a record lost: say so
        err.print(f"surfaudit: warning: {_printable(problem)}", markup=False)
    if fmt is OutFmt.table:
        render.audit(out, table)
    else:
        write_stdout(render.audit_text(table, fmt.value))


@app.command()
def quarantine(
    file: Optional[str] = typer.Option(None, "--file", metavar="NAME", help="Only lines from the log file of this name (a path is reduced to its name)."),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="TEXT", help="Only lines whose reason contains this text (any case)."),
    fmt: OutFmt = typer.Option(OutFmt.table, "--format", help="table, csv or json."),
    reveal: Optional[str] = typer.Option(None, "--reveal", metavar="TEXT", help="Why the raw lines (they name people) "
                                         "must be shown; needed when [privacy] reports_name_people = false; recorded."),
) -> None:
    """Rejected lines with their reason, file and line number.

    The listing is recorded in the audit log (rejected lines are raw log lines).
    """
    from surfaudit import render
    from surfaudit.quarantine import list_rejected

    cfg = _cfg()
    store = _store(cfg, must_exist=True)
    listing = list_rejected(store, file=file, reason=reason, name_people=cfg.org.reports_name_people, reveal=reveal)
    if fmt is OutFmt.table:
        render.quarantine(out, listing)
    else:
        write_stdout(render.quarantine_text(listing.table, fmt.value, terminal=sys.stdout.isatty()))


@app.command()
def dashboard(
    pseudonymise: bool = typer.Option(False, "--pseudonymise", "--pseudonymize",
                                      help="Replace identities with stable per-store pseudonyms."),
    reveal: bool = typer.Option(False, "--reveal", help="Name people although [privacy] reports_name_people = false "
                                "(needs --reason; recorded in the audit log)."),
    reason: Optional[str] = typer.Option(None, "--reason", metavar="TEXT", help="With --reveal: why people must be named."),
) -> None:
    """The technician's terminal view (q quits).

    Last night's ingest and purge, flagged people, top blocked sites and the store.
    """
    from surfaudit.dashboard.app import run
    from surfaudit.dashboard.data import Viewing

    cfg = _cfg()
    run(_store(cfg, must_exist=True), cfg, Viewing(pseudonymise, reveal, reason))


def _printable(text: str) -> str:
    """File names and messages with control characters shown escaped (surfaudit.safetext)."""
    from surfaudit.safetext import printable

    return printable(text)


def main() -> None:
    """Console-script entry point: run the app and turn errors into one line + exit code."""
    from surfaudit.cli_exit import exit_with, interrupted, is_click_usage_error, misplaced_global
    from surfaudit.interrupt import sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():  # `timeout` / `systemctl stop`: stop as Ctrl-C does, exit 143
            code = app(prog_name="surfaudit", standalone_mode=False)
        exit_with(err, code)
    except SurfauditError as exc:
        err.print(f"surfaudit: error: {_printable(str(exc))}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # typer turns Ctrl-C into Exit(130)
            interrupted(err, exc.__cause__)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("surfaudit: aborted")
        sys.exit(1)
    except KeyboardInterrupt as exc:
        interrupted(err, exc)
    except BrokenPipeError:
        broken_pipe()
    except Exception as exc:  # noqa: BLE001 - never a traceback; no message either (it may hold URLs)
        if is_click_usage_error(exc):
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            err.print(f"surfaudit: error: {misplaced_global(' '.join(message.split())) or 'bad usage'}", markup=False)
            sys.exit(2)
        if os.environ.get("SURFAUDIT_DEBUG"):
            raise
        err.print(f"surfaudit: internal error ({type(exc).__name__}); rerun with SURFAUDIT_DEBUG=1 for details")
        sys.exit(1)


def entry() -> None:
    """The console script: `main`, then the GC frozen so that exit skips collecting numba's objects (0.35 s)."""
    try:
        main()
    finally:
        __import__("gc").freeze()  # not in main, which tests call in-process


if __name__ == "__main__":  # pragma: no cover
    entry()
