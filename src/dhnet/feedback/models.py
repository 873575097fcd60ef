# mypy: disallow-subclassing-any=False
"""Feedback on deployments (``atlas.Project``): user ratings, invitations that verify raters, flags and moderation,
and expert reviews kept apart from user ratings.

A :class:`Rating` is one person's view of one deployment on five fixed dimensions (1-5) plus free text; there is at
most one per person and deployment, and editing it keeps the previous values in :class:`RatingEdit`. Only verified
people rate: members of the project's team, or people who redeemed a :class:`RaterInvitation` (their
:class:`Verification` row says so and with which audience). Moderators hide ratings (with a reason) and restore
them; hidden ratings count nowhere. An :class:`ExpertReview` scores a deployment or a product against our rubric
(``feedback/data/rubric.json``) and is never mixed into the user ratings' aggregates.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

#: The five dimensions every rating scores, in display order: (field, label, question asked).
DIMENSIONS: tuple[tuple[str, str, str], ...] = (
    ("usability", "Usability", "How easy is it to use in your daily work?"),
    ("reliability", "Reliability", "Does it work when you need it (uptime, sync, data not lost)?"),
    ("fit", "Fit to its function", "Does it do what the deployment claims it does for you?"),
    ("support", "Training and support", "Were you trained, and do you get help when stuck?"),
    ("data_value", "Value of its data", "Is the data it produces useful to you or your service?"),
)
DIMENSION_FIELDS: tuple[str, ...] = tuple(d[0] for d in DIMENSIONS)
SCORE_MIN, SCORE_MAX = 1, 5


class Audience(models.TextChoices):
    HEALTH_WORKER = "health_worker", "Health worker"
    MANAGER = "manager", "Manager"
    PATIENT = "patient", "Patient or client"
    OTHER = "other", "Other user"


class RatingStatus(models.TextChoices):
    VISIBLE = "visible", "Visible"
    HIDDEN = "hidden", "Hidden by a moderator"


class FeedbackSettings(models.Model):
    """Per-deployment feedback settings, kept here rather than on the registry's record."""

    project = models.OneToOneField("atlas.Project", on_delete=models.CASCADE, related_name="feedback_settings")
    allow_patients = models.BooleanField(default=False, help_text="patients and clients may be invited to rate")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)


class RaterInvitation(models.Model):
    """A code that verifies its redeemers as raters of one deployment, with a fixed audience.

    The code is shown once when issued; only its SHA-256 is stored (codes carry 60 random bits, so a plain hash is
    enough against a stolen table). ``label`` names the group invited and is unique among a project's live codes,
    so that sending the same request twice does not issue two codes.
    """

    project = models.ForeignKey("atlas.Project", on_delete=models.CASCADE, related_name="rater_invitations")
    code_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=200)
    audience = models.CharField(max_length=16, choices=Audience.choices)
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("project", "-created_at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=["project", "label"], condition=Q(revoked_at__isnull=True), name="feedback_invitation_label"
            ),
            models.CheckConstraint(condition=Q(uses__lte=models.F("max_uses")), name="feedback_invitation_uses"),
        )


class Verification(models.Model):
    """A person verified as a rater of a deployment through a redeemed invitation (team members need none)."""

    project = models.ForeignKey("atlas.Project", on_delete=models.CASCADE, related_name="rater_verifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    audience = models.CharField(max_length=16, choices=Audience.choices)
    invitation = models.ForeignKey(RaterInvitation, null=True, on_delete=models.SET_NULL, related_name="redemptions")
    verified_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("project", "verified_at")
        constraints = (models.UniqueConstraint(fields=["project", "user"], name="feedback_verification_unique"),)


def _score_field(label: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(help_text=f"{label}, {SCORE_MIN}-{SCORE_MAX}")


class Rating(models.Model):
    """One person's rating of one deployment (editable; the previous values go to :class:`RatingEdit`)."""

    project = models.ForeignKey("atlas.Project", on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    audience = models.CharField(max_length=16, choices=Audience.choices)
    usability = _score_field("usability")
    reliability = _score_field("reliability")
    fit = _score_field("fit to the function claimed")
    support = _score_field("training and support")
    data_value = _score_field("value of its data")
    text = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=RatingStatus.choices, default=RatingStatus.VISIBLE)
    hidden_reason = models.CharField(max_length=500, blank=True)
    hidden_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    hidden_at = models.DateTimeField(null=True, blank=True)
    edits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("project", "-updated_at", "id")
        constraints = (
            models.UniqueConstraint(fields=["project", "user"], name="feedback_rating_one_per_person"),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": SCORE_MIN, f"{name}__lte": SCORE_MAX}),
                    name=f"feedback_rating_{name}_range",
                )
                for name in DIMENSION_FIELDS
            ),
        )
        indexes = (models.Index(fields=["project", "status"], name="feedback_rating_project_status"),)

    def scores(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in DIMENSION_FIELDS}

    def labelled_scores(self) -> list[tuple[str, int]]:
        """(label, score) per dimension, in display order (for pages)."""
        return [(label, int(getattr(self, name))) for name, label, _ in DIMENSIONS]


class RatingEdit(models.Model):
    """The values a rating had before one edit (audience, scores, text), so that edits are never lost."""

    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="history")
    previous = models.JSONField()
    edited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("rating", "edited_at", "id")


class Flag(models.Model):
    """A signed-in user's report that a rating breaks the rules; open until a moderator resolves it."""

    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="flags")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500)
    at = models.DateTimeField(auto_now_add=True)
    resolved = models.BooleanField(default=False)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=20, blank=True, help_text="hidden | restored | dismissed")

    class Meta:
        ordering = ("at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=["rating", "by"], condition=Q(resolved=False), name="feedback_flag_one_open_per_person"
            ),
        )


class ExpertReview(models.Model):
    """An expert's scored review of a deployment or a product against a rubric; one per expert and subject."""

    project = models.ForeignKey(
        "atlas.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="expert_reviews"
    )
    product = models.ForeignKey(
        "atlas.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="expert_reviews"
    )
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer_name = models.CharField(max_length=150)
    rubric = models.CharField(max_length=40, default="dhnet-review-1")
    scores = models.JSONField(help_text="criterion code -> 0..4")
    total = models.FloatField(help_text="weighted total, 0-100")
    comment = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at", "id")
        constraints = (
            models.CheckConstraint(
                condition=(
                    Q(project__isnull=False, product__isnull=True) | Q(project__isnull=True, product__isnull=False)
                ),
                name="feedback_review_one_subject",
            ),
            models.UniqueConstraint(
                fields=["project", "reviewer"], condition=Q(project__isnull=False), name="feedback_review_project_once"
            ),
            models.UniqueConstraint(
                fields=["product", "reviewer"], condition=Q(product__isnull=False), name="feedback_review_product_once"
            ),
        )
