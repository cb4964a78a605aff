"""Every investigation export is audited, or there is no export.

* A store whose audit log cannot be written — read-only (run as the store's owner with
  the store's files made read-only) or on a full filesystem (a 1 MB tmpfs) — gives no
  export file, a non-zero exit and one line on stderr.
* SIGKILL trials: an `export` killed the instant its file appears, or at a random moment
  around when it would appear; whenever the file exists, its audit entry exists (the
  entry is appended, fsync'ed, before the file is renamed into place).
* Purge's rewrite of the audit log (retention) races with appends from other processes:
  no appended entry is ever lost (appends and the rewrite take the store lock and the audit log's lock).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import stat
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from surfaudit.store import Store

from .helpers import LONG, SP_HEADER, cli_argv, cli_env, failed, run_cli, surfprotect, tried, write_lines

UTC = timezone.utc
NOW = "2026-11-20T12:00:00+00:00"
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RANGE = ("--from", "2026-11-01", "--to", "2026-11-30")


def _source(path: Path, rows: int = 400) -> Path:
    return write_lines(path, [SP_HEADER] + [surfprotect(i, T0 + timedelta(seconds=30 * i)) for i in range(rows)])


def _ingest(store: Path, src: Path, **kw) -> None:
    run = run_cli("--store", str(store), "ingest", str(src), now=NOW, **kw)
    assert run.code == 0, run.err


def _export_args(store: Path, out: Path) -> list[str]:
    return ["--store", str(store), "export", "--user", "jsmith", "--reason", "complaint ref 7", *RANGE,
            "--output", str(out)]


def _export_entries(store: Path) -> list[dict]:
    return [e for e in Store(store).audit_entries() if e.get("command") == "export"]


@pytest.fixture
def read_only(tmp_path):
    """Make a directory read-only: a read-only bind mount as root (root ignores
    permissions), else chmod a-w."""
    made = []

    def freeze(path: Path) -> None:
        if os.geteuid() == 0:
            ok = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True).returncode == 0
            ok = ok and subprocess.run(["mount", "-o", "remount,ro,bind", str(path)],
                                       capture_output=True).returncode == 0
            if not ok:
                subprocess.run(["umount", "-l", str(path)], capture_output=True)
                pytest.skip("cannot make a read-only bind mount here")
            made.append(("mount", path))
        else:
            for p in [path, *path.rglob("*")]:
                os.chmod(p, 0o500 if p.is_dir() else 0o400)
            made.append(("chmod", path))

    yield freeze
    for how, path in made:
        if how == "mount":
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
        else:
            for p in [path, *path.rglob("*")]:
                os.chmod(p, 0o700 if p.is_dir() else 0o600)


@pytest.mark.parametrize("suffix", ["csv", "html", "xlsx"])
def test_read_only_store_no_file_one_line(tmp_path, read_only, suffix):
    store, out_dir = tmp_path / "store", tmp_path / "out"
    _ingest(store, _source(tmp_path / "sp.csv"))
    out_dir.mkdir()
    read_only(store)
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    out = out_dir / f"inv.{suffix}"
    run = run_cli(*_export_args(store, out), now=NOW)
    assert run.code != 0, run.out
    assert run.err.count("\n") == 1 and run.err.startswith("surfaudit: error:"), run.err
    assert "audit log" in run.err and "internal error" not in run.err, run.err
    assert list(out_dir.iterdir()) == [], "an export file exists without its audit entry"
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()} == before
    tried("export-audit", "read-only store exports refused")


@pytest.fixture
def tiny_fs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (the in-process case is tests/test_export_csv.py)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(fs: Path) -> None:
    with open(fs / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
        try:
            os.fsync(fh.fileno())
        except OSError:
            pass


def test_full_disk_no_file_one_line(tmp_path, tiny_fs):
    store = tiny_fs / "store"
    _ingest(store, _source(tmp_path / "sp.csv", rows=50))
    audit = Store(store).audit_path  # end it on a page boundary: an append then needs a new page
    with open(audit, "ab") as fh:
        fh.write(b"#" * (4095 - audit.stat().st_size % 4096) + b"\n")
    _fill(tiny_fs)
    out = tmp_path / "inv.csv"
    run = run_cli(*_export_args(store, out), now=NOW)
    assert run.code == 1, (run.code, run.err)
    assert run.err.count("\n") == 1 and "audit log" in run.err and "No space left" in run.err, run.err
    assert not out.exists() and list(tmp_path.glob(".inv*")) == []
    assert _export_entries(store) == []
    # and the export file on the full filesystem: no file, no entry
    (tiny_fs / "filler").unlink()
    _fill(tiny_fs)
    run = run_cli(*_export_args(store, tiny_fs / "inv.csv"), now=NOW)
    assert run.code in (1, 2) and run.err.count("\n") == 1 and "internal error" not in run.err, run.err
    assert not (tiny_fs / "inv.csv").exists()
    tried("export-audit", "full-disk exports refused", 2)


def _kill_when_file_appears(argv, out: Path, extra_delay: float, timeout: float = 60) -> str:
    proc = subprocess.Popen(argv, env=cli_env(NOW), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists():
                if extra_delay:
                    time.sleep(extra_delay)
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.0005)
        code = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return "killed" if code == -signal.SIGKILL else f"finished (exit {code})"


def _kill_after(argv, delay: float) -> str:
    proc = subprocess.Popen(argv, env=cli_env(NOW), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        code = proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        code = proc.wait()
    return "killed" if code == -signal.SIGKILL else f"finished (exit {code})"


def test_sigkill_an_export_never_leaves_an_unaudited_file(tmp_path):
    store = tmp_path / "store"
    _ingest(store, _source(tmp_path / "sp.csv", rows=3000))
    # calibrate: when does the file appear in an undisturbed run?
    out = tmp_path / "calibrate.csv"
    start = time.monotonic()
    proc = subprocess.Popen(cli_argv(*_export_args(store, out)), env=cli_env(NOW), stdout=subprocess.DEVNULL)
    while proc.poll() is None and not out.exists():
        time.sleep(0.001)
    appear = time.monotonic() - start
    assert proc.wait(timeout=120) == 0 and out.exists()
    trials = 60 if LONG else 12
    rng = random.Random(12)
    outcomes: dict[str, int] = {}
    problems = []
    for i in range(trials):
        target = tmp_path / f"inv{i}.csv"
        argv = cli_argv(*_export_args(store, target))
        if i % 2 == 0:  # the instant the file appears (or a few ms later)
            outcome = _kill_when_file_appears(argv, target, rng.choice([0, 0, 0.001, 0.005]))
        else:  # a random moment around it
            outcome = _kill_after(argv, max(0.05, appear * rng.uniform(0.85, 1.5)))
        exists = target.exists()
        entries = [e for e in _export_entries(store) if e.get("detail") == target.name]
        key = f"{outcome}, file {'present' if exists else 'absent'}"
        outcomes[key] = outcomes.get(key, 0) + 1
        if exists and not entries:
            problems.append(f"trial {i}: {target.name} exists without its audit entry ({outcome})")
        if exists and entries and entries[0]["target"] != "jsmith":
            problems.append(f"trial {i}: wrong entry {entries[0]}")
        left = [p.name for p in tmp_path.glob(f".inv{i}.csv.*")]
        if left and not entries:
            problems.append(f"trial {i}: temporary {left} left without an audit entry")
        tried("export-audit", "exports killed by SIGKILL")
    print(f"\nexport SIGKILL trials ({trials}, file appears after {appear:.2f}s): {outcomes}")
    for p in problems:
        failed("export-audit", p)
    assert not problems, problems
    assert sum(n for k, n in outcomes.items() if "file present" in k) >= 1, outcomes


# -- purge's rewrite against concurrent appends --------------------------------------------------

def _appender(root: str, n: int, tag: str) -> None:
    from surfaudit import audit

    store = Store(root)
    for i in range(n):
        audit.record(store, "export", target=f"{tag}-{i}", reason="race", detail=f"{tag}-{i}.csv")


def _purger(root: str, n: int) -> None:
    from surfaudit import audit

    store = Store(root)
    cutoff = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        store.append_audit({"time": "2025-01-01T00:00:00+00:00", "command": "purge", "rows": 0})
        audit.forget_before(store, cutoff)


def test_purge_rewrite_never_loses_a_concurrent_append(tmp_path):
    store = Store(tmp_path / "store").ensure()
    for i in range(3000):  # a long log: each rewrite takes a while
        store._append_jsonl(store.audit_path, {"time": "2026-06-01T00:00:00+00:00", "command": "ingest",
                                               "rows": i, "detail": "x" * 100})
    n = 40 if LONG else 25
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_purger, args=(str(store.root), n))]
    procs += [ctx.Process(target=_appender, args=(str(store.root), n, tag)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    targets = {e.get("target") for e in Store(store.root).audit_entries() if e.get("command") == "export"}
    lost = sorted({f"{t}-{i}" for t in ("a", "b") for i in range(n)} - targets)
    tried("export-audit", "appends racing purge rewrites", 2 * n)
    for t in lost:
        failed("export-audit", f"audit entry {t} lost by a concurrent purge rewrite")
    assert not lost, f"{len(lost)} entries lost: {lost[:10]}"
    assert stat.S_IMODE(store.audit_path.stat().st_mode) == 0o600
    assert json.loads(store.audit_path.read_text().splitlines()[-1])
