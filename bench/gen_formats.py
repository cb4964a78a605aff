"""Deterministic benchmark inputs for the e2guardian, squidGuard and FortiGate
formats.

`GENERATORS` maps a benchmark name to {"format", "config", "write"}: the
`--format` value, the surfaudit.toml text ('' here: the defaults) and
`write(n, path)`, which writes n lines. Users, hosts and client IPs are those of
`bench/gen.py` (thousands of each, some `DOMAIN\\user`, names with spaces,
upper case), times increase over one day inside retention, written as Europe/
London wall clock (the default timezone) where the format logs local time.
Everything is vectorised (polars string concatenation per chunk of
`gen.CHUNK` lines) and seeded, so the same arguments give the same bytes.

- e2guardian: log format 1 as DansGuardian writes it (unpadded `2026.11.30
  9:17:01`), 80 % CONNECT, ~5 % `*DENIED*`, some `*TRUSTED*`/`*SCANNED*`,
  ~1 % 407, ~3 % without user, blank fields as two spaces, a User-Agent tail;
- e2guardian-csv: the same requests as log format 2 (quoted CSV, no header);
- squidguard: the redirect log of squidGuard 1.4+ (`... jsmith GET REDIRECT`),
  some `PASS` lines (verbose logging) and old lines without an action, %-escaped
  user names as squid passes them, 1 % squidGuard messages (counted as rejected);
- fortigate: FortiOS 7 utm/webfilter lines (~600 bytes, `eventtime` in ns,
  `tz`, full URLs), ~5 % blocked, some FortiOS 6.0 lines (a path URL, no
  eventtime), some users from FSSO (`unauthuser`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen  # noqa: E402

TZ = "Europe/London"
CATS = ["Education", "Search Engines", "News and Media", "Business", "Streaming Media and Download",
        "Information Technology"]
c = pl.col
lit = pl.lit


def _frame(n: int, seed: int):
    """Per chunk: a frame of request attributes (user, ip, host, time, kind...)."""
    v = gen.vocab()
    names = [u.replace("\\\\", "\\").replace("%20", " ") for u in v["users"]]
    users, hosts, ips = (pl.Series(x, dtype=pl.String) for x in (names, v["hosts"].tolist(), v["ips"].tolist()))
    social = pl.Series(gen.SOCIAL, dtype=pl.String)
    cats = pl.Series(CATS, dtype=pl.String)
    for rng, k, ms in gen._chunks(n, seed, gen.day_start()):
        ui = (len(users) * rng.random(k) ** 2).astype(np.int64)
        kind = rng.random(k)
        df = pl.DataFrame({
            "ms": ms, "user": users.gather(ui), "ip": ips.gather(ui % len(ips)),
            "host": hosts.gather((len(hosts) * rng.random(k) ** 3).astype(np.int64)),
            "connect": kind < 0.80, "blocked": (kind >= 0.80) & (kind < 0.85), "auth": (kind >= 0.85) & (kind < 0.86),
            "other": rng.random(k), "nouser": rng.random(k) < 0.03, "p": rng.integers(0, 100_000, k),
            "size": rng.integers(0, 200_000, k), "cat": cats.gather(rng.integers(0, len(cats), k)),
        })
        df = df.with_columns(
            pl.col("ms").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").dt.convert_time_zone(TZ).alias("local"),
            c("host").is_in(social.implode()).alias("social"),
        )
        yield df


def _url() -> pl.Expr:
    return (pl.when(c("connect") & ~c("blocked")).then(pl.concat_str(lit("https://"), c("host"), lit(":443")))
            .otherwise(pl.concat_str(lit("http://"), c("host"), lit("/p/"), c("p").cast(pl.String))))


def _e2_fields() -> list[pl.Expr]:
    """when who from where what how size weight category group code mimetype clienthost groupname useragent"""
    what = (pl.when(c("blocked")).then(pl.concat_str(lit("*DENIED* Banned site: "), c("host")))
            .when(c("other") < 0.03).then(pl.concat_str(lit("*TRUSTED* Site match: "), c("host")))
            .when(c("other") < 0.05).then(lit("*SCANNED* ")).otherwise(lit("")))
    code = (pl.when(c("blocked")).then(lit("403")).when(c("auth")).then(lit("407"))
            .when(c("other") > 0.97).then(lit("304")).otherwise(lit("200")))
    cat = pl.when(c("blocked") & c("social")).then(lit("Social Networking")).when(c("blocked")).then(c("cat")) \
        .otherwise(lit(""))
    return [
        c("local").dt.strftime("%Y.%-m.%-d %-H:%M:%S"), pl.when(c("nouser") | c("auth")).then(lit("-")).otherwise(c("user")),
        c("ip"), _url(), what, pl.when(c("connect") & ~c("blocked")).then(lit("CONNECT")).otherwise(lit("GET")),
        pl.when(c("blocked")).then(lit("3804")).otherwise(c("size").cast(pl.String)), lit("0"), cat, lit("1"), code,
        pl.when(c("connect")).then(lit("-")).otherwise(lit("text/html")), c("ip"),
        pl.when(c("auth")).then(lit("negotiate_identification")).otherwise(lit("Staff")),
        lit("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"),
        lit("-"), lit("-"), lit("-"), lit("-"),
    ]


def _join(df: pl.DataFrame, line: pl.Expr) -> bytes:
    return (df.select(line.str.join("\n")).item() + "\n").encode()


def write_e2guardian(n: int, path: Path) -> None:
    gen.write((_join(df, pl.concat_str(_e2_fields(), separator=" ")) for df in _frame(n, 11)), path)


def write_e2guardian_csv(n: int, path: Path) -> None:
    line = pl.concat_str([lit('"'), pl.concat_str(_e2_fields(), separator='","'), lit('"')])
    gen.write((_join(df, line) for df in _frame(n, 12)), path)


def write_squidguard(n: int, path: Path) -> None:
    def chunks():
        for df in _frame(n, 13):
            user = c("user").str.to_lowercase().str.replace_all(" ", "%20", literal=True) \
                .str.replace_all("\\", "%5c", literal=True)
            action = pl.when(c("other") < 0.10).then(lit(" PASS")).when(c("other") < 0.15).then(lit("")) \
                .otherwise(lit(" REDIRECT"))
            dest = pl.when(c("social")).then(lit("socialnet")).otherwise(c("cat").str.to_lowercase()
                                                                      .str.replace_all(" ", "_"))
            request = pl.concat_str(
                c("local").dt.strftime("%Y-%m-%d %H:%M:%S"), lit(" [4242] Request(students/"), dest, lit("/-) "),
                pl.when(c("connect")).then(pl.concat_str(c("host"), lit(":443"))).otherwise(
                    pl.concat_str(lit("http://"), c("host"), lit("/p/"), c("p").cast(pl.String))),
                lit(" "), c("ip"), lit("/-"), lit(" "), pl.when(c("nouser")).then(lit("-")).otherwise(user),
                lit(" "), pl.when(c("connect")).then(lit("CONNECT")).otherwise(lit("GET")), action)
            message = pl.concat_str(c("local").dt.strftime("%Y-%m-%d %H:%M:%S"),
                                    lit(" [4242] INFO: squidGuard ready for requests (1796029020.456)"))
            yield _join(df, pl.when(c("other") > 0.99).then(message).otherwise(request))
    gen.write(chunks(), path)


def write_fortigate(n: int, path: Path) -> None:
    def chunks():
        for df in _frame(n, 14):
            old = c("other") > 0.9  # FortiOS 6.0 lines: a path URL, no eventtime, no tz
            blocked = c("blocked")
            user = pl.when(c("nouser")).then(lit('user=""')).when(c("other") < 0.2).then(
                pl.concat_str(lit('user="" unauthuser="'), c("user"), lit('"'))).otherwise(
                pl.concat_str(lit('user="'), c("user"), lit('"')))
            stamp = pl.concat_str(lit("date="), c("local").dt.strftime("%Y-%m-%d"), lit(" time="),
                                  c("local").dt.strftime("%H:%M:%S"))
            modern = pl.concat_str(lit(' devname="FGT-SCHOOL" devid="FG100FTK22001234" eventtime='),
                                   (c("ms") * 1_000_000 + c("p")).cast(pl.String),
                                   lit(' tz="'), c("local").dt.strftime("%z"), lit('"'))
            url = pl.when(old).then(pl.concat_str(lit('url="/p/'), c("p").cast(pl.String), lit('"'))).otherwise(
                pl.concat_str(lit('url="https://'), c("host"), lit("/p/"), c("p").cast(pl.String), lit('"')))
            line = pl.concat_str(
                stamp, pl.when(old).then(lit("")).otherwise(modern),
                pl.when(blocked).then(lit(' logid="0316013056" type="utm" subtype="webfilter" eventtype="ftgd_blk" '
                                          'level="warning"'))
                .otherwise(lit(' logid="0317013312" type="utm" subtype="webfilter" eventtype="ftgd_allow" '
                               'level="notice"')),
                lit(' vd="root" policyid=4 sessionid='), c("p").cast(pl.String), lit(" "), user, lit(" srcip="),
                c("ip"), lit(' srcport=52144 srcintf="port2" srcintfrole="lan" dstip=93.184.216.34 dstport=443 '
                             'dstintf="port1" dstintfrole="wan" proto=6 service="HTTPS" hostname="'), c("host"),
                lit('" profile="school" action="'), pl.when(blocked).then(lit("blocked")).otherwise(lit("passthrough")),
                lit('" reqtype="direct" '), url, lit(" sentbyte=517 rcvdbyte="),
                pl.when(blocked).then(lit("0")).otherwise(c("size").cast(pl.String)),
                lit(' direction="outgoing" msg="URL belongs to '),
                pl.when(blocked).then(lit("a denied")).otherwise(lit("an allowed")),
                lit(' category in policy" method="domain" cat=37 catdesc="'),
                pl.when(c("social")).then(lit("Social Networking")).otherwise(c("cat")), lit('"'))
            yield _join(df, line)
    gen.write(chunks(), path)


GENERATORS: dict[str, dict] = {
    "e2guardian": {"format": "e2guardian", "config": "", "write": write_e2guardian},
    "e2guardian-csv": {"format": "e2guardian", "config": "", "write": write_e2guardian_csv},
    "squidguard": {"format": "squidguard", "config": "", "write": write_squidguard},
    "fortigate": {"format": "fortigate", "config": "", "write": write_fortigate},
}
