"""Benchmark harness: ingest and report speed of the real `surfaudit` CLI.

    python bench/run.py --quick                 # small sizes, < 1 minute
    python bench/run.py --lines 5000000         # the figures in docs/performance.md
    python bench/run.py --lines 20000000 --only squid --no-gz   # memory check
    python bench/run.py --store-rows 30000000 --months 1 --only reports

Inputs are generated deterministically (bench/gen.py) under bench/out/ (gitignored)
and reused when present. Every measured command runs as `python -m surfaudit`
in a fresh store, spawned through a small wrapper process (`--measure`) whose only
child is that command, so the peak RSS it reports (getrusage RUSAGE_CHILDREN) is
that one run's. Each ingest is shown beside `cat`/`zcat` of the same file, timed
the same way, as the reference ratio.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))


def tree_rss_kib(root: int) -> int:
    """The summed resident set of `root` and all its descendants now (Linux /proc; 0 elsewhere)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else []:
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def measure_child(cmd: list[str]) -> None:
    """Wrapper mode: run `cmd`, print its wall time, exit code and peak RSS as JSON:
    `maxrss_mib` is the largest single process (getrusage), `tree_rss_mib` the peak of
    the whole process tree summed, sampled every 200 ms (it counts the JVM pyspark
    starts beside the Python process, and any other helper process; a sample walks
    /proc, so it is kept sparse not to take CPU from the run it measures)."""
    peak = 0
    done = threading.Event()

    def sample(pid: int) -> None:
        nonlocal peak
        while not done.wait(0.2):
            peak = max(peak, tree_rss_kib(pid))

    with open(os.devnull, "wb") as null:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=null, stderr=null)
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
        sampler.start()
        # the wall time ends when the command does (waiting here, not in the sampler's
        # sleep, so it is not rounded up to the next 200 ms sample)
        rc = proc.wait()
        wall = time.perf_counter() - t
        done.set()
        sampler.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"wall": wall, "rc": rc, "maxrss_mib": ru.ru_maxrss / 1024,
                      "tree_rss_mib": max(peak, ru.ru_maxrss) / 1024, "cpu": ru.ru_utime + ru.ru_stime}))


@functools.cache
def precompile() -> None:
    """Write the project's bytecode once, before the first measured run, as pip does when
    it installs a package: an editable checkout run with PYTHONDONTWRITEBYTECODE set (or
    from a read-only tree) would otherwise compile every surfaudit module again on each
    measured start (0.08 s of a report's wall time on the reference machine)."""
    import compileall

    for package in ("surfaudit", "ingest", "retention"):
        compileall.compile_dir(ROOT / package, quiet=1)


def measure(cmd: list[str], cwd: Path) -> dict:
    precompile()
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", "--", *cmd],
                         cwd=cwd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cli(store: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "surfaudit", "--store", str(store), *args]


def bench_ingest(name: str, path: Path, lines: int, out: Path, ref: str) -> dict:
    store = out / f"store-{name}"
    shutil.rmtree(store, ignore_errors=True)
    reference = measure(["sh", "-c", f"{ref} '{path}' > /dev/null"], out)
    run = measure(cli(store, "ingest", str(path)), out)
    shutil.rmtree(store, ignore_errors=True)
    if run["rc"] not in (0, 1):
        raise SystemExit(f"ingest of {path} failed (exit {run['rc']})")
    return {"run": f"ingest {name}", "lines": lines, "wall_s": run["wall"], "cpu_s": run["cpu"],
            "lines_per_s": lines / run["wall"], "peak_rss_mib": run["maxrss_mib"],
            "ref": ref, "ref_s": reference["wall"], "ratio": run["wall"] / reference["wall"]}


SOCIAL_SHARE = 0.10  # of requests to a social-media host: about what a school's proxy sees


def make_store(store: Path, rows: int, months: int, first: str = "2025-01", social: float = SOCIAL_SHARE) -> None:
    """A store of `rows` canonical rows spread evenly over `months` months, written
    through the store's Transaction API (one transaction per month); a share
    `social` of the requests go to the social-media hosts of bench/gen.py (the
    reports' heavy case: `report social` sessionises exactly those rows)."""
    import numpy as np
    import polars as pl

    import gen
    from surfaudit.schema import conform
    from surfaudit.store import Store

    shutil.rmtree(store, ignore_errors=True)
    st = Store(store).ensure()
    v = gen.vocab()
    users = pl.Series([u.replace("\\\\", "\\").lower() for u in v["users"]], dtype=pl.String)
    other = [h for h in v["hosts"].tolist() if h not in gen.SOCIAL]
    hosts, ips = pl.Series(other + gen.SOCIAL), pl.Series(v["ips"].tolist())
    y, m = map(int, first.split("-"))
    rng = np.random.default_rng(3)
    per_month = rows // months
    for k in range(months):
        yy, mm = y + (m - 1 + k) // 12, (m - 1 + k) % 12 + 1
        lo = datetime(yy, mm, 1, tzinfo=timezone.utc)
        hi = datetime(yy + mm // 12, mm % 12 + 1, 1, tzinfo=timezone.utc)
        span_us = int((hi - lo).total_seconds() * 1e6)
        txn = st.begin("ingest")
        done = 0
        while done < per_month:
            n = min(1_000_000, per_month - done)
            base = int(lo.timestamp() * 1e6)
            ts = base + ((np.arange(done, done + n) + rng.random(n)) * (span_us / per_month)).astype(np.int64)
            ui = (len(users) * rng.random(n) ** 2).astype(np.int64)
            hi_ = np.where(rng.random(n) < social, len(other) + rng.integers(0, len(gen.SOCIAL), n),
                           (len(other) * rng.random(n) ** 3).astype(np.int64))
            df = pl.DataFrame({
                "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")), "user": users.gather(ui),
                "client_ip": ips.gather(ui % len(ips)), "host": hosts.gather(hi_),
                "action": np.where(rng.random(n) < 0.05, "blocked", "allowed"),
                "status": rng.integers(200, 210, n).astype(np.int32), "bytes": rng.integers(0, 10**5, n),
            }).with_columns(
                pl.col("user").alias("username"), pl.lit("CONNECT").alias("method"),
                pl.concat_str(pl.col("host"), pl.lit(":443")).alias("url"), pl.lit(100).alias("elapsed_ms"),
                pl.lit(None, pl.String).alias("category"), pl.lit("squid").alias("source"),
            )
            txn.write(conform(df))
            done += n
        txn.commit({"file": f"bench-{yy}-{mm:02d}", "lines": per_month, "rows": per_month})


def bench_reports(rows: int, months: int, out: Path) -> list[dict]:
    store = out / f"store-reports-{rows}-{months}"
    if not (store / ".complete").exists():
        t = time.perf_counter()
        make_store(store, rows, months)
        (store / ".complete").write_text("")
        print(f"# generated store {rows} rows / {months} months in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    last = datetime(2025 + (months - 1) // 12, (months - 1) % 12 + 1, 28) + timedelta(days=4)
    d_to = (last.replace(day=1) - timedelta(days=1)).date().isoformat()
    res = []
    for kind in ("social", "blocked"):
        run = measure(cli(store, "report", kind, "--from", "2025-01-01", "--to", d_to,
                          "--format", "csv", "--output", str(out / f"report-{kind}.csv")), out)
        if run["rc"] != 0:
            raise SystemExit(f"report {kind} failed (exit {run['rc']})")
        res.append({"run": f"report {kind} ({months} mo)", "lines": rows, "wall_s": run["wall"], "cpu_s": run["cpu"],
                    "lines_per_s": rows / run["wall"], "peak_rss_mib": run["maxrss_mib"],
                    "ref": "", "ref_s": None, "ratio": None})
    return res


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--measure"]:
        return measure_child(argv[2:] if argv[1:2] == ["--"] else argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=5_000_000, help="lines per generated log")
    ap.add_argument("--store-rows", type=int, default=30_000_000, help="rows of the generated report store")
    ap.add_argument("--months", type=int, default=1, help="months the report store spans")
    ap.add_argument("--only", choices=["squid", "gz", "surfprotect", "ingest", "reports"], action="append")
    ap.add_argument("--no-gz", action="store_true", help="skip the .gz ingest")
    ap.add_argument("--quick", action="store_true", help="small sizes (200k lines, 2M-row store)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args(argv)
    if a.quick:
        a.lines, a.store_rows = 200_000, 2_000_000
    only = set(a.only or ["squid", "gz", "surfprotect", "reports"])
    if "ingest" in only:
        only |= {"squid", "gz", "surfprotect"}
    if a.no_gz:
        only.discard("gz")
    import gen

    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results = []
    n = a.lines
    # The parsers' scanners are compiled on first use and cached on disk (numba):
    # compile them here so that no measured run includes the one-time compile.
    subprocess.run([sys.executable, "-c", "import os; from ingest.pipeline import warm; warm(jobs=os.cpu_count() or 1)"], cwd=ROOT, check=True)
    if only & {"squid", "gz"}:
        plain = gen.ensure(out / f"squid-{n}.log", lambda: gen.write(gen.squid_lines(n), out / f"squid-{n}.log"))
        if "squid" in only:
            results.append(bench_ingest("squid", plain, n, out, "cat"))
        if "gz" in only:
            gz = gen.ensure(out / f"squid-{n}.log.gz", lambda: gen.write(gen.squid_lines(n), out / f"squid-{n}.log.gz", gz=True))
            results.append(bench_ingest("squid .gz", gz, n, out, "zcat"))
    if "surfprotect" in only:
        csv = gen.ensure(out / f"surfprotect-{n}.csv", lambda: gen.write(gen.surfprotect_lines(n), out / f"surfprotect-{n}.csv"))
        results.append(bench_ingest("surfprotect", csv, n, out, "cat"))
    if "reports" in only:
        results.extend(bench_reports(a.store_rows, a.months, out))
    if a.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'run':24s} {'lines':>11s} {'wall s':>8s} {'cpu s':>7s} {'lines/s':>11s} {'peak RSS':>9s}  reference")
    for r in results:
        ref = f"{r['ref']} {r['ref_s']:.2f} s (x{r['ratio']:.2f})" if r["ref_s"] else ""
        print(f"{r['run']:24s} {r['lines']:>11,d} {r['wall_s']:>8.2f} {r['cpu_s']:>7.2f} {r['lines_per_s']:>11,.0f} "
              f"{r['peak_rss_mib']:>6.0f} MiB  {ref}")


if __name__ == "__main__":
    main()
