"""Run the report queries on Apache Spark instead of DuckDB (`[engine] kind = "spark"`).

Why a connection look-alike: the store, `surfaudit.org_sql` and the reports talk
to "a connection" (register a table, create a view over the committed parts,
register a UDF, run a named query). `SparkConnection` offers that same small
surface over a Spark session, so every caller, and the store's reader pin,
works unchanged and the SQL stays the DuckDB files, translated by
`surfaudit.spark_sql`.

One JVM per process: `spark_session(master)` starts it once; each connection is
a `newSession()` of it, with its own temporary views and functions. The session
time zone is UTC, the UI is off and shuffles use few partitions (report-sized
data); `sc://` masters use Spark Connect (pyspark's connect extras).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from surfaudit import scratch
from surfaudit.errors import UsageError

_LOCK = threading.Lock()
_SESSIONS: dict[str, Any] = {}
_CLIENTS: "weakref.WeakSet[Any]" = weakref.WeakSet()  # Spark Connect clients to close at exit
SHUFFLE_PARTITIONS = 4
# The SQL settings every session needs (UTC like DuckDB's connection, report-sized
# shuffles, Arrow transfers). Set on each session, not only on the builder: a
# Spark Connect session made by newSession() starts from the server's defaults.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS),
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def check_available() -> None:
    """One line naming what to install when pyspark or Java is missing (exit 2)."""
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"--engine spark needs pyspark and sqlglot ({exc.name} is not installed): "
                         "pip install 'surfaudit[spark]'") from None
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and os.path.isfile(os.path.join(java_home, "bin", "java"))) and not shutil.which("java"):
        raise UsageError("--engine spark needs Java 17 or later: install a JRE "
                         "(Debian: apt-get install default-jre-headless)")


def spark_session(master: str = "local[*]"):
    """The process's Spark session for `master`, started on first use."""
    check_available()
    with _LOCK:
        if master in _SESSIONS:
            return _SESSIONS[master]
        running = [m for m in _SESSIONS if not m.startswith("sc://")]
        if running and not master.startswith("sc://"):  # getOrCreate would hand back that one, ignoring `master`
            raise UsageError(f"--engine spark: this process already runs Spark on {shown_master(running[0])}; "
                             f"it cannot also use {shown_master(master)}")
        from pyspark.sql import SparkSession

        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # UDF workers: this interpreter
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        local = master.startswith("local")
        if local:  # no network: bind the loopback only (a cluster's executors must reach the driver)
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        if not master.startswith("sc://") and not any(m.startswith("sc://") for m in _SESSIONS):
            _classic_environment()
        builder = SparkSession.builder
        if master.startswith("sc://"):
            # No builder options: a Connect builder sends them to the server at once,
            # with the default ten-minute retries. Each session sets SESSION_CONF itself.
            builder = builder.remote(master)
        else:
            builder = builder.appName("surfaudit")
            log4j = Path(__file__).with_name("spark_log4j2.properties")
            os.environ.setdefault("PYSPARK_SUBMIT_ARGS",
                                  f"--driver-java-options -Dlog4j2.configurationFile=file:{log4j} pyspark-shell")
            builder = (builder.master(master)
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false"))
            if local:
                builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
            # Spark would otherwise create ./spark-warehouse wherever the command runs, and
            # keep its local files (shuffles, the rows handed over as Arrow) in /tmp/spark-*:
            # both go in a scratch directory that a later run removes if this one is killed.
            # (A Connect server has its own and refuses the settings; a cluster's executors
            # use their Worker's directories.)
            warehouse = scratch.make("spark")
            atexit.register(scratch.remove, warehouse)
            builder = (builder.config("spark.sql.warehouse.dir", warehouse)
                       .config("spark.local.dir", os.path.join(warehouse, "local")))
            for key, value in SESSION_CONF.items():
                builder = builder.config(key, value)
        try:
            if master.startswith("sc://"):
                _reachable(master)
                spark = builder.create()  # getOrCreate would hand back a session to another server
                _bounded_connect(spark)
            else:
                spark = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - the JVM did not start, the server is not there: one line, exit 2
            raise UsageError(f"--engine spark: cannot start Spark ({shown_master(master)}): {_reason(exc)}") from None
        _SESSIONS[master] = spark
        return spark


# pyspark opens a Spark Connect session instead of starting the JVM a classic master
# needs when one of these is in the environment: SPARK_REMOTE (set for Databricks
# Connect, say), SPARK_CONNECT_MODE_ENABLED (which pyspark itself sets, and a child
# process inherits, once a process opened a Connect session), SPARK_API_MODE=connect.
_CONNECT_ENVIRONMENT = ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_API_MODE")


def _classic_environment() -> None:
    """`[engine] master` decides the engine, not the environment: for a classic master
    (local[*], spark://) drop what would turn pyspark to Spark Connect, for this process."""
    for name in _CONNECT_ENVIRONMENT:
        os.environ.pop(name, None)


def _reason(exc: BaseException) -> str:
    """One line for why Spark did not start; for gRPC (Spark Connect) its status and details."""
    seen: BaseException | None = exc
    while seen is not None:
        code, details = getattr(seen, "code", None), getattr(seen, "details", None)
        if callable(code) and callable(details):
            try:
                return f"{code().name.lower()}: {str(details()).splitlines()[0][:160]}"
            except Exception:  # noqa: BLE001, S110 - fall back to the message
                break
        seen = seen.__cause__ or seen.__context__
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


# gRPC goes through a proxy when one of these is set; a direct probe would then say
# nothing about whether the server can be reached.
_PROXY_ENVIRONMENT = ("grpc_proxy", "https_proxy", "http_proxy", "GRPC_PROXY", "HTTPS_PROXY", "HTTP_PROXY")
CONNECT_PROBE_SECONDS = 5.0
CONNECT_RETRIES = {"max_retries": 6, "max_backoff": 5000}  # about 15 s for a server that answers, then drops


def _reachable(master: str) -> None:
    """Nothing listening at a Spark Connect URL fails in a moment, not after the
    client's retries (they are for a server that answers and then drops): one TCP
    connect to its host and port, unless gRPC is to use a proxy."""
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(name) for name in _PROXY_ENVIRONMENT):
        return
    url = urlparse(shown_master(master))
    try:
        host, port = url.hostname, url.port or 15002
    except ValueError:
        raise OSError("the port in the URL is not a number") from None
    if not host:
        raise OSError("the URL names no host (sc://host:15002)")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_PROBE_SECONDS):
            pass
    except socket.timeout:
        raise OSError(f"no answer from {host}:{port} in {CONNECT_PROBE_SECONDS:g} s") from None
    except OSError as exc:
        raise OSError(f"{host}:{port}: {(exc.strerror or str(exc)).lower()}") from None


def _bounded_connect(spark) -> None:
    """A Spark Connect client retries an unreachable server for at least ten minutes
    by default, and again at exit; a report should fail in seconds instead. So: fewer
    retries (about 15 s in all; a port nothing listens on fails before, in
    `_reachable`), one round trip now so a wrong URL fails here, and the
    channel closed at exit without the cleanup calls that would retry a gone server."""
    import warnings

    from pyspark.sql.connect.client.retries import DefaultPolicy

    # its "retries exceeded" warning would print a second message after ours
    warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]", category=UserWarning)

    spark.client.set_retry_policies([DefaultPolicy(**CONNECT_RETRIES)])
    if not _CLIENTS:
        atexit.register(_close_clients)
    _CLIENTS.add(spark.client)
    spark.version  # noqa: B018 - a round trip to the server


def _close_clients() -> None:
    for client in list(_CLIENTS):
        try:
            client.close()
        except Exception:  # noqa: BLE001, S110 - at exit, a channel that will not close is left to the OS
            pass


class _Relation:
    """What `con.read_parquet(files)` returns: enough to `create_view` over the files."""

    def __init__(self, con: "SparkConnection", files: list[str]):
        self.con, self.files = con, files

    def create_view(self, name: str, replace: bool = True, site: str | None = None) -> None:
        """The canonical columns, in order; with `site`, only the rows that site's ingest
        wrote (parts older than the site column read it as null, as on DuckDB)."""
        from pyspark.sql import functions as F

        from surfaudit.schema import EVENT_SCHEMA

        reader = self.con.spark.read
        if site is not None:  # parts older than the column lack it: merge the footers' schemas
            reader = reader.option("mergeSchema", "true")
        df = reader.parquet(*self.files)
        if site is not None:
            stored = F.col("site") if "site" in df.columns else F.lit(None).cast("string")
            df = df.filter(stored == F.lit(site))  # a bound literal, not SQL text
        self.con.spark_view(name, df.select(*EVENT_SCHEMA))


class SparkConnection:
    """A Spark session with the part of DuckDB's connection API the store and reports use."""

    engine = "spark"

    def __init__(self, master: str = "local[*]"):
        self.spark = spark_session(master).newSession()
        self.remote = master.startswith("sc://")
        if self.remote:  # a new Connect session has a client (channel, retries) of its own
            _bounded_connect(self.spark)
        for key, value in SESSION_CONF.items():
            self.spark.conf.set(key, value)
        self.views: list[str] = []

    # -- what the store and org_sql call ------------------------------------------
    def read_parquet(self, files: list[str]) -> _Relation:
        return _Relation(self, [str(f) for f in files])

    def register(self, name: str, table: pa.Table) -> None:
        if table.num_rows:
            self.spark_view(name, self.spark.createDataFrame(table))
            return
        # An empty table: Spark Connect cannot infer a schema from no rows, so give it.
        from pyspark.sql.pandas.types import from_arrow_schema

        self.spark_view(name, self.spark.createDataFrame([], schema=from_arrow_schema(table.schema)))

    def spark_view(self, name: str, df) -> None:
        df.createOrReplaceTempView(name)
        if name not in self.views:
            self.views.append(name)

    def has_view(self, name: str) -> bool:
        return self.spark.catalog.tableExists(name)

    def execute(self, sql: str) -> "SparkConnection":
        """A DDL statement written for DuckDB (SET TimeZone, CREATE/ALTER VIEW)."""
        from surfaudit.spark_sql import translate

        text = sql.strip()
        if text.upper().startswith("SET TIMEZONE"):
            return self  # the session time zone is UTC already
        if text.upper().startswith("ALTER VIEW"):
            _, _, old, _, _, new = text.split()
            self.spark_view(new, self.spark.table(old))
            self.spark.catalog.dropTempView(old)
            return self
        head, sep, body = text.partition(" AS ")
        words = head.upper().split()
        if sep and words[:1] == ["CREATE"] and "VIEW" in words:
            name = head.split()[-1]
            self.spark_view(name, self.spark.sql(translate(body)))
            return self
        raise ValueError(f"statement not supported on the Spark engine: {text[:60]!r}")

    sql = execute  # the export sets the time zone with con.sql(...)

    def create_function(self, name: str, fn, *args, **kwargs) -> None:
        """Register a scalar string -> string Python function (the UDFs of reports and org_sql)."""
        from pyspark.sql.types import StringType

        inner = getattr(fn, "__wrapped__", fn)  # an lru_cache wrapper does not pickle; its function does
        self.spark.udf.register(name, lambda value: inner(value), StringType())

    def remove_function(self, name: str) -> None:
        return None  # registering again replaces it

    def close(self) -> None:
        for name in self.views:
            self.spark.catalog.dropTempView(name)
        self.views.clear()
        if self.remote:  # release this Connect session on the server (the local one shares the JVM)
            try:
                self.spark.stop()
            except Exception:  # noqa: BLE001, S110 - the server evicts idle sessions itself
                pass

    # -- the one place a query runs ---------------------------------------------
    def run_query(self, name: str, params: dict[str, Any]) -> pl.DataFrame:
        """Run the Spark form of query `name` with bound named parameters."""
        from surfaudit.spark_sql import spark_query

        query = spark_query(name)
        args = {p: _arg(params[p]) for p in query.params}
        df = self.spark.sql(query.sql, args=args)
        table = df.toArrow()
        return pl.from_arrow(table) if table.num_rows or table.num_columns else pl.DataFrame()


def _arg(value: Any):
    """A bound parameter for spark.sql(args=...): lists as array literals, None as NULL."""
    from pyspark.sql import functions as F

    if isinstance(value, (list, tuple)):
        if not value:
            return F.array()  # the query casts it (a cast here is refused as a parameter)
        return F.array(*[F.lit(v) for v in value])
    if value is None:
        return F.lit(None)
    return value


def shown_master(master: str) -> str:
    """`master` fit to print: a Spark Connect URL's parameters (`sc://host:15002/;token=…`) may hold a credential."""
    return master.split("/;", 1)[0].split(";", 1)[0]
