"""bench/run.py's wrapper measures the whole process tree, not only the command's own process.

Spark's work happens in a JVM that pyspark starts beside the Python process; a peak
that counted only the largest process would leave it out (docs/spark.md).
"""

from __future__ import annotations

import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import run as harness  # noqa: E402  (bench/run.py)

CHILD = "import time; b = bytearray(300 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"


def test_the_peak_counts_a_helper_process_beside_the_command(tmp_path):
    parent = (f"import subprocess, sys; a = bytearray(200 << 20); a[::4096] = b'x' * len(a[::4096]); "
              f"subprocess.run([sys.executable, '-c', {CHILD!r}])")
    run = harness.measure([sys.executable, "-c", parent], tmp_path)
    assert run["rc"] == 0
    assert 300 <= run["maxrss_mib"] < 400  # the largest single process: the helper
    assert run["tree_rss_mib"] >= 500  # both at once
