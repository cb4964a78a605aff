"""Rotation and re-feeding: every order of six operations on a live log.

The operations: ingest the live `access.log`; append lines to it; rotate it
(`access.log` -> `access.log.1`, a new live file); compress the rotated file
(`.1` -> `.1.gz`); re-feed an old copy (a snapshot of the live file taken earlier,
before an append); feed a truncated copy (the live or rotated file cut at a random
line boundary). After every feed the store must hold exactly the unique source lines
fed so far, each once; at the end everything (log dir and every copy) is fed again
and must add nothing. CI runs a seeded sample of the 720 orders; SURFAUDIT_LONG=1
runs all of them.
"""

from __future__ import annotations

import gzip
import itertools
import random
import shutil
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from surfaudit.config import Config
from surfaudit.store import Store

from .helpers import LONG, failed, seq_of_squid, squid_lines, tried, visible_column, write_lines

pytestmark = pytest.mark.slow  # long trials: -m 'not slow' leaves them out

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
OPS = ("ingest", "append", "rotate", "compress", "old_copy", "truncated")
CI_ORDERS = 240


class World:
    def __init__(self, base: Path, rng: random.Random, store=None):
        self.rng = rng
        self.logdir, self.copies = base / "log", base / "copies"
        self.logdir.mkdir(parents=True)
        self.copies.mkdir()
        self.store = store if store is not None else Store(base / "store")  # or an s3:// store (DeltaStore)
        self.cfg = Config(store_path=self.store.root)
        self.seq = 0
        self.live: list[str] = self._new(40)
        self.snapshots: list[list[str]] = [list(self.live)]
        self.fed: Counter = Counter()
        self.copy_no = 0
        self._write_live()

    def _new(self, n: int) -> list[str]:
        lines = squid_lines(self.seq, n, T0 + timedelta(seconds=7 * self.seq))
        self.seq += n
        return lines

    def _write_live(self) -> None:
        write_lines(self.logdir / "access.log", self.live)

    def feed(self, *paths: Path, lines: list[str] | None = None) -> list:
        with self.store.lock():
            results = ingest_paths(self.store, self.cfg, list(paths), now=NOW)
        assert not [r.error for r in results if r.error]
        for line in lines or []:
            self.fed[seq_of_squid(line)] = 1
        return results

    def copy(self, lines: list[str], compress: bool = False) -> Path:
        self.copy_no += 1
        path = self.copies / f"copy{self.copy_no}.log"
        write_lines(path, lines)
        if compress:
            with open(path, "rb") as src, gzip.open(path.with_suffix(".log.gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            path.unlink()
            path = path.with_suffix(".log.gz")
        return path

    # -- the six operations ------------------------------------------------------------
    def op_ingest(self) -> bool:
        self.feed(self.logdir / "access.log", lines=self.live)
        return True

    def op_append(self) -> bool:
        self.snapshots.append(list(self.live))
        self.live += self._new(25)
        self._write_live()
        return False

    def op_rotate(self) -> bool:
        log = self.logdir
        for n in (2, 1):  # shift older generations first
            for suffix in ("", ".gz"):
                src = log / f"access.log.{n}{suffix}"
                if src.exists():
                    src.rename(log / f"access.log.{n + 1}{suffix}")
        self.rotated = list(self.live)
        (log / "access.log").rename(log / "access.log.1")
        self.live = self._new(15)
        self._write_live()
        return False

    def op_compress(self) -> bool:
        src = self.logdir / "access.log.1"
        if not src.exists():
            return False
        with open(src, "rb") as fh, gzip.open(src.with_name("access.log.1.gz"), "wb") as out:
            shutil.copyfileobj(fh, out)
        src.unlink()
        return False

    def op_old_copy(self) -> bool:
        old = self.rng.choice(self.snapshots)
        self.feed(self.copy(old, compress=self.rng.random() < 0.5), lines=old)
        return True

    def op_truncated(self) -> bool:
        source = self.live if not hasattr(self, "rotated") or self.rng.random() < 0.5 else self.rotated
        cut = self.rng.randint(1, len(source) - 1)
        self.feed(self.copy(source[:cut]), lines=source[:cut])
        return True

    def final(self) -> None:
        everything = [self.logdir] + sorted(self.copies.iterdir())
        self.feed(*everything)
        all_lines = list(self.live) + list(getattr(self, "rotated", []))
        for line in all_lines:
            self.fed[seq_of_squid(line)] = 1
        self.feed(*everything)  # a second time: adds nothing

    def check(self, order, step: str) -> None:
        seen = visible_column(self.store)
        dupes = {k: v for k, v in seen.items() if v > 1}
        missing = set(self.fed) - set(seen)
        extra = set(seen) - set(self.fed)
        assert not dupes and not missing and not extra, (
            f"order {order} after {step}: {len(dupes)} duplicated, {len(missing)} missing, {len(extra)} unexpected rows")


def run_order(order: tuple[str, ...], seed: int, store=None) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="rot-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        world = World(Path(tmp), rng, store)
        for op in order:
            if getattr(world, f"op_{op}")():
                world.check(order, op)
        world.final()
        # every line ever written to any generation was fed by the final pass
        written = set(range(world.seq))
        assert set(visible_column(world.store)) <= written
        world.check(order, "final")


def orders() -> list[tuple[str, ...]]:
    every = list(itertools.permutations(OPS))
    return every if LONG else random.Random(7).sample(every, CI_ORDERS)


CHUNKS = 4  # the sample in four tests, so that pytest-xdist spreads it over the cores


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_every_order_of_rotation_and_refeed(chunk):
    errors = []
    chosen = orders()[chunk::CHUNKS]
    for i, order in zip(range(chunk, 10**6, CHUNKS), chosen):
        try:
            run_order(order, seed=i)
        except AssertionError as exc:
            errors.append(str(exc).splitlines()[0])
            failed("rotation", errors[-1])
    tried("rotation", "orders", len(chosen))
    tried("rotation", "feeds", len(chosen) * 5)
    assert not errors, f"{len(errors)} of {len(chosen)} orders failed, e.g. {errors[:3]}"


S3_ORDERS = 3  # on the object store: a smaller seeded sample (each feed is a few S3 round trips)


@pytest.mark.s3
def test_orders_of_rotation_and_refeed_on_s3(s3_server):
    """The same trials on an s3:// store (a Delta table on a real S3 API server, moto):
    exactly-once there rests on Delta's application transactions and the checkpoint
    objects, not on the local manifest."""
    from tests.conftest_s3 import new_bucket_store

    chosen = random.Random(16).sample(list(itertools.permutations(OPS)), len(OPS) * 20 if LONG else S3_ORDERS)
    errors = []
    for i, order in enumerate(chosen):
        try:
            run_order(order, seed=1000 + i, store=new_bucket_store())
        except AssertionError as exc:
            errors.append(str(exc).splitlines()[0])
            failed("rotation on s3", errors[-1])
    tried("rotation on s3", "orders", len(chosen))
    assert not errors, f"{len(errors)} of {len(chosen)} orders failed on s3, e.g. {errors[:3]}"


@pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.s3)])
@pytest.mark.parametrize("cut_at_checkpoint", [False, True])
def test_truncated_copy_between_checkpoints(tmp_path, request, cut_at_checkpoint, backend):
    """The hard case, on its own: a copy that ends between two checkpoints of its lineage."""
    rng = random.Random(1)
    store = None
    if backend == "s3":
        from tests.conftest_s3 import new_bucket_store

        request.getfixturevalue("s3_server")
        store = new_bucket_store()
    world = World(tmp_path, rng, store)
    world.op_ingest()  # checkpoint at 40 lines
    world.op_append()
    world.op_ingest()  # checkpoint at 65 lines
    cut = 40 if cut_at_checkpoint else 52
    world.feed(world.copy(world.live[:cut]), lines=world.live[:cut])
    world.check(("ingest", "append", "ingest", f"copy[:{cut}]"), "truncated copy")
    tried("rotation", "targeted truncated copies")
