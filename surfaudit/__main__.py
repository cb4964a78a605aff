"""`python -m surfaudit` runs the CLI (used by tests that need a real subprocess)."""

from surfaudit.cli import entry

entry()
