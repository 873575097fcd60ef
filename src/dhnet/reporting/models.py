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
    API = "api", "JSON API (/api/v1/reporting/counts)"


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


class DataElementMapping(models.Model):
    """Which disease and measure a DHIS2 data element (and category option combo) reports.

    A data value is matched by its data element and category option combo, each by uid or code as the import's id
    scheme says; a mapping without category option combo matches any combo not mapped otherwise (and the default
    one). When several combos of one data element map to the same disease and measure (a disaggregation, e.g. by
    age group), the count is their sum and a payload must carry all of them for a cell.
    """

    data_element = models.CharField(max_length=64, blank=True, default="", help_text="DHIS2 uid, e.g. FTRrcoaog83")
    data_element_code = models.CharField(max_length=64, blank=True, default="", help_text="DHIS2 code")
    category_option_combo = models.CharField(
        max_length=64, blank=True, default="", help_text="DHIS2 uid; empty: any (the default combo)"
    )
    category_option_combo_code = models.CharField(max_length=64, blank=True, default="")
    disease = models.ForeignKey(Disease, on_delete=models.PROTECT, related_name="dhis2_mappings")
    measure = models.CharField(max_length=8, choices=Measure.choices, default=Measure.CASES)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("disease__name", "measure", "data_element", "category_option_combo")
        constraints = (
            models.UniqueConstraint(
                fields=["data_element", "category_option_combo"],
                condition=~models.Q(data_element=""),
                name="dataelementmapping_unique_uid",
            ),
            models.UniqueConstraint(
                fields=["data_element_code", "category_option_combo_code"],
                condition=~models.Q(data_element_code=""),
                name="dataelementmapping_unique_code",
            ),
        )

    def __str__(self) -> str:
        de = self.data_element or self.data_element_code
        coc = self.category_option_combo or self.category_option_combo_code
        return f"{de}{'.' + coc if coc else ''} -> {self.disease_id}:{self.measure}"


class PendingUpload(models.Model):
    """A CSV file parsed and validated but not stored yet (the preview), keyed by its owner and sha256."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    checksum = models.CharField(max_length=64)
    filename = models.CharField(max_length=255)
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    report = models.JSONField(default=dict, blank=True, help_text="the validation report or the dry-run summary")
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = (models.UniqueConstraint(fields=["user", "checksum"], name="pendingupload_unique"),)


class ReportingSettings(models.Model):
    """Deployment-wide reporting settings (one row, pk 1), edited by national administrators.

    ``deadline_days``: a weekly report is on time when it arrives by 23:59:59 (``DHNET_TIME_ZONE``) on the
    ``deadline_days``-th day after the reporting week ends (Sunday): 1 = Monday, 2 = Tuesday (default), 3 =
    Wednesday. ``reporting_level``: the org-unit level whose units report (and are expected to, for completeness);
    empty: the units without children.
    """

    deadline_days = models.PositiveSmallIntegerField(default=2)
    reporting_level = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, default="")
