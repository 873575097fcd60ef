"""``/api/v1/maturity/countries/{country}/profile``, ``/maturity/compare`` and ``/maturity/map``: where countries
stand, from published scores only.

Public (``@public``) like the pages (:mod:`dhnet.maturity.views_profile`); the parameters are the pages' (``rubric``
``current``/``classic``, ``year``, ``phase``, ``region``, ``country``, ``sort``) and are parsed by
:mod:`dhnet.maturity.explore`: a bad one is a 400 naming it, a year without publications a 404. Scores are floats
(the exact GDHM mean), ``phase`` the GDHM phase; ``synthetic`` marks the demo's synthetic peer set.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from dhnet.knowledge.api import PUBLIC_AUTH
from dhnet.maturity import explore
from dhnet.maturity.views_profile import comparison_json
from dhnet.platform.access import public

router = Router(tags=["maturity"])


class MaturityComponentScoreOut(Schema):
    name: str
    score: float | None = Field(description="None: all its indicators are not available (left out of the mean)")
    phase: int | None


class MaturityCountryScoreOut(Schema):
    country: str
    name: str
    region: str = Field(description='WHO region code, "" for a country that is not a WHO Member State')
    year: int
    version: int
    published_at: str
    assessment: str
    score: float | None
    phase: int | None
    synthetic: bool = Field(description="part of the demo's synthetic peer set, not an assessment by the country")
    components: list[MaturityComponentScoreOut]


class MaturityRankedScoreOut(MaturityCountryScoreOut):
    rank: int = Field(description="competition rank by overall score among all countries (0: no score)")


class MaturityIndicatorOut(Schema):
    code: str
    name: str
    component: str
    sub_indicator: bool
    phase: int | None = Field(description="-1 not available, None not answered")
    definition: str = Field(description="what the published phase means")
    evidence: int
    note: str


class MaturityProfileOut(Schema):
    country: str
    name: str
    region: str
    rubric: str
    years: list[int] = Field(description="published years, oldest first")
    year: int | None
    current: MaturityCountryScoreOut | None = Field(description="None: no published assessment")
    history: list[MaturityCountryScoreOut]
    region_mean: list[float | None] = Field(description="mean component scores of the region's countries")
    region_count: int
    rank: int
    ranked_total: int
    same_phase: list[str] = Field(description="countries in the same phase (codes), best score first")
    indicators: list[MaturityIndicatorOut]


class MaturityComparisonOut(Schema):
    rubric: str
    year: int | None
    phase: int | None
    region: str | None
    sort: str
    total: int = Field(description="countries with a publication (before the phase and region filters)")
    components: list[str]
    phase_counts: dict[str, int] = Field(description="countries per phase 1..5 (all countries)")
    position: MaturityRankedScoreOut | None = Field(description="the position of ?country=")
    countries: list[MaturityRankedScoreOut]


class MaturityMapCountryOut(Schema):
    country: str
    name: str
    phase: int | None
    score: float | None
    year: int
    synthetic: bool


class MaturityMapOut(Schema):
    rubric: str
    year: int | None
    region: str | None
    countries: list[MaturityMapCountryOut]
    missing: list[str] = Field(description="the region's Member States without a publication (with ?region=)")
    svg: str = Field(description="the map as inline SVG with ?svg=true (empty when the map data is not installed)")


@router.get(
    "/maturity/countries/{country}/profile",
    auth=PUBLIC_AUTH,
    response=MaturityProfileOut,
    summary="A country's published maturity profile",
)
@public
def profile_endpoint(request: HttpRequest, country: str, rubric: str = "", year: str = "") -> dict[str, Any]:
    """The chosen (default newest) published year's scores, every published year, the region's mean component
    scores, the rank among all countries, same-phase countries and the indicator table."""
    p = explore.country_profile(country, explore.rubric_code_of(rubric), explore.year_of(year))
    return {
        "country": p.country,
        "name": p.name,
        "region": p.region,
        "rubric": p.rubric.code,
        "years": p.years,
        "year": p.year,
        "current": p.current.as_json() if p.current else None,
        "history": [h.as_json() for h in p.history],
        "region_mean": p.region_mean,
        "region_count": p.region_count,
        "rank": p.rank,
        "ranked_total": p.ranked_total,
        "same_phase": [s.country for s in p.same_phase],
        "indicators": [
            {
                "code": r.code,
                "name": r.name,
                "component": r.component,
                "sub_indicator": r.sub,
                "phase": r.phase,
                "definition": r.definition,
                "evidence": r.evidence,
                "note": r.note,
            }
            for r in p.indicators
        ],
    }


@router.get(
    "/maturity/compare",
    auth=PUBLIC_AUTH,
    response=MaturityComparisonOut,
    summary="All countries' published scores, ranked (filter by phase or WHO region)",
)
@public
def compare_endpoint(
    request: HttpRequest,
    rubric: str = "",
    year: str = "",
    phase: str = "",
    region: str = "",
    country: str = "",
    sort: str = explore.DEFAULT_SORT,
) -> dict[str, Any]:
    """Each country's newest publication (or of ``year``), ranked by overall score; ``phase`` keeps the same-phase
    countries, ``region`` a WHO region's; ``country`` adds its position; ``sort`` is one of score, name, phase,
    region, year, country (a leading ``-`` sorts descending)."""
    c = explore.comparison(
        explore.rubric_code_of(rubric),
        year=explore.year_of(year),
        phase=explore.phase_param(phase),
        region=explore.region_of(region),
        country=explore.country_of(country) if country.strip() else None,
        sort=explore.sort_of(sort),
    )
    return comparison_json(c)


@router.get(
    "/maturity/map",
    auth=PUBLIC_AUTH,
    response=MaturityMapOut,
    summary="Countries' phases for the map (a WHO region or the world)",
)
@public
def map_endpoint(
    request: HttpRequest, rubric: str = "", year: str = "", region: str = "", svg: bool = False
) -> dict[str, Any]:
    m = explore.phase_map(explore.rubric_code_of(rubric), year=explore.year_of(year), region=explore.region_of(region))
    return {
        "rubric": m.rubric.code,
        "year": m.year,
        "region": m.region,
        "countries": [
            {
                "country": s.country,
                "name": s.name,
                "phase": s.phase,
                "score": s.score,
                "year": s.year,
                "synthetic": s.synthetic,
            }
            for s in m.scores
        ],
        "missing": [code for code, _ in m.missing],
        "svg": m.markup if svg else "",
    }
