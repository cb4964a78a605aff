"""`surfaudit dashboard`: the morning data, pseudonymised as reports are, driven
through Textual's own test harness (pilot), with a text snapshot of the screen.

The samples' squid logs, a 20-minute threshold (so `amorgan`'s Thursday 5 Nov,
29 minutes outside breaks, is flagged) and the clock at Thursday 5 Nov 18:00 UTC.
Regenerate the snapshot with SURFAUDIT_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from ingest.pipeline import ingest_paths
from surfaudit.config import load_config
from surfaudit.dashboard.app import Dashboard, PersonScreen
from surfaudit.dashboard.data import Viewing, load_morning, person_days
from surfaudit.errors import UsageError
from surfaudit.store import Store
from tests.conftest import ROOT, SAMPLES, run_cli

NOW = "2026-11-05T18:00:00+00:00"
GOLDEN = ROOT / "tests" / "golden" / "dashboard.txt"
SIZE = (120, 40)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setenv("SURFAUDIT_NOW", NOW)


def _config(tmp: Path, store: Path, private: bool) -> object:
    text = (SAMPLES / "surfaudit.toml").read_text().replace("flag_minutes = 30", "flag_minutes = 20")
    if private:
        text += "\n[privacy]\nreports_name_people = false\n"
    path = tmp / ("private.toml" if private else "surfaudit.toml")
    path.write_text(text)
    return load_config(path, store)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    store = Store(tmp / "store")
    old = os.environ.get("SURFAUDIT_NOW")
    os.environ["SURFAUDIT_NOW"] = NOW
    try:
        cfg = _config(tmp, store.root, private=False)
        with store.lock():
            ingest_paths(store, cfg, [SAMPLES / "access.log.1.gz", SAMPLES / "access.log"])
    finally:
        os.environ.pop("SURFAUDIT_NOW") if old is None else os.environ.__setitem__("SURFAUDIT_NOW", old)
    return tmp, store


def screen_text(app) -> str:
    """The screen as plain text, rendered as export_screenshot renders it."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), force_terminal=True,
                      color_system=None, record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def drive(app, *keys: str) -> list:
    """Run the app headless, pressing `keys` (None = take a snapshot); the snapshots."""
    shots = []

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            for key in keys:
                if key is None:
                    shots.append((type(app.screen), screen_text(app)))
                else:
                    await pilot.press(key)
                    await pilot.pause()

    asyncio.run(go())
    return shots


def test_morning_data_agrees_with_the_reports(sample):
    tmp, store = sample
    cfg = _config(tmp, store.root, private=False)
    m = load_morning(store, cfg)
    assert (m.today, m.week_from, m.named) == (date(2026, 11, 5), date(2026, 10, 30), True)
    assert m.flagged_week.select("user", "days_flagged").rows() == [("amorgan", 1)]
    assert m.flagged_today["user"].to_list() == ["amorgan"]
    report = run_cli("--config", str(tmp / "surfaudit.toml"), "--store", str(store.root), "report", "social",
                     "--flagged", "--from", "2026-10-30", "--to", "2026-11-05", "--format", "csv",
                     env={"SURFAUDIT_NOW": NOW})
    assert report.code == 0, report.err
    minutes = pl.read_csv(io.StringIO(report.out))["outside_break_minutes"].sum()
    assert m.flagged_week["outside_break_minutes"].sum() == pytest.approx(minutes)
    assert m.top_blocked.select("host", "requests").rows() == [
        ("www.instagram.com", 44), ("www.facebook.com", 43), ("www.tiktok.com", 41)]
    assert m.rows == 4066 and m.months == ["2026-10", "2026-11"]
    assert m.last_ingest["rows"] == 4066 and m.last_purge is None
    assert m.store_bytes == sum(p.stat().st_size for p in store.root.rglob("*") if p.is_file())
    days = person_days(store, cfg, "amorgan", m)
    assert days["date"].to_list()[-1] == date(2026, 11, 5) and days["flagged"].to_list()[-1] is True


def test_pseudonymised_unless_revealed_with_a_reason_and_the_reveal_is_audited(sample):
    tmp, store = sample
    cfg = _config(tmp, store.root, private=True)
    before = len(store.audit_entries())
    hidden = load_morning(store, cfg)
    pseudonym = hidden.flagged_week["user"].item()
    assert pseudonym.startswith("staff-") and not hidden.named
    assert len(store.audit_entries()) == before  # a pseudonymised view names nobody
    with pytest.raises(UsageError, match="--reveal needs --reason"):
        load_morning(store, cfg, Viewing(reveal=True))
    shown = load_morning(store, cfg, Viewing(reveal=True, reason="weekly check"))
    assert shown.flagged_week["user"].item() == "amorgan" and shown.named and shown.recorded
    entry = store.audit_entries()[-1]
    assert (entry["command"], entry["reason"], entry["detail"]) == ("report social", "weekly check",
                                                                    "named 1 people; filters flagged=True")
    days = person_days(store, cfg, pseudonym, hidden)  # the pseudonym shown leads to the same days
    assert set(days["user"].to_list()) == {pseudonym} and days.height == 5


def test_pilot_snapshot_navigation_and_clean_quit(sample):
    tmp, store = sample
    cfg = _config(tmp, store.root, private=False)
    app = Dashboard(store, cfg, load_morning(store, cfg))
    shots = drive(app, None, "enter", None, "escape", None, "tab", "enter", None, "escape", "q")
    (main_kind, main), (person_kind, person), (back_kind, back), (week_kind, week) = shots
    text = re.sub(r"\d[\d,.]* (bytes|KB|MB)", "<size>", main)  # Parquet sizes vary with library versions
    if os.environ.get("SURFAUDIT_UPDATE_GOLDEN"):
        GOLDEN.write_text(text + "\n")
    assert text + "\n" == GOLDEN.read_text(), "dashboard snapshot differs (see SURFAUDIT_UPDATE_GOLDEN)"
    assert person_kind is PersonScreen and "amorgan: social days 2026-10-30 to 2026-11-05" in person
    day_lines = [ln for ln in person.splitlines() if re.match(r"\s*2026-1[01]-\d\d\s", ln)]
    assert len(day_lines) == 5 and day_lines[-1].split()[0] == "2026-11-05" and day_lines[-1].endswith("FLAGGED")
    assert back_kind is not PersonScreen and back == main  # Escape: back where it was
    assert week_kind is PersonScreen and "amorgan: social days" in week  # Tab to the week's table, Enter
    assert app.return_code == 0 and not app.is_running  # q quits cleanly


def test_hostile_values_are_shown_as_text(sample):
    tmp, store = sample
    cfg = _config(tmp, store.root, private=False)
    m = load_morning(store, cfg)
    evil = "[red]x[/red]\x1b[2J"
    m.flagged_week = m.flagged_week.with_columns(pl.lit(evil).alias("user"))
    m.top_blocked = m.top_blocked.with_columns(pl.lit("[b]host\x07").alias("host"))
    (_, text), = drive(Dashboard(store, cfg, m), None, "q")
    assert "[red]x[/red]\\x1b[2J" in text and "[b]host\\x07" in text
    assert "\x1b" not in text and "\x07" not in text


def test_cli_needs_a_terminal_and_checks_reveal_first(sample):
    tmp, store = sample
    base = ("--config", str(tmp / "surfaudit.toml"), "--store", str(store.root), "dashboard")
    run = run_cli(*base)
    assert run.code == 2 and run.out == ""
    assert run.err.strip() == ("surfaudit: error: dashboard: needs a terminal (for scripts and cron use "
                               "`surfaudit report social --flagged`)")
    bad = run_cli(*base, "--reveal")
    assert bad.code == 2 and "--reveal needs --reason" in bad.err and bad.out == ""
    missing = run_cli("--store", str(tmp / "nowhere"), "dashboard")
    assert missing.code == 2 and "no store here" in missing.err
