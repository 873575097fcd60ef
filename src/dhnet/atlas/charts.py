"""Pure builders of the registry pages' small charts and tables: a metric's line chart (inline SVG) and the budget
table by total-cost-of-ownership phase × year with totals. Plain values in, markup or rows out (no database)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dhnet.dashboard.svg import esc, fmt, nice_number

WIDTH, HEIGHT = 320, 120
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 10, 24


def line_chart(points: Sequence[tuple[dt.date, float]], *, title: str, unit: str = "") -> str:
    """A small line chart of one metric over time (dates on x, values on y from 0), with its title for readers
    of screen readers and one dot and tooltip per value. Empty string for no points."""
    if not points:
        return ""
    points = sorted(points)
    low, high = min(v for _, v in points), max(v for _, v in points)
    bottom = min(0.0, low)
    top = nice_number(high) if high > 0 else 1.0
    if top <= bottom:
        top = bottom + 1.0
    first, last = points[0][0].toordinal(), points[-1][0].toordinal()
    span = max(last - first, 1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: dt.date) -> float:
        return LEFT + (day.toordinal() - first) / span * inner_w if last != first else LEFT + inner_w / 2

    def y(value: float) -> float:
        return TOP + (1 - (value - bottom) / (top - bottom)) * inner_h

    coords = [(x(d), y(v)) for d, v in points]
    path = " ".join(f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py) in enumerate(coords))
    label = f"{title}{f' ({unit})' if unit else ''}"
    parts = [
        f'<svg class="metric-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="100%" style="max-width:{WIDTH * 1.5:.0f}px">',
        f"<title>{esc(label)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" y2="{TOP + inner_h}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + inner_h}" stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" font-size="10">{esc(fmt(top, 0))}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + inner_h}" text-anchor="end" font-size="10">{esc(fmt(bottom, 0))}</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="10">{esc(points[0][0].isoformat())}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end" font-size="10">'
        f"{esc(points[-1][0].isoformat())}</text>",
        f'<path d="{path}" fill="none" stroke="#1f6f8b" stroke-width="2"/>',
    ]
    for (px, py), (day, value) in zip(coords, points, strict=True):
        parts.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="#1f6f8b"><title>{esc(day.isoformat())}: '
            f"{esc(fmt(value, 2))}{esc(' ' + unit if unit else '')}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass
class MetricSeries:
    metric: str
    kind: str
    unit: str
    points: list[tuple[dt.date, float]]
    svg: str


def metric_series(metrics: Iterable[dict[str, Any]]) -> list[MetricSeries]:
    """The canonical ``metrics`` rows grouped per metric (by name), each with its chart."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in metrics:
        grouped[row["metric"]].append(row)
    series = []
    for name in sorted(grouped):
        rows = grouped[name]
        points = sorted((dt.date.fromisoformat(r["period_start"]), float(r["value"])) for r in rows)
        unit = rows[0].get("unit", "")
        series.append(
            MetricSeries(
                metric=name,
                kind=rows[0]["kind"],
                unit=unit,
                points=points,
                svg=line_chart(points, title=name.replace("_", " "), unit=unit),
            )
        )
    return series


@dataclass
class BudgetTable:
    """Amounts of one currency by phase (rows) × year (columns), with row, column and grand totals."""

    currency: str
    years: list[int]
    rows: list[tuple[str, list[Decimal | None], Decimal]]
    totals: list[Decimal]
    total: Decimal


def budget_tables(budget: Iterable[dict[str, Any]], phases: Sequence[tuple[str, str]]) -> list[BudgetTable]:
    """The canonical ``budget`` rows as one table per currency (amounts in different currencies are never added)."""
    by_currency: dict[str, dict[tuple[str, int], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in budget:
        by_currency[row["currency"]][(row["phase"], int(row["year"]))] += Decimal(str(row["amount"]))
    tables = []
    for currency in sorted(by_currency):
        cells = by_currency[currency]
        years = sorted({year for _, year in cells})
        rows = []
        for value, label in phases:
            amounts = [cells.get((value, year)) for year in years]
            if any(a is not None for a in amounts):
                rows.append((label, amounts, sum((a for a in amounts if a is not None), Decimal(0))))
        totals = [sum((cells.get((p, year), Decimal(0)) for p, _ in phases), Decimal(0)) for year in years]
        tables.append(
            BudgetTable(currency=currency, years=years, rows=rows, totals=totals, total=sum(totals, Decimal(0)))
        )
    return tables
