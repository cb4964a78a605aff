"""`[engine] memory_limit`: DuckDB's memory for a report or export, spilling to a
private place, and a query over it ends in one line, not a traceback.

The limit keeps a 100 M-row month's `report social` under 1 GiB (docs/scaling.md);
these tests check the parts on the shipped samples: the key's default and check,
the connection's settings, where spilled rows may go, the CSV unchanged under a
small limit, and the error under a limit no query fits.
"""

from __future__ import annotations

import os
import stat

import pytest

from tests.conftest import SAMPLE_CONFIG, SAMPLES, run_cli
from surfaudit import engine
from surfaudit.config import Config, parse_config

RANGE = ("--from", "2026-10-26", "--to", "2026-11-06")


def _config(tmp_path, limit: str):
    path = tmp_path / "surfaudit.toml"
    path.write_text(SAMPLE_CONFIG.read_text() + f'\n[engine]\nmemory_limit = "{limit}"\n')
    return path


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("mem") / "store"
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store), "ingest", str(SAMPLES))
    assert run.code == 1, run.err  # the samples carry malformed lines on purpose
    return store


def test_default_and_a_bad_value(tmp_path):
    assert Config().engine.memory_limit == "600MB"
    assert parse_config({"engine": {"memory_limit": "4 GB"}}).engine.memory_limit == "4 GB"
    run = run_cli("--config", str(_config(tmp_path, "lots")), "--store", str(tmp_path / "s"), "report", "social")
    assert run.code == 2 and run.out == ""
    assert run.err == (f"surfaudit: error: {tmp_path / 'surfaudit.toml'}: [engine].memory_limit: expected a size "
                       "such as \"600MB\" or \"4GB\", got 'lots'\n")


def test_the_connection_has_the_limit_and_a_private_spill_place():
    con = engine.connect(parse_config({"engine": {"memory_limit": "123MB"}}))
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    spill = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    con.close()
    assert limit.startswith("117.3 MiB")  # 123 MB as DuckDB shows it
    parent = os.path.dirname(spill)
    assert os.path.basename(parent).startswith("surfaudit-spill-")
    assert stat.S_IMODE(os.stat(parent).st_mode) == 0o700  # spilled rows are personal data
    assert not os.path.exists(spill)  # DuckDB creates it only to spill, and removes it on close
    other = engine.connect(Config())
    assert other.execute("SELECT current_setting('temp_directory')").fetchall()[0][0] != spill  # one each
    other.close()


def test_a_small_limit_gives_the_same_csv(sample_store, tmp_path):
    args = ("--store", str(sample_store), "report", "social", *RANGE, "--format", "csv")
    usual = run_cli("--config", str(SAMPLE_CONFIG), *args)
    small = run_cli("--config", str(_config(tmp_path, "30MB")), *args)
    assert usual.code == 0 and small.code == 0, small.err
    assert small.out == usual.out and small.err == ""


def test_a_query_over_the_limit_is_one_line_exit_1(sample_store, tmp_path):
    run = run_cli("--config", str(_config(tmp_path, "1MB")), "--store", str(sample_store),
                  "report", "social", *RANGE, "--format", "csv")
    assert run.code == 1 and run.out == ""
    assert run.err.startswith("surfaudit: error: the social query needs more memory than DuckDB may use here (")
    assert run.err.endswith("): raise [engine] memory_limit in the config\n") and run.err.count("\n") == 1


def test_the_users_listing_and_user_lookups_keep_the_limit_too(sample_store, monkeypatch):
    """`surfaudit users` and the --user suggestions read the whole user column: they
    open their DuckDB connection through the same limit as the reports."""
    from dataclasses import replace

    from surfaudit.config import load_config
    from surfaudit.errors import UsageError
    from surfaudit.people import resolve_user
    from surfaudit.store import Store
    from surfaudit.users import list_users

    opened = []
    real = engine.local

    def spy(cfg):
        con = real(cfg)
        opened.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        return con

    monkeypatch.setattr(engine, "local", spy)
    store = Store(sample_store)
    cfg = load_config(SAMPLE_CONFIG, sample_store)
    cfg = replace(cfg, engine=replace(cfg.engine, memory_limit="100MB"))
    with store.reading():
        users, _ = list_users(store, cfg)
        assert users.height > 0
        with pytest.raises(UsageError, match="no such identity"):
            resolve_user(store, cfg, "nobody-like-this")
    assert len(opened) >= 2 and set(opened) == {"95.3 MiB"}
