"""Finding a person: what `--user` means.

Why: identities are stored lower-cased (DESIGN §3) while technicians type them as
they see them (`AMorgan`, `LTE\\DPatel`, "Alice Morgan"), and a report that says
"no rows" for a name that matches nothing lets someone wrongly conclude that a
person did nothing. So `--user` is matched, in this order, against directory
identities and aliases (case-insensitively), directory names, the pseudonyms a
pseudonymised report printed, and the identities in the store; when nothing
matches it is a usage error (exit 2) listing up to three close matches. The
message does not repeat what was typed (errors carry no identities beyond the
suggestions the technician asked for by mistyping).

The match yields one canonical identity (the directory's when the name is an
alias), which the queries then filter on after resolving aliases, so one
person's history under all their spellings is one set of rows.
"""

from __future__ import annotations

import difflib

from surfaudit import engine
from surfaudit.directory import Directory, identity_key, load_directory
from surfaudit.errors import UsageError
from surfaudit.pseudonym import PREFIX, pseudonym
from surfaudit.store import Store


def stored_identities(store: Store, directory: Directory, cfg) -> set[str]:
    """Every identity in the store, aliases resolved (one pass over the user column)."""
    con = engine.local(cfg)
    try:
        store.events_view(con, name="events_stored")
        rows = con.execute('SELECT DISTINCT "user" FROM events_stored WHERE "user" IS NOT NULL').fetchall()
    finally:
        con.close()
    aliases = directory.alias_map()
    return {aliases.get(u, u) for (u,) in rows}


def _name_key(text: str) -> str:
    return " ".join(text.lower().split())


def resolve_user(store: Store, cfg, text: str | None, *, option: str = "--user") -> str | None:
    """The canonical identity `text` names, or a UsageError with suggestions."""
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"{option}: expected an identity, an alias or a directory name")
    directory = load_directory(cfg)
    aliases = directory.alias_map()
    key = identity_key(text)
    found = aliases.get(key)
    if found is None:
        named = sorted({p.identity for p in directory.people if p.name and _name_key(p.name) == _name_key(text)})
        if len(named) > 1:
            raise UsageError(f"{option}: the directory has {len(named)} people of that name; "
                             f"use one of their identities: {', '.join(named[:3])}")
        found = named[0] if named else None
    stored: set[str] | None = None
    if found is None:
        stored = stored_identities(store, directory, cfg)
        if key.startswith(PREFIX):
            key_bytes = store.pseudonym_key()
            found = next((i for i in sorted(stored | set(aliases.values())) if pseudonym(i, key_bytes) == key), None)
        elif text in stored:  # as stored (ingest lower-cases; rows written otherwise match too)
            found = text
        elif key in stored:
            found = key
        else:
            folded = sorted(i for i in stored if identity_key(i) == key)
            found = folded[0] if len(folded) == 1 else None
    if found is None:
        raise UsageError(f"{option}: no such identity, alias or directory name{_hint(cfg, key, stored, directory)}")
    if cfg.org.staff_only and found not in directory.by_identity():
        raise UsageError(f"{option}: that identity is not in the staff directory, so outside the reports' scope "
                         "([directory] scope = \"staff\"); `surfaudit users --unknown` lists such identities")
    return found


def _hint(cfg, key: str, stored: set[str], directory) -> str:
    """Up to three close matches, from what the person asking may see: never names when
    reports are pseudonymised, and only directory members when the scope is staff."""
    if not cfg.org.reports_name_people:
        return "; `surfaudit users` lists who is known"
    members = directory.by_identity()
    if cfg.org.staff_only:
        stored = {i for i in stored if i in members}
    aliases = {a for a, who in directory.alias_map().items() if not cfg.org.staff_only or who in members}
    candidates = sorted(stored | aliases | {p.name for p in directory.people if p.name})
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        close = [lowered[c] for c in difflib.get_close_matches(key, list(lowered), n=3, cutoff=0.6)]
    return f"; did you mean: {', '.join(close)}" if close else "; `surfaudit users` lists who is known"


def person_of(cfg, identity: str):
    """The directory row of `identity` (a `surfaudit.directory.Person`), or None."""
    return load_directory(cfg).by_identity().get(identity)


def work_hosts_of(cfg, identity: str) -> tuple[str, ...]:
    """The hosts that are work, not social, for `identity` (its directory group's work_hosts)."""
    person = person_of(cfg, identity)
    group = cfg.org.groups.get(person.group) if person and person.group else None
    return group.work_hosts if group else ()
