"""How the command line ends when a command does not: Ctrl-C and click's usage errors.

Kept apart from `surfaudit.cli` so the command definitions stay one screenful each;
the console to print on is passed in (this module imports no UI library).
"""

from __future__ import annotations

import sys

from surfaudit.safetext import printable


def interrupted(err, exc: KeyboardInterrupt) -> None:
    """Ctrl-C: what the interrupted command committed (when it says), then exit 130;
    SIGTERM made an interrupt (surfaudit.interrupt): the same, then exit 143."""
    from surfaudit.interrupt import terminated

    by_term = terminated()
    if err.is_terminal and not by_term:
        err.print()  # past the terminal's ^C echo
    for line in exc.lines() if hasattr(exc, "lines") else []:
        err.print(f"surfaudit: {printable(line)}", markup=False)
    if not hasattr(exc, "lines"):
        err.print("surfaudit: terminated (SIGTERM)" if by_term else "surfaudit: interrupted")
    sys.exit(143 if by_term else 130)


def exit_with(err, code) -> None:
    """The command returned `code`: exit with it. Typer (not in standalone mode) turns
    a Ctrl-C into a return of 130, dropping the interrupt: say so, and if a SIGTERM
    made that interrupt, say SIGTERM and exit 143."""
    from surfaudit.interrupt import terminated

    if terminated() or code == 130:  # no command returns 130 of its own
        interrupted(err, KeyboardInterrupt())
    sys.exit(code if isinstance(code, int) else 0)


def is_click_usage_error(exc: Exception) -> bool:
    """Typer may vendor click: recognise its usage errors by class name, not identity."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    usage = {"UsageError", "BadParameter", "NoSuchOption", "MissingParameter", "BadOptionUsage", "BadArgumentUsage"}
    return bool(names & usage) and hasattr(exc, "exit_code")
