"""Deterministic benchmark inputs for the CSV exports.

`GENERATORS` maps a benchmark name to {"format", "config", "write"}: the
`--format` value, the surfaudit.toml text declaring it ('' for none) and
`write(n, path)`, which writes a header and n lines. The users, hosts and IPs
are those of `bench/gen.py` plus a few accented names; about 5 % of requests are
blocked; local times are Europe/London wall clock (the default timezone).

- vendor-csv-uk-dates: a Smoothwall-style report export, `30/11/2026 09:17:05`,
  UTF-8 with a BOM, CRLF, some quoted fields (names with commas, URLs with commas);
- vendor-csv-us-cp1252-semicolon: a Lightspeed-style export saved by Excel on
  Windows: cp1252, `;`-separated, `11/30/2026 09:17:05 AM`, columns in another order;
- vendor-csv-iso: a Securly-style export with ISO 8601 times with an offset;
- surfprotect-uk-cp1252: the built-in SurfProtect format after Excel: UK dates
  without seconds and cp1252 names.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen  # noqa: E402

ACCENTED = ["Zoë Brontë", "José Núñez", "Siân Jones", "Chloé Lefèvre", "Björn Ødegård", "Renée O'Brien"]
CATEGORIES = ["Education", "Social Networking", "Search Engines", "News", "Business, Economy", "Streaming Media"]

SMOOTHWALL = """[formats.smoothwall]
kind = "csv"
time = "Date/Time"
time_format = "%d/%m/%Y %H:%M:%S"
user = "Username"
client_ip = "IP Address"
url = "URL"
category = "Category"
decision = "Action"
allowed = ["Allowed", "Logged"]
blocked = ["Blocked", "Denied"]
"""
LIGHTSPEED = """[formats.lightspeed]
kind = "csv"
time = "Time"
time_format = "%m/%d/%Y %I:%M:%S %p"
user = "User"
client_ip = "Client IP"
url = "URL"
category = "Category"
decision = "Action"
allowed = ["Allow", "Allowed"]
blocked = ["Block", "Blocked"]
encoding = "cp1252"
delimiter = ";"
"""
SECURLY = """[formats.securly]
kind = "csv"
time = "Timestamp"
user = "Email"
url = "Site"
category = "Category"
decision = "Status"
allowed = ["ALLOWED", "FLAGGED"]
blocked = ["BLOCKED"]
"""


def _frames(n: int, seed: int):
    """Chunks of the request mix as frames: local and UTC time, user, ip, host, path, category, blocked."""
    v = gen.vocab()
    base = [u.replace("\\\\", "\\").replace("%20", " ") for u in v["users"]]
    users = pl.Series(base[: len(base) - len(ACCENTED)] + ACCENTED, dtype=pl.String)
    hosts, ips = (pl.Series(v[k].tolist(), dtype=pl.String) for k in ("hosts", "ips"))
    cats = pl.Series(CATEGORIES)
    for rng, k, ms in gen._chunks(n, seed, gen.day_start()):
        ui = (len(users) * rng.random(k) ** 0.5).astype(np.int64)  # the accented names are common enough
        utc = pl.Series(ms * 1000).cast(pl.Datetime("us", "UTC"))
        yield pl.DataFrame({
            "utc": utc, "local": utc.dt.convert_time_zone("Europe/London").dt.replace_time_zone(None),
            "user": users.gather(ui), "ip": ips.gather(ui % len(ips)),
            "host": hosts.gather((len(hosts) * rng.random(k) ** 3).astype(np.int64)),
            "p": rng.integers(0, 100000, k), "cat": cats.gather(rng.integers(0, len(cats), k)),
            "blocked": rng.random(k) < 0.05, "odd": rng.random(k),
        })


def _quoted(expr: pl.Expr, sep: str) -> pl.Expr:
    """CSV quoting: a value holding the separator or a quote is quoted, quotes doubled."""
    needs = expr.str.contains(sep, literal=True) | expr.str.contains('"', literal=True)
    return pl.when(needs).then(pl.concat_str(pl.lit('"'), expr.str.replace_all('"', '""', literal=True),
                                             pl.lit('"'))).otherwise(expr)


def _write(n: int, path: Path, header: str, line, encoding: str = "utf-8", eol: str = "\n",
           bom: bool = False, seed: int = 11) -> None:
    def chunks():
        yield (("\ufeff" if bom else "") + header + eol).encode(encoding)
        for df in _frames(n, seed):
            yield (df.select(line(pl.col).str.join(eol)).item() + eol).encode(encoding)
    gen.write(chunks(), path)


def _smoothwall(c) -> pl.Expr:
    user = pl.when(c("odd") < 0.02).then(pl.lit("")).when(c("odd") < 0.1).then(pl.concat_str(pl.lit("SCHOOL\\"), c("user"))) \
        .otherwise(c("user"))
    url = pl.concat_str(pl.lit("https://"), c("host"), pl.lit("/p/"), c("p").cast(pl.String),
                        pl.when(c("odd") > 0.97).then(pl.lit("?q=a,b")).otherwise(pl.lit("")))
    action = pl.when(c("blocked")).then(pl.lit("Blocked")).when(c("odd") > 0.9).then(pl.lit("Logged")) \
        .otherwise(pl.lit("Allowed"))
    return pl.concat_str(c("local").dt.strftime("%d/%m/%Y %H:%M:%S"), pl.lit(","), _quoted(user, ","), pl.lit(","),
                         c("ip"), pl.lit(","), _quoted(url, ","), pl.lit(","), _quoted(c("cat"), ","), pl.lit(","),
                         action)


def _lightspeed(c) -> pl.Expr:
    action = pl.when(c("blocked")).then(pl.lit("Block")).otherwise(pl.lit("Allow"))
    return pl.concat_str(action, pl.lit(";"), c("local").dt.strftime("%m/%d/%Y %I:%M:%S %p"), pl.lit(";"),
                         _quoted(c("cat"), ";"), pl.lit(";"), _quoted(c("user"), ";"), pl.lit(";"), c("ip"),
                         pl.lit(";https://"), c("host"), pl.lit("/p/"), c("p").cast(pl.String), pl.lit(";Chromebook"))


def _securly(c) -> pl.Expr:
    email = pl.concat_str(c("user").str.to_lowercase().str.replace_all(r"[^a-z0-9.]", "."), pl.lit("@school.org.uk"))
    status = pl.when(c("blocked")).then(pl.lit("BLOCKED")).when(c("odd") > 0.98).then(pl.lit("FLAGGED")) \
        .otherwise(pl.lit("ALLOWED"))
    return pl.concat_str(c("utc").dt.strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00"), pl.lit(","), email, pl.lit(","),
                         c("host"), pl.lit(","), _quoted(c("cat"), ","), pl.lit(","), status)


def _surfprotect(c) -> pl.Expr:
    decision = pl.when(c("blocked")).then(pl.lit("Blocked")).otherwise(pl.lit("Permitted"))
    return pl.concat_str(c("local").dt.strftime("%d/%m/%Y %H:%M"), pl.lit(","), _quoted(c("user"), ","),
                         pl.lit(","), c("ip"), pl.lit(",https://"), c("host"), pl.lit("/p/"), c("p").cast(pl.String),
                         pl.lit(","), _quoted(c("cat"), ","), pl.lit(","), decision)


GENERATORS: dict[str, dict] = {
    "vendor-csv-uk-dates": {
        "format": "smoothwall", "config": SMOOTHWALL,
        "write": lambda n, p: _write(n, p, "Date/Time,Username,IP Address,URL,Category,Action", _smoothwall,
                                     eol="\r\n", bom=True)},
    "vendor-csv-us-cp1252-semicolon": {
        "format": "lightspeed", "config": LIGHTSPEED,
        "write": lambda n, p: _write(n, p, "Action;Time;Category;User;Client IP;URL;Device", _lightspeed,
                                     encoding="cp1252", eol="\r\n")},
    "vendor-csv-iso": {
        "format": "securly", "config": SECURLY,
        "write": lambda n, p: _write(n, p, "Timestamp,Email,Site,Category,Status", _securly)},
    "surfprotect-uk-cp1252": {
        "format": "surfprotect", "config": "",
        "write": lambda n, p: _write(n, p, "Time,User,Source IP,URL,Category,Decision", _surfprotect,
                                     encoding="cp1252", eol="\r\n")},
}
