"""Crash safety with real processes: SIGKILL a purge --exact or a compaction at random moments.

Each trial copies a template store with several months, starts a child
`python -c ...` that takes the lock and runs the operation, and kills it with SIGKILL
after a seeded random delay (plus kills at exact points: before/after a rename into
place, before/after the manifest append, after deleting a replaced part). Then
`Store.lock()` (which recovers) and the operation is run again; every Parquet file must
open and the rows that should survive must be present exactly once, compared with a
multiset computed independently from the input DataFrame.

Also: lock contention with a real second process (LockedError names its pid; wait=).
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from retention.purge import purge
from surfaudit.compact import compact
from surfaudit.config import Config
from surfaudit.errors import LockedError
from surfaudit.schema import conform
from surfaudit.store import Store

UTC = timezone.utc
NOW = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
CUTOFF = datetime(2025, 5, 15, 12, 0, tzinfo=UTC)  # 2025-03, 2025-04 expire; 2025-05 straddles
MONTHS = ["2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08"]
PARTS, ROWS = 3, 4000
RANDOM_TRIALS = 8
POINTS = ["rename:1", "renamed:1", "append:1", "appended:1", "unlink:1", "unlink:3"]

CHILD = r"""
import os, pathlib, signal, sys
from datetime import datetime
root, op, now, crash = sys.argv[1:5]
import surfaudit.store as st
from surfaudit.store import Store
from surfaudit.config import Config
from surfaudit.compact import compact
from retention.purge import purge
if crash != "-":
    point, nth = crash.split(":")
    seen = [0]
    def hit():
        seen[0] += 1
        if seen[0] == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
    if point in ("rename", "renamed"):
        real_replace = os.replace
        def replace(a, b):
            if point == "rename": hit()
            real_replace(a, b)
            if point == "renamed": hit()
        os.replace = replace
    elif point in ("append", "appended"):
        real_append = st.Store._append_jsonl
        def append(self, path, record):
            if point == "append": hit()
            real_append(self, path, record)
            if point == "appended": hit()
        st.Store._append_jsonl = append
    elif point == "unlink":
        real_unlink = pathlib.Path.unlink
        def unlink(self, missing_ok=False):
            real_unlink(self, missing_ok=missing_ok)
            if "events" in self.parts: hit()
        pathlib.Path.unlink = unlink
store = Store(root)
with store.lock():
    print("ready", flush=True)
    if op == "purge":
        purge(store, Config(), now=datetime.fromisoformat(now), exact=True)
    else:
        compact(store)
print("done", flush=True)
"""


def make_input() -> pl.DataFrame:
    rng = np.random.default_rng(20261124)
    frames = []
    for month in MONTHS:
        start = int(datetime.fromisoformat(month + "-01T00:00:00+00:00").timestamp() * 1_000_000)
        n = PARTS * ROWS
        ts = start + rng.integers(0, 28 * 86400 * 1_000_000, n)
        users = rng.choice(["alice", "bob", "carol", "10.0.0.7"], n)
        df = pl.DataFrame({
            "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
            "user": users, "username": users, "client_ip": ["10.0.0.7"] * n, "method": ["CONNECT"] * n,
            "host": rng.choice(["www.facebook.com", "x.com", "bbc.co.uk"], n),
            "url": [f"u{i % 50}" for i in range(n)], "action": rng.choice(["allowed", "blocked"], n),
            "status": [200] * n, "bytes": rng.integers(0, 4, n), "elapsed_ms": [1] * n,
            "category": [None] * n, "source": ["squid"] * n,
        })
        frames.append(conform(df))
    data = pl.concat(frames)
    return pl.concat([data, data.head(500)])  # duplicate rows: compare multisets, not sets


def multiset(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(df.columns, nulls_last=True)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, pl.DataFrame]:
    root = tmp_path_factory.mktemp("crash") / "template"
    store = Store(root).ensure()
    data = make_input()
    indexed = data.head(data.height - 500).with_row_index("_i")
    pieces = [indexed.filter(pl.col("_i") % PARTS == k).drop("_i") for k in range(PARTS)] + [data.tail(500)]
    for piece in pieces:  # PARTS parts in every month, one more for the duplicated rows
        tx = store.begin("ingest")
        tx.write(piece)
        tx.commit({})
    return root, data


def visible(store: Store) -> pl.DataFrame:
    return store.read_parts(store.live_parts())


def check_sound(store: Store) -> None:
    """Every file opens and exactly the committed parts are on disk."""
    for path in list(store.events_dir.rglob("*")) + store.quarantine_files():
        if path.is_file():
            pq.read_table(path)
    assert sorted(store.event_files()) == sorted(store.live_parts())
    assert not any(store.journal_dir.iterdir()) and not any(store.staging_dir.iterdir())
    assert store.scan_events_dir() == []


def run_child(root: Path, op: str, crash: str, delay: float | None) -> tuple[int, bool, float]:
    """Run the child; SIGKILL it `delay` s after it holds the lock. Returns (rc, finished, seconds)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(root), op, NOW.isoformat(), crash],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = proc.stdout.readline().strip()
        assert ready == "ready", proc.stderr.read()
        started = time.monotonic()
        if delay is not None:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        return proc.returncode, "done" in out, time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def crash_trials(template, tmp_path: Path, op: str, expected: pl.DataFrame, seed: int) -> None:
    root0, data = template
    before = multiset(data)
    expected = multiset(expected)
    # calibrate on an undisturbed run: how long the operation takes once the child holds the lock
    calib = tmp_path / "calib"
    shutil.copytree(root0, calib)
    rc, finished, seconds = run_child(calib, op, "-", None)
    assert rc == 0 and finished
    assert multiset(visible(Store(calib))).equals(expected)

    rng = random.Random(seed)
    trials = [("-", rng.uniform(0, seconds * 1.3)) for _ in range(RANDOM_TRIALS)] + [(p, None) for p in POINTS]
    roots = []
    for i, _ in enumerate(trials):
        roots.append(tmp_path / f"t{i}")
        shutil.copytree(root0, roots[-1])
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda a: run_child(a[0], op, *a[1]), zip(roots, trials)))
    killed_mid_way = 0
    for (crash, delay), root, (rc, finished, _) in zip(trials, roots, outcomes):
        if crash != "-":
            assert rc == -signal.SIGKILL, f"{crash}: the kill point was never reached"
        killed_mid_way += not finished
        store = Store(root)
        with store.lock():  # recovers
            check_sound(store)
            now_visible = multiset(visible(store))
            assert now_visible.equals(before) or now_visible.equals(expected), f"{op} {crash} {delay}: torn state"
            if op == "purge":
                purge(store, Config(), now=NOW, exact=True)
            else:
                compact(store)
            check_sound(store)
            assert multiset(visible(store)).equals(expected), f"{op} {crash} {delay}: rows lost or duplicated"
    print(op, "calibrated", round(seconds, 3), [(c, d and round(d, 3), o[1]) for (c, d), o in zip(trials, outcomes)])
    assert killed_mid_way >= len(POINTS)


def test_purge_exact_survives_sigkill(template, tmp_path: Path):
    _, data = template
    crash_trials(template, tmp_path, "purge", data.filter(pl.col("ts") >= CUTOFF), seed=1)


def test_compaction_survives_sigkill(template, tmp_path: Path):
    _, data = template
    crash_trials(template, tmp_path, "compact", data, seed=2)


HOLDER = r"""
import sys, time
from surfaudit.store import Store
with Store(sys.argv[1]).lock():
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_lock_contention_with_a_real_process(tmp_path: Path):
    root = tmp_path / "store"
    Store(root).ensure()
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), "1.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        locked_at = time.monotonic()
        with pytest.raises(LockedError) as info:
            with Store(root).lock():
                pass
        assert f"pid {child.pid}" in str(info.value) and info.value.exit_code == 3
        with Store(root).lock(wait=20):
            assert time.monotonic() - locked_at >= 1.4  # acquired only once the holder let go
        assert child.wait(timeout=20) == 0
    finally:
        child.kill()
        child.wait()
