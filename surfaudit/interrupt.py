"""Ctrl-C (and SIGTERM) held back for the short steps that must finish once begun.

Why: the store's commit is crash-safe whenever it is cut short, but a Ctrl-C in
its middle would leave the run unable to say whether the file it was committing
made it. Inside `deferred()` a SIGINT is noted instead of raised, and raised as
KeyboardInterrupt the moment the block ends, so the caller always knows which
side of the commit it is on. Only the main thread receives signals, and only the
default handler is replaced: elsewhere (tests, another program's handler) the
block runs unchanged.

SIGTERM (`timeout`, `kill`, `systemctl stop`) would otherwise end the process at
once, skipping the aborted transaction's clean-up and the account of what was
committed; `sigterm_as_interrupt()` makes it stop the command the way Ctrl-C does,
and `terminated()` tells the exit path to say so and exit 143 (128 + 15).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


_received: list[int] = []  # SIGTERM, once it came


def _on_sigterm(signum, frame):
    _received.append(signum)
    raise KeyboardInterrupt


def terminated() -> bool:
    """True once a SIGTERM stopped (or is stopping) the command."""
    return bool(_received)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt as Ctrl-C does (when the main
    thread has the default SIGTERM action; the previous one is restored after); and
    both interrupt a blocking system call (`_interruptible_system_calls`)."""
    _received.clear()  # a command run earlier in this process (tests) was stopped, not this one
    if threading.current_thread() is threading.main_thread():
        _interruptible_system_calls()
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interruptible_system_calls() -> None:
    """Ctrl-C must end a command blocked in a system call (opening a FIFO nobody reads,
    reading a stalled pipe). Importing polars installs a SIGINT handler with SA_RESTART
    (pola-rs/polars#21739): the kernel then resumes such a call and Python never gets to
    raise KeyboardInterrupt. Clear the flag, as Python's own handler has it; polars'
    handler stays, and still passes the signal on to Python's."""
    if hasattr(signal, "siginterrupt"):  # POSIX
        signal.siginterrupt(signal.SIGINT, True)


@contextmanager
def deferred() -> Iterator[None]:
    """Run the block with SIGINT (and SIGTERM made an interrupt) held back;
    KeyboardInterrupt after it if one came."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = [sig for sig, ours in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, _on_sigterm))
            if signal.getsignal(sig) is ours]
    if not held:
        yield
        return
    caught: list[int] = []

    def note(signum, frame):
        caught.append(signum)
        if signum == signal.SIGTERM:
            _received.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt
