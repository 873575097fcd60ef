"""Server-rendered SVG of the monitoring pages: an indicator's values over the years against its baseline and
target, and the progress bar of one indicator. Plain values in, markup out (no database); every chart carries a
title and its values as text (tooltips), so it reads without colour and without JavaScript."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from dhnet.dashboard.svg import esc, fmt, nice_number

WIDTH, HEIGHT = 480, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 70, 14, 28
LINE = "#0b5e7a"
BASE = "#5b6670"
TARGET = "#2e7d32"
STATUS_COLOURS = {"achieved": "#2e7d32", "on_track": "#2e7d32", "off_track": "#a4262c"}


def _plain(value: Decimal) -> str:
    """A value as written, without trailing zeros (``4.50`` -> ``4.5``, ``70.0000`` -> ``70``)."""
    return format(Decimal(value).normalize(), "f")


def indicator_chart(
    points: Sequence[tuple[int, Decimal]],
    *,
    title: str,
    unit: str = "",
    baseline: tuple[int, Decimal] | None = None,
    target: tuple[int, Decimal] | None = None,
) -> str:
    """Values per year (a line with dots), the baseline (grey square) and the target (green diamond) joined by a
    dashed line — the path the indicator should take. Empty string when there is nothing to draw."""
    marks = list(points) + ([baseline] if baseline else []) + ([target] if target else [])
    if not marks:
        return ""
    years = [y for y, _ in marks]
    first, last = min(years), max(years)
    values = [float(v) for _, v in marks]
    bottom = min(0.0, min(values))
    top = nice_number(max(values)) if max(values) > 0 else 1.0
    if top <= bottom:
        top = bottom + 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(year: int) -> float:
        return LEFT + (year - first) / (last - first) * inner_w if last != first else LEFT + inner_w / 2

    def y(value: Decimal | float) -> float:
        return TOP + (1 - (float(value) - bottom) / (top - bottom)) * inner_h

    label = f"{title}{f' ({unit})' if unit else ''}"
    suffix = f" {unit}" if unit else ""
    parts = [
        f'<svg class="strategy-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="100%" style="max-width:{WIDTH * 1.4:.0f}px">',
        f"<title>{esc(label)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" y2="{TOP + inner_h}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + inner_h}" stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" font-size="10">{esc(fmt(top, 0))}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + inner_h}" text-anchor="end" font-size="10">{esc(fmt(bottom, 0))}</text>',
    ]
    for year in sorted(set(years)):
        parts.append(f'<text x="{x(year):.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="10">{year}</text>')
    if baseline and target:
        parts.append(
            f'<line x1="{x(baseline[0]):.1f}" y1="{y(baseline[1]):.1f}" x2="{x(target[0]):.1f}" '
            f'y2="{y(target[1]):.1f}" stroke="{TARGET}" stroke-dasharray="4 3"/>'
        )
    if baseline:
        bx, by = x(baseline[0]), y(baseline[1])
        parts.append(
            f'<rect x="{bx - 4:.1f}" y="{by - 4:.1f}" width="8" height="8" fill="{BASE}"><title>baseline '
            f"{baseline[0]}: {esc(_plain(baseline[1]))}{esc(suffix)}</title></rect>"
        )
    if target:
        tx, ty = x(target[0]), y(target[1])
        parts.append(
            f'<path d="M{tx:.1f},{ty - 6:.1f} L{tx + 6:.1f},{ty:.1f} L{tx:.1f},{ty + 6:.1f} L{tx - 6:.1f},{ty:.1f} Z" '
            f'fill="{TARGET}"><title>target {target[0]}: {esc(_plain(target[1]))}{esc(suffix)}</title></path>'
            f'<text x="{tx + 9:.1f}" y="{ty + 4:.1f}" font-size="10" fill="{TARGET}">target</text>'
        )
    pts = sorted(points)
    if pts:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(yr):.1f},{y(v):.1f}" for i, (yr, v) in enumerate(pts))
        parts.append(f'<path d="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>')
        for yr, v in pts:
            parts.append(
                f'<circle cx="{x(yr):.1f}" cy="{y(v):.1f}" r="3.5" fill="{LINE}"><title>{yr}: '
                f"{esc(_plain(v))}{esc(suffix)}</title></circle>"
            )
        last_year, last_value = pts[-1]
        parts.append(
            f'<text x="{x(last_year) + 6:.1f}" y="{y(last_value) - 6:.1f}" font-size="10" fill="{LINE}">'
            f"{esc(fmt(float(last_value), 1))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def progress_bar(percent: Decimal | None, status: str, *, label: str) -> str:
    """A bar of the way from baseline (0 %) to target (100 %), coloured by status, with the number as text."""
    width, height = 160, 14
    share = 0.0 if percent is None else max(0.0, min(100.0, float(percent)))
    colour = STATUS_COLOURS.get(status, BASE)
    text = "no data" if percent is None else f"{_plain(percent)} %"
    return (
        f'<svg class="progress-bar" viewBox="0 0 {width + 60} {height}" width="{width + 60}" height="{height}" '
        f'role="img" aria-label="{esc(label)}: {esc(text)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{esc(label)}: {esc(text)}</title>"
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eef1f3" stroke="#d5dbe0"/>'
        f'<rect x="0" y="0" width="{width * share / 100:.1f}" height="{height}" fill="{colour}"/>'
        f'<text x="{width + 4}" y="{height - 3}" font-size="11">{esc(text)}</text></svg>'
    )
