"""Shared helpers for the reliability suite: source generators, CLI runner, store checks.

Every generated source line carries a unique sequence number in its `bytes` field
(squid) or in its URL (SurfProtect), so the expected rows are computed from the
generator alone — never from the parser under test — and compared as multisets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from surfaudit.store import Store

UTC = timezone.utc
LONG = os.environ.get("SURFAUDIT_LONG") == "1"
ROOT = Path(__file__).resolve().parents[2]


# -- what each test tried, printed at the end of the session (see conftest.py) -----------
@dataclass
class Tally:
    tried: Counter = field(default_factory=Counter)
    failed: list = field(default_factory=list)


TALLY: dict[str, Tally] = {}


def tried(suite: str, what: str, n: int = 1) -> None:
    TALLY.setdefault(suite, Tally()).tried[what] += n


def failed(suite: str, message: str) -> None:
    TALLY.setdefault(suite, Tally()).failed.append(message)


def export_tally() -> dict:
    """This process's tally as plain data (an xdist worker hands it to the controller)."""
    return {suite: {"tried": dict(t.tried), "failed": list(t.failed)} for suite, t in TALLY.items()}


def merge_tally(data: dict) -> None:
    """Add a worker's `export_tally()` to this process's tally."""
    for suite, t in data.items():
        mine = TALLY.setdefault(suite, Tally())
        mine.tried.update(t["tried"])
        mine.failed.extend(t["failed"])


# -- sources -------------------------------------------------------------------------------
def squid(seq: int, ts: datetime, user: str = "jsmith", host: str = "www.facebook.com", *,
          ip: str = "10.0.0.5", tag: str = "TCP_TUNNEL/200", url: str | None = None) -> str:
    """One squid access.log line; `seq` is its reply size, the key tests compare on."""
    url = url or f"{host}:443"
    return f"{ts.timestamp():.3f} {12:6d} {ip} {tag} {seq} CONNECT {url} {user} HIER_DIRECT/1.2.3.4 -"


def squid_lines(first_seq: int, count: int, start: datetime, step: float = 7.0,
                users=("alice", "bob", "carol", "dave")) -> list[str]:
    return [squid(first_seq + i, start + timedelta(seconds=step * i), users[i % len(users)],
                  ("www.facebook.com", "x.com", "www.bbc.co.uk")[i % 3]) for i in range(count)]


SP_HEADER = "Timestamp,Username,Source IP,URL,Category,Action"


def surfprotect(seq: int, ts: datetime, user: str = "jsmith", action: str = "allowed",
                host: str = "www.facebook.com") -> str:
    """One SurfProtect CSV row; `seq` is in the URL path (/s<seq>)."""
    stamp = ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp},{user},10.1.1.{seq % 250 + 1},https://{host}/s{seq},Social Networking,{action}"


def write_lines(path: Path, lines: list[str], eol: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + eol for line in lines).encode())
    return path


def seq_of_squid(line: str) -> int:
    return int(line.split()[4])


# -- running the real CLI ------------------------------------------------------------------
@dataclass
class Run:
    code: int
    out: str
    err: str


def cli_env(now: str | None = None, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURFAUDIT_")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb", "PYTHONPATH": str(ROOT)})
    if now:
        env["SURFAUDIT_NOW"] = now
    env.update(extra or {})
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "surfaudit", *args]


def run_cli(*args: str, now: str | None = None, umask: int | None = None, cwd: Path | None = None,
            timeout: float = 180, env: dict | None = None, subprocess_: bool = False) -> Run:
    """The CLI in this process (`tests.conftest.run_cli`: Typer's isolation, milliseconds
    instead of an interpreter start), or in a real `python -m surfaudit` when asked
    (`subprocess_`) or when the call needs a process of its own (a umask)."""
    if umask is None and not subprocess_:
        from tests.conftest import run_cli as in_process

        got = in_process(*args, cwd=cwd, env={**({"SURFAUDIT_NOW": now} if now else {}), **(env or {})})
        return Run(got.code, got.out, got.err)
    argv = cli_argv(*args)
    if umask is not None:  # set by a shell, not preexec_fn: a fork that runs Python in the child
        # runs the atfork handlers of what this worker loaded (gRPC's aborted a child once)
        argv = ["/bin/sh", "-c", f'umask {umask:03o} && exec "$@"', "sh", *argv]
    proc = subprocess.run(argv, env=cli_env(now, env), cwd=cwd, capture_output=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def assert_clean_stderr(run: Run, allowed_codes=(0, 1)) -> None:
    """No traceback: an allowed exit code and every stderr line starts with `surfaudit:`."""
    assert run.code in allowed_codes, f"exit {run.code}: {run.err[-2000:]}"
    assert "Traceback" not in run.err, run.err[-3000:]
    bad = [ln for ln in run.err.splitlines() if ln.strip() and not ln.startswith("surfaudit:")]
    assert not bad, f"stderr lines not starting with 'surfaudit:': {bad[:5]}"


# -- looking at a store --------------------------------------------------------------------
def visible_files_open(store: Store) -> list[Path]:
    """What a reader sees: committed parts only; every one must open; none is a staging file."""
    parts = store.parts()
    for path in parts:
        assert path.is_relative_to(store.events_dir), path
        assert path.name.startswith("part-") and path.suffix == ".parquet", path
        pq.read_table(path)
    return parts


_LOCAL = threading.local()  # trials run in threads (the crash suite): a database each


def visible_column(store: Store, column: str = "bytes") -> Counter:
    """Multiset of one column over the committed rows, read the way reports read them:
    under the store's reader lock, one committed state. One DuckDB database per thread
    (a new one costs ~30 ms, which the rotation trials would pay hundreds of times), so
    the lock is the block's (`reading()`), not the connection's lifetime."""
    if not hasattr(_LOCAL, "db"):
        _LOCAL.db = duckdb.connect()
    con = _LOCAL.db
    with store.reading():
        store.events_view(con, records=store.manifest())
        return Counter(v for (v,) in con.execute(f'select "{column}" from events').fetchall())


def check_recovered(store: Store) -> None:
    """After `Store.lock()` (recover): exactly the committed parts are on disk, nothing staged."""
    assert sorted(store.event_files()) == sorted(store.live_parts()), "uncommitted or missing parts"
    assert not any(store.journal_dir.iterdir()), "journal left over"
    assert not any(store.staging_dir.iterdir()), "staging left over"
    assert store.scan_events_dir() == []
    for path in store.parts():
        pq.read_table(path)
    for path in store.quarantine_files():
        pq.read_table(path)
