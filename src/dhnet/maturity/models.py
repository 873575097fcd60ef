# mypy: disallow-subclassing-any=False
"""Maturity rubrics (as data), yearly assessments per country, their answers, evidence, review and publication.

A rubric (GDHM classic with 19 indicators, current with 23) groups indicators into components; each indicator has a
question and five phase definitions, and may have sub-indicators (whose parent is the numeric prefix of the code).

An :class:`Assessment` is one country's self-assessment for one year against one rubric::

    draft -> submitted -> (returned -> submitted)* -> approved -> published
                                                                    |  reopened as a new version (draft)

Publishing writes a :class:`PublishedScore` (snapshot of answers and scores) that is never changed; reopening a
published assessment for a correction increments ``version`` and leaves the earlier rows in place, so the public
views show the newest publication and the history shows all. Each year is its own assessment (earlier years are
never overwritten); a new year may start as a copy of the previous year's answers (``shared_from``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models


class EvidenceStorage(FileSystemStorage):
    """Files under ``var/media/`` of this deployment, located when used (not when the module is imported), so that
    the data directory configured at run time (``DHNET_DATA_DIR``) decides where documents go."""

    @property
    def base_location(self) -> str:
        return str(Path(settings.CONFIG.var_dir) / "media")

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


def evidence_storage() -> FileSystemStorage:
    """Evidence documents live under ``var/media/`` of this deployment (``maturity/<sha256[:2]>/<sha256>.<ext>``)."""
    return EvidenceStorage()


class Rubric(models.Model):
    """A maturity rubric (e.g. ``gdhm-current``): components, indicators and phase definitions."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    source = models.TextField(blank=True)
    licence_note = models.TextField(blank=True)
    official_texts = models.BooleanField(
        default=False, help_text="question and phase texts imported from an official file"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("code",)

    def __str__(self) -> str:
        return self.code


class Component(models.Model):
    """A group of indicators (e.g. "Leadership and governance"); scored as the mean of its top-level indicators."""

    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="components")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ("rubric", "position")
        constraints = (models.UniqueConstraint(fields=("rubric", "position"), name="maturity_component_position"),)

    def __str__(self) -> str:
        return f"{self.rubric.code} {self.position}. {self.name}"


class Indicator(models.Model):
    """One indicator of a rubric; ``parent`` is set for sub-indicators (e.g. ``21a`` under ``21``)."""

    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="indicators")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="indicators")
    code = models.CharField(max_length=16)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="sub_indicators")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=300)
    question = models.TextField(blank=True)

    class Meta:
        ordering = ("rubric", "position")
        constraints = (models.UniqueConstraint(fields=("rubric", "code"), name="maturity_indicator_code"),)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PhaseDefinition(models.Model):
    """What phase 1..5 of an indicator means."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="phases")
    phase = models.PositiveSmallIntegerField()
    text = models.TextField()

    class Meta:
        ordering = ("indicator", "phase")
        constraints = (
            models.UniqueConstraint(fields=("indicator", "phase"), name="maturity_phase_unique"),
            models.CheckConstraint(condition=models.Q(phase__gte=1, phase__lte=5), name="maturity_phase_range"),
        )


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted for review"
    RETURNED = "returned", "Returned for changes"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"


class Assessment(models.Model):
    """One country's assessment for one year against one rubric."""

    public_id = models.CharField(max_length=16, unique=True, editable=False, help_text="MA-XXXXXX, stable")
    country = models.CharField(max_length=2, db_index=True, help_text="ISO 3166-1 alpha-2")
    year = models.PositiveSmallIntegerField()
    rubric = models.ForeignKey(Rubric, on_delete=models.PROTECT, related_name="assessments")
    status = models.CharField(max_length=10, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    shared_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies", help_text="copied answers"
    )

    class Meta:
        ordering = ("country", "-year")
        constraints = (
            models.UniqueConstraint(fields=("country", "year", "rubric"), name="maturity_assessment_country_year"),
        )

    def __str__(self) -> str:
        return f"{self.public_id} {self.country} {self.year}"


class Answer(models.Model):
    """The phase chosen for one indicator: null = unanswered, -1 = not available, 1..5."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="answers")
    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="+")
    phase = models.SmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    answered_by = models.CharField(max_length=300, blank=True, help_text='user name or "focal point <e-mail>"')
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("assessment", "indicator__position")
        constraints = (
            models.UniqueConstraint(fields=("assessment", "indicator"), name="maturity_answer_unique"),
            models.CheckConstraint(
                condition=models.Q(phase__isnull=True) | models.Q(phase=-1) | models.Q(phase__gte=1, phase__lte=5),
                name="maturity_answer_phase",
            ),
        )


class Evidence(models.Model):
    """Evidence for an answer: a text, a link or a document (stored with its SHA-256)."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        LINK = "link", "Link"
        DOCUMENT = "document", "Document"

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    text = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    document = models.FileField(upload_to="maturity/", storage=evidence_storage, max_length=300, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    size = models.PositiveIntegerField(default=0)
    added_by = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("answer", "created_at", "id")


class ReviewComment(models.Model):
    """A reviewer's comment on an assessment, on one indicator or general (``indicator`` null)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="comments")
    indicator = models.ForeignKey(Indicator, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("assessment", "created_at", "id")


class FocalPointLink(models.Model):
    """A link that lets a focal point (no account) fill one assessment; only the token's SHA-256 is stored."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="links")
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("assessment", "-created_at", "id")


class PublishedScore(models.Model):
    """One publication of an assessment: the snapshot of its answers and scores. Never changed."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="publications")
    version = models.PositiveIntegerField()
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    snapshot = models.JSONField(default=dict, help_text="answers, evidence counts, component and overall scores")
    overall_score = models.FloatField(null=True, blank=True)
    overall_phase = models.SmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("assessment", "-version")
        constraints = (models.UniqueConstraint(fields=("assessment", "version"), name="maturity_published_version"),)

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Write a new publication; an existing one is never changed (it is the record of what was published)."""
        if self.pk is not None and PublishedScore.objects.filter(pk=self.pk).exists():
            raise ValueError(f"published score {self.pk} is never changed; reopen the assessment for a new version")
        super().save(*args, **kwargs)
