"""Corruption is found, not silently absorbed.

A store of 4 ingests over 2 months (1,200 rows) is damaged in one way per case; then
the real CLI runs `report summary` and `surfaudit verify`. On the old code every
manifest and missing-part case gave a smaller total with exit 0, and a damaged part
gave `internal error (InvalidInputException)`. Now a report exits 1 with one line
naming the file (or, for a torn last line, reads as before), and `verify` names each
problem on its own line and exits 1; `verify --repair` sets a damaged part aside so
that the rest of the store reads again, and says so in the audit log.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from surfaudit.schema import conform
from surfaudit.store import Store

from .helpers import run_cli, tried

UTC = timezone.utc
SUITE = "corruption"
ROWS_PER_INGEST = 300


def rows(first: int, n: int, start: datetime) -> pl.DataFrame:
    ts = [start + timedelta(minutes=i) for i in range(n)]
    return conform(pl.DataFrame({
        "ts": ts, "user": ["u"] * n, "username": ["u"] * n, "client_ip": ["10.0.0.1"] * n, "method": ["GET"] * n,
        "host": ["h"] * n, "url": ["http://h/"] * n, "action": ["allowed"] * n, "status": [200] * n,
        "bytes": list(range(first, first + n)), "elapsed_ms": [1] * n, "category": [None] * n,
        "source": ["squid"] * n,
    }))


def build(root: Path) -> Store:
    store = Store(root).ensure()
    starts = [datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 12, tzinfo=UTC),
              datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)]
    for i, start in enumerate(starts):
        tx = store.begin("ingest")
        tx.write(rows(i * ROWS_PER_INGEST, ROWS_PER_INGEST, start))
        tx.commit({"lineage": f"l{i}", "rows": ROWS_PER_INGEST})
    return store


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("corrupt") / "store").root


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Store:
    root = tmp_path / "store"
    shutil.copytree(template, root)
    return Store(root)


def report(store: Store):
    return run_cli("--store", str(store.root), "report", "summary", "--format", "json")


def total(run) -> int:
    return sum(r["rows"] for r in json.loads(run.out)["rows"])


def verify(store: Store, *extra: str):
    return run_cli("--store", str(store.root), "verify", *extra)


def one_error_line(run, *needles: str) -> str:
    assert run.code == 1, (run.code, run.out, run.err)
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("surfaudit: error: "), run.err
    assert "internal error" not in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def problems(run) -> list[str]:
    return [ln for ln in run.out.splitlines() if ln.startswith("problem: ")]


def manifest_lines(store: Store) -> list[str]:
    return store.manifest_path.read_text().splitlines()


def damage_manifest(store: Store, how: str) -> None:
    lines = manifest_lines(store)
    if how == "truncated at a line boundary":
        lines = lines[:2]
    elif how == "truncated mid-line":
        store.manifest_path.write_text("\n".join(lines)[: len("\n".join(lines[:2])) + 40])
        return
    elif how == "garbage in the middle":
        lines[1] = "\x00\x17garbage}{"
    elif how == "a middle record edited":
        record = json.loads(lines[1])
        record["parts"] = []
        lines[1] = json.dumps(record, separators=(",", ":"))
    elif how == "a middle record removed":
        del lines[1]
    elif how == "the last record edited":
        record = json.loads(lines[-1])
        record["rows"] = 1
        lines[-1] = json.dumps(record, separators=(",", ":"))
    store.manifest_path.write_text("\n".join(lines) + "\n")


MANIFEST_CASES = ["truncated at a line boundary", "truncated mid-line", "garbage in the middle",
                  "a middle record edited", "a middle record removed", "the last record edited"]


def test_a_clean_store_reads_and_verifies(store: Store):
    run = report(store)
    assert run.code == 0 and total(run) == 4 * ROWS_PER_INGEST, run.err
    check = verify(store)
    tried(SUITE, "verify runs")
    assert check.code == 0 and check.err == "", check.err
    assert problems(check) == [] and check.out.splitlines()[-1].endswith(": ok"), check.out


@pytest.mark.parametrize("how", MANIFEST_CASES)
def test_a_damaged_manifest_is_an_error_naming_it(store: Store, how: str):
    damage_manifest(store, how)
    tried(SUITE, "manifest damages")
    one_error_line(report(store), "manifest.jsonl")
    check = verify(store)
    assert check.code == 1 and check.err == "", check.err
    found = problems(check)
    assert found and all("manifest.jsonl" in p for p in found[:1]), check.out
    print(f"manifest {how}: verify says {found}")


def test_a_torn_last_line_is_tolerated(store: Store):
    with open(store.manifest_path, "a") as fh:
        fh.write('{"tx":"20261201T000000-torn","kind":"ingest","par')  # power cut mid-append
    run = report(store)
    assert run.code == 0 and total(run) == 4 * ROWS_PER_INGEST, run.err
    assert verify(store).code == 0


def _part(store: Store, month: str = "2026-10") -> Path:
    return store.parts([month])[0]


def damage_part(store: Store, how: str) -> Path:
    part = _part(store)
    data = bytearray(part.read_bytes())
    if how == "deleted":
        part.unlink()
    elif how == "truncated":
        part.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "footer garbled (same size)":
        for i in range(len(data) - 60, len(data) - 12):
            data[i] ^= 0x5A
        part.write_bytes(bytes(data))
    elif how == "data garbled (same size)":
        for i in range(8, 200):
            data[i] ^= 0xA5
        part.write_bytes(bytes(data))
    elif how == "replaced by another month's part (same size unknown)":
        other = _part(store, "2026-11")
        shutil.copyfile(other, part)
    return part


PART_CASES = ["deleted", "truncated", "footer garbled (same size)", "data garbled (same size)",
              "replaced by another month's part (same size unknown)"]


@pytest.mark.parametrize("how", PART_CASES)
def test_a_damaged_part_is_named_and_can_be_set_aside(store: Store, how: str):
    part = damage_part(store, how)
    tried(SUITE, "part damages")
    run = report(store)
    if "garbled" in how and run.code == 0:  # bytes this query does not need: verify must find it
        assert total(run) == 4 * ROWS_PER_INGEST
    elif how.startswith("replaced") and part.stat().st_size == _part(store, "2026-11").stat().st_size:
        pass  # same size by chance: only the checksum tells (verify below)
    else:
        one_error_line(run, part.name)
    check = verify(store)
    assert check.code == 1 and check.err == "", (check.out, check.err)
    found = problems(check)
    assert found and all(part.name in p for p in found), check.out
    print(f"part {how}: verify says {found}")

    fixed = verify(store, "--repair")
    tried(SUITE, "repairs")
    assert fixed.code == 1 and "set aside" in fixed.out and fixed.err == "", (fixed.out, fixed.err)
    assert not part.exists()
    if how != "deleted":
        assert any(store.damaged_dir.iterdir())
    after = report(store)
    assert after.code == 0 and total(after) == 3 * ROWS_PER_INGEST, after.err
    assert verify(store).code == 0
    entries = [e for e in store.audit_entries() if e["command"] == "verify --repair"]
    assert len(entries) == 1 and part.name in entries[0]["detail"]


def test_a_store_written_by_the_previous_version_still_reads(store: Store):
    """Records without seq, prev, files and no manifest.head: read as before, verify notes it."""
    old = []
    for line in manifest_lines(store):
        record = json.loads(line)
        for key in ("seq", "prev", "files"):
            record.pop(key, None)
        old.append(json.dumps(record, separators=(",", ":")))
    store.manifest_path.write_text("\n".join(old) + "\n")
    os.unlink(store.root / "manifest.head")
    run = report(store)
    assert run.code == 0 and total(run) == 4 * ROWS_PER_INGEST, run.err
    check = verify(store)
    tried(SUITE, "verify runs")
    assert check.code == 0, check.out
    assert "no checksum recorded (older store)" in check.out
    # the next commit extends it with a chained record, and everything still reads
    with Store(store.root).lock():
        tx = Store(store.root).begin("ingest")
        tx.write(rows(10_000, 5, datetime(2026, 11, 20, tzinfo=UTC)))
        tx.commit({})
    assert total(report(store)) == 4 * ROWS_PER_INGEST + 5
    assert verify(store).code == 0


def test_a_missing_part_stops_compaction_and_purge_instead_of_dropping_it(store: Store):
    part = damage_part(store, "deleted")
    from surfaudit.compact import compact
    from surfaudit.errors import StoreError

    with pytest.raises(StoreError, match=part.name):
        with store.lock():
            compact(store)
    tried(SUITE, "part damages")


def test_retention_is_not_defeated_by_a_damaged_part(store: Store):
    """A damaged part of an expired month is deleted with its month (unread); a part that
    verify --repair set aside in damaged/ is deleted once its month expires too."""
    part = damage_part(store, "truncated")  # an October 2026 part
    later = "2027-11-20T12:00:00+00:00"  # twelve months on: October 2026 has expired
    purge = run_cli("--store", str(store.root), "purge", now=later)
    assert purge.code == 0, (purge.out, purge.err)
    assert not part.exists()
    assert not any(p.name.startswith("month=2026-10") for p in (store.root / "events").iterdir())
    entry = [e for e in store.audit_entries() if e["command"] == "purge"][-1]
    assert "damaged parts of expired months deleted unread" in entry["detail"]
    tried(SUITE, "purges past damaged parts")


def test_parts_set_aside_expire_like_the_rest(store: Store):
    damage_part(store, "truncated")
    assert verify(store, "--repair").code == 1
    assert [p.name.split("-part-")[0] for p in store.damaged_dir.iterdir()] == ["month=2026-10"]
    early = run_cli("--store", str(store.root), "purge", now="2027-06-01T00:00:00+00:00")
    assert early.code == 0 and list(store.damaged_dir.iterdir())  # not expired yet: kept
    later = run_cli("--store", str(store.root), "purge", now="2027-11-20T12:00:00+00:00")
    assert later.code == 0, later.err
    assert list(store.damaged_dir.iterdir()) == []
    tried(SUITE, "purges of set-aside parts")


@pytest.mark.parametrize("crash_at", ["before the rename", "after the rename"])
def test_a_crash_inside_the_manifest_rewrite_leaves_a_usable_store(store: Store, crash_at: str, monkeypatch):
    """Retention rewrites the manifest (re-chained) and then its head; a crash in
    between must not make every later command refuse the store."""
    first, *records = list(store.manifest())  # retention forgets a record once its parts are gone
    if crash_at == "after the rename":
        for rel in first.get("parts", []):
            (store.root / rel).unlink()
    real_lines, real_head = store._atomic_lines, store._write_head
    calls = {"head": 0}

    def head(h, path=None):
        calls["head"] += 1
        if calls["head"] == 2:  # the final head
            raise KeyboardInterrupt("killed")
        real_head(h, path)

    def lines(path, ls):
        if crash_at == "before the rename" and path == store.manifest_path:
            raise KeyboardInterrupt("killed")
        real_lines(path, ls)

    monkeypatch.setattr(store, "_write_head", head)
    monkeypatch.setattr(store, "_atomic_lines", lines)
    with pytest.raises(KeyboardInterrupt):
        store.rewrite_manifest(records)
    monkeypatch.undo()
    run = report(store)
    assert run.code == 0, run.err
    assert verify(store).code == 0
    with Store(store.root).lock():  # recovery writes a clean head
        pass
    assert "or" not in json.loads((store.root / "manifest.head").read_text())
    tried(SUITE, "crashes inside the manifest rewrite")
