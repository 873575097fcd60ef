"""``/api/v1/strategy``: the strategy's framework, its monitoring indicators, values, progress and report.

Reading is public (the framework, indicators, targets, every recorded or derived country value, aggregates and
progress). Defining indicators and targets needs ``strategy:indicator:manage``; recording values needs
``strategy:value:write`` and administering each country concerned. Uploads are all or nothing (a bad row is a 400
naming the row and field); the same values again are reported as unchanged, never stored twice.
"""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dhnet.network import timezones
from dhnet.platform.access import public, request_actor, requires
from dhnet.strategy import services
from dhnet.strategy.models import Indicator, ProposedAction, Target

router = Router(tags=["strategy"])


# --- schemas --------------------------------------------------------------------------------------------------------


class StrategyOutputOut(Schema):
    code: str
    text: str


class StrategyObjectiveOut(Schema):
    number: int
    title: str
    summary: str
    outputs: list[StrategyOutputOut]


class StrategyActionOut(Schema):
    key: str
    objective: int
    actor: str = Field(description="member_states, secretariat or partners")
    term: str = Field(description="short (1-2 years), medium (2-4), long (4-6) or all (spans the three)")
    text: str


class StrategyActionFilter(Schema):
    objective: int | None = Field(None, ge=1, le=4)
    actor: str | None = Field(None, max_length=20, description="member_states (default), secretariat, partners, all")
    term: str | None = Field(None, max_length=10)


class StrategyIndicatorActionsFilter(Schema):
    rubric: str = Field("gdhm-current", max_length=20, description="gdhm-classic or gdhm-current")
    code: str = Field(max_length=10, description="GDHM indicator code, e.g. 5 or 21a")


class StrategyTargetOut(Schema):
    country: str = Field(description="empty: the global target (on the aggregate)")
    baseline_value: str
    baseline_year: int
    target_value: str
    target_year: int


class StrategyIndicatorOut(Schema):
    code: str
    name: str
    definition: str
    objective: int
    output: str | None
    unit: str
    direction: str
    aggregation: str
    source: str = Field(description="manual (recorded values) or maturity (derived)")
    maturity_rule: dict[str, Any] | None
    source_text: str
    targets: list[StrategyTargetOut]


class StrategyIndicatorIn(Schema):
    code: str = Field(max_length=24)
    name: str = Field(max_length=200)
    definition: str = Field(max_length=5000)
    objective: int
    output: str | None = Field(None, max_length=8)
    unit: str = Field("", max_length=40)
    direction: str = Field("up", max_length=8)
    aggregation: str = Field(max_length=20)
    source: str = Field("manual", max_length=10)
    maturity_rule: dict[str, Any] | None = None
    source_text: str = Field("", max_length=5000)
    position: int = Field(0, ge=0, le=10_000)


class StrategyTargetIn(Schema):
    country: str = Field("", max_length=4, description="ISO 3166-1 alpha-2; empty: global")
    baseline_value: str = Field(max_length=30, description="decimal")
    baseline_year: int
    target_value: str = Field(max_length=30, description="decimal")
    target_year: int


class StrategyValueOut(Schema):
    country: str
    period: int
    value: str
    source: str
    note: str


class StrategyValueIn(Schema):
    indicator: str = Field(max_length=24)
    country: str = Field(max_length=4)
    period: int
    value: str = Field(max_length=30, description="decimal; 1/0 for yes/no indicators")
    source: str = Field("", max_length=200)
    note: str = Field("", max_length=2000)


class StrategyValuesIn(Schema):
    values: list[StrategyValueIn] = Field(max_length=services.MAX_ROWS)


class StrategyUploadIn(Schema):
    format: str = Field("csv", max_length=8, description="csv or json")
    content: str = Field(max_length=services.MAX_UPLOAD_BYTES)


class StrategyUploadOut(Schema):
    created: int
    updated: int
    unchanged: int
    countries: list[str]


class StrategyAggregateOut(Schema):
    period: int
    value: str | None
    reporting_countries: int = Field(description="the denominator: countries with a value in the period")
    meeting: int | None = Field(description="countries whose value is >= 1 (count and share indicators)")


class StrategyAggregateFilter(Schema):
    region: str | None = Field(None, max_length=40, description="WHO region (AFR, AMR, SEAR, EUR, EMR, WPR)")
    country: str | None = Field(None, max_length=4)


class StrategyValuesFilter(Schema):
    country: str | None = Field(None, max_length=4)
    period: int | None = Field(None, ge=services.MIN_YEAR, le=services.MAX_YEAR)


class StrategyProgressRowOut(Schema):
    code: str
    name: str
    baseline: StrategyTargetOut | None
    latest: StrategyAggregateOut | None
    percent_of_way: str | None
    expected: str | None
    status: str


class StrategyProgressOut(Schema):
    objective: int
    title: str
    counts: dict[str, int]
    indicators: list[StrategyProgressRowOut]


class StrategyYearFilter(Schema):
    year: int | None = Field(None, ge=services.MIN_YEAR, le=services.MAX_YEAR)


# --- converters -----------------------------------------------------------------------------------------------------


def action_out(a: ProposedAction) -> StrategyActionOut:
    return StrategyActionOut(key=a.key, objective=a.objective.number, actor=a.actor, term=a.term, text=a.text)


def _dec(value: Any) -> str | None:
    return services.plain_number(value)


def target_out(t: Target) -> StrategyTargetOut:
    return StrategyTargetOut(
        country=t.country,
        baseline_value=_dec(t.baseline_value) or "0",
        baseline_year=t.baseline_year,
        target_value=_dec(t.target_value) or "0",
        target_year=t.target_year,
    )


def indicator_out(i: Indicator) -> StrategyIndicatorOut:
    return StrategyIndicatorOut(
        code=i.code,
        name=i.name,
        definition=i.definition,
        objective=i.objective.number,
        output=i.output.code if i.output else None,
        unit=i.unit,
        direction=i.direction,
        aggregation=i.aggregation,
        source=i.source,
        maturity_rule=i.maturity_rule,
        source_text=i.source_text,
        targets=[target_out(t) for t in i.targets.all()],
    )


def aggregate_out(a: services.Aggregate) -> StrategyAggregateOut:
    return StrategyAggregateOut(
        period=a.period, value=_dec(a.value), reporting_countries=a.reporting, meeting=a.meeting
    )


# --- endpoints ------------------------------------------------------------------------------------------------------


@router.get("/strategy/objectives", auth=None, response=list[StrategyObjectiveOut], summary="The four objectives")
@public
def objectives(request: HttpRequest) -> list[StrategyObjectiveOut]:
    return [
        StrategyObjectiveOut(
            number=o.number,
            title=o.title,
            summary=o.summary,
            outputs=[StrategyOutputOut(code=x.code, text=x.text) for x in o.outputs.all()],
        )
        for o in services.objectives()
    ]


@router.get("/strategy/actions", auth=None, response=list[StrategyActionOut], summary="The annex's proposed actions")
@public
def actions(request: HttpRequest, filters: Query[StrategyActionFilter]) -> list[StrategyActionOut]:
    actor = None if filters.actor == "all" else (filters.actor or "member_states")
    return [action_out(a) for a in services.actions(objective=filters.objective, actor=actor, term=filters.term)]


@router.get(
    "/strategy/actions/for-indicator",
    auth=None,
    response=list[StrategyActionOut],
    summary="Member States' actions that would move a GDHM indicator",
)
@public
def actions_for_indicator(
    request: HttpRequest, filters: Query[StrategyIndicatorActionsFilter]
) -> list[StrategyActionOut]:
    return [action_out(a) for a in services.actions_for_indicator(filters.rubric, filters.code)]


@router.get("/strategy/indicators", auth=None, response=list[StrategyIndicatorOut], summary="Monitoring indicators")
@public
def list_indicators(request: HttpRequest) -> list[StrategyIndicatorOut]:
    return [indicator_out(i) for i in services.indicators()]


@router.post(
    "/strategy/indicators",
    response={200: StrategyIndicatorOut, 201: StrategyIndicatorOut},
    summary="Define or redefine an indicator (the same again: 200)",
)
@requires(services.INDICATOR_MANAGE)
def define_indicator(request: HttpRequest, payload: StrategyIndicatorIn) -> Status[StrategyIndicatorOut]:
    ind, created = services.define_indicator(request_actor(request), payload.model_dump())
    return Status(201 if created else 200, indicator_out(services.indicator(ind.code)))


@router.get("/strategy/indicators/{code}", auth=None, response=StrategyIndicatorOut, summary="One indicator")
@public
def get_indicator(request: HttpRequest, code: str) -> StrategyIndicatorOut:
    return indicator_out(services.indicator(code))


@router.put(
    "/strategy/indicators/{code}/target",
    response={200: StrategyTargetOut, 201: StrategyTargetOut},
    summary="Set a baseline and target (global or a country's)",
)
@requires(services.INDICATOR_MANAGE)
def set_target(request: HttpRequest, code: str, payload: StrategyTargetIn) -> Status[StrategyTargetOut]:
    target, created = services.set_target(request_actor(request), code, payload.model_dump())
    return Status(201 if created else 200, target_out(target))


def _country(raw: str | None) -> str | None:
    return timezones.country_code(raw) if raw else None


@router.get(
    "/strategy/indicators/{code}/values",
    auth=None,
    response=list[StrategyValueOut],
    summary="Per-country values (recorded or derived)",
)
@public
def values(request: HttpRequest, code: str, filters: Query[StrategyValuesFilter]) -> list[StrategyValueOut]:
    ind = services.indicator(code)
    return [
        StrategyValueOut(country=v.country, period=v.period, value=_dec(v.value) or "0", source=v.source, note=v.note)
        for v in services.values_of(ind, country=_country(filters.country), period=filters.period)
    ]


@router.get(
    "/strategy/indicators/{code}/series",
    auth=None,
    response=list[StrategyAggregateOut],
    summary="The aggregate per year (all countries, a WHO region) or one country's values",
)
@public
def series(request: HttpRequest, code: str, filters: Query[StrategyAggregateFilter]) -> list[StrategyAggregateOut]:
    ind = services.indicator(code)
    return [aggregate_out(a) for a in services.series(ind, region=filters.region, country=_country(filters.country))]


@router.post("/strategy/values", response=StrategyUploadOut, summary="Record values (all or nothing)")
@requires(services.VALUE_WRITE)
def record_values(request: HttpRequest, payload: StrategyValuesIn) -> StrategyUploadOut:
    result = services.record_values(request_actor(request), [v.model_dump() for v in payload.values])
    return StrategyUploadOut(**result.as_dict())


@router.post("/strategy/values/upload", response=StrategyUploadOut, summary="Upload values as CSV or JSON text")
@requires(services.VALUE_WRITE)
def upload(request: HttpRequest, payload: StrategyUploadIn) -> StrategyUploadOut:
    result = services.upload_values(request_actor(request), payload.content, payload.format)
    return StrategyUploadOut(**result.as_dict())


def _progress_out(op: services.ObjectiveProgress) -> StrategyProgressOut:
    rows = []
    for p in op.rows:
        rows.append(
            StrategyProgressRowOut(
                code=p.indicator.code,
                name=p.indicator.name,
                baseline=target_out(p.target) if p.target else None,
                latest=aggregate_out(p.latest) if p.latest else None,
                percent_of_way=_dec(p.percent),
                expected=_dec(p.expected),
                status=p.status,
            )
        )
    return StrategyProgressOut(
        objective=op.objective.number, title=op.objective.title, counts=op.counts, indicators=rows
    )


@router.get("/strategy/progress", auth=None, response=list[StrategyProgressOut], summary="Progress per objective")
@public
def progress(request: HttpRequest, filters: Query[StrategyYearFilter]) -> list[StrategyProgressOut]:
    return [_progress_out(op) for op in services.progress_all(year=filters.year)]


@router.get("/strategy/report/{year}", auth=None, response=dict[str, Any], summary="The report of a year (JSON)")
@public
def report(request: HttpRequest, year: int) -> dict[str, Any]:
    return services.export_report(services.export_year(year))
