"""The store on object storage, against a real S3 API server (moto) on localhost.

Every command on an s3:// store (the README quickstart end to end), exactly-once
per source file, concurrent writers on both backends, and SIGKILL trials.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from surfaudit.errors import StoreError
from tests.conftest import ROOT, SAMPLES, run_cli, squid_line, utc

pytestmark = pytest.mark.s3

NOW = "2026-11-24T08:00:00Z"
T0 = utc(2026, 11, 2, 9, 0)


def lines(start: int, count: int, user: str = "u") -> str:
    return "".join(squid_line(T0 + timedelta(seconds=10 * i), user=f"{user}{i % 7}") + "\n"
                   for i in range(start, start + count))


def sa(store: str, *args, config: Path | None = None, env: dict | None = None, cwd: Path = ROOT):
    pre = ["--config", str(config)] if config else []
    return run_cli(*pre, "--store", store, *args, cwd=cwd, env={"SURFAUDIT_NOW": NOW, **(env or {})})


def open_s3(uri: str, site: str = ""):
    from surfaudit.store.delta import DeltaStore

    return DeltaStore(uri, site=site)


def rows_of(store, sql: str = "select count(*) from events"):
    con = duckdb.connect()
    store.events_view(con)
    return con.execute(sql).fetchall()


def test_other_uri_schemes_are_refused_never_taken_for_a_path(tmp_path):
    run = run_cli("--store", "gs://trust/sa", "report", "summary", cwd=tmp_path)
    assert run.code == 2 and "gs:// stores are not supported" in run.err
    assert not (tmp_path / "gs:").exists()


def test_plain_http_endpoint_only_for_this_machine():
    from surfaudit.errors import ConfigError
    from surfaudit.store.s3 import Location

    assert Location.parse("s3://b1x/p", "http://127.0.0.1:9000").storage_options()["AWS_ALLOW_HTTP"] == "true"
    with pytest.raises(ConfigError, match="plain http"):
        Location.parse("s3://b1x/p", "http://minio.example.org:9000")
    assert "AWS_ALLOW_HTTP" not in Location.parse("s3://b1x/p", "https://minio.example.org").storage_options()


def test_a_missing_bucket_is_one_line_exit_2(s3_server):
    run = sa("s3://no-such-bucket-here/sa", "report", "summary")
    assert run.code == 2 and "no such bucket" in run.err and "Traceback" not in run.err


def test_quickstart_and_every_command_on_s3(s3_store, tmp_path):
    """The README quickstart against S3, then every other command on the same store."""
    cfg = SAMPLES / "surfaudit.toml"
    first = sa(s3_store, "ingest", "sample_logs/", config=cfg)
    assert first.code == 1 and "surfaudit: error" not in first.err  # the samples' malformed lines
    span = ("--from", "2026-10-26", "--to", "2026-11-06")
    report = sa(s3_store, "report", "social", *span, config=cfg)
    assert report.code == 0 and "FLAGGED" in report.out and "c.nguyen" in report.out

    local = tmp_path / "local"  # the same data in a local store: the same reports
    sa(str(local), "ingest", "sample_logs/", config=cfg)
    for kind in ("social", "blocked", "top", "summary"):
        on_s3 = sa(s3_store, "report", kind, *span, "--format", "csv", config=cfg)
        on_disk = sa(str(local), "report", kind, *span, "--format", "csv", config=cfg)
        assert on_s3.code == on_disk.code == 0
        assert on_s3.out == on_disk.out, kind

    again = sa(s3_store, "ingest", "sample_logs/", "--summary", "json", config=cfg)
    assert again.code == 0 and '"rows": 0' in again.out  # exactly once

    out = tmp_path / "inv.csv"
    export = sa(s3_store, "export", "--user", "c.nguyen", "--reason", "HR case 7", "--from", "2026-10-01",
                "--to", "2026-11-24", "--output", str(out), config=cfg)
    assert export.code == 0, export.err
    same = tmp_path / "inv-local.csv"
    sa(str(local), "export", "--user", "c.nguyen", "--reason", "HR case 7", "--from", "2026-10-01",
       "--to", "2026-11-24", "--output", str(same), config=cfg)
    assert out.read_text().count("\n") > 10 and out.read_text() == same.read_text()

    audit = sa(s3_store, "audit", "--format", "csv", config=cfg)
    assert audit.code == 0 and "export" in audit.out and "HR case 7" in audit.out and "ingest" in audit.out

    verify = sa(s3_store, "verify", config=cfg)
    assert verify.code == 0 and "ok" in verify.out

    store = open_s3(s3_store)
    total = rows_of(store)[0][0]
    assert total == 5236
    # nightly: ingest (nothing new), purge, compaction into one file per month, check
    nightly = sa(s3_store, "nightly", "sample_logs/", config=cfg)
    assert nightly.code in (0, 1), nightly.err
    assert "compact:" in nightly.out + nightly.err
    assert all(len(rels) == 1 for rels in store.month_parts().values())
    assert rows_of(store)[0][0] == total

    # purge --exact with a short policy: October goes, November is trimmed at the cutoff
    short = tmp_path / "short.toml"
    assert "months = 1200" in cfg.read_text()
    short.write_text(cfg.read_text().replace("months = 1200", "months = 1"))
    dry = sa(s3_store, "purge", "--dry-run", config=short, env={"SURFAUDIT_NOW": "2026-12-03T12:00:00Z"})
    assert dry.code == 0 and "2026-10" in dry.out
    purge = sa(s3_store, "purge", "--exact", config=short, env={"SURFAUDIT_NOW": "2026-12-03T12:00:00Z"})
    assert purge.code == 0, purge.err
    assert "removed 2026-10" in purge.out and "trimmed 2026-11" in purge.out
    left = rows_of(store, "select count(*), min(ts) from events")[0]
    assert left[0] > 0 and left[1] >= utc(2026, 11, 3, 12, 0)
    assert store.months() == ["2026-11"]


def test_purge_physically_deletes_after_the_grace_period(s3_store, tmp_path):
    from surfaudit.config import Config, Retention
    from retention import purge_delta

    log = tmp_path / "access.log"
    log.write_text(lines(0, 50))
    assert sa(s3_store, "ingest", str(log)).code == 0
    store = open_s3(s3_store)
    store.grace_hours = 0
    before = [n for n, _, _ in store.objects.list("events/month=2026-11/")]
    assert before
    purge_delta.purge(store, Config(retention=Retention(months=1)), now=utc(2027, 1, 5))
    assert rows_of(store)[0][0] == 0
    assert [n for n, _, _ in store.objects.list("events/month=")] == []  # gone from the bucket


# -- exactly-once per source file -----------------------------------------------------------

def test_exactly_once_refeed_rename_gzip_rotation(s3_store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 100))
    assert sa(s3_store, "ingest", str(log)).code == 0
    assert sa(s3_store, "ingest", str(log)).code == 0  # the same file again
    renamed = tmp_path / "copy-of-access.log"
    shutil.copy(log, renamed)
    assert sa(s3_store, "ingest", str(renamed)).code == 0
    with open(log, "a") as fh:  # the live file grows ...
        fh.write(lines(100, 40))
    assert sa(s3_store, "ingest", str(log)).code == 0
    rotated = tmp_path / "access.log.1.gz"  # ... and is rotated, compressed, with more lines
    with gzip.open(rotated, "wt") as fh:
        fh.write(lines(0, 160))
    log.write_text(lines(1000, 30))
    assert sa(s3_store, "ingest", str(rotated), str(log)).code == 0
    store = open_s3(s3_store)
    count, distinct = rows_of(store, "select count(*), count(distinct (ts, user)) from events")[0]
    assert (count, distinct) == (190, 190)


def test_two_runs_on_the_same_source_at_once_store_it_once(s3_store, tmp_path):
    """The checkpoint version is claimed by a conditional put: of two runs, one stores it."""
    log = tmp_path / "access.log"
    log.write_text(lines(0, 20000))
    procs = [subprocess.Popen([sys.executable, "-m", "surfaudit", "--store", s3_store, "ingest", str(log)],
                              cwd=ROOT, env={**os.environ, "SURFAUDIT_NOW": NOW},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        p.communicate(timeout=300)
    assert sa(s3_store, "ingest", str(log)).code == 0  # a loser's rerun resumes after the winner
    assert rows_of(open_s3(s3_store))[0][0] == 20000


# -- many writers ---------------------------------------------------------------------------

def _school(tmp_path: Path, k: int, store: str) -> tuple[Path, Path]:
    conf = tmp_path / f"school{k}.toml"
    conf.write_text(f'[store]\npath = "{store}"\n[ingest]\nsite = "school-{k}"\nsettle_seconds = 0\n')
    log = tmp_path / f"school{k}" / "access.log"
    log.parent.mkdir()
    log.write_text(lines(k * 10_000, 3000 + k, user=f"s{k}u"))
    return conf, log


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_four_nightly_writers_at_once_exact_rows(backend, s3_server, tmp_path, request):
    """Four schools' nightly runs (separate processes) into one store at the same time."""
    store_uri = request.getfixturevalue("s3_store") if backend == "s3" else str(tmp_path / "store")
    schools = [_school(tmp_path, k, store_uri) for k in range(4)]
    procs = [subprocess.Popen([sys.executable, "-m", "surfaudit", "--config", str(conf), "nightly", "--wait", "300",
                               str(log)], cwd=ROOT, env={**os.environ, "SURFAUDIT_NOW": NOW},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for conf, log in schools]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, (out, err)
    if backend == "s3":
        got = dict(rows_of(open_s3(store_uri), "select site, count(*) from events group by 1"))
        assert got == {f"school-{k}": 3000 + k for k in range(4)}
        con = duckdb.connect()
        open_s3(store_uri).events_view(con, site="school-2")  # what report --proxy-site reads
        assert con.execute("select count(*) from events").fetchone()[0] == 3002
    else:
        from surfaudit.store import Store

        assert rows_of(Store(store_uri))[0][0] == sum(3000 + k for k in range(4))


# -- SIGKILL trials ---------------------------------------------------------------------------

# The child of a timed trial marks each named step it reaches in a file (`begin` of
# an ingest transaction, `write` of a spooled batch, `upload`, `put` (a lease or checkpoint claim), `commit`/`committed`,
# `delete`/`deleted`, `sweep`) and waits at the last step before its audit entry (`gate`)
# until killed. So a kill `delay` s after the first step always lands while the run is
# still working: mid-step, or at that known point; never after it exited.
TIMED_CHILD = r"""
import sys, time
marks, args = sys.argv[1], sys.argv[2:]
import deltalake
from surfaudit.store import delta, delta_write, s3
def mark(text):
    with open(marks, "a") as fh:
        fh.write(text + "\n")
def watch(owner, name, label, done=None):
    real = getattr(owner, name)
    def wrapped(*a, **k):
        mark(label)
        if label == "gate":
            while True:
                time.sleep(60)
        out = real(*a, **k)
        if done:
            mark(done)
        return out
    setattr(owner, name, wrapped)
watch(delta.DeltaStore, "begin", "begin")
watch(delta_write.DeltaTransaction, "write", "write")
watch(s3.Objects, "upload", "upload")
watch(s3.Objects, "put", "put")
watch(delta.DeltaStore, "commit_actions", "commit", "committed")
watch(deltalake.DeltaTable, "delete", "delete", "deleted")
watch(delta.DeltaStore, "sweep", "sweep")
watch(delta.DeltaStore, "append_audit", "gate")
from surfaudit.cli import main
sys.argv = ["surfaudit", *args]
main()
"""


def _kill_after(args: list[str], start: str, delay: float, marks: Path, now: str = NOW) -> list[str]:
    """Run the CLI in TIMED_CHILD; SIGKILL it `delay` s after it reaches step `start`.
    Returns the steps it had reached; fails unless the kill landed while it worked."""
    proc = subprocess.Popen([sys.executable, "-c", TIMED_CHILD, str(marks), *args], cwd=ROOT,
                            env={**os.environ, "SURFAUDIT_NOW": now},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    reached = lambda: marks.read_text().split() if marks.exists() else []  # noqa: E731
    deadline = time.monotonic() + 120
    while start not in reached() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    still_working = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    code = proc.wait(60)
    err = proc.stderr.read() if proc.stderr else ""
    assert start in reached(), f"never reached {start}: {err[-500:]}"
    assert still_working and code == -signal.SIGKILL, f"exited with {code} before the kill: {err[-500:]}"
    return reached()


@pytest.mark.parametrize("delay", [0.1, 0.5, 2.0])  # parsing; spooling to committing; at the gate
def test_sigkill_during_ingest_on_s3_converges(s3_store, tmp_path, delay):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 200_000))
    steps = _kill_after(["--store", s3_store, "ingest", str(log)], "begin", delay, tmp_path / "marks")
    store = open_s3(s3_store)
    before = rows_of(store)[0][0] if store.exists() else 0
    if "committed" in steps:
        assert before == 200_000, steps
    elif "commit" not in steps:
        assert before == 0, steps  # killed before the commit: nothing stored
    else:
        assert before in (0, 200_000), steps  # killed inside the commit: all or nothing
    rerun = sa(s3_store, "ingest", str(log))
    assert rerun.code == 0, rerun.err
    assert rows_of(store)[0][0] == 200_000
    assert sa(s3_store, "verify").code == 0


@pytest.mark.parametrize("delay", [0.03, 0.08, 1.0])  # the lease; the delete's commit; at the gate
def test_sigkill_during_purge_exact_on_s3_converges(s3_store, tmp_path, delay):
    log = tmp_path / "access.log"
    spread = "".join(squid_line(utc(2026, 10, 1) + timedelta(minutes=20 * i), user=f"u{i % 5}") + "\n"
                     for i in range(4000))
    log.write_text(spread)
    assert sa(s3_store, "ingest", str(log), env={"SURFAUDIT_NOW": "2026-11-30T00:00:00Z"}).code == 0
    conf = tmp_path / "c.toml"
    conf.write_text(f'[store]\npath = "{s3_store}"\n[retention]\nmonths = 1\n')
    env = {"SURFAUDIT_NOW": "2026-12-10T00:00:00Z"}
    steps = _kill_after(["--config", str(conf), "purge", "--exact"], "put", delay, tmp_path / "marks",
                        env["SURFAUDIT_NOW"])
    store = open_s3(s3_store)
    expected = sum(1 for i in range(4000) if utc(2026, 10, 1) + timedelta(minutes=20 * i) >= utc(2026, 11, 10))
    total = rows_of(store)[0][0]
    if "deleted" in steps:
        assert total == expected, steps
    elif "delete" not in steps:
        assert total == 4000, steps  # killed before the delete: nothing removed
    else:
        assert total in (4000, expected), steps  # killed inside the delete's commit
    again = sa(s3_store, "purge", "--exact", config=conf, env=env)
    assert again.code == 0, again.err
    left, oldest = rows_of(store, "select count(*), min(ts) from events")[0]
    assert left == expected and oldest >= utc(2026, 11, 10)
    assert sa(s3_store, "verify").code == 0


# Deterministic kill points: the child patches one step of the S3 store to SIGKILL
# itself there (before or after an upload, the checkpoint claim, the Delta commit,
# the purge's delete commit, its vacuum), then the test checks that the store reads,
# and that a rerun converges to exactly the right rows.
CHILD = r"""
import os, signal, sys
uri, op, log, point = sys.argv[1:5]
from surfaudit.store import delta, delta_upkeep, delta_write, s3
def killer(owner, name, after):
    real = getattr(owner, name)
    def wrapped(*a, **k):
        if not after:
            os.kill(os.getpid(), signal.SIGKILL)
        out = real(*a, **k)
        os.kill(os.getpid(), signal.SIGKILL)
    setattr(owner, name, wrapped)
where, _, when = point.partition(":")
owner = {"upload": s3.Objects, "put": s3.Objects, "commit_actions": delta.DeltaStore,
         "sweep": delta.DeltaStore}[where]
killer(owner, where, when == "after")
from surfaudit.cli import main
sys.argv = ["surfaudit", *op.split("|"), log]
main()
"""


def _child(uri: str, op: str, arg: str, point: str, now: str) -> int:
    proc = subprocess.run([sys.executable, "-c", CHILD, uri, op, arg, point], cwd=ROOT,
                          env={**os.environ, "SURFAUDIT_NOW": now}, capture_output=True, text=True, timeout=300)
    return proc.returncode


@pytest.mark.parametrize("point", ["upload:before", "upload:after", "put:after", "commit_actions:before",
                                   "commit_actions:after"])
def test_sigkill_at_each_step_of_an_s3_ingest(s3_store, tmp_path, point):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 5000))
    assert _child(s3_store, f"--store|{s3_store}|ingest", str(log), point, NOW) == -signal.SIGKILL
    store = open_s3(s3_store)
    before = rows_of(store)[0][0] if store.exists() else 0
    assert before == (5000 if point == "commit_actions:after" else 0)  # all or nothing
    rerun = sa(s3_store, "ingest", str(log), "--summary", "json")
    assert rerun.code == 0, rerun.err
    assert rows_of(store)[0][0] == 5000
    assert sa(s3_store, "verify").code == 0


@pytest.mark.parametrize("point", ["put:before", "put:after", "sweep:before", "sweep:after"])
def test_sigkill_at_each_step_of_an_s3_purge(s3_store, tmp_path, point):
    """put: the purge's first object, its upkeep lease (before: nothing done; after: the
    lease is left behind by a dead run); sweep: between the delete commit and the vacuum,
    and after the vacuum before the audit entry."""
    log = tmp_path / "access.log"
    log.write_text("".join(squid_line(utc(2026, 10, 1) + timedelta(minutes=20 * i), user=f"u{i % 5}") + "\n"
                           for i in range(4000)))
    assert sa(s3_store, "ingest", str(log), env={"SURFAUDIT_NOW": "2026-11-30T00:00:00Z"}).code == 0
    conf = tmp_path / "c.toml"
    conf.write_text(f'[store]\npath = "{s3_store}"\n[retention]\nmonths = 1\n')
    now = "2026-12-10T00:00:00Z"
    assert _child(s3_store, f"--config|{conf}|purge", "--exact", point, now) == -signal.SIGKILL
    store = open_s3(s3_store)
    assert rows_of(store)[0][0] in (4000, sum(1 for i in range(4000)
                                             if utc(2026, 10, 1) + timedelta(minutes=20 * i) >= utc(2026, 11, 10)))
    again = sa(s3_store, "purge", "--exact", config=conf, env={"SURFAUDIT_NOW": now})
    assert again.code == 0, again.err
    left, oldest = rows_of(store, "select count(*), min(ts) from events")[0]
    assert oldest >= utc(2026, 11, 10)
    assert left == sum(1 for i in range(4000) if utc(2026, 10, 1) + timedelta(minutes=20 * i) >= utc(2026, 11, 10))
    assert sa(s3_store, "verify").code == 0


def test_quarantine_and_repair_on_s3(s3_store, tmp_path):
    from surfaudit.store import delta_upkeep

    log = tmp_path / "access.log"
    log.write_text(lines(0, 30) + "this is not a squid line\n" + lines(30, 10))
    assert sa(s3_store, "ingest", str(log)).code == 1  # one line rejected
    shown = sa(s3_store, "quarantine", "--format", "csv")
    assert shown.code == 0, shown.err
    assert "this is not a squid line" in shown.out
    store = open_s3(s3_store)
    assert len(store.quarantine_files()) == 1 and store.disk_bytes() > 0
    # a damaged part: verify names it, --repair copies it to damaged/ and drops it from the
    # table by one commit; the other part's rows stay readable and the audit log says so
    (rel,) = store.live_parts()  # the first log's part
    more = tmp_path / "more.log"
    more.write_text(lines(5000, 12, user="v"))
    assert sa(s3_store, "ingest", str(more)).code == 0
    assert rows_of(store)[0][0] == 52
    store.objects.put(rel, b"garbage")
    bad = sa(s3_store, "verify")
    assert bad.code == 1 and f"{rel}: " in bad.out and "Traceback" not in bad.err
    repair = sa(s3_store, "verify", "--repair")
    assert repair.code == 1 and f"set aside {rel}" in repair.out and "Traceback" not in repair.err, repair.out
    assert rel not in store.live_parts() and rows_of(store)[0][0] == 12  # the second log's rows
    name = rel.split("/", 1)[1].replace("/", "-")
    assert store.objects.get(f"damaged/{name}") == b"garbage"
    assert sa(s3_store, "verify").code == 0
    assert "setting aside 1 damaged parts: " + rel in sa(s3_store, "audit", "--format", "csv").out
    with pytest.raises(StoreError, match="not a committed part"):
        delta_upkeep.set_aside(store, [rel], "test")
    # retention deletes the kept copy with its month: nothing yet, all of it two years on
    from retention.purge_delta import purge
    from surfaudit.config import Config

    assert purge(store, Config(store_path=store.root)).damaged_deleted == []
    assert store.objects.get(f"damaged/{name}") == b"garbage"
    gone = purge(store, Config(store_path=store.root), now=utc(2028, 12, 1))
    assert gone.damaged_deleted == [f"damaged/{name}"] and store.objects.get(f"damaged/{name}") is None
    assert rows_of(store)[0][0] == 0  # and the month's rows


def test_repair_on_s3_of_a_missing_file_and_of_a_commit_that_fails(s3_store, tmp_path, monkeypatch):
    import deltalake

    from surfaudit.store import delta_upkeep
    from surfaudit.store.delta import DeltaStore

    (tmp_path / "a.log").write_text(lines(0, 20))
    assert sa(s3_store, "ingest", str(tmp_path / "a.log")).code == 0
    store = open_s3(s3_store)
    (rel,) = store.live_parts()
    (tmp_path / "b.log").write_text(lines(3000, 10, user="w"))
    assert sa(s3_store, "ingest", str(tmp_path / "b.log")).code == 0
    store.objects.put(rel, b"garbage")

    def fails(self, *args, **kwargs):
        raise deltalake.exceptions.CommitFailedError("a concurrent writer removed it first")

    with monkeypatch.context() as m:  # the commit fails: its copy is deleted again, nothing changes
        m.setattr(DeltaStore, "commit_actions", fails)
        with pytest.raises(StoreError, match="left as it was"):
            delta_upkeep.set_aside(store, [rel], "test")
    assert rel in store.live_parts() and store.objects.list("damaged/") == []
    store.objects.delete([rel])  # missing: nothing to copy, still dropped by the commit
    repair = sa(s3_store, "verify", "--repair")
    assert repair.code == 1 and f"{rel}: committed part is missing" in repair.out
    assert f"set aside {rel} (missing, nothing to copy, dropped from the table by a commit)" in repair.out
    assert rows_of(store)[0][0] == 10 and store.objects.list("damaged/") == []
    assert sa(s3_store, "verify").code == 0


def test_a_stale_lease_is_taken_over_by_one_run_only(s3_store):
    """Two runs that judged the same lease stale: only the first deletes it. Without the
    marker, the second would delete the first's fresh lease and both would hold one."""
    import json as _json

    store = open_s3(s3_store)
    stale = _json.dumps({"host": "gone", "pid": 1, "at": "2020-01-01T00:00:00+00:00"}).encode()
    assert store.objects.put("upkeep.lease", stale, if_absent=True)
    assert store.objects.take_over("upkeep.lease", stale)  # run A
    fresh = b'{"host": "a", "pid": 2, "at": "2999-01-01T00:00:00+00:00"}'
    assert store.objects.put("upkeep.lease", fresh, if_absent=True)  # A holds it now
    assert not store.objects.take_over("upkeep.lease", stale)  # run B, late, judged the old body
    assert store.objects.get("upkeep.lease") == fresh


def test_a_lease_left_with_our_own_pid_is_a_dead_run(s3_store):
    """Containers start each cron run as the same pid: a lease naming our pid on this host
    was left by a killed run, not held by us."""
    import json as _json
    import socket

    from surfaudit.store.delta import _now

    store = open_s3(s3_store)
    left = _json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "at": _now().isoformat()}).encode()
    assert store.objects.put("upkeep.lease", left, if_absent=True)
    with store.upkeep(wait=0):
        held = _json.loads(store.objects.get("upkeep.lease"))
        assert held["pid"] == os.getpid() and held["at"] != _json.loads(left)["at"]
    assert store.objects.get("upkeep.lease") is None
