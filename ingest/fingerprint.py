"""Content fingerprints that make ingest exactly-once (not by path).

A source is known by its *lineage*: the hash of its first line. Each commit
records a checkpoint (byte offset of the last complete line ingested, and the
hash of the decompressed content up to it). A new file with the same first line
is hashed up to the known checkpoints; the largest checkpoint whose prefix hash
matches is where ingest resumes. So the same file again, a renamed copy, a gzip
of it, the rotated `access.log.1(.gz)` or a grown live file add only lines that
were never committed. Hashes are of decompressed bytes, so compression and names
do not matter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ingest.reader import read_blocks

HEAD_LIMIT = 4096


@dataclass
class Resume:
    offset: int  # bytes of the decompressed stream already committed
    lines: int  # complete lines in that prefix
    hasher: "hashlib._Hash"  # sha256 state of content[:offset]


def lineage_of(first_block: bytes) -> str | None:
    """Hash of the first line (capped), or None when there is no complete line yet."""
    cut = first_block.find(b"\n", 0, HEAD_LIMIT)
    head = first_block[: cut + 1] if cut >= 0 else first_block[:HEAD_LIMIT]
    if cut < 0 and len(first_block) < HEAD_LIMIT:
        return None
    return hashlib.sha256(head).hexdigest()[:32]


def head_block(path: Path) -> bytes:
    for block in read_blocks(path, 0, HEAD_LIMIT + 1):
        return block
    return b""


def find_resume(path: Path, checkpoints: list[tuple[int, str]]) -> Resume:
    """Hash `path` up to its known checkpoints and return where to resume."""
    hasher = hashlib.sha256()
    best = Resume(0, 0, hashlib.sha256())
    if not checkpoints:
        return best
    targets = sorted(set(checkpoints))
    last = targets[-1][0]
    pos = lines = 0
    i = 0
    for block in read_blocks(path):
        while i < len(targets) and targets[i][0] <= pos + len(block):
            offset, digest = targets[i]
            piece = block[: offset - pos]
            probe = hasher.copy()
            probe.update(piece)
            if probe.hexdigest() == digest:
                best = Resume(offset, lines + piece.count(b"\n"), probe)
            i += 1
        if i >= len(targets) or pos + len(block) >= last:
            break
        hasher.update(block)
        lines += block.count(b"\n")
        pos += len(block)
    return best
