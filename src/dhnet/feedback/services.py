"""Feedback on deployments: the domain logic of the feedback context (see docs/atlas-design.md).

Who may do what:

- Anyone may read a published deployment's visible ratings (texts, audience, date — never the rater's name) and,
  once at least ``settings.FEEDBACK_MIN_RATINGS`` visible ratings exist, their per-dimension means; below that only
  the count is shown ("not enough ratings yet (n of 5)"), so that one or two people are neither exposed nor able to
  swing a public score.
- A signed-in user rates a deployment only when verified for it: a member of its team (or its creator), or someone
  who redeemed one of its :class:`~dhnet.feedback.models.RaterInvitation` codes. One rating per person and
  deployment; sending it again edits it (the previous values are kept in ``RatingEdit`` and the audit trail).
  Patients rate only where the deployment's team allowed it.
- The team and the country's registry administrators (``atlas.CountryAdmin``, or holders of
  ``atlas:registry:manage``) issue and revoke invitation codes and decide whether patients may rate.
- Any signed-in user flags a rating with a reason; holders of ``feedback:rating:moderate`` hide (reason required),
  restore, or dismiss the flags. Hidden ratings count in no aggregate.
- Holders of ``feedback:review:write`` write expert reviews of a deployment or a product against our rubric
  (``feedback/data/rubric.json``); reviews are public and never mixed with the user ratings.

Only published deployments take feedback: everything else is 404 here (the registry decides who sees drafts).
Every write checks permission, runs in one transaction and records its audit entry in it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, F, Q, QuerySet
from django.utils import timezone

from dhnet.atlas.models import Product, Project, ProjectStatus
from dhnet.atlas.services import may_administer
from dhnet.audit.services import record
from dhnet.feedback.models import (
    DIMENSION_FIELDS,
    SCORE_MAX,
    SCORE_MIN,
    Audience,
    ExpertReview,
    FeedbackSettings,
    Flag,
    RaterInvitation,
    Rating,
    RatingEdit,
    RatingStatus,
    Verification,
)
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound

WRITE = "feedback:rating:write"
MODERATE = "feedback:rating:moderate"
REVIEW = "feedback:review:write"

DEFAULT_MIN_RATINGS = 5
MAX_TEXT = 4000
MAX_REASON = 500
MAX_LABEL = 200
MAX_USES = 10_000
MAX_DAYS = 366
#: Invitation codes: 12 characters of an alphabet without look-alikes (0/O, 1/I/L), 60 random bits, shown as
#: ``XXXX-XXXX-XXXX``; dashes, spaces and case are ignored when redeeming.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
PATIENT = "patient"  # Audience.PATIENT
TEAM_AUDIENCES = (Audience.HEALTH_WORKER, Audience.MANAGER, Audience.OTHER)
INTEGER_RE = re.compile(r"^-?[0-9]{1,9}$")  # form fields: ASCII digits only (int() takes other scripts' digits)
RUBRIC_PATH = Path(__file__).resolve().parent / "data" / "rubric.json"


def min_ratings() -> int:
    """The number of visible ratings from which means are shown (``DHNET_FEEDBACK_MIN_RATINGS``, default 5)."""
    return int(getattr(settings, "FEEDBACK_MIN_RATINGS", DEFAULT_MIN_RATINGS))


# --- aggregates -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackSummary:
    """The user ratings of one deployment: how many are visible and, from ``min_required`` on, the mean of each
    dimension (``None`` below it). Expert reviews are not in here."""

    count: int
    means: dict[str, float] | None
    min_required: int

    @property
    def enough(self) -> bool:
        return self.means is not None

    @property
    def overall(self) -> float | None:
        """The mean of the dimension means (None below the minimum)."""
        if self.means is None:
            return None
        return round(sum(self.means.values()) / len(self.means), 2)

    @property
    def message(self) -> str:
        if self.enough:
            return f"{self.count} rating{'s' if self.count != 1 else ''}"
        return f"not enough ratings yet ({self.count} of {self.min_required})"


def _summary_of(count: int, values: Mapping[str, Any], minimum: int) -> FeedbackSummary:
    if count < minimum:
        return FeedbackSummary(count=count, means=None, min_required=minimum)
    means = {name: round(float(values[f"mean_{name}"]), 2) for name in DIMENSION_FIELDS}
    return FeedbackSummary(count=count, means=means, min_required=minimum)


_MEANS = {f"mean_{name}": Avg(name) for name in DIMENSION_FIELDS}


def summary(project: Project | int) -> FeedbackSummary:
    """The aggregate of ``project``'s visible ratings (what the needs matching and the pages show)."""
    project_id = project if isinstance(project, int) else project.pk
    values = Rating.objects.filter(project_id=project_id, status=RatingStatus.VISIBLE).aggregate(
        n=Count("id"), **_MEANS
    )
    return _summary_of(int(values["n"] or 0), values, min_ratings())


def summaries(projects: Iterable[Project | int]) -> dict[int, FeedbackSummary]:
    """:func:`summary` of many deployments in one query (keyed by project id; those without ratings count 0)."""
    ids = {p if isinstance(p, int) else p.pk for p in projects}
    minimum = min_ratings()
    result = {pid: FeedbackSummary(count=0, means=None, min_required=minimum) for pid in ids}
    if not ids:
        return result
    rows = (
        Rating.objects.filter(project_id__in=ids, status=RatingStatus.VISIBLE)
        .values("project_id")
        .annotate(n=Count("id"), **_MEANS)
    )
    for row in rows:
        result[row["project_id"]] = _summary_of(int(row["n"]), row, minimum)
    return result


def product_summary(product: Product) -> FeedbackSummary:
    """The visible ratings of all published deployments of ``product``, pooled (each person counts once per
    deployment they rated); the same minimum applies. A product's users are judged where it is deployed."""
    visible = Rating.objects.filter(
        status=RatingStatus.VISIBLE, project__status=ProjectStatus.PUBLISHED, project__products=product
    )
    values = visible.aggregate(n=Count("id"), **_MEANS)
    return _summary_of(int(values["n"] or 0), values, min_ratings())


def get_product(ref: str) -> Product:
    """A product by slug or public id (products are public)."""
    text = str(ref)[:80]
    product = None if "\x00" in text else Product.objects.filter(Q(slug=text) | Q(public_id=text[:16])).first()
    if product is None:
        raise NotFound(f"product: no product {str(ref)[:80]!r}")
    return product


# --- projects and verification --------------------------------------------------------------------------------------


def published_project(public_id: str) -> Project:
    """The published deployment ``public_id``; anything else (unknown, draft, archived) is 404 here."""
    ref = str(public_id)[:16]
    project = None if "\x00" in ref else Project.objects.filter(public_id=ref, status=ProjectStatus.PUBLISHED).first()
    if project is None:
        raise NotFound(f"no published deployment {str(public_id)[:40]!r}")
    return project


def _on_team(actor: Actor, project: Project) -> bool:
    if actor.user_id is None:
        return False
    return project.created_by_id == actor.user_id or project.team.filter(pk=actor.user_id).exists()


def may_invite(actor: Actor, project: Project) -> bool:
    """Team members and the country's registry administrators (``atlas.services.may_administer``: an appointed
    ``CountryAdmin`` holding ``atlas:project:approve``, or a holder of ``atlas:registry:manage``) issue invitations
    and set who may rate."""
    return actor.is_authenticated and (_on_team(actor, project) or may_administer(actor, project.country))


def allows_patients(project: Project) -> bool:
    return FeedbackSettings.objects.filter(project=project, allow_patients=True).exists()


@dataclass(frozen=True)
class RaterStatus:
    """Whether the actor may rate a deployment, how they were verified, and with which audiences."""

    verified: bool
    via: str  # "team" | "invitation" | ""
    audiences: tuple[str, ...]
    reason: str = ""


def rater_status(actor: Actor, project: Project) -> RaterStatus:
    """How ``actor`` is verified for ``project`` (team member: any audience but patient; invited: the audience of
    the invitation redeemed)."""
    if not actor.is_authenticated or actor.user_id is None:
        return RaterStatus(False, "", (), "sign in to rate this deployment")
    if not actor.has(WRITE):
        return RaterStatus(False, "", (), f"rating needs {WRITE}")
    if _on_team(actor, project):
        return RaterStatus(True, "team", tuple(str(a) for a in TEAM_AUDIENCES))
    verification = Verification.objects.filter(project=project, user_id=actor.user_id).first()
    if verification is not None:
        return RaterStatus(True, "invitation", (verification.audience,))
    return RaterStatus(
        False,
        "",
        (),
        f"you are not verified to rate {project.public_id}: only its team and people invited by it (with an "
        "invitation code, redeemed on this page) may rate a deployment",
    )


# --- ratings --------------------------------------------------------------------------------------------------------


def _clean_text(value: Any, name: str, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"{name}: expected text")
    text = value.strip()
    if "\x00" in text:
        raise Invalid(f"{name}: contains a NUL character")
    if len(text) > limit:
        raise Invalid(f"{name}: {len(text)} characters, at most {limit}")
    if required and not text:
        raise Invalid(f"{name}: required")
    return text


def _score(name: str, value: Any, low: int = SCORE_MIN, high: int = SCORE_MAX) -> int:
    if isinstance(value, bool):
        raise Invalid(f"{name}: expected a whole number from {low} to {high}, got {value!r}")
    if isinstance(value, str) and INTEGER_RE.match(value.strip()):
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise Invalid(f"{name}: expected a whole number from {low} to {high}, got {value!r}"[:200])
    if not low <= value <= high:
        raise Invalid(f"{name}: {value} is out of range ({low}-{high})")
    return value


@dataclass(frozen=True)
class RatingInput:
    audience: str | None
    scores: dict[str, int]
    text: str


def validate_rating(data: Mapping[str, Any]) -> RatingInput:
    """Pure validation of a rating: the five dimensions (1-5, each named when wrong), audience, text."""
    if not isinstance(data, Mapping):
        raise Invalid("rating: expected an object")
    unknown = sorted(set(data) - {*DIMENSION_FIELDS, "audience", "text"})
    if unknown:
        raise Invalid(f"{unknown[0]}: not a field of a rating (dimensions: {', '.join(DIMENSION_FIELDS)})"[:300])
    scores = {}
    for name in DIMENSION_FIELDS:
        if data.get(name) in (None, ""):
            raise Invalid(f"{name}: required (a whole number from {SCORE_MIN} to {SCORE_MAX})")
        scores[name] = _score(name, data[name])
    audience = data.get("audience") or None
    if audience is not None and audience not in Audience.values:
        raise Invalid(f"audience: {str(audience)[:40]!r} is not one of {', '.join(Audience.values)}")
    return RatingInput(audience=audience, scores=scores, text=_clean_text(data.get("text"), "text", MAX_TEXT))


def _rating_values(rating: Rating) -> dict[str, Any]:
    return {"audience": rating.audience, **rating.scores(), "text": rating.text}


@dataclass(frozen=True)
class RateResult:
    rating: Rating
    created: bool
    changed: bool


def rate(actor: Actor, public_id: str, data: Mapping[str, Any]) -> RateResult:
    """Create or edit the actor's rating of a published deployment (one per person and deployment).

    Refused with 403 when the actor is not verified for it, or rates as a patient where patients are not allowed.
    The same values again change nothing (and write nothing); an edit keeps the previous values in ``RatingEdit``
    and in the audit record. A hidden rating stays hidden when edited (a moderator restores it).
    """
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    inp = validate_rating(data)
    project = published_project(public_id)
    status = rater_status(actor, project)
    if not status.verified:
        raise Forbidden(status.reason)
    audience = inp.audience or status.audiences[0]
    if audience not in status.audiences:
        if status.via == "invitation":
            raise Invalid(f"audience: your invitation verifies you as {status.audiences[0]}, not {audience}")
        raise Invalid(f"audience: team members rate as {', '.join(status.audiences)}, not {audience}")
    if audience == PATIENT and not allows_patients(project):
        raise Forbidden(f"{project.public_id} does not take ratings from patients (its team has not allowed it)")
    values = {"audience": audience, **inp.scores, "text": inp.text}
    with transaction.atomic():
        rating = Rating.objects.select_for_update().filter(project=project, user_id=actor.user_id).first()
        if rating is None:
            try:
                with transaction.atomic():
                    rating = Rating.objects.create(project=project, user_id=actor.user_id, **values)
            except IntegrityError:  # a concurrent first rating by the same person: edit that one
                rating = Rating.objects.select_for_update().get(project=project, user_id=actor.user_id)
            else:
                record(
                    actor,
                    "feedback.rating.create",
                    object_type="feedback.rating",
                    object_id=rating.pk,
                    detail={"project": project.public_id, **values},
                    permission=WRITE,
                )
                return RateResult(rating, created=True, changed=True)
        previous = _rating_values(rating)
        if previous == values:
            return RateResult(rating, created=False, changed=False)
        RatingEdit.objects.create(rating=rating, previous=previous)
        for name, value in values.items():
            setattr(rating, name, value)
        rating.edits += 1
        rating.save()
        record(
            actor,
            "feedback.rating.update",
            object_type="feedback.rating",
            object_id=rating.pk,
            detail={"project": project.public_id, "before": previous, "after": values},
            permission=WRITE,
        )
    return RateResult(rating, created=False, changed=True)


def my_rating(actor: Actor, public_id: str) -> Rating | None:
    """The actor's own rating of a published deployment, if any."""
    project = published_project(public_id)
    if actor.user_id is None:
        return None
    return Rating.objects.filter(project=project, user_id=actor.user_id).first()


def visible_ratings(project: Project) -> QuerySet[Rating]:
    """The ratings anyone may read (newest first)."""
    return Rating.objects.filter(project=project, status=RatingStatus.VISIBLE).order_by("-updated_at", "-id")


# --- invitations ----------------------------------------------------------------------------------------------------


def normalise_code(code: str) -> str:
    return "".join(ch for ch in str(code).upper() if ch.isalnum())


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def _require_inviter(actor: Actor, project: Project) -> None:
    if not actor.has(WRITE) or not may_invite(actor, project):
        raise Forbidden(
            f"only the team of {project.public_id} and the registry administrators of {project.country} manage its "
            "rater invitations"
        )


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: RaterInvitation
    code: str  # shown once: only its hash is stored


def issue_invitation(actor: Actor, public_id: str, data: Mapping[str, Any]) -> IssuedInvitation:
    """Issue a code verifying its redeemers as raters of the deployment (``label``, ``audience``, ``max_uses``,
    ``expires_in_days``). A second live invitation with the same label is a 409, so a retried request never issues
    two codes."""
    project = published_project(public_id)
    _require_inviter(actor, project)
    if not isinstance(data, Mapping):
        raise Invalid("invitation: expected an object")
    label = _clean_text(data.get("label"), "label", MAX_LABEL, required=True)
    audience = data.get("audience") or ""
    if audience not in Audience.values:
        raise Invalid(f"audience: {str(audience)[:40]!r} is not one of {', '.join(Audience.values)}")
    if audience == PATIENT and not allows_patients(project):
        raise Forbidden(
            f"{project.public_id} does not take ratings from patients: allow them in its feedback settings first"
        )
    raw_uses, raw_days = data.get("max_uses"), data.get("expires_in_days")
    max_uses = _score("max_uses", 1 if raw_uses in (None, "") else raw_uses, 1, MAX_USES)
    days = _score("expires_in_days", 30 if raw_days in (None, "") else raw_days, 1, MAX_DAYS)
    code = new_code()
    with transaction.atomic():
        try:
            with transaction.atomic():
                invitation = RaterInvitation.objects.create(
                    project=project,
                    code_hash=code_hash(code),
                    label=label,
                    audience=audience,
                    max_uses=max_uses,
                    expires_at=timezone.now() + dt.timedelta(days=days),
                    created_by_id=actor.user_id,
                )
        except IntegrityError:
            raise Conflict(
                f"label: {project.public_id} already has a live invitation {label!r}; revoke it or choose another label"
            ) from None
        record(
            actor,
            "feedback.invitation.create",
            object_type="feedback.invitation",
            object_id=invitation.pk,
            detail={"project": project.public_id, "label": label, "audience": audience, "max_uses": max_uses},
            permission=WRITE,
        )
    return IssuedInvitation(invitation, code)


def invitations(actor: Actor, public_id: str) -> list[RaterInvitation]:
    """The deployment's invitations (codes are not shown again), for its team and administrators."""
    project = published_project(public_id)
    _require_inviter(actor, project)
    return list(project.rater_invitations.select_related("created_by").order_by("-created_at", "-id"))


def revoke_invitation(actor: Actor, invitation_id: int) -> RaterInvitation:
    """Stop an invitation code working (those who redeemed it stay verified). Revoking twice changes nothing."""
    invitation = RaterInvitation.objects.select_related("project").filter(pk=invitation_id).first()
    if invitation is None or invitation.project.status != ProjectStatus.PUBLISHED:
        raise NotFound(f"no invitation {invitation_id}")
    _require_inviter(actor, invitation.project)
    if invitation.revoked_at is not None:
        return invitation
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        record(
            actor,
            "feedback.invitation.revoke",
            object_type="feedback.invitation",
            object_id=invitation.pk,
            detail={"project": invitation.project.public_id, "label": invitation.label},
            permission=WRITE,
        )
    return invitation


def redeem(actor: Actor, code: str) -> tuple[Verification, bool]:
    """Verify the actor as a rater of the invitation's deployment (``created`` False when already verified: redeeming
    again, any code of the same deployment, returns the existing verification and uses nothing up)."""
    if not actor.has(WRITE) or actor.user_id is None:
        raise Forbidden(f"requires {WRITE}")
    if not isinstance(code, str) or not normalise_code(code[:64]):
        raise Invalid("code: required")
    invitation = RaterInvitation.objects.select_related("project").filter(code_hash=code_hash(code[:64])).first()
    if invitation is None or invitation.project.status != ProjectStatus.PUBLISHED:
        raise NotFound("code: no invitation has this code (check it for typos)")
    project = invitation.project
    existing = Verification.objects.filter(project=project, user_id=actor.user_id).first()
    if existing is not None:
        return existing, False
    if invitation.revoked_at is not None:
        raise Forbidden(f"code: this invitation to rate {project.public_id} was revoked")
    if invitation.expires_at <= timezone.now():
        raise Forbidden(
            f"code: this invitation to rate {project.public_id} expired on {invitation.expires_at:%Y-%m-%d}"
        )
    if invitation.audience == PATIENT and not allows_patients(project):
        raise Forbidden(f"code: {project.public_id} no longer takes ratings from patients")
    with transaction.atomic():
        used = RaterInvitation.objects.filter(pk=invitation.pk, uses__lt=F("max_uses")).update(uses=F("uses") + 1)
        if not used:
            raise Forbidden(
                f"code: this invitation to rate {project.public_id} is used up ({invitation.max_uses} of "
                f"{invitation.max_uses} uses)"
            )
        try:
            with transaction.atomic():
                verification = Verification.objects.create(
                    project=project, user_id=actor.user_id, audience=invitation.audience, invitation=invitation
                )
        except IntegrityError:  # redeemed concurrently by the same person: one use only
            RaterInvitation.objects.filter(pk=invitation.pk).update(uses=F("uses") - 1)
            return Verification.objects.get(project=project, user_id=actor.user_id), False
        record(
            actor,
            "feedback.invitation.redeem",
            object_type="feedback.invitation",
            object_id=invitation.pk,
            detail={"project": project.public_id, "audience": invitation.audience},
            permission=WRITE,
        )
    return verification, True


def set_allow_patients(actor: Actor, public_id: str, allow: bool) -> FeedbackSettings:
    """Whether patients (and clients) may be invited to rate the deployment; team and administrators decide."""
    project = published_project(public_id)
    _require_inviter(actor, project)
    if not isinstance(allow, bool):
        raise Invalid("allow_patients: expected true or false")
    with transaction.atomic():
        current, _ = FeedbackSettings.objects.select_for_update().get_or_create(project=project)
        if current.allow_patients == allow:
            return current
        current.allow_patients = allow
        current.updated_by_id = actor.user_id
        current.save()
        record(
            actor,
            "feedback.settings.update",
            object_type="atlas.project",
            object_id=project.public_id,
            detail={"allow_patients": allow},
            permission=WRITE,
        )
    return current


# --- flags and moderation -------------------------------------------------------------------------------------------


def _rating(rating_id: int) -> Rating:
    rating = Rating.objects.select_related("project").filter(pk=rating_id).first()
    if rating is None or rating.project.status != ProjectStatus.PUBLISHED:
        raise NotFound(f"no rating {rating_id}")
    return rating


def flag(actor: Actor, rating_id: int, reason: str) -> tuple[Flag, bool]:
    """Report a visible rating to the moderators (reason required). A second report by the same person while the
    first is open returns the first (``created`` False)."""
    if not actor.has(WRITE) or actor.user_id is None:
        raise Forbidden(f"requires {WRITE}")
    text = _clean_text(reason, "reason", MAX_REASON, required=True)
    rating = _rating(rating_id)
    if rating.status != RatingStatus.VISIBLE and not actor.has(MODERATE):
        raise NotFound(f"no rating {rating_id}")
    with transaction.atomic():
        existing = Flag.objects.filter(rating=rating, by_id=actor.user_id, resolved=False).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                item = Flag.objects.create(rating=rating, by_id=actor.user_id, reason=text)
        except IntegrityError:
            return Flag.objects.get(rating=rating, by_id=actor.user_id, resolved=False), False
        record(
            actor,
            "feedback.flag.create",
            object_type="feedback.rating",
            object_id=rating.pk,
            detail={"project": rating.project.public_id, "reason": text},
            permission=WRITE,
        )
    return item, True


@dataclass
class QueueItem:
    rating: Rating
    flags: list[Flag] = field(default_factory=list)


def moderation_queue(actor: Actor) -> list[QueueItem]:
    """Ratings with open flags (most flagged first), then hidden ratings (latest first); moderators only. Shows
    who rated and who flagged, so the read is audited."""
    if not actor.has(MODERATE):
        raise Forbidden(f"requires {MODERATE}")
    flagged = (
        Rating.objects.filter(flags__resolved=False)
        .annotate(open_flags=Count("flags", filter=Q(flags__resolved=False)))
        .select_related("project", "user")
        .order_by("-open_flags", "-updated_at", "id")
        .distinct()[:200]
    )
    items = {r.pk: QueueItem(r) for r in flagged}
    for f in Flag.objects.filter(rating_id__in=items, resolved=False).select_related("by").order_by("at", "id"):
        items[f.rating_id].flags.append(f)
    hidden = (
        Rating.objects.filter(status=RatingStatus.HIDDEN)
        .exclude(pk__in=items)
        .select_related("project", "user", "hidden_by")
        .order_by("-hidden_at", "-id")[:200]
    )
    result = list(items.values()) + [QueueItem(r) for r in hidden]
    record(
        actor,
        "feedback.moderation.read",
        object_type="feedback.rating",
        detail={"ratings": [item.rating.pk for item in result][:500]},
        permission=MODERATE,
    )
    return result


MODERATION_ACTIONS = ("hide", "restore", "dismiss")


def moderate(actor: Actor, rating_id: int, action: str, reason: str = "") -> Rating:
    """``hide`` a rating (reason required), ``restore`` a hidden one, or ``dismiss`` its open flags; each resolves the
    open flags and is audited. Hiding a hidden rating (restoring a visible one) is a 409."""
    if not actor.has(MODERATE):
        raise Forbidden(f"requires {MODERATE}")
    if action not in MODERATION_ACTIONS:
        raise Invalid(f"action: {str(action)[:20]!r} is not one of {', '.join(MODERATION_ACTIONS)}")
    text = _clean_text(reason, "reason", MAX_REASON, required=action == "hide")
    rating = _rating(rating_id)
    now = timezone.now()
    with transaction.atomic():
        rating = Rating.objects.select_for_update().select_related("project").get(pk=rating.pk)
        if action == "hide":
            if rating.status == RatingStatus.HIDDEN:
                raise Conflict(f"rating {rating.pk} is hidden already")
            rating.status, rating.hidden_reason, rating.hidden_by_id, rating.hidden_at = (
                RatingStatus.HIDDEN,
                text,
                actor.user_id,
                now,
            )
            resolution = "hidden"
        elif action == "restore":
            if rating.status != RatingStatus.HIDDEN:
                raise Conflict(f"rating {rating.pk} is not hidden")
            rating.status, rating.hidden_reason, rating.hidden_by_id, rating.hidden_at = (
                RatingStatus.VISIBLE,
                "",
                None,
                None,
            )
            resolution = "restored"
        else:
            if not rating.flags.filter(resolved=False).exists():
                raise Conflict(f"rating {rating.pk} has no open flags")
            resolution = "dismissed"
        if action != "dismiss":
            # Only the moderation fields: saving the whole row would bump updated_at (the rating's own edit time).
            Rating.objects.filter(pk=rating.pk).update(
                status=rating.status,
                hidden_reason=rating.hidden_reason,
                hidden_by_id=rating.hidden_by_id,
                hidden_at=rating.hidden_at,
            )
        resolved = rating.flags.filter(resolved=False).update(
            resolved=True, resolved_by_id=actor.user_id, resolved_at=now, resolution=resolution
        )
        record(
            actor,
            f"feedback.rating.{action}",
            object_type="feedback.rating",
            object_id=rating.pk,
            detail={"project": rating.project.public_id, "reason": text, "flags_resolved": resolved},
            permission=MODERATE,
        )
    return rating


# --- expert reviews -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    code: str
    name: str
    weight: int
    question: str
    anchors: tuple[str, ...]


@dataclass(frozen=True)
class Rubric:
    code: str
    name: str
    note: str
    criteria: tuple[Criterion, ...]

    def total(self, scores: Mapping[str, int]) -> float:
        """Weighted mean of the scores as a percentage of the best possible (all 4), one decimal."""
        best = sum(c.weight * 4 for c in self.criteria)
        got = sum(c.weight * scores[c.code] for c in self.criteria)
        return round(100.0 * got / best, 1)


@functools.cache
def rubric() -> Rubric:
    """Our expert-review rubric (``feedback/data/rubric.json``): criteria with 0-4 anchors and weights."""
    data = json.loads(RUBRIC_PATH.read_text(encoding="utf-8"))
    criteria = tuple(
        Criterion(c["code"], c["name"], int(c["weight"]), c["question"], tuple(c["anchors"])) for c in data["criteria"]
    )
    return Rubric(data["code"], data["name"], data["note"], criteria)


def validate_scores(scores: Any) -> dict[str, int]:
    """Every criterion of the rubric scored 0-4, and nothing else."""
    book = rubric()
    if not isinstance(scores, Mapping):
        raise Invalid(f"scores: expected an object of criterion -> 0..4 ({', '.join(c.code for c in book.criteria)})")
    codes = {c.code for c in book.criteria}
    for key in scores:
        if key not in codes:
            raise Invalid(f"scores.{str(key)[:40]}: not a criterion of {book.code}")
    result = {}
    for c in book.criteria:
        if scores.get(c.code) in (None, ""):
            raise Invalid(f"scores.{c.code}: required (0-4)")
        result[c.code] = _score(f"scores.{c.code}", scores[c.code], 0, 4)
    return result


def _review_subject(data: Mapping[str, Any]) -> tuple[Project | None, Product | None]:
    project_ref = str(data.get("project") or "").strip()
    product_ref = str(data.get("product") or "").strip()
    if bool(project_ref) == bool(product_ref):
        raise Invalid("project/product: name exactly one subject, a deployment's public id or a product's slug")
    if project_ref:
        return published_project(project_ref), None
    return None, get_product(product_ref)


@dataclass(frozen=True)
class ReviewResult:
    review: ExpertReview
    created: bool
    changed: bool


def write_review(actor: Actor, data: Mapping[str, Any]) -> ReviewResult:
    """Create or update the actor's expert review of a deployment or a product (one per expert and subject);
    the same review again changes nothing."""
    if not actor.has(REVIEW) or actor.user_id is None:
        raise Forbidden(f"requires {REVIEW}")
    if not isinstance(data, Mapping):
        raise Invalid("review: expected an object")
    unknown = sorted(set(data) - {"project", "product", "scores", "comment"})
    if unknown:
        raise Invalid(f"{str(unknown[0])[:40]}: not a field of a review")
    project, product = _review_subject(data)
    scores = validate_scores(data.get("scores"))
    comment = _clean_text(data.get("comment"), "comment", MAX_TEXT)
    book = rubric()
    total = book.total(scores)
    subject = {"project": project} if project is not None else {"product": product}
    subject_ref = project.public_id if project is not None else product.slug  # type: ignore[union-attr]
    with transaction.atomic():
        review = ExpertReview.objects.select_for_update().filter(reviewer_id=actor.user_id, **subject).first()
        if review is None:
            try:
                with transaction.atomic():
                    review = ExpertReview.objects.create(
                        reviewer_id=actor.user_id,
                        reviewer_name=actor.username[:150],
                        rubric=book.code,
                        scores=scores,
                        total=total,
                        comment=comment,
                        **subject,
                    )
            except IntegrityError:
                raise Conflict("a concurrent review of the same subject by you was saved; send it again") from None
            record(
                actor,
                "feedback.review.create",
                object_type="feedback.review",
                object_id=review.pk,
                detail={"subject": subject_ref, "scores": scores, "total": total},
                permission=REVIEW,
            )
            return ReviewResult(review, created=True, changed=True)
        if review.scores == scores and review.comment == comment and review.rubric == book.code:
            return ReviewResult(review, created=False, changed=False)
        before = {"scores": review.scores, "comment": review.comment, "total": review.total, "version": review.version}
        review.scores, review.comment, review.total, review.rubric = scores, comment, total, book.code
        review.version += 1
        review.save()
        record(
            actor,
            "feedback.review.update",
            object_type="feedback.review",
            object_id=review.pk,
            detail={"subject": subject_ref, "before": before, "scores": scores, "total": total},
            permission=REVIEW,
        )
    return ReviewResult(review, created=False, changed=True)


def reviews(*, project: str = "", product: str = "") -> list[ExpertReview]:
    """Expert reviews of published deployments and of products (public), optionally of one subject."""
    qs = ExpertReview.objects.select_related("project", "product").filter(
        Q(product__isnull=False) | Q(project__status=ProjectStatus.PUBLISHED)
    )
    if project:
        qs = qs.filter(project=published_project(project))
    if product:
        qs = qs.filter(product=get_product(product))
    return list(qs.order_by("-updated_at", "-id")[:500])


def get_review(review_id: int) -> ExpertReview:
    review = ExpertReview.objects.select_related("project", "product").filter(pk=review_id).first()
    if review is None or (review.project is not None and review.project.status != ProjectStatus.PUBLISHED):
        raise NotFound(f"no expert review {review_id}")
    return review


@dataclass(frozen=True)
class ReviewSummary:
    """Expert reviews of one subject: how many and the mean weighted total (kept apart from user ratings)."""

    count: int
    mean_total: float | None


def review_summary(project: Project) -> ReviewSummary:
    values = ExpertReview.objects.filter(project=project).aggregate(n=Count("id"), mean=Avg("total"))
    n = int(values["n"] or 0)
    return ReviewSummary(n, round(float(values["mean"]), 1) if n else None)


@dataclass(frozen=True)
class RatedDeployment:
    project: Project
    summary: FeedbackSummary


def rated_deployments(limit: int = 200) -> list[RatedDeployment]:
    """Published deployments with visible ratings, most rated first (the feedback home page)."""
    rows = (
        Rating.objects.filter(status=RatingStatus.VISIBLE, project__status=ProjectStatus.PUBLISHED)
        .values("project_id")
        .annotate(n=Count("id"))
        .order_by("-n", "project_id")[:limit]
    )
    ids = [row["project_id"] for row in rows]
    projects = Project.objects.in_bulk(ids)
    sums = summaries(ids)
    return [RatedDeployment(projects[pid], sums[pid]) for pid in ids if pid in projects]
