"""The result page's cash-flow chart as inline SVG: per year, the discounted costs (bars below the axis), the
discounted benefits (bars above) and the cumulative discounted net (a line with a dot per year), on one scale.

Pure: a :class:`dhnet.businesscase.finance.Result` in, markup out (every text through ``esc``); the PDF draws the
same series with reportlab from :func:`series`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dhnet.businesscase.finance import Result, cents
from dhnet.dashboard.svg import esc, nice_number

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 12, 14, 44
COST_COLOUR, BENEFIT_COLOUR, NET_COLOUR = "#D55E00", "#0072B2", "#222222"  # Okabe-Ito: colour-blind-safe


@dataclass(frozen=True)
class Series:
    """The chart's values per year, as floats (display only): costs as negative amounts."""

    years: tuple[int, ...]
    costs: tuple[float, ...]
    benefits: tuple[float, ...]
    cumulative: tuple[float, ...]

    @property
    def low(self) -> float:
        return min([0.0, *self.costs, *self.cumulative])

    @property
    def high(self) -> float:
        return max([0.0, *self.benefits, *self.cumulative])


def series(result: Result) -> Series:
    return Series(
        years=tuple(y.year for y in result.years),
        costs=tuple(-float(cents(y.pv_costs)) for y in result.years),
        benefits=tuple(float(cents(y.pv_benefits)) for y in result.years),
        cumulative=tuple(float(cents(y.cumulative_pv_net)) for y in result.years),
    )


def money(value: float) -> str:
    """A short amount for axis labels: 1.2M, 350k, -40k, 0."""
    size = abs(value)
    if size >= 1_000_000:
        text = f"{value / 1_000_000:.1f}M"
    elif size >= 1_000:
        text = f"{value / 1_000:.0f}k"
    else:
        text = f"{value:.0f}"
    return text.replace(".0M", "M")


def cashflow_svg(result: Result, currency: str) -> str:
    """The cash-flow chart of ``result`` (amounts in ``currency``); a short note instead when there is no line."""
    data = series(result)
    if not any(data.costs) and not any(data.benefits):
        return '<p class="muted">No costs or benefits yet: nothing to draw.</p>'
    high = nice_number(data.high) if data.high > 0 else 0.0
    low = -nice_number(-data.low) if data.low < 0 else 0.0
    span = (high - low) or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(data.years)
    slot = inner_w / n
    bar = max(min(slot * 0.35, 28.0), 2.0)

    def y(value: float) -> float:
        return TOP + (high - value) / span * inner_h

    label = f"Discounted costs, benefits and cumulative net per year ({currency})"
    parts = [
        f'<svg class="cashflow" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="100%" style="max-width:{WIDTH}px">',
        f"<title>{esc(label)}</title>",
    ]
    for tick in sorted({low, low / 2, 0.0, high / 2, high}):
        parts.append(
            f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{WIDTH - RIGHT}" y2="{y(tick):.1f}" '
            f'stroke="{"#666" if tick == 0 else "#ddd"}"/>'
            f'<text x="{LEFT - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11">{esc(money(tick))}</text>'
        )
    zero = y(0.0)
    points = []
    for i, year in enumerate(data.years):
        cx = LEFT + slot * (i + 0.5)
        b, c = data.benefits[i], data.costs[i]
        if b:
            parts.append(
                f'<rect class="benefit" x="{cx - bar:.1f}" y="{y(b):.1f}" width="{bar:.1f}" height="{zero - y(b):.1f}" '
                f'fill="{BENEFIT_COLOUR}"><title>{year}: discounted benefits {esc(f"{b:,.2f}")} {esc(currency)}'
                "</title></rect>"
            )
        if c:
            parts.append(
                f'<rect class="cost" x="{cx:.1f}" y="{zero:.1f}" width="{bar:.1f}" height="{y(c) - zero:.1f}" '
                f'fill="{COST_COLOUR}"><title>{year}: discounted costs {esc(f"{-c:,.2f}")} {esc(currency)}'
                "</title></rect>"
            )
        if n <= 12 or i % max(1, n // 10) == 0 or i == n - 1:
            parts.append(
                f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11">{year}</text>'
            )
        points.append((cx, y(data.cumulative[i]), year, data.cumulative[i]))
    path = " ".join(f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py, _, _) in enumerate(points))
    parts.append(f'<path class="cumulative" d="{path}" fill="none" stroke="{NET_COLOUR}" stroke-width="2"/>')
    for px, py, year, value in points:
        parts.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{NET_COLOUR}"><title>{year}: cumulative discounted '
            f"net {esc(f'{value:,.2f}')} {esc(currency)}</title></circle>"
        )
    legend_y = HEIGHT - 10
    parts.append(
        f'<rect x="{LEFT}" y="{legend_y - 9}" width="10" height="10" fill="{BENEFIT_COLOUR}"/>'
        f'<text x="{LEFT + 14}" y="{legend_y}" font-size="11">discounted benefits</text>'
        f'<rect x="{LEFT + 150}" y="{legend_y - 9}" width="10" height="10" fill="{COST_COLOUR}"/>'
        f'<text x="{LEFT + 164}" y="{legend_y}" font-size="11">discounted costs</text>'
        f'<line x1="{LEFT + 290}" y1="{legend_y - 4}" x2="{LEFT + 310}" y2="{legend_y - 4}" stroke="{NET_COLOUR}" '
        f'stroke-width="2"/><text x="{LEFT + 314}" y="{legend_y}" font-size="11">cumulative discounted net</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
