"""Which SQL engine runs the report and export queries: DuckDB (default) or Spark.

Why one function: the reports and the export open "a connection" in one place
each; `connect` gives them DuckDB's, or a `surfaudit.spark_engine.SparkConnection`
(with the same small API) when `[engine] kind = "spark"` or `--engine spark` says
so. pyspark is imported only then, so DuckDB users never need it.
"""

from __future__ import annotations

import duckdb

from surfaudit.errors import UsageError

KINDS = ("duckdb", "spark")


def engine_kind(cfg, engine: str | None = None) -> str:
    """The engine `engine` (else the config's `[engine] kind`) names, checked without
    starting it: a caller validates everything before `connect` starts a JVM."""
    kind = (engine or cfg.engine.kind).strip().lower()
    if kind not in KINDS:
        raise UsageError(f"--engine: expected one of {', '.join(KINDS)}, got {engine!r}")
    return kind


def connect(cfg, engine: str | None = None):
    """A connection for `engine` (else the config's `[engine] kind`)."""
    kind = engine_kind(cfg, engine)
    if kind == "duckdb":
        return local(cfg)
    from surfaudit.spark_engine import SparkConnection, check_available

    check_available()
    return SparkConnection(cfg.engine.master)


def local(cfg) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection within `[engine] memory_limit`, spilling to a private directory:
    the reports' and the small look-ups' (the users listing, --user suggestions) alike."""
    return duckdb.connect(config={"memory_limit": cfg.engine.memory_limit, "temp_directory": _spill_dir()})


_SPILL: list[str] = []


def _spill_dir() -> str:
    """Where DuckDB may spill what exceeds `[engine] memory_limit`: a directory of its
    own (DuckDB creates it when it first spills and removes it when the connection
    closes) inside one private temporary directory of this process (0700: spilled
    rows are personal data), removed at exit."""
    if not _SPILL:
        import atexit

        from surfaudit import scratch

        _SPILL.append(scratch.make("spill"))
        atexit.register(scratch.remove, _SPILL[0])
    import uuid

    return f"{_SPILL[0]}/{uuid.uuid4().hex}"
