"""Ctrl-C during ingest: exit 130, stderr names what was committed and what was not,
and the store stays consistent (a second ingest reads the rest exactly once).

The real thing: a subprocess ingesting a large generated log is sent SIGINT while
it reads that log, after the file before it was committed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from surfaudit.errors import StoreError
from surfaudit.interrupt import deferred
from surfaudit.store import Store
from tests.conftest import ROOT, run_cli

sys.path.insert(0, str(ROOT / "bench"))
import gen  # noqa: E402  (bench/gen.py: deterministic squid logs)

BIG = 2_000_000  # lines: several seconds of parsing, so the signal lands inside it


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler for the test: `deferred` steps aside when another is
    installed, and a Spark session started earlier in this worker (tests/test_spark*.py,
    same xdist group) installs its own, which would make these tests depend on order."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_deferred_holds_sigint_until_the_block_ends(python_sigint):
    reached_end = False
    with pytest.raises(KeyboardInterrupt):
        with deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler has run: noted, not raised
            reached_end = True
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_deferred_holds_a_sigterm_made_an_interrupt_until_the_block_ends(python_sigint):
    from surfaudit import interrupt

    reached_end = False
    with interrupt.sigterm_as_interrupt():
        with pytest.raises(KeyboardInterrupt):
            with deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # noted, not raised
                reached_end = True
        assert interrupt.terminated()
    assert reached_end
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the command


@pytest.mark.parametrize("sig,code,line", [(signal.SIGTERM, 143, "surfaudit: terminated (SIGTERM)"),
                                           (signal.SIGINT, 130, "surfaudit: interrupted")], ids=["SIGTERM", "SIGINT"])
def test_a_signal_outside_any_step_ends_the_command_with_one_line(tmp_path, sig, code, line):
    """A command outside any step (here a report waiting to write to a named pipe nobody
    reads): one line, exit 143 (SIGTERM) or 130 (Ctrl-C), no traceback. (For Ctrl-C, typer
    returns 130 from the app rather than raising: that return once exited silently.)"""
    log = tmp_path / "a.log"
    gen.write(gen.squid_lines(200, seed=3), log)
    assert run_cli("--store", str(tmp_path / "store"), "ingest", "--format", "squid", str(log)).code in (0, 1)
    fifo = tmp_path / "report.csv"
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURFAUDIT_")}
    proc = subprocess.Popen([sys.executable, "-m", "surfaudit", "--store", str(tmp_path / "store"), "report",
                             "blocked", "--from", "2026-11-02", "--to", "2026-11-02", "--output", str(fifo)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_blocked_on_the_pipe(proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (code, ""), err
    assert err.splitlines() == [line]


def _wait_blocked_on_the_pipe(proc, timeout: float = 60) -> None:
    """Until the process waits in open() for the pipe's reader (Linux's wait channel), so
    the signal lands in the command and not during the interpreter's start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            wchan = Path(f"/proc/{proc.pid}/wchan").read_text()
        except OSError:
            wchan = "0"
        if wchan in ("wait_for_partner", "fifo_open"):
            return
        if wchan == "0" and time.monotonic() > deadline - timeout + 5:
            return  # no wait channel shown here: five seconds is long past the start
        time.sleep(0.05)
    pytest.fail("the report never reached its output pipe")


def test_a_sigterm_of_an_earlier_command_does_not_end_the_next(monkeypatch):
    """In one process (the tests' in-process CLI): a later command exits with its own code,
    also where another SIGTERM handler than the default one is in place."""
    from surfaudit import interrupt

    monkeypatch.setattr(interrupt, "_received", [signal.SIGTERM])  # as a stopped command leaves it
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        run = run_cli("--help")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (run.code, run.err) == (0, ""), run.err
    assert not interrupt.terminated()


def test_deferred_without_a_signal_changes_nothing(python_sigint):
    with deferred():
        value = 1
    assert value == 1 and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _committed(s: Store, name: str) -> bool:
    try:
        return any(r.get("file") == name for r in s.manifest())
    except StoreError:  # caught between the manifest append and the head write
        return False


def _rows(store: Path) -> int:
    s = Store(store)
    con = duckdb.connect()
    s.events_view(con)
    return con.execute("SELECT count(*) FROM events").fetchone()[0]


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_sigint_mid_ingest_reports_committed_files_and_a_second_run_completes(tmp_path, sig, code):
    """Ctrl-C, and SIGTERM (`timeout`, `systemctl stop`) the same way but exit 143."""
    logs = tmp_path / "logs"
    a = gen.write(gen.squid_lines(2_000, seed=11), logs / "a.log")
    b = gen.write(gen.squid_lines(BIG, seed=12), logs / "b.log")
    c = gen.write(gen.squid_lines(3_000, seed=13), logs / "c.log")
    old = time.time() - 3600  # finished files (past the settle time)
    for path in (a, b, c):
        os.utime(path, (old, old))
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURFAUDIT_")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    proc = subprocess.Popen([sys.executable, "-m", "surfaudit", "--store", str(store), "ingest", "--format", "squid",
                             str(a), str(b), str(c)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 300
    s = Store(store)
    while time.monotonic() < deadline and proc.poll() is None:  # a.log committed, b.log being read
        if _committed(s, "a.log") and s.staging_dir.is_dir() and list(s.staging_dir.iterdir()):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the ingest finished before it could be interrupted"
    time.sleep(0.3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert out == ""  # no summary of a run that did not finish
    assert err.splitlines() == [
        f"surfaudit: committed: {a} (2,000 rows)",
        f"surfaudit: not committed: {b} (interrupted while reading it; nothing of this run's reading of it was stored)",
        f"surfaudit: not committed: {c} (not started)",
        "surfaudit: interrupted: 1 files committed, 2 not; run the same ingest again to read the rest "
        "(committed lines are never read twice)",
    ]
    assert [r["file"] for r in s.manifest() if r["kind"] == "ingest"] == ["a.log"]
    assert _rows(store) == 2_000
    assert list(s.staging_dir.iterdir()) == []  # the aborted transaction left nothing behind
    entry = [e for e in s.audit_entries() if e["command"] == "ingest"][-1]
    assert entry["detail"] == "interrupted: 1 files committed, 2 not committed, 0 lines rejected"
    assert entry["rows"] == 2_000

    again = run_cli("--store", str(store), "ingest", "--format", "squid", str(a), str(b), str(c),
                    "--summary", "json", timeout=600)
    assert again.code == 0, again.err
    files = {Path(r["file"]).name: r for r in json.loads(again.out)}
    assert (files["a.log"]["rows"], files["a.log"]["duplicates"]) == (0, 2_000)
    assert (files["b.log"]["rows"], files["b.log"]["duplicates"]) == (BIG, 0)
    assert (files["c.log"]["rows"], files["c.log"]["duplicates"]) == (3_000, 0)
    assert _rows(store) == 2_000 + BIG + 3_000  # every line exactly once
    verify = run_cli("--store", str(store), "verify")
    assert verify.code == 0, verify.out + verify.err


def test_ctrl_c_that_typer_turns_into_exit_130_still_says_what_was_committed(monkeypatch, capsys):
    """nightly and every other command: typer reports Ctrl-C as Exit(130) from the
    KeyboardInterrupt; an interrupted ingest's lines are printed, else one line."""
    import typer

    from ingest.interrupted import Interrupted
    from surfaudit import cli

    def interrupted_app(**kwargs):  # what main() passes: prog_name, standalone_mode
        try:
            raise Interrupted([], "/logs/b.log", False, 0, ["/logs/c.log"])
        except KeyboardInterrupt as exc:
            raise typer.Exit(130) from exc

    monkeypatch.setattr(cli, "app", interrupted_app)
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 130
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "surfaudit: not committed: /logs/b.log (interrupted while reading it; nothing of this run's reading of it "
        "was stored)",
        "surfaudit: not committed: /logs/c.log (not started)",
        "surfaudit: interrupted: 0 files committed, 2 not; run the same ingest again to read the rest "
        "(committed lines are never read twice)",
    ]

    def plain_interrupt(**kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise typer.Exit(130) from exc

    monkeypatch.setattr(cli, "app", plain_interrupt)
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 130 and capsys.readouterr().err == "surfaudit: interrupted\n"
