"""Server-drawn SVG of the planning pages: the gap chart (current vs target phase per indicator) and the roadmap's
timeline (milestones on a time axis, late ones marked, progress bars). Plain values in, markup out (no database),
so that pages work without JavaScript and tests read the numbers back from the markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from dhnet.dashboard.svg import esc
from dhnet.planning.gaps import Gap

#: Okabe-Ito colours (colour-blind-safe): the current phase, the target, late milestones, done ones.
CURRENT = "#0072B2"
TARGET = "#E69F00"
LATE = "#D55E00"
DONE = "#009E73"
OPEN = "#56B4E9"

GAP_LEFT, GAP_RIGHT, GAP_TOP, GAP_ROW, GAP_BAR = 46, 12, 28, 26, 9
GAP_WIDTH = 560


def gap_chart(gaps: Sequence[Gap], *, title: str) -> str:
    """Horizontal bars, one row per indicator in the gap list's order: the current phase (blue bar, 0..5) and the
    target (orange bar below it); the row's tooltip and text give the gap and its priority. Empty for no gaps."""
    if not gaps:
        return ""
    inner = GAP_WIDTH - GAP_LEFT - GAP_RIGHT
    height = GAP_TOP + GAP_ROW * len(gaps) + 8

    def x(phase: int) -> float:
        return GAP_LEFT + phase / 5 * inner

    parts = [
        f'<svg class="gap-chart" viewBox="0 0 {GAP_WIDTH} {height}" role="img" aria-label="{esc(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="100%" style="max-width:{GAP_WIDTH * 1.4:.0f}px">',
        f"<title>{esc(title)}</title>",
        f'<rect x="{GAP_LEFT}" y="4" width="10" height="8" fill="{CURRENT}"/>'
        f'<text x="{GAP_LEFT + 14}" y="12" font-size="10">current phase</text>',
        f'<rect x="{GAP_LEFT + 100}" y="4" width="10" height="8" fill="{TARGET}"/>'
        f'<text x="{GAP_LEFT + 114}" y="12" font-size="10">target phase</text>',
    ]
    for phase in range(6):
        px = x(phase)
        parts.append(
            f'<line x1="{px:.1f}" y1="{GAP_TOP - 6}" x2="{px:.1f}" y2="{height - 8}" stroke="#ddd"/>'
            f'<text x="{px:.1f}" y="{GAP_TOP - 8}" text-anchor="middle" font-size="9">{phase}</text>'
        )
    for i, g in enumerate(gaps):
        top = GAP_TOP + i * GAP_ROW
        tip = (
            f"indicator {g.code}: current {g.current if g.assessed else 'not available'}, target {g.target} by "
            f"{g.target_year}, gap {g.gap}, weight {g.weight}, priority {g.priority}"
        )
        parts.append(
            f'<g class="gap-row" data-code="{esc(g.code)}" data-current="{g.current}" data-target="{g.target}" '
            f'data-gap="{g.gap}"><title>{esc(tip)}</title>'
            f'<text x="{GAP_LEFT - 6}" y="{top + GAP_BAR + 3}" text-anchor="end" font-size="10">{esc(g.code)}</text>'
            f'<rect class="current" x="{GAP_LEFT}" y="{top}" width="{x(g.current) - GAP_LEFT:.1f}" '
            f'height="{GAP_BAR}" fill="{CURRENT}"/>'
            f'<rect class="target" x="{GAP_LEFT}" y="{top + GAP_BAR + 1}" width="{x(g.target) - GAP_LEFT:.1f}" '
            f'height="{GAP_BAR}" fill="{TARGET}"/>'
        )
        if g.gap:
            parts.append(f'<text x="{x(g.target) + 4:.1f}" y="{top + GAP_BAR + 6}" font-size="9">+{g.gap}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class TimelineRow:
    """One milestone on the timeline."""

    label: str
    due: dt.date
    progress: int  # 0..100
    done: bool
    late: bool


TL_LEFT, TL_RIGHT, TL_TOP, TL_ROW = 190, 16, 34, 22
TL_WIDTH = 720


def _month_ticks(first: dt.date, last: dt.date, most: int = 8) -> list[dt.date]:
    """First days of months from ``first`` (included when it is a first day) to ``last``, thinned to at most
    ``most`` ticks: none lies left of the axis."""
    months = []
    day = dt.date(first.year, first.month, 1)
    if day < first:
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    while day <= last:
        months.append(day)
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    step = max(1, -(-len(months) // most))
    return months[::step]


def timeline(rows: Sequence[TimelineRow], *, today: dt.date, title: str) -> str:
    """Milestones on a time axis (due date), today marked; each row a progress bar (share done) ending at its due
    date, late ones in red with a "late" mark, done ones in green. Empty for no milestones."""
    if not rows:
        return ""
    first = min([r.due for r in rows] + [today]) - dt.timedelta(days=15)
    last = max([r.due for r in rows] + [today]) + dt.timedelta(days=15)
    span = (last - first).days
    inner = TL_WIDTH - TL_LEFT - TL_RIGHT
    height = TL_TOP + TL_ROW * len(rows) + 10

    def x(day: dt.date) -> float:
        return TL_LEFT + (day - first).days / span * inner

    parts = [
        f'<svg class="timeline" viewBox="0 0 {TL_WIDTH} {height}" role="img" aria-label="{esc(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="100%" style="max-width:{TL_WIDTH * 1.3:.0f}px">',
        f"<title>{esc(title)}</title>",
    ]
    for tick in _month_ticks(first, last):
        px = x(tick)
        parts.append(
            f'<line x1="{px:.1f}" y1="{TL_TOP - 8}" x2="{px:.1f}" y2="{height - 6}" stroke="#eee"/>'
            f'<text x="{px:.1f}" y="{TL_TOP - 12}" text-anchor="middle" font-size="9">{tick:%Y-%m}</text>'
        )
    tx = x(today)
    parts.append(
        f'<line class="today" x1="{tx:.1f}" y1="{TL_TOP - 20}" x2="{tx:.1f}" y2="{height - 4}" stroke="#333" '
        f'stroke-dasharray="3,2"/><text x="{tx + 3:.1f}" y="{TL_TOP - 22}" font-size="9">today</text>'
    )
    for i, r in enumerate(rows):
        top = TL_TOP + i * TL_ROW
        colour = DONE if r.done else LATE if r.late else OPEN
        state = "done" if r.done else "late" if r.late else "open"
        label = r.label if len(r.label) <= 32 else r.label[:31] + "…"
        end = x(r.due)
        bar = end - TL_LEFT
        parts.append(
            f'<g class="milestone {state}" data-due="{r.due.isoformat()}" data-progress="{r.progress}">'
            f"<title>{esc(r.label)}: due {r.due.isoformat()}, {r.progress}% done{' (late)' if r.late else ''}</title>"
            f'<text x="{TL_LEFT - 6}" y="{top + 11}" text-anchor="end" font-size="10">{esc(label)}</text>'
            f'<rect x="{TL_LEFT}" y="{top + 3}" width="{bar:.1f}" height="10" fill="#f1f1f1" stroke="#ccc"/>'
            f'<rect class="progress" x="{TL_LEFT}" y="{top + 3}" width="{bar * r.progress / 100:.1f}" height="10" '
            f'fill="{colour}"/>'
            f'<circle cx="{end:.1f}" cy="{top + 8}" r="4" fill="{colour}"/>'
        )
        if r.late:
            parts.append(f'<text x="{end + 7:.1f}" y="{top + 12}" font-size="9" fill="{LATE}">late</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
