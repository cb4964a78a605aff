"""Which store a configuration names: a local directory, or Delta Lake on S3.

Part of the store package. `open_store` is what every command calls; both
backends have the same public methods (the commands never look at the layout).
The site written with every ingested row is `[ingest] site`, else the host name.
"""

from __future__ import annotations

import socket

from surfaudit.config import Config


def site_of(cfg: Config) -> str:
    return cfg.ingest.site or socket.gethostname()


def open_store(cfg: Config, *, must_exist: bool = False):
    """The configured store, checked first: ours (else UsageError, exit 2) and, for
    reading (`must_exist`), present."""
    if cfg.store_uri:
        from surfaudit.store.delta import DeltaStore

        store = DeltaStore(cfg.store_uri, cfg.store_endpoint, site=site_of(cfg))
        store.check(must_exist)
        return store
    from surfaudit.store import Store
    from surfaudit.store.access import check_store

    store = Store(cfg.store_path)
    store.site = site_of(cfg)
    check_store(store, must_exist=must_exist)
    return store


def is_delta(store) -> bool:
    return getattr(store, "backend", "local") == "delta"
