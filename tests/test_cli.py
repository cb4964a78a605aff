"""The CLI as a technician uses it: stdout/stderr/exit codes apart, run in-process
(tests.conftest.run_cli) except the smoke tests that need a real `python -m surfaudit`.

Golden CSVs pin every report over sample_logs/; the quickstart is run with the
clock set years ahead to prove it keeps showing flagged rows as time passes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_CONFIG, SAMPLES, run_cli, run_cli_subprocess

GOLDEN = ROOT / "tests" / "golden"
RANGE = ("--from", "2026-10-26", "--to", "2026-11-06")


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("cli") / "store"
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store), "ingest", str(SAMPLES))
    assert run.code == 1, run.err  # the samples carry malformed lines on purpose
    return store


def cli(store: Path, *args: str, **kw):
    return run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store), *args, **kw)


# -- ingest ------------------------------------------------------------------

def test_ingest_summary_json_and_exit_code(tmp_path):
    """A real subprocess: the console entry point's exit code and streams."""
    store = tmp_path / "s"
    run = run_cli_subprocess("--config", str(SAMPLE_CONFIG), "--store", str(store), "ingest", str(SAMPLES),
                             "--summary", "json")
    assert run.code == 1
    files = {Path(r["file"]).name: r for r in json.loads(run.out)}
    assert {n for n, r in files.items() if r["status"] != "skipped"} == {"access.log", "access.log.1.gz",
                                                                       "surfprotect-export.csv"}
    assert {n for n, r in files.items() if r["status"] == "skipped"} == {"README.md", "surfaudit.toml"}
    assert files["access.log"]["rejected"] == 2 and files["access.log"]["rows"] == 2012
    assert files["surfprotect-export.csv"]["format"] == "surfprotect"
    assert run.err == ""  # bad lines are counted, not errors: nothing on stderr
    again = cli(store, "ingest", str(SAMPLES), "--format", "json")  # the old spelling still works, with a warning
    assert again.code == 0  # nothing new, nothing rejected this time
    assert sum(r["rows"] for r in json.loads(again.out)) == 0
    assert again.err == ("surfaudit: warning: --format json is deprecated: --format names the log format; "
                         "use --summary json for a JSON summary\n")


def test_ingest_missing_file_is_one_line_exit_1(tmp_path):
    run = cli(tmp_path / "s", "ingest", str(tmp_path / "nope.log"))
    assert run.code == 1
    assert run.err.strip().count("\n") == 0 and "nope.log" in run.err and "Traceback" not in run.err


def test_ingest_unknown_format_option_is_usage_error(tmp_path):
    run = cli(tmp_path / "s", "ingest", str(SAMPLES), "--format", "apache")
    assert run.code == 2 and "Traceback" not in run.err


# -- reports -----------------------------------------------------------------

@pytest.mark.parametrize("kind,extra", [
    ("social", ()), ("blocked", ()), ("top", ("--by", "domain")), ("top", ("--by", "category")),
    ("top", ("--by", "user")), ("top", ("--by", "host")), ("summary", ()),
])
def test_report_csv_matches_golden(sample_store, kind, extra):
    run = cli(sample_store, "report", kind, *RANGE, *extra, "--format", "csv")
    assert run.code == 0 and run.err == ""
    name = f"report_{kind}{'_' + extra[1] if extra else ''}.csv"
    golden = GOLDEN / name
    if os.environ.get("SURFAUDIT_REGEN_GOLDEN"):
        golden.write_text(run.out)
    assert run.out == golden.read_text()


def test_social_csv_columns_exactly_as_design(sample_store):
    run = cli(sample_store, "report", "social", *RANGE, "--format", "csv")
    header = run.out.splitlines()[0]
    assert header == "user,date,social_minutes,outside_break_minutes,in_break_minutes,outside_hours_minutes,requests,flagged"
    rows = list(csv.DictReader(io.StringIO(run.out)))
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date"])
        assert row["flagged"] in ("true", "false")
        parts = float(row["outside_break_minutes"]) + float(row["in_break_minutes"]) + float(row["outside_hours_minutes"])
        assert abs(parts - float(row["social_minutes"])) <= 0.02
    # the spill-over date of the Saturday-night session has a row with no requests of its own
    assert any(r["user"] == "e walsh" and r["date"] == "2026-11-01" for r in rows)


def test_blocked_csv_columns(sample_store):
    run = cli(sample_store, "report", "blocked", *RANGE, "--format", "csv")
    assert run.out.splitlines()[0] == "user,date,requests,attempts,hosts,top_host"


def test_flagged_and_user_filters(sample_store):
    run = cli(sample_store, "report", "social", *RANGE, "--flagged", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert [(r["user"], r["date"]) for r in rows] == [("c.nguyen", "2026-10-29"), ("c.nguyen", "2026-11-05")]
    run = cli(sample_store, "report", "social", *RANGE, "--user", "amorgan", "--format", "csv")
    users = {r["user"] for r in csv.DictReader(io.StringIO(run.out))}
    assert users == {"amorgan"}
    run = cli(sample_store, "report", "social", *RANGE, "--user", "amorgan' OR '1'='1", "--format", "csv")
    # matched literally: no such identity, so exit 2 (never "no rows", exit 0)
    assert run.code == 2 and run.out == "" and "no such identity" in run.err and run.err.count("\n") == 1


def test_table_view_states_parameters_and_marks_flagged(sample_store):
    run = cli(sample_store, "report", "social", *RANGE)
    assert run.code == 0
    assert "FLAGGED" in run.out
    assert "300 s" in run.out and "60 s" in run.out and "10:30-10:50" in run.out and "30 min" in run.out


def test_json_format_carries_parameters(sample_store):
    run = cli(sample_store, "report", "blocked", *RANGE, "--format", "json")
    data = json.loads(run.out)
    assert data["parameters"]["burst_seconds"] == 60
    assert data["rows"] and set(data["rows"][0]) == {"user", "date", "requests", "attempts", "hosts", "top_host"}


def test_output_file_is_private(sample_store, tmp_path):
    target = tmp_path / "social.csv"
    run = cli(sample_store, "report", "social", *RANGE, "--format", "csv", "--output", str(target))
    assert run.code == 0 and run.out == ""
    assert target.read_text().startswith("user,date,")
    assert target.stat().st_mode & 0o777 == 0o600


def test_summary_report(sample_store):
    run = cli(sample_store, "report", "summary", "--format", "json")
    data = json.loads(run.out)
    assert [r["month"] for r in data["rows"]] == ["2026-10", "2026-11"]
    assert sum(r["rows"] for r in data["rows"]) == 2054 + 2012 + 1170
    assert data["totals"]["lines_rejected"] == 4


@pytest.mark.parametrize("args,needle", [
    (("--from", "2026-13-01"), "--from"),
    (("--to", "yesterday"), "--to"),
    (("--from", "2026-11-06", "--to", "2026-11-01"), "after"),
])
def test_bad_dates_exit_2_one_line(sample_store, args, needle):
    run = cli(sample_store, "report", "social", *args)
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and needle in run.err and run.err.startswith("surfaudit: error:")


def test_unknown_report_kind_is_usage_error(sample_store):
    run = cli(sample_store, "report", "everything")
    assert run.code == 2 and "Traceback" not in run.err


@pytest.mark.parametrize("args,name,placeholder", [
    (("report", "summary", "--store", "/srv/store"), "--store", "DIR"),
    (("nightly", "--config=/etc/s.toml", "/var/log/squid"), "--config", "PATH"),
])
def test_a_global_option_after_the_command_says_where_it_goes(args, name, placeholder):
    """click said "No such option: --store (Possible options: --site, --sort, --to)"."""
    run = run_cli(*args)
    assert (run.code, run.out) == (2, "")
    assert run.err == f"surfaudit: error: {name} goes before the command: surfaudit {name} {placeholder} COMMAND ...\n"


def test_config_error_names_key_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[schedule]\nbreaks = ["12:00-1300"]\n')
    run = run_cli("--config", str(bad), "report", "social")
    assert run.code == 2 and "[schedule].breaks[0]" in run.err and run.err.count("\n") == 1


def test_init_writes_commented_file_and_refuses_to_overwrite(tmp_path):
    run = run_cli("init", cwd=tmp_path)
    assert run.code == 0
    text = (tmp_path / "surfaudit.toml").read_text()
    assert "idle_gap_seconds = 300" in text and text.count("#") > 10
    again = run_cli("init", cwd=tmp_path)
    assert again.code == 2 and "exists" in again.err


def test_pseudonymised_report_names_nobody(sample_store):
    plain = cli(sample_store, "report", "social", *RANGE, "--format", "csv").out
    pseudo = cli(sample_store, "report", "social", *RANGE, "--format", "csv", "--pseudonymise")
    assert pseudo.code == 0
    for name in ("amorgan", "c.nguyen", "bokafor"):
        assert name in plain and name not in pseudo.out
    again = cli(sample_store, "report", "social", *RANGE, "--format", "csv", "--pseudonymise").out
    assert again == pseudo.out  # stable


@pytest.mark.parametrize("kind", ["social", "blocked"])
def test_pseudonymised_rows_are_in_pseudonym_order_not_real_name_order(sample_store, kind):
    """Rows left in real-name order would let anyone with the staff list match each
    pseudonym to a person by its rank within a day."""
    rows = list(csv.DictReader(io.StringIO(cli(sample_store, "report", kind, *RANGE, "--format", "csv",
                                               "--pseudonymise").out)))
    assert len({r["user"] for r in rows}) >= 2
    keys = [(r["date"], r["user"]) for r in rows]
    assert keys == sorted(keys)


# -- the README quickstart, whatever today's date is ------------------------------

def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", text, re.S)
    return blocks[:2]


def test_readme_first_section_has_the_two_commands():
    quick, tests = readme_commands()
    assert "ingest sample_logs/" in quick and "report social" in quick
    assert "pytest" in tests
    assert "pytest" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("today", ["2026-11-24T08:00:00Z", "2028-02-29T08:00:00Z", "2036-07-01T08:00:00Z"])
def test_quickstart_shows_flagged_rows_whatever_the_date(tmp_path, today):
    quick, _ = readme_commands()
    steps = [s.strip() for s in re.split(r"&&|;", quick) if "surfaudit " in s]
    assert len(steps) == 2
    env = {"SURFAUDIT_NOW": today}
    run = run_cli_subprocess if today.startswith("2026") else run_cli  # one date as a real subprocess
    results = []
    for step in steps:
        args = step.split("surfaudit", 1)[1].split()
        args = ["--store", str(tmp_path / "store"), *args]
        results.append(run(*args, cwd=ROOT, env=env))
    assert results[0].code in (0, 1) and "surfaudit: error" not in results[0].err
    assert results[1].code == 0
    assert "FLAGGED" in results[1].out and "c.nguyen" in results[1].out


def test_progress_bar_only_when_stderr_is_a_terminal(tmp_path):
    """With a terminal on stderr a bar is drawn there; stdout (a pipe) gets only the table."""
    import pty
    import subprocess
    import sys

    log = tmp_path / "access.log"
    log.write_text((SAMPLES / "access.log").read_text() * 20)
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURFAUDIT_")}
    proc = subprocess.run([sys.executable, "-m", "surfaudit", "--store", str(tmp_path / "s"), "ingest", str(log)],
                          stdout=subprocess.PIPE, stderr=slave, env={**env, "TERM": "xterm"}, timeout=120)
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    assert proc.returncode == 1  # the sample's malformed lines, repeated
    assert b"Ingest summary" in proc.stdout and b"\x1b[" not in proc.stdout
    assert "access.log".encode() in drawn  # the bar names the file on the terminal
    quiet = run_cli_subprocess("--store", str(tmp_path / "s2"), "ingest", str(log))
    assert quiet.err == ""  # not a terminal: no progress output at all


def test_output_format_follows_the_extension(sample_store, tmp_path):
    """`--output r.csv` without --format writes the CSV (it used to write JSON)."""
    run = cli(sample_store, "report", "social", *RANGE, "--output", str(tmp_path / "r.csv"))
    assert run.code == 0 and run.out == "" and run.err.startswith("wrote ")
    assert (tmp_path / "r.csv").read_text() == (GOLDEN / "report_social.csv").read_text()
    run = cli(sample_store, "report", "social", *RANGE, "--output", str(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text())["report"] == "social"
    run = cli(sample_store, "report", "social", *RANGE, "--output", "-", "--format", "csv")
    assert run.code == 0 and run.out == (GOLDEN / "report_social.csv").read_text() and run.err == ""


def test_output_to_a_missing_directory_is_one_line_exit_2(sample_store, tmp_path):
    target = tmp_path / "nope" / "r.csv"
    run = cli(sample_store, "report", "social", *RANGE, "--output", str(target))
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and str(target.parent) in run.err and "internal error" not in run.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [("report", "social", "--from", "2026-10-26", "--to", "2026-11-06"),
                                  ("report", "summary"), ("users",),
                                  ("report", "social", "--from", "2026-10-26", "--to", "2026-11-06", "--format", "csv"),
                                  ("report", "blocked", "--from", "2026-10-26", "--to", "2026-11-06", "--format", "json"),
                                  ("audit", "--format", "csv")])
def test_a_reader_that_goes_away_is_exit_141_and_nothing_on_stderr(sample_store, args):
    """`surfaudit report ... | head`: the pipe's reader is gone before the output is
    written (here it never reads), as the shell sees `cat` end: 141 (128 + SIGPIPE),
    not 1 (rejected input) and no traceback."""
    import subprocess
    import sys

    from tests.conftest import CLI_ENV

    env = {k: v for k, v in os.environ.items() if not k.startswith("SURFAUDIT_")} | CLI_ENV
    read, write = os.pipe()
    os.close(read)  # no reader at all
    try:
        proc = subprocess.run([sys.executable, "-m", "surfaudit", "--config", str(SAMPLE_CONFIG), "--store",
                               str(sample_store), *args], stdout=write, stderr=subprocess.PIPE, env=env, timeout=120)
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (141, b"")
