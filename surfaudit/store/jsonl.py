"""Reading the store's JSON-lines files: the manifest and the audit log.

Part of the store package. Both files are appended one line at a time, so a crash
mid-append can leave a torn last line, and a damaged disk garbage anywhere. This
module reads them the same way: line numbers count every line (1-based, as an
editor shows them), blank lines are skipped, and a line that is not JSON comes
back marked unreadable instead of raising. What an unreadable line means is the
caller's rule: the audit log skips it; the manifest tolerates it only where its
hash chain shows no record was lost (manifest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Line:
    """One non-blank line: its number, its text and, when `readable`, its JSON value."""

    number: int
    text: str
    value: Any = None
    readable: bool = True

    def where(self, name: str) -> str:
        """`<name> line <number>`, how a message names this line."""
        return f"{name} line {self.number}"


def read_text(path: Path, errors: str = "strict") -> str:
    """The file's text ("" when it does not exist yet); `errors` as for `bytes.decode`."""
    try:
        return path.read_text(errors=errors)
    except FileNotFoundError:
        return ""


def lines(text: str) -> Iterator[Line]:
    """Every non-blank line of `text`, parsed; a line that is not JSON is `readable=False`."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield Line(number, line, json.loads(line))
        except ValueError:
            yield Line(number, line, readable=False)


def values(text: str) -> list[Any]:
    """The JSON value of every readable line, in order (unreadable lines are skipped)."""
    return [line.value for line in lines(text) if line.readable]
