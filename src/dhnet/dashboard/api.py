"""``/api/v1/dashboard/...``: the numbers behind the dashboard's map, curve and completeness table, as JSON.

Thin handlers over :mod:`dhnet.dashboard.services`; the same permission and jurisdiction rules as the pages
(detection outputs and signal counts only with ``surveillance:signal:read``).
"""

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from dhnet.dashboard import services
from dhnet.platform.access import request_actor, requires

router = Router(tags=["dashboard"])


class MapFilter(Schema):
    disease: str = Field(..., max_length=64, description="disease code, e.g. influenza")
    week: str = Field("", max_length=16, description="ISO week, e.g. 2008-W05 (default: the latest with data)")
    area: str = Field("", max_length=64, description="org unit code (default: the top of my jurisdiction)")
    measure: str = Field("", max_length=16, description="signals, cases or incidence")


class CurveFilter(Schema):
    disease: str = Field(..., max_length=64)
    week: str = Field("", max_length=16, description="last week of the curve (default: the latest with data)")
    area: str = Field("", max_length=64)
    weeks: int = Field(services.DEFAULT_WEEKS, ge=services.MIN_WEEKS, le=services.MAX_WEEKS)


class CompletenessFilter(Schema):
    week: str = Field("", max_length=16)
    area: str = Field("", max_length=64)


class UnitValueOut(Schema):
    code: str
    name: str
    cases: int | None
    population: int | None
    incidence: float | None = Field(description="cases per 100,000 population in the week")
    signals: int | None = Field(description="open signals (null without surveillance:signal:read)")
    value: float | None
    colour: str


class LegendOut(Schema):
    label: str
    colour: str


class MapOut(Schema):
    disease: str
    week: str
    area: str
    measure: str
    legend: list[LegendOut]
    units: list[UnitValueOut]


class CurvePointOut(Schema):
    week: str
    period_start: str
    observed: float | None
    expected: float | None
    upperbound: float | None
    alarm: bool | None
    alarms_below: int | None


class CurveOut(Schema):
    disease: str
    area: str
    rule: str
    detection: bool = Field(description="whether expected, upperbound and alarms are included")
    points: list[CurvePointOut]


class DashboardCompletenessRowOut(Schema):
    code: str
    name: str
    reporting_units: int
    reported: int
    on_time: int
    completeness: float | None
    timeliness: float | None
    mean_13_weeks: float | None


class DashboardCompletenessOut(Schema):
    week: str
    rows: list[DashboardCompletenessRowOut]
    total: DashboardCompletenessRowOut | None


@router.get("/dashboard/map", response=MapOut, summary="Values per unit for the map of a disease and week")
@requires(services.AGGREGATE_READ)
def map_values(request: HttpRequest, filters: Query[MapFilter]) -> MapOut:
    query = services.Query(disease=filters.disease, week=filters.week, area=filters.area, measure=filters.measure)
    disease, week, area, view = services.map_data(request_actor(request), query)
    return MapOut(
        disease=disease.code,
        week=services.week_label(week),
        area=area.code,
        measure=view.measure,
        legend=[LegendOut(label=e.label, colour=e.colour) for e in view.legend],
        units=[
            UnitValueOut(
                code=u.code,
                name=u.name,
                cases=u.cases,
                population=u.population,
                incidence=u.incidence,
                signals=u.signals,
                value=u.value,
                colour=u.colour,
            )
            for u in view.units
        ],
    )


@router.get("/dashboard/curve", response=CurveOut, summary="Weekly epidemic curve of a disease in an area")
@requires(services.AGGREGATE_READ)
def curve(request: HttpRequest, filters: Query[CurveFilter]) -> CurveOut:
    query = services.Query(disease=filters.disease, week=filters.week, area=filters.area, weeks=filters.weeks)
    disease, _, view = services.curve_data(request_actor(request), query)
    show = view.show_detection
    return CurveOut(
        disease=disease.code,
        area=view.unit_code,
        rule=view.rule,
        detection=show,
        points=[
            CurvePointOut(
                week=services.week_label(p.period_start),
                period_start=p.period_start.isoformat(),
                observed=p.observed,
                expected=p.expected if show else None,
                upperbound=p.upperbound if show else None,
                alarm=p.alarm if show else None,
                alarms_below=p.sub_alarms if show else None,
            )
            for p in view.points
        ],
    )


def _row(r: services.CompletenessRow) -> DashboardCompletenessRowOut:
    return DashboardCompletenessRowOut(
        code=r.code,
        name=r.name,
        reporting_units=r.expected,
        reported=r.reported,
        on_time=r.on_time,
        completeness=r.completeness,
        timeliness=r.timeliness,
        mean_13_weeks=r.recent,
    )


@router.get(
    "/dashboard/completeness", response=DashboardCompletenessOut, summary="Reporting completeness and timeliness"
)
@requires(services.AGGREGATE_READ)
def completeness(request: HttpRequest, filters: Query[CompletenessFilter]) -> DashboardCompletenessOut:
    view = services.completeness_data(request_actor(request), services.Query(week=filters.week, area=filters.area))
    return DashboardCompletenessOut(
        week=services.week_label(view.week),
        rows=[_row(r) for r in view.rows],
        total=_row(view.total) if view.total else None,
    )
