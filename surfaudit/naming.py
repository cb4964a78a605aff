"""Naming people in reports: when a report or a `users` listing
shows people by name, and the audit entry that records it.

Why: the ICO's employment-practices guidance on monitoring at work asks that
monitoring be proportionate and that access to who-did-what be limited and
accountable. So, with a staff directory (a report then names real people, not
log identities), every report or listing that shows identities is recorded in
the audit log: who ran it, which report, the filters, how many people it named.
`[privacy] reports_name_people = false` makes reports pseudonymised unless
`--reveal --reason TEXT` is given, and the reason is recorded too.

The default (`true`, no directory) keeps today's behaviour: identities are shown
and nothing is recorded for an ordinary report, and an audited report
takes only the audit log's own short lock, never the store lock a nightly holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from surfaudit import audit
from surfaudit.errors import UsageError
from surfaudit.pseudonym import pseudonymise
from surfaudit.store import Store


@dataclass(frozen=True)
class Naming:
    pseudonymise: bool  # replace identities with pseudonyms
    reveal: bool  # --reveal given (with a reason)
    reason: str | None


def decide(cfg, *, pseudonymise: bool = False, reveal: bool = False, reason: str | None = None) -> Naming:
    """Whether a report names people; --reveal needs --reason and excludes --pseudonymise."""
    reason = reason.strip() if isinstance(reason, str) and reason.strip() else None
    if reveal and reason is None:
        raise UsageError("--reveal needs --reason TEXT: say why people must be named (it is recorded)")
    if reason is not None and not reveal:
        raise UsageError("--reason is only for --reveal (an export takes its own --reason)")
    if reveal and pseudonymise:
        raise UsageError("--reveal and --pseudonymise cannot be combined")
    hide = pseudonymise or (not cfg.org.reports_name_people and not reveal)
    return Naming(hide, reveal, reason)


def apply(store: Store, naming: Naming, table: pl.DataFrame, column: str = "user") -> pl.DataFrame:
    """The table with `column` pseudonymised when the decision says so."""
    if naming.pseudonymise and column in table.columns and table.height:
        return table.with_columns(pseudonymise(table[column], store.pseudonym_key()).alias(column))
    return table


def must_record(cfg, naming: Naming) -> bool:
    """Named output is recorded with a directory, and always after --reveal."""
    return not naming.pseudonymise and (naming.reveal or cfg.org.directory_path is not None)


def record(store: Store, cfg, naming: Naming, command: str, table: pl.DataFrame, *, column: str = "user",
           target: str | None = None, date_from=None, date_to=None, filters: dict | None = None,
           wait: float = 10) -> dict | None:
    """Append the audit entry for a report or listing that named people (None if not needed)."""
    if not must_record(cfg, naming):
        return None
    if column in table.columns:
        people = table[column].n_unique() if table.height else 0
    else:  # a table of one person's hosts, domains or categories (`top --user`)
        people = 1 if target is not None and table.height else 0
    shown = {k: v for k, v in (filters or {}).items() if v not in (None, False, "")}
    detail = f"named {people} people" + (f"; filters {', '.join(f'{k}={v}' for k, v in shown.items())}"
                                         if shown else "")
    return audit.record(store, command, rows=table.height, target=target, date_from=date_from,
                        date_to=date_to, reason=naming.reason, detail=detail, wait=wait,
                        store_lock=False)  # the audit log's own lock: never wait for a nightly
