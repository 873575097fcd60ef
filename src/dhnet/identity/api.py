"""Identity API under ``/api/v1/identity``: re-identification with a stated purpose, and the review queue of
probable person matches. Thin handlers over :mod:`dhnet.identity.services`."""

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from dhnet.identity import services
from dhnet.identity.access import requires_audited
from dhnet.platform.access import request_actor, requires

router = Router(tags=["identity"])


class IdentifierOut(Schema):
    system: str
    value: str


class PersonOut(Schema):
    pseudonym: str
    family: str
    given: str
    birth_date: dt.date | None
    sex: str
    identifiers: list[IdentifierOut]
    phones: list[str]
    emails: list[str]
    address_lines: list[str]
    orgunit: str


def person_out(pseudonym: str, identity: services.PersonIdentity) -> PersonOut:
    return PersonOut(
        pseudonym=pseudonym,
        family=identity.family,
        given=identity.given,
        birth_date=identity.birth_date,
        sex=identity.sex,
        identifiers=[IdentifierOut(system=s, value=v) for s, v in identity.identifiers],
        phones=list(identity.phones),
        emails=list(identity.emails),
        address_lines=list(identity.address_lines),
        orgunit=identity.orgunit_code,
    )


class ReidentifyIn(Schema):
    pseudonym: str = Field(max_length=64, description="the person's pseudonym (64 hexadecimal characters)")
    purpose: str = Field(max_length=64, description="one of GET /identity/purposes")


class PurposeOut(Schema):
    code: str
    label: str


@router.get("/identity/purposes", response=list[PurposeOut], summary="Purposes accepted for re-identification")
@requires(services.READ)
def purposes(request: HttpRequest) -> list[PurposeOut]:
    return [PurposeOut(code=code, label=label) for code, label in services.PURPOSES.items()]


@router.post(
    "/identity/reidentify",
    response=PersonOut,
    summary="Re-identify a person (identity:person:read, a stated purpose; always audited)",
)
@requires_audited(services.READ, "identity.person.reidentify_denied")
def reidentify(request: HttpRequest, body: ReidentifyIn) -> PersonOut:
    identity = services.reidentify(request_actor(request), body.pseudonym, purpose=body.purpose)
    return person_out(body.pseudonym.strip().lower(), identity)


class ReviewOut(Schema):
    id: int
    status: str
    score: float
    parts: dict[str, float] = Field(description="the weight of each compared field")
    new: str = Field(description="pseudonym of the later registration (merged when linked)")
    existing: str = Field(description="pseudonym of the earlier person (kept when linked)")
    orgunits: list[str]
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decided_by: str
    new_identity: PersonOut | None = None
    existing_identity: PersonOut | None = None


def review_out(review: services.Review) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        status=review.status,
        score=review.score,
        parts=review.parts,
        new=review.new,
        existing=review.existing,
        orgunits=review.orgunit_codes,
        created_at=review.created_at,
        decided_at=review.decided_at,
        decided_by=review.decided_by,
        new_identity=person_out(review.new, review.new_identity) if review.new_identity else None,
        existing_identity=(person_out(review.existing, review.existing_identity) if review.existing_identity else None),
    )


class ReviewFilter(Schema):
    status: str = Field("open", description="open, linked, kept_apart or superseded")
    limit: int = Field(50, ge=1, le=services.MAX_PAGE)
    offset: int = Field(0, ge=0, le=services.MAX_OFFSET)


class ReviewPage(Schema):
    total: int
    items: list[ReviewOut]


@router.get("/identity/reviews", response=ReviewPage, summary="The review queue of probable person matches")
@requires(services.MATCH)
def reviews(request: HttpRequest, filters: Query[ReviewFilter]) -> ReviewPage:
    total, items = services.list_reviews(
        request_actor(request), status=filters.status, limit=filters.limit, offset=filters.offset
    )
    return ReviewPage(total=total, items=[review_out(r) for r in items])


@router.get("/identity/reviews/{review_id}", response=ReviewOut, summary="One probable match, both identities")
@requires(services.MATCH)
def review(request: HttpRequest, review_id: int) -> ReviewOut:
    return review_out(services.get_review(request_actor(request), review_id))


class DecisionIn(Schema):
    decision: str = Field(description="link (the later person is merged into the earlier) or keep_apart")


@router.post("/identity/reviews/{review_id}", response=ReviewOut, summary="Decide a probable match (audited)")
@requires(services.MATCH)
def decide(request: HttpRequest, review_id: int, body: DecisionIn) -> ReviewOut:
    return review_out(services.decide_review(request_actor(request), review_id, body.decision))
