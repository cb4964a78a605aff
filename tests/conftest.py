"""Shared fixtures: a private store per test, the CLI run in-process or in a real
subprocess, log builders.

`run_cli` runs `surfaudit.cli.main` inside Typer's `CliRunner` isolation (stdout,
stderr and exit code kept apart, the environment and cwd swapped for the call), which
costs milliseconds instead of an interpreter start. `run_cli_subprocess` runs
`python -m surfaudit` for the few smoke tests that need a real process (a terminal on
stderr, the console-script entry point, the environment a cron job gets).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest_s3 import s3_server, s3_store  # noqa: F401 - the object-store fixtures (moto)

ROOT = Path(__file__).resolve().parent.parent
# Some tests fork (multiprocessing's "fork" context) in a worker where the Spark Connect
# tests loaded gRPC; its fork support would run gRPC's handlers in the child, which
# once aborted a child (epoll_wait: Bad file descriptor). Read when gRPC is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
# What surfaudit caches per user (the bank holidays of the years a report reads) goes in
# a directory of this test process, not the developer's ~/.cache; removed at exit.
_CACHE = tempfile.mkdtemp(prefix="surfaudit-tests-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)
# Every JVM the tests start (Spark's driver, the Connect server, a cluster's Master, Workers
# and executors) runs a few short queries and exits: the client compiler alone (C1) gets
# them done sooner than tiered compilation's C2 (measured ~12 % off a sample-store social
# report). Only here: a report over a large month may want C2. A developer's own wins.
os.environ.setdefault("JDK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1")
SAMPLES = ROOT / "sample_logs"
SAMPLE_CONFIG = SAMPLES / "surfaudit.toml"


def pytest_sessionstart(session):
    """Compile the parsers' scanners once before any test: numba caches them on
    disk, so CLI subprocesses and the crash tests' timing calibration never pay
    the one-time compile. Under pytest-xdist the controller runs this before the
    workers start, so each worker then only loads the cache (and in-process CLI
    runs never pause on it); a cold cache is filled by one process per core."""
    from ingest.pipeline import warm

    warm(lambda text: print(f"surfaudit tests: {text}", file=sys.stderr), jobs=os.cpu_count() or 1)


# -- the reliability suite's "what was tried" summary, gathered from every xdist worker --
def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):
        from tests.reliability.helpers import export_tally

        session.config.workeroutput["reliability_tally"] = export_tally()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    from tests.reliability.helpers import merge_tally

    merge_tally(getattr(node, "workeroutput", {}).get("reliability_tally", {}))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests.reliability.helpers import LONG, TALLY

    if not TALLY:
        return
    tr = terminalreporter
    tr.section(f"reliability: what was tried ({'long' if LONG else 'CI'} mode)")
    for suite in sorted(TALLY):
        tally = TALLY[suite]
        counts = ", ".join(f"{n} {what}" for what, n in sorted(tally.tried.items()))
        tr.write_line(f"{suite}: {counts}; {len(tally.failed)} failures")
        for message in tally.failed[:20]:
            tr.write_line(f"  FAILED {message}")


@dataclass
class Run:
    code: int
    out: str
    err: str


CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
# Set in this process's environment by what a test ran here (pyspark marks the process
# once it opened a Spark Connect session), not by anyone who starts a surfaudit command.
_PROCESS_ONLY = {"SPARK_CONNECT_MODE_ENABLED"}


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None,
            timeout: float = 120) -> Run:
    """Run the CLI in this process, as `python -m surfaudit ARGS` would in a subprocess.

    $SURFAUDIT_* variables of this process are hidden, `env` is set for the call, and
    the CLI's consoles are rebuilt inside the isolation so they see its width and
    streams. `timeout` is accepted for symmetry with `run_cli_subprocess` and unused."""
    from rich.console import Console
    from typer.testing import CliRunner

    from surfaudit import cli as cli_module

    call_env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SURFAUDIT_")}
    call_env.update(CLI_ENV)
    call_env.update(env or {})
    saved = (sys.argv, os.getcwd(), cli_module.out, cli_module.err)
    code = 0
    with CliRunner().isolation(input=input, env=call_env) as (stdout, stderr, _mixed):
        try:
            sys.argv = ["surfaudit", *map(str, args)]
            if cwd is not None:
                os.chdir(cwd)
            cli_module.out = Console(highlight=False, width=None if os.environ.get("COLUMNS") else 160)
            cli_module.err = Console(stderr=True, highlight=False, soft_wrap=True)
            try:
                cli_module.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = saved[0]
            os.chdir(saved[1])
            cli_module.out, cli_module.err = saved[2], saved[3]
            sys.stdout.flush()
            sys.stderr.flush()
        return Run(code, stdout.getvalue().decode("utf-8", "replace"), stderr.getvalue().decode("utf-8", "replace"))


def run_cli_subprocess(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None,
                       timeout: float = 120) -> Run:
    """Run the real `surfaudit` CLI in a subprocess (stdout, stderr, exit code kept apart)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SURFAUDIT_") and k not in _PROCESS_ONLY}
    full_env.update(CLI_ENV)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "surfaudit", *args], cwd=cwd, env=full_env, input=input,
                          capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


def squid_line(ts: datetime | float, user: str = "jsmith", host: str = "www.bbc.co.uk", *, ip: str = "10.0.0.5",
               tag: str = "TCP_TUNNEL/200", size: int = 1234, method: str = "CONNECT", url: str | None = None,
               elapsed: int = 12) -> str:
    epoch = ts.timestamp() if isinstance(ts, datetime) else ts
    if url is None:
        url = f"{host}:443" if method == "CONNECT" else f"http://{host}/"
    return f"{epoch:.3f} {elapsed:6d} {ip} {tag} {size} {method} {url} {user} HIER_DIRECT/1.2.3.4 -"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(params=["compiled", "reference"])
def both(request, monkeypatch):
    """Run a test twice: with the compiled scanners (ingest/fast) and with the reference
    paths (SURFAUDIT_NO_JIT=1), which must give the same rows."""
    if request.param == "reference":
        monkeypatch.setenv("SURFAUDIT_NO_JIT", "1")
    else:
        monkeypatch.delenv("SURFAUDIT_NO_JIT", raising=False)
    return request.param
