"""``/api/v1/atlas/search``, ``/atlas/map`` and ``/atlas/countries/{country}/portfolio``: the registry explored.

Public (``@public``) like the registry itself: anonymous callers see published projects; a signed-in country
administrator may add ``status=`` (search, map) or ``include_unpublished=true`` (portfolio) for their countries.
The query parameters are the search page's (repeat a parameter, or separate values by commas).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from dhnet.atlas import maps, portfolio, search
from dhnet.atlas.views_explore import filters_of
from dhnet.knowledge.api import PUBLIC_AUTH
from dhnet.platform.access import public, request_actor
from dhnet.platform.errors import Invalid

router = Router(tags=["atlas"])

FILTER_HELP = (
    "Filters (query string, repeatable or comma-separated): q, country (ISO alpha-2), intervention (cdhi-v1:… or "
    "cdhi-2023:…, crosswalk equivalents included), challenge (hsc:…), stage, funder (organisation slug), product "
    "(slug), standard (standard:…), licence, open_source (true/false), status (country administrators)."
)


class NamedOut(Schema):
    slug: str
    name: str


class ProjectHitOut(Schema):
    public_id: str
    name: str
    country: str
    country_name: str
    status: str
    stage: str
    stage_label: str
    products: list[NamedOut]
    implementers: list[NamedOut]
    funders: list[NamedOut]
    interventions: list[str]
    challenges: list[str]
    national_scale: bool
    description: str = Field(description="the first 300 characters")


class FacetValueOut(Schema):
    value: str
    label: str
    count: int
    selected: bool


class FacetOut(Schema):
    name: str
    label: str
    values: list[FacetValueOut]
    more: int = Field(description="values left out of the list (fewer projects)")


class ProjectSearchOut(Schema):
    total: int
    page: int
    per_page: int
    pages: int
    sort: str
    unpublished: bool
    projects: list[ProjectHitOut]
    facets: list[FacetOut]


def _int(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 6:
        raise Invalid(f"{name}: {raw[:10]!r} is not a whole number")
    return int(raw)


@router.get("/atlas/search", auth=PUBLIC_AUTH, response=ProjectSearchOut, summary="Search projects, with facets")
@public
def search_endpoint(request: HttpRequest) -> dict[str, Any]:
    """Projects matching the filters, a page of them, and per filter the number of projects of each value."""
    result = search.search_projects(
        request_actor(request),
        filters_of(request.GET),
        page=_int(request, "page", 1),
        per_page=_int(request, "per_page", search.DEFAULT_PER_PAGE),
        sort=request.GET.get("sort", "name"),
    )
    return {
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "pages": result.pages,
        "sort": result.sort,
        "unpublished": result.unpublished,
        "projects": [h.as_json() for h in result.hits],
        "facets": [
            {"name": f.name, "label": f.label, "more": f.more, "values": [v.__dict__ for v in f.values]}
            for f in result.facets
        ],
    }


search_endpoint.__doc__ = (search_endpoint.__doc__ or "") + " " + FILTER_HELP


class CountryCountOut(Schema):
    code: str
    name: str
    projects: int
    portfolio: str = Field(description="URL of the country's portfolio page")
    on_map: bool = Field(description="whether the 1:110m world map draws the country")


class UnitCountOut(Schema):
    code: str
    name: str
    projects: int


class UnitMapOut(Schema):
    country: str
    area: str
    area_name: str
    national: int = Field(description="projects at national scale (counted in every unit)")
    units: list[UnitCountOut]


class DeploymentMapOut(Schema):
    total: int
    countries: list[CountryCountOut]
    units: UnitMapOut | None
    svg: str = Field(description="the world map as inline SVG (empty when the map data is not installed)")


@router.get("/atlas/map", auth=PUBLIC_AUTH, response=DeploymentMapOut, summary="Projects by country (and by org unit)")
@public
def map_endpoint(request: HttpRequest, area: str = "", svg: bool = False) -> dict[str, Any]:
    """Counts of matching projects per country; with one ``country`` (or an ``area`` org unit code) whose coverage
    names org units, also per org unit. ``svg=true`` adds the drawn world map."""
    data = maps.deployment_map(request_actor(request), filters_of(request.GET), area=area[:64])
    units = None
    if data.units is not None:
        u = data.units
        units = {
            "country": u.country,
            "area": u.area_code,
            "area_name": u.area_name,
            "national": u.national,
            "units": [{"code": c.code, "name": c.name, "projects": c.projects} for c in u.units],
        }
    return {
        "total": data.total,
        "countries": [
            {"code": c.code, "name": c.name, "projects": c.projects, "portfolio": c.href, "on_map": c.on_map}
            for c in data.countries
        ],
        "units": units,
        "svg": data.markup if svg else "",
    }


map_endpoint.__doc__ = (map_endpoint.__doc__ or "") + " " + FILTER_HELP


class StageOut(Schema):
    stage: str
    label: str
    projects: int


class ProductUseOut(Schema):
    slug: str
    name: str
    projects: int
    stages: list[str]
    open_source: bool


class FunderOut(Schema):
    slug: str = Field(description='"" for budget lines without a funder')
    name: str
    projects: int
    totals: dict[str, Decimal] = Field(description="currency -> amount of the funder's budget lines")


class BudgetCellOut(Schema):
    year: int
    phase: str
    amount: Decimal


class PortfolioBudgetOut(Schema):
    currency: str
    total: Decimal
    year_totals: dict[int, Decimal]
    phase_totals: dict[str, Decimal]
    cells: list[BudgetCellOut]


class LinkOut(Schema):
    source: str
    source_name: str
    kind: str
    target: str
    target_name: str
    standard: str


class PortfolioOut(Schema):
    country: str
    country_name: str
    unpublished: bool
    projects: list[ProjectHitOut]
    stages: list[StageOut]
    products: list[ProductUseOut]
    funders: list[FunderOut]
    budgets: list[PortfolioBudgetOut] = Field(
        description="one per currency: amounts are never converted or summed across"
    )
    links: list[LinkOut]
    coverage: UnitMapOut | None


@router.get(
    "/atlas/countries/{country}/portfolio",
    auth=PUBLIC_AUTH,
    response=PortfolioOut,
    summary="A country's portfolio: what runs where, funded by whom, at what cost",
)
@public
def portfolio_endpoint(request: HttpRequest, country: str, include_unpublished: bool = False) -> dict[str, Any]:
    p = portfolio.country_portfolio(request_actor(request), country, include_unpublished=include_unpublished)
    cov = p.coverage
    return {
        "country": p.country,
        "country_name": p.country_name,
        "unpublished": p.unpublished,
        "projects": [h.as_json() for h in p.projects],
        "stages": [s.__dict__ for s in p.stages],
        "products": [u.__dict__ for u in p.products],
        "funders": [f.__dict__ for f in p.funders],
        "budgets": [
            {
                "currency": b.currency,
                "total": b.total,
                "year_totals": b.year_totals,
                "phase_totals": b.phase_totals,
                "cells": [
                    {"year": y, "phase": ph, "amount": amount} for y in b.years for ph, amount in b.cells[y].items()
                ],
            }
            for b in p.budgets
        ],
        "links": [
            {k: getattr(link, k) for k in ("source", "source_name", "kind", "target", "target_name", "standard")}
            for link in p.links
        ],
        "coverage": None
        if cov is None
        else {
            "country": cov.country,
            "area": cov.area_code,
            "area_name": cov.area_name,
            "national": cov.national,
            "units": [{"code": c.code, "name": c.name, "projects": c.projects} for c in cov.units],
        },
    }
