"""Inline SVG charts for the HTML investigation report: daily bars and a day timeline.

Why hand-written SVG: the report must be one self-contained file that opens
offline on a manager's PC and prints well, so no chart library, script or CDN.
Both charts remain readable without colour (printed in black and white, or by
someone colour-blind): flagged bars are hatched and labelled, the threshold is
a dashed, labelled line, and each period of the timeline has its own pattern.
Every text that comes from the data (hosts) is escaped.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from html import escape

from surfaudit.config import Schedule

FONT = "font-family:inherit"
HALO = 'stroke="#fff" stroke-width="3" paint-order="stroke"'  # keeps labels legible over lines
PERIOD_STYLE = {  # fill, pattern id, label
    "outside_break": ("#b3261e", "pat-ob", "Outside breaks (work hours)"),
    "in_break": ("#2e7d32", "pat-ib", "In an official break"),
    "outside_hours": ("#1f5fa8", "pat-oh", "Outside work hours / non-workday"),
}

DEFS = """<defs>
<pattern id="pat-flag" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="8" height="8" fill="#b3261e"/><rect width="3" height="8" fill="#f2b8b5"/></pattern>
<pattern id="pat-ob" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="6" height="6" fill="#b3261e"/><rect width="2" height="6" fill="#7a1a14"/></pattern>
<pattern id="pat-ib" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#2e7d32"/><circle cx="3" cy="3" r="1.3" fill="#c8e6c9"/></pattern>
<pattern id="pat-oh" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#1f5fa8"/><rect y="2" width="6" height="2" fill="#bbd3f0"/></pattern>
<pattern id="pat-break" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">
<rect width="6" height="6" fill="#e3f1e4"/><rect width="1" height="6" fill="#c5e1c7"/></pattern>
</defs>"""


def _nice_step(top: float, ticks: int = 5) -> float:
    raw = max(top, 1.0) / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:g}"


def bar_chart(days: list[date], minutes: dict[date, float], threshold: float) -> str:
    """Outside-break minutes per local date, with the flag threshold as a dashed line."""
    width, height, left, right, top, bottom = 1000, 320, 56, 16, 28, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([threshold, *minutes.values()] or [threshold])
    step = _nice_step(peak * 1.1)
    y_max = step * math.ceil(peak * 1.1 / step) if peak > 0 else step * 5
    n = max(len(days), 1)
    slot = plot_w / n
    bar_w = max(min(slot * 0.7, 60), 1.5)
    label_every = 1 if n <= 31 else math.ceil(n / 16)
    labels: list[str] = []  # drawn last, above the threshold line

    def y(v: float) -> float:
        return top + plot_h - (v / y_max) * plot_h

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="Minutes of social media outside breaks per day, with the flag threshold of {_fmt(threshold)} minutes" '
           f'xmlns="http://www.w3.org/2000/svg" style="{FONT}">', DEFS]
    v = 0.0
    while v <= y_max + 1e-9:
        yy = y(v)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e0e3e8" stroke-width="1"/>')
        out.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end" font-size="12" fill="#555">{_fmt(v)}</text>')
        v += step
    out.append(f'<text x="14" y="{top + plot_h / 2:.0f}" font-size="12" fill="#555" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + plot_h / 2:.0f})">minutes</text>')
    for i, d in enumerate(days):
        value = float(minutes.get(d, 0.0))
        flagged = value >= threshold and value > 0
        x = left + i * slot + (slot - bar_w) / 2
        cx = x + bar_w / 2
        if value > 0:
            yy = y(value)
            fill = "url(#pat-flag)" if flagged else "#5b6b82"
            out.append(f'<rect x="{x:.1f}" y="{yy:.1f}" width="{bar_w:.1f}" height="{top + plot_h - yy:.1f}" '
                       f'fill="{fill}" stroke="#333" stroke-width="0.6"><title>{d.isoformat()}: {value:.2f} min'
                       f'{" (flagged)" if flagged else ""}</title></rect>')
            label = f"{value:.1f}" + (" \u2691" if flagged else "") if slot >= 26 else "\u2691"
            weight = "700" if flagged else "400"
            if slot >= 26 or flagged:  # narrow bars: only flagged ones carry a number
                labels.append(f'<text x="{cx:.1f}" y="{yy - 5:.1f}" text-anchor="middle" font-size="11" '
                              f'font-weight="{weight}" fill="#222" {HALO}>{label}</text>')
        if i % label_every == 0:
            weekend = d.weekday() >= 5
            if n <= 31:
                out.append(f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11" '
                           f'fill="{"#888" if weekend else "#333"}">{d.strftime("%a")}</text>')
            out.append(f'<text x="{cx:.1f}" y="{top + plot_h + 30}" text-anchor="middle" font-size="11" '
                       f'fill="{"#888" if weekend else "#333"}">{d.strftime("%d %b")}</text>')
    ty = y(threshold)
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#111" '
               f'stroke-width="1.6" stroke-dasharray="7 4"/>')
    out.append(f'<text x="{left + 6}" y="{ty - 6:.1f}" font-size="12" font-weight="700" fill="#111" '
               f'{HALO}>flag threshold: {_fmt(threshold)} min</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#333"/>')
    out.extend(labels)
    lx = left
    out.append(f'<rect x="{lx}" y="{height - 16}" width="14" height="12" fill="#5b6b82" stroke="#333" stroke-width="0.6"/>'
               f'<text x="{lx + 20}" y="{height - 6}" font-size="12" fill="#333">below threshold</text>')
    out.append(f'<rect x="{lx + 140}" y="{height - 16}" width="14" height="12" fill="url(#pat-flag)" stroke="#333" '
               f'stroke-width="0.6"/><text x="{lx + 160}" y="{height - 6}" font-size="12" fill="#333">'
               f'at or over threshold (flagged, \u2691)</text>')
    out.append("</svg>")
    return "\n".join(out)


def _x(minutes: float, left: float, plot_w: float) -> float:
    return left + max(0.0, min(minutes, 1440.0)) / 1440.0 * plot_w


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


def timeline(days: list[date], pieces: dict[date, list[tuple[datetime, float, str, str]]],
             schedule: Schedule, totals: dict[date, float]) -> str:
    """One lane per local date, 00:00-24:00: work hours and breaks as bands, social time on top.

    `pieces[d]` holds (local start, seconds, period, host) for date d.
    """
    width, left, right, top, lane_h, gap = 1000, 96, 78, 30, 22, 7
    plot_w = width - left - right
    height = top + len(days) * (lane_h + gap) + 46
    out = [f'<svg class="chart timeline" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="Timeline of social media use per day, coloured by period" '
           f'xmlns="http://www.w3.org/2000/svg" style="{FONT}">', DEFS]
    for h in range(0, 25, 2):
        x = _x(h * 60, left, plot_w)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - 40}" stroke="#e3e6ea"/>')
        out.append(f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle" font-size="11" fill="#555">{h:02d}:00</text>')
    out.append(f'<text x="{width - 4}" y="{top - 10}" text-anchor="end" font-size="11" fill="#555">social</text>')
    out.append(f'<text x="{width - 4}" y="{top + 2}" text-anchor="end" font-size="11" fill="#555">total</text>')
    for i, d in enumerate(days):
        y0 = top + 6 + i * (lane_h + gap)
        workday = d.weekday() in schedule.workdays
        out.append(f'<text x="{left - 8}" y="{y0 + lane_h / 2 + 4:.1f}" text-anchor="end" font-size="12" '
                   f'fill="{"#222" if workday else "#777"}">{d.strftime("%a %d %b")}</text>')
        out.append(f'<rect x="{left}" y="{y0}" width="{plot_w}" height="{lane_h}" fill="{"#fafbfc" if workday else "#f1f1f1"}" '
                   f'stroke="#c9ced6" stroke-width="0.6"/>')
        if workday:
            wh = schedule.work_hours
            x1, x2 = _x(wh.start, left, plot_w), _x(wh.end, left, plot_w)
            out.append(f'<rect x="{x1:.1f}" y="{y0}" width="{x2 - x1:.1f}" height="{lane_h}" fill="#e6e9ef"/>')
            for b in schedule.breaks:
                x1, x2 = _x(b.start, left, plot_w), _x(b.end, left, plot_w)
                out.append(f'<rect x="{x1:.1f}" y="{y0}" width="{x2 - x1:.1f}" height="{lane_h}" fill="url(#pat-break)" '
                           f'stroke="#7cb87f" stroke-width="0.6"/>')
        else:
            out.append(f'<text x="{left + plot_w / 2:.0f}" y="{y0 + lane_h / 2 + 4:.1f}" text-anchor="middle" '
                       f'font-size="10" fill="#999">non-workday</text>')
        raw = []
        for start, seconds, period, host in pieces.get(d, []):
            s = start.hour * 60 + start.minute + start.second / 60 + start.microsecond / 6e7
            raw.append((s, s + seconds / 60, period, host))
        for s, e, period, hosts in _merge(raw):
            colour, pat, label = PERIOD_STYLE[period]
            x1, x2 = _x(s, left, plot_w), _x(e, left, plot_w)
            w = max(x2 - x1, 1.5)
            tip = (f"{int(s) // 60:02d}:{int(s) % 60:02d}\u2013{int(e) // 60 % 24:02d}:{int(e) % 60:02d} "
                   f"{label}, {e - s:.1f} min: {', '.join(sorted(hosts))}")
            out.append(f'<rect x="{x1:.2f}" y="{y0 + 3}" width="{w:.2f}" height="{lane_h - 6}" fill="url(#{pat})" '
                       f'stroke="{colour}" stroke-width="0.5"><title>{escape(tip)}</title></rect>')
        total = totals.get(d, 0.0)
        out.append(f'<text x="{width - 4}" y="{y0 + lane_h / 2 + 4:.1f}" text-anchor="end" font-size="12" '
                   f'font-weight="{"700" if total else "400"}" fill="#222">{total:.1f} min</text>')
    ly = height - 24
    items = [("url(#pat-ob)", PERIOD_STYLE["outside_break"][2]), ("url(#pat-ib)", PERIOD_STYLE["in_break"][2]),
             ("url(#pat-oh)", PERIOD_STYLE["outside_hours"][2]), ("#e6e9ef", "Work hours"),
             ("url(#pat-break)", "Official break")]
    x = left
    for fill, label in items:
        out.append(f'<rect x="{x}" y="{ly}" width="16" height="12" fill="{fill}" stroke="#555" stroke-width="0.5"/>'
                   f'<text x="{x + 22}" y="{ly + 10}" font-size="12" fill="#333">{escape(label)}</text>')
        x += 22 + 7 * len(label) + 18
    out.append("</svg>")
    return "\n".join(out)
