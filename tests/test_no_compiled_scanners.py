"""Ingest without the compiled scanners, and without a cache for them (the CLI, end to end).

numba is an accelerator: where it is not installed (or fails to import) every
format is read by its reference path, the same rows, with one warning per run;
SURFAUDIT_NO_JIT=1 asks for the reference paths without a warning; where no
cache directory is writable the scanners are compiled in memory, with one
warning per run that every run compiles. The row-for-row comparison of both
paths per format is tests/reliability/test_reference_paths.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.pipeline import REFERENCE, UNCACHED
from surfaudit.store import Store

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_logs"
SAMPLE_CONFIG = SAMPLES / "surfaudit.toml"


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(*args: str, env: dict | None = None) -> Run:
    """The real CLI of this checkout in a subprocess of its own: numba's import
    and cache directory are decided at start-up, so these runs cannot share this
    process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SURFAUDIT_", "NUMBA_"))}
    full_env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb", "PYTHONPATH": str(ROOT)})
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "surfaudit", *args], env=full_env, capture_output=True, text=True,
                          timeout=600)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def stored(store_dir) -> list[tuple]:
    con = duckdb.connect()
    Store(store_dir).events_view(con)
    return con.execute("select * from events order by all").fetchall()


def ingest(store_dir, env: dict | None = None, *paths):
    return run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store_dir), "ingest", *(paths or [str(SAMPLES)]),
                   env=env)


def without_numba(tmp_path) -> dict:
    """An environment where `import numba` fails, as on a Python release numba does not support yet."""
    fake = tmp_path / "site" / "numba"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("No module named numba (simulated)")\n')
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}


def test_without_numba_every_sample_is_read_with_one_warning(tmp_path):
    fast_run = ingest(tmp_path / "fast")
    assert fast_run.code == 1, fast_run.err  # (the samples hold four bad lines)
    assert "warning" not in fast_run.err
    run = ingest(tmp_path / "reference", without_numba(tmp_path))
    assert run.code == 1, run.err
    assert run.err.count(f"surfaudit: warning: {REFERENCE}") == 1  # three files, one warning
    assert run.out == fast_run.out  # the same summary: files, lines, rows, rejected
    rows = stored(tmp_path / "reference")
    assert len(rows) > 100
    assert rows == stored(tmp_path / "fast")


def test_no_jit_asks_for_the_reference_paths_silently(tmp_path):
    run = ingest(tmp_path / "store", {"SURFAUDIT_NO_JIT": "1"})
    assert run.code == 1, run.err
    assert "warning" not in run.err
    assert ingest(tmp_path / "fast").code == 1
    assert stored(tmp_path / "store") == stored(tmp_path / "fast")


def test_an_unwritable_cache_dir_is_warned_of_once_and_ingest_still_works(tmp_path):
    """NUMBA_CACHE_DIR names a place that cannot be a directory (below a file, so
    not even root can create it): the scanners compile in memory, every run."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    log = tmp_path / "access.log"
    log.write_bytes((SAMPLES / "access.log").read_bytes())
    second = tmp_path / "access-2.log"
    second.write_bytes((SAMPLES / "access.log").read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n")
    run = ingest(tmp_path / "store", {"NUMBA_CACHE_DIR": str(blocker / "numba")}, str(log), str(second))
    assert run.code == 1, run.err
    where = UNCACHED.format(where=str(blocker / "numba"))
    assert run.err.count(f"surfaudit: warning: {where}") == 1
    assert len(stored(tmp_path / "store")) > 100
    assert not (blocker.parent / "numba").exists()
