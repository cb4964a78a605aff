"""The compiled scanners (numba): an accelerator, never a requirement.

What: the modules of this package read batches of log lines in machine code
(`squid_scan`, `csv_scan`, `vendor_scan`, `squid_logformat_scan`,
`filterlog_scan` with the e2guardian, squidGuard and FortiGate kernels,
`text_scan`, `envelope_scan`, the newline search in `scan_util`). Only this
package imports numba, and nothing imports it but through `load`, after
`enabled()` said yes.

Why: numba is what makes ingest fast, but it supports each new CPython release
months after it comes out, and not every machine can install it. Without it
(not installed, failing to import, or `SURFAUDIT_NO_JIT=1` in the environment)
every format is read by its reference path: plain Python and polars in the
parser modules, the same rows, slower.
tests/reliability/test_reference_paths.py runs every format both ways on the
same lines.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

_numba: bool | None = None  # numba imports (None: not tried yet)


def wanted() -> bool:
    """False when the environment asks for the reference paths (SURFAUDIT_NO_JIT set, not "0")."""
    return os.environ.get("SURFAUDIT_NO_JIT", "").strip() in ("", "0")


def enabled() -> bool:
    """True when the compiled scanners are used: wanted, and numba imports."""
    global _numba
    if not wanted():
        return False
    if _numba is None:
        try:
            import numba  # noqa: F401
        except Exception:  # not installed, or broken (e.g. a numpy it does not support)
            _numba = False
        else:
            _numba = True
    return _numba


def load(name: str) -> ModuleType:
    """The compiled module `ingest.fast.<name>` (the caller checked `enabled()`)."""
    return importlib.import_module(f"{__name__}.{name}")


def compile_apart(names: list[str], jobs: int) -> list[str]:
    """Compile the modules `names` in child processes, `jobs` at a time, so that
    loading them here afterwards only reads numba's on-disk cache. A cold compile
    is single-threaded CPU work (minutes for every format); children on several
    cores divide it. Returns the names whose child failed: that changes nothing,
    the module then compiles here, on load, as it would have anyway."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    code = ("import sys; from ingest import fast; m = fast.load(sys.argv[1]); "
            "getattr(m, 'warm', lambda: None)()")
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def one(name: str) -> bool:
        return subprocess.run([sys.executable, "-c", code, name], cwd=here, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode == 0

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return [name for name, ok in zip(names, pool.map(one, names)) if not ok]


def cache_misses() -> int:
    """How many times a compiled function of the parsers has missed the cache in this
    process; a rise while scanners load means numba is compiling, not loading."""
    import sys

    total = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("ingest.") or module is None:
            continue
        for value in list(vars(module).values()):
            misses = getattr(getattr(value, "stats", None), "cache_misses", None)
            if isinstance(misses, dict):
                total += sum(misses.values())
    return total
