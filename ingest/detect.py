"""Input-format registry and `--format auto` detection (DESIGN §4).

Each format exposes NAME, looks_like(first_lines) and make_parser(first_line, tz,
cfg); the built-in ones are modules listed in FORMATS, the vendor CSV exports of
`[formats.NAME]` are objects made from the config (`ingest.vendor_csv`).

Detection looks at the first non-blank lines (the reader leaves out a BOM and
lines over the length limit), with a syslog envelope stripped when most of them
carry one (then each format is shown the lines whose tag is not another
program's: a firewall's whole syslog may start with dozens of its own lines;
ingest reads further when the first lines give no answer), and asks the formats in a fixed order: header-based CSV formats first
(the configured ones, then SurfProtect: a header with time, url and decision
columns is the strictest test, so an export is never mistaken for anything else),
then the line formats, squid last. When nothing fits, `explain` names the closest
format and why, so the technician knows which setting to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest import e2guardian, fortigate, squid, squidguard, surfprotect
from surfaudit.errors import InputError

FORMATS: dict[str, Any] = {"squid": squid, "surfprotect": surfprotect, "e2guardian": e2guardian,
                           "squidguard": squidguard, "fortigate": fortigate}
# Asked after the configured CSV formats; formats registered later are asked before squid.
_FIRST = ("surfprotect",)
_LAST = ("squid",)


@dataclass(frozen=True)
class Choice:
    """The format a file is read as, and whether its lines carry a syslog envelope."""

    format: Any
    enveloped: bool = False

    @property
    def name(self) -> str:
        return self.format.NAME + (" (syslog)" if self.enveloped else "")


def _envelope():
    try:
        from ingest import envelope
    except ImportError:  # pragma: no cover - the module ships with the package
        return None
    return envelope


def configured(cfg) -> list[Any]:
    """The vendor CSV formats declared in the config (`[formats.NAME]`)."""
    if cfg is None or not getattr(cfg.formats, "csv", ()):
        return []
    from ingest import vendor_csv

    return list(vendor_csv.formats(cfg))


def candidates(cfg=None) -> list[Any]:
    """Every format, in the order detection asks them."""
    middle = [m for n, m in FORMATS.items() if n not in _FIRST + _LAST]
    return [*configured(cfg), *(FORMATS[n] for n in _FIRST), *middle, *(FORMATS[n] for n in _LAST)]


def names(cfg=None) -> list[str]:
    """Every format name `--format` accepts."""
    return [*FORMATS, *(f.NAME for f in configured(cfg))]


def _looks_like(fmt: Any, lines: list[str], cfg) -> bool:
    if fmt is squid:  # squid's shape depends on [formats.squid] logformat
        return squid.looks_like(lines, cfg=cfg)
    return bool(fmt.looks_like(lines))


def detect(first_lines: list[str], cfg=None) -> Choice | None:
    """The format whose looks_like() accepts `first_lines` (bare, or with a syslog
    envelope stripped), else None."""
    lines = [ln.rstrip("\r") for ln in first_lines if ln.strip()]
    if not lines:
        return None
    for fmt in candidates(cfg):
        if _looks_like(fmt, lines, cfg):
            return Choice(fmt)
    env = _envelope()
    if env is not None and env.present(lines):
        for fmt in candidates(cfg):  # a format is asked about the lines other programs' tags leave it
            bare = [b for b in (env.strip_line(ln) for ln in env.ours(lines, fmt.NAME))
                    if not env.repeats.is_repeat(b)]  # "message repeated 3 times": judged by the others
            if bare and _looks_like(fmt, bare, cfg):
                return Choice(fmt, True)
    return None


_NO_HINT = ("no log lines", "no known format fits")


def is_hint(text: str) -> bool:
    """True when `explain` named a closest format (the file is likely a log)."""
    return not text.startswith(_NO_HINT)


def explain(first_lines: list[str], cfg=None) -> str:
    """Why no format fits, naming the closest one when there is one."""
    lines = [ln.rstrip("\r") for ln in first_lines if ln.strip()]
    if not lines:
        return "no log lines in the first part of the file"
    env = _envelope()
    if env is not None and env.present(lines):
        lines = [b for b in (env.strip_line(ln) for ln in lines) if not env.repeats.is_repeat(b)] or lines
        share = _best_share(lines, cfg)
        if share is not None:
            name, hits = share
            return (f"a syslog feed in which {hits} of the first {len(lines)} lines are {name} lines "
                    f"(the others are other programs'): give --format {name}")
    text = squid.hint(lines, cfg)
    if text:
        return text
    first = lines[0]
    if first.count(",") >= 2 or first.count(";") >= 2 or first.count("\t") >= 2:
        return ("looks like a CSV export whose header this version does not know: declare its columns in "
                "[formats.NAME] (see docs/formats.md)")
    return f"no known format fits (known: {', '.join(names(cfg))})"


def _best_share(lines: list[str], cfg) -> tuple[str, int] | None:
    """The format that most of `lines`, one by one, look like (at least one in ten), if any."""
    best = None
    for fmt in candidates(cfg):
        if getattr(fmt, "header_lines", 0) or fmt is FORMATS.get("surfprotect"):
            continue  # a CSV format needs its header first; lines alone say nothing
        hits = sum(1 for ln in lines if _looks_like(fmt, [ln], cfg))
        if hits * 10 >= len(lines) and hits and (best is None or hits > best[1]):
            best = (fmt.NAME, hits)
    return best


def get_format(name: str, cfg=None) -> Any:
    """The format called `name`; InputError for an unknown name."""
    key = name.strip().lower()
    if key in FORMATS:
        return FORMATS[key]
    for fmt in configured(cfg):
        if fmt.NAME == key:
            return fmt
    raise InputError(f"unknown log format {name!r} (known: {', '.join(names(cfg))})")
