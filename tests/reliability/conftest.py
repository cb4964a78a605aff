"""Reliability suite: print what every test tried, whatever pytest captured.

Tests call `helpers.tried(suite, what, n)` and `helpers.failed(suite, message)`; the
session summary prints one line per suite with the counts, and each recorded failure.
"""

from __future__ import annotations

from .helpers import LONG, TALLY


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not TALLY:
        return
    tr = terminalreporter
    tr.section(f"reliability: what was tried ({'long' if LONG else 'CI'} mode)")
    for suite in sorted(TALLY):
        tally = TALLY[suite]
        counts = ", ".join(f"{n} {what}" for what, n in sorted(tally.tried.items()))
        tr.write_line(f"{suite}: {counts}; {len(tally.failed)} failures")
        for message in tally.failed[:20]:
            tr.write_line(f"  FAILED {message}")
