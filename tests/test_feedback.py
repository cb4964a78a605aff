"""Feedback while ingest works: the first run's compile is explained, never a silent pause.

On a terminal a spinner with the reason; otherwise (cron, a pipe) one line on stderr.
The real compile is exercised once, in a subprocess with an empty numba cache.
"""

from __future__ import annotations

import io
import sys
import time
import types

from rich.console import Console

from ingest import pipeline
from surfaudit import render
from tests.conftest import run_cli_subprocess, squid_line, utc


class _Kernel:
    """Stands for a numba dispatcher: `stats.cache_misses` counts compiles done or under way."""

    def __init__(self, misses: int):
        self.stats = types.SimpleNamespace(cache_misses={("int64",): misses}, cache_hits={("int64",): 1 - misses})


def _slow_module(monkeypatch, seconds: float, compiles: bool = True) -> str:
    module = types.ModuleType("ingest.fast._slow_for_test")
    module.kernel = _Kernel(0)

    def warm():
        module.kernel = _Kernel(1 if compiles else 0)  # numba counts the miss before it compiles
        time.sleep(seconds)

    module.warm = warm
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(pipeline, "_warmed", set())
    monkeypatch.setattr(pipeline, "SLOW_AFTER", 0.05)
    return "_slow_for_test"


def test_a_slow_compile_is_told_once_then_its_end(monkeypatch):
    name = _slow_module(monkeypatch, 0.8)
    heard: list[str] = []
    pipeline._warm_modules([name], heard.append)
    assert heard == [pipeline.COMPILING, pipeline.COMPILED]
    pipeline._warm_modules([name], heard.append)  # loaded now: nothing more
    assert heard == [pipeline.COMPILING, pipeline.COMPILED]


def test_a_slow_load_from_the_cache_says_nothing(monkeypatch):
    """A busy machine can take seconds to load cached machine code: that is not a
    compile, and a cron job must not get a line on stderr for it, even when another
    format's scanners were compiled earlier in the same process."""
    earlier = types.ModuleType("ingest._compiled_before")
    earlier.kernel = _Kernel(1)
    monkeypatch.setitem(sys.modules, earlier.__name__, earlier)
    name = _slow_module(monkeypatch, 0.8, compiles=False)
    heard: list[str] = []
    pipeline._warm_modules([name], heard.append)
    assert heard == []


def test_a_fast_load_says_nothing(monkeypatch):
    name = _slow_module(monkeypatch, 0.0)
    monkeypatch.setattr(pipeline, "SLOW_AFTER", 1.0)
    heard: list[str] = []
    pipeline._warm_modules([name], heard.append)
    time.sleep(0.05)
    assert heard == []


def test_not_a_terminal_one_line_and_no_bar():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=300)
    with render.feedback(console) as shown:
        assert shown.progress is None  # no bar in cron mail
        shown.notice(pipeline.COMPILING)
        shown.notice(pipeline.COMPILED)
    assert buf.getvalue() == f"surfaudit: {pipeline.COMPILING}\n"


def test_terminal_spinner_with_the_reason_then_the_bar():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=300, color_system=None)
    with render.feedback(console) as shown:
        shown.notice(pipeline.COMPILING)
        spinning = [t for t in shown.bar.tasks if t.total is None]
        assert [t.description for t in spinning] == [pipeline.COMPILING]
        time.sleep(0.3)  # a few refreshes
        shown.notice(pipeline.COMPILED)
        assert not [t for t in shown.bar.tasks if t.total is None]
        shown.progress("[red]a.log", 50, 100)  # a file name is text, never markup
        time.sleep(0.2)
    text = buf.getvalue()
    assert pipeline.COMPILING in text
    assert any(frame in text for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")  # the spinner turned
    assert "[red]a.log" in text


def test_first_ingest_after_install_prints_one_line_when_not_a_terminal(tmp_path):
    """A real first run: an empty numba cache makes the squid scanner compile."""
    log = tmp_path / "access.log"
    log.write_text("".join(squid_line(utc(2026, 11, 2, 9, m)) + "\n" for m in range(5)))
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"), "SURFAUDIT_NOW": "2026-11-20T12:00:00+00:00"}
    run = run_cli_subprocess("--store", str(tmp_path / "store"), "ingest", "--format", "squid", str(log),
                             "--summary", "json", env=env, timeout=600)  # a new process: nothing loaded yet
    assert run.code == 0, run.err
    assert run.err == f"surfaudit: {pipeline.COMPILING}\n"
    assert '"rows": 5' in run.out
    again = run_cli_subprocess("--store", str(tmp_path / "store"), "ingest", "--format", "squid", str(log),
                               "--summary", "json", env=env, timeout=600)
    assert again.code == 0 and again.err == ""  # from the cache: nothing to explain
