"""Concurrency: real CLI processes racing for one store.

* Two `nightly` runs started together: exactly one writes; the other exits 3 naming
  the holder's pid — or, with `--wait`, waits and then finds nothing new.
* `report summary` and `report social --format csv` run in a loop while an ingest of
  several big files is committing: they never fail, and the totals they see are always
  one of the committed totals (no duplicates, no half-written file).
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from surfaudit.store import Store

from .helpers import LONG, assert_clean_stderr, cli_argv, cli_env, failed, run_cli, squid, tried, visible_column, \
    write_lines

pytestmark = pytest.mark.slow  # long trials: -m 'not slow' leaves them out

UTC = timezone.utc
NOW = "2026-11-20T12:00:00+00:00"
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def big_logs(logs: Path, files: int, per_file: int) -> int:
    seq = 0
    for f in range(files):
        lines = [squid(seq + i, T0 + timedelta(seconds=0.5 * (seq + i)), ("alice", "bob", "carol")[i % 3],
                       url=f"http://www.facebook.com/s{seq + i}") for i in range(per_file)]
        write_lines(logs / f"access-{f}.log", lines)
        seq += per_file
    return seq


def start(*args: str, wait: bool = False) -> subprocess.Popen:
    return subprocess.Popen(cli_argv(*args), env=cli_env(NOW), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out.decode(), err.decode()


def test_two_nightly_runs_exactly_one_writes(tmp_path):
    logs, store = tmp_path / "logs", tmp_path / "store"
    total = big_logs(logs, 2, 150_000)
    a, b = start("--store", str(store), "nightly", str(logs)), start("--store", str(store), "nightly", str(logs))
    (ca, oa, ea), (cb, ob, eb) = finish(a), finish(b)
    codes = sorted([ca, cb])
    tried("concurrency", "nightly pairs (no wait)")
    assert codes == [0, 3], f"exit codes {ca}, {cb}: {ea} {eb}"
    loser_err, winner = (ea, b) if ca == 3 else (eb, a)
    assert re.search(rf"pid {winner.pid}\b", loser_err), loser_err
    assert loser_err.startswith("surfaudit: error:") and len(loser_err.strip().splitlines()) == 1
    assert sum(visible_column(Store(store)).values()) == total
    # with --wait both succeed, and the second finds nothing new
    a, b = (start("--store", str(store), "nightly", "--wait", "120", str(logs)),
            start("--store", str(store), "nightly", "--wait", "120", str(logs)))
    (ca, oa, _), (cb, ob, _) = finish(a), finish(b)
    tried("concurrency", "nightly pairs (--wait)")
    assert (ca, cb) == (0, 0)
    for out in (oa, ob):
        assert re.search(r"ingest: 2 files, 0 rows", out), out
    # a fresh store, both waiting: one ingests everything, the other nothing
    store2 = tmp_path / "store2"
    a, b = (start("--store", str(store2), "nightly", "--wait", "120", str(logs)),
            start("--store", str(store2), "nightly", "--wait", "120", str(logs)))
    (ca, oa, _), (cb, ob, _) = finish(a), finish(b)
    assert (ca, cb) == (0, 0)
    rows = sorted(int(re.search(r"ingest: 2 files, (\d+) rows", out).group(1)) for out in (oa, ob))
    assert rows == [0, total], rows
    seen = visible_column(Store(store2))
    assert max(seen.values()) == 1 and sum(seen.values()) == total


def _summary_rows(text: str) -> int:
    return sum(int(row["rows"]) for row in csv.DictReader(io.StringIO(text)))


def _social_requests(text: str) -> int:
    rows = list(csv.DictReader(io.StringIO(text)))
    keys = [(r["user"], r["date"]) for r in rows]
    assert len(keys) == len(set(keys)), "a (user, date) row appears twice"
    return sum(int(r["requests"]) for r in rows)


def test_reports_during_a_big_ingest_see_only_committed_totals(tmp_path):
    logs, store = tmp_path / "logs", tmp_path / "store"
    total = big_logs(logs, 16 if LONG else 8, 60_000)
    ingest = start("--store", str(store), "ingest", str(logs))
    dates = ["--from", "2026-11-01", "--to", "2026-11-30"]

    def loop(kind: str) -> list[tuple[str, int]]:
        out = []
        while True:
            done = ingest.poll() is not None
            r = run_cli("--store", str(store), "report", kind, "--format", "csv", *dates, now=NOW, subprocess_=True)
            if r.code == 1 and not r.out.strip():  # nothing committed yet: "no data"
                assert_clean_stderr(r)
                out.append((kind, 0))
            elif r.code == 2 and "no store here" in r.err and not r.out:  # before ingest made the store
                assert_clean_stderr(r, (2,))
                out.append((kind, 0))
            else:
                assert_clean_stderr(r, (0,))
                out.append((kind, _summary_rows(r.out) if kind == "summary" else _social_requests(r.out)))
            if done:
                return out

    with ThreadPoolExecutor(3) as pool:
        seen = [x for part in pool.map(loop, ["summary", "social", "summary"]) for x in part]
    reports = len(seen)
    code, _, err = finish(ingest)
    assert code == 0, err
    committed = [0]
    for record in Store(store).manifest():
        if record.get("kind") == "ingest":
            committed.append(committed[-1] + record["rows"])
    assert committed[-1] == total
    bad = [(k, n) for k, n in seen if n not in committed]
    tried("concurrency", "reports during ingest", reports)
    tried("concurrency", "distinct totals observed", len({n for _, n in seen}))
    for k, n in bad:
        failed("concurrency", f"report {k} saw {n} rows; committed totals {committed}")
    assert not bad
    assert len({n for _, n in seen}) >= 2 or len(seen) >= 2
