# mypy: disallow-subclassing-any=False
"""A business case per investment: costs by TCO phase x category x year, benefits with their assumptions.

The figures (PV, NPV, ROI, benefit-cost ratio, payback, sensitivity) are never stored: they are computed by the
pure :mod:`dhnet.businesscase.finance` from the lines, so that they cannot disagree with them. Every save of a case
(its fields or its lines) adds a :class:`CaseVersion` holding the whole case as it was then, so that the history
can be read and two versions compared; versions are never changed.

TCO phases are the atlas's (:class:`dhnet.atlas.models.CostPhase`, after Digital Square's TCO guide), so that a
business case and a project's budget lines speak of the same phases.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from dhnet.atlas.models import CostPhase


class CostCategory(models.TextChoices):
    HARDWARE = "hardware", "Hardware"
    SOFTWARE = "software", "Software"
    PEOPLE = "people", "People"
    TRAINING = "training", "Training"
    CONNECTIVITY = "connectivity", "Connectivity"
    MAINTENANCE = "maintenance", "Maintenance"


class BenefitKind(models.TextChoices):
    TIME_SAVED = "time_saved", "Time saved"
    CASES_DETECTED_EARLIER = "cases_detected_earlier", "Cases detected earlier"
    COSTS_AVOIDED = "costs_avoided", "Costs avoided"
    OTHER = "other", "Other"


class BusinessCase(models.Model):
    """One investment's business case, in one currency, over ``horizon_years`` from ``base_year``."""

    public_id = models.CharField(max_length=16, unique=True, editable=False, help_text="BC-XXXXXX, stable")
    country = models.CharField(
        max_length=2, blank=True, db_index=True, help_text="ISO 3166-1 alpha-2; empty: not a country's case"
    )
    title = models.CharField(max_length=200)
    investment = models.TextField(blank=True, help_text="what is bought, built or scaled, and for whom")
    roadmap_item = models.ForeignKey(
        "planning.RoadmapItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="business_cases",
        help_text="the roadmap item of the case's country this investment carries out",
    )
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217")
    base_year = models.PositiveSmallIntegerField(help_text="year 0: not discounted")
    horizon_years = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(30)])
    discount_rate = models.DecimalField(max_digits=7, decimal_places=5, help_text="a fraction: 0.05 is 5 %")
    shared = models.BooleanField(default=False, help_text="readable by every signed-in user")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("country", "title", "id")

    def __str__(self) -> str:
        return f"{self.public_id} {self.title}"


class CostLine(models.Model):
    """An amount spent in one year, in one TCO phase and one category (one cell of the editor's grid)."""

    case = models.ForeignKey(BusinessCase, on_delete=models.CASCADE, related_name="costs")
    phase = models.CharField(max_length=24, choices=CostPhase.choices)
    category = models.CharField(max_length=16, choices=CostCategory.choices)
    year = models.PositiveSmallIntegerField()
    amount = models.DecimalField(max_digits=16, decimal_places=2, validators=[MinValueValidator(0)])
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("case", "phase", "category", "year")
        constraints = (
            models.UniqueConstraint(fields=["case", "phase", "category", "year"], name="businesscase_cost_cell"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="businesscase_cost_amount_gte_0"),
        )


class BenefitLine(models.Model):
    """A benefit of one year: ``quantity`` ``unit`` (e.g. 1,200 staff hours) x ``unit_value`` (per unit), with
    the assumption it rests on (required: a benefit without its assumption cannot be checked)."""

    case = models.ForeignKey(BusinessCase, on_delete=models.CASCADE, related_name="benefits")
    kind = models.CharField(max_length=24, choices=BenefitKind.choices)
    year = models.PositiveSmallIntegerField()
    quantity = models.DecimalField(max_digits=16, decimal_places=4, validators=[MinValueValidator(0)])
    unit = models.CharField(max_length=60)
    unit_value = models.DecimalField(max_digits=16, decimal_places=4, validators=[MinValueValidator(0)])
    assumption = models.TextField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("case", "position", "id")


class CaseVersion(models.Model):
    """The whole case as saved (fields and lines, JSON); one per save, never changed."""

    case = models.ForeignKey(BusinessCase, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    change = models.CharField(max_length=200, help_text="what the save did, e.g. 'costs uploaded (csv)'")
    saved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    saved_by_name = models.CharField(max_length=150)
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("case", "version")
        constraints = (models.UniqueConstraint(fields=["case", "version"], name="businesscase_version_unique"),)
