"""Benchmark every input format through the real CLI.

    python bench/formats.py --lines 2000000            # every format
    python bench/formats.py --lines 2000000 --only e2guardian --only squid-syslog

The generators live beside this file in `gen_*.py` modules, each exposing
GENERATORS = {label: {"format": NAME, "config": TOML text or "", "write": fn(n, path)}}.
Each input is generated once under bench/out/ (gitignored) and ingested by
`python -m surfaudit --config C --store S ingest --format NAME FILE` in a fresh
store, measured by bench/run.py's wrapper (wall time, peak RSS of that one run).
Beside it, in the same run, the references: `cat` of the file and a bare DuckDB
read of it (`read_csv` of every line as one column, counted), so the figures can
be compared across machines.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from run import measure  # noqa: E402

DUCKDB_READ = (
    "import duckdb, sys; "
    "print(duckdb.sql(\"select count(*) from read_csv(?, columns={'line': 'VARCHAR'}, header=false, "
    "delim=chr(0), quote='', escape='', auto_detect=false, strict_mode=false)\", params=[sys.argv[1]]).fetchone()[0])"
)


def generators() -> dict[str, dict]:
    found: dict[str, dict] = {}
    for module_path in sorted(HERE.glob("gen_*.py")):
        module = importlib.import_module(module_path.stem)
        found.update(getattr(module, "GENERATORS", {}))
    return found


def bench_one(label: str, spec: dict, n: int, out: Path) -> dict:
    path = out / f"{label}-{n}.log"
    if not path.exists():
        tmp = path.with_suffix(".part")
        spec["write"](n, tmp)
        tmp.rename(path)
    config = out / f"{label}.toml"
    config.write_text(spec.get("config") or "")
    store = out / f"store-{label}"
    shutil.rmtree(store, ignore_errors=True)
    cat = measure(["sh", "-c", f"cat '{path}' > /dev/null"], out)
    duck = measure([sys.executable, "-c", DUCKDB_READ, str(path)], out)
    cmd = [sys.executable, "-m", "surfaudit", "--config", str(config), "--store", str(store),
           "ingest", "--format", spec["format"], str(path)]
    run = measure(cmd, out)
    shutil.rmtree(store, ignore_errors=True)
    if run["rc"] not in (0, 1):
        raise SystemExit(f"ingest of {path} failed (exit {run['rc']})")
    return {"run": label, "format": spec["format"], "lines": n, "wall_s": run["wall"], "cpu_s": run["cpu"],
            "lines_per_s": n / run["wall"], "peak_rss_mib": run["maxrss_mib"],
            "cat_s": cat["wall"], "duckdb_s": duck["wall"]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--only", action="append", help="a generator label (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the generator labels")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    gens = generators()
    if a.list:
        print("\n".join(f"{k}  (--format {v['format']})" for k, v in gens.items()))
        return
    unknown = set(a.only or []) - set(gens)
    if unknown:
        raise SystemExit(f"unknown generator(s): {', '.join(sorted(unknown))} (known: {', '.join(gens)})")
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", "import os; from ingest.pipeline import warm; warm(jobs=os.cpu_count() or 1)"], cwd=ROOT, check=True)
    results = [bench_one(label, spec, a.lines, out) for label, spec in gens.items() if not a.only or label in a.only]
    if a.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'run':26s} {'lines':>10s} {'wall s':>7s} {'lines/s':>11s} {'peak RSS':>9s}  {'cat s':>6s} {'duckdb s':>8s}")
    for r in results:
        print(f"{r['run']:26s} {r['lines']:>10,d} {r['wall_s']:>7.2f} {r['lines_per_s']:>11,.0f} "
              f"{r['peak_rss_mib']:>6.0f} MiB  {r['cat_s']:>6.2f} {r['duckdb_s']:>8.2f}")


if __name__ == "__main__":
    main()
