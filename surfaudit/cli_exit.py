"""How the command line ends when a command does not: Ctrl-C and click's usage errors.

Kept apart from `surfaudit.cli` so the command definitions stay one screenful each;
the console to print on is passed in (this module imports no UI library).
"""

from __future__ import annotations

import os
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
    sys.stdout.flush()  # a reader gone (`| head`) is met here, where main catches it, not at exit
    sys.exit(code if isinstance(code, int) else 0)


def is_click_usage_error(exc: Exception) -> bool:
    """Typer may vendor click: recognise its usage errors by class name, not identity."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    usage = {"UsageError", "BadParameter", "NoSuchOption", "MissingParameter", "BadOptionUsage", "BadArgumentUsage"}
    return bool(names & usage) and hasattr(exc, "exit_code")


def misplaced_global(message: str) -> str:
    """A usage error's message; for `--store`/`--config` given after the command (the
    cron line a technician most often gets wrong), the place they go instead of click's
    "Possible options: --site, ..." of the command."""
    for name in ("--store", "--config"):
        if message.startswith(f"No such option: {name}"):
            return (f"{name} goes before the command: surfaudit {name} {'DIR' if name == '--store' else 'PATH'} "
                    "COMMAND ...")
    return message


def broken_pipe() -> None:
    """stdout's reader went away (`surfaudit report ... | head`): stop quietly with 141
    (128 + SIGPIPE, what the shell reports for `cat` in the same pipe), not 1 (which
    means rejected input here) nor a traceback; stdout is pointed at /dev/null so that
    the exit's flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (tests): nothing to flush
        pass
    raise SystemExit(141)


def write_stdout(text: str) -> None:
    """Write a command's plain output (CSV, JSON) to stdout; a reader gone is
    `broken_pipe` here, before click can take it for an exit 1."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        broken_pipe()
