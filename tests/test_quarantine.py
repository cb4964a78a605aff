"""`surfaudit quarantine`: rejected lines listed safely, filtered, and audited.

The lines are raw log lines, so they are hostile input: escape sequences, rich
markup and spreadsheet formulas must come out as text.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import polars as pl

from surfaudit.store import Store
from tests.conftest import run_cli, squid_line, utc

ESC = "\x1b]0;owned\x07\x1b[2J"  # an OSC title change and a screen clear
HOSTILE = [f"evil {ESC} line", "[red]markup[/red] not a squid line", "=HYPERLINK(\"http://x\")"]
NOW_ENV = {"SURFAUDIT_NOW": "2026-11-20T12:00:00+00:00"}


def make_logs(tmp_path: Path) -> tuple[Path, Path]:
    a = tmp_path / "logs" / "access.log"
    b = tmp_path / "logs" / "other.log"
    a.parent.mkdir()
    good = [squid_line(utc(2026, 11, 2, 9, m)) for m in range(3)]
    a.write_text("\n".join([good[0], HOSTILE[0], good[1], HOSTILE[1], good[2], HOSTILE[2]]) + "\n")
    b.write_text(squid_line(utc(2026, 11, 2, 10)) + "\nshort line\n")
    return a, b


def ingested(tmp_path: Path) -> tuple[Path, Path]:
    store = tmp_path / "store"
    a, b = make_logs(tmp_path)
    run = q(store, "ingest", "--format", "squid", str(a.parent))
    assert run.code == 1, run.err  # rejected lines: exit 1
    assert "see them with `surfaudit quarantine`" in run.out
    return store, a


def q(store: Path, *args: str):
    return run_cli("--store", str(store), *args, env=NOW_ENV)


def audit_entries(store: Path) -> list[dict]:
    return [e for e in Store(store).audit_entries() if e["command"] == "quarantine"]


def test_table_shows_reason_file_line_no_and_line_as_plain_text(tmp_path):
    store, _ = ingested(tmp_path)
    run = q(store, "quarantine")
    assert run.code == 0 and run.err == ""
    assert "\x1b" not in run.out and "\x07" not in run.out  # no escape sequence reaches the terminal
    assert "\\x1b]0;owned\\x07\\x1b[2J" in run.out  # shown escaped instead
    assert "[red]markup[/red]" in run.out  # markup printed literally
    assert "access.log" in run.out and "other.log" in run.out
    assert "4 rejected lines; this listing is recorded in the audit log." in run.out
    entry, = audit_entries(store)
    assert entry["rows"] == 4 and entry["detail"] == "showed 4 raw log lines from 2 files"


def test_filters_by_file_name_or_path_and_by_reason(tmp_path):
    store, a = ingested(tmp_path)
    run = q(store, "quarantine", "--file", str(a), "--format", "json")
    assert run.code == 0 and run.err == ""
    rows = json.loads(run.out)
    assert [(r["file"], r["line_no"]) for r in rows] == [("access.log", 2), ("access.log", 4), ("access.log", 6)]
    assert rows[0]["line"] == HOSTILE[0] and rows[0]["reason"]
    assert set(rows[0]) == {"reason", "file", "line_no", "line", "ingested"}
    assert "\x1b" not in run.out  # JSON escapes control characters
    reason = rows[0]["reason"]
    by_reason = json.loads(q(store, "quarantine", "--reason", reason.upper()[:8], "--format", "json").out)
    assert by_reason and all(reason.upper()[:8].lower() in r["reason"].lower() for r in by_reason)
    assert audit_entries(store)[0]["detail"] == "showed 3 raw log lines from 1 files; filters file=access.log"


def test_unknown_file_names_the_files_with_rejected_lines_and_audits_nothing(tmp_path):
    store, _ = ingested(tmp_path)
    run = q(store, "quarantine", "--file", "nope.log")
    assert run.code == 0 and run.err == ""
    assert run.out.strip() == ("No rejected lines from a file named nope.log; files with rejected lines: "
                               "access.log, other.log")
    assert audit_entries(store) == []
    none = q(store, "quarantine", "--reason", "no reason like this", "--format", "csv")
    assert none.code == 0 and none.out.splitlines() == ["reason,file,line_no,line,ingested"]


def test_csv_neutralises_formulas(tmp_path):
    store, _ = ingested(tmp_path)
    run = q(store, "quarantine", "--format", "csv")
    assert run.code == 0 and run.err == ""
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert list(rows[0]) == ["reason", "file", "line_no", "line", "ingested"]
    lines = [r["line"] for r in rows]
    assert "'" + HOSTILE[2] in lines and HOSTILE[2] not in lines
    assert rows[0]["ingested"].endswith("Z") and rows[0]["line_no"] == "2"


def test_empty_filters_are_usage_errors(tmp_path):
    store, _ = ingested(tmp_path)
    run = q(store, "quarantine", "--file", " ")
    assert run.code == 2 and run.out == ""
    assert run.err.strip() == "surfaudit: error: --file: expected a non-empty value"


def test_missing_store_is_exit_2(tmp_path):
    run = q(tmp_path / "none", "quarantine")
    assert run.code == 2 and run.out == "" and run.err.count("\n") == 1


def test_only_committed_quarantine_files_are_read(tmp_path):
    store_dir, _ = ingested(tmp_path)
    store = Store(store_dir)
    before = store.quarantined_lines()
    assert before.height == 4 and before.schema["ingested"] == pl.Datetime("us", "UTC")
    # a file a crash left between rename and commit is not listed
    files = store.quarantine_files()
    shutil.copy(files[0], store.quarantine_dir / "q-20261102T000000-uncommitted.parquet")
    assert store.quarantined_lines().height == 4
    # a file purge has forgotten is skipped, not an error
    files[0].unlink()
    after = store.quarantined_lines()
    assert 0 < after.height < 4


def test_with_reports_not_naming_people_lines_need_a_recorded_reason(tmp_path):
    """Raw lines name people: under [privacy] reports_name_people = false they are shown
    only with --reveal TEXT, and the audit entry says why."""
    store, _ = ingested(tmp_path)
    cfg = tmp_path / "surfaudit.toml"
    cfg.write_text("[privacy]\nreports_name_people = false\n")
    refused = run_cli("--config", str(cfg), "--store", str(store), "quarantine", env=NOW_ENV)
    assert refused.code == 2 and refused.out == ""
    assert refused.err.startswith("surfaudit: error: rejected lines are raw log lines that name people")
    assert "--reveal TEXT" in refused.err and audit_entries(store) == []
    shown = run_cli("--config", str(cfg), "--store", str(store), "quarantine", "--reveal", "proxy upgrade check",
                    env=NOW_ENV)
    assert shown.code == 0 and shown.err == "" and "access.log" in shown.out
    (entry,) = audit_entries(store)
    assert "revealed because: proxy upgrade check" in entry["detail"]


def test_a_fixed_clock_dates_the_commit_as_it_dates_the_audit_entry(tmp_path):
    """$SURFAUDIT_NOW (a re-run of a missed night) dated the audit entry but the commit
    record kept the real clock: the quarantine's `ingested` and the summary's files of
    that date disagreed with its ingest runs."""
    from tests.conftest import SAMPLE_CONFIG, SAMPLES

    env = {"SURFAUDIT_NOW": "2026-11-07T07:00:00Z"}
    store = tmp_path / "store"
    run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store), "ingest", str(SAMPLES), env=env)
    rows = list(csv.DictReader(io.StringIO(run_cli("--store", str(store), "quarantine", "--format", "csv",
                                                   env=env).out)))
    assert rows and {r["ingested"] for r in rows} == {"2026-11-07T07:00:00Z"}
    assert {r["at"] for r in Store(store).manifest() if r.get("kind") == "ingest"} == {"2026-11-07T07:00:00+00:00"}
    summary = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store), "report", "summary", "--from",
                      "2026-11-07", "--to", "2026-11-07", env=env).out
    assert "1 ingest run between 2026-11-07 and 2026-11-07: 3 source files ingested" in summary
