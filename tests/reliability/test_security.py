"""Security: hostile identities, a store among other files, umask 000.

* `--user` values with quotes, `%`, `_`, `;` and SQL keywords are matched literally by
  the reports (real CLI): each returns exactly that identity's rows, and probes that
  would match something as a LIKE pattern or an injection return nothing (exit 2: no
  such identity).
* `[store].path` pointing at a directory that holds other files: `purge` deletes only
  expired `<store>/events/month=YYYY-MM` partitions; decoy files and directories in the
  store root and its parent survive; a stray directory or a symlink inside events/ makes
  purge refuse (nothing deleted, the symlink's target untouched).
* With umask 000 the store, its files and quarantine are private (dirs 0700, files 0600),
  and `report --output` writes a 0600 file.
"""

from __future__ import annotations

import csv
import io
import stat
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from surfaudit.store import Store

from .helpers import SP_HEADER, assert_clean_stderr, failed, run_cli, squid, tried, visible_column, write_lines

UTC = timezone.utc
NOW = "2026-11-20T12:00:00+00:00"
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday, in work hours

HOSTILE = ["o'brien", 'say "hi"', "100%", "%", "_", "a_b", "x; drop table events; --", "' or '1'='1",
           "select", "null", "alice\\bob", "union select * from events"]
PROBES = ["%%", "o%", "a%", "'", "' or 1=1 --", "1; select 1", "x; drop table events", "a_", "SELECT*"]


def _row(ts: datetime, user: str, n: int) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(
        [ts.strftime("%Y-%m-%dT%H:%M:%SZ"), user, "10.0.0.9", f"https://www.facebook.com/s{n}", "Social", "allowed"])
    return buf.getvalue()


def test_hostile_user_values_are_matched_literally(tmp_path):
    lines, per_user, n = [SP_HEADER], Counter(), 0
    for u, user in enumerate(HOSTILE):
        for k in range(u + 2):  # a distinct number of requests each
            lines.append(_row(T0 + timedelta(minutes=n), user, n))
            per_user[user] += 1
            n += 1
    src = write_lines(tmp_path / "export.csv", lines)
    store = tmp_path / "store"
    assert_clean_stderr(run_cli("--store", str(store), "ingest", str(src), now=NOW), (0,))
    problems = []
    for user in HOSTILE + PROBES:
        for kind in ("social", "blocked") if user in ("%", "' or '1'='1", "a%") else ("social",):
            r = run_cli("--store", str(store), "report", kind, "--user", user, "--format", "csv",
                        "--from", "2026-11-01", "--to", "2026-11-30", now=NOW)
            # an identity that does not exist is a usage error, never "no rows"
            assert_clean_stderr(r, (0, 1) if user in per_user else (2,))
            rows = list(csv.DictReader(io.StringIO(r.out)))
            users = {row["user"] for row in rows}
            if kind == "blocked" or user not in per_user:
                if rows:
                    problems.append(f"{kind} --user {user!r}: matched {sorted(users)}")
            elif users != {user} or sum(int(row["requests"]) for row in rows) != per_user[user]:
                problems.append(f"{kind} --user {user!r}: got {sorted(users)}, "
                                f"{sum(int(row['requests']) for row in rows)} requests, want {per_user[user]}")
            tried("security", "--user reports")
    for p in problems:
        failed("security", p)
    assert not problems, problems
    assert sum(visible_column(Store(store), "user").values()) == sum(per_user.values())


def _decoys(base: Path) -> dict[Path, bytes]:
    made = {}
    for rel in ["parent-decoy.txt", "month=2020-01/part-x.parquet", "store/decoy.txt", "store/month=2020-01/part-y.parquet",
                "store/events.bak/month=2020-01/part-z.parquet", "store/staging-not/keep.txt", "outside/keep.txt"]:
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode())
        made[path] = rel.encode()
    return made


def test_purge_stays_inside_events_month_partitions(tmp_path):
    base = tmp_path / "site"
    decoys = _decoys(base)
    config = base / "surfaudit.toml"
    config.write_text('[store]\npath = "store"\n\n[retention]\nmonths = 12\n')
    old = [squid(i, datetime(2025, 1, 5, tzinfo=UTC) + timedelta(seconds=i)) for i in range(50)]
    new = [squid(100 + i, datetime(2026, 11, 5, tzinfo=UTC) + timedelta(seconds=i)) for i in range(50)]
    write_lines(tmp_path / "old.log", old)
    write_lines(tmp_path / "new.log", new)
    assert_clean_stderr(run_cli("--config", str(config), "ingest", str(tmp_path / "old.log"), now="2025-02-01T00:00:00Z"), (0,))
    assert_clean_stderr(run_cli("--config", str(config), "ingest", str(tmp_path / "new.log"), now=NOW), (0,))
    r = run_cli("--config", str(config), "purge", "--exact", now=NOW)
    assert_clean_stderr(r, (0,))
    assert "removed 2025-01" in r.out
    store = Store(base / "store")
    assert Counter(visible_column(store)) == Counter(range(100, 150))
    for path, content in decoys.items():
        assert path.read_bytes() == content, f"purge touched {path}"
    tried("security", "purges among decoys")
    # a stray directory and a symlink inside events/: purge refuses and deletes nothing
    (store.events_dir / "month=2019-01").mkdir()
    (store.events_dir / "month=2019-01" / "notes.txt").write_text("keep")
    (store.events_dir / "month=2019-02").symlink_to(base / "outside", target_is_directory=True)
    before = sorted(p for p in base.rglob("*"))
    r = run_cli("--config", str(config), "purge", "--exact", now="2030-01-01T00:00:00Z")
    assert_clean_stderr(r, (1,))
    assert "refusing to purge" in r.err
    assert sorted(p for p in base.rglob("*")) == before
    assert (base / "outside" / "keep.txt").read_bytes() == b"outside/keep.txt"
    tried("security", "purges refused (stray dir, symlink)")


def test_store_is_private_even_with_umask_000(tmp_path):
    store = tmp_path / "store"
    src = write_lines(tmp_path / "access.log",
                      [squid(i, T0 + timedelta(seconds=i)) for i in range(100)] + ["garbage line"] * 3)
    r = run_cli("--store", str(store), "ingest", str(src), now=NOW, umask=0)
    assert_clean_stderr(r, (1,))  # the garbage lines are rejected: a quarantine file exists
    out = tmp_path / "social.csv"
    r = run_cli("--store", str(store), "report", "social", "--format", "csv", "--output", str(out),
                "--from", "2026-11-01", "--to", "2026-11-30", now=NOW, umask=0)
    assert r.code == 0 and "Traceback" not in r.err, r.err
    loose = []
    assert Store(store).quarantine_files()
    for path in [store, *store.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            loose.append(f"{path.relative_to(tmp_path)}: {oct(mode)}")
    if stat.S_IMODE(out.stat().st_mode) != 0o600:
        loose.append(f"{out.name}: {oct(stat.S_IMODE(out.stat().st_mode))}")
    tried("security", "files checked for privacy", len(loose) + len(list(store.rglob("*"))) + 1)
    for item in loose:
        failed("security", f"not private: {item}")
    assert not loose, loose
