"""Shared fixtures: a private store per test, a real-subprocess CLI runner, log builders."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_logs"
SAMPLE_CONFIG = SAMPLES / "surfaudit.toml"


def pytest_sessionstart(session):
    """Compile the parsers' scanners once before any test: numba caches them on
    disk, so CLI subprocesses and the crash tests' timing calibration never pay
    the one-time compile (~15 s on a fresh install)."""
    from ingest.pipeline import warm

    warm()


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None,
            timeout: float = 120) -> Run:
    """Run the real `surfaudit` CLI in a subprocess (stdout, stderr, exit code kept apart)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SURFAUDIT_")}
    full_env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
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
