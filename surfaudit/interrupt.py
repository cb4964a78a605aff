"""Ctrl-C held back for the short steps that must finish once begun.

Why: the store's commit is crash-safe whenever it is cut short, but a Ctrl-C in
its middle would leave the run unable to say whether the file it was committing
made it. Inside `deferred()` a SIGINT is noted instead of raised, and raised as
KeyboardInterrupt the moment the block ends, so the caller always knows which
side of the commit it is on. Only the main thread receives signals, and only the
default handler is replaced: elsewhere (tests, another program's handler) the
block runs unchanged.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deferred() -> Iterator[None]:
    """Run the block with SIGINT held back; KeyboardInterrupt after it if one came."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
