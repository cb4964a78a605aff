"""Geometry for the HTML report's two hand-drawn SVG charts: daily bars and a day timeline.

Why hand-drawn SVG, and why geometry only: the report must be one self-contained
file that opens offline on a manager's PC and prints well, so no chart library,
script or CDN. Python computes every coordinate and label here (plain numbers and
strings); the markup is the macros of `templates/charts.html.j2`, so all text from
the data (hosts) is escaped by the template engine, never by hand. Both charts stay
readable without colour: flagged bars are hatched and labelled, the threshold is a
dashed, labelled line, each period of the timeline has its own pattern and blocked
attempts are black triangles.
"""

from __future__ import annotations

import math
from datetime import date, datetime

Minutes = tuple[float, float]  # clock minutes of a local date, [start, end)

PERIOD_STYLE = {  # stroke colour, pattern id, label
    "outside_break": ("#b3261e", "pat-ob", "Outside breaks (work hours)"),
    "in_break": ("#2e7d32", "pat-ib", "In an official break"),
    "outside_hours": ("#1f5fa8", "pat-oh", "Outside work hours / non-workday"),
}


def _nice_step(top: float, ticks: int = 5) -> float:
    raw = max(top, 1.0) / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:g}"


def bar_chart(days: list[date], minutes: dict[date, float], threshold: float) -> dict:
    """Outside-break minutes per local date, with the flag threshold as a dashed line."""
    width, height, left, right, top, bottom = 1000, 260, 56, 16, 24, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([threshold, *minutes.values()] or [threshold])
    step = _nice_step(peak * 1.1)
    y_max = step * math.ceil(peak * 1.1 / step) if peak > 0 else step * 5
    n = max(len(days), 1)
    slot = plot_w / n
    bar_w = max(min(slot * 0.7, 60), 1.5)
    label_every = 1 if n <= 31 else math.ceil(n / 16)

    def y(v: float) -> float:
        return round(top + plot_h - (v / y_max) * plot_h, 1)

    grid, v = [], 0.0
    while v <= y_max + 1e-9:
        grid.append({"y": y(v), "label": _fmt(v)})
        v += step
    bars, labels, ticks = [], [], []
    for i, d in enumerate(days):
        value = float(minutes.get(d, 0.0))
        flagged = value >= threshold and value > 0
        x = left + i * slot + (slot - bar_w) / 2
        cx = round(x + bar_w / 2, 1)
        if value > 0:
            yy = y(value)
            bars.append({"x": round(x, 1), "y": yy, "w": round(bar_w, 1), "h": round(top + plot_h - yy, 1),
                         "flagged": flagged,
                         "title": f"{d.isoformat()}: {value:.2f} min" + (" (flagged)" if flagged else "")})
            if slot >= 26 or flagged:  # narrow bars: only flagged ones carry a number
                text = f"{value:.1f}" + (" \u2691" if flagged else "") if slot >= 26 else "\u2691"
                labels.append({"x": cx, "y": round(yy - 5, 1), "text": text, "bold": flagged})
        if i % label_every == 0:
            ticks.append({"x": cx, "day": d.strftime("%a") if n <= 31 else "", "date": d.strftime("%d %b"),
                          "weekend": d.weekday() >= 5})
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top,
            "base": top + plot_h, "mid": round(top + plot_h / 2), "grid": grid, "bars": bars, "labels": labels,
            "ticks": ticks, "threshold": {"y": y(threshold), "label": f"flag threshold: {_fmt(threshold)} min"},
            "threshold_text": _fmt(threshold)}


def _x(minutes: float, left: float, plot_w: float) -> float:
    return round(left + max(0.0, min(minutes, 1440.0)) / 1440.0 * plot_w, 2)


def _merge(pieces: list[tuple[float, float, str, str]]) -> list[tuple[float, float, str, set[str]]]:
    """Join touching pieces of one period into runs (start_min, end_min, period, hosts)."""
    runs: list[tuple[float, float, str, set[str]]] = []
    for start, end, period, host in sorted(pieces):
        if runs and runs[-1][2] == period and start <= runs[-1][1] + 1 / 60:
            s, e, p, hosts = runs[-1]
            runs[-1] = (s, max(e, end), p, hosts | {host})
        else:
            runs.append((start, end, period, {host}))
    return runs


def _minute_of(t: datetime) -> float:
    return t.hour * 60 + t.minute + t.second / 60 + t.microsecond / 6e7


def _hhmm(m: float) -> str:
    return f"{int(m) // 60 % 24:02d}:{int(m) % 60:02d}"


# A clock change on a lane's date: (elapsed minute it happens at, clock shift in
# minutes, zone before, zone after), e.g. (120.0, -60.0, 'BST', 'GMT') on 25 Oct 2026.
Change = tuple[float, float, str, str]


def _clock_pieces(s: float, e: float, change: Change | None) -> list[tuple[float, float, str, str]]:
    """A run of elapsed minutes [s, e) as clock-minute spans with their zones: split at
    the clock change, the spans after it shifted (the autumn's repeated hour is drawn
    over the first one, the spring's missing hour is a gap)."""
    if change is None:
        return [(s, e, "", "")]
    at, shift, before, after = change
    if e <= at:
        return [(s, e, before, before)]
    if s >= at:
        return [(s + shift, e + shift, after, after)]
    return [(s, at, before, before), (at + shift, e + shift, after, after)]


def timeline(days: list[date], pieces: dict[date, list[tuple[float, float, str, str]]],
             bands: dict[date, tuple[Minutes | None, tuple[Minutes, ...]]], totals: dict[date, float],
             blocked: dict[date, list[tuple[datetime, str, int]]] | None = None,
             changes: dict[date, Change] | None = None, quiet: frozenset[date] = frozenset()) -> dict:
    """One lane per local date, 00:00-24:00: work hours and breaks as bands, social time on top.

    `bands[d]` is (work hours, breaks) of the identity's own timetable on date d, work
    hours None on a day without (non-workday, closed day); `pieces[d]` holds (minutes
    elapsed since local midnight at its start, seconds, period, host) for date d: runs
    are joined in elapsed time, so the two 01:30s of the autumn clock change stay two,
    and drawn at clock time (`changes[d]`, that date's clock change, shifts and labels
    them); `blocked[d]` holds (local time, host, requests) of each blocked attempt,
    drawn as a triangle. A date in `quiet` has no timetable to draw (no requests, and
    the timetable is decided by the first request's site).
    """
    width, left, right, top, lane_h, gap = 1000, 96, 78, 30, 20, 5
    plot_w = width - left - right
    height = top + len(days) * (lane_h + gap) + 62
    hours = [{"x": _x(h * 60, left, plot_w), "label": f"{h:02d}:00"} for h in range(0, 25, 2)]
    lanes = []
    for i, d in enumerate(days):
        y0 = top + 6 + i * (lane_h + gap)
        work, breaks = bands.get(d, (None, ()))
        workday = work is not None
        lane = {"y": y0, "mid": round(y0 + lane_h / 2 + 4, 1), "label": d.strftime("%a %d %b"), "workday": workday,
                "work": None, "breaks": [], "runs": [], "blocked": [], "total": totals.get(d, 0.0),
                "quiet": d in quiet}
        if work is not None:
            x1, x2 = _x(work[0], left, plot_w), _x(work[1], left, plot_w)
            lane["work"] = {"x": x1, "w": round(x2 - x1, 2)}
            for b_start, b_end in breaks:
                x1, x2 = _x(b_start, left, plot_w), _x(b_end, left, plot_w)
                lane["breaks"].append({"x": x1, "w": round(x2 - x1, 2)})
        raw = [(s, s + seconds / 60, period, host) for s, seconds, period, host in pieces.get(d, [])]
        change = (changes or {}).get(d)
        for s, e, period, hosts in _merge(raw):
            colour, pat, label = PERIOD_STYLE[period]
            spans = _clock_pieces(s, e, change)
            first, last = spans[0], spans[-1]
            title = (f"{_hhmm(first[0])}{' ' + first[2] if first[2] else ''}\u2013{_hhmm(last[1])}"
                     f"{' ' + last[3] if last[3] else ''} {label}, {e - s:.1f} min: {', '.join(sorted(hosts))}")
            for c1, c2, _, _ in spans:
                x1, x2 = _x(c1, left, plot_w), _x(c2, left, plot_w)
                lane["runs"].append({"x": x1, "w": round(max(x2 - x1, 1.5), 2), "pattern": pat, "colour": colour,
                                     "title": title})
        for when, host, n in (blocked or {}).get(d, []):
            x = _x(_minute_of(when), left, plot_w)
            lane["blocked"].append({"points": f"{x - 4:.1f},{y0 - 1} {x + 4:.1f},{y0 - 1} {x:.1f},{y0 + 7}",
                                    "title": f"{when:%H:%M:%S} blocked: {host} ({n} request{'s' if n != 1 else ''})"})
        lanes.append(lane)
    names = [("url(#pat-ob)", PERIOD_STYLE["outside_break"][2]), ("url(#pat-ib)", PERIOD_STYLE["in_break"][2]),
             ("url(#pat-oh)", PERIOD_STYLE["outside_hours"][2]), ("#e6e9ef", "Work hours"),
             ("url(#pat-break)", "Official break")]
    legend, x = [], left
    for fill, label in names:
        legend.append({"x": x, "fill": fill, "label": label})
        x += 22 + 7 * len(label) + 18
    return {"width": width, "height": height, "left": left, "plot_w": plot_w, "top": top, "lane_h": lane_h,
            "hours": hours, "lanes": lanes, "legend": legend, "legend_y": height - 40,
            "legend2_y": height - 20, "grid_bottom": height - 56}
