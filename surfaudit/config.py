"""Configuration (DESIGN §5): discovery, parsing with tomllib, and strict validation.

A config mistake must stop the command with a message naming the key; silently
falling back to a default would make a report about the wrong hours. Built-in
defaults apply only when no file is found at all.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from surfaudit.config_names import (
    DAY_NAMES, day_number, endpoint_problem, host_problem, normalise_host, unknown,
)
from surfaudit.config_formats import CsvFormat, Formats, parse_formats  # noqa: F401 - CsvFormat re-exported
from surfaudit.config_keys import KNOWN, bounded, default, init_text, key as config_key, number as bound_text
from surfaudit.config_org import ORG_TOML, SECTIONS as ORG_SECTIONS, Organisation, parse_org
from surfaudit.errors import ConfigError

DEFAULT_DOMAINS = tuple(default("social", "domains"))
SYSTEM_CONFIG = Path("/etc/surfaudit/surfaudit.toml")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Window:
    """A local clock-time window [start, end) in minutes after midnight."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def check_timetable(workdays, hours: Window, breaks, where: str, source: Path | None) -> None:
    """What a timetable must be to mean what it says (`where`: "[schedule]" or
    "[schedules.NAME]"): a workday at least, and breaks inside the work hours that do
    not overlap (a break at 18:00 would make evening time "in break"; two overlapping
    breaks are a typo)."""
    if not workdays:
        raise ConfigError(_where(source, f"{where}.workdays: at least one day (use mon..sun)"))
    ordered = sorted(breaks, key=lambda w: w.start)
    for b in ordered:
        if b.start < hours.start or b.end > hours.end:
            raise ConfigError(_where(source, f"{where}.breaks: {b} is outside the work hours {hours}"))
    for a, b in zip(ordered, ordered[1:]):
        if b.start < a.end:
            raise ConfigError(_where(source, f"{where}.breaks: {a} and {b} overlap"))


def _window(text: str, key: str, source: Path | None) -> Window:
    m = _RANGE.match(text.strip())
    if not m:
        raise ConfigError(_where(source, f"{key}: expected \"HH:MM-HH:MM\", got {text!r}"))
    h1, m1, h2, m2 = map(int, m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
        raise ConfigError(_where(source, f"{key}: {text!r} is not a valid time range within one day"))
    return Window(start, end)


def _where(source: Path | None, message: str) -> str:
    return f"{source}: {message}" if source else message


def _days(names: list[str]) -> tuple[int, ...]:
    return tuple(sorted({d for d in map(day_number, names) if d is not None}))


@dataclass(frozen=True)
class Schedule:
    timezone: str = default("schedule", "timezone")
    workdays: tuple[int, ...] = _days(default("schedule", "workdays"))  # Monday = 0, as datetime.weekday()
    work_hours: Window = _window(default("schedule", "work_hours"), "[schedule].work_hours", None)
    breaks: tuple[Window, ...] = tuple(_window(b, "[schedule].breaks", None) for b in default("schedule", "breaks"))

    @property
    def workday_names(self) -> list[str]:
        return [DAY_NAMES[d] for d in self.workdays]


@dataclass(frozen=True)
class Social:
    domains: tuple[str, ...] = DEFAULT_DOMAINS
    ignore_hosts: tuple[str, ...] = tuple(default("social", "ignore_hosts"))
    idle_gap_seconds: int = default("social", "idle_gap_seconds")
    tail_seconds: int = default("social", "tail_seconds")
    flag_minutes: float = default("social", "flag_minutes")


@dataclass(frozen=True)
class Blocked:
    burst_seconds: int = default("blocked", "burst_seconds")


@dataclass(frozen=True)
class Retention:
    months: int = default("retention", "months")


_MEMORY = re.compile(r"[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


@dataclass(frozen=True)
class Engine:
    """`[engine]`: which SQL engine runs reports and exports (surfaudit.engine)."""

    kind: str = default("engine", "kind")  # duckdb | spark
    master: str = default("engine", "master")  # spark: local[N] | spark://host:7077 | sc://host:15002 (Spark Connect)
    memory_limit: str = default("engine", "memory_limit")  # duckdb: its memory_limit setting


@dataclass(frozen=True)
class Ingest:
    settle_seconds: int = default("ingest", "settle_seconds")  # a plain file untouched this long is finished (DESIGN §4)
    max_line_bytes: int = default("ingest", "max_line_bytes")  # longer lines are rejected as too long
    recursive: bool = default("ingest", "recursive")  # read the subdirectories of a directory argument
    site: str = default("ingest", "site")  # this machine's site, stored with its rows ("" = host name)


@dataclass(frozen=True)
class Config:
    store_path: Path = Path(default("store", "path"))
    store_uri: str = ""  # an object-store location (s3://bucket/prefix) instead of store_path
    store_endpoint: str = default("store", "endpoint")  # [store].endpoint: an S3-compatible service (else $AWS_ENDPOINT_URL)
    schedule: Schedule = field(default_factory=Schedule)
    social: Social = field(default_factory=Social)
    blocked: Blocked = field(default_factory=Blocked)
    retention: Retention = field(default_factory=Retention)
    ingest: Ingest = field(default_factory=Ingest)
    formats: Formats = field(default_factory=Formats)
    engine: Engine = field(default_factory=Engine)
    org: Organisation = field(default_factory=Organisation)  # directory, schedules, groups, sites, calendar, privacy, policy
    source: Path | None = None  # the file it was read from; None for built-in defaults


def find_config(explicit: str | os.PathLike | None = None) -> Path | None:
    """Discovery order of §5: --config, $SURFAUDIT_CONFIG, ./surfaudit.toml, /etc/..."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    env = os.environ.get("SURFAUDIT_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (from $SURFAUDIT_CONFIG)")
        return path
    for candidate in (Path("surfaudit.toml"), SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: str | os.PathLike | None = None, store: str | os.PathLike | None = None) -> Config:
    """Find, read and validate the configuration; `store` is the --store override."""
    path = find_config(explicit)
    if path is None:
        cfg = Config()
    else:
        try:
            with open(path, "rb") as fh:
                data = tomllib.loads(_config_text(fh.read(), path))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        cfg = parse_config(data, source=path)
    if store is not None:
        uri = _store_uri(str(store), "--store")
        cfg = _replace(cfg, store_uri=uri) if uri else _replace(cfg, store_path=_local_store(str(store), "--store"),
                                                                 store_uri="")
    return cfg


def _config_text(raw: bytes, path: Path) -> str:
    """The file as TOML text: UTF-8 (TOML's encoding), a leading byte order mark (as
    Windows Notepad saves) left out; another encoding is one line naming the line."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 (save the file as UTF-8)") from None


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


_S3 = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^\s]*)?$")


def _store_uri(text: str, where: str) -> str:
    """An `s3://bucket/prefix` store location, or "" for a local directory. A URI of
    any other scheme (gs://, file://, ...) is refused, never taken for a relative path
    (which would silently make a local directory called `gs:`)."""
    text = text.strip()
    if not _URI.match(text):
        return ""
    scheme = text.split(":", 1)[0].lower()
    if scheme != "s3":
        raise ConfigError(f"{where}: {scheme}:// stores are not supported; give a local directory "
                          "or an s3://bucket/prefix URI")
    match = _S3.match(text)
    if not match:
        raise ConfigError(f"{where}: {text!r} is not an S3 location (expected s3://bucket/prefix, "
                          "a lower-case bucket name)")
    return f"s3://{match.group(1)}/{(match.group(2) or '/').strip('/')}".rstrip("/")


def _local_store(text: str, where: str) -> Path:
    """The store directory (a URI is handled by `_store_uri` first). An empty one is
    refused: Path("") is the current directory, which would become a store (and
    private) wherever the command ran, e.g. cron's `--store "$STORE"` with it unset."""
    if not text.strip():
        raise ConfigError(f"{where} is empty; give the store's directory or an s3://bucket/prefix URI")
    return Path(text)


def _replace(cfg: Config, **changes) -> Config:
    from dataclasses import replace

    return replace(cfg, **changes)


def parse_config(data: dict, source: Path | None = None) -> Config:
    """Validate a parsed TOML document; every error names its `[section].key`."""
    sections = {*KNOWN, "formats", *ORG_SECTIONS}
    for name in data:
        if name not in sections:
            raise ConfigError(_where(source, unknown(f"unknown section [{name}]", name, sections)))
        if not isinstance(data[name], dict):
            raise ConfigError(_where(source, f"[{name}] must be a table"))
    reader = _Reader(data, source)

    store_text = reader.get("store", "path")
    store_uri = _store_uri(store_text, _where(source, "[store].path"))
    store_endpoint = reader.get("store", "endpoint").strip()
    if store_endpoint and endpoint_problem(store_endpoint):
        raise ConfigError(_where(source, f"[store].endpoint: {store_endpoint!r}: {endpoint_problem(store_endpoint)}"))
    store_path = _local_store(default("store", "path") if store_uri else store_text, _where(source, "[store].path"))
    if not store_path.is_absolute() and source is not None:
        store_path = source.parent / store_path

    tz = reader.get("schedule", "timezone")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(_where(source, f"[schedule].timezone: unknown time zone {tz!r}")) from None
    if tz in ("localtime", "posixrules") or tz.startswith(("posix/", "right/")):
        # files of the system's zone directory, not zone names: DuckDB and Spark know no
        # such zone, so every report failed (ingest ran)
        raise ConfigError(_where(source, f"[schedule].timezone: {tz!r} is a file of the system's time zone "
                                         "directory, not a zone name: give one such as \"Europe/London\""))
    days = reader.get("schedule", "workdays")
    workdays = []
    for day in days:
        number = day_number(day)
        if number is None:
            raise ConfigError(_where(source, f"[schedule].workdays: unknown day {day!r} (use mon..sun)"))
        workdays.append(number)
    work_hours = _window(reader.get("schedule", "work_hours"), "[schedule].work_hours", source)
    breaks = []
    for i, text in enumerate(reader.get("schedule", "breaks")):
        if not isinstance(text, str):
            raise ConfigError(_where(source, f"[schedule].breaks[{i}]: expected \"HH:MM-HH:MM\""))
        breaks.append(_window(text, f"[schedule].breaks[{i}]", source))
    check_timetable(workdays, work_hours, breaks, "[schedule]", source)

    domains = reader.get("social", "domains")
    ignore = reader.get("social", "ignore_hosts")
    for key, values in (("domains", domains), ("ignore_hosts", ignore)):
        for value in values:
            problem = host_problem(value)
            if problem:
                raise ConfigError(_where(source, f"[social].{key}: {value!r} {problem}"))
    idle = reader.get("social", "idle_gap_seconds")
    tail = reader.get("social", "tail_seconds")
    flag = reader.get("social", "flag_minutes")
    burst = reader.get("blocked", "burst_seconds")
    months = reader.get("retention", "months")
    # The bounds (config_keys): a gap, tail or burst longer than a day, a threshold above
    # a day's minutes or a retention beyond a thousand years means a typo (and would
    # overflow the date and millisecond arithmetic the reports and purge do).
    for section, name, minimum, maximum in bounded():
        value = reader.get(section, name)
        if value != value:  # TOML's nan passes both comparisons (and inf is above every bound)
            raise ConfigError(_where(source, f"[{section}].{name}: must be a number, got nan"))
        if value < minimum:
            raise ConfigError(_where(source, f"[{section}].{name}: must be at least {bound_text(minimum)}, got {value}"))
        if value > maximum:
            raise ConfigError(_where(source, f"[{section}].{name}: must be at most {bound_text(maximum)}, got {value}"))
    ingest = Ingest(
        settle_seconds=reader.get("ingest", "settle_seconds"),
        max_line_bytes=reader.get("ingest", "max_line_bytes"),
        recursive=reader.get("ingest", "recursive"),
        site=reader.get("ingest", "site").strip(),
    )
    formats = parse_formats(data.get("formats", {}), source)
    engine = Engine(reader.get("engine", "kind").strip().lower(),
                    reader.get("engine", "master").strip(),
                    reader.get("engine", "memory_limit").strip())
    if not _MEMORY.fullmatch(engine.memory_limit):
        raise ConfigError(_where(source, f"[engine].memory_limit: expected a size such as \"600MB\" or \"4GB\", "
                                         f"got {engine.memory_limit!r}"))
    if engine.kind not in ("duckdb", "spark"):
        raise ConfigError(_where(source, f"[engine].kind: expected \"duckdb\" or \"spark\", got {engine.kind!r}"))
    if not (engine.master.startswith(("local", "spark://", "sc://", "yarn", "k8s://"))):
        shown = engine.master.split(";", 1)[0]  # what follows a ';' may be a token
        raise ConfigError(_where(source, f"[engine].master: expected local[*], spark://host:port, "
                                         f"sc://host:port, yarn or k8s://..., got {shown!r}"))
    reader.check_unknown()

    return Config(
        store_path=store_path,
        store_uri=store_uri,
        store_endpoint=store_endpoint,
        schedule=Schedule(tz, tuple(sorted(set(workdays))), work_hours, tuple(sorted(breaks, key=lambda w: w.start))),
        social=Social(
            tuple(dict.fromkeys(normalise_host(d) for d in domains)),
            tuple(dict.fromkeys(normalise_host(h) for h in ignore)),
            idle, tail, flag,
        ),
        blocked=Blocked(burst),
        retention=Retention(months),
        ingest=ingest,
        formats=formats,
        engine=engine,
        org=parse_org(data, source),
        source=source,
    )


class _Reader:
    """Typed access to config keys that remembers which keys were read."""

    KNOWN: dict[str, frozenset[str] | None] = {**KNOWN, "formats": None}  # [formats]: parse_formats

    def __init__(self, data: dict, source: Path | None):
        self.data, self.source = data, source

    def get(self, section: str, key: str):
        """The key's value, checked against its declared type, else its default."""
        declared = config_key(section, key)
        kind = declared.kind
        table = self.data.get(section, {})
        if key not in table:
            return default(section, key)
        value = table[key]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "number"
            raise ConfigError(_where(self.source, f"[{section}].{key}: expected {names}, got {value!r}"))
        return value

    def check_unknown(self) -> None:
        for section, table in self.data.items():
            known = self.KNOWN.get(section)
            if known is None:  # [formats], and the sections of surfaudit.config_org
                continue
            for key in table:
                if key not in known:
                    raise ConfigError(_where(self.source, f"[{section}].{key}: {unknown('unknown key', key, known)}"))


DEFAULT_TOML = '''\
# surfaudit configuration (see README and DESIGN §5).
# Found by --config PATH, else $SURFAUDIT_CONFIG, else ./surfaudit.toml,
# else /etc/surfaudit/surfaudit.toml, else these built-in defaults.

''' + init_text() + '''
[formats.squid]
# squid | common | combined | referrer | useragent, or the body of a custom
# logformat line copied from squid.conf (e.g. "%ts.%03tu %6tr %>a %Ss/%03>Hs ...").
logformat = "squid"

# A vendor's CSV export (Smoothwall, Lightspeed, Netsweeper, Securly, ...), named
# here and then usable as `--format NAME` and by auto-detection:
# [formats.myfilter]
# kind = "csv"
# time = "Date/Time"                 # the header of each column
# time_format = "%d/%m/%Y %H:%M:%S"  # strptime; no offset = local time in [schedule].timezone
# user = "Username"
# client_ip = "IP Address"
# url = "URL"
# category = "Category"              # optional
# decision = "Action"
# allowed = ["Allowed"]
# blocked = ["Blocked"]
# encoding = "utf-8"                 # utf-8 (a BOM is tolerated) | cp1252 | utf-16 (with its BOM)
# delimiter = ","
''' + ORG_TOML
