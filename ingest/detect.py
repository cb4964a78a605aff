"""Input-format registry and `--format auto` detection (DESIGN §4).

Each format module exposes NAME, looks_like(first_lines) and make_parser(...);
detection asks each in turn. SurfProtect is asked first: its test (a header with
time, url and decision columns) is the stricter one, so a CSV export is never
mistaken for anything else.
"""

from __future__ import annotations

from types import ModuleType

from ingest import squid, surfprotect
from surfaudit.errors import InputError

FORMATS: dict[str, ModuleType] = {"squid": squid, "surfprotect": surfprotect}


def detect(first_lines: list[str]) -> ModuleType | None:
    """The format module whose looks_like() accepts `first_lines`, else None."""
    lines = [ln.rstrip("\r") for ln in first_lines]
    for module in (surfprotect, squid):
        if module.looks_like(lines):
            return module
    return None


def get_format(name: str) -> ModuleType:
    """The format module called `name`; InputError for an unknown name."""
    try:
        return FORMATS[name.strip().lower()]
    except KeyError:
        raise InputError(f"unknown log format {name!r} (known: {', '.join(FORMATS)})") from None
