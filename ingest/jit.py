"""The one way this project compiles Python: numba, cached, without the GIL.

Why: the parsers' inner loops (`ingest.squid_scan`, `ingest.csv_scan`) must run at
native speed on a machine that has only Python and pip; numba ships as wheels and
compiles them on first use. The machine code is cached on disk (numba's cache,
beside the module or in the user's cache directory), so only the first run after
an install pays the compile. Where no cache directory is writable the functions
are compiled in memory on every run instead, which is slower to start but correct.
`nogil` lets the reader and writer threads use the second core meanwhile.
"""

from __future__ import annotations

import numba
import numba.core.options


def jit(func):
    """`numba.njit` with the project's options."""
    try:
        return numba.njit(cache=True, nogil=True)(func)
    except RuntimeError:  # no writable cache location
        return numba.njit(nogil=True)(func)


def kernel(func):
    """`jit` without numba's reference counting, for a scanner's per-line loop
    that allocates nothing (its scratch arrays are passed in). Every array handed
    to an inlined helper is otherwise reference-counted (an atomic increment and
    decrement) wherever numba cannot prove the pair redundant, which in a loop
    over the fields of a line cost more than the parsing itself. Falls back to
    `jit` on a numba without the option."""
    if "_nrt" not in vars(numba.core.options.DefaultOptions):
        return jit(func)
    try:
        return numba.njit(cache=True, nogil=True, _nrt=False)(func)
    except RuntimeError:  # no writable cache location
        return numba.njit(nogil=True, _nrt=False)(func)


def inline(func):
    """A helper of a `jit` function, inlined into it by numba (a call that passes
    arrays costs reference counting, which in a per-line loop costs more than
    the helper's work)."""
    return numba.njit(inline="always", nogil=True)(func)
