"""`surfaudit verify [--repair]` through the real CLI: stdout, stderr and exit codes apart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from surfaudit.store import Store
from tests.conftest import SAMPLE_CONFIG, SAMPLES, run_cli

NOW = "2026-11-24T08:00:00Z"


def cli(store: Path, *args: str):
    return run_cli("--config", str(SAMPLE_CONFIG), "--store", str(store), *args, env={"SURFAUDIT_NOW": NOW})


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("verify") / "store"
    assert cli(store, "ingest", str(SAMPLES)).code == 1  # the samples hold rejected lines on purpose
    return store


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "store")
    return tmp_path / "store"


def problems(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("problem: ")]


def test_a_clean_store_verifies(store: Path):
    run = cli(store, "verify")
    assert run.code == 0 and run.err == "", run.err
    assert problems(run.out) == []
    assert run.out.splitlines()[-1].startswith("checked ") and run.out.splitlines()[-1].endswith(": ok")


def test_no_store_is_a_usage_error(tmp_path: Path):
    run = cli(tmp_path / "nothing-here", "verify")
    assert run.code == 2 and run.out == ""
    assert len(run.err.splitlines()) == 1 and run.err.startswith("surfaudit: error: ")


def test_a_deleted_part_is_named_then_set_aside(store: Path):
    part = Store(store).parts()[0]
    part.unlink()
    run = cli(store, "verify")
    assert run.code == 1 and run.err == ""
    assert problems(run.out) == [f"problem: {part}: committed part is missing"]
    report = cli(store, "report", "summary", "--format", "json")
    assert report.code == 1 and report.out == "" and part.name in report.err and len(report.err.splitlines()) == 1

    fixed = cli(store, "verify", "--repair")
    assert fixed.code == 1 and fixed.err == ""
    assert any(line.startswith("set aside events/") and part.name in line for line in fixed.out.splitlines())
    assert cli(store, "verify").code == 0
    assert cli(store, "report", "summary", "--format", "json").code == 0
    audit = json.loads(cli(store, "audit", "--format", "json").out)
    assert [e["command"] for e in audit].count("verify --repair") == 1


def test_a_garbled_part_is_named_by_its_checksum(store: Path):
    part = Store(store).parts()[0]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    run = cli(store, "verify")
    assert run.code == 1 and run.err == ""
    assert f"problem: {part}: checksum differs from the one committed (damaged)" in problems(run.out)


def test_a_stray_parquet_file_and_a_damaged_manifest_line_are_problems(store: Path):
    s = Store(store)
    part = s.parts()[0]
    stray = part.with_name("part-stray.parquet")
    shutil.copyfile(part, stray)
    lines = s.manifest_path.read_text().splitlines()
    lines.insert(1, "not json at all")
    lines[0] = lines[0].replace('"kind":"ingest"', '"kind":"ingest","x":1')
    s.manifest_path.write_text("\n".join(lines) + "\n")
    run = cli(store, "verify")
    assert run.code == 1 and run.err == ""
    found = problems(run.out)
    assert any("manifest.jsonl line 3" in p and "line 2 is unreadable" in p for p in found), found
    assert any(stray.name in p and "not a committed part" in p for p in found), found
    repair = cli(store, "verify", "--repair")
    assert repair.code == 1 and "restore from a backup" in repair.out


def test_nightly_ends_with_the_cheap_check(store: Path):
    run = cli(store, "nightly", str(SAMPLES / "access.log"))
    assert run.out.splitlines()[-1].startswith("verify: ") and "present with their committed sizes" in run.out
    Store(store).parts()[0].unlink()
    run = cli(store, "nightly", str(SAMPLES / "access.log"))
    assert run.code == 1
    assert run.out.splitlines()[-1].startswith("verify: FAILED: ") and "missing" in run.out.splitlines()[-1]


def test_an_unreadable_audit_line_is_a_problem_and_the_rest_still_reads(store: Path):
    """A garbled or torn line of the audit log is evidence lost: verify names its line
    (exit 1); `audit` still shows the entries that read and warns of the others on
    stderr; nothing is rewritten."""
    s = Store(store)
    good = s.audit_path.read_text()
    assert good.strip()  # the ingest recorded itself
    s.audit_path.write_text("garbage\n" + good + '{"time": "2026-11-2')
    run = cli(store, "verify")
    assert run.code == 1 and run.err == "", run.err
    found = [p for p in problems(run.out) if "audit" in p]
    assert [p.split(": ", 2)[1] for p in found] == [f"{s.audit_path} line 1", f"{s.audit_path} line {len(good.splitlines()) + 2}"]
    assert all(p.endswith("not a readable audit entry (a torn append or damage); it is kept as found") for p in found)
    listing = cli(store, "audit", "--format", "json")
    assert listing.code == 0 and len(json.loads(listing.out)) == len(good.splitlines())
    # ...and says on stderr, one line each, that some entries could not be shown
    warned = listing.err.splitlines()
    assert [w.split(": ", 3)[2] for w in warned] == [f"{s.audit_path} line 1", f"{s.audit_path} line {len(good.splitlines()) + 2}"]
    assert all(w.startswith("surfaudit: warning: ") for w in warned)
    assert s.audit_path.read_text().startswith("garbage\n")
