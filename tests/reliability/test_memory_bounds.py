"""Bounded memory whatever the input.

A 2 GB stream of zeros in a gzip (a "gzip bomb": one line with no newline) and a
plain log whose tail is a 1.5 GB sparse hole (as after a crash with preallocation)
are each ingested by the real CLI, measured by a wrapper process whose only child
is that run: peak RSS stays under 1 GiB and the run takes seconds. The figures are
printed in the reliability summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from .helpers import cli_argv, cli_env, tried

pytestmark = pytest.mark.slow  # long trials: -m 'not slow' leaves them out

GIB = 1024**3
NOW = "2026-11-20T12:00:00+00:00"
GOOD = ("1793610000.000     12 10.0.0.5 TCP_MISS/200 512 GET http://www.bbc.co.uk/ jsmith "
        "HIER_DIRECT/1.2.3.4 text/html\n")

_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': p.returncode, 'wall': time.perf_counter() - t, 'rss': ru.ru_maxrss * 1024,\n"
    "                  'out': p.stdout.decode('utf-8', 'replace'), 'err': p.stderr.decode('utf-8', 'replace')}))\n"
)


def measured(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *cli_argv(*args)], env=cli_env(NOW),
                          capture_output=True, text=True, timeout=300)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def gzip_of_zeros(path: Path, total: int) -> None:
    """A gzip file of `total` zero bytes: one member of 64 MiB written again and again
    (a valid multi-member gzip), so making it takes a moment, not minutes."""
    chunk = 64 * 1024 * 1024
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    member = comp.compress(bytes(chunk)) + comp.flush()
    with open(path, "wb") as fh:
        for _ in range(total // chunk):
            fh.write(member)


def test_gzip_bomb_of_zeros_is_read_in_bounded_memory(tmp_path):
    bomb = tmp_path / "access.log.2.gz"
    gzip_of_zeros(bomb, 2 * GIB)
    r = measured("--store", str(tmp_path / "s"), "ingest", "--format", "squid", "--summary", "json", str(bomb))
    tried("memory: 2 GiB gzip of zeros", f"peak RSS {r['rss'] / 2**20:.0f} MiB, {r['wall']:.1f} s, exit {r['rc']}")
    assert r["rc"] == 1, r["err"]  # one line, rejected as too long
    (res,) = json.loads(r["out"])
    assert (res["lines"], res["rows"], res["rejected"], res["error"]) == (1, 0, 1, None)
    assert r["rss"] < GIB
    assert r["wall"] < 60


def test_sparse_tail_of_a_live_log_is_held_back_in_bounded_memory(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(GOOD * 1000)
    with open(log, "r+b") as fh:
        fh.truncate(log.stat().st_size + 1536 * 1024 * 1024)  # a 1.5 GiB hole of zeros, no newline
    r = measured("--store", str(tmp_path / "s"), "ingest", "--summary", "json", str(log))
    tried("memory: 1.5 GiB sparse tail (live)", f"peak RSS {r['rss'] / 2**20:.0f} MiB, {r['wall']:.1f} s")
    assert r["rc"] == 0, r["err"]
    (res,) = json.loads(r["out"])
    assert (res["lines"], res["rows"], res["held_back"], res["rejected"]) == (1001, 1000, 1, 0)
    assert r["rss"] < GIB and r["wall"] < 60
    old = time.time() - 3600
    os.utime(log, (old, old))  # settled: the tail is a finished (too long) last line
    r2 = measured("--store", str(tmp_path / "s"), "ingest", "--summary", "json", str(log))
    tried("memory: 1.5 GiB sparse tail (settled)", f"peak RSS {r2['rss'] / 2**20:.0f} MiB, {r2['wall']:.1f} s")
    (res2,) = json.loads(r2["out"])
    assert (res2["rows"], res2["duplicates"], res2["rejected"], res2["held_back"]) == (0, 1000, 1, 0)
    assert r2["rss"] < GIB and r2["wall"] < 60
