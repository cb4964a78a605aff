"""Scale run of the engines: `report social` and `report blocked` on DuckDB and on
Spark (local mode) over one generated month, through the real CLI.

    python bench/spark.py                   # the full size: a 30 M-row month
    python bench/spark.py --rows 3000000    # what a shared 2-core box manages quickly
    python bench/spark.py --rows 100000000 --engines duckdb   # DuckDB alone at 100 M rows

The month's requests go 10 % to social-media hosts (`--social`), about what a
school's proxy sees, so `report social` has real sessions to build.

The store is generated once (bench/run.py's make_store, under bench/out/) and
reused. Each report runs as `python -m surfaudit ... --engine E` in its own
process (so Spark's time includes starting its JVM, as a user sees it), measured
by bench/run.py's wrapper (wall, CPU of the command's reaped processes, peak
RSS of its largest process, and the peak of the whole process tree summed,
sampled: for Spark that includes the JVM, which does the work). The two CSVs must be byte-identical, else the run fails. Prints a
table (or --json) with the Spark/DuckDB wall-time ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import run as harness  # noqa: E402  (bench/run.py: make_store, measure, cli)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=30_000_000, help="rows of the generated month")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--kinds", default="social,blocked")
    ap.add_argument("--engines", default="duckdb,spark", help="duckdb alone for sizes Spark local cannot manage here")
    ap.add_argument("--social", type=float, default=harness.SOCIAL_SHARE, help="share of requests to social media")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / f"store-reports-{args.rows}-1-social{round(args.social * 100)}"
    if not (store / ".complete").exists():
        t = time.perf_counter()
        harness.make_store(store, args.rows, 1, social=args.social)
        (store / ".complete").write_text("")
        print(f"# generated store {args.rows} rows / 1 month in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    # the reference, timed in the same run: a bare DuckDB read of the columns the reports
    # scan, so figures from machines of different speed can be compared
    bare = ("import duckdb, sys; duckdb.execute(\"select user, count(*), min(ts), max(ts) from "
            "read_parquet(?) where action = 'allowed' group by user\", [sys.argv[1]]).fetchall()")
    reference = harness.measure([sys.executable, "-c", bare, str(store / "events" / "**" / "*.parquet")], args.out)
    print(f"# reference: bare DuckDB read of the month {reference['wall']:.2f} s", file=sys.stderr)
    results = []
    for kind in args.kinds.split(","):
        runs = {}
        engines = args.engines.split(",")
        for engine in engines:
            csv = args.out / f"engines-{kind}-{engine}.csv"
            run = harness.measure(harness.cli(store, "report", kind, "--from", "2025-01-01", "--to", "2025-01-31",
                                              "--format", "csv", "--output", str(csv), "--engine", engine), args.out)
            if run["rc"] != 0:
                raise SystemExit(f"report {kind} --engine {engine} failed (exit {run['rc']})")
            runs[engine] = run | {"csv": csv.read_bytes()}
        same = all(runs[e]["csv"] == runs[engines[0]]["csv"] for e in engines)
        if not same:
            raise SystemExit(f"report {kind}: the Spark CSV differs from DuckDB's")
        results.append({
            "report": kind, "rows": args.rows, "social_share": args.social, "identical_csv": same,
            "csv_rows": runs[engines[0]]["csv"].count(b"\n") - 1, "bare_read_s": round(reference["wall"], 2),
            **{f"{e}_wall_s": round(runs[e]["wall"], 2) for e in runs},
            **{f"{e}_cpu_s": round(runs[e]["cpu"], 2) for e in runs},
            **{f"{e}_peak_rss_mib": round(runs[e]["maxrss_mib"]) for e in runs},
            **{f"{e}_tree_rss_mib": round(runs[e]["tree_rss_mib"]) for e in runs},
            **({"spark_over_duckdb": round(runs["spark"]["wall"] / runs["duckdb"]["wall"], 1)}
               if {"spark", "duckdb"} <= set(runs) else {}),
        })
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'report':8} {'rows':>11} {'engine':>7} {'wall s':>8} {'cpu s':>8} {'MiB':>6} {'tree MiB':>8}  csv rows")
    for r in results:
        for e in ("duckdb", "spark"):
            if f"{e}_wall_s" in r:
                print(f"{r['report']:8} {r['rows']:>11,} {e:>7} {r[e + '_wall_s']:>8} {r[e + '_cpu_s']:>8} "
                      f"{r[e + '_peak_rss_mib']:>6} {r[e + '_tree_rss_mib']:>8}  {r['csv_rows']:,}")
        if "duckdb_wall_s" in r:
            print(f"{r['report']:8} DuckDB / bare read ({r['bare_read_s']} s): {r['duckdb_wall_s'] / r['bare_read_s']:.1f}")
        if "spark_over_duckdb" in r:
            print(f"{r['report']:8} Spark / DuckDB: {r['spark_over_duckdb']} (identical CSVs)")


if __name__ == "__main__":
    main()
