"""purge, audit and export through the real CLI, with the clock fixed by $SURFAUDIT_NOW."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_CONFIG, SAMPLES, run_cli


def cli(store: Path, *args: str, now: str | None = None, config: Path = SAMPLE_CONFIG):
    env = {"SURFAUDIT_NOW": now} if now else {}
    return run_cli("--config", str(config), "--store", str(store), *args, env=env)


@pytest.fixture
def store(tmp_path) -> Path:
    store = tmp_path / "store"
    assert cli(store, "ingest", str(SAMPLES), now="2026-11-24T08:00:00Z").code == 1
    return store


@pytest.fixture
def one_year(tmp_path) -> Path:
    """The default retention (12 months) with the sample schedule."""
    cfg = tmp_path / "one-year.toml"
    cfg.write_text(SAMPLE_CONFIG.read_text().replace("months = 1200", "months = 12"))
    return cfg


def test_purge_dry_run_then_real(store, one_year):
    # On 15 Nov 2027 the cutoff is 15 Nov 2026: October 2026 has wholly expired, November straddles.
    dry = cli(store, "purge", "--dry-run", now="2027-11-15T00:00:00Z", config=one_year)
    assert dry.code == 0, dry.err
    assert "2026-10" in dry.out and "would remove" in dry.out
    assert json.loads(cli(store, "report", "summary", "--format", "json").out)["rows"][0]["month"] == "2026-10"
    real = cli(store, "purge", now="2027-11-15T00:00:00Z", config=one_year)
    assert real.code == 0 and "removed 2026-10" in real.out
    months = [r["month"] for r in json.loads(cli(store, "report", "summary", "--format", "json").out)["rows"]]
    assert months == ["2026-11"]  # the straddling month is kept without --exact
    exact = cli(store, "purge", "--exact", now="2027-11-04T00:00:00Z", config=one_year)
    assert exact.code == 0 and "trimmed 2026-11" in exact.out
    rows = json.loads(cli(store, "report", "summary", "--format", "json").out)["rows"]
    assert rows[0]["first_ts"] >= "2026-11-04"


def test_purge_refuses_stray_files(store, one_year):
    (store / "events" / "notes.txt").write_text("hello")
    run = cli(store, "purge", now="2027-11-15T00:00:00Z", config=one_year)
    assert run.code == 1 and "notes.txt" in run.err and run.err.count("\n") == 1
    assert (store / "events" / "notes.txt").exists()


def test_export_and_audit_log(store, tmp_path):
    out = tmp_path / "inv.csv"
    run = cli(store, "export", "--user", "amorgan", "--reason", "Complaint from line manager, ref 12",
              "--from", "2026-10-26", "--to", "2026-11-06", "--output", str(out))
    assert run.code == 0, run.err
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    entries = json.loads(cli(store, "audit", "--format", "json").out)
    commands = [e["command"] for e in entries]
    assert commands[0] == "ingest" and "export" in commands
    export = next(e for e in entries if e["command"] == "export")
    assert export["target"] == "amorgan" and export["reason"] == "Complaint from line manager, ref 12"
    assert (export["date_from"], export["date_to"]) == ("2026-10-26", "2026-11-06")
    table = cli(store, "audit")
    assert table.code == 0 and "amorgan" in table.out


@pytest.mark.parametrize("reason", ["", "   "])
def test_export_requires_a_reason(store, tmp_path, reason):
    out = tmp_path / "inv.html"
    run = cli(store, "export", "--user", "amorgan", "--reason", reason, "--output", str(out))
    assert run.code == 2 and "--reason" in run.err and not out.exists()


def test_export_without_reason_option_is_usage_error(store, tmp_path):
    run = cli(store, "export", "--user", "amorgan", "--output", str(tmp_path / "x.csv"))
    assert run.code == 2 and "--reason" in run.err


def test_export_unknown_identity_exit_1_no_file(store, tmp_path):
    out = tmp_path / "inv.csv"
    run = cli(store, "export", "--user", "nobody", "--reason", "test", "--from", "2026-10-26", "--to", "2026-11-06",
              "--output", str(out))
    assert run.code == 1 and not out.exists() and run.err.count("\n") == 1


def test_report_reads_only_the_months_it_needs(store):
    from surfaudit.config import load_config
    from surfaudit.reports.run import run_report
    from surfaudit.store import Store

    cfg = load_config(SAMPLE_CONFIG, store)
    early = run_report(Store(store), cfg, "social", date(2026, 10, 26),
                       date(2026, 10, 28))
    assert early.months_read == ["2026-10"]
    late = run_report(Store(store), cfg, "blocked", date(2026, 11, 3),
                      date(2026, 11, 6))
    assert late.months_read == ["2026-11"]
