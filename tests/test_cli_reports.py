"""Reports a technician can read: the 80-column terminal view, --sort/--limit/--by user,
options a report cannot use, the one date-range check, and what `report summary` counts.

Real subprocesses over the shipped samples; stdout, stderr and the exit code are checked
apart. The terminal views are golden text files (tests/golden/*_80.txt, regenerated with
SURFAUDIT_REGEN_GOLDEN=1 like the CSVs).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_CONFIG, SAMPLES, run_cli

GOLDEN = ROOT / "tests" / "golden"
RANGE = ("--from", "2026-10-26", "--to", "2026-11-06")
INGESTED_AT = "2026-11-06T20:00:00Z"  # the one ingest run of the fixture, on a date of the samples


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("reports") / "store"
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store), "ingest", str(SAMPLES),
                  env={"SURFAUDIT_NOW": INGESTED_AT})
    assert run.code == 1, run.err  # the samples carry malformed lines on purpose
    return store


def cli(store: Path, *args: str, columns: int = 200, **kw):
    env = {"COLUMNS": str(columns), **kw.pop("env", {})}
    return run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store), *args, env=env, **kw)


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def golden(name: str, text: str) -> str:
    path = GOLDEN / name
    if os.environ.get("SURFAUDIT_REGEN_GOLDEN"):
        path.write_text(text)
    return path.read_text()


# -- the terminal view at 80 columns ---------------------------------------------------------

@pytest.mark.parametrize("name,args", [
    ("report_social_80.txt", ("social", *RANGE, "--limit", "12")),
    ("report_social_by_user_80.txt", ("social", *RANGE, "--by", "user")),
    ("report_blocked_80.txt", ("blocked", *RANGE, "--limit", "6")),
    ("report_top_80.txt", ("top", *RANGE, "--limit", "8")),
    ("report_summary_80.txt", ("summary",)),
])
def test_terminal_view_at_80_columns_is_golden(store, name, args):
    run = cli(store, "report", *args, columns=80)
    assert run.code == 0 and run.err == ""
    assert run.out == golden(name, run.out)
    assert max(len(line) for line in run.out.splitlines()) <= 80
    assert "…" not in run.out  # nothing cut with an ellipsis


def test_social_view_keeps_what_matters_at_80_columns(store):
    run = cli(store, "report", "social", *RANGE, columns=80)
    lines = run.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("user"))
    body = lines[header + 2:header + 4]  # after the rule: the two flagged days come first
    assert body[0].split()[:2] == ["c.nguyen", "2026-10-29"] and body[0].endswith("FLAGGED")
    assert body[1].split()[:2] == ["c.nguyen", "2026-11-05"] and body[1].endswith("FLAGGED")
    assert "lte\\dpatel" in run.out and "10.20.1.57" in run.out  # full names and dates, never c.nguy…
    assert "Sorted by flagged, outside break (highest first), then date, user" in run.out


def test_narrow_terminal_drops_the_least_important_columns_and_says_so(store):
    run = cli(store, "report", "social", *RANGE, "--limit", "3", columns=60)
    assert run.code == 0 and run.err == ""
    assert max(len(line) for line in run.out.splitlines()) <= 60
    assert "Not shown at 60 columns: in break, outside hours" in " ".join(run.out.split())
    assert "FLAGGED" in run.out and "c.nguyen" in run.out and "2026-10-29" in run.out


def test_top_shows_bytes_for_people_and_csv_keeps_the_number(store):
    table = cli(store, "report", "top", *RANGE, "--limit", "1")
    assert "28.7 MB" in table.out and "28,737,184" not in table.out
    data = cli(store, "report", "top", *RANGE, "--limit", "1", "--format", "csv")
    assert data.out == "host,requests,bytes\nwww.bbc.co.uk,846,28737184\n" and data.code == 0


# -- --sort, --limit, --by user ------------------------------------------------------------

def test_csv_keeps_the_documented_order_unless_sort_is_given(store):
    plain = cli(store, "report", "social", *RANGE, "--format", "csv")
    assert plain.out == (GOLDEN / "report_social.csv").read_text()
    first = cli(store, "report", "social", *RANGE, "--format", "csv", "--limit", "3")
    assert first.out.splitlines() == plain.out.splitlines()[:4]  # header + the first 3 in date order
    ordered = cli(store, "report", "social", *RANGE, "--format", "csv", "--sort", "outside", "--limit", "3")
    assert ordered.code == 0 and ordered.err == ""
    assert [(r["user"], r["date"], r["outside_break_minutes"]) for r in rows(ordered.out)] == [
        ("c.nguyen", "2026-10-29", "39.58"), ("c.nguyen", "2026-11-05", "38.75"), ("amorgan", "2026-11-05", "28.96")]
    assert ordered.out.splitlines()[0] == plain.out.splitlines()[0]  # the same columns
    by_user = cli(store, "report", "social", *RANGE, "--format", "csv", "--sort", "user")
    assert [r["user"] for r in rows(by_user.out)] == sorted(r["user"] for r in rows(plain.out))


def test_top_sort_by_bytes_ranks_all_hosts_before_the_limit(store):
    run = cli(store, "report", "top", *RANGE, "--sort", "bytes", "--limit", "2", "--format", "csv")
    assert run.code == 0
    assert [(r["host"], r["bytes"]) for r in rows(run.out)] == [("www.bbc.co.uk", "28737184"),
                                                                 ("www.gov.uk", "13626726")]


def test_social_by_user_sums_the_days(store):
    daily = rows(cli(store, "report", "social", *RANGE, "--format", "csv").out)
    run = cli(store, "report", "social", *RANGE, "--by", "user", "--format", "csv")
    assert run.code == 0 and run.err == ""
    assert run.out.splitlines()[0] == ("user,days,flagged_days,social_minutes,outside_break_minutes,"
                                       "in_break_minutes,outside_hours_minutes,requests")
    people = {r["user"]: r for r in rows(run.out)}
    assert sorted(people) == sorted({r["user"] for r in daily})  # documented order: by user
    assert list(people) == sorted(people)
    mine = [r for r in daily if r["user"] == "c.nguyen"]
    assert people["c.nguyen"]["days"] == str(len(mine)) and people["c.nguyen"]["flagged_days"] == "2"
    assert float(people["c.nguyen"]["outside_break_minutes"]) == pytest.approx(
        sum(float(r["outside_break_minutes"]) for r in mine), abs=0.011)
    assert int(people["c.nguyen"]["requests"]) == sum(int(r["requests"]) for r in mine)
    flagged = cli(store, "report", "social", *RANGE, "--by", "user", "--flagged", "--format", "csv")
    assert [r["user"] for r in rows(flagged.out)] == ["c.nguyen"]


def test_blocked_by_user(store):
    run = cli(store, "report", "blocked", *RANGE, "--by", "user", "--format", "csv")
    assert run.code == 0 and run.err == ""
    assert run.out == "user,days,requests,attempts\nbokafor,6,251,18\nc.nguyen,10,84,10\n"


# -- refused, not ignored -------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (("blocked", "--flagged"), "report blocked does not take --flagged (it takes --by, --group, --limit, "
                               "--pseudonymise, --reveal, --site, --sort, --user)"),
    (("top", "--flagged"), "report top does not take --flagged (it takes --by, --group, --limit, "
                           "--pseudonymise, --reveal, --site, --sort, --user)"),
    (("summary", "--user", "amorgan"), "report summary does not take --user (it takes only --from, --to, "
                                       "--format and --output)"),
    (("summary", "--limit", "3"), "report summary does not take --limit (it takes only --from, --to, "
                                  "--format and --output)"),
    (("summary", "--sort", "month"), "report summary does not take --sort (it takes only --from, --to, "
                                     "--format and --output)"),
    (("social", "--by", "host"), "--by host: report social takes --by user"),
    (("top", "--by", "date"), "--by date: report top takes --by host or domain or category or user"),
    (("social", "--sort", "bytes"), "--sort bytes: report social sorts by flagged, outside, social, requests, "
                                    "user, date"),
    (("social", "--by", "user", "--sort", "date"), "--sort date: report social sorts by flagged, outside, social, "
                                                   "requests, days, user"),
    (("blocked", "--sort", "flagged"), "--sort flagged: report blocked sorts by attempts, requests, hosts, user, date"),
    (("top", "--sort", "attempts"), "--sort attempts: report top sorts by requests, bytes, name"),
    (("social", "--limit", "0"), "--limit: expected a positive integer below 2**63, got 0"),
])
def test_an_option_a_report_cannot_use_is_refused(store, args, message):
    run = cli(store, "report", *args, *RANGE)
    assert run.code == 2
    assert run.out == ""
    assert run.err == f"surfaudit: error: {message}\n"


@pytest.mark.parametrize("command", [
    ("report", "social"), ("report", "summary"), ("audit",),
    ("export", "--user", "amorgan", "--reason", "check", "--output", "x.csv"),
])
def test_every_command_checks_a_date_range_the_same_way(store, tmp_path, command):
    after = cli(store, *command, "--from", "2026-11-06", "--to", "2026-11-01", cwd=tmp_path)
    assert (after.code, after.out) == (2, "")
    assert after.err == "surfaudit: error: --from 2026-11-06 is after --to 2026-11-01\n"
    bad = cli(store, *command, "--from", "2026-13-01", cwd=tmp_path)
    assert (bad.code, bad.out) == (2, "")
    assert bad.err == "surfaudit: error: --from: expected a date YYYY-MM-DD, got '2026-13-01'\n"
    for option, day in (("--from", "0001-01-01"), ("--to", "9999-12-31"), ("--from", "1969-12-31")):
        far = cli(store, *command, option, day, cwd=tmp_path)  # "everything", as a technician may try
        assert (far.code, far.out) == (2, "")
        assert far.err == (f"surfaudit: error: {option}: {day} is outside the dates a log can hold "
                           "(1970-01-01 to 2299-12-31); leave the option out for no limit\n")
    assert list(tmp_path.iterdir()) == []  # no export written


def test_the_widest_range_a_command_takes_is_reported(store, tmp_path):
    """1970-01-01 to 2299-12-31 (what the bounds allow) runs: a day either side is still a date."""
    for command in (("report", "social"), ("report", "blocked"), ("report", "top"), ("report", "summary"),
                    ("audit",)):
        run = cli(store, *command, "--from", "1970-01-01", "--to", "2299-12-31", "--format", "csv", cwd=tmp_path) \
            if command[0] == "report" else cli(store, *command, "--from", "1970-01-01", "--to", "2299-12-31")
        assert run.code == 0 and "error" not in run.err, (command, run.err)


@pytest.mark.parametrize("args,message", [
    (("social", "--from", "2026-11-06", "--to", "2026-11-01"), "--from 2026-11-06 is after --to 2026-11-01"),
    (("summary", "--from", "2026-13-01"), "--from: expected a date YYYY-MM-DD, got '2026-13-01'"),
    (("social", *RANGE, "--site", "nowhere"), "--site"),
    (("social", *RANGE, "--user", "nobody-at-all"), "--user: no such identity"),
    (("social", *RANGE, "--user", "amorgan", "--pseudonymise"), "--user and --pseudonymise cannot be combined"),
    (("social", *RANGE, "--limit", "0"), "--limit: expected a positive integer below 2**63, got 0"),
])
def test_a_bad_option_exits_2_before_the_spark_engine_starts(store, monkeypatch, args, message):
    """Every option is checked before `connect` (which starts a JVM for --engine spark)."""
    from surfaudit.reports import run as report_run

    def no_engine(*a, **k):
        raise AssertionError("connect() was called before the options were checked")

    monkeypatch.setattr(report_run, "connect", no_engine)
    run = cli(store, "report", *args, "--engine", "spark")
    assert run.code == 2 and run.out == "", run.err
    assert run.err.startswith("surfaudit: error: ") and message in run.err, run.err


def test_report_kinds_and_the_limit_have_one_rule_each():
    """The CLI's KIND choices are the reports' table; run_report and top_report share
    one --limit check (specs.check_limit) and one unknown-report check (specs.report_spec)."""
    import duckdb

    from surfaudit import cli as cli_module
    from surfaudit.config import Config
    from surfaudit.errors import UsageError
    from surfaudit.reports.run import run_report
    from surfaudit.reports.specs import KINDS, top_report

    assert [k.value for k in cli_module.Kind] == list(KINDS)
    with pytest.raises(UsageError, match="^unknown report 'weekly' \\(choose social, blocked, top, summary\\)$"):
        run_report(None, Config(), "weekly")
    for limit in (0, -1, True, 2.5, 2**63, 10**23):
        for call in (lambda: run_report(None, Config(), "top", limit=limit),
                     lambda: top_report(duckdb.connect(), Config(), "2026-01-01", "2026-01-02", limit=limit)):
            with pytest.raises(UsageError, match=f"^--limit: expected a positive integer below 2\\*\\*63, got {limit!r}$"):
                call()


# -- report summary ---------------------------------------------------------------------------

def test_summary_counts_runs_not_commits(tmp_path):
    store = tmp_path / "store"
    first = cli(store, "ingest", str(SAMPLES), env={"SURFAUDIT_NOW": "2026-11-02T20:00:00Z"})
    assert first.code == 1  # three files, three commits, one run
    again = cli(store, "ingest", str(SAMPLES / "access.log"), env={"SURFAUDIT_NOW": "2026-11-03T20:00:00Z"})
    assert again.code == 0  # nothing new: still a run
    data = json.loads(cli(store, "report", "summary", "--format", "json").out)
    assert data["totals"]["ingest_runs"] == 2 and data["totals"]["files_ingested"] == 3
    one_day = json.loads(cli(store, "report", "summary", "--from", "2026-11-03", "--to", "2026-11-03",
                             "--format", "json").out)
    assert one_day["totals"]["ingest_runs"] == 1
    table = cli(store, "report", "summary")
    assert table.code == 0 and table.err == ""
    assert "2 ingest runs: 3 source files ingested, 4 lines rejected" in " ".join(table.out.split())


def test_summary_honours_from_and_to(store):
    run = cli(store, "report", "summary", "--from", "2026-11-02", "--to", "2026-11-06", "--format", "json")
    assert run.code == 0 and run.err == ""
    data = json.loads(run.out)
    assert (data["from"], data["to"]) == ("2026-11-02", "2026-11-06")
    assert [(r["month"], r["rows"]) for r in data["rows"]] == [("2026-11", 2586)]  # 1 Nov's 5 requests left out
    assert data["rows"][0]["first_ts"].startswith("2026-11-02T08:03:00")
    assert data["totals"]["ingest_runs"] == 1  # the fixture's run, made on 6 Nov
    whole = json.loads(cli(store, "report", "summary", "--format", "json").out)
    assert [(r["month"], r["rows"]) for r in whole["rows"]] == [("2026-10", 2645), ("2026-11", 2591)]
    before = json.loads(cli(store, "report", "summary", "--to", "2026-11-05", "--format", "json").out)
    assert before["totals"]["ingest_runs"] == 0


def test_summary_table_prints_seconds_and_explains_users(store):
    run = cli(store, "report", "summary")
    assert run.code == 0 and run.err == ""
    assert "2026-10-31 23:59:14 " in run.out and "23:59:14.201" not in run.out and "+00:00" not in run.out
    text = " ".join(run.out.split())
    assert "users: distinct identities as the logs record them (the login name, or the client address when the " \
           "filter logged none), before directory aliases merge them" in text
    assert "1 ingest run: 3 source files ingested, 4 lines rejected (quarantined), 0 rows expired" in text


# -- what a report loads -----------------------------------------------------------------------

@pytest.mark.parametrize("report", ["blocked", "social"])
def test_a_report_on_duckdb_loads_neither_pyarrow_nor_numpy(store, report):
    """With no site `clients` the site lookup is a SQL macro (DuckDB's Python UDFs load
    numpy) and frames reach DuckDB as Arrow streams, not pyarrow tables: a report pays
    for neither import. (`report top` does: its registrable domain is a Python UDF over
    tldextract.) The CSV is the one the in-process run prints."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from surfaudit.cli import main\n"
        f"sys.argv = ['surfaudit', '--config', {str(SAMPLE_CONFIG)!r}, '--store', {str(store)!r},\n"
        f"            'report', {report!r}, *{list(RANGE)!r}, '--format', 'csv']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'pyarrow', 'numpy'})\n"
        "print('LOADED=' + ','.join(loaded), file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 0, run.stderr
    assert "LOADED=\n" in run.stderr, run.stderr
    assert rows(run.stdout) == rows(cli(store, "report", report, *RANGE, "--format", "csv").out)
    assert rows(run.stdout)
