"""Exports of a business case: CSV tables (the cost and benefit lines in the upload format, so that an export can
be edited and uploaded again; the year-by-year figures; the sensitivity table) and the PDF document (title,
investment, assumptions, cost and benefit tables, results, sensitivity table and the cash-flow chart).

The PDF is drawn with reportlab's platypus (tables, paragraphs) and its graphics (the chart); money is shown in
cents rounded half-even, as on the pages (:func:`dhnet.businesscase.finance.cents`).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dhnet.atlas.models import CostPhase
from dhnet.businesscase import charts, finance
from dhnet.businesscase.models import BenefitKind, BusinessCase, CostCategory
from dhnet.businesscase.services import BENEFIT_COLUMNS, COST_COLUMNS, Figures, snapshot

PHASE_LABELS = dict(CostPhase.choices)
CATEGORY_LABELS = dict(CostCategory.choices)
KIND_LABELS = dict(BenefitKind.choices)
TABLES = ("costs", "benefits", "years", "sensitivity")


def money(value: Decimal) -> str:
    """Cents, half-even, with thousands separators: 1,234,567.89."""
    return f"{finance.cents(value):,.2f}"


def percent(value: Decimal | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{(value * 100).quantize(Decimal(1).scaleb(-digits)):f} %"


def ratio(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value.quantize(Decimal('0.01')):f}"


def _csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows)
    return out.getvalue()


def csv_table(case: BusinessCase, figures: Figures, table: str) -> str:
    """One table as CSV: ``costs`` / ``benefits`` (the upload format), ``years`` (the figures per year and the
    totals) or ``sensitivity`` (one row per rate x benefit factor, one column per cost factor)."""
    if table == "costs":
        data = snapshot(case)
        return _csv([list(COST_COLUMNS)] + [[row[c] for c in COST_COLUMNS] for row in data["costs"]])
    if table == "benefits":
        data = snapshot(case)
        return _csv([list(BENEFIT_COLUMNS)] + [[row[c] for c in BENEFIT_COLUMNS] for row in data["benefits"]])
    result = figures.result
    if table == "years":
        rows: list[list[Any]] = [
            [
                "year",
                "t",
                "costs",
                "benefits",
                "discount_factor",
                "pv_costs",
                "pv_benefits",
                "net",
                "cumulative_net",
                "cumulative_pv_net",
            ]
        ]
        for y in result.years:
            rows.append(
                [
                    y.year,
                    y.t,
                    finance.cents(y.costs),
                    finance.cents(y.benefits),
                    y.factor.quantize(Decimal("0.000001")),
                    finance.cents(y.pv_costs),
                    finance.cents(y.pv_benefits),
                    finance.cents(y.net),
                    finance.cents(y.cumulative_net),
                    finance.cents(y.cumulative_pv_net),
                ]
            )
        rows.append(["total", "", finance.cents(result.total_costs), finance.cents(result.total_benefits), ""])
        rows[-1] += [finance.cents(result.pv_costs), finance.cents(result.pv_benefits), "", "", ""]
        rows.append(["npv", finance.cents(result.npv)])
        rows.append(["roi", "" if result.roi is None else result.roi.quantize(Decimal("0.0001"))])
        rows.append(["benefit_cost_ratio", "" if result.bcr is None else result.bcr.quantize(Decimal("0.0001"))])
        rows.append(["payback_year", result.payback_year or ""])
        rows.append(["discounted_payback_year", result.discounted_payback_year or ""])
        return _csv(rows)
    if table == "sensitivity":
        s = figures.sensitivity
        rows = [["discount_rate", "benefits_factor"] + [f"npv_costs_x{f}" for f in s.cost_factors]]
        for i, rate in enumerate(s.rates):
            for j, fb in enumerate(s.benefit_factors):
                rows.append([rate, fb] + [finance.cents(v) for v in s.npv[i][j]])
        return _csv(rows)
    raise ValueError(f"table: {table!r} is not one of {', '.join(TABLES)}")


# --- PDF ------------------------------------------------------------------------------------------------------------

GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _p(text: str, style: Any) -> Paragraph:
    return Paragraph(escape(text), style)


def chart_drawing(result: finance.Result, width: float = 170 * mm, height: float = 60 * mm) -> Drawing:
    """The cash-flow chart for the PDF: the same series as the page's SVG (:func:`charts.series`)."""
    data = charts.series(result)
    drawing = Drawing(width, height)
    left, bottom, right, top = 40.0, 22.0, 8.0, 8.0
    inner_w, inner_h = width - left - right, height - bottom - top
    high = max(data.high, 1.0)
    low = min(data.low, 0.0)
    span = high - low

    def y(value: float) -> float:
        return bottom + (value - low) / span * inner_h

    n = max(len(data.years), 1)
    slot = inner_w / n
    bar = max(min(slot * 0.35, 20.0), 1.0)
    drawing.add(Line(left, y(0), width - right, y(0), strokeColor=colors.grey, strokeWidth=0.5))
    for value in (low, high):
        drawing.add(String(left - 3, y(value) - 3, charts.money(value), fontSize=7, textAnchor="end"))
    points: list[float] = []
    for i, year in enumerate(data.years):
        cx = left + slot * (i + 0.5)
        b, c = data.benefits[i], data.costs[i]
        if b:
            drawing.add(Rect(cx - bar, y(0), bar, y(b) - y(0), fillColor=colors.HexColor(charts.BENEFIT_COLOUR)))
        if c:
            drawing.add(Rect(cx, y(c), bar, y(0) - y(c), fillColor=colors.HexColor(charts.COST_COLOUR)))
        drawing.add(String(cx, 10, str(year), fontSize=7, textAnchor="middle"))
        points += [cx, y(data.cumulative[i])]
    if len(points) >= 4:
        drawing.add(PolyLine(points, strokeColor=colors.HexColor(charts.NET_COLOUR), strokeWidth=1.5))
    drawing.add(
        String(
            left, 0, "blue: discounted benefits  orange: discounted costs  line: cumulative discounted net", fontSize=7
        )
    )
    return drawing


def pdf(case: BusinessCase, figures: Figures) -> bytes:
    """The business case as a PDF document (A4 landscape, so that a 10-year grid fits)."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=f"Business case: {case.title}",
        author=case.created_by.username if case.created_by else "dhnet",
        subject=case.public_id,
    )
    styles = getSampleStyleSheet()
    h1, h2, body = styles["Title"], styles["Heading2"], styles["BodyText"]
    result, cur = figures.result, case.currency
    years = [case.base_year + t for t in range(case.horizon_years)]
    story: list[Any] = [
        _p(f"Business case: {case.title}", h1),
        _p(
            f"{case.public_id}, version {case.version}"
            f"{', country ' + case.country if case.country else ''}; amounts in {cur}",
            body,
        ),
        _p("Investment", h2),
        _p(case.investment or "(not described)", body),
        _p("Assumptions", h2),
        _p(
            f"Base year {case.base_year} (not discounted); horizon {case.horizon_years} years "
            f"({years[0]}-{years[-1]}); discount rate {percent(Decimal(case.discount_rate), 2)}; a year t after the "
            "base year is discounted by 1/(1+rate)^t. Money rounded to cents for display only.",
            body,
        ),
    ]
    benefits = list(case.benefits.order_by("position", "id"))
    grouped: dict[tuple[str, str], list[int]] = {}
    for b in benefits:  # the same assumption over several years: one paragraph naming the years
        grouped.setdefault((b.kind, b.assumption), []).append(b.year)
    for (kind, assumption), in_years in grouped.items():
        story.append(_p(f"{KIND_LABELS.get(kind, kind)} {', '.join(map(str, in_years))}: {assumption}", body))

    story.append(_p("Costs by TCO phase and category", h2))
    rows: list[list[Any]] = [["Phase", "Category", *[str(y) for y in years], "Total"]]
    for (phase, category), amounts in sorted(figures.grid.items()):
        rows.append(
            [
                PHASE_LABELS.get(phase, phase),
                CATEGORY_LABELS.get(category, category),
                *[money(a) for a in amounts],
                money(sum(amounts, Decimal(0))),
            ]
        )
    rows.append(["Total", "", *[money(y.costs) for y in result.years], money(result.total_costs)])
    story.append(Table(rows, style=GRID, repeatRows=1))
    totals = [["TCO phase", "Total"]] + [[PHASE_LABELS.get(k, k), money(v)] for k, v in figures.by_phase.items()]
    cats = [["Category", "Total"]] + [[CATEGORY_LABELS.get(k, k), money(v)] for k, v in figures.by_category.items()]
    story += [Spacer(1, 4 * mm), Table([[Table(totals, style=GRID), Table(cats, style=GRID)]])]

    story.append(_p("Benefits", h2))
    rows = [["Kind", "Year", "Quantity", "Unit", "Value per unit", "Amount", "Assumption"]]
    for b in benefits:
        rows.append(
            [
                KIND_LABELS.get(b.kind, b.kind),
                str(b.year),
                f"{Decimal(b.quantity).normalize():f}",
                b.unit,
                f"{Decimal(b.unit_value).normalize():f}",
                money(Decimal(b.quantity) * Decimal(b.unit_value)),
                _p(b.assumption, body),
            ]
        )
    story.append(Table(rows, style=GRID, repeatRows=1, colWidths=[None] * 6 + [90 * mm]))

    story.append(_p("Results", h2))
    rows = [["Year", "Costs", "Benefits", "Discount factor", "PV costs", "PV benefits", "Cumulative PV net"]]
    for y in result.years:
        rows.append(
            [
                str(y.year),
                money(y.costs),
                money(y.benefits),
                f"{y.factor.quantize(Decimal('0.000001')):f}",
                money(y.pv_costs),
                money(y.pv_benefits),
                money(y.cumulative_pv_net),
            ]
        )
    rows.append(
        [
            "Total",
            money(result.total_costs),
            money(result.total_benefits),
            "",
            money(result.pv_costs),
            money(result.pv_benefits),
            "",
        ]
    )
    story.append(Table(rows, style=GRID, repeatRows=1))
    summary = [
        ["Net present value (NPV)", f"{money(result.npv)} {cur}"],
        ["Return on investment (NPV / PV costs)", percent(result.roi)],
        ["Benefit-cost ratio (PV benefits / PV costs)", ratio(result.bcr)],
        ["Payback year", str(result.payback_year or "not within the horizon")],
        ["Discounted payback year", str(result.discounted_payback_year or "not within the horizon")],
    ]
    story += [Spacer(1, 4 * mm), Table(summary, style=GRID)]
    story.append(KeepTogether([_p("Cash flow", h2), chart_drawing(result)]))

    s = figures.sensitivity
    story.append(_p(f"Sensitivity: NPV ({cur}) by discount rate, benefits and costs", h2))
    rows = [["Rate", "Benefits", *[f"costs x {percent(f, 0)}" for f in s.cost_factors]]]
    style = TableStyle(GRID.getCommands())
    for i, rate in enumerate(s.rates):
        for j, fb in enumerate(s.benefit_factors):
            row = [percent(rate, 2), f"x {percent(fb, 0)}"]
            for k, value in enumerate(s.npv[i][j]):
                row.append(money(value))
                if value < 0:
                    style.add("TEXTCOLOR", (2 + k, len(rows)), (2 + k, len(rows)), colors.HexColor("#b00020"))
            rows.append(row)
    story.append(Table(rows, style=style, repeatRows=1))
    story.append(_p("Negative NPVs in red: at those values the investment costs more than it returns.", body))
    doc.build(story)
    return out.getvalue()
