"""Regenerate sample_logs/ deterministically (synthetic people, fixed dates).

The shipped files are committed; this script documents how they were made and
lets anyone rebuild them byte for byte: `python tools/make_samples.py`.
Dates: Mon 2026-10-26 .. Fri 2026-11-06 (Europe/London), straddling the UTC
month boundary and starting the Monday after the autumn clock change.
"""

from __future__ import annotations

import gzip
import random
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
OUT = Path(__file__).resolve().parent.parent / "sample_logs"
DAYS = [date(2026, 10, 26) + timedelta(days=i) for i in range(12)]  # Mon 26 Oct .. Fri 6 Nov
WORK_SITES = ["www.bbc.co.uk", "www.gov.uk", "www.google.com", "outlook.office.com", "classroom.google.com",
              "www.tes.com", "www.bbc.co.uk", "login.microsoftonline.com", "www.wikipedia.org"]
BLOCKED_SOCIAL = ["www.facebook.com", "www.tiktok.com", "www.instagram.com", "m.facebook.com"]
ALLOWED_SOCIAL = ["www.youtube.com", "www.linkedin.com", "x.com", "i.ytimg.com"]


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), LONDON).astimezone(timezone.utc)


def session(rng: random.Random, start: datetime, minutes: float, hosts: list[str], every: tuple[int, int]):
    """Requests from start for `minutes`, one every `every` seconds (random), with ms jitter."""
    t = start
    end = start + timedelta(minutes=minutes)
    while t < end:
        yield t, rng.choice(hosts)
        t += timedelta(seconds=rng.randint(*every), milliseconds=rng.randint(0, 999))


def squid_line(rng, ts: datetime, ip: str, user: str, host: str, blocked: bool) -> str:
    elapsed = rng.randint(3, 2500)
    if blocked:
        tag, size = "TCP_DENIED/403", 3950
        method, url, hier = "CONNECT", f"{host}:443", "HIER_NONE/-"
    elif rng.random() < 0.8:
        tag, size = "TCP_TUNNEL/200", rng.randint(400, 90000)
        method, url, hier = "CONNECT", f"{host}:443", f"HIER_DIRECT/93.184.{rng.randint(1, 250)}.{rng.randint(1, 250)}"
    else:
        tag, size = rng.choice(["TCP_MISS/200", "TCP_HIT/200", "TCP_REFRESH_UNMODIFIED/304"]), rng.randint(200, 50000)
        method, url, hier = "GET", f"http://{host}/{rng.choice(['', 'news', 'index.html', 'a/b?q=1'])}", "HIER_DIRECT/93.184.216.34"
    mime = "-" if method == "CONNECT" else "text/html"
    epoch = ts.timestamp()
    return f"{int(epoch)}.{int(round((epoch % 1) * 1000)) % 1000:03d} {elapsed:6d} {ip} {tag} {size} {method} {url} {user} {hier} {mime}"


def squid_events(rng: random.Random):
    """(ts, line) for the squid-logged school."""
    people = {"amorgan": "10.20.1.11", "bokafor": "10.20.1.12", "LTE\\\\dpatel": "10.20.1.14",
              "e%20walsh": "10.20.1.15", "-": "10.20.1.57"}
    out = []
    for day in DAYS:
        workday = day.weekday() < 5
        for user, ip in people.items():
            if workday:
                for hh in (8, 9, 11, 14, 15):
                    for ts, host in session(rng, at(day, hh, rng.randint(0, 40)), rng.randint(5, 15), WORK_SITES, (20, 90)):
                        out.append((ts, squid_line(rng, ts, ip, user, host, False)))
                # lunch-break social use: allowed by policy
                for ts, host in session(rng, at(day, 12, rng.randint(5, 20)), rng.randint(10, 25), ALLOWED_SOCIAL, (30, 120)):
                    out.append((ts, squid_line(rng, ts, ip, user, host, False)))
        if not workday:
            continue
        # amorgan: long YouTube sessions in lesson time on two days -> flagged
        if day in (date(2026, 10, 27), date(2026, 11, 5)):
            for ts, host in session(rng, at(day, 13, 40), 48, ["www.youtube.com", "i.ytimg.com"], (20, 200)):
                out.append((ts, squid_line(rng, ts, people["amorgan"], "amorgan", host, False)))
        # amorgan: a session straddling the end of the morning break
        for ts, host in session(rng, at(day, 10, 38), 20, ["www.linkedin.com"], (60, 240)):
            out.append((ts, squid_line(rng, ts, people["amorgan"], "amorgan", host, False)))
        # bokafor: keeps trying blocked sites, in bursts
        if day.weekday() in (0, 2, 4):
            for hh, mm in ((9, 5), (14, 30), (16, 2)):
                for ts, host in session(rng, at(day, hh, mm), 2, [BLOCKED_SOCIAL[day.day % 3]], (3, 15)):
                    out.append((ts, squid_line(rng, ts, people["bokafor"], "bokafor", host, True)))
        # dpatel: social outside hours only (evening, not a breach)
        for ts, host in session(rng, at(day, 18, 30), 25, ["x.com"], (30, 200)):
            out.append((ts, squid_line(rng, ts, people["LTE\\\\dpatel"], "LTE\\\\dpatel", host, False)))
    # a late-night session crossing local midnight (and the UTC month boundary): Sat 31 Oct -> Sun 1 Nov
    for ts, host in session(rng, at(date(2026, 10, 31), 23, 50), 20, ["www.youtube.com"], (60, 200)):
        out.append((ts, squid_line(rng, ts, "10.20.1.15", "e%20walsh", host, False)))
    # proxy-auth challenges and errors: never counted
    for day in DAYS[:5]:
        ts = at(day, 8, 1)
        out.append((ts, f"{int(ts.timestamp())}.000      0 10.20.1.11 TCP_DENIED/407 3924 CONNECT www.youtube.com:443 - HIER_NONE/- text/html"))
        ts = at(day, 8, 2)
        out.append((ts, f"{int(ts.timestamp())}.250      1 10.20.1.12 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -"))
    out.sort(key=lambda x: x[0])
    return out


def surfprotect_rows(rng: random.Random):
    """Rows of a SurfProtect portal export for a second school (naive local times)."""
    people = {"c.nguyen": "10.30.0.21", "f.rossi": "10.30.0.22", "": "10.30.0.40"}
    rows = []
    for day in DAYS:
        if day.weekday() >= 5:
            continue
        for user, ip in people.items():
            for hh in (9, 13, 15):
                for ts, host in session(rng, at(day, hh, rng.randint(0, 30)), rng.randint(5, 12), WORK_SITES, (30, 120)):
                    rows.append((ts, user, ip, f"https://{host}/", "Education", "Permitted"))
            for ts, host in session(rng, at(day, 12, 10), 20, ["www.linkedin.com", "www.youtube.com"], (40, 150)):
                rows.append((ts, user, ip, f"https://{host}/feed", "Social Networking", "Permitted"))
        # c.nguyen: instagram attempts (blocked) and a long outside-break youtube session on Thursdays
        for ts, host in session(rng, at(day, 10, 0), 3, ["www.instagram.com"], (5, 40)):
            rows.append((ts, "c.nguyen", people["c.nguyen"], f"https://{host}/", "Social Networking", "Rejected"))
        if day.weekday() == 3:
            for ts, host in session(rng, at(day, 14, 0), 40, ["www.youtube.com"], (30, 240)):
                rows.append((ts, "c.nguyen", people["c.nguyen"], f"https://{host}/watch?v=abc,def", "Streaming Media", "Permitted"))
    rows.sort(key=lambda r: r[0])
    return rows


def write_samples(out: Path = OUT) -> None:
    rng = random.Random(20261026)
    events = squid_events(rng)
    cut = at(date(2026, 11, 2), 0, 0)
    older = [line for ts, line in events if ts < cut]
    newer = [line for ts, line in events if ts >= cut]
    # a few malformed lines in the live log, as a real proxy sometimes writes
    newer.insert(10, "1762070400.000 garbage line without the right fields")
    newer.insert(200, "")
    newer.insert(400, "not-a-time    12 10.20.1.11 TCP_TUNNEL/200 100 CONNECT www.bbc.co.uk:443 amorgan HIER_DIRECT/1.2.3.4 -")
    with gzip.GzipFile(out / "access.log.1.gz", "wb", mtime=0) as fh:  # rotated yesterday by logrotate
        fh.write(("\n".join(older) + "\n").encode())
    (out / "access.log").write_text("\n".join(newer) + "\n")
    lines = ["Time,User,Source IP,URL,Category,Decision"]
    for ts, user, ip, url, cat, decision in surfprotect_rows(rng):
        local = ts.astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S")
        url = f'"{url}"' if "," in url else url
        lines.append(f"{local},{user},{ip},{url},{cat},{decision}")
    lines.insert(50, "2026-10-27 09:14:00,f.rossi,10.30.0.22,https://www.bbc.co.uk/,News,Quarantined")
    lines.insert(120, "yesterday,f.rossi,10.30.0.22,https://www.bbc.co.uk/,News,Permitted")
    (out / "surfprotect-export.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    write_samples()
    print(f"wrote samples to {OUT}")
