"""Keyed pseudonyms (surfaudit.pseudonym): stable, key-dependent, unguessable without the key."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import polars as pl
import pytest

from surfaudit.pseudonym import pseudonym, pseudonymise
from surfaudit.store import Store

KEY = bytes(range(32))


def test_stable_and_shaped():
    s = pl.Series("user", ["amorgan", "bokafor", "amorgan", None, "lte\\dpatel", "e walsh"])
    out = pseudonymise(s, KEY)
    assert out.name == "user" and out.dtype == pl.String and out.len() == s.len()
    assert out[0] == out[2] and out[0] != out[1] and out[3] is None
    assert all(re.fullmatch(r"staff-[0-9a-f]{10}", v) for v in out.drop_nulls())
    assert out[0] == "staff-" + hmac.new(KEY, b"amorgan", hashlib.sha256).hexdigest()[:10]
    assert pseudonymise(pl.Series(["amorgan"]), KEY)[0] == out[0] == pseudonym("amorgan", KEY)


def test_key_matters_and_not_a_plain_hash():
    s = pl.Series(["amorgan"])
    other = bytes(reversed(KEY))
    assert pseudonymise(s, KEY)[0] != pseudonymise(s, other)[0]
    assert pseudonymise(s, KEY)[0][6:] != hashlib.sha256(b"amorgan").hexdigest()[:10]


def test_distinct_values_hashed_once(monkeypatch):
    import surfaudit.pseudonym as mod

    calls = []
    real = mod.pseudonym
    monkeypatch.setattr(mod, "pseudonym", lambda v, k: calls.append(v) or real(v, k))
    out = mod.pseudonymise(pl.Series(["a", "b"] * 50_000), KEY)
    assert sorted(calls) == ["a", "b"] and out.n_unique() == 2


def test_empty_and_all_null():
    assert pseudonymise(pl.Series("u", [], dtype=pl.String), KEY).len() == 0
    assert pseudonymise(pl.Series("u", [None, None], dtype=pl.String), KEY).null_count() == 2


@pytest.mark.parametrize("key", [b"", b"short", "a string key of enough length", None])
def test_weak_keys_refused(key):
    with pytest.raises(ValueError):
        pseudonymise(pl.Series(["x"]), key)


def test_store_key_is_stable_and_private(tmp_path: Path):
    store = Store(tmp_path / "s")
    key = store.pseudonym_key()
    assert len(key) == 32 and Store(tmp_path / "s").pseudonym_key() == key
    assert pseudonymise(pl.Series(["x"]), key)[0] == pseudonymise(pl.Series(["x"]), store.pseudonym_key())[0]
    assert (store.key_path.stat().st_mode & 0o777) == 0o600
