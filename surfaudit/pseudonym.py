"""Stable pseudonyms for identities: `staff-` + a keyed hash (HMAC-SHA256).

Why: a report shared beyond the investigating manager (trends across staff, a
governors' summary) should not name people, yet the same person must keep the
same label across reports so patterns stay visible. A plain hash of a user name
is reversible by guessing names, so the hash is keyed with the store's own
random key (`Store.pseudonym_key()`): without the key a label cannot be tied to
a name; with it, the technician can re-identify someone when policy allows.

The hash is computed once per distinct identity and mapped back onto the column,
so a year of rows costs one HMAC per member of staff. Nulls stay null.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

PREFIX = "staff-"
HEX_CHARS = 10  # 40 bits: collisions are negligible for a trust's staff list
MIN_KEY_BYTES = 16


def pseudonym(identity: str, key: bytes) -> str:
    """The pseudonym of one identity (`staff-` + first 10 hex chars of the HMAC)."""
    digest = hmac.new(key, identity.encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_CHARS]


def pseudonymise(identities: pl.Series, key: bytes) -> pl.Series:
    """Replace every identity by its keyed pseudonym; same name and dtype, nulls kept.

    `key` must be bytes of at least 16 (use `Store.pseudonym_key()`, 32 random
    bytes); a short or missing key would make the labels guessable.
    """
    if not isinstance(key, (bytes, bytearray)) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    if not isinstance(identities, pl.Series):
        raise TypeError("identities must be a polars Series")
    source = identities.cast(pl.String)
    distinct = source.drop_nulls().unique().to_list()
    mapping = {value: pseudonym(value, bytes(key)) for value in distinct}
    if not mapping:
        return source.alias(identities.name)
    return source.replace_strict(mapping, default=None, return_dtype=pl.String).alias(identities.name)
