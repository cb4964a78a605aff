"""Cold compile time and peak memory of each format's compiled scanners.

    python bench/compile.py                 # every format, each in a fresh cache
    python bench/compile.py --only fortigate

Each format is compiled in a process of its own with an empty cache directory
(NUMBA_CACHE_DIR), as the first run after an install does, then loaded again
from that cache, as every later run does. Printed per format: the compile time
(measured inside the process around `ingest.pipeline._warm_modules`), that
process's peak RSS, and the time to load the cached code. The first row is the
reader's newline search, which every format uses; a process that only imports
ingest is the baseline RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.pipeline import _SCANNERS, _VENDOR_SCANNERS  # noqa: E402

TARGETS = {"(imports only)": [], "reader": ["scan_util"], **{k: list(v) for k, v in _SCANNERS.items()},
           "vendor CSV": list(_VENDOR_SCANNERS), "squid logformat": ["squid_logformat_scan"],
           "syslog envelope": ["envelope_scan"]}
CHILD = """
import json, sys, time
from ingest import pipeline
from ingest.reader import make_batch
names = json.loads(sys.argv[1])
t = time.perf_counter()
pipeline._warm_modules(names)
if "scan_util" in names:  # the reader's newline search, compiled on the first batch
    make_batch(b"x\\n", 1, 0)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def run(names: list[str], cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
    env.pop("SURFAUDIT_NO_JIT", None)
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(names)], env=env, capture_output=True, text=True,
                         check=True).stdout
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # (this wrapper's only child)
    return {**json.loads(out.strip().splitlines()[-1]), "peak_rss_mib": peak / 1024}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", help="a format (repeatable)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    rows = []
    for label, names in TARGETS.items():
        if a.only and label not in a.only and label != "(imports only)":
            continue
        with tempfile.TemporaryDirectory(prefix="surfaudit-compile-") as cache:
            cold = _isolated(names, cache)
            warm = _isolated(names, cache)
        rows.append({"format": label, "modules": names, "compile_s": cold["seconds"], "peak_rss_mib": cold["rss"],
                     "cached_load_s": warm["seconds"], "cached_rss_mib": warm["rss"], "load": os.getloadavg()[0]})
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'format':18s} {'compile s':>9s} {'peak RSS':>9s} {'cached s':>8s} {'RSS':>8s}  load")
    for r in rows:
        print(f"{r['format']:18s} {r['compile_s']:9.1f} {r['peak_rss_mib']:6.0f} MiB {r['cached_load_s']:8.2f} "
              f"{r['cached_rss_mib']:5.0f} MiB  {r['load']:.1f}")


def _isolated(names: list[str], cache: str) -> dict:
    """One measurement in a wrapper process of its own, so that its children's peak RSS is this run's alone."""
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import compile as c; "
            f"r = c.run({names!r}, {cache!r}); print(json.dumps(r))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return {"seconds": r["seconds"], "rss": r["peak_rss_mib"]}


if __name__ == "__main__":
    main()
