"""Reliability suite: tests call `helpers.tried(suite, what, n)` and
`helpers.failed(suite, message)`; the session summary printed by tests/conftest.py
(so that it also gathers the counts of every pytest-xdist worker) shows one line per
suite with the counts, and each recorded failure, whatever pytest captured.
"""
