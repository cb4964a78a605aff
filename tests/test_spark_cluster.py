"""Reports on a standalone Spark cluster (`master = "spark://host:7077"`) equal DuckDB's.

The test starts a real standalone cluster on the loopback from pyspark's own
`spark-class`: a Master and one Worker, each a JVM, on free ports. The report
runs through the CLI, so its driver is the command's own JVM and the query runs
in an executor the Worker launched, a separate process that reads the store's
parts itself and starts its own Python for the report's UDFs, as on a trust's
cluster (where the store must be on storage every node can read).
Marked `spark` (deselect locally with -m "not spark"; CI runs them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_CONFIG, run_cli_subprocess
from tests.servers import free_port, stop_group
from tests.test_spark import sample  # noqa: F401 - the sample store fixture

# With the Spark Connect tests: their JVMs are servers of their own, so they run on
# another worker than tests/test_spark.py, at the same time.
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark-connect")]


def _start(home: Path, log: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
           "SPARK_LOG_DIR": str(log.parent), "SPARK_WORKER_DIR": str(log.parent / "work")}
    with log.open("wb") as out:
        return subprocess.Popen([str(home / "bin" / "spark-class"), *args], stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import pyspark

    home = Path(pyspark.__file__).parent
    logs = tmp_path_factory.mktemp("cluster")
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    master = _start(home, logs / "master.log", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(port), "--webui-port", str(free_port()))
    worker = None
    try:
        worker = _start(home, logs / "worker.log", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                        "--cores", "1", "--memory", "2g", "--webui-port", str(free_port()),
                        "--work-dir", str(logs / "work"), url)
        deadline = time.monotonic() + 180
        while "Successfully registered with master" not in (logs / "worker.log").read_text(errors="replace"):
            if master.poll() is not None or worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the standalone cluster did not start: "
                            + (logs / "master.log").read_text()[-1500:] + (logs / "worker.log").read_text()[-1500:])
            time.sleep(0.5)
        yield url, logs
    finally:
        for proc in (worker, master):
            if proc is not None:
                stop_group(proc)


def test_cli_report_on_a_standalone_cluster_equals_duckdb(cluster, sample, tmp_path):  # noqa: F811
    url, logs = cluster
    store, _ = sample
    config = tmp_path / "cluster.toml"
    config.write_text(SAMPLE_CONFIG.read_text() + f'\n[engine]\nkind = "spark"\nmaster = "{url}"\n')
    args = ("--store", str(store.root), "report", "blocked", "--from", "2026-10-26", "--to", "2026-11-06",
            "--format", "csv")
    env = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    # a process of its own: this worker may hold a local[*] session already (one classic master per process)
    on_cluster = run_cli_subprocess("--config", str(config), *args, env=env, timeout=600)
    assert on_cluster.code == 0, on_cluster.err[-2000:]
    assert on_cluster.out == (ROOT / "tests" / "golden" / "report_blocked.csv").read_text()
    assert "Traceback" not in on_cluster.err
    # the query ran in an executor the Worker launched, not in the driver
    apps = list((logs / "work").glob("app-*/*/stderr"))
    assert apps, "no executor was launched on the worker"
    assert any("Running task" in path.read_text(errors="replace") for path in apps)
