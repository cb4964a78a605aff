"""Help and messages: what `--help` shows, the ingest summary formats, the bench
generator's help, and the READMEs telling the user only what they can check.

Help texts are read through the real CLI at 80 columns (a terminal's default).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE_CONFIG, SAMPLES, run_cli


def help_of(*command: str) -> str:
    run = run_cli(*command, "--help", env={"COLUMNS": "80"})
    assert run.code == 0 and run.err == "", (command, run.err)
    return run.out


def commands() -> list[str]:
    text = help_of()
    block = text.split("Commands:", 1)[1]
    return [line.split()[0] for line in block.splitlines() if line.startswith("  ") and line.split()]


def test_config_names_in_brackets_are_shown_as_written():
    assert "Store directory (overrides [store].path)." in help_of()
    assert "[retention].months" in help_of()  # purge's summary in the command list
    assert "[retention].months" in help_of("purge")
    ingest = " ".join(help_of("ingest").split())
    assert "a vendor CSV export declared as [formats.NAME] in the config" in ingest and "\\[" not in ingest
    report = " ".join(help_of("report").split())
    assert "[sites.NAME]" in report and "[privacy] reports_name_people = false" in report


def test_flags_show_as_flags():
    purge = help_of("purge")
    assert re.search(r"^  --dry-run\s+Show what would be removed", purge, re.M)
    assert re.search(r"^  --exact\s+Also trim", purge, re.M)
    assert re.search(r"^  --help\s+Show this message and exit\.", purge, re.M)
    assert re.search(r"^  --wait SECONDS\s+Seconds", purge, re.M)  # an option with a value names it
    for command in ["", *commands()]:
        text = help_of(*([command] if command else []))
        assert "<bool>" not in text and "BOOLEAN" not in text, command


def test_every_command_is_summarised_in_full_at_80_columns():
    text = help_of()
    listed = text.split("Commands:", 1)[1]
    assert "..." not in listed, listed
    assert max(len(line) for line in text.splitlines()) <= 80


def test_help_names_no_section_of_a_document_the_user_does_not_have():
    for command in ["", *commands()]:
        text = help_of(*([command] if command else []))
        assert "§" not in text and "DESIGN" not in text, command


def test_report_help_lists_every_sort_key():
    from surfaudit.reports.specs import SPECS

    text = " ".join(help_of("report").split())
    for spec in SPECS.values():
        for key in spec.sorts:
            assert re.search(rf"\b{key}\b", text.split("--sort KEY", 1)[1]), key


def test_ingest_summary_csv_works(tmp_path):
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(tmp_path / "s"), "ingest", str(SAMPLES),
                  "--summary", "csv")
    assert run.code == 1 and run.err == ""  # the samples' malformed lines: exit 1, nothing on stderr
    lines = run.out.splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["file", "format"] and {"lines", "rows", "rejected", "status"} <= set(header)
    by_name = {line.split(",")[0].rsplit("/", 1)[-1]: dict(zip(header, line.split(","))) for line in lines[1:]}
    assert by_name["access.log"]["rows"] == "2012" and by_name["access.log"]["rejected"] == "2"
    assert by_name["README.md"]["status"] == "skipped"


def test_bench_generator_helps_and_writes(tmp_path):
    gen = ROOT / "bench" / "gen.py"
    shown = subprocess.run([sys.executable, str(gen), "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and shown.stderr == ""
    assert shown.stdout.startswith("usage: python bench/gen.py") and "{squid,surfprotect}" in shown.stdout
    assert "--lines N" in shown.stdout
    made = subprocess.run([sys.executable, str(gen), "squid", str(tmp_path / "a.log"), "--lines", "7"],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0 and made.stdout == f"wrote 7 squid requests to {tmp_path / 'a.log'}\n"
    assert len((tmp_path / "a.log").read_text().splitlines()) == 7
    wrong = subprocess.run([sys.executable, str(gen), "apache", "x"], capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and wrong.stdout == "" and "invalid choice: 'apache'" in wrong.stderr


def test_readme_names_no_section_of_the_design():
    text = (ROOT / "README.md").read_text()
    assert "§" not in text


def test_samples_readme_matches_the_samples(tmp_path):
    readme = (SAMPLES / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `")]
    named = {name for line in table for name in re.findall(r"`([\w./-]+\.\w+)`", line.split("|")[1])}
    shipped = {str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*") if p.is_file() and p.name != "README.md"}
    assert named == shipped
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(tmp_path / "s"), "ingest", str(SAMPLES),
                  "--summary", "json")
    files = {r["file"].rsplit("/", 1)[-1]: r for r in json.loads(run.out)}
    assert "two malformed lines (quarantined, the rest kept) and a blank line (ignored)" in readme
    assert files["access.log"]["rejected"] == 2 and files["access.log"]["ignored"] == 1
    assert "one unknown decision (`Quarantined`) and one unreadable time (both rejected)" in readme
    assert files["surfprotect-export.csv"]["rejected"] == 2
    first = min(r["first_ts"] for r in json.loads(run_cli(
        "--config", str(SAMPLE_CONFIG), "--store", str(tmp_path / "s"), "report", "summary", "--format", "json").out)
        ["rows"])
    assert "Dates run from Monday 26 October to Friday 6 November 2026" in readme and first.startswith("2026-10-26")
    social = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(tmp_path / "s"), "report", "social",
                     "--from", "2026-10-26", "--to", "2026-11-06", "--by", "user", "--format", "json")
    people = {r["user"]: r for r in json.loads(social.out)["rows"]}
    for lunch_only in ("f.rossi", "10.20.1.57", "10.30.0.40"):  # "use social media only in the lunch break"
        assert people[lunch_only]["outside_break_minutes"] == 0 and people[lunch_only]["outside_hours_minutes"] == 0
    assert "`10.20.1.57`" in readme and "`10.30.0.40`" in readme


@pytest.mark.parametrize("command", [("report", "social"), ("export",), ("audit",)])
def test_date_options_are_named_dates_in_help(command):
    text = help_of(*command)
    assert re.search(r"^  --from DATE\s", text, re.M) and re.search(r"^  --to DATE\s", text, re.M)
