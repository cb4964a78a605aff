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


@pytest.mark.parametrize("damage", ["remove-last", "edit-last", "empty"])
def test_the_next_append_does_not_paper_over_a_hand_edit_at_the_end(store: Path, damage):  # noqa: F811
    """The last entry removed or edited (or the log emptied), then a report records itself:
    the new entry chains to the head, not to the edited end, so verify still finds it."""
    _record(store, 3)
    text = lines(store)
    if damage == "remove-last":
        text = text[:-1]
    elif damage == "edit-last":
        text[-1] = text[-1].replace('"case 2"', '"routine check"')
    else:
        text = []
    (store / "audit.jsonl").write_text("".join(x + "\n" for x in text))
    audit.record(Store(store), "report social", target="someone", store_lock=False)
    found = [p for p in problems(cli(store, "verify").out) if "audit" in p]
    assert found and all("does not follow the one before it" in p for p in found), found
    assert json.loads(lines(store)[-1])["seq"] == 5  # the sequence goes on from the head


def test_a_crash_between_an_entry_and_its_head_is_no_problem(store: Path, monkeypatch):  # noqa: F811
    s = Store(store)
    real = s._write_head
    monkeypatch.setattr(s, "_write_head", lambda h, path=None: (_ for _ in ()).throw(OSError(28, "full")))
    entry = audit.record(s, "export", target="x", reason="r")  # the head could not be moved: still recorded
    monkeypatch.setattr(s, "_write_head", real)
    assert entry["seq"] == 2 and json.loads((store / "audit.head").read_text())["seq"] == 1
    assert cli(store, "verify").code == 0
    _record(store, 1)  # chains on from the line past the head
    assert json.loads(lines(store)[-1])["seq"] == 3 and cli(store, "verify").code == 0


def test_a_line_without_a_sequence_number_does_not_restart_it(store: Path):  # noqa: F811
    _record(store, 2)
    with (store / "audit.jsonl").open("a") as fh:  # hand-added, in an older version's form
        fh.write('{"time": "2026-11-24T08:00:00+00:00", "command": "export", "target": "x"}\n')
    _record(store, 1)
    assert json.loads(lines(store)[-1])["seq"] == 4
    found = [p for p in problems(cli(store, "verify").out) if "audit" in p]
    assert found and not any("line 1:" in p or "edited or damaged" in p for p in found), found


def test_the_purge_keeps_a_log_with_problems_as_found_and_says_so(store: Path, tmp_path):  # noqa: F811
    """Trimming would re-chain over a hand deletion (hiding it) and drop lines it cannot
    show: the purge removes the data but leaves the audit log as it is, and says so."""
    from tests.test_verify import NOW
    from tests.conftest import SAMPLE_CONFIG, run_cli

    old = {"time": "2000-01-01T00:00:00+00:00", "command": "export", "target": "long-ago"}
    odd = '{"time": "2099-01-01T00:00:00+00:00", "rows": "12"}'
    text = [json.dumps(old)] + lines(store)
    (store / "audit.jsonl").write_text("".join(x + "\n" for x in text) + odd + "\n")
    before = (store / "audit.jsonl").read_text()
    cfg = tmp_path / "c.toml"
    cfg.write_text(SAMPLE_CONFIG.read_text().replace("months = 1200", "months = 1"))
    run = run_cli("--config", str(cfg), "--store", str(store), "purge", env={"SURFAUDIT_NOW": NOW})
    assert run.code == 0, run.err
    said = " ".join(run.out.split())  # the terminal may wrap the long line
    assert "audit.jsonl line 3: not an audit entry" in said and "the audit log was not trimmed" in said
    assert (store / "audit.jsonl").read_text().startswith(before)  # nothing of it rewritten
    assert "audit log not trimmed (it has problems)" in Store(store).audit_entries()[-1]["detail"]


def test_problems_are_read_from_one_state_of_the_log_and_its_head(store: Path, monkeypatch):  # noqa: F811
    """An append between reading the log and its head must not look like a cut-off log."""
    _record(store, 1)
    s = Store(store)
    real = Store._head
    calls = []

    def head(self, path=None):
        got = real(self, path)
        if path == s.audit_head_path and not calls:
            calls.append(1)
            _record(store, 1)  # another process appends right after this read
        return got

    monkeypatch.setattr(Store, "_head", head)
    assert s.audit_problems() == []
    assert calls


def test_a_crash_in_the_first_rewrite_of_an_older_versions_log_verifies(store: Path, monkeypatch):  # noqa: F811
    legacy = [{"time": f"2025-0{m}-01T00:00:00+00:00", "command": "export", "target": f"old{m}"} for m in (1, 2)]
    (store / "audit.jsonl").write_text("".join(json.dumps(e) + "\n" for e in legacy))
    (store / "audit.head").unlink()
    s = Store(store)
    real, calls = s._write_head, []

    def head(h, path=None):
        calls.append(h)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        real(h, path)

    monkeypatch.setattr(s, "_write_head", head)
    with pytest.raises(KeyboardInterrupt):
        s.filter_audit(lambda e: e["target"] != "old1")
    monkeypatch.undo()
    run = cli(store, "verify")
    assert run.code == 0, run.out
