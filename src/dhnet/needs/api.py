"""``/api/v1/needs``: a country's needs, their ranked and explained matches, decisions, portfolio gaps.

Reading endpoints are public: they answer with what the caller may see (public needs to anyone; a country's
administrators and registry managers see its other needs; others get 404). They honour an API token or session when
one is sent; a token that does not authenticate is a 401, not an anonymous read. Writing needs needs
``needs:need:write``, deciding on matches ``needs:match:decide`` (and, for both, administering the country).
"""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import AuthenticationError
from pydantic import Field

from dhnet.needs import matching, services
from dhnet.needs.models import MatchDecision, Need
from dhnet.platform.access import Actor, public, request_actor, requires

router = Router(tags=["needs"])


def _viewer(request: HttpRequest) -> Actor:
    """The caller of a public endpoint: the token's actor if a token is sent, else the session's (or anonymous)."""
    if request.headers.get("Authorization"):
        from dhnet.accounts.auth import TokenAuth

        if TokenAuth()(request) is None:
            raise AuthenticationError()
    return request_actor(request)


# --- schemas --------------------------------------------------------------------------------------------------------


class NeedOut(Schema):
    public_id: str
    country: str
    title: str
    description: str
    challenges: list[str] = Field(description="tags hsc:<code>")
    level: str
    orgunits: list[str] = Field(description="org unit codes of this node's hierarchy")
    places: list[str]
    languages: list[str] = Field(description="ISO 639-1")
    connectivity: str
    standards: list[str] = Field(description="tags standard:<code>, to be met")
    budget: str | None = Field(description="decimal string")
    currency: str
    source: str
    status: str
    public: bool


class NeedIn(Schema):
    country: str = Field(max_length=8, description="ISO 3166-1 alpha-2")
    title: str = Field(max_length=200)
    description: str = Field("", max_length=20_000)
    challenges: list[str] = Field(max_length=100, description="tags, e.g. hsc:2.1")
    level: str = Field("national", max_length=20)
    orgunits: list[str] = Field(default_factory=list, max_length=100)
    places: list[str] = Field(default_factory=list, max_length=100)
    languages: list[str] = Field(default_factory=list, max_length=100)
    connectivity: str = Field("mobile", max_length=20)
    standards: list[str] = Field(default_factory=list, max_length=100, description="tags, e.g. standard:hl7-fhir")
    budget: str | None = Field(None, max_length=40, description="decimal string; null: none stated")
    currency: str = Field("USD", max_length=8)
    source: str = Field("manual", max_length=20)
    status: str = Field("open", max_length=20)
    public: bool = False


class NeedPatch(Schema):
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=20_000)
    challenges: list[str] | None = Field(None, max_length=100)
    level: str | None = Field(None, max_length=20)
    orgunits: list[str] | None = Field(None, max_length=100)
    places: list[str] | None = Field(None, max_length=100)
    languages: list[str] | None = Field(None, max_length=100)
    connectivity: str | None = Field(None, max_length=20)
    standards: list[str] | None = Field(None, max_length=100)
    budget: str | None = Field(None, max_length=40)
    currency: str | None = Field(None, max_length=8)
    source: str | None = Field(None, max_length=20)
    status: str | None = Field(None, max_length=20)
    public: bool | None = None


class NeedFilter(Schema):
    country: str = Field("", max_length=8)
    status: str = Field("", max_length=20)
    challenge: str = Field("", max_length=40, description="a tag, e.g. hsc:2.1")


class PartOut(Schema):
    name: str
    label: str
    weight: float
    value: float = Field(description="0..1")
    points: float = Field(description="weight x value")
    reason: str


class DecisionOut(Schema):
    candidate: str = Field(description="product:<slug> or project:<public id>")
    decision: str
    note: str
    score: float | None
    decided_by: str
    decided_at: str


class MatchOut(Schema):
    kind: str = Field(description="product or project")
    ref: str = Field(description="product slug or project public id")
    name: str
    country: str = Field(description="the project's country; empty for a product")
    score: float = Field(description="0..100: the sum of the parts' points x 100")
    parts: list[PartOut]
    decision: DecisionOut | None = Field(description="the latest decision on this candidate")


class MatchQuery(Schema):
    limit: int = Field(20, ge=1, le=services.MAX_MATCHES)


class MatchDecisionIn(Schema):
    kind: str = Field(max_length=20, description="product or project")
    ref: str = Field(max_length=80)
    decision: str = Field(max_length=20, description="accepted, rejected or annotated")
    note: str = Field("", max_length=20_000, description="required to reject or annotate")
    score: float | None = Field(None, ge=0, le=100, description="the score shown when deciding")


class NeglectedOut(Schema):
    challenge: str
    name: str
    needs: list[str]


class DuplicationOut(Schema):
    intervention: str
    name: str
    place: str
    place_name: str
    projects: list[str]


class UnfundedOut(Schema):
    need: str
    title: str
    reason: str


class GapsOut(Schema):
    country: str
    projects: int = Field(description="published projects of the country")
    neglected: list[NeglectedOut]
    duplication: list[DuplicationOut]
    unfunded: list[UnfundedOut]


class WeightsOut(Schema):
    weights: dict[str, float]
    labels: dict[str, str]
    co_occurrence_min: int
    neutral: float


# --- serialisers ----------------------------------------------------------------------------------------------------


def need_out(need: Need) -> NeedOut:
    return NeedOut(**services.need_data(need))


def decision_out(row: MatchDecision) -> DecisionOut:
    return DecisionOut(
        candidate=services.decision_key(row),
        decision=row.decision,
        note=row.note,
        score=row.score,
        decided_by=row.decided_by_name,
        decided_at=row.decided_at.isoformat(),
    )


def match_out(m: matching.Match) -> MatchOut:
    return MatchOut(
        kind=m.kind,
        ref=m.ref,
        name=m.name,
        country=m.country,
        score=m.score,
        parts=[PartOut(**vars(p)) for p in m.parts],
        decision=decision_out(m.decision) if m.decision is not None else None,
    )


def _set(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)


# --- endpoints ------------------------------------------------------------------------------------------------------


@router.get("/needs", auth=None, response=list[NeedOut], summary="The needs the caller may see, by country")
@public
def list_needs(request: HttpRequest, filters: Query[NeedFilter]) -> list[NeedOut]:
    query = services.NeedFilter(country=filters.country, status=filters.status, challenge=filters.challenge)
    return [need_out(n) for n in services.list_needs(_viewer(request), query)]


@router.post("/needs", response={200: NeedOut, 201: NeedOut}, summary="Record a need (the same again: 200)")
@requires(services.NEED_WRITE)
def create_need(request: HttpRequest, payload: NeedIn) -> Status[NeedOut]:
    need, created = services.create_need(request_actor(request), payload.model_dump())
    return Status(201 if created else 200, need_out(need))


@router.get(
    "/needs/weights", auth=None, response=WeightsOut, summary="The weights of the parts of a match score (data)"
)
@public
def weights(request: HttpRequest) -> WeightsOut:
    config = matching.settings_data()
    return WeightsOut(
        weights=matching.weights(),
        labels=dict(matching.LABELS),
        co_occurrence_min=int(config["co_occurrence_min"]),
        neutral=float(config["neutral"]),
    )


@router.get(
    "/needs/analytics/{country}",
    auth=None,
    response=GapsOut,
    summary="A country's portfolio gaps: neglected challenges, duplication, unfunded needs",
)
@public
def analytics(request: HttpRequest, country: str) -> GapsOut:
    gaps = services.portfolio_gaps(_viewer(request), country)
    return GapsOut(
        country=gaps.country,
        projects=gaps.projects,
        neglected=[
            NeglectedOut(challenge=n.challenge.tag, name=n.challenge.name, needs=list(n.needs)) for n in gaps.neglected
        ],
        duplication=[
            DuplicationOut(
                intervention=d.intervention.tag,
                name=d.intervention.name,
                place=d.place,
                place_name=d.place_name,
                projects=[pid for pid, _ in d.projects],
            )
            for d in gaps.duplication
        ],
        unfunded=[UnfundedOut(need=u.need.public_id, title=u.need.title, reason=u.reason) for u in gaps.unfunded],
    )


@router.get("/needs/{public_id}", auth=None, response=NeedOut, summary="One need (404 unless the caller may see it)")
@public
def get_need(request: HttpRequest, public_id: str) -> NeedOut:
    return need_out(services.get_need(_viewer(request), public_id))


@router.patch("/needs/{public_id}", response=NeedOut, summary="Change a need (lists replace)")
@requires(services.NEED_WRITE)
def update_need(request: HttpRequest, public_id: str, payload: NeedPatch) -> NeedOut:
    return need_out(services.update_need(request_actor(request), public_id, _set(payload)))


@router.get(
    "/needs/{public_id}/matches",
    auth=None,
    response=list[MatchOut],
    summary="Ranked products and deployments for a need, every part of each score explained",
)
@public
def matches(request: HttpRequest, public_id: str, query: Query[MatchQuery]) -> list[MatchOut]:
    return [match_out(m) for m in services.match(_viewer(request), public_id, limit=query.limit)]


@router.get(
    "/needs/{public_id}/decisions", auth=None, response=list[DecisionOut], summary="Every decision, oldest first"
)
@public
def decisions(request: HttpRequest, public_id: str) -> list[DecisionOut]:
    need = services.get_need(_viewer(request), public_id)
    return [decision_out(d) for d in services.decisions(need)]


@router.post(
    "/needs/{public_id}/decisions",
    response={200: DecisionOut, 201: DecisionOut},
    summary="Accept, reject or annotate a match (the same as the latest again: 200, nothing stored)",
)
@requires(services.DECIDE)
def decide(request: HttpRequest, public_id: str, payload: MatchDecisionIn) -> Status[DecisionOut]:
    row, created = services.decide(
        request_actor(request),
        public_id,
        payload.kind,
        payload.ref,
        payload.decision,
        payload.note,
        score=payload.score,
    )
    return Status(201 if created else 200, decision_out(row))
