"""Server-rendered SVG of a deployment's user ratings: one horizontal bar per dimension on the 1-5 scale.

Pure: plain values in, markup out (every text through :func:`dhnet.dashboard.svg.esc`). The page shows the same
numbers in a table next to it, for screen readers and for those who would rather read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dhnet.dashboard.svg import esc

WIDTH = 480
ROW = 30
LABEL_WIDTH = 170
BAR_WIDTH = WIDTH - LABEL_WIDTH - 50
LOW, HIGH = 1.0, 5.0
#: Colour of a bar by its mean (below 2.5, up to 3.5, above): red, amber, green (ColorBrewer RdYlGn ends).
COLOURS = ((2.5, "#d7301f"), (3.5, "#fdae61"), (HIGH + 1, "#1a9850"))


def colour(mean: float) -> str:
    for limit, value in COLOURS:
        if mean < limit:
            return value
    return COLOURS[-1][1]


def means_svg(means: Mapping[str, float], labels: Sequence[tuple[str, str]], *, title: str, svg_id: str) -> str:
    """Bars of ``means`` (code -> 1..5) in the order of ``labels`` ((code, label) pairs), with a 1-5 axis."""
    height = ROW * len(labels) + 28
    parts = [
        f'<svg id="{esc(svg_id)}" class="ratings-chart" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'style="max-width:{WIDTH}px" role="img" aria-labelledby="{esc(svg_id)}-title">',
        f'<title id="{esc(svg_id)}-title">{esc(title)}</title>',
    ]
    for tick in range(int(LOW), int(HIGH) + 1):
        x = LABEL_WIDTH + (tick - LOW) / (HIGH - LOW) * BAR_WIDTH
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 20}" stroke="#d5dbe0"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="11" text-anchor="middle">{tick}</text>')
    for i, (code, label) in enumerate(labels):
        mean = float(means.get(code, LOW))
        y = 6 + i * ROW
        width = max(2.0, (min(max(mean, LOW), HIGH) - LOW) / (HIGH - LOW) * BAR_WIDTH)
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" font-size="13" text-anchor="end">{esc(label)}</text>'
            f'<rect class="bar" data-dimension="{esc(code)}" x="{LABEL_WIDTH}" y="{y + 2}" width="{width:.1f}" '
            f'height="{ROW - 10}" fill="{colour(mean)}"><title>{esc(label)}: {mean:.2f} of 5</title></rect>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 15}" font-size="12">{mean:.1f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
