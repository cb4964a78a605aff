"""Reports and the export over Spark Connect (`master = "sc://host:port"`) equal DuckDB's.

The tests start a real Spark Connect server on the loopback (pyspark's own
`spark-submit` of `SparkConnectServer`, local mode, a free port) and talk to it
through `pyspark[connect]`, as a trust's cluster would be reached. A Connect
session is not the process's own JVM: it starts from the server's settings
(surfaudit sets the session's time zone itself) and cannot take an empty
in-memory table without its schema; both went wrong before these tests.
Marked `spark` (deselect locally with -m "not spark"; CI runs them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_CONFIG, run_cli
from tests.servers import free_port, stop_group
from tests.test_spark import SAMPLE_RANGE, sample  # noqa: F401 - the sample store fixture

# Its own group: the Connect server is a JVM of its own and the client needs none, so
# these run on another worker than tests/test_spark.py, at the same time.
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark-connect")]
pytest.importorskip("pyspark.sql.connect.session")
pytest.importorskip("grpc")


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory):
    import pyspark

    home = Path(pyspark.__file__).parent
    port = free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    log4j = ROOT / "surfaudit" / "spark_log4j2.properties"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
             "--name", "surfaudit-test-connect", "--master", "local[2]",
             "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
             "--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.ui.enabled=false",
             "--conf", "spark.sql.session.timeZone=America/Los_Angeles",  # not UTC: surfaudit must set its own
             "--driver-java-options", f"-Dlog4j2.configurationFile=file:{log4j}", "spark-internal"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            cwd=log.parent)  # its ./spark-warehouse goes there, not in the checkout
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Spark Connect server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop_group(proc)


def _csv(store, cfg, kind, engine, master, **kw) -> str:
    from surfaudit import render
    from surfaudit.reports.run import run_report

    cfg = replace(cfg, engine=replace(cfg.engine, kind=engine, master=master or cfg.engine.master))
    with store.reading():
        return render.report_text(run_report(store, cfg, kind, *SAMPLE_RANGE, **kw), "csv")


# Every report once: the SQL is the one tests/test_spark.py runs locally with its
# options (--flagged, --user); what differs over Connect is the session and the tables.
CASES = [
    ("social", {}), ("blocked", {}), ("top", {"by": "host"}), ("top", {"by": "domain"}), ("summary", {}),
]


@pytest.mark.parametrize("kind,kw", CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_every_report_over_spark_connect_equals_duckdb(connect_url, sample, kind, kw):  # noqa: F811
    store, cfg = sample
    duck = _csv(store, cfg, kind, "duckdb", None, **kw)
    assert _csv(store, cfg, kind, "spark", connect_url, **kw) == duck
    assert duck.count("\n") > 1


def test_export_over_spark_connect_equals_duckdb(connect_url, sample):  # noqa: F811
    from surfaudit.export.csv_export import render_csv
    from surfaudit.export.data import gather

    store, cfg = sample
    out = {}
    for engine, master in (("duckdb", None), ("spark", connect_url)):
        c = replace(cfg, engine=replace(cfg.engine, kind=engine, master=master or cfg.engine.master))
        with store.reading():
            out[engine] = render_csv(gather(store, c, "amorgan", *SAMPLE_RANGE))
    assert out["spark"] == out["duckdb"] and out["spark"].count(b"\n") > 2


def test_cli_with_a_connect_master_in_the_config(connect_url, sample, tmp_path):  # noqa: F811
    store, _ = sample
    config = tmp_path / "surfaudit.toml"
    config.write_text(SAMPLE_CONFIG.read_text() + f'\n[engine]\nkind = "spark"\nmaster = "{connect_url}"\n')
    run = run_cli("--config", str(config), "--store", str(store.root), "report", "blocked",
                  "--from", "2026-10-26", "--to", "2026-11-06", "--format", "csv")
    assert run.code == 0, run.err
    assert run.out == (ROOT / "tests" / "golden" / "report_blocked.csv").read_text()
    assert "Traceback" not in run.err and "Warning" not in run.err


def test_an_unreachable_connect_server_is_one_line_exit_2(sample, tmp_path):  # noqa: F811
    store, _ = sample
    config = tmp_path / "surfaudit.toml"
    config.write_text(SAMPLE_CONFIG.read_text() + f'\n[engine]\nkind = "spark"\nmaster = "sc://127.0.0.1:{free_port()}"\n')
    run = run_cli("--config", str(config), "--store", str(store.root), "report", "summary",
                  "--from", "2026-10-26", "--to", "2026-11-06")
    assert run.code == 2, (run.code, run.err)
    assert run.err.strip().count("\n") == 0 and "Traceback" not in run.err and "sc://127.0.0.1" in run.err
    assert "connection refused" in run.err  # found by the probe, before the client's retries


def _listener(handle):
    """A loopback TCP server on a free port whose connections `handle(conn)` deals with."""
    import threading

    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            handle(conn)

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_the_probe_names_what_is_wrong_with_the_url_or_the_port(monkeypatch):
    from surfaudit import spark_engine

    for name in spark_engine._PROXY_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(OSError, match="connection refused"):
        spark_engine._reachable(f"sc://127.0.0.1:{free_port()}/;token=secret")
    with pytest.raises(OSError, match="not a number"):
        spark_engine._reachable("sc://127.0.0.1:port")
    with pytest.raises(OSError, match="names no host"):
        spark_engine._reachable("sc://:15002")
    server = _listener(lambda conn: conn.close())
    try:
        spark_engine._reachable(f"sc://127.0.0.1:{server.getsockname()[1]}/;token=secret")  # it answers: no error
    finally:
        server.close()
    # Through a proxy the probe would prove nothing: it is left to gRPC and its retries.
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:1")
    spark_engine._reachable(f"sc://127.0.0.1:{free_port()}")


def test_a_server_that_answers_and_hangs_up_fails_after_the_bounded_retries(monkeypatch):
    from surfaudit import spark_engine
    from surfaudit.errors import UsageError

    for name in spark_engine._PROXY_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(spark_engine, "CONNECT_RETRIES", {"max_retries": 2, "max_backoff": 200})
    server = _listener(lambda conn: conn.close())  # TCP accepted, no gRPC: the client retries, then gives up
    master = f"sc://127.0.0.1:{server.getsockname()[1]}"
    try:
        with pytest.raises(UsageError, match=r"cannot start Spark \(sc://127\.0\.0\.1:\d+\): unavailable"):
            spark_engine.spark_session(master)
    finally:
        server.close()
    assert master not in spark_engine._SESSIONS
