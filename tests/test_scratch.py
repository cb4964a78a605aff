"""A killed run's scratch directories (DuckDB's spill, the s3 ingest's spool, Spark's
warehouse and local files: personal data) are removed by a later run, and nothing else is."""

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


def _age(path, age: float = 3600) -> None:
    old = time.time() - age
    os.utime(path, (old, old), follow_symlinks=False)


def _plant(root, name: str, age: float = 3600, lock: bool = True) -> str:
    """A scratch directory as a run leaves it: a month file and (by default) its lock file."""
    path = root / name
    path.mkdir()
    (path / "2026-11-0.parquet").write_bytes(b"PAR1 rows of someone's browsing")
    if lock:
        (path / scratch.LOCK).write_bytes(b"")
    _age(path, age)
    return path.name


def _locked_by_a_live_process(path):
    """A child process that holds `path`'s lock (as a live run in another PID namespace
    would: its pid may look free here, its lock does not)."""
    code = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); "
            "print('locked', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path / scratch.LOCK)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "locked\n"
    return proc


def test_the_sweep_removes_only_unlocked_dirs_of_this_host_and_user(tmp_path):
    tag, dead = scratch._host_tag(), _dead_pid()
    gone = [_plant(tmp_path, f"surfaudit-{kind}-{dead}-{tag}-ab_12cd3") for kind in scratch.KINDS]
    gone.append(_plant(tmp_path, f"surfaudit-spool-{dead}-{tag}-recent01", age=5))  # unlocked: dead, however new
    gone.append(_plant(tmp_path, f"surfaudit-spool-{dead}-{tag}-nolock01", lock=False))  # an older release's
    busy = _plant(tmp_path, f"surfaudit-spool-{dead}-{tag}-busy0001")  # a pid that looks dead, but locked
    kept = [
        busy,
        _plant(tmp_path, f"surfaudit-spool-{os.getppid()}-{tag}-nolock02", lock=False),  # no lock, pid alive
        _plant(tmp_path, f"surfaudit-spool-{dead}-{tag}-nolock03", age=60, lock=False),  # no lock yet: being made
        _plant(tmp_path, f"surfaudit-spool-{dead}-0123456789-a1b2c3d4"),  # another host's
        _plant(tmp_path, "surfaudit-spill-3lhw7i9t"),  # no process id in the name
        _plant(tmp_path, f"surfaudit-other-{dead}-{tag}-a1b2c3d4"),  # not a kind we make
        _plant(tmp_path, "keep-me"),
    ]
    target = tmp_path / "elsewhere"  # planted: a symlink to it is never followed
    target.mkdir()
    (target / "precious").write_text("not ours")
    (target / scratch.LOCK).write_bytes(b"")
    _age(target)
    link = tmp_path / f"surfaudit-spill-{dead}-{tag}-link0001"
    link.symlink_to(target)
    _age(link)
    planted_file = tmp_path / f"surfaudit-spill-{dead}-{tag}-file0001"
    planted_file.write_text("a file, not a directory")
    _age(planted_file)
    lock_link = tmp_path / f"surfaudit-spill-{dead}-{tag}-lklk0001"  # its lock file a symlink to a file of ours
    lock_link.mkdir()
    (lock_link / scratch.LOCK).symlink_to(target / "precious")
    _age(lock_link)
    kept += [link.name, planted_file.name, lock_link.name]

    holder = _locked_by_a_live_process(tmp_path / busy)
    try:
        assert sorted(scratch.sweep(str(tmp_path))) == sorted(gone)
    finally:
        holder.stdin.close()
        holder.wait()
    left = {p.name for p in tmp_path.iterdir()}
    assert not left & set(gone)
    assert set(kept) <= left
    assert (target / "precious").read_text() == "not ours"
    assert link.is_symlink() and planted_file.is_file()
    assert scratch.sweep(str(tmp_path)) == [busy]  # its holder has ended: now it goes
    assert scratch.sweep(str(tmp_path)) == []


def test_another_users_dirs_are_left_alone(tmp_path, monkeypatch):
    tag, dead = scratch._host_tag(), _dead_pid()
    name = _plant(tmp_path, f"surfaudit-spool-{dead}-{tag}-ab_12cd3")
    monkeypatch.setattr(scratch.os, "getuid", lambda: os.stat(tmp_path / name).st_uid + 1)
    assert scratch.sweep(str(tmp_path)) == []
    assert (tmp_path / name).is_dir()


def test_without_a_lock_file_the_age_limit_is_exactly_stale_seconds(tmp_path):
    tag, dead = scratch._host_tag(), _dead_pid()
    name = _plant(tmp_path, f"surfaudit-spool-{dead}-{tag}-edge0001", age=0, lock=False)
    mtime = (tmp_path / name).stat().st_mtime
    assert scratch.sweep(str(tmp_path), now=mtime + scratch.STALE_SECONDS - 0.5) == []
    assert scratch.sweep(str(tmp_path), now=mtime + scratch.STALE_SECONDS) == [name]


def test_a_missing_temp_dir_is_no_error(tmp_path):
    assert scratch.sweep(str(tmp_path / "absent")) == []


def test_made_dirs_are_private_locked_and_named_for_the_sweep(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    path = scratch.make("spool")
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        name = os.path.basename(path)
        assert name.startswith(f"surfaudit-spool-{os.getpid()}-{scratch._host_tag()}-")
        assert scratch._NAME.fullmatch(name)
        probe = subprocess.run([sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY)\n"
                                "try: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept OSError: sys.exit(3)",
                                os.path.join(path, scratch.LOCK)])
        assert probe.returncode == 3  # another process cannot take the lock while we live
        assert scratch.sweep(str(tmp_path)) == []  # nor does this process sweep its own
    finally:
        scratch.remove(path)
    assert not os.path.exists(path) and path not in scratch._held


def test_a_sweep_while_a_directory_is_being_made_leaves_it(tmp_path, monkeypatch):
    """Another process sweeps at the moment this one has created its lock file but not yet
    locked it: the directory must survive (the lock file gets its name once locked)."""
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(scratch, "_swept", True)
    real_flock = scratch.fcntl.flock
    swept: list[str] = []

    def sweep_elsewhere_then_lock(fd, op):
        code = "import sys; from surfaudit import scratch; print(scratch.sweep(sys.argv[1]))"
        swept.append(subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                                    check=True).stdout.strip())
        real_flock(fd, op)

    monkeypatch.setattr(scratch.fcntl, "flock", sweep_elsewhere_then_lock)
    path = scratch.make("spill")
    monkeypatch.setattr(scratch.fcntl, "flock", real_flock)
    try:
        assert swept == ["[]"] and os.path.isdir(path)
        assert sorted(os.listdir(path)) == [scratch.LOCK]
    finally:
        scratch.remove(path)


def test_a_later_command_removes_what_a_killed_run_left(tmp_path):
    """Through the CLI: a report (which opens DuckDB, so makes its spill place) sweeps
    the spool of an ingest killed an hour ago, and leaves its own place nowhere."""
    store = str(tmp_path / "store")
    assert run_cli_subprocess("--config", str(SAMPLE_CONFIG), "--store", store, "ingest", str(SAMPLES)).code == 1
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    tag, dead = scratch._host_tag(), _dead_pid()
    spool = _plant(tmp, f"surfaudit-spool-{dead}-{tag}-k1lled00")
    fresh = _plant(tmp, f"surfaudit-spool-{dead}-{tag}-fresh000", age=5, lock=False)  # being made
    run = run_cli_subprocess("--config", str(SAMPLE_CONFIG), "--store", store, "report", "blocked", "--from", "2026-11-02", "--to", "2026-11-02",
                             env={"TMPDIR": str(tmp)})
    assert run.code == 0, run.err
    assert run.err == ""
    assert sorted(p.name for p in tmp.iterdir()) == [fresh]  # and the report's own spill place is gone
    assert spool not in run.out and spool not in run.err
