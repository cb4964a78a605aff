"""The `[formats]` tables of the configuration (DESIGN §5): squid's logformat and vendor CSV exports.

A vendor's CSV export (Smoothwall, Lightspeed, Netsweeper, Securly, ...) has no
public format, so the technician declares it: which header holds each canonical
column, how times are written, which decision values mean allowed and blocked,
the encoding and the delimiter. Every mistake names its `[formats.NAME].key`.
What a logformat's `%` codes mean is ingest's business (`ingest.squid_logformat`
checks them before any file is read); here it is only a non-empty string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from surfaudit.config_names import unknown
from surfaudit.errors import ConfigError


def _where(source: Path | None, message: str) -> str:
    return f"{source}: {message}" if source else message


@dataclass(frozen=True)
class CsvFormat:
    """A vendor CSV export declared as `[formats.NAME]` (kind = "csv"): the header
    naming each canonical column, how times are written, which decision values
    mean allowed and blocked, the text encoding and the delimiter."""

    name: str
    time: str
    url: str
    decision: str
    user: str | None = None
    client_ip: str | None = None
    category: str | None = None
    time_format: str | None = None  # strptime pattern; None = ISO 8601
    allowed: tuple[str, ...] = ("allowed",)
    blocked: tuple[str, ...] = ("blocked",)
    encoding: str = "utf-8"  # utf-8 (a BOM is tolerated) | cp1252 | utf-16 (with its BOM)
    delimiter: str = ","


@dataclass(frozen=True)
class Formats:
    squid_logformat: str = "squid"  # squid | common | combined | referrer | useragent | a logformat body
    csv: tuple[CsvFormat, ...] = ()  # the [formats.NAME] vendor CSV exports, in file order

    def csv_named(self, name: str) -> CsvFormat | None:
        return next((f for f in self.csv if f.name == name), None)


BUILTIN_FORMATS = ("auto", "squid", "surfprotect", "e2guardian", "squidguard", "fortigate")
_CSV_KEYS = {"kind", "time", "time_format", "user", "client_ip", "url", "category", "decision",
             "allowed", "blocked", "encoding", "delimiter"}
# A UTF-16 file (with its BOM) is read as UTF-8 by the stream under every format.
_ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-8", "cp1252": "cp1252",
              "windows-1252": "cp1252"}


def parse_formats(table: dict, source: Path | None) -> Formats:
    """[formats.squid] logformat, and the vendor CSV formats [formats.NAME]."""
    squid_logformat = "squid"
    csv_formats: list[CsvFormat] = []
    for name, spec in table.items():
        where = f"[formats.{name}]"
        if not isinstance(spec, dict):
            raise ConfigError(_where(source, f"{where} must be a table"))
        if name == "squid":
            for key in spec:
                if key != "logformat":
                    raise ConfigError(_where(source, f"{where}.{key}: {unknown('unknown key', key, ['logformat'], True)}"))
            value = spec.get("logformat", "squid")
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(_where(source, f"{where}.logformat: expected a format name or a logformat body"))
            squid_logformat = value.strip()
            continue
        if name in BUILTIN_FORMATS or not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
            raise ConfigError(_where(source, f"{where}: a format name must be lower-case letters, digits, '-' or '_' "
                                             f"and not a built-in format ({', '.join(BUILTIN_FORMATS)})"))
        csv_formats.append(_csv_format(name, spec, where, source))
    return Formats(squid_logformat, tuple(csv_formats))


def _csv_format(name: str, spec: dict, where: str, source: Path | None) -> CsvFormat:
    for key in spec:
        if key not in _CSV_KEYS:
            raise ConfigError(_where(source, f"{where}.{key}: {unknown('unknown key', key, _CSV_KEYS)}"))
    kind = spec.get("kind", "csv")
    if kind != "csv":
        raise ConfigError(_where(source, f"{where}.kind: only \"csv\" is supported, got {kind!r}"))

    def text(key: str, required: bool = False) -> str | None:
        value = spec.get(key)
        if value is None:
            if required:
                raise ConfigError(_where(source, f"{where}.{key}: required (the header of that column)"))
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(_where(source, f"{where}.{key}: expected a non-empty string, got {value!r}"))
        return value.strip()

    def values(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = spec.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(_where(source, f"{where}.{key}: expected a list of decision values"))
        return tuple(v.strip() for v in value)

    allowed, blocked = values("allowed", ("allowed",)), values("blocked", ("blocked",))
    both = {v.lower() for v in allowed} & {v.lower() for v in blocked}
    if both:
        raise ConfigError(_where(source, f"{where}: {sorted(both)[0]!r} is both allowed and blocked"))
    time_format = text("time_format")
    if time_format is not None and "%" not in time_format:
        raise ConfigError(_where(source, f"{where}.time_format: expected a strptime pattern such as \"%d/%m/%Y %H:%M\""))
    encoding = str(spec.get("encoding", "utf-8")).strip().lower()
    if encoding not in _ENCODINGS:
        raise ConfigError(_where(source, f"{where}.encoding: {encoding!r} is not supported (utf-8, utf-16 or cp1252)"))
    delimiter = spec.get("delimiter", ",")
    if delimiter == "\\t":
        delimiter = "\t"
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n":
        raise ConfigError(_where(source, f"{where}.delimiter: expected one character, got {delimiter!r}"))
    spec_ = CsvFormat(
        name=name, time=text("time", True), url=text("url", True), decision=text("decision", True),
        user=text("user"), client_ip=text("client_ip"), category=text("category"), time_format=time_format,
        allowed=allowed, blocked=blocked, encoding=_ENCODINGS[encoding], delimiter=delimiter,
    )
    if spec_.user is None and spec_.client_ip is None:
        raise ConfigError(_where(source, f"{where}: name the user column (user = \"...\"), "
                                         "the client address column (client_ip = \"...\") or both"))
    seen: dict[str, str] = {}
    for key in ("time", "user", "client_ip", "url", "category", "decision"):
        header = getattr(spec_, key)
        if header is None:
            continue
        folded = " ".join(header.lower().split())
        if folded in seen:
            raise ConfigError(_where(source, f"{where}.{key}: the header {header!r} is already given to {seen[folded]}"))
        seen[folded] = key
    return spec_
