"""``/api/v1/planning``: a country's targets, gap list, roadmap (items, links, milestones) and its export.

Reading endpoints are declared public and answer what the caller may see: the country's administrators, and signed-in
users once the roadmap is shared; anyone else gets 404. They honour an API token or a session; a token that does not
authenticate is a 401, not an anonymous read. Writing needs ``planning:roadmap:write`` and administering the country.
Every endpoint takes ``?rubric=gdhm-current`` (default) or ``gdhm-classic``.
"""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import AuthenticationError
from pydantic import Field

from dhnet.planning import services
from dhnet.planning.gaps import Gap
from dhnet.planning.models import Milestone, RoadmapItem, Target
from dhnet.platform.access import Actor, public, request_actor, requires

router = Router(tags=["planning"])


def _viewer(request: HttpRequest) -> Actor:
    """The caller of a public endpoint: the token's actor if a token is sent, else the session's (or anonymous)."""
    if request.headers.get("Authorization"):
        from dhnet.accounts.auth import TokenAuth

        if TokenAuth()(request) is None:
            raise AuthenticationError()
    return request_actor(request)


# --- schemas --------------------------------------------------------------------------------------------------------


class RubricQuery(Schema):
    rubric: str = Field(services.DEFAULT_RUBRIC, max_length=40, description="gdhm-current or gdhm-classic")


class PlanningTargetOut(Schema):
    indicator: str
    name: str
    target_phase: int = Field(description="1..5")
    target_year: int
    weight: str = Field(description="decimal string, >= 0")


class PlanningTargetsIn(Schema):
    rows: list[dict[str, Any]] = Field(
        max_length=services.MAX_ROWS,
        description="{indicator, target_phase (1..5; null removes the target), target_year, weight (default 1)}",
    )


class PlanningTargetsResult(Schema):
    changed: list[str] = Field(description="indicator codes whose target changed (empty: nothing written)")
    targets: list[PlanningTargetOut]


class PlanningGapOut(Schema):
    indicator: str
    name: str
    current: int = Field(description="0..5; 0: not available, unanswered or not assessed")
    assessed: bool
    target: int
    target_year: int
    weight: str
    gap: int
    priority: str = Field(description="gap x weight, decimal string")


class PlanningMilestoneOut(Schema):
    id: int
    item: int
    title: str
    owner: str
    owner_name: str
    owner_user: str | None
    owner_organisation: str | None
    due_date: str
    progress: int
    done: bool
    done_at: str | None
    late: bool
    note: str


class PlanningItemOut(Schema):
    id: int
    indicator: str
    indicator_name: str
    title: str
    description: str
    status: str
    position: int
    actions: list[str] = Field(description="keys of the strategy's proposed actions")
    projects: list[str] = Field(description="public ids of published atlas projects")
    products: list[str] = Field(description="atlas product slugs")
    need: str | None = Field(description="public id of the need opened for this gap")
    milestones: list[PlanningMilestoneOut]


class PlanningSummaryOut(Schema):
    items: int
    by_status: dict[str, int]
    milestones: int
    done: int
    late: int
    share_done: float
    mean_progress: float


class PlanningRoadmapOut(Schema):
    country: str
    rubric: str
    title: str | None = Field(description="null: no roadmap yet")
    shared: bool
    as_of: str
    assessment: dict[str, Any] | None = Field(description="the publication the current phases come from")
    gaps: list[PlanningGapOut]
    items: list[PlanningItemOut]
    summary: PlanningSummaryOut


class PlanningRoadmapPatch(Schema):
    title: str | None = Field(None, max_length=200)
    shared: bool | None = None


class PlanningItemIn(Schema):
    indicator: str = Field(max_length=16)
    title: str = Field("", max_length=200, description="default: the indicator's name")
    description: str = Field("", max_length=20_000)
    status: str = Field("planned", max_length=20)
    position: int | None = Field(None, ge=0, le=999_999)
    actions: list[str] = Field(default_factory=list, max_length=services.MAX_LINKS)
    projects: list[str] = Field(default_factory=list, max_length=services.MAX_LINKS)
    products: list[str] = Field(default_factory=list, max_length=services.MAX_LINKS)


class PlanningItemPatch(Schema):
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=20_000)
    status: str | None = Field(None, max_length=20)
    position: int | None = Field(None, ge=0, le=999_999)
    actions: list[str] | None = Field(None, max_length=services.MAX_LINKS)
    projects: list[str] | None = Field(None, max_length=services.MAX_LINKS)
    products: list[str] | None = Field(None, max_length=services.MAX_LINKS)


class PlanningMilestoneIn(Schema):
    title: str = Field(max_length=200)
    owner_name: str = Field("", max_length=200)
    owner_user: str = Field("", max_length=150, description="user name")
    owner_organisation: str = Field("", max_length=80, description="organisation slug")
    due_date: str = Field(max_length=10, description="YYYY-MM-DD")
    progress: int = Field(0, ge=0, le=100)
    done: bool = False
    note: str = Field("", max_length=20_000)


class PlanningMilestonePatch(Schema):
    title: str | None = Field(None, max_length=200)
    owner_name: str | None = Field(None, max_length=200)
    owner_user: str | None = Field(None, max_length=150)
    owner_organisation: str | None = Field(None, max_length=80)
    due_date: str | None = Field(None, max_length=10)
    progress: int | None = Field(None, ge=0, le=100)
    done: bool | None = None
    note: str | None = Field(None, max_length=20_000)


class PlanningNeedOut(Schema):
    need: str = Field(description="public id of the need")
    item: int


class PlanningActionOut(Schema):
    key: str
    objective: int
    term: str
    text: str


class PlanningProjectSuggestion(Schema):
    public_id: str
    name: str
    country: str
    reach: str = Field(description="country, region (same WHO region) or other")
    matched: int = Field(description="how many of the indicator's concepts it is tagged with")


class PlanningProductSuggestion(Schema):
    slug: str
    name: str
    matched: int


class PlanningSuggestionsOut(Schema):
    indicator: str
    concepts: list[str] = Field(description="the indicator's taxonomy tags")
    actions: list[PlanningActionOut]
    projects: list[PlanningProjectSuggestion]
    products: list[PlanningProductSuggestion]


# --- serialisers ----------------------------------------------------------------------------------------------------


def target_out(t: Target) -> PlanningTargetOut:
    return PlanningTargetOut(
        indicator=t.indicator.code,
        name=t.indicator.name,
        target_phase=t.target_phase,
        target_year=t.target_year,
        weight=str(t.weight),
    )


def gap_out(g: Gap) -> PlanningGapOut:
    return PlanningGapOut(
        indicator=g.code,
        name=g.name,
        current=g.current,
        assessed=g.assessed,
        target=g.target,
        target_year=g.target_year,
        weight=str(g.weight),
        gap=g.gap,
        priority=str(g.priority),
    )


def item_out(item: RoadmapItem) -> PlanningItemOut:
    milestones = [services.milestone_data(m) for m in item.milestones.order_by("due_date", "id")]
    return PlanningItemOut(**services.item_data(item), milestones=[PlanningMilestoneOut(**m) for m in milestones])


def milestone_out(m: Milestone) -> PlanningMilestoneOut:
    return PlanningMilestoneOut(**services.milestone_data(m))


def _set(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)


# --- endpoints ------------------------------------------------------------------------------------------------------


@router.get(
    "/planning/{country}/targets",
    auth=None,
    response=list[PlanningTargetOut],
    summary="A country's target phases (404 unless the caller may see its planning)",
)
@public
def get_targets(request: HttpRequest, country: str, query: Query[RubricQuery]) -> list[PlanningTargetOut]:
    return [target_out(t) for t in services.targets(_viewer(request), country, query.rubric)]


@router.put(
    "/planning/{country}/targets",
    response=PlanningTargetsResult,
    summary="Set target phases in bulk (rows named on error, nothing stored; the same again writes nothing)",
)
@requires(services.WRITE)
def put_targets(
    request: HttpRequest, country: str, payload: PlanningTargetsIn, query: Query[RubricQuery]
) -> PlanningTargetsResult:
    actor = request_actor(request)
    changed = services.set_targets(actor, country, query.rubric, payload.rows)
    return PlanningTargetsResult(
        changed=changed, targets=[target_out(t) for t in services.targets(actor, country, query.rubric)]
    )


@router.get(
    "/planning/{country}/gaps",
    auth=None,
    response=list[PlanningGapOut],
    summary="The gap list: current vs target phase per indicator, by priority (gap x weight)",
)
@public
def get_gaps(request: HttpRequest, country: str, query: Query[RubricQuery]) -> list[PlanningGapOut]:
    return [gap_out(g) for g in services.gap_list(_viewer(request), country, query.rubric)]


@router.get(
    "/planning/{country}/roadmap",
    auth=None,
    response=PlanningRoadmapOut,
    summary="The roadmap with gaps, items, links, milestones and progress (the JSON export)",
)
@public
def get_roadmap(request: HttpRequest, country: str, query: Query[RubricQuery]) -> dict[str, Any]:
    return services.export_data(services.roadmap_view(_viewer(request), country, query.rubric))


@router.patch("/planning/{country}/roadmap", response=PlanningRoadmapOut, summary="Change the title or sharing")
@requires(services.WRITE)
def patch_roadmap(
    request: HttpRequest, country: str, payload: PlanningRoadmapPatch, query: Query[RubricQuery]
) -> dict[str, Any]:
    actor = request_actor(request)
    services.update_roadmap(actor, country, query.rubric, _set(payload))
    return services.export_data(services.roadmap_view(actor, country, query.rubric))


@router.post(
    "/planning/{country}/roadmap/items",
    response={200: PlanningItemOut, 201: PlanningItemOut},
    summary="Add an item for an indicator's gap (the same again: 200, nothing stored)",
)
@requires(services.WRITE)
def post_item(
    request: HttpRequest, country: str, payload: PlanningItemIn, query: Query[RubricQuery]
) -> Status[PlanningItemOut]:
    data = {k: v for k, v in payload.model_dump().items() if v not in ("", None)}
    item, created = services.add_item(request_actor(request), country, query.rubric, data)
    return Status(201 if created else 200, item_out(item))


@router.patch(
    "/planning/{country}/roadmap/items/{item_id}", response=PlanningItemOut, summary="Change an item (lists replace)"
)
@requires(services.WRITE)
def patch_item(request: HttpRequest, country: str, item_id: str, payload: PlanningItemPatch) -> PlanningItemOut:
    return item_out(services.update_item(request_actor(request), country, item_id, _set(payload)))


@router.get(
    "/planning/{country}/roadmap/items/{item_id}/suggestions",
    auth=None,
    response=PlanningSuggestionsOut,
    summary="Proposed actions, atlas projects (country, region, others) and products for an item's indicator",
)
@public
def get_suggestions(request: HttpRequest, country: str, item_id: str) -> PlanningSuggestionsOut:
    item = services.get_item(_viewer(request), country, item_id)
    s = services.suggest(item.roadmap.country, item.roadmap.rubric.code, item.indicator.code)
    return PlanningSuggestionsOut(
        indicator=item.indicator.code,
        concepts=[c.tag for c in s.concepts],
        actions=[
            PlanningActionOut(key=a.key, objective=a.objective.number, term=a.term, text=a.text) for a in s.actions
        ],
        projects=[
            PlanningProjectSuggestion(
                public_id=p.project.public_id,
                name=p.project.name,
                country=p.project.country,
                reach=p.reach,
                matched=p.matched,
            )
            for p in s.projects
        ],
        products=[
            PlanningProductSuggestion(slug=p.product.slug, name=p.product.name, matched=p.matched) for p in s.products
        ],
    )


@router.post(
    "/planning/{country}/roadmap/items/{item_id}/need",
    response={200: PlanningNeedOut, 201: PlanningNeedOut},
    summary="Open a need (source maturity_gap) for the item's gap and link it (one per item: 200 after the first)",
)
@requires(services.WRITE)
def post_need(request: HttpRequest, country: str, item_id: str) -> Status[PlanningNeedOut]:
    need, created = services.open_need(request_actor(request), country, item_id)
    return Status(201 if created else 200, PlanningNeedOut(need=need.public_id, item=int(item_id)))


@router.post(
    "/planning/{country}/roadmap/items/{item_id}/milestones",
    response={200: PlanningMilestoneOut, 201: PlanningMilestoneOut},
    summary="Add a milestone with an owner and due date (the same again: 200, nothing stored)",
)
@requires(services.WRITE)
def post_milestone(
    request: HttpRequest, country: str, item_id: str, payload: PlanningMilestoneIn
) -> Status[PlanningMilestoneOut]:
    m, created = services.add_milestone(request_actor(request), country, item_id, payload.model_dump())
    return Status(201 if created else 200, milestone_out(m))


@router.patch(
    "/planning/{country}/milestones/{milestone_id}",
    response=PlanningMilestoneOut,
    summary="Change a milestone: progress, done, due date, owner",
)
@requires(services.WRITE)
def patch_milestone(
    request: HttpRequest, country: str, milestone_id: str, payload: PlanningMilestonePatch
) -> PlanningMilestoneOut:
    return milestone_out(services.update_milestone(request_actor(request), country, milestone_id, _set(payload)))
