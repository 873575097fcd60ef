"""A country's portfolio: what runs where, funded by whom, at what cost, and what exchanges data with what.

``country_portfolio(actor, country)`` reads the country's published projects (a country administrator or registry
manager may ask for the unpublished ones too, ``include_unpublished=True``; that read is audited).

Money
    Budget lines carry their own currency (ISO 4217) and the registry converts nothing: amounts are summed only
    within one currency, and every table and chart is drawn once per currency (a portfolio funded in USD and EUR
    shows two charts). Exchange rates change by the day and by source; a sum across currencies would be a figure
    no one could check. Totals are exact decimals.

Funders
    The funders table joins two sources: the budget lines (amounts by funder, per currency; a line without a
    funder is "funder not stated") and the projects' funders lists (how many projects each funds, with or without
    budget lines).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, Sum
from django.db.models.functions import Lower

from dhnet.atlas.maps import UnitMap, country_unit_map
from dhnet.atlas.models import BudgetLine, CostPhase, Coverage, InteropLink, Project, ProjectStatus
from dhnet.atlas.search import (
    PROJECT_APPROVE,
    STAGE_LABELS,
    STAGE_ORDER,
    Hit,
    country_names,
    project_index,
)
from dhnet.atlas.search import (
    hits as search_hits,
)
from dhnet.atlas.services import may_administer
from dhnet.audit import services as audit
from dhnet.dashboard.svg import esc, nice_number
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid

PHASES: list[tuple[str, str]] = [(str(k), str(v)) for k, v in CostPhase.choices]
PHASE_COLOURS = {
    "planning_development": "#9ecae1",
    "deployment": "#4292c6",
    "scaling": "#08519c",
    "operations": "#fd8d3c",
}
NOT_STATED = "funder not stated"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


@dataclass
class StageCount:
    stage: str
    label: str
    projects: int


@dataclass
class ProductUse:
    slug: str
    name: str
    projects: int
    stages: list[str]
    open_source: bool


@dataclass
class FunderRow:
    slug: str  # "" for lines without a funder
    name: str
    projects: int  # projects listing the funder
    totals: dict[str, Decimal]  # currency -> amount of its budget lines


@dataclass
class BudgetTable:
    """Budget of one currency: amounts by year × phase, with totals."""

    currency: str
    years: list[int]
    cells: dict[int, dict[str, Decimal]]  # year -> phase -> amount
    year_totals: dict[int, Decimal]
    phase_totals: dict[str, Decimal]
    total: Decimal
    chart: str = ""

    def rows(self) -> list[tuple[int, list[Decimal], Decimal]]:
        return [(y, [self.cells[y].get(p, Decimal(0)) for p, _ in PHASES], self.year_totals[y]) for y in self.years]

    def phase_row(self) -> list[Decimal]:
        return [self.phase_totals.get(p, Decimal(0)) for p, _ in PHASES]


@dataclass
class LinkRow:
    source: str
    source_name: str
    kind: str
    kind_label: str
    target: str  # public id of a registered project ("" for a named system)
    target_name: str
    standard: str  # tag
    standard_name: str


@dataclass
class Portfolio:
    country: str
    country_name: str
    projects: list[Hit]
    stages: list[StageCount]
    products: list[ProductUse]
    funders: list[FunderRow]
    budgets: list[BudgetTable]
    links: list[LinkRow]
    places: list[tuple[str, str, str]]  # (project public id, project name, place) of coverage without org unit
    coverage: UnitMap | None
    unpublished: bool = False
    currencies: list[str] = field(default_factory=list)

    @property
    def total_projects(self) -> int:
        return len(self.projects)


def _projects(actor: Actor, country: str, include_unpublished: bool) -> tuple[QuerySet[Project], bool]:
    if not include_unpublished:
        return Project.objects.filter(country=country, status=ProjectStatus.PUBLISHED), False
    if not may_administer(actor, country):
        raise Forbidden(f"include_unpublished: you are not a registry administrator of {country}")
    return Project.objects.filter(country=country), True


def budget_tables(lines: QuerySet[BudgetLine]) -> list[BudgetTable]:
    """Sums by currency × year × phase (the database sums; one row per combination)."""
    by_currency: dict[str, dict[int, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for currency, year, phase, amount in (
        lines.values("currency", "year", "phase")
        .annotate(amount=Sum("amount"))
        .order_by()
        .values_list("currency", "year", "phase", "amount")
    ):
        by_currency[currency][year][phase] = _cents(amount)
    tables = []
    for currency in sorted(by_currency):
        cells = by_currency[currency]
        years = sorted(cells)
        year_totals = {y: sum(cells[y].values(), ZERO) for y in years}
        phase_totals: dict[str, Decimal] = {}
        for y in years:
            for p, v in cells[y].items():
                phase_totals[p] = phase_totals.get(p, ZERO) + v
        table = BudgetTable(
            currency=currency,
            years=years,
            cells={y: dict(cells[y]) for y in years},
            year_totals=year_totals,
            phase_totals=phase_totals,
            total=sum(year_totals.values(), ZERO),
        )
        table.chart = stacked_bars_svg(table)
        tables.append(table)
    return tables


def _cents(value: object) -> Decimal:
    """An amount as an exact decimal with two places (SQLite's SUM may answer ``200000`` for ``200000.00``)."""
    return Decimal(str(value)).quantize(CENT)


def _money(value: Decimal | float) -> str:
    v = float(value)
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.1f} M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:,.0f} k"
    return f"{v:,.0f}"


def stacked_bars_svg(table: BudgetTable, *, width: int = 720, height: int = 260) -> str:
    """Budget per year as bars stacked by TCO phase (one colour per phase), with a legend and tooltips."""
    left, right, top, bottom = 64, 10, 26, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    years = table.years
    peak = float(max(table.year_totals.values(), default=Decimal(0)))
    step = nice_number(peak / 4, up=True) if peak > 0 else 1.0
    ymax = step * max(1, -(-peak // step)) if peak > 0 else 1.0
    title = f"Budget by year and phase ({table.currency})"
    out = [
        f'<svg class="bars" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{esc(title)}</title>",
        "<style>.bars text{font:12px system-ui,sans-serif;fill:#5b6670}.bars .g{stroke:#e6eaed}</style>",
    ]
    ticks = round(ymax / step)
    for i in range(ticks + 1):
        v = i * step
        y = top + plot_h - v / ymax * plot_h
        out.append(f'<line class="g" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{esc(_money(v))}</text>')
    bw = plot_w / max(len(years), 1)
    for i, year in enumerate(years):
        x = left + i * bw + bw * 0.15
        y_base: float = top + plot_h
        for phase, label in PHASES:
            amount = table.cells[year].get(phase)
            if not amount:
                continue
            h = float(amount) / ymax * plot_h
            y_base -= h
            tip = f"{year}, {label}: {amount:,.2f} {table.currency}"
            out.append(
                f'<rect x="{x:.1f}" y="{y_base:.1f}" width="{bw * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{PHASE_COLOURS[phase]}"><title>{esc(tip)}</title></rect>'
            )
        out.append(f'<text x="{x + bw * 0.35:.1f}" y="{height - bottom + 16}" text-anchor="middle">{year}</text>')
    lx = left
    for phase, label in PHASES:
        out.append(f'<rect x="{lx}" y="6" width="10" height="10" fill="{PHASE_COLOURS[phase]}"/>')
        out.append(f'<text x="{lx + 14}" y="15">{esc(label)}</text>')
        lx += 14 + 7 * len(label) + 16
    out.append("</svg>")
    return "".join(out)


def country_portfolio(actor: Actor, country: str, *, include_unpublished: bool = False) -> Portfolio:
    """What runs in ``country`` (ISO alpha-2), where, funded by whom, at what cost (see the module docstring)."""
    code = (country or "").strip().upper()
    if not _COUNTRY_RE.match(code):
        raise Invalid(f"country: {country[:10]!r} is not an ISO 3166-1 alpha-2 code (two letters, e.g. KE)")
    qs, unpublished = _projects(actor, code, include_unpublished)
    projects = list(
        qs.order_by(Lower("name"), "id").only(
            "pk", "public_id", "name", "country", "status", "stage", "national_scale", "description"
        )
    )
    index = project_index()  # relations and names, without prefetching them for hundreds of projects
    hits = search_hits(projects, index)
    stage_counts: dict[str, int] = defaultdict(int)
    for p in projects:
        stage_counts[p.stage] += 1
    stages = [StageCount(s, STAGE_LABELS[s], stage_counts[s]) for s in STAGE_ORDER if stage_counts.get(s)]
    products: dict[int, ProductUse] = {}
    for p in projects:
        for pk in index.products_of.get(p.pk, ()):
            slug, name = index.products[pk]
            use = products.setdefault(pk, ProductUse(slug, name, 0, [], pk in index.open_product_ids))
            use.projects += 1
            if p.stage not in use.stages:
                use.stages.append(p.stage)
    for use in products.values():
        use.stages.sort(key=STAGE_ORDER.index)
    funders = _funders(qs, projects, index)
    lines = BudgetLine.objects.filter(project__in=qs)
    budgets = budget_tables(lines)
    kinds = dict(InteropLink.Kind.choices)
    links = [
        LinkRow(
            source=source,
            source_name=source_name,
            kind=kind,
            kind_label=str(kinds.get(kind, kind)),
            target=target or "",
            target_name=target_name or named,
            standard=index.labels[standard][0] if standard in index.labels else "",
            standard_name=index.labels[standard][1] if standard in index.labels else "",
        )
        for source, source_name, kind, target, target_name, named, standard in InteropLink.objects.filter(
            project__in=qs
        )
        .order_by(Lower("project__name"), "id")
        .values_list(
            "project__public_id",
            "project__name",
            "kind",
            "target__public_id",
            "target__name",
            "target_name",
            "standard_id",
        )
    ]
    places = list(
        Coverage.objects.filter(project__in=qs, orgunit__isnull=True)
        .exclude(place="")
        .order_by("place", "project__name")
        .values_list("project__public_id", "project__name", "place")
    )
    portfolio = Portfolio(
        country=code,
        country_name=country_names().get(code, code),
        projects=hits,
        stages=stages,
        products=sorted(products.values(), key=lambda u: (-u.projects, u.name)),
        funders=funders,
        budgets=budgets,
        links=links,
        places=places,
        coverage=country_unit_map(qs, code),
        unpublished=unpublished,
        currencies=[b.currency for b in budgets],
    )
    if unpublished:
        with transaction.atomic():
            audit.record(
                actor,
                "atlas.portfolio.read",
                object_type="atlas.portfolio",
                object_id=code,
                detail={"projects": len(hits), "include_unpublished": True},
                permission=PROJECT_APPROVE,
            )
    return portfolio


def _funders(qs: QuerySet[Project], projects: list[Project], index: Any) -> list[FunderRow]:
    rows: dict[str, FunderRow] = {}
    for p in projects:
        for pk in index.funders_of.get(p.pk, ()):
            slug, name = index.orgs[pk]
            row = rows.setdefault(slug, FunderRow(slug, name, 0, {}))
            row.projects += 1
    for slug, name, currency, amount in (
        BudgetLine.objects.filter(project__in=qs)
        .values("funder__slug", "funder__name", "currency")
        .annotate(amount=Sum("amount"))
        .order_by()
        .values_list("funder__slug", "funder__name", "currency", "amount")
    ):
        key = slug or ""
        row = rows.setdefault(key, FunderRow(key, name or NOT_STATED, 0, {}))
        row.totals[currency] = row.totals.get(currency, ZERO) + _cents(amount)
    # ordered by projects funded, not by money: amounts in different currencies are not comparable
    return sorted(rows.values(), key=lambda r: (r.slug == "", -r.projects, r.name))
