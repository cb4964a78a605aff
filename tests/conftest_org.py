"""Helpers for the organisation tests: a config with a staff directory,
named schedules, groups, sites and a calendar, written to a temporary directory.

Not a pytest conftest: a module of the `tests` package, imported by the test files.
"""

from __future__ import annotations

from pathlib import Path

from surfaudit.config import Config, load_config
from tests.conftest_reports import ev


def org_cfg(tmp_path: Path, toml: str, directory: str | None = None, store: Path | None = None) -> Config:
    """Write `directory` (CSV text) to staff.csv and `toml` to surfaudit.toml, then load it.

    With a directory, `[directory] path = "staff.csv"` is added unless `toml` sets it."""
    text = toml
    if directory is not None:
        (tmp_path / "staff.csv").write_text(directory, encoding="utf-8")
        if "[directory]" not in toml:
            text = '[directory]\npath = "staff.csv"\n' + toml
    if store is not None:
        text = f'[store]\npath = "{store}"\n' + text
    (tmp_path / "surfaudit.toml").write_text(text, encoding="utf-8")
    return load_config(tmp_path / "surfaudit.toml")


def evc(ts: str, user: str, host: str, action: str = "allowed", ip: str = "10.0.0.1", **kw) -> dict:
    """`conftest_reports.ev` with a client address."""
    row = ev(ts, user, host, action, **kw)
    row["client_ip"] = ip
    return row
