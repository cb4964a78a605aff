"""Confinement: the store never trusts paths from its own files.

An attacker who can write into the store (or a damaged store) plants a journal entry,
a manifest record or a symlink. Whatever they plant, nothing outside the store is
deleted, renamed, truncated or chmod'ed, and the command stops with one line naming
the offending path (StoreError, exit 1). Each case below deleted or changed a file
outside the store on the old code.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl
import pytest

from surfaudit.errors import StoreError
from surfaudit.schema import conform
from surfaudit.store import Store

from .helpers import run_cli, squid, tried, write_lines

UTC = timezone.utc
SUITE = "store paths"


def rows(n: int = 3) -> pl.DataFrame:
    ts = [datetime(2026, 11, 2, 9, i, tzinfo=UTC) for i in range(n)]
    return conform(pl.DataFrame({
        "ts": ts, "user": ["u"] * n, "username": ["u"] * n, "client_ip": ["10.0.0.1"] * n, "method": ["GET"] * n,
        "host": ["h"] * n, "url": ["http://h/"] * n, "action": ["allowed"] * n, "status": [200] * n,
        "bytes": list(range(n)), "elapsed_ms": [1] * n, "category": [None] * n, "source": ["squid"] * n,
    }))


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A directory beside the store holding a file nobody may touch."""
    d = tmp_path / "victim"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    (d / "secret.txt").write_text("precious")
    (d / "secret.parquet").write_text("precious")
    return d


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store").ensure()
    tx = s.begin("ingest")
    tx.write(rows())
    tx.commit({})
    return s


def intact(victim: Path) -> None:
    assert (victim / "secret.txt").read_text() == "precious"
    assert (victim / "secret.parquet").read_text() == "precious"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o755


def refused(action, victim: Path, *names: str) -> str:
    """`action` raises StoreError naming one of `names`, and the victim is untouched."""
    tried(SUITE, "planted paths")
    with pytest.raises(StoreError) as info:
        action()
    message = str(info.value)
    assert "\n" not in message
    assert any(n in message for n in names), message
    intact(victim)
    return message


JOURNAL_TARGETS = ["../victim/secret.txt", "events/../../victim/secret.txt", "{victim}/secret.txt",
                   "events/month=2026-11/../../../victim/secret.txt", "quarantine/../../victim/secret.txt"]


@pytest.mark.parametrize("target", JOURNAL_TARGETS)
@pytest.mark.parametrize("field", ["parts", "quarantine", "removes"])
def test_journal_entry_naming_a_file_outside_is_refused(store: Store, victim: Path, target: str, field: str):
    target = target.format(victim=victim)
    # "removes" is only acted on when the tx is committed (roll forward): use the committed tx.
    tx = store.manifest()[0]["tx"] if field == "removes" else "20261102T090000-deadbeef00"
    (store.journal_dir / f"{tx}.json").write_text(json.dumps({"tx": tx, field: [target]}))
    refused(lambda: store.lock().__enter__(), victim, "journal", target)


def test_journal_outside_via_the_cli(store: Store, victim: Path, tmp_path: Path):
    (store.journal_dir / "x.json").write_text(json.dumps({"tx": "x", "parts": ["../victim/secret.txt"]}))
    src = write_lines(tmp_path / "access.log", [squid(1, datetime(2026, 11, 2, 9, tzinfo=UTC))])
    run = run_cli("--store", str(store.root), "ingest", str(src), now="2026-11-20T00:00:00Z")
    tried(SUITE, "planted paths")
    assert run.code == 1, run.err
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("surfaudit: error:") and "journal" in lines[0], run.err
    intact(victim)


@pytest.mark.parametrize("field", ["parts", "removes"])
def test_manifest_record_naming_a_file_outside_is_refused(store: Store, victim: Path, field: str):
    record = {"tx": "20261102T100000-feedbeef00", "kind": "ingest", "at": "2026-11-02T10:00:00+00:00",
              "parts": [], "removes": [], "quarantine": []}
    record[field] = ["events/month=2026-11/../../../victim/secret.parquet"]
    with open(store.manifest_path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
    con = duckdb.connect()
    refused(lambda: store.events_view(con), victim, "manifest", "victim/secret.parquet")
    refused(lambda: store.lock().__enter__(), victim, "manifest", "victim/secret.parquet")


@pytest.mark.parametrize("name", ["staging", "quarantine", "journal", "events"])
def test_bookkeeping_directory_replaced_by_a_symlink_is_refused(store: Store, victim: Path, name: str):
    (victim / "sub").mkdir()
    (victim / "sub" / "f").write_text("x")
    real = store.root / name
    os.rename(real, store.root / f"{name}.real")
    real.symlink_to(victim, target_is_directory=True)
    refused(lambda: store.lock().__enter__(), victim, str(real))
    assert (victim / "sub" / "f").exists()
    refused(lambda: store.ensure(), victim, str(real))


def test_ingest_through_a_symlinked_staging_deletes_nothing(store: Store, victim: Path, tmp_path: Path):
    (victim / "sub").mkdir()
    (victim / "sub" / "f").write_text("x")
    os.rename(store.staging_dir, store.root / "staging.real")
    store.staging_dir.symlink_to(victim, target_is_directory=True)
    src = write_lines(tmp_path / "access.log", [squid(1, datetime(2026, 11, 2, 9, tzinfo=UTC))])
    run = run_cli("--store", str(store.root), "ingest", str(src), now="2026-11-20T00:00:00Z")
    tried(SUITE, "planted paths")
    assert run.code == 1 and "staging" in run.err and len(run.err.splitlines()) == 1, run.err
    assert (victim / "sub" / "f").exists()
    intact(victim)


@pytest.mark.parametrize("name", ["lock", "manifest.jsonl", "audit.jsonl", "audit.head", "pseudonym.key",
                                  "manifest.jsonl.tmp", "audit.jsonl.tmp", "audit.head.tmp"])
def test_bookkeeping_file_replaced_by_a_symlink_is_refused(store: Store, victim: Path, name: str):
    path = store.root / name
    path.unlink(missing_ok=True)
    path.symlink_to(victim / "secret.txt")

    def write_everything():
        with store.lock():
            store.append_audit({"time": "2026-11-02T10:00:00+00:00", "command": "x"})
            store.rewrite_audit(store.audit_entries())
            store.rewrite_manifest(store.manifest())
            store.pseudonym_key()

    refused(write_everything, victim, name)


def test_symlinked_month_directory_or_part_is_refused(store: Store, victim: Path):
    part = store.parts()[0]
    os.rename(part, store.root / "moved.parquet")
    part.symlink_to(victim / "secret.parquet")
    con = duckdb.connect()
    refused(lambda: store.events_view(con), victim, part.name)
    refused(lambda: store.lock().__enter__(), victim, part.name)


def test_symlinked_leftover_in_staging_is_refused(store: Store, victim: Path):
    (store.staging_dir / "20261102T090000-leftover00").symlink_to(victim, target_is_directory=True)
    refused(lambda: store.lock().__enter__(), victim, "staging")


def test_symlinked_quarantine_file_is_refused(store: Store, victim: Path):
    (store.quarantine_dir / "q-20200101T000000-aaaaaaaaaa.parquet").symlink_to(victim / "secret.parquet")
    refused(lambda: store.quarantine_files(), victim, "quarantine")


def test_a_store_root_that_is_a_symlink_is_still_usable(tmp_path: Path):
    """The configured path may itself be a symlink (e.g. /var/lib/surfaudit -> /data): that is allowed."""
    real = Store(tmp_path / "data").ensure()
    link = tmp_path / "link"
    link.symlink_to(real.root, target_is_directory=True)
    s = Store(link)
    with s.lock():
        tx = s.begin("ingest")
        tx.write(rows())
        tx.commit({})
    con = duckdb.connect()
    s.events_view(con)
    assert con.execute("select count(*) from events").fetchone()[0] == 3
