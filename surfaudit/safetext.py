"""Data is text, never markup, escape codes or formulas.

Identities, hosts, URLs and categories come from proxy logs, and `--user`/`--reason`
from the command line; none of it is trusted. Two rules, in one place:

* `printable(text)`: for terminals (and `escape_controls` for the HTML and the
  workbook). Control characters (C0, DEL, C1: ESC would start a terminal escape
  sequence, CR/BS could overwrite what was printed), the invisible bidirectional
  overrides (which reorder what the reader sees), line and paragraph separators and
  invisible format characters (a zero-width space in "ad\u200bmin") are shown escaped
  as Python would write them: `\\x1b`, `\\n`, `\\u202e`, `\\U000e0001`. Format
  characters that writing needs are left: the zero-width joiner and non-joiner (emoji
  sequences, Persian and Indic spelling) and the tag characters of the flags of England,
  Scotland and Wales after their black flag. A backslash stays a backslash.
  Rich markup is not an issue once a value is passed as a `rich.text.Text` (render.py
  does that), so this function does not touch `[`.
* `neutralise(cell)`: for every CSV the tool writes (reports, the audit log, the
  investigation export). OWASP's rule for CSV injection — a cell a spreadsheet would
  read as a formula gets a leading `'` — widened: a cell is neutralised when it starts
  with `=`, `+`, `-`, `@`, tab, CR or LF, or with their full-width or small forms
  (`＝＋－＠`, `﹦﹢﹣﹫`) or the minus sign `−`, after any run of leading spaces, other
  Unicode white space (NBSP, ideographic space...), zero-width or other invisible format
  characters (ZWSP, ZWJ, BOM, bidi marks) and quote marks (`'`, `"`, curly and
  full-width quotes). Spreadsheets skip or fold some of those before deciding that a
  cell is a formula, so they count as nothing. Only text cells are neutralised
  (`neutralise_frame` touches String columns only): a negative number in a numeric
  column stays a number.
"""

from __future__ import annotations

import unicodedata

import polars as pl

FORMULA_STARTS = frozenset("=+-@\t\r\n" "\uff1d\uff0b\uff0d\uff20" "\ufe66\ufe62\ufe63\ufe6b" "\u2212")
QUOTES = frozenset("'\"\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2032\u2033\uff02\uff07\u00ab\u00bb\u2039\u203a")
_CONTROL_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp"))
_TAGS = frozenset(chr(c) for c in range(0xE0020, 0xE0080))  # a flag's tag sequence: U+1F3F4 tags... U+E007F
_WRITING = frozenset("\u200c\u200d") | _TAGS
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _ignorable(ch: str) -> bool:
    """Leading characters a spreadsheet may skip before reading a formula."""
    return ch.isspace() or ch in QUOTES or unicodedata.category(ch) in ("Cf", "Zs", "Zl", "Zp", "Mn") \
        or ch == "\u180e"


def is_formula_like(cell: str) -> bool:
    """True when `cell` starts (after ignorable characters) like a formula. A lone "-"
    (the logs' "none", e.g. a summary's format column for a file with no lines) is
    text to every spreadsheet: left as it is rather than shown as `'-`."""
    if not cell or cell == "-":
        return False
    if cell[0] in FORMULA_STARTS:
        return True
    for ch in cell:
        if ch in FORMULA_STARTS:
            return True
        if not _ignorable(ch):
            return False
    return False


def neutralise(cell: str) -> str:
    """Prefix a single quote to a cell a spreadsheet could treat as a formula."""
    return "'" + cell if is_formula_like(cell) else cell


def neutralise_frame(df: pl.DataFrame) -> pl.DataFrame:
    """The same frame with every String column neutralised (numbers, dates untouched)."""
    columns = [c for c, t in df.schema.items() if t == pl.String]
    if not columns or df.height == 0:
        return df
    return df.with_columns(_neutralised(df.get_column(c)) for c in columns)


def _neutralised(cells: pl.Series) -> pl.Series:
    """`neutralise` on every cell, calling Python once per distinct cell that does not
    start with an ASCII letter or digit (one that does is never formula-like), so a
    report of 150,000 rows is not 300,000 Python calls."""
    suspects = cells.filter(~cells.str.contains(r"^[0-9A-Za-z]")).unique().to_list()
    changed = {cell: neutralise(cell) for cell in suspects if cell is not None}
    changed = {old: new for old, new in changed.items() if old != new}
    return cells.replace(list(changed), list(changed.values())) if changed else cells


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def is_control(ch: str) -> bool:
    """A control character, a bidirectional control, a line or paragraph separator
    (U+2028 breaks a terminal line) or an invisible format character (a zero-width
    space makes "ad\u200bmin" look like "admin"): shown escaped, never obeyed. The
    joiners and tag characters writing needs are left alone (see the module docstring;
    `escape_controls` shows a tag character that follows no black flag)."""
    return unicodedata.category(ch) in _CONTROL_CATEGORIES and ch not in _WRITING or ch in _BIDI



def printable(value: object) -> str:
    """`value` as text with control characters and bidi overrides shown escaped."""
    text = value if isinstance(value, str) else str(value)
    return text if text.isprintable() else escape_controls(text)


def escape_controls(text: str, keep: str = "") -> str:
    """`text` with every control character and bidi control but those in `keep` shown
    escaped (`\\n`, `\\x07`, `\\u202e`); the HTML export keeps line breaks and tabs.
    Tag characters are kept only within a flag's sequence (after U+1F3F4 or another tag)."""
    if text.isprintable() or not any(is_control(ch) and ch not in keep for ch in text) and not _TAGS & set(text):
        return text  # (every character is_control names is one isprintable refuses)
    out = []
    for i, ch in enumerate(text):
        stray_tag = ch in _TAGS and (i == 0 or (text[i - 1] not in _TAGS and text[i - 1] != "\U0001f3f4"))
        out.append(_escape_char(ch) if (is_control(ch) and ch not in keep) or stray_tag else ch)
    return "".join(out)
