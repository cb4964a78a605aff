"""A killed run's scratch directories (DuckDB's spill, the s3 ingest's spool, Spark's
warehouse: personal data) are removed by a later run, and nothing else is."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

from tests.conftest import SAMPLE_CONFIG, SAMPLES, run_cli_subprocess
from surfaudit import scratch


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant(root, name: str, age: float = 3600, content: bool = True) -> str:
    path = root / name
    path.mkdir()
    if content:
        (path / "2026-11-0.parquet").write_bytes(b"PAR1 rows of someone's browsing")
    old = time.time() - age
    os.utime(path, (old, old))
    return path.name


def test_the_sweep_removes_only_old_dirs_of_dead_runs_of_this_host_and_user(tmp_path):
    tag, dead = scratch._host_tag(), _dead_pid()
    gone = [_plant(tmp_path, f"surfaudit-{kind}-{dead}-{tag}-ab_12cd3") for kind in scratch.KINDS]
    kept = [
        _plant(tmp_path, f"surfaudit-spool-{os.getpid()}-{tag}-a1b2c3d4"),  # this very process
        _plant(tmp_path, f"surfaudit-spool-{os.getppid()}-{tag}-a1b2c3d4"),  # a live one
        _plant(tmp_path, f"surfaudit-spool-{dead}-{tag}-recent01", age=60),  # too recent to judge
        _plant(tmp_path, f"surfaudit-spool-{dead}-0123456789-a1b2c3d4"),  # another host's
        _plant(tmp_path, "surfaudit-spill-3lhw7i9t"),  # no process id in the name
        _plant(tmp_path, f"surfaudit-other-{dead}-{tag}-a1b2c3d4"),  # not a kind we make
        _plant(tmp_path, "keep-me"),
    ]
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "precious").write_text("not ours")
    (tmp_path / f"surfaudit-spill-{dead}-{tag}-link0001").symlink_to(target)  # planted: never followed
    (tmp_path / f"surfaudit-spill-{dead}-{tag}-file0001").write_text("a file, not a directory")
    old = time.time() - 3600
    os.utime(tmp_path / f"surfaudit-spill-{dead}-{tag}-file0001", (old, old))

    assert sorted(scratch.sweep(str(tmp_path))) == sorted(gone)
    left = {p.name for p in tmp_path.iterdir()}
    assert not left & set(gone)
    assert set(kept) <= left
    assert (target / "precious").read_text() == "not ours"
    assert (tmp_path / f"surfaudit-spill-{dead}-{tag}-link0001").is_symlink()
    assert (tmp_path / f"surfaudit-spill-{dead}-{tag}-file0001").is_file()
    assert scratch.sweep(str(tmp_path)) == []  # nothing more on a second pass


def test_the_age_limit_is_exactly_stale_seconds(tmp_path):
    tag, dead = scratch._host_tag(), _dead_pid()
    name = _plant(tmp_path, f"surfaudit-spool-{dead}-{tag}-edge0001", age=0)
    mtime = (tmp_path / name).stat().st_mtime
    assert scratch.sweep(str(tmp_path), now=mtime + scratch.STALE_SECONDS - 0.5) == []
    assert scratch.sweep(str(tmp_path), now=mtime + scratch.STALE_SECONDS) == [name]


def test_a_missing_temp_dir_is_no_error(tmp_path):
    assert scratch.sweep(str(tmp_path / "absent")) == []


def test_made_dirs_are_private_and_named_for_the_sweep(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    path = scratch.make("spool")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    name = os.path.basename(path)
    assert name.startswith(f"surfaudit-spool-{os.getpid()}-{scratch._host_tag()}-")
    assert scratch._NAME.fullmatch(name)


def test_a_later_command_removes_what_a_killed_run_left(tmp_path):
    """Through the CLI: a report (which opens DuckDB, so makes its spill place) sweeps
    the spool of an ingest killed an hour ago, and leaves its own place nowhere."""
    store = str(tmp_path / "store")
    assert run_cli_subprocess("--config", str(SAMPLE_CONFIG), "--store", store, "ingest", str(SAMPLES)).code == 1
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    tag, dead = scratch._host_tag(), _dead_pid()
    spool = _plant(tmp, f"surfaudit-spool-{dead}-{tag}-k1lled00")
    fresh = _plant(tmp, f"surfaudit-spool-{dead}-{tag}-fresh000", age=5)
    run = run_cli_subprocess("--config", str(SAMPLE_CONFIG), "--store", store, "report", "blocked", "--from", "2026-11-02", "--to", "2026-11-02",
                             env={"TMPDIR": str(tmp)})
    assert run.code == 0, run.err
    assert run.err == ""
    assert sorted(p.name for p in tmp.iterdir()) == [fresh]  # and the report's own spill place is gone
    assert spool not in run.out and spool not in run.err
