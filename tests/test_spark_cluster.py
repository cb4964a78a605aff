"""Reports on a standalone Spark cluster (`master = "spark://host:7077"`) equal DuckDB's.

The test starts a real standalone cluster from pyspark's own `spark-class`: a
Master and two Workers, each a JVM, each Worker on an address of its own
(127.0.0.2, 127.0.0.3: one machine, but the executors are separate processes at
addresses of their own, apart from the driver's). The report runs through the CLI, so its driver is the command's own JVM
and the queries run in the executors the Workers launched, separate processes
that read the store's parts themselves (a local store: storage every node can
read) or get the months of an `s3://` store from the driver, and start their own
Python for the report's UDFs, as on a trust's cluster.
Marked `spark` (deselect locally with -m "not spark"; CI runs them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_CONFIG, SAMPLES, run_cli, run_cli_subprocess
from tests.servers import free_port, stop_group
from tests.test_spark import sample  # noqa: F401 - the sample store fixture

# With the Spark Connect tests: their JVMs are servers of their own, so they run on
# another worker than tests/test_spark.py, at the same time.
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark-connect")]


WORKERS = ("127.0.0.2", "127.0.0.3")


def _start(home: Path, log: Path, *args: str, host: str = "127.0.0.1") -> subprocess.Popen:
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": host, "SPARK_NO_DAEMONIZE": "1",
           "SPARK_LOG_DIR": str(log.parent), "SPARK_WORKER_DIR": str(log.parent / f"work-{host}")}
    with log.open("wb") as out:
        return subprocess.Popen([str(home / "bin" / "spark-class"), *args], stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, cwd=log.parent)


def _bindable(host: str) -> bool:
    try:
        with socket.socket() as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import pyspark

    if not all(_bindable(h) for h in WORKERS):  # Linux answers on all of 127/8; macOS only on 127.0.0.1
        pytest.skip(f"this system cannot bind {' and '.join(WORKERS)}")
    home = Path(pyspark.__file__).parent
    logs = tmp_path_factory.mktemp("cluster")
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    master = _start(home, logs / "master.log", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(port), "--webui-port", str(free_port()))
    workers: list[subprocess.Popen] = []
    try:
        for host in WORKERS:
            workers.append(_start(home, logs / f"worker-{host}.log", "org.apache.spark.deploy.worker.Worker",
                                  "--host", host, "--cores", "1", "--memory", "1g", "--webui-port", "0",
                                  "--work-dir", str(logs / f"work-{host}"), url, host=host))
        deadline = time.monotonic() + 180
        while not all("Successfully registered with master" in (logs / f"worker-{h}.log").read_text(errors="replace")
                      for h in WORKERS):
            if any(p.poll() is not None for p in [master, *workers]) or time.monotonic() > deadline:
                pytest.fail("the standalone cluster did not start: " + "".join(
                    p.read_text()[-1200:] for p in sorted(logs.glob("*.log"))))
            time.sleep(0.5)
        yield url, logs
    finally:
        for proc in [*workers, master]:
            stop_group(proc)


def _cluster_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "cluster.toml"
    config.write_text(SAMPLE_CONFIG.read_text() + f'\n[engine]\nkind = "spark"\nmaster = "{url}"\n')
    return config


def _on_cluster(config: Path, store: str, kind: str):
    """`surfaudit report KIND --format csv` over the sample range, in a process of its own:
    this pytest worker may hold a local[*] session already (one classic master per process).
    The driver waits for both executors before it schedules (spark-defaults.conf), so
    that both get tasks on a loaded machine too. The environment names a Spark Connect
    server (SPARK_REMOTE, SPARK_API_MODE) that the configured spark:// master overrides."""
    conf = config.parent / "spark-conf"
    conf.mkdir(exist_ok=True)
    (conf / "spark-defaults.conf").write_text("spark.scheduler.minRegisteredResourcesRatio 1.0\n"
                                              "spark.scheduler.maxRegisteredResourcesWaitingTime 120s\n")
    # SPARK_REMOTE (as a Databricks Connect user's shell has it) must not take the report
    # to Spark Connect: the configured master decides
    env = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable, "SURFAUDIT_NOW": "2026-11-24T08:00:00Z",
           "SPARK_CONF_DIR": str(conf), "SPARK_REMOTE": "sc://127.0.0.1:1", "SPARK_API_MODE": "connect"}
    return run_cli_subprocess("--config", str(config), "--store", store, "report", kind, "--from", "2026-10-26",
                              "--to", "2026-11-06", "--format", "csv", env=env, timeout=600)


def _executors_that_ran_tasks(logs: Path, host: str, before: set[Path]) -> list[Path]:
    """The stderr of each executor `host`'s Worker launched since `before` that ran a task."""
    found = set((logs / f"work-{host}").glob("app-*/*/stderr")) - before
    return [p for p in found if "Running task" in p.read_text(errors="replace")]


def test_cli_report_on_a_standalone_cluster_equals_duckdb(cluster, sample, tmp_path):  # noqa: F811
    """`report social` (windows, joins, shuffles between the two executors) gives the golden CSV."""
    url, logs = cluster
    store, _ = sample
    before = {p for h in WORKERS for p in (logs / f"work-{h}").glob("app-*/*/stderr")}
    run = _on_cluster(_cluster_config(tmp_path, url), str(store.root), "social")
    assert run.code == 0, run.err[-2000:]
    assert run.out == (ROOT / "tests" / "golden" / "report_social.csv").read_text()
    assert "Traceback" not in run.err
    # the queries ran in the executors both Workers launched, not in the driver
    for host in WORKERS:
        assert _executors_that_ran_tasks(logs, host, before), f"no executor on {host} ran a task"


def test_cli_report_over_an_s3_store_on_a_standalone_cluster(cluster, s3_store, tmp_path):
    """An `s3://` store (a real S3 API server) reported on the cluster: the driver reads the
    committed months and the executors compute; the CSV is the golden file."""
    url, logs = cluster
    ingest = run_cli("--config", str(SAMPLE_CONFIG), "--store", s3_store, "ingest", str(SAMPLES))
    assert ingest.code == 1 and "surfaudit: error" not in ingest.err  # the samples' malformed lines
    before = {p for h in WORKERS for p in (logs / f"work-{h}").glob("app-*/*/stderr")}
    run = _on_cluster(_cluster_config(tmp_path, url), s3_store, "blocked")
    assert run.code == 0, run.err[-2000:]
    assert run.out == (ROOT / "tests" / "golden" / "report_blocked.csv").read_text()
    assert "Traceback" not in run.err
    assert any(_executors_that_ran_tasks(logs, h, before) for h in WORKERS), "no executor of this run ran a task"
