"""The one way this project compiles Python: numba, cached on disk, without the GIL.

Why: the parsers' inner loops must run at native speed on a machine that has
only Python and pip; numba ships as wheels and compiles them on first use, and
its cache keeps the machine code on disk, so only the first run after an
install or an upgrade compiles. `nogil` lets the reader and writer threads use
the second core meanwhile.

The cache is ours, not numba's default, for two reasons:

- numba checks only the source file of each compiled function, but the
  scanners inline helpers and bake in constants from other files, so an
  upgrade that changed only a helper would run stale machine code. Here an
  entry is valid for exactly the source of `ingest/fast/` and of every
  `ingest` module it imports, transitively (`compiled_sources`), so an edit
  elsewhere in the package (the pipeline, the fingerprint) keeps the cache;
- where: `$NUMBA_CACHE_DIR` when it is set (and only there: an operator who
  names a directory means it), else `__pycache__` beside the module, else the
  user's cache directory. Where none is writable the functions are compiled in
  memory on every run; `uncached()` then names them, and ingest says once that
  every run compiles.

`kernel` compiles a scanner's per-line loop without numba's reference counting
(see its docstring); `inline` marks the helpers inlined into those loops.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
from pathlib import Path

import numba
import numba.core.options

_PACKAGE = Path(__file__).resolve().parent.parent  # ingest/
_uncached: list[str] = []


def compiled_sources() -> list[Path]:
    """`ingest/fast/*.py` and the `ingest` modules they import, transitively: the
    source the compiled code can depend on (helpers inlined, constants baked in)."""
    todo = sorted((_PACKAGE / "fast").glob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_bytes())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] != "ingest":
                    continue
                base = _PACKAGE.joinpath(*parts[1:])
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if candidate.is_file():
                        todo.append(candidate)
    return sorted(seen)


@functools.cache
def package_stamp() -> str:
    """A hash of the compiled code's sources (`compiled_sources`) and numba's version."""
    digest = hashlib.sha256(numba.__version__.encode())
    for path in compiled_sources():
        digest.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def uncached() -> list[str]:
    """The compiled functions that have no writable cache location (compiled every run)."""
    return list(_uncached)


def _cache_class():
    """numba's function cache with our locator (None if this numba's internals differ)."""
    try:
        from numba.core import caching, config
        from numba.misc.appdirs import AppDirs

        class Locator(caching._CacheLocator):
            def __init__(self, py_func, py_file, path):
                self._py_file, self._lineno, self._path = py_file, py_func.__code__.co_firstlineno, path

            def get_cache_path(self):
                return self._path

            def get_source_stamp(self):
                return package_stamp()

            def get_disambiguator(self):
                return str(self._lineno)

            @classmethod
            def from_function(cls, py_func, py_file):
                sub = cls.get_suitable_cache_subpath(py_file)
                if config.CACHE_DIR:
                    places = [os.path.join(config.CACHE_DIR, sub)]
                else:
                    places = [os.path.join(os.path.dirname(py_file), "__pycache__"),
                              os.path.join(AppDirs(appname="numba", appauthor=False).user_cache_dir, sub)]
                for place in places:
                    locator = cls(py_func, py_file, place)
                    try:
                        locator.ensure_cache_path()
                    except OSError:
                        continue
                    return locator
                return None

        class Impl(caching.CompileResultCacheImpl):
            _locator_classes = [Locator]

        class Cache(caching.FunctionCache):
            _impl_class = Impl

        return Cache
    except (ImportError, AttributeError):
        return None


_CACHE = _cache_class()


def _compiled(func, **options):
    dispatcher = numba.njit(nogil=True, **options)(func)
    try:
        if _CACHE is not None:
            dispatcher._cache = _CACHE(func)  # what Dispatcher.enable_caching does, with our cache
        else:
            dispatcher.enable_caching()
    except RuntimeError:  # no writable cache location: compiled in memory, every run
        _uncached.append(f"{func.__module__}.{func.__qualname__}")
    return dispatcher


def jit(func):
    """`numba.njit` with the project's options and cache."""
    return _compiled(func)


def kernel(func):
    """`jit` without numba's reference counting, for a scanner's per-line loop
    that allocates nothing (its scratch arrays are passed in). Every array handed
    to an inlined helper is otherwise reference-counted (an atomic increment and
    decrement) wherever numba cannot prove the pair redundant, which in a loop
    over the fields of a line cost more than the parsing itself. Falls back to
    `jit` on a numba without the option."""
    if "_nrt" not in vars(numba.core.options.DefaultOptions):
        return jit(func)
    return _compiled(func, _nrt=False)


def inline(func):
    """A helper of a `jit` function, inlined into it by numba (a call that passes
    arrays costs reference counting, which in a per-line loop costs more than
    the helper's work)."""
    return numba.njit(inline="always", nogil=True)(func)
