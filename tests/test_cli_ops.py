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


def test_export_unknown_identity_exit_2_no_file(store, tmp_path):
    out = tmp_path / "inv.csv"
    run = cli(store, "export", "--user", "nobody", "--reason", "test", "--from", "2026-10-26", "--to", "2026-11-06",
              "--output", str(out))
    # no such identity: a usage error, one line, no file
    assert run.code == 2 and not out.exists() and run.err.count("\n") == 1 and "no such identity" in run.err


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


# -- small but real -----------------------------------------------------------------------

def test_nightly_prints_the_error_type_only(tmp_path, monkeypatch):
    """An unexpected error's text can hold URLs or names: nightly logs its type only."""
    from surfaudit import nightly
    from surfaudit.config import Config
    from surfaudit.store import Store

    def boom(*args, **kw):
        raise RuntimeError("GET https://www.facebook.com/secret-profile by jsmith")

    monkeypatch.setattr(nightly, "_ingest_paths", boom)
    lines: list[str] = []
    result = nightly.run_nightly(Store(tmp_path / "store"), Config(), ["x.log"], log=lines.append)
    assert not result.ok
    assert lines[0].startswith("ingest: FAILED: internal error (RuntimeError)")
    assert not any("facebook" in ln or "jsmith" in ln for ln in lines), lines
    assert "facebook" not in (result.step("ingest").error or "")


def _first_key(root: str, barrier, keys) -> None:
    from surfaudit.store import Store

    barrier.wait()
    keys.put(Store(root).pseudonym_key().hex())


def test_two_first_runs_make_one_pseudonym_key(tmp_path):
    """Separate interpreters once (the key file's mode), then the race itself many times
    with forked processes released together by a barrier: an interpreter's start-up
    (most of this test's time when every trial used them) spreads the runs out, so it
    raced less tightly than the forks do."""
    import multiprocessing
    import subprocess
    import sys

    from surfaudit.store import Store

    root = tmp_path / "s"
    Store(root).ensure()
    code = "import sys; from surfaudit.store import Store; print(Store(sys.argv[1]).pseudonym_key().hex())"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(keys) == 1, f"{len(keys)} different keys handed out"
    assert (root / "pseudonym.key").read_bytes().hex() == keys.pop()
    assert (root / "pseudonym.key").stat().st_mode & 0o777 == 0o600
    ctx = multiprocessing.get_context("fork")
    for trial in range(20):
        root = tmp_path / f"forked{trial}"
        Store(root).ensure()
        barrier, keys = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_first_key, args=(str(root), barrier, keys)) for _ in range(8)]
        for p in procs:
            p.start()
        got = {keys.get(timeout=60) for _ in procs}
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        assert got == {(root / "pseudonym.key").read_bytes().hex()}, f"trial {trial}: {len(got)} keys"


def test_huge_byte_counts_do_not_overflow(tmp_path):
    import polars as pl

    from surfaudit.schema import conform
    from surfaudit.store import Store
    from tests.conftest_reports import ev

    big = 2**62
    rows = [ev("2026-11-02T10:00:00.000Z", "u1", "www.youtube.com", nbytes=big) for _ in range(4)]
    store = Store(tmp_path / "store").ensure()
    tx = store.begin("ingest")
    tx.write(conform(pl.DataFrame(rows, schema_overrides={"ts": pl.Datetime("us", "UTC")})))
    tx.commit({"rows": 4})
    for by in ("host", "user", "domain"):
        run = cli(store.root, "report", "top", "--by", by, "--from", "2026-11-01", "--to", "2026-11-30",
                  "--format", "csv")
        assert run.code == 0 and run.err == "", run.err
        assert run.out.splitlines()[1].endswith(f",4,{4 * big}"), run.out
    run = cli(store.root, "report", "top", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json")
    assert run.code == 0 and json.loads(run.out)["rows"][0]["bytes"] == 4 * big
    assert cli(store.root, "report", "top", "--from", "2026-11-01", "--to", "2026-11-30").code == 0


@pytest.mark.parametrize("command", [("report", "social"), ("report", "summary"), ("audit",),
                                     ("ingest", str(SAMPLES / "access.log")), ("purge",)])
def test_a_store_of_another_user_is_named_and_refused(store, command):
    import os

    os.chown(store, 65534, 65534)
    try:
        run = cli(store, *command)
    finally:
        os.chown(store, os.geteuid(), os.getegid())
    assert run.code == 2 and run.out == "", (run.code, run.out)
    assert run.err.count("\n") == 1 and "belongs to" in run.err and "uid 65534" in run.err, run.err
    assert "access.log" not in run.err and "internal error" not in run.err


@pytest.mark.parametrize("command", [("report", "social"), ("report", "summary"), ("audit",),
                                     ("export", "--user", "amorgan", "--reason", "r", "--output", "x.csv"),
                                     ("purge", "--dry-run"), ("purge",), ("purge", "--exact")])
def test_a_store_that_does_not_exist_is_exit_2(tmp_path, command):
    missing = tmp_path / "no-such-store"
    run = cli(missing, *command)
    assert run.code == 2 and run.out == "", (run.code, run.out)
    assert run.err.count("\n") == 1 and "no store here" in run.err and str(missing) in run.err, run.err
    assert not missing.exists()


def test_writers_still_create_the_store(tmp_path):
    missing = tmp_path / "new-store"
    assert cli(missing, "ingest", str(SAMPLES / "access.log"), now="2026-11-24T08:00:00Z").code in (0, 1)
    assert (missing / "events").is_dir()
    assert cli(missing, "report", "summary").code == 0


@pytest.mark.parametrize("damage", ["garbled", "truncated"])
def test_a_corrupt_part_is_named_in_one_line(store, damage):
    from surfaudit.store import Store

    part = Store(store).parts()[0]
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\0garbage" * (len(data) // 8))
    rel = str(part.relative_to(store))
    for args in (("report", "social", "--from", "2026-10-26", "--to", "2026-11-06"), ("report", "summary"),
                 ("export", "--user", "amorgan", "--reason", "r", "--from", "2026-10-26", "--to", "2026-11-06",
                  "--output", str(store.parent / "x.csv"))):
        run = cli(store, *args)
        assert run.code != 0 and run.out == "", (args, run.code)
        assert run.err.count("\n") == 1 and "internal error" not in run.err, (args, run.err)
        assert rel in run.err or part.name in run.err, (args, run.err)
    assert not (store.parent / "x.csv").exists()


def test_full_disk_during_purge_exact_is_one_line(tmp_path, one_year):
    import subprocess

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        store = mnt / "store"
        assert cli(store, "ingest", str(SAMPLES), now="2026-11-24T08:00:00Z").code == 1
        before = json.loads(cli(store, "report", "summary", "--format", "json").out)["rows"]
        with open(mnt / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        run = cli(store, "purge", "--exact", now="2027-11-04T00:00:00Z", config=one_year)
        assert run.code == 1 and run.out == "", (run.code, run.out, run.err)
        assert run.err.count("\n") == 1 and "No space left on device" in run.err, run.err
        assert "internal error" not in run.err
        (mnt / "filler").unlink()
        assert json.loads(cli(store, "report", "summary", "--format", "json").out)["rows"] == before
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
