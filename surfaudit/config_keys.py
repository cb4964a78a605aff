"""The plain config keys (DESIGN §5), declared once.

Each key has its TOML type, its default as written in TOML and the comment the
`init` file shows above it. From this table come the keys `parse_config`
accepts, the defaults it applies (and those of the Config dataclasses) and the
commented init file, so the three cannot drift apart. `[formats]` and the
organisation sections are declared by `config_formats` and `config_org`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Key:
    """One key of a section: its TOML type, default and init-file comment."""

    name: str
    kind: Any  # a type, or a tuple of types (isinstance)
    default: Any  # as written in TOML
    doc: str | None = ""  # comment lines above it in the init file; None: not in the init file
    bounds: tuple[float, float] | None = None  # the least and most a number may be (checked, shown in init)


@dataclass(frozen=True)
class Section:
    name: str
    keys: tuple[Key, ...]
    note: str = ""  # a comment on the section's header line in the init file


SECTIONS: tuple[Section, ...] = (
    Section("store", (
        Key("path", str, "surfaudit-data",
            "Where the Parquet store, manifest, quarantine and audit log live.\n"
            "A relative path is relative to this file's directory. Created private (0700).\n"
            'Or an object store: path = "s3://bucket/prefix" (a Delta Lake table; see\n'
            "docs/scaling.md). Credentials come from the standard AWS environment/config chain."),
        Key("endpoint", str, "",
            "An S3-compatible service (MinIO, ...) for an s3:// path; else $AWS_ENDPOINT_URL,\n"
            "else AWS itself. Plain http is allowed for a local endpoint."),
    )),
    Section("schedule", (
        Key("timezone", str, "Europe/London",
            "IANA time zone; clock changes (BST/GMT) are handled by the tz database."),
        Key("workdays", list, ["mon", "tue", "wed", "thu", "fri"],
            'Days on which work hours and breaks apply; other days are "outside hours".'),
        Key("work_hours", str, "08:00-17:00", 'Local working hours, "HH:MM-HH:MM" (end exclusive).'),
        Key("breaks", list, ["10:30-10:50", "12:00-13:00"],
            "Official breaks: social media use inside these windows is allowed by policy."),
    ), note="all times are local to `timezone`"),
    Section("social", (
        Key("domains", list, ["facebook.com", "instagram.com", "twitter.com", "x.com",
                              "tiktok.com", "youtube.com", "linkedin.com", "snapchat.com"],
            'A host is social when it equals one of these or ends with "." + one of them.'),
        Key("ignore_hosts", list, [], "Exact hosts never counted as social (embedded widgets, share buttons)."),
        Key("idle_gap_seconds", int, 300,
            "A request covers the time until the next social request when that gap is at\n"
            "most idle_gap_seconds; otherwise (and after the last request) tail_seconds.",
            bounds=(0, 86400)),
        Key("tail_seconds", int, 60, bounds=(0, 86400)),
        Key("flag_minutes", (int, float), 30,
            "A day is flagged when social time outside breaks (in work hours) reaches this.",
            bounds=(0, 1440)),
    )),
    Section("blocked", (
        Key("burst_seconds", int, 60,
            "Blocked requests to the same host within this many seconds of the previous\n"
            "one count as a single attempt.", bounds=(0, 86400)),
    )),
    Section("retention", (
        Key("months", int, 12, "Months of data kept; older month partitions are purged (policy: one year).",
            bounds=(1, 12000)),
    )),
    Section("ingest", (
        Key("settle_seconds", int, 300,
            "A plain log file untouched for this many seconds is finished: its last line is\n"
            "read even without a final newline. A file written more recently is live, and an\n"
            'unfinished last line waits for the next run ("held back" in the summary).', bounds=(0, 10**9)),
        Key("max_line_bytes", int, 65536, "Lines longer than this are rejected as too long (never held in memory).",
            bounds=(1024, 16 * 1024 * 1024)),
        Key("recursive", bool, False, "Read the subdirectories of a directory given to ingest/nightly."),
        Key("site", str, "",
            'This machine\'s site, for stores that several schools write into ("" = the host\n'
            "name): stored with every row ingested here; `report --proxy-site NAME` keeps\n"
            "only the rows a site ingested (`--site` selects people by the staff directory)."),
    )),
    Section("engine", (
        Key("kind", str, "duckdb",
            'The SQL engine of reports and exports: "duckdb" (in this process) or "spark"\n'
            "(Apache Spark: pip install 'surfaudit[spark]' and Java 17+); --engine overrides it."),
        Key("master", str, "local[*]",
            "Spark's master: local[N] (this machine), spark://host:7077 (a cluster) or\n"
            "sc://host:15002 (Spark Connect)."),
        Key("memory_limit", str, "600MB",
            "DuckDB's memory for one report or export (e.g. \"600MB\", \"4GB\"); what does not fit\n"
            "spills to a private temporary directory. A year of a large trust may need more."),
    )),
)

KNOWN: dict[str, frozenset[str]] = {s.name: frozenset(k.name for k in s.keys) for s in SECTIONS}
_BY_NAME = {(s.name, k.name): k for s in SECTIONS for k in s.keys}


def key(section: str, name: str) -> Key:
    return _BY_NAME[(section, name)]


def number(v: float) -> str:
    """A bound as people write it: 16777216, not 1.67772e+07."""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def bounded() -> list[tuple[str, str, float, float]]:
    """(section, name, least, most) of every key with bounds."""
    return [(s.name, k.name, *k.bounds) for s in SECTIONS for k in s.keys if k.bounds]


def default(section: str, name: str) -> Any:
    """The key's default, as written in TOML (a fresh copy of a list)."""
    value = key(section, name).default
    return list(value) if isinstance(value, list) else value


def init_text() -> str:
    """The sections of the commented init file that this table declares."""
    out: list[str] = []
    for section in SECTIONS:
        keys = [k for k in section.keys if k.doc is not None]
        if not keys:
            continue
        header = f"[{section.name}]"
        out.append(f"{header:<31} # {section.note}" if section.note else header)
        for k in keys:
            out += [f"# {line}" for line in (k.doc or "").splitlines()]
            if k.bounds:
                out.append(f"# ({number(k.bounds[0])} to {number(k.bounds[1])})")
            out.append(f"{k.name} = {json.dumps(k.default)}")
        out.append("")
    return "\n".join(out)
