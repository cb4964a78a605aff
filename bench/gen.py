"""Deterministic generators of benchmark inputs: squid native logs, SurfProtect
CSV exports and ready-made stores.

Everything is vectorised (numpy indices into small vocabularies, polars string
concatenation), written in chunks of CHUNK lines, and seeded, so the same
arguments always give byte-identical files and a 20 M-line log takes seconds.

The mix is meant to look like a school's proxy: 80 % CONNECT host:443, about
5 % blocked (TCP_DENIED/403), about 1 % proxy-auth challenges (TCP_DENIED/407),
a few errors, thousands of users and hosts, some user names with spaces or
`DOMAIN\\user` (squid-escaped as `DOMAIN\\\\user`), some `-` users, padded
elapsed times and millisecond timestamps spread over one day, in time order.

Run it to write one input: `python bench/gen.py squid --lines 1000000 out.log`
(`--help` lists the kinds and options); bench/run.py imports it instead.
"""

from __future__ import annotations

import argparse
import gzip
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl

CHUNK = 1_000_000
SOCIAL = ["www.facebook.com", "m.facebook.com", "www.instagram.com", "twitter.com", "x.com",
          "www.tiktok.com", "www.youtube.com", "www.linkedin.com", "static.xx.fbcdn.net"]


def day_start(days_ago: int = 3) -> int:
    """Epoch seconds of UTC midnight `days_ago` days before today (inside retention)."""
    d = datetime.now(timezone.utc).date() - timedelta(days=days_ago)
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp())


def vocab(seed: int = 7, users: int = 5000, hosts: int = 3000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    first = ["anna", "ben", "chloe", "dan", "emma", "finn", "gail", "hugo", "isla", "jack", "kate", "leo"]
    names = []
    for i in range(users):
        base = f"{first[i % len(first)]}.{'abcdefghijklmnopqrstuvwxyz'[i % 26]}{i}"
        r = i % 50
        if r == 0:
            base = f"SCHOOL\\\\{base}"  # DOMAIN\user as squid logs it
        elif r == 1:
            base = f"{first[i % len(first)]} {i}"  # a name with a space
        elif r == 2:
            base = f"Staff%20{i}"  # %XX escape
        elif r == 3:
            base = base.upper()
        names.append(base)
    tlds = ["com", "co.uk", "org", "net", "ac.uk", "io"]
    words = ["news", "mail", "cdn", "api", "static", "learn", "shop", "docs", "img", "video", "maps", "cloud"]
    hostnames = SOCIAL + [f"{words[i % 12]}{i}.{words[(i * 7) % 12]}.{tlds[i % 6]}" for i in range(hosts)]
    rng.shuffle(hostnames)
    ips = [f"10.{(i >> 8) & 255}.{i & 255}.{(i * 37) % 250 + 2}" for i in range(users)]
    return {"users": np.array(names, dtype=object), "hosts": np.array(hostnames, dtype=object),
            "ips": np.array(ips, dtype=object)}


def _chunks(n: int, seed: int, start: int):
    """Yield (rng, chunk_size, ms offsets) for each chunk, timestamps increasing over one day."""
    rng = np.random.default_rng(seed)
    done = 0
    step = 86_400_000 / max(n, 1)
    while done < n:
        k = min(CHUNK, n - done)
        ms = start * 1000 + ((np.arange(done, done + k) + rng.random(k)) * step).astype(np.int64)
        yield rng, k, ms
        done += k


def squid_lines(n: int, seed: int = 1, start: int | None = None) -> "iter[bytes]":
    """Chunks of squid native log bytes (each ends with a newline)."""
    v = vocab()
    start = day_start() if start is None else start
    users, hosts, ips = (pl.Series(v[k].tolist(), dtype=pl.String) for k in ("users", "hosts", "ips"))
    for rng, k, ms in _chunks(n, seed, start):
        ui = (len(users) * rng.random(k) ** 2).astype(np.int64)
        hi = (len(hosts) * rng.random(k) ** 3).astype(np.int64)
        kind = rng.random(k)
        connect = kind < 0.80
        blocked = (kind >= 0.80) & (kind < 0.85)
        auth = (kind >= 0.85) & (kind < 0.86)
        err = (kind >= 0.86) & (kind < 0.862)
        nouser = rng.random(k) < 0.03
        df = pl.DataFrame({
            "sec": ms // 1000, "msec": ms % 1000,
            "el": rng.integers(0, 30000, k), "ip": ips.gather(ui % len(ips)),
            "user": users.gather(ui), "host": hosts.gather(hi),
            "bytes": rng.integers(0, 200_000, k), "connect": connect, "blocked": blocked,
            "auth": auth, "err": err, "nouser": nouser, "p": rng.integers(0, 100000, k),
        })
        c = pl.col
        tag = (pl.when(c("auth")).then(pl.lit("TCP_DENIED/407")).when(c("blocked")).then(pl.lit("TCP_DENIED/403"))
               .when(c("err")).then(pl.lit("NONE_NONE/000"))
               .when(c("connect")).then(pl.lit("TCP_TUNNEL/200")).otherwise(pl.lit("TCP_MISS/200")))
        method = pl.when(c("connect") & ~c("blocked") & ~c("auth") & ~c("err")).then(pl.lit("CONNECT")).otherwise(pl.lit("GET"))
        url = (pl.when(c("err")).then(pl.lit("error:transaction-end-before-headers"))
               .when(c("connect") & ~c("blocked") & ~c("auth")).then(pl.concat_str(c("host"), pl.lit(":443")))
               .otherwise(pl.concat_str(pl.lit("http://"), c("host"), pl.lit("/p/"), c("p").cast(pl.String))))
        user = pl.when(c("nouser") | c("auth")).then(pl.lit("-")).otherwise(c("user"))
        hier = pl.when(c("blocked") | c("auth") | c("err")).then(pl.lit("HIER_NONE/-")).otherwise(pl.lit("HIER_DIRECT/93.184.216.34"))
        mime = pl.when(c("connect")).then(pl.lit("-")).otherwise(pl.lit("text/html"))
        line = pl.concat_str(
            c("sec").cast(pl.String), pl.lit("."), c("msec").cast(pl.String).str.pad_start(3, "0"), pl.lit(" "),
            c("el").cast(pl.String).str.pad_start(6, " "), pl.lit(" "), c("ip"), pl.lit(" "), tag, pl.lit(" "),
            pl.when(c("blocked") | c("auth")).then(pl.lit("3900")).otherwise(c("bytes").cast(pl.String)), pl.lit(" "),
            method, pl.lit(" "), url, pl.lit(" "), user, pl.lit(" "), hier, pl.lit(" "), mime,
        )
        text = df.select(line.str.join("\n")).item()
        yield (text + "\n").encode()


def surfprotect_lines(n: int, seed: int = 2, start: int | None = None) -> "iter[bytes]":
    """Chunks of a SurfProtect CSV export (header first)."""
    v = vocab()
    start = day_start() if start is None else start
    users = pl.Series([u.replace("\\\\", "\\").replace("%20", " ").lower() for u in v["users"]], dtype=pl.String)
    hosts, ips = (pl.Series(v[k].tolist(), dtype=pl.String) for k in ("hosts", "ips"))
    cats = pl.Series(["Education", "Social Networking", "Search Engines", "News", "Business", "Streaming Media"])
    yield b"Time,User,Source IP,URL,Category,Decision\n"
    for rng, k, ms in _chunks(n, seed, start):
        ui = (len(users) * rng.random(k) ** 2).astype(np.int64)
        df = pl.DataFrame({
            "ts": pl.Series(ms * 1000).cast(pl.Datetime("us")), "user": users.gather(ui),
            "ip": ips.gather(ui % len(ips)), "host": hosts.gather((len(hosts) * rng.random(k) ** 3).astype(np.int64)),
            "cat": cats.gather(rng.integers(0, len(cats), k)), "blocked": rng.random(k) < 0.05,
            "p": rng.integers(0, 100000, k),
        })
        c = pl.col
        user = pl.when(c("user").str.contains(" ")).then(pl.concat_str(pl.lit('"'), c("user"), pl.lit('"'))).otherwise(c("user"))
        line = pl.concat_str(
            c("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"), pl.lit(","), user, pl.lit(","), c("ip"), pl.lit(",https://"),
            c("host"), pl.lit("/p/"), c("p").cast(pl.String), pl.lit(","), c("cat"), pl.lit(","),
            pl.when(c("blocked")).then(pl.lit("Blocked")).otherwise(pl.lit("Permitted")),
        )
        yield (df.select(line.str.join("\n")).item() + "\n").encode()


def write(chunks, path: Path, gz: bool = False) -> Path:
    """Write generated chunks to `path` (gzip level 6 via ISA-L when `gz`, as logrotate would)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if gz:
        try:
            from isal import igzip
            fh = igzip.open(tmp, "wb", compresslevel=3)
        except ImportError:  # pragma: no cover
            fh = gzip.open(tmp, "wb", compresslevel=6)
    else:
        fh = open(tmp, "wb")
    with fh:
        for chunk in chunks:
            fh.write(chunk)
    tmp.replace(path)
    return path


def ensure(path: Path, make) -> Path:
    """Generate `path` unless it already exists (inputs are deterministic)."""
    return path if path.exists() else make()


def main(argv: list[str] | None = None) -> int:
    """`python bench/gen.py KIND OUTPUT`: write one generated input file."""
    parser = argparse.ArgumentParser(
        prog="python bench/gen.py",
        description="Write a deterministic benchmark input: a squid native access.log or a SurfProtect CSV "
                    "export: one UTC day of requests, three days ago (inside any retention period).")
    parser.add_argument("kind", choices=("squid", "surfprotect"), help="what to write")
    parser.add_argument("output", type=Path, help="the file to write (a .gz name is gzip-compressed)")
    parser.add_argument("--lines", type=int, default=1_000_000, metavar="N", help="requests to write (default 1000000)")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="random seed (default: 1 for squid, 2 for surfprotect); the same seed on the "
                             "same day gives the same bytes")
    args = parser.parse_args(argv)
    if args.lines < 1:
        parser.error("--lines must be at least 1")
    make = squid_lines if args.kind == "squid" else surfprotect_lines
    chunks = make(args.lines) if args.seed is None else make(args.lines, seed=args.seed)
    path = write(chunks, args.output, gz=args.output.suffix == ".gz")
    print(f"wrote {args.lines} {args.kind} requests to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
