"""Crash safety: SIGKILL a real `python -m surfaudit` at a random moment.

Three kinds of run, each on a fresh copy of a template store: `ingest DIR` (four
files, one gzipped, one SurfProtect CSV), `nightly DIR` (ingest, purge, and compaction
of months that have several parts) and `purge --exact` (whole expired months plus a
month straddling the cutoff). The clock is fixed with $SURFAUDIT_NOW. The child is
killed a seeded random delay after it has taken the store lock (we watch the lock file
for its pid), over a window calibrated on an undisturbed run. After each kill:

* before any recovery, what a reader sees (`Store.parts()`) opens, lies under events/,
  is a committed `part-*.parquet`, and holds no row twice and no row it should not;
* after `Store.lock()` (which recovers) exactly the committed parts are on disk, with no
  journal or staging left;
* after re-running the operation, every expected source row is present exactly once
  (compared as a multiset of URLs computed from the generator, not from the parser).

tests/test_crash.py kills in-process children at exact points; this suite kills the CLI.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from retention.purge import purge
from surfaudit.config import Config
from surfaudit.nightly import run_nightly
from surfaudit.store import Store

from .helpers import LONG, SP_HEADER, check_recovered, cli_argv, cli_env, failed, squid, surfprotect, tried, \
    visible_column, visible_files_open, write_lines

pytestmark = pytest.mark.slow  # long trials: -m 'not slow' leaves them out

UTC = timezone.utc
TRIALS = {"ingest": 12, "nightly": 10, "purge": 8}  # 30 in CI; 208 with SURFAUDIT_LONG=1
if LONG:
    TRIALS = {"ingest": 80, "nightly": 72, "purge": 56}
NOW = {"ingest": datetime(2026, 11, 20, 12, 0, tzinfo=UTC), "nightly": datetime(2026, 5, 15, 12, 0, tzinfo=UTC),
       "purge": datetime(2026, 5, 15, 12, 0, tzinfo=UTC)}


class Source:
    """Unique lines: every row is recognised by its URL (`/s<seq>`)."""

    def __init__(self, first: int = 0):
        self.seq = first
        self.rows: dict[str, datetime] = {}  # url -> ts

    def squid(self, n: int, start: datetime, step: float = 11.0) -> list[str]:
        out = []
        for i in range(n):
            ts = start + timedelta(seconds=step * i)
            url = f"http://www.facebook.com/s{self.seq}"
            out.append(squid(self.seq, ts, ("alice", "bob", "carol")[i % 3], url=url))
            self.rows[url] = ts
            self.seq += 1
        return out

    def csv(self, n: int, start: datetime, step: float = 13.0) -> list[str]:
        out = [SP_HEADER]
        for i in range(n):
            ts = start + timedelta(seconds=step * i)
            out.append(surfprotect(self.seq, ts, ("dave", "erin")[i % 2]))
            self.rows[f"https://www.facebook.com/s{self.seq}"] = ts
            self.seq += 1
        return out

    def expected(self, keep=lambda ts: True) -> Counter:
        return Counter(url for url, ts in self.rows.items() if keep(ts))


# The trials run in threads that start CLI children: a child forked by one thread holds a
# copy of another thread's lock descriptor until it execs (close_fds), which on a loaded
# machine can outlast that thread's release by a moment. The test process's own locks
# therefore wait a little; the CLI children under test keep their real behaviour.
OWN_WAIT = 10


def _ingest(store: Store, paths, now: datetime):
    with store.lock(OWN_WAIT):
        results = ingest_paths(store, Config(store_path=store.root), list(paths), now=now)
    assert not [r.error for r in results if r.error]


def build(kind: str, base: Path) -> tuple[Path, list[str], Source, Counter, set]:
    """Template store, CLI arguments, the source, the rows expected at the end, rows allowed meanwhile."""
    root, src, logs = base / "store", Source(), base / "logs"
    store = Store(root)
    if kind == "ingest":
        t = datetime(2026, 10, 28, 0, 0, tzinfo=UTC)  # two months
        write_lines(logs / "a-access.log", src.squid(15000, t))
        with gzip.open(logs / "b-access.log.1.gz", "wt") as fh:
            fh.write("".join(line + "\n" for line in src.squid(15000, t + timedelta(hours=1))))
        write_lines(logs / "c-export.csv", src.csv(12000, t + timedelta(hours=2)))
        write_lines(logs / "d-access.log", src.squid(15000, t + timedelta(hours=3)))
        prior = base / "prior.log"
        write_lines(prior, src.squid(500, datetime(2026, 11, 10, tzinfo=UTC)))
        _ingest(store, [prior], NOW[kind])
        args = ["ingest", str(logs)]
        expected = src.expected()
        allowed = set(expected)
    elif kind == "nightly":
        earlier = datetime(2025, 12, 1, tzinfo=UTC)
        pieces = base / "prior"
        for month in ("2025-03", "2025-06", "2025-07", "2025-09"):
            for k in range(3):  # three parts per month
                start = datetime.fromisoformat(f"{month}-0{k + 2}T08:00:00+00:00")
                _ingest(store, [write_lines(pieces / f"{month}-{k}.log", src.squid(2500, start, 60))], earlier)
        t = datetime(2026, 4, 25, tzinfo=UTC)
        write_lines(logs / "access.log.1", src.squid(15000, t, 60))
        write_lines(logs / "access.log", src.squid(15000, t + timedelta(days=12), 30))
        args = ["nightly", str(logs)]
        expected = src.expected(lambda ts: ts >= datetime(2025, 6, 1, tzinfo=UTC))  # 2025-03 expires
        allowed = set(src.expected())
    else:  # purge --exact: 2025-03/04 expire, 2025-05 straddles the cutoff 2025-05-15T12:00Z
        earlier = datetime(2025, 6, 30, tzinfo=UTC)
        pieces = base / "prior"
        for month in ("2025-03", "2025-04", "2025-05", "2025-06"):
            for k in range(3):
                start = datetime.fromisoformat(f"{month}-0{k + 1}T00:00:00+00:00")
                _ingest(store, [write_lines(pieces / f"{month}-{k}.log", src.squid(4000, start, 157))], earlier)
        args = ["purge", "--exact"]
        cutoff = datetime(2025, 5, 15, 12, 0, tzinfo=UTC)
        expected = src.expected(lambda ts: ts >= cutoff)
        allowed = set(src.expected())
    return root, args, src, expected, allowed


def rerun(kind: str, store: Store) -> None:
    cfg, now = Config(store_path=store.root), NOW[kind]
    if kind == "ingest":
        _ingest(store, [store.root.parent / "logs"], now)
    elif kind == "nightly":
        assert run_nightly(store, cfg, [store.root.parent / "logs"], now=now, wait=OWN_WAIT).step("ingest").ok
    else:
        with store.lock(OWN_WAIT):
            purge(store, cfg, now=now, exact=True)


def run_child(root: Path, args: list[str], now: datetime, delay: float | None) -> tuple[int, float]:
    """Start the CLI; SIGKILL it `delay` s after it holds the lock. Returns (exit code, seconds under lock)."""
    (root / "lock").unlink(missing_ok=True)
    proc = subprocess.Popen(cli_argv("--store", str(root), *args), env=cli_env(now.isoformat()),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        want, deadline = f"{proc.pid}\n".encode(), time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if (root / "lock").read_bytes() == want:
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.002)
        locked = time.monotonic()
        if delay is not None:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
        assert b"Traceback" not in err, err.decode()[-2000:]
        return proc.returncode, time.monotonic() - locked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def trial(kind: str, template: Path, work: Path, delay: float, expected: Counter, allowed: set) -> str:
    shutil.copytree(template.parent, work, symlinks=True)
    root = work / "store"
    code, _ = run_child(root, ARGS[kind], NOW[kind], delay)
    store = Store(root)
    # 1. a reader arriving now, before anyone recovers
    visible_files_open(store)
    seen = visible_column(store, "url")
    assert max(seen.values(), default=1) == 1, f"{kind}: a row is visible twice after the kill"
    assert set(seen) <= allowed, f"{kind}: unexpected rows visible after the kill"
    # 2. recovery under the lock
    with store.lock(OWN_WAIT):
        check_recovered(store)
    # 3. run it again: every row exactly once
    rerun(kind, store)
    with store.lock(OWN_WAIT):
        check_recovered(store)
    got = visible_column(store, "url")
    assert got == expected, (f"{kind} killed after {delay:.3f}s: {sum((got - expected).values())} extra, "
                             f"{sum((expected - got).values())} missing")
    shutil.rmtree(work, ignore_errors=True)
    return "killed" if code == -signal.SIGKILL else f"finished (exit {code})"


ARGS: dict[str, list[str]] = {}


@pytest.mark.parametrize("kind", ["ingest", "nightly", "purge"])
def test_sigkill_at_random_moments(kind, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"crash-{kind}")
    template, ARGS[kind], _, expected, allowed = build(kind, base / "t")
    # calibrate: how long the undisturbed run holds the lock
    calib = base / "calib"
    shutil.copytree(template.parent, calib, symlinks=True)
    code, seconds = run_child(calib / "store", ARGS[kind], NOW[kind], None)
    assert code in (0, 1)
    rerun(kind, Store(calib / "store"))
    assert visible_column(Store(calib / "store"), "url") == expected
    rng = random.Random({"ingest": 11, "nightly": 22, "purge": 33}[kind])
    delays = [rng.uniform(0, seconds * 1.1) for _ in range(TRIALS[kind])]
    errors, outcomes = [], Counter()

    def one(i_delay):
        i, delay = i_delay
        try:
            return trial(kind, template, base / f"t{i}", delay, expected, allowed)
        except AssertionError as exc:
            message = f"{kind} trial {i} (kill after {delay:.3f}s): {str(exc).splitlines()[0]}"
            failed("crash", message)
            errors.append(message)
            return "failed"

    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        outcomes.update(pool.map(one, enumerate(delays)))
    tried("crash", f"{kind} runs", len(delays))
    tried("crash", f"{kind} killed mid-run", outcomes["killed"])
    print(f"{kind}: calibrated {seconds:.2f}s under lock; {dict(outcomes)}")
    assert not errors, errors[:3]
    assert outcomes["killed"] >= len(delays) // 2, f"too few kills landed mid-run: {dict(outcomes)}"
