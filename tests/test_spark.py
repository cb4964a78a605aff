"""Reports and the export's data on Apache Spark (local mode) equal DuckDB's byte for byte.

One Spark session (one JVM) serves the whole test session. Each case renders a
report's CSV (the bytes `surfaudit report --format csv` writes) on both engines
from the same store: the shipped sample logs, and a generated month holding the
UK's autumn clock change with a schedule edge inside the repeated hour.
Marked `spark` so a developer can deselect them locally (`-m "not spark"`);
CI runs them.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date, datetime, timezone

import numpy as np
import polars as pl
import pytest

from tests.conftest import ROOT, SAMPLE_CONFIG, SAMPLES, run_cli
from surfaudit.config import load_config, parse_config

# One worker, so one JVM, under --dist loadgroup; pytest 9.2 defeats that grouping silently
# (pytest-dev/pytest-xdist#1386), so today each worker that gets a Spark test starts its own.
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]
SAMPLE_RANGE = (date(2026, 10, 26), date(2026, 11, 6))


@pytest.fixture(scope="session")
def spark():
    from surfaudit.spark_engine import spark_session

    return spark_session("local[*]")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from surfaudit.store import Store

    path = tmp_path_factory.mktemp("spark") / "store"
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(path), "ingest", str(SAMPLES))
    assert run.code == 1, run.err  # the samples carry malformed lines on purpose
    return Store(path), load_config(SAMPLE_CONFIG, path)


def _csv(store, cfg, engine: str, kind: str, d1, d2, **kw) -> str:
    from surfaudit import render
    from surfaudit.reports.run import run_report

    cfg = replace(cfg, engine=replace(cfg.engine, kind=engine))
    with store.reading():
        return render.report_text(run_report(store, cfg, kind, d1, d2, **kw), "csv")


def _same(store, cfg, kind, d1, d2, **kw) -> str:
    duck = _csv(store, cfg, "duckdb", kind, d1, d2, **kw)
    spark = _csv(store, cfg, "spark", kind, d1, d2, **kw)
    assert spark == duck
    return duck


SAMPLE_CASES = [
    ("social", SAMPLE_RANGE, {}),
    ("social", (date(2026, 10, 25), date(2026, 10, 27)), {}),  # the clock change of 25 Oct 2026
    ("blocked", SAMPLE_RANGE, {}),
    ("blocked", SAMPLE_RANGE, {"user": "bokafor"}),
    ("blocked", (date(2026, 11, 2), date(2026, 11, 2)), {}),
    ("top", SAMPLE_RANGE, {"by": "host"}),
    ("top", SAMPLE_RANGE, {"by": "domain"}),
    ("top", SAMPLE_RANGE, {"by": "category", "limit": 5}),
    ("top", SAMPLE_RANGE, {"by": "user", "user": "e walsh"}),
    ("summary", SAMPLE_RANGE, {}),
]


@pytest.mark.parametrize("kind,days,kw", SAMPLE_CASES,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SAMPLE_CASES)])
def test_sample_reports_spark_csv_equals_duckdb(spark, sample, kind, days, kw):
    store, cfg = sample
    text = _same(store, cfg, kind, *days, **kw)
    assert text.count("\n") > 1  # a header and rows: the comparison is not of two empty tables
    if kind in ("social", "blocked", "summary", "top") and not kw and days == SAMPLE_RANGE:
        golden = (ROOT / "tests" / "golden" / f"report_{kind}{'_host' if kind == 'top' else ''}.csv").read_text()
        assert text == golden


# one with a space and an address (a plain name, amorgan, is the Spark Connect test's;
# --user on the reports: blocked and top above). `--flagged` is not a case: it filters
# the engine's rows in polars afterwards, the same code on both engines.
@pytest.mark.parametrize("user", ["e walsh", "10.20.1.11"])
def test_export_csv_spark_equals_duckdb(spark, sample, user):
    from surfaudit.export.csv_export import render_csv
    from surfaudit.export.data import gather

    store, cfg = sample
    out, timetable = {}, {}
    for engine in ("duckdb", "spark"):
        c = replace(cfg, engine=replace(cfg.engine, kind=engine))
        with store.reading():
            inv = gather(store, c, user, *SAMPLE_RANGE)
        out[engine], timetable[engine] = render_csv(inv), inv.timetable
    assert out["spark"] == out["duckdb"]
    assert out["spark"].count(b"\n") > 2
    # the timetable the HTML and workbook state and draw (queries/person_timetable.sql)
    assert timetable["spark"].to_dicts() == timetable["duckdb"].to_dicts()
    assert timetable["duckdb"]["date"].n_unique() == (SAMPLE_RANGE[1] - SAMPLE_RANGE[0]).days + 1


# -- a generated month with the autumn clock change ----------------------------------------

GEN_CONFIG = """
[schedule]
timezone = "Europe/London"
workdays = ["mon", "tue", "wed", "thu", "fri", "sun"]
work_hours = "01:30-17:00"
breaks = ["01:40-01:50", "12:00-13:00"]
[social]
domains = ["facebook.com", "youtube.com"]
ignore_hosts = ["static.facebook.com"]
[blocked]
burst_seconds = 60
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """October 2025 (UK clocks go back on Sunday 26 Oct), four people, dense around 01:00-02:30."""
    from surfaudit.schema import conform
    from surfaudit.store import Store

    store = Store(tmp_path_factory.mktemp("gen") / "store").ensure()
    rng = np.random.default_rng(16)
    n = 40_000
    lo = datetime(2025, 10, 1, tzinfo=timezone.utc)
    span = (datetime(2025, 11, 1, tzinfo=timezone.utc) - lo).total_seconds()
    secs = np.sort(rng.random(n) * span)
    # a third of the rows in 00:00-03:00 UTC on the clock-change weekend
    dst = datetime(2025, 10, 25, 23, tzinfo=timezone.utc).timestamp() - lo.timestamp()
    secs[: n // 3] = np.sort(dst + rng.random(n // 3) * 4 * 3600)
    secs = np.sort(secs)
    hosts = np.array(["www.facebook.com", "m.youtube.com", "static.facebook.com", "www.bbc.co.uk",
                      "intranet.school.uk", "www.tiktok.com"])
    users = np.array(["amy", "bob", "cat", "dan"])
    df = pl.DataFrame({
        "ts": pl.Series((lo.timestamp() * 1e6 + secs * 1e6).astype(np.int64)).cast(pl.Datetime("us", "UTC")),
        "user": users[rng.integers(0, 4, n)],
        "client_ip": "10.0.0.9",
        "host": hosts[rng.integers(0, len(hosts), n)],
        "action": np.where(rng.random(n) < 0.15, "blocked", "allowed"),
        "status": 200, "bytes": rng.integers(0, 10**6, n),
    }).with_columns(pl.col("user").alias("username"), pl.lit("GET").alias("method"),
                    (pl.lit("http://") + pl.col("host") + pl.lit("/")).alias("url"),
                    pl.lit(5).alias("elapsed_ms"), pl.lit(None, pl.String).alias("category"),
                    pl.lit("squid").alias("source"))
    txn = store.begin("ingest")
    txn.write(conform(df))
    txn.commit({"file": "generated-2025-10", "lines": n, "rows": n})
    cfg = replace(parse_config(tomllib.loads(GEN_CONFIG)), store_path=store.root)
    return store, cfg


GEN_CASES = [
    ("social", (date(2025, 10, 1), date(2025, 10, 31)), {}),
    ("social", (date(2025, 10, 25), date(2025, 10, 27)), {"user": "amy"}),
    ("blocked", (date(2025, 10, 1), date(2025, 10, 31)), {}),
    ("top", (date(2025, 10, 26), date(2025, 10, 26)), {"by": "domain"}),
    ("summary", (date(2025, 10, 1), date(2025, 10, 31)), {}),
]


@pytest.mark.parametrize("kind,days,kw", GEN_CASES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(GEN_CASES)])
def test_generated_month_spark_csv_equals_duckdb(spark, generated, kind, days, kw):
    store, cfg = generated
    text = _same(store, cfg, kind, *days, **kw)
    assert text.count("\n") > 1


def test_clock_change_day_is_25_hours_on_both_engines(spark, generated):
    """On 26 Oct 2025 the work day 01:30-17:00 starts in the repeated hour: DuckDB (ICU)
    takes its later occurrence, and so must Spark, whose Java default is the earlier."""
    from surfaudit.spark_engine import SparkConnection
    from surfaudit.sql import run_query
    import duckdb

    store, cfg = generated
    from surfaudit.org_sql import prepare
    from surfaudit.sql import dated_params, schedule_params, social_params

    d = date(2025, 10, 26)
    params = {**dated_params(cfg, d, d, "amy"), **schedule_params(cfg), **social_params(cfg)}
    out = {}
    for name, con in (("duckdb", duckdb.connect()), ("spark", SparkConnection("local[*]"))):
        with store.reading():
            store.events_view(con, params["utc_from"].replace(tzinfo=timezone.utc),
                              params["utc_to"].replace(tzinfo=timezone.utc), records=store.manifest())
            prepare(con, cfg, d, d)
            out[name] = run_query(con, "social_segments", params)
        con.close()
    assert out["spark"].equals(out["duckdb"])
    # some of amy's pieces on that date are in the break 01:40-01:50 GMT (the later 01:40)
    pieces = out["duckdb"].filter((pl.col("date") == d) & (pl.col("period") == "in_break"))
    assert pieces.height > 0


def test_proxy_site_on_spark_equals_duckdb_with_a_part_older_than_the_site_column(spark, tmp_path, monkeypatch):
    """`--proxy-site` on Spark: the same rows as DuckDB, also when some parts have no site column."""
    from surfaudit.store import Store
    from tests.test_site_column import ingest_as, ingest_before_site_column, log_of

    store = Store(tmp_path / "store")
    ingest_before_site_column(store, monkeypatch, "north", log_of(tmp_path, "a.log", 0, 30))
    ingest_as(store, "south", log_of(tmp_path, "b.log", 1000, 12))
    ingest_as(store, "north", log_of(tmp_path, "c.log", 2000, 7))
    cfg = replace(parse_config({}), store_path=store.root)
    days = (date(2026, 11, 1), date(2026, 11, 10))
    south = _same(store, cfg, "top", *days, by="user", proxy_site="south")
    assert sum(int(line.split(",")[1]) for line in south.splitlines()[1:]) == 12
    north = _same(store, cfg, "top", *days, by="user", proxy_site="north")  # the old part's rows have no site
    assert sum(int(line.split(",")[1]) for line in north.splitlines()[1:]) == 7


# -- the command line ---------------------------------------------------------------------------

def test_cli_engine_spark_report_csv_equals_golden(spark, sample, tmp_path):
    store, _ = sample
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store.root), "report", "blocked",
                  "--from", "2026-10-26", "--to", "2026-11-06", "--format", "csv", "--engine", "spark")
    assert run.code == 0, run.err
    assert run.out == (ROOT / "tests" / "golden" / "report_blocked.csv").read_text()
    assert "Traceback" not in run.err and "ERROR" not in run.err


def test_cli_engine_spark_without_java_is_one_line_exit_2(sample, tmp_path):
    store, _ = sample
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {"PATH": str(bin_dir), "JAVA_HOME": str(tmp_path / "nojava")}
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store.root), "report", "social",
                  "--from", "2026-10-26", "--to", "2026-11-06", "--engine", "spark", env=env)
    assert run.code == 2
    assert run.err.strip().count("\n") == 0 and "Java" in run.err and "Traceback" not in run.err


def test_a_second_classic_master_in_one_process_is_refused(spark, monkeypatch):
    """getOrCreate would silently hand back the running local[*] session for a spark:// master."""
    from surfaudit import spark_engine
    from surfaudit.errors import UsageError

    assert spark_engine.spark_session("local[*]") is spark
    with pytest.raises(UsageError, match=r"already runs Spark on local\[\*\]; it cannot also use spark://head:7077"):
        spark_engine.spark_session("spark://head:7077")


def test_sparks_files_live_in_a_scratch_directory_a_later_run_sweeps(spark, sample):
    """The warehouse, Spark's local directories and pyspark's temporary files (where
    createDataFrame writes the rows a report hands over) are under one locked scratch
    directory of this process, not in /tmp/spark-*, so a killed run's are swept."""
    import os

    from surfaudit import scratch

    store, cfg = sample
    _csv(store, cfg, "spark", "blocked", *SAMPLE_RANGE)  # hands the org tables over as Arrow
    root = spark.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
    assert os.path.basename(root).startswith(f"surfaudit-spark-{os.getpid()}-") and root in scratch._held
    assert spark.sparkContext.getConf().get("spark.local.dir") == os.path.join(root, "local")
    temp = spark.sparkContext._temp_dir
    assert os.path.realpath(temp).startswith(os.path.realpath(root) + os.sep)
    assert os.path.isdir(temp)


def test_config_engine_kind_spark_and_master_are_read():
    cfg = parse_config(tomllib.loads('[engine]\nkind = "spark"\nmaster = "spark://head:7077"\n'))
    assert (cfg.engine.kind, cfg.engine.master) == ("spark", "spark://head:7077")
    assert parse_config({}).engine.kind == "duckdb"
