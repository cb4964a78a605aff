"""The staff directory (DESIGN §5 `[directory]`): a CSV exported from the MIS, Active
Directory or Entra ID, read into people and their aliases.

Why it is strict: a report under the staff policy must be about the right person,
so a directory that cannot be read, lacks an `identity` column, repeats an
identity, gives one alias to two people, names an unknown schedule, has a row split
differently from its header or the same heading twice, or is a workbook saved under
a .csv name is a ConfigError naming the file and line, never a silently smaller
directory. '#' lines before the header (PowerShell's "#TYPE ...") and rows whose
identity starts with '#' (or a lone '#' cell) are comments. Of two headings of one
meaning the more specific is taken (DisplayName over Name, Identity over User).

Columns (headers matched case-insensitively, in any order; other columns, which
directory exports carry many of, are ignored): identity (required), name, group,
site, aliases, schedule, workdays; aliases and workdays are ';'-separated.
Identities and aliases compare lower-cased and trimmed, like stored identities
(DESIGN §3), so `LTE\\DPatel` and `dpatel@lte.org.uk` can both be aliases of `dpatel`.
The file is read once per (path, size, mtime) in a process.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from surfaudit.config_names import day_number
from surfaudit.errors import ConfigError

DELIMITERS = (",", ";", "\t", "|")
# Excel's first line naming the delimiter: "sep=;", in any case, re-saved by Excel as
# "sep=;;;;" (padded to the sheet's width), or quoted.
_SEP_LINE = re.compile(r'"?sep=\s*([^\w\s"]|\t)\1*"?\s*', re.IGNORECASE)
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
COLUMNS = ("identity", "name", "group", "site", "aliases", "schedule", "workdays")
_HEADER_ALIASES = {"identity": "identity", "user": "identity", "username": "identity", "name": "name",
                   "display name": "name", "displayname": "name", "group": "group", "site": "site",
                   "school": "site", "aliases": "aliases", "alias": "aliases", "schedule": "schedule",
                   "workdays": "workdays"}
# Of two headers of one meaning, the earlier here is taken (Active Directory's export
# has both Name, the account's CN, and DisplayName); the same heading twice is refused.
_PREFERENCE = ("identity", "username", "user", "display name", "displayname", "name", "site", "school",
               "aliases", "alias")


@dataclass(frozen=True)
class Person:
    identity: str
    name: str | None = None
    group: str | None = None
    site: str | None = None
    schedule: str | None = None
    workdays: tuple[int, ...] | None = None  # Monday = 0; None = the schedule's
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Directory:
    path: Path | None
    people: tuple[Person, ...] = ()

    def alias_map(self) -> dict[str, str]:
        """alias (lower-cased) -> identity; identities map to themselves."""
        out = {p.identity: p.identity for p in self.people}
        for p in self.people:
            for a in p.aliases:
                out[a] = p.identity
        return out

    def by_identity(self) -> dict[str, Person]:
        return {p.identity: p for p in self.people}


EMPTY = Directory(None)
_CACHE: dict[tuple, Directory] = {}


def identity_key(text: str) -> str:
    """How identities and aliases compare: trimmed and lower-cased (DESIGN §3)."""
    return text.strip().lower()


def load_directory(cfg) -> Directory:
    """The configured directory (EMPTY without `[directory].path`)."""
    path = cfg.org.directory_path
    if path is None:
        return EMPTY
    try:
        st = path.stat()
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: [directory].path: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: [directory].path: cannot read ({exc.strerror})") from None
    key = (str(path), st.st_size, st.st_mtime_ns, tuple(sorted(cfg.org.schedules)), tuple(sorted(cfg.org.sites)))
    if key not in _CACHE:
        _CACHE[key] = parse_directory(raw, path, set(cfg.org.schedules), set(cfg.org.sites))
    return _CACHE[key]


def check_in_scope(cfg, directory: Directory) -> None:
    """Reports under `scope = "staff"` show the directory's members only: a directory
    listing nobody would make every report empty (exit 0), so it is refused there;
    `users --unknown`, which helps build the directory, still runs."""
    if not directory.people and cfg.org.staff_only:
        raise ConfigError(f"{directory.path}: [directory].path: lists nobody (a header and no rows), and with "
                          f'[directory].scope = "staff" every report would be empty: check the export, '
                          f'or set scope = "all"')


def parse_directory(raw: bytes, path: Path | None, schedules: set[str], sites: set[str] | None = None) -> Directory:
    """Parse the CSV bytes; every problem is a ConfigError naming file and line. With
    `sites` (the configured [sites.NAME]), a row's site must be one of them."""
    where = str(path) if path else "directory"
    text = _decode(raw, where)
    if "\n" not in text and "\r" in text:  # classic Mac line ends (CR alone)
        text = text.replace("\r", "\n")
    skipped, sep = 0, None
    while True:  # before the header: Excel's "sep=;" line, '#' lines (PowerShell's "#TYPE ..."), blank lines
        first, _, rest = text.partition("\n")
        line_sep = _SEP_LINE.fullmatch(first) if sep is None else None
        if not (line_sep or first.lstrip("\ufeff").startswith("#") or not first.strip("\ufeff \t\r")) or not rest:
            break
        sep = sep or line_sep
        text, skipped = rest, skipped + 1
    if sep:  # the delimiter it names, then the header
        delimiter = sep.group(1)
    else:  # the header's: the one that splits it into an identity column, else the most frequent
        delimiter = _delimiter(first)
    if "\0" in text:  # a damaged file, or a binary one saved under a .csv name
        line = text[:text.index("\0")].count("\n") + 1 + skipped
        raise ConfigError(f"{where}: line {line}: a NUL byte: the file is damaged or is not text "
                          "(save it from the spreadsheet as CSV UTF-8)")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError(f"{where}: line {1 + skipped}: empty directory (expected a header with an 'identity' "
                          "column)") from None
    except csv.Error as exc:
        raise ConfigError(f"{where}: line {1 + skipped}: not CSV ({exc})") from None
    columns: dict[str, int] = {}
    for i, h in enumerate(header):
        heading = h.strip().lower()
        name = _HEADER_ALIASES.get(heading)
        if not name:
            continue
        if name in columns:
            other = header[columns[name]].strip().lower()
            if other == heading:  # which of the two is meant cannot be told
                raise ConfigError(f"{where}: line {1 + skipped}: columns {columns[name] + 1} and {i + 1} are both "
                                  f"headed {h.strip()!r}: rename or delete one")
            if _rank(heading) >= _rank(other):
                continue
        columns[name] = i
    heads = [h.strip().lower() for h in header]
    if "identity" not in columns:
        raise ConfigError(f"{where}: line {1 + skipped}: no 'identity' column in the header "
                          f"(expected {', '.join(COLUMNS)}; only identity is required)")
    people: list[Person] = []
    owner: dict[str, tuple[str, int]] = {}  # identity or alias -> (identity, line)
    try:
        for row in reader:
            line = reader.line_num + skipped
            if not any(cell.strip() for cell in row) or _comment(row, columns["identity"]):
                continue  # blank, or a comment a technician wrote into the file
            if [c.strip().lower() for c in row] == heads or _SEP_LINE.fullmatch(delimiter.join(row)):
                continue  # exports joined with `cat`: the header (or Excel's sep line) again
            _check_width(row, len(header), delimiter, where, line)
            person = _person(row, columns, schedules, where, line, sites or set())
            for key in (person.identity, *person.aliases):
                if key in owner and owner[key][0] != person.identity:
                    other, at = owner[key]
                    mine = f"identity {key!r}" if key == person.identity else f"alias {key!r} of {person.identity!r}"
                    theirs = "the identity" if key == other else "already an alias"
                    raise ConfigError(f"{where}: line {line}: {mine} is {theirs} of {other!r} (line {at})")
                if key == person.identity and key in owner:
                    raise ConfigError(f"{where}: line {line}: identity {key!r} is repeated (line {owner[key][1]})")
                owner[key] = (person.identity, line)
            people.append(person)
    except csv.Error as exc:
        raise ConfigError(f"{where}: line {reader.line_num + skipped}: not CSV ({exc})") from None
    return Directory(path, tuple(people))


def _comment(row: list[str], identity: int) -> bool:
    """A '#' comment: the identity starts with '#' (no login does), the row is one cell
    starting with '#', or its first cell starts with '# ' (a note written as comments
    are, "# updated by IT, bokafor"); a person whose first cell is "#1 Coach" is none."""
    cells = [c.strip() for c in row]
    if identity < len(cells) and cells[identity].startswith("#"):
        return True
    filled = [c for c in cells if c]
    return (len(filled) == 1 and cells[0].startswith("#")) or cells[0] == "#" or cells[0].startswith("# ")


def _rank(heading: str) -> int:
    return _PREFERENCE.index(heading) if heading in _PREFERENCE else len(_PREFERENCE)


def _check_width(row: list[str], width: int, delimiter: str, where: str, line: int) -> None:
    """A row split differently from its header would put values under the wrong
    columns (or an identity "bokafor;ben okafor;..." matching no login): refused.
    Fewer cells than the header are allowed (Excel leaves trailing empty cells out),
    unless the row is one cell holding another delimiter."""
    if len(row) > width and any(c.strip() for c in row[width:]):
        raise ConfigError(f"{where}: line {line}: {len(row)} columns, the header has {width} "
                          "(a value with the delimiter in it needs quotes)")
    if len(row) == 1 < width:
        other = next((d for d in DELIMITERS if d != delimiter and d in row[0]), None)
        if other is not None:
            raise ConfigError(f"{where}: line {line}: 1 column, the header has {width}: the row is separated "
                              f"by {other!r}, the header by {delimiter!r}")


def _utf16_without_bom(head: bytes) -> bool:
    """ASCII text as UTF-16: a NUL in most of the odd (LE) or even (BE) bytes; a stray NUL
    in a UTF-8 file is not that."""
    pairs = len(head) // 2
    return pairs >= 2 and max(head[1::2].count(0), head[0::2].count(0)) * 10 >= pairs * 8


def _delimiter(header: str) -> str:
    """The delimiter whose split of the header (quotes obeyed) has an identity column; of
    several, or none, the one giving the most columns (',' on a tie)."""
    def columns(d: str) -> list[str]:
        try:
            return next(csv.reader([header], delimiter=d), [])
        except csv.Error:
            return []

    def score(d: str) -> tuple[bool, int, bool]:
        cells = columns(d)
        return (any(_HEADER_ALIASES.get(c.strip().lower()) == "identity" for c in cells), len(cells), d == ",")

    return max(DELIMITERS, key=score)


def _decode(raw: bytes, where: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 as Excel's "Unicode Text" saves it (BOM, or
    NUL bytes beside ASCII), else Windows-1252 as older MIS exports are."""
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # .xlsx (a ZIP) or .xls, renamed
        raise ConfigError(f"{where}: is a spreadsheet workbook, not CSV: open it in the spreadsheet and save "
                          "it as 'CSV UTF-8'")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif _utf16_without_bom(raw[:200]):
        encoding = "utf-16-le" if raw[1:2] == b"\0" else "utf-16-be"
    else:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return raw.decode("cp1252", errors="replace")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not a readable text file (UTF-16 that does not decode at byte {exc.start})") from None


def _person(row: list[str], columns: dict[str, int], schedules: set[str], where: str, line: int,
            sites: set[str]) -> Person:
    def cell(name: str) -> str:  # a line break inside a quoted cell is a space
        i = columns.get(name)
        return _LINE_BREAKS.sub(" ", row[i]).strip() if i is not None and i < len(row) else ""

    identity = identity_key(cell("identity"))
    if not identity:
        raise ConfigError(f"{where}: line {line}: empty identity")
    split = next((d for d in DELIMITERS if d in identity), None)
    if split is not None:  # no login holds one: the row is separated by another delimiter than the header
        raise ConfigError(f"{where}: line {line}: identity {identity!r} holds {split!r}: is the row separated "
                          f"differently from the header?")
    aliases = tuple(dict.fromkeys(a for a in (identity_key(x) for x in cell("aliases").split(";"))
                                  if a and a != identity))
    schedule = cell("schedule") or None
    named = {s.lower(): s for s in schedules}  # like site and group, in any case
    if schedule is not None and schedule.lower() in named:
        schedule = named[schedule.lower()]
    elif schedule is not None:
        raise ConfigError(f"{where}: line {line}: schedule {schedule!r} is not defined (no [schedules.{schedule}])")
    workdays = None
    if cell("workdays"):
        numbers = [day_number(d) for d in cell("workdays").replace(",", ";").split(";") if d.strip()]
        if not numbers or None in numbers:
            raise ConfigError(f"{where}: line {line}: workdays {cell('workdays')!r}: use mon..sun separated by ';'")
        workdays = tuple(sorted(set(numbers)))
    group, site = cell("group").lower() or None, cell("site").lower() or None
    for column, value in (("group", group), ("site", site)):
        if value is not None and ";" in value:  # aliases take ';', but a person has one group and one site
            raise ConfigError(f"{where}: line {line}: {column} {cell(column)!r}: one {column} per person")
    if site is not None and sites and site not in sites:  # an MIS's "Riverside School" would fall back silently
        raise ConfigError(f"{where}: line {line}: site {cell('site')!r} is not defined (no [sites.{site}]; "
                          f"defined: {', '.join(sorted(sites))})")
    return Person(identity=identity, name=cell("name") or None, group=group,
                  site=site, schedule=schedule, workdays=workdays, aliases=aliases)
