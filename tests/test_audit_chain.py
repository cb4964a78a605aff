"""The audit log is hash-chained like the manifest (audit.jsonl + audit.head), so an
entry removed or edited by hand is found by `verify`; entries `audit` cannot show are
named, never an internal error. Through the real CLI (stdout, stderr, exit codes apart)
and the store's own methods; the store is the sample logs' (one ingest entry)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from surfaudit import audit
from surfaudit.store import Store
from tests.test_verify import cli, problems, store, template  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("template")


def _record(root: Path, n: int) -> None:
    for i in range(n):
        audit.record(Store(root), "export", target=f"person{i}", reason=f"case {i}", detail=f"p{i}.csv")


def lines(root: Path) -> list[str]:
    return (root / "audit.jsonl").read_text().splitlines()


def test_entries_chain_and_verify(store: Path):  # noqa: F811
    _record(store, 3)
    entries = [json.loads(x) for x in lines(store)]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4] and entries[0]["prev"] == ""
    assert json.loads((store / "audit.head").read_text())["seq"] == 4
    run = cli(store, "verify")
    assert run.code == 0 and run.err == "", run.out
    shown = cli(store, "audit", "--format", "json")
    assert shown.code == 0 and shown.err == "" and "seq" not in json.loads(shown.out)[0]  # bookkeeping stays hidden


@pytest.mark.parametrize("damage,where,what", [
    ("remove-middle", "line 3", "does not follow the one before it"),
    ("edit-middle", "line 4", "does not follow the one before it"),
    ("remove-last", "", "ends at record 3 but 4 records were committed"),
    ("edit-last", "line 4", "this committed record was edited or damaged"),
])
def test_an_entry_removed_or_edited_by_hand_is_found(store: Path, damage, where, what):  # noqa: F811
    _record(store, 3)
    text = lines(store)
    if damage == "remove-middle":
        del text[2]
    elif damage == "remove-last":
        del text[-1]
    else:  # a reason changed after the fact
        i = 2 if damage == "edit-middle" else 3
        text[i] = text[i].replace(f'"case {i - 1}"', '"routine check"')
        assert "routine check" in text[i]
    (store / "audit.jsonl").write_text("".join(x + "\n" for x in text))
    run = cli(store, "verify")
    assert run.code == 1 and run.err == ""
    found = [p for p in problems(run.out) if "audit" in p]
    assert len(found) == 1 and what in found[0] and f"audit.jsonl{' ' + where if where else ''}:" in found[0], found
    # `audit` still lists what reads, and warns on stderr of the damage
    shown = cli(store, "audit", "--format", "csv")
    assert shown.code == 0 and shown.err.startswith("surfaudit: warning: ") and what in shown.err


def test_the_retention_rewrite_re_chains_and_entries_written_before_the_chain_are_read(store: Path):  # noqa: F811
    s = Store(store)
    legacy = [{"time": f"2025-0{m}-01T00:00:00+00:00", "command": "export", "target": f"old{m}", "rows": 1}
              for m in (1, 2, 3)]  # an older version's entries: no seq, no prev, no head
    (store / "audit.jsonl").write_text("".join(json.dumps(e) + "\n" for e in legacy))
    (store / "audit.head").unlink()
    _record(store, 2)  # the chain starts after them
    assert cli(store, "verify").code == 0
    assert audit.forget_before(s, datetime(2025, 2, 15, tzinfo=timezone.utc)) == 2
    assert [e.get("target") for e in s.audit_entries()] == ["old3", "person0", "person1"]
    assert [json.loads(x)["seq"] for x in lines(store)] == [1, 2, 3]
    run = cli(store, "verify")
    assert run.code == 0, run.out


def test_a_crash_between_the_rewrite_and_its_head_leaves_a_log_that_verifies(store: Path, monkeypatch):  # noqa: F811
    _record(store, 2)
    s = Store(store)
    real = s._write_head
    calls = []

    def head(h, path=None):
        calls.append(path)
        if len(calls) == 2:  # the final head, after the rewritten log is in place
            raise KeyboardInterrupt("killed")
        real(h, path)

    monkeypatch.setattr(s, "_write_head", head)
    with pytest.raises(KeyboardInterrupt):
        s.filter_audit(lambda e: e.get("target") != "person0")
    monkeypatch.undo()
    assert calls == [s.audit_head_path, s.audit_head_path]
    run = cli(store, "verify")
    assert run.code == 0, run.out
    _record(store, 1)  # the next append writes a clean head
    assert "or" not in json.loads((store / "audit.head").read_text())
    assert cli(store, "verify").code == 0


@pytest.mark.parametrize("line", [
    "[1]", '"text"', '{"command": "x"}', '{"time": "yesterday"}', '{"time": "2026-11-24T08:00:00"}',
    '{"time": "2026-11-24T08:00:00+00:00", "rows": "many"}', '{"time": "2026-11-24T08:00:00+00:00", "rows": 1e400}',
    '{"time": "2026-11-24T08:00:00+00:00", "rows": 99999999999999999999999}',
    '{"time": "2026-11-24T08:00:00+00:00", "target": ["a"]}', '{"time": "2026-11-24T08:00:00+00:00", "rows": true}',
])
def test_an_entry_that_cannot_be_shown_is_named_never_an_internal_error(store: Path, line):  # noqa: F811
    with (store / "audit.jsonl").open("a") as fh:
        fh.write(line + "\n")
    shown = cli(store, "audit")
    assert shown.code == 0 and "ingest" in shown.out
    assert shown.err.startswith("surfaudit: warning: ") and "audit.jsonl line 2:" in shown.err
    assert "internal error" not in shown.err
    assert cli(store, "verify").code == 1
    _record(store, 1)  # an export is still recorded beside it (an append never refuses)
    assert [e["target"] for e in Store(store).audit_entries()][-1] == "person0"
