"""Scale run: the same data into the local store and into the S3 (Delta) store.

Starts a moto S3 server on localhost (the one the tests use), generates a squid log
of N lines (bench/gen.py, seeded), then measures through the library:

* ingest of the log into a local store and into s3://... (wall seconds, lines/s);
* reports (summary, social, top) over each store;
* the commit-protocol comparison of docs/scaling.md: the cost of reading the
  store's state after K small commits, for Delta's log (delta-rs, checkpoints
  every 100 commits) and for a manifest extended to object storage (one commit
  object per transaction created by a conditional put, read back by listing and
  fetching every one), on the same server.

    python bench/scale.py --lines 2000000 --commits 300 [--json out.json]

moto is an in-process Python S3 server on the same two cores: absolute S3 numbers
are a lower bound for a real service and the ratios say where time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import gen  # noqa: E402


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1")
    return proc, endpoint


def bucket(endpoint: str) -> str:
    import boto3

    name = f"bench-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return time.perf_counter() - t, value


def ingest_and_reports(store, log: Path, lines: int, day: date) -> dict:
    from ingest.pipeline import ingest_paths
    from surfaudit.config import Config
    from surfaudit.reports.run import run_report

    cfg = Config()
    with store.lock():
        secs, results = timed(lambda: ingest_paths(store, cfg, [log]))
    out = {"ingest_s": round(secs, 2), "ingest_lines_per_s": round(lines / secs), "rows": sum(r.rows for r in results)}
    size = sum(info.get("size") or 0 for info in store.live_files().values())
    out["bytes_per_row"] = round(size / max(out["rows"], 1), 1)
    for kind in ("summary", "social", "top"):
        secs, _ = timed(lambda: run_report(store, cfg, kind, day, day))
        out[f"report_{kind}_s"] = round(secs, 2)
    return out


def commit_protocols(endpoint: str, commits: int) -> dict:
    """State-read cost after `commits` tiny commits: Delta's log against manifest objects."""
    import boto3
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from surfaudit.store.s3 import Location

    name = bucket(endpoint)
    loc = Location.parse(f"s3://{name}/d", endpoint)
    table = pa.table({"ts": pa.array([0], pa.int64()), "month": ["2026-01"]})
    t = time.perf_counter()
    for _ in range(commits):
        write_deltalake(f"{loc.uri}/events", table, mode="append", partition_by=["month"],
                        storage_options=loc.storage_options())
    delta_commit = (time.perf_counter() - t) / commits
    read_delta, dt = timed(lambda: DeltaTable(f"{loc.uri}/events", storage_options=loc.storage_options()))
    read_delta_files, files = timed(lambda: dt.file_uris())
    history_s, _ = timed(lambda: dt.history())

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    t = time.perf_counter()
    for seq in range(1, commits + 1):  # the manifest extended: one commit object per transaction
        s3.put_object(Bucket=name, Key=f"m/manifest/{seq:012d}.json", Body=json.dumps({"seq": seq}).encode(),
                      IfNoneMatch="*")
    manifest_commit = (time.perf_counter() - t) / commits

    def read_manifest():
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix="m/manifest/")
                for o in page.get("Contents", [])]
        return [s3.get_object(Bucket=name, Key=k)["Body"].read() for k in keys]

    read_manifest_s, records = timed(read_manifest)
    return {"commits": commits, "delta_commit_ms": round(delta_commit * 1000, 1),
            "delta_open_state_s": round(read_delta + read_delta_files, 3), "delta_history_s": round(history_s, 3),
            "manifest_commit_ms": round(manifest_commit * 1000, 1), "manifest_read_state_s": round(read_manifest_s, 3),
            "files": len(files), "records": len(records)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--commits", type=int, default=300)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    from surfaudit.store import Store
    from surfaudit.store.delta import DeltaStore

    from ingest.pipeline import warm

    warm(jobs=os.cpu_count() or 1)  # the parsers' compiled scanners load once, before either measurement
    proc, endpoint = start_moto()
    try:
        with tempfile.TemporaryDirectory(prefix="surfaudit-scale-") as tmp:
            log = gen.write(gen.squid_lines(args.lines), Path(tmp) / "access.log")
            day = datetime.fromtimestamp(gen.day_start(), timezone.utc).date()
            local = ingest_and_reports(Store(Path(tmp) / "store"), log, args.lines, day)
            s3 = ingest_and_reports(DeltaStore(f"s3://{bucket(endpoint)}/trust"), log, args.lines, day)
        ratio = {k: round(s3[k] / local[k], 2) for k in local if k.endswith("_s") and local[k]}
        result = {"lines": args.lines, "local": local, "s3": s3, "s3_over_local": ratio,
                  "protocols": commit_protocols(endpoint, args.commits)}
    finally:
        proc.terminate()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
