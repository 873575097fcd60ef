"""``/api/v1/feedback``: user ratings of deployments, rater invitations, flags and moderation, and expert reviews.

User ratings (``/feedback/projects/{public_id}/summary``, ``.../ratings``) and expert reviews (``/feedback/reviews``)
are separate endpoints with separate shapes: an expert's rubric score never enters a user-rating aggregate. Reading
published feedback is public and never names the rater; writing needs a signed-in, verified user (see the services).
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dhnet.feedback import services
from dhnet.feedback.models import DIMENSIONS, ExpertReview, RaterInvitation, Rating
from dhnet.platform.access import public, request_actor, requires

router = Router(tags=["feedback"])


# --- schemas --------------------------------------------------------------------------------------------------------


class DimensionOut(Schema):
    code: str
    label: str
    question: str


class SummaryOut(Schema):
    project: str = Field(description="the deployment's public id (a product's slug for a product's summary)")
    count: int = Field(description="visible user ratings")
    min_required: int = Field(description="visible ratings needed before means are shown")
    means: dict[str, float] | None = Field(description="per dimension (1-5); null below min_required")
    overall: float | None
    message: str
    dimensions: list[DimensionOut]


class RatingOut(Schema):
    id: int
    audience: str
    usability: int
    reliability: int
    fit: int
    support: int
    data_value: int
    text: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    edits: int


class RatingIn(Schema):
    usability: int = Field(description="1-5")
    reliability: int = Field(description="1-5")
    fit: int = Field(description="fit to the function claimed, 1-5")
    support: int = Field(description="training and support, 1-5")
    data_value: int = Field(description="value of its data, 1-5")
    audience: str = Field("", max_length=16, description="health_worker|manager|patient|other; default: as verified")
    text: str = Field("", max_length=4000)


class RaterStatusOut(Schema):
    verified: bool
    via: str = Field(description="team | invitation | empty")
    audiences: list[str]
    reason: str
    rating: RatingOut | None


class RedeemIn(Schema):
    code: str = Field(max_length=64)


class VerificationOut(Schema):
    project: str
    audience: str


class InvitationIn(Schema):
    label: str = Field(max_length=200, description="who is invited, e.g. 'nurses of district 11'")
    audience: str = Field(max_length=16)
    max_uses: int = Field(1, description="1-10000")
    expires_in_days: int = Field(30, description="1-366")


class InvitationOut(Schema):
    id: int
    label: str
    audience: str
    max_uses: int
    uses: int
    expires_at: dt.datetime
    revoked: bool
    created_at: dt.datetime
    code: str | None = Field(None, description="shown once, when issued")


class SettingsIn(Schema):
    allow_patients: bool


class FeedbackSettingsOut(Schema):
    project: str
    allow_patients: bool


class FlagIn(Schema):
    reason: str = Field(max_length=500)


class FlagOut(Schema):
    id: int
    rating: int
    reason: str
    at: dt.datetime
    resolved: bool


class QueueFlagOut(Schema):
    by: str
    reason: str
    at: dt.datetime


class QueueItemOut(Schema):
    rating: RatingOut
    project: str
    rater: str
    hidden_reason: str
    flags: list[QueueFlagOut]


class ModerationIn(Schema):
    action: str = Field(max_length=10, description="hide | restore | dismiss")
    reason: str = Field("", max_length=500, description="required to hide")


class CriterionOut(Schema):
    code: str
    name: str
    weight: int
    question: str
    anchors: list[str] = Field(description="what a score of 0, 1, 2, 3, 4 means")


class RubricOut(Schema):
    code: str
    name: str
    note: str
    criteria: list[CriterionOut]


class ExpertReviewIn(Schema):
    project: str = Field("", max_length=16, description="a published deployment's public id, or")
    product: str = Field("", max_length=80, description="a product's slug")
    scores: dict[str, Any] = Field(description="criterion code -> 0..4, every criterion of the rubric")
    comment: str = Field("", max_length=4000)


class ExpertReviewOut(Schema):
    id: int
    project: str | None
    product: str | None
    reviewer: str
    rubric: str
    scores: dict[str, int]
    total: float = Field(description="weighted, 0-100")
    comment: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ExpertReviewFilter(Schema):
    project: str = Field("", max_length=16)
    product: str = Field("", max_length=80)


# --- serialisers ----------------------------------------------------------------------------------------------------


def rating_out(r: Rating) -> RatingOut:
    return RatingOut(
        id=r.pk,
        audience=r.audience,
        **r.scores(),
        text=r.text,
        status=r.status,
        created_at=r.created_at,
        updated_at=r.updated_at,
        edits=r.edits,
    )


def invitation_out(i: RaterInvitation, code: str | None = None) -> InvitationOut:
    return InvitationOut(
        id=i.pk,
        label=i.label,
        audience=i.audience,
        max_uses=i.max_uses,
        uses=i.uses,
        expires_at=i.expires_at,
        revoked=i.revoked_at is not None,
        created_at=i.created_at,
        code=code,
    )


def review_out(r: ExpertReview) -> ExpertReviewOut:
    return ExpertReviewOut(
        id=r.pk,
        project=r.project.public_id if r.project else None,
        product=r.product.slug if r.product else None,
        reviewer=r.reviewer_name,
        rubric=r.rubric,
        scores=r.scores,
        total=r.total,
        comment=r.comment,
        version=r.version,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


# --- user ratings ---------------------------------------------------------------------------------------------------


@router.get(
    "/feedback/projects/{public_id}/summary",
    auth=None,
    response=SummaryOut,
    summary="User ratings of a deployment: count, and means per dimension from the minimum count on",
)
@public
def get_summary(request: HttpRequest, public_id: str) -> SummaryOut:
    project = services.published_project(public_id)
    s = services.summary(project)
    return SummaryOut(
        project=project.public_id,
        count=s.count,
        min_required=s.min_required,
        means=s.means,
        overall=s.overall,
        message=s.message,
        dimensions=[DimensionOut(code=c, label=label, question=q) for c, label, q in DIMENSIONS],
    )


@router.get(
    "/feedback/products/{ref}/summary",
    auth=None,
    response=SummaryOut,
    summary="User ratings of a product's published deployments, pooled (means from the minimum count on)",
)
@public
def get_product_summary(request: HttpRequest, ref: str) -> SummaryOut:
    product = services.get_product(ref)
    s = services.product_summary(product)
    return SummaryOut(
        project=product.slug,
        count=s.count,
        min_required=s.min_required,
        means=s.means,
        overall=s.overall,
        message=s.message,
        dimensions=[DimensionOut(code=c, label=label, question=q) for c, label, q in DIMENSIONS],
    )


@router.get(
    "/feedback/projects/{public_id}/ratings",
    auth=None,
    response=list[RatingOut],
    summary="The visible user ratings of a deployment (newest first; raters are not named)",
)
@public
def list_ratings(request: HttpRequest, public_id: str) -> list[RatingOut]:
    project = services.published_project(public_id)
    return [rating_out(r) for r in services.visible_ratings(project)[:500]]


@router.get(
    "/feedback/projects/{public_id}/me",
    response=RaterStatusOut,
    summary="Whether I may rate this deployment (and as whom), and my rating",
)
@requires(services.WRITE)
def get_me(request: HttpRequest, public_id: str) -> RaterStatusOut:
    actor = request_actor(request)
    project = services.published_project(public_id)
    status = services.rater_status(actor, project)
    mine = services.my_rating(actor, public_id)
    return RaterStatusOut(
        verified=status.verified,
        via=status.via,
        audiences=list(status.audiences),
        reason=status.reason,
        rating=rating_out(mine) if mine else None,
    )


@router.put(
    "/feedback/projects/{public_id}/rating",
    response={200: RatingOut, 201: RatingOut},
    summary="Rate a deployment (verified users; one rating per person: sending it again edits it)",
)
@requires(services.WRITE)
def put_rating(request: HttpRequest, public_id: str, payload: RatingIn) -> Status[RatingOut]:
    data = payload.model_dump()
    if not data["audience"]:
        data.pop("audience")
    result = services.rate(request_actor(request), public_id, data)
    return Status(201 if result.created else 200, rating_out(result.rating))


@router.post(
    "/feedback/redeem",
    response={200: VerificationOut, 201: VerificationOut},
    summary="Redeem an invitation code: become a verified rater of its deployment",
)
@requires(services.WRITE)
def redeem(request: HttpRequest, payload: RedeemIn) -> Status[VerificationOut]:
    v, created = services.redeem(request_actor(request), payload.code)
    return Status(201 if created else 200, VerificationOut(project=v.project.public_id, audience=v.audience))


# --- invitations and settings ---------------------------------------------------------------------------------------


@router.get(
    "/feedback/projects/{public_id}/invitations",
    response=list[InvitationOut],
    summary="The deployment's rater invitations (its team and the country's registry administrators)",
)
@requires(services.WRITE)
def list_invitations(request: HttpRequest, public_id: str) -> list[InvitationOut]:
    return [invitation_out(i) for i in services.invitations(request_actor(request), public_id)]


@router.post(
    "/feedback/projects/{public_id}/invitations",
    response={201: InvitationOut},
    summary="Issue an invitation code (shown once); a live label already used is a 409",
)
@requires(services.WRITE)
def create_invitation(request: HttpRequest, public_id: str, payload: InvitationIn) -> Status[InvitationOut]:
    issued = services.issue_invitation(request_actor(request), public_id, payload.model_dump())
    return Status(201, invitation_out(issued.invitation, issued.code))


@router.delete("/feedback/invitations/{invitation_id}", response={204: None}, summary="Revoke an invitation code")
@requires(services.WRITE)
def revoke_invitation(request: HttpRequest, invitation_id: int) -> Status[None]:
    services.revoke_invitation(request_actor(request), invitation_id)
    return Status(204, None)


@router.put(
    "/feedback/projects/{public_id}/settings",
    response=FeedbackSettingsOut,
    summary="Whether patients may be invited to rate the deployment (its team and administrators)",
)
@requires(services.WRITE)
def put_settings(request: HttpRequest, public_id: str, payload: SettingsIn) -> FeedbackSettingsOut:
    current = services.set_allow_patients(request_actor(request), public_id, payload.allow_patients)
    return FeedbackSettingsOut(project=public_id, allow_patients=current.allow_patients)


# --- flags and moderation -------------------------------------------------------------------------------------------


@router.post(
    "/feedback/ratings/{rating_id}/flags",
    response={200: FlagOut, 201: FlagOut},
    summary="Flag a rating to the moderators (a reason is required)",
)
@requires(services.WRITE)
def create_flag(request: HttpRequest, rating_id: int, payload: FlagIn) -> Status[FlagOut]:
    f, created = services.flag(request_actor(request), rating_id, payload.reason)
    out = FlagOut(id=f.pk, rating=f.rating_id, reason=f.reason, at=f.at, resolved=f.resolved)
    return Status(201 if created else 200, out)


@router.get(
    "/feedback/moderation",
    response=list[QueueItemOut],
    summary="The moderation queue: flagged ratings, then hidden ones (audited)",
)
@requires(services.MODERATE)
def get_queue(request: HttpRequest) -> list[QueueItemOut]:
    return [
        QueueItemOut(
            rating=rating_out(item.rating),
            project=item.rating.project.public_id,
            rater=item.rating.user.username,
            hidden_reason=item.rating.hidden_reason,
            flags=[QueueFlagOut(by=f.by.username, reason=f.reason, at=f.at) for f in item.flags],
        )
        for item in services.moderation_queue(request_actor(request))
    ]


@router.post(
    "/feedback/ratings/{rating_id}/moderation",
    response=RatingOut,
    summary="Hide (reason required), restore, or dismiss the flags of a rating",
)
@requires(services.MODERATE)
def post_moderation(request: HttpRequest, rating_id: int, payload: ModerationIn) -> RatingOut:
    rating = services.moderate(request_actor(request), rating_id, payload.action, payload.reason)
    return rating_out(Rating.objects.get(pk=rating.pk))


# --- expert reviews -------------------------------------------------------------------------------------------------


@router.get("/feedback/rubric", auth=None, response=RubricOut, summary="The expert-review rubric (criteria, anchors)")
@public
def get_rubric(request: HttpRequest) -> RubricOut:
    book = services.rubric()
    return RubricOut(
        code=book.code,
        name=book.name,
        note=book.note,
        criteria=[
            CriterionOut(code=c.code, name=c.name, weight=c.weight, question=c.question, anchors=list(c.anchors))
            for c in book.criteria
        ],
    )


@router.get(
    "/feedback/reviews",
    auth=None,
    response=list[ExpertReviewOut],
    summary="Expert reviews (kept apart from user ratings), optionally of one deployment or product",
)
@public
def list_reviews(request: HttpRequest, filters: Query[ExpertReviewFilter]) -> list[ExpertReviewOut]:
    return [review_out(r) for r in services.reviews(project=filters.project, product=filters.product)]


@router.post(
    "/feedback/reviews",
    response={200: ExpertReviewOut, 201: ExpertReviewOut},
    summary="Write or update my expert review of a deployment or a product",
)
@requires(services.REVIEW)
def post_review(request: HttpRequest, payload: ExpertReviewIn) -> Status[ExpertReviewOut]:
    result = services.write_review(request_actor(request), payload.model_dump())
    return Status(201 if result.created else 200, review_out(result.review))


@router.get("/feedback/reviews/{review_id}", auth=None, response=ExpertReviewOut, summary="One expert review")
@public
def get_review(request: HttpRequest, review_id: int) -> ExpertReviewOut:
    return review_out(services.get_review(review_id))
