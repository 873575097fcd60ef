"""Aggregate reports: counts per disease, org unit and period, whatever path they came by.

Every intake path (web form, CSV upload, DHIS2 ``dataValueSets``, FHIR ``MeasureReport``) writes through
``dhnet.reporting.services`` in one transaction per batch, with one :class:`ImportBatch` row and one audit record;
a batch is identified by the sha256 of its canonical payload, so a retried payload stores nothing new.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit


class Measure(models.TextChoices):
    CASES = "cases", "Cases"
    DEATHS = "deaths", "Deaths"


class Source(models.TextChoices):
    FORM = "form", "Web form"
    CSV = "csv", "CSV upload"
    DHIS2 = "dhis2", "DHIS2 dataValueSets"
    FHIR = "fhir", "FHIR MeasureReport"
    CASES = "cases", "Case-based reports"
    DEMO = "demo", "Demo data"


class ImportBatch(models.Model):
    """One accepted submission (a form, a file, an API payload) and what it did."""

    source = models.CharField(max_length=16, choices=Source.choices)
    checksum = models.CharField(max_length=64, help_text="sha256 of the canonical payload")
    actor_username = models.CharField(max_length=150)
    received_at = models.DateTimeField(auto_now_add=True)
    imported = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    ignored = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-received_at",)
        constraints = (models.UniqueConstraint(fields=["source", "checksum"], name="importbatch_unique_payload"),)


class CountValue(models.Model):
    """The count of one measure of one disease in one org unit for one period (week, month or day).

    Periods are identified by their first day (ISO week: the Monday). Values are stored where they were reported
    (usually districts); higher levels are rolled up at detection time. ``period_start`` plus the disease's
    reporting frequency defines the period.
    """

    disease = models.ForeignKey(Disease, on_delete=models.PROTECT, related_name="counts")
    orgunit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="counts")
    period_start = models.DateField()
    measure = models.CharField(max_length=8, choices=Measure.choices, default=Measure.CASES)
    value = models.PositiveIntegerField()
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="values")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=["disease", "orgunit", "period_start", "measure"], name="countvalue_unique_cell"
            ),
        )
        indexes = (models.Index(fields=["disease", "period_start"], name="countvalue_disease_period"),)


class Submission(models.Model):
    """That an org unit reported for a period (the unit of IDSR completeness and timeliness).

    ``on_time`` is decided at first submission against the deadline of the period (see services); later
    corrections keep it.
    """

    orgunit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="submissions")
    period_start = models.DateField()
    first_received_at = models.DateTimeField()
    last_received_at = models.DateTimeField()
    on_time = models.BooleanField()
    source = models.CharField(max_length=16, choices=Source.choices)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = (models.UniqueConstraint(fields=["orgunit", "period_start"], name="submission_unique"),)
