# mypy: disallow-subclassing-any=False
"""Released datasets, their published tables (versions), the privacy-budget ledger and the line-list exports.

A :class:`ReleasedDataset` is defined by a data manager: which disease, which area and geography level (the rows),
which period and time unit (the columns), and how it is protected (small-cell suppression or differential
privacy). Publishing computes the table from the case reports and stores a :class:`Publication`: only the protected
values (``None`` where suppressed), never the true counts. Each differentially private publication spends epsilon,
recorded in :class:`BudgetSpend`; the sum never exceeds the dataset's budget. :class:`LineListExport` records what
each de-identified export contained (its parameters and the anonymity achieved), not its rows.
"""

from __future__ import annotations

import uuid

from django.db import models

from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit


class Method(models.TextChoices):
    SUPPRESSION = "suppression", "Small-cell and complementary suppression"
    DP = "dp", "Differential privacy (Laplace noise, OpenDP)"


class TimeUnit(models.TextChoices):
    WEEK = "week", "ISO week"
    MONTH = "month", "Month"


class DateBasis(models.TextChoices):
    ONSET = "onset", "Onset date (report date when unknown)"
    REPORT = "report", "Report date"


class Audience(models.TextChoices):
    PARTNERS = "partners", "Partners and platform users (release:dataset:read)"
    PUBLIC = "public", "Public (also on the public pages, without login)"


class ReleasedDataset(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=255)
    disease = models.ForeignKey(Disease, on_delete=models.PROTECT, related_name="+")
    area = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", help_text="the area covered")
    level = models.PositiveSmallIntegerField(help_text="org-unit level of the rows (1 = country)")
    period_start = models.DateField()
    period_end = models.DateField()
    time_unit = models.CharField(max_length=8, choices=TimeUnit.choices, default=TimeUnit.WEEK)
    date_basis = models.CharField(max_length=8, choices=DateBasis.choices, default=DateBasis.ONSET)
    by_sex = models.BooleanField(default=False, help_text="columns are period x sex (a 3-way table, flattened)")
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.SUPPRESSION)
    threshold = models.PositiveSmallIntegerField(default=5, help_text="counts below it are suppressed")
    protection = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="width of the interval a suppressed cell must keep (default: threshold)"
    )
    zeros_sensitive = models.BooleanField(default=False, help_text="suppress zeros as small cells too")
    epsilon_budget = models.FloatField(default=1.0, help_text="total epsilon the dataset may spend")
    epsilon_per_release = models.FloatField(default=0.5, help_text="epsilon of one publication (dp)")
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.PARTNERS)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("slug",)

    def __str__(self) -> str:
        return self.slug


class Publication(models.Model):
    """One published version of a dataset's table: the protected values only."""

    dataset = models.ForeignKey(ReleasedDataset, on_delete=models.CASCADE, related_name="publications")
    version = models.PositiveIntegerField()
    method = models.CharField(max_length=16, choices=Method.choices)
    row_labels = models.JSONField(help_text="[[code, name], ...]")
    column_labels = models.JSONField(help_text="[label, ...]")
    grid = models.JSONField(help_text="(rows+1) x (columns+1), totals last; null where suppressed")
    info = models.JSONField(default=dict, help_text="threshold, suppressed counts, epsilon, noise scale")
    fingerprint = models.CharField(max_length=64, help_text="keyed hash of the source table and parameters")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("dataset", "-version")
        constraints = (
            models.UniqueConstraint(fields=["dataset", "version"], name="release_publication_version"),
            models.UniqueConstraint(fields=["dataset", "fingerprint"], name="release_publication_fingerprint"),
        )

    def __str__(self) -> str:
        return f"{self.dataset_id} v{self.version}"


class BudgetSpend(models.Model):
    """The privacy-budget ledger: epsilon spent by one differentially private publication."""

    dataset = models.ForeignKey(ReleasedDataset, on_delete=models.CASCADE, related_name="spends")
    publication = models.OneToOneField(Publication, on_delete=models.CASCADE, related_name="spend")
    epsilon = models.FloatField()
    scale = models.FloatField()
    spent_by = models.CharField(max_length=150)
    spent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("dataset", "spent_at", "id")


class LineListExport(models.Model):
    """What one de-identified line-list export contained (not its rows)."""

    export_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    disease = models.ForeignKey(Disease, on_delete=models.PROTECT, related_name="+")
    area = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=16)
    k = models.PositiveSmallIntegerField()
    info = models.JSONField(default=dict)
    exported_by = models.CharField(max_length=150)
    exported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-exported_at", "-id")
