"""Hosts of URLs, vectorised (the fast path of `ingest.squid.with_host`).

What: for URLs given as byte ranges of an `ingest.tokens.Block`, the host by the
rules of DESIGN §3 (no scheme, userinfo, port, brackets or trailing dot, lower
case; null for `error:` pseudo-URLs and empty hosts), computed with numpy and a
single polars `find` for the plain shapes (`host:port`, `http(s)://host[:port]/...`).

Why: `with_host` (regex replacements over every URL) cost ~0.25 s per million
rows, a third of the squid parse. The plain shapes are nearly all URLs in proxy
logs; every other shape (userinfo, IPv6 brackets, another scheme, odd ports,
non-ASCII) is flagged and left to `with_host`, so the result is the same.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ingest.tokens import _LOW, Block, word

SPECIAL = r"[/?#@\[:]"  # the characters that end a URL's host (or make it unusual)
_CUT = tuple(ord(c) for c in "/?#")


def host_start(block: Block, us: np.ndarray, ue: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For URLs [us, ue): where the host starts (after `http://` or `https://`), whether
    there was such a scheme, and whether the URL is an `error:` pseudo-URL."""
    w = block.w8[us]
    ulen = ue - us
    https = (w == word(b"https://")) & (ulen >= 8)
    http = ((w & _LOW[7]) == word(b"http://")) & (ulen >= 7)
    rs = us + np.where(https, 8, np.where(http, 7, 0))
    error = (ulen >= 6) & ((w & _LOW[6]) == word(b"error:"))
    return rs, https | http, error


def hosts(block: Block, rs: np.ndarray, ue: np.ndarray, special: np.ndarray, plain: np.ndarray,
          error: np.ndarray) -> tuple[pl.Series, np.ndarray]:
    """Hosts of URLs of printable-ASCII lines, by the rules of `ingest.squid.with_host`
    for the plain shapes (`host:port`, `http(s)://host[:port][/?#...]`): no port, no
    trailing dot, null for `error:` URLs and empty hosts. `rs`: where the host
    starts (`host_start`), `ue`: where the URL ends, `special`: offset from `rs`
    of the first character of SPECIAL (-1: none), `plain`: False where the URL may
    carry another scheme. Returns the hosts (not yet lower-cased) and the mask of
    URLs of any other shape (userinfo, brackets, several colons, odd ports), which
    the caller computes with `with_host`."""
    d = block.data
    he = np.where(special < 0, ue, rs + special)
    c = np.where(special < 0, 0, d[he])
    slow = ~plain | (c == ord("@")) | (c == ord("["))
    colon = np.flatnonzero(c == ord(":"))
    if len(colon):
        ps, pe = he[colon] + 1, ue[colon]
        plen = pe - ps
        _, digits_ok = block.digits(pe, plen)
        odd = np.flatnonzero(~((plen == 0) | (digits_ok & (plen <= 8))))  # not `host:digits` to the end
        if len(odd):
            ps, pe = ps[odd], pe[odd]
            p2 = block.strings(ps, pe - ps).str.find(SPECIAL).fill_null(-1).to_numpy().astype(np.int64)
            p2 = np.where(p2 < 0, pe - ps, p2)
            _, digits_ok = block.digits(ps + p2, p2)
            port_ok = ((p2 == pe - ps) | np.isin(d[ps + p2], _CUT)) & ((p2 == 0) | digits_ok)
            slow[colon[odd[~port_ok]]] = True
    dots = np.flatnonzero((d[he - 1] == ord(".")) & (he > rs))
    while len(dots):
        he[dots] -= 1
        dots = dots[(d[he[dots] - 1] == ord(".")) & (he[dots] > rs[dots])]
    out = block.strings(rs, he - rs)
    empty = error | (he == rs)
    if empty.any():
        out = pl.select(pl.when(pl.Series(empty)).then(None).otherwise(out)).to_series()
    return out, slow


def url_hosts(urls: pl.Series, general, block: Block | None = None, spans=None, exact=None) -> pl.Series:
    """Hosts of a column of URLs (null where the URL is null): `hosts` for the plain
    printable-ASCII shapes, `general(urls) -> hosts` (the exact rules) for the rest.
    With `block`, `spans` (start, length) and `exact` (mask): the URLs where
    `exact` holds are those byte ranges of the block, and are read there."""
    if block is None:
        block = Block(urls.fill_null(""))
        us, ue = block.off[:-1], block.off[1:]
        exact = block.printable(0, block.n) & urls.is_not_null().to_numpy()
    else:
        us, ue = spans[0], spans[0] + spans[1]
    rs, plain, error = host_start(block, us, ue)
    probe = pl.DataFrame({"rest": block.strings(rs, ue - rs), "url": urls.fill_null("")}).select(
        pl.col("rest").str.find(SPECIAL).fill_null(-1).alias("special"),
        pl.col("rest").str.contains("[A-Z]").alias("upper"),
        pl.col("url").str.contains("://", literal=True).alias("scheme"),
    )
    special = probe.get_column("special").to_numpy().astype(np.int64)
    plain |= ~probe.get_column("scheme").to_numpy()
    out, slow = hosts(block, rs, ue, special, plain, error)
    slow |= ~exact
    upper = np.flatnonzero(probe.get_column("upper").to_numpy() & ~slow)
    if len(upper) or slow.any():
        out = out.clone()
    if len(upper):
        out.scatter(upper, out.gather(upper).str.to_lowercase())
    odd = np.flatnonzero(slow)
    if len(odd):
        out.scatter(odd, general(urls.gather(odd)))
    return out
