"""The investigation report as ONE self-contained HTML file, rendered from Jinja2 templates.

Why this shape: the reader is an investigating manager on an ordinary office
PC, possibly offline, possibly printing it for a meeting. So nothing is loaded
from the network (no CDN, web font or script), the CSS (`templates/report.css`)
is inlined, the page prints on A4 without half-empty pages, charts stay legible
in black and white, and the estimate is explained in plain words next to its
parameters, with the policy clauses it relates to.

Markup lives in `templates/report.html.j2` and the chart macros in
`templates/charts.html.j2`; this module only gathers the values. The template
environment autoescapes everything: identities, hosts and the reason are
attacker-controlled text, and no Python code here escapes by hand.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from surfaudit.export import charts, views
from surfaudit.export.data import Investigation
from surfaudit.export.policy import load_policy
from surfaudit.people import work_hosts_of
from surfaudit.safetext import escape_controls

MAX_LANES = 31  # timeline rows before it shows only days with social time or blocked attempts
KEEP_ROWS = 16  # a table this short is printed on one page with its heading (longer ones split between rows)


def _min2(v: object) -> str:
    return f"{float(v or 0):.2f}"


def _endtime(end: datetime, day: date) -> str:
    """A session's end; one that ends at the next midnight reads 24:00:00."""
    if end.date() > day and end.time() == datetime.min.time():
        return "24:00:00"
    return end.strftime("%H:%M:%S")


def _visible(value: Any) -> Any:
    """Every value the templates print, before escaping: bidirectional controls and
    other control characters (but line breaks and tabs) shown escaped, not obeyed: an
    identity `user\\u202egnp.exe` would otherwise read "userexe.png" (the terminal output
    escapes them the same way)."""
    if not isinstance(value, str) or isinstance(value, Markup):
        return value
    return escape_controls(value, keep="\n\t")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("surfaudit.export", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=False, keep_trailing_newline=True, finalize=_visible)
    env.filters["min2"] = _min2
    env.filters["endtime"] = _endtime
    return env


@lru_cache(maxsize=1)
def stylesheet() -> Markup:
    """The shipped CSS (package data; trusted, not data from the logs)."""
    return Markup(resources.files("surfaudit.export").joinpath("templates", "report.css").read_text("utf-8"))


def _hm(v: float) -> str:
    total = int(round(float(v)))
    return f"{total // 60} h {total % 60:02d} min" if total >= 60 else f"{total} min"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _cards(inv: Investigation) -> list[dict[str, Any]]:
    """The summary figures, each a number and a sentence (no bare pairs of numbers)."""
    t, thr = inv.totals, inv.cfg.social.flag_minutes
    return [
        {"flag": False, "n": f"{t['outside_break_minutes']:.2f} min",
         "l": f"On social media in work hours, outside official breaks ({_hm(t['outside_break_minutes'])})"},
        {"flag": bool(t["flagged_days"]), "n": f"{t['flagged_days']} of {_plural(len(inv.days), 'day')}",
         "l": f"Days flagged: {thr:g} minutes or more outside breaks"},
        {"flag": False, "n": f"{t['social_minutes']:.2f} min",
         "l": f"All social media time, in and out of work hours ({_hm(t['social_minutes'])})"},
        {"flag": False, "n": f"{t['in_break_minutes']:.2f} min", "l": "In official breaks (permitted)"},
        {"flag": False, "n": f"{t['outside_hours_minutes']:.2f} min",
         "l": "Outside work hours or on non-workdays (permitted)"},
        {"flag": False, "n": _plural(t["blocked_attempts"], "blocked attempt"),
         "l": f"{_plural(t['blocked_requests'], 'request')} refused by the web filter, counted as "
              f"{_plural(t['blocked_attempts'], 'attempt')}"},
    ]


def _charts(inv: Investigation, attempts: list[views.Attempt]) -> tuple[dict, dict, str]:
    daily = {d: float(m) for d, m in inv.daily.select("date", "outside_break_minutes").iter_rows()}
    social = {d: float(m) for d, m in inv.daily.select("date", "social_minutes").iter_rows()}
    zone = ZoneInfo(inv.cfg.schedule.timezone)
    pieces: dict[date, list] = {}
    for d, period, start_utc, seconds, host in inv.pieces.select("date", "period", "start_utc", "seconds",
                                                                  "host").iter_rows():
        midnight = datetime(d.year, d.month, d.day, tzinfo=zone)
        elapsed = (start_utc - midnight).total_seconds() / 60
        pieces.setdefault(d, []).append((elapsed, float(seconds), period, host or ""))
    changes = {}
    for d in pieces:
        c = views.clock_change(inv.cfg.schedule.timezone, d)
        if c is not None:
            changes[d] = (c.at, c.shift, c.before, c.after)
    marks: dict[date, list] = {}
    for a in attempts:
        marks.setdefault(a.date, []).append((a.first, a.host, a.requests))
    lanes, note = inv.days, ""
    if len(lanes) > MAX_LANES:  # a long range: only the days with something to show get a lane
        lanes = [d for d in inv.days if social.get(d) or d in marks]
        note = f" Only the {len(lanes)} days with social media time or blocked attempts are shown."
    bars = charts.bar_chart(inv.days, daily, float(inv.cfg.social.flag_minutes))
    quiet = frozenset(views.days_without_a_site(inv))
    bands = {d: (p.work, p.breaks) for d, p in views.day_plans(inv).items() if d not in quiet}
    return bars, charts.timeline(lanes, pieces, bands, social, marks, changes, quiet), note


def context(inv: Investigation, *, reason: str, generated: datetime, generated_by: str) -> dict[str, Any]:
    """Every value the template shows (plain data; the template formats and escapes)."""
    s, soc = inv.cfg.schedule, inv.cfg.social
    attempts = views.attempts(inv)
    bars, lanes, lane_note = _charts(inv, attempts)
    kind, caveat = views.identity_label(inv.user)
    title, clauses = load_policy(inv.cfg.org)
    daily = list(inv.daily.iter_rows(named=True))
    return {
        "inv": inv, "reason": reason, "generated": generated.astimezone(ZoneInfo(s.timezone)),
        "generated_by": generated_by, "tz": s.timezone, "ndays": len(inv.days), "t": inv.totals,
        "identity_kind": kind, "identity_caveat": caveat, "person": views.directory_rows(inv), "cards": _cards(inv),
        "threshold": f"{soc.flag_minutes:g}", "bars": bars, "lanes": lanes, "lane_note": lane_note,
        "daily": daily, "flagged_dates": {d["date"] for d in daily if d["flagged"]},
        "sites": views.sites(inv), "sessions": views.sessions(inv), "period_words": views.PERIOD_WORDS,
        "attempts": attempts, "blocked": list(inv.blocked.iter_rows(named=True)),
        "burst": inv.cfg.blocked.burst_seconds, "soc": soc, "css": stylesheet(), "keep_rows": KEEP_ROWS,
        "timetables": views.timetable_uses(inv), "dates_text": views.dates_text,
        "quiet_days": views.days_without_a_site(inv),
        "work_hosts": work_hosts_of(inv.cfg, inv.user), "policy_title": title, "clauses": clauses,
    }


def render_html(inv: Investigation, *, reason: str, generated: datetime, generated_by: str) -> bytes:
    """The whole report as UTF-8 bytes."""
    page = environment().get_template("report.html.j2")
    return page.render(context(inv, reason=reason, generated=generated, generated_by=generated_by)).encode("utf-8")

