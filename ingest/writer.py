"""Writing parsed batches into an ingest transaction, beside the parser.

pyarrow encodes and compresses without the GIL, so the Parquet writes use the
core the parser leaves idle (`BackgroundWriter`); `writing` turns a failed write
to the store (a full disk) into the store's error, never "cannot read" the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import polars as pl

from surfaudit.errors import StoreError
from surfaudit.store import Store


class BackgroundWriter:
    """Writes parsed batches in worker threads while the next batch is parsed.

    pyarrow encodes and compresses without the GIL, so the writes use the core the
    parser leaves idle. Batches alternate between SLOTS threads, each writing its
    own file per month (so a large file becomes SLOTS parts; compaction merges
    them); each slot keeps its batches in order and has at most one in flight, so
    memory stays bounded. A failed write re-raises in the caller at the next
    submit or drain.
    """

    SLOTS = 2

    def __init__(self, txn, file_name: str):
        self.txn, self.file_name = txn, file_name
        self.pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"surfaudit-write{k}")
                      for k in range(self.SLOTS)]
        self.pending: list = [None] * self.SLOTS
        self.count = 0

    def submit(self, rows: pl.DataFrame, bad: pl.DataFrame) -> None:
        # Rejected lines (few) are written here, so the quarantine keeps line order.
        self.txn.quarantine(bad.with_columns(pl.lit(self.file_name).alias("file")))
        slot = self.count % self.SLOTS
        self.count += 1
        self._wait(slot)
        self.pending[slot] = self.pools[slot].submit(self.txn.write, rows, slot)

    def _wait(self, slot: int) -> None:
        if self.pending[slot] is not None:
            pending, self.pending[slot] = self.pending[slot], None
            pending.result()

    def drain(self) -> None:
        for slot in range(self.SLOTS):
            self._wait(slot)

    def close(self) -> None:
        for slot, pending in enumerate(self.pending):
            if pending is not None:
                pending.cancel()
                try:
                    pending.result()
                except BaseException:  # noqa: BLE001 - the first error is already propagating
                    pass
                self.pending[slot] = None
        for pool in self.pools:
            pool.shutdown(wait=True)


@contextmanager
def writing(store: Store) -> Iterator[None]:
    """A failed write to the store (a full disk) is the store's error, not an unreadable log."""
    try:
        yield
    except OSError as exc:
        raise StoreError(f"{store.root}: write failed ({exc.strerror or exc}); the store was left as it was") from None
