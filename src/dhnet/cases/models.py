# mypy: disallow-subclassing-any=False
"""Pseudonymised case reports and their laboratory results.

No direct identifier is stored here: a case names its person by the keyed-HMAC pseudonym of :mod:`dhnet.identity`
and keeps only age (years and band), sex, district and dates. ``source_system``/``source_value`` (the FHIR
Condition identifier) is unique, so a retried or duplicated submission finds the case instead of adding one.
"""

from __future__ import annotations

import uuid

from django.db import models

from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit

AGE_BANDS = (*(f"{lo}-{lo + 4}" for lo in range(0, 80, 5)), "80+")


def age_band(years: int | None) -> str:
    """The five-year band of an age (``0-4`` … ``75-79``, ``80+``), empty when the age is unknown."""
    if years is None or years < 0:
        return ""
    return AGE_BANDS[min(years // 5, len(AGE_BANDS) - 1)]


class Classification(models.TextChoices):
    SUSPECTED = "suspected", "Suspected"
    PROBABLE = "probable", "Probable"
    CONFIRMED = "confirmed", "Confirmed"


class Sex(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Case(models.Model):
    """One case of a notifiable disease (a FHIR Condition), with its person pseudonymised."""

    case_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="public identifier")
    pseudonym = models.CharField(max_length=64, db_index=True, help_text="HMAC pseudonym of the person")
    disease = models.ForeignKey(Disease, on_delete=models.PROTECT, related_name="cases")
    orgunit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="cases", help_text="district")
    icd_code = models.CharField(max_length=32, blank=True, default="", help_text="the code as reported")
    icd_system = models.CharField(max_length=255, blank=True, default="")
    classification = models.CharField(max_length=16, choices=Classification.choices)
    clinical_status = models.CharField(max_length=16, blank=True, default="")
    onset_date = models.DateField(null=True, blank=True)
    diagnosis_date = models.DateField(null=True, blank=True, help_text="Condition.recordedDate")
    report_date = models.DateField(help_text="the day the case reached the platform (or was asserted)")
    age_years = models.PositiveSmallIntegerField(null=True, blank=True)
    age_band = models.CharField(max_length=8, blank=True, default="")
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    outcome = models.CharField(max_length=32, blank=True, default="", help_text="e.g. recovered, died")
    hospitalised = models.BooleanField(null=True, blank=True, help_text="an inpatient Encounter was reported")
    source_system = models.CharField(max_length=255, help_text="the Condition identifier's system")
    source_value = models.CharField(max_length=255, help_text="the Condition identifier's value")
    fhir_id = models.CharField(max_length=64, blank=True, default="", help_text="the stored Condition's id")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-report_date", "-id")
        constraints = (
            models.UniqueConstraint(fields=["source_system", "source_value"], name="cases_case_unique_source"),
        )
        indexes = (
            models.Index(fields=["disease", "orgunit", "onset_date"], name="cases_case_onset_idx"),
            models.Index(fields=["disease", "orgunit", "report_date"], name="cases_case_report_idx"),
        )

    def __str__(self) -> str:
        return f"case {self.case_id}"


class LabResult(models.Model):
    """A laboratory Observation of a case (LOINC coded)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="lab_results")
    loinc = models.CharField(max_length=32, help_text="LOINC code of the test")
    display = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, default="final")
    value = models.CharField(max_length=255, blank=True, default="", help_text="the result as text")
    interpretation = models.CharField(max_length=32, blank=True, default="", help_text="e.g. POS, NEG")
    specimen_date = models.DateField(null=True, blank=True, help_text="Observation.effective[x]")
    fhir_id = models.CharField(max_length=64, blank=True, default="", help_text="the stored Observation's id")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("specimen_date", "id")
        constraints = (models.UniqueConstraint(fields=["case", "fhir_id"], name="cases_lab_unique_resource"),)

    def __str__(self) -> str:
        return f"{self.loinc} of {self.case_id}"


class PatientSubmission(models.Model):
    """A Patient resource received before, by a keyed hash of its content, and the pseudonym it was given.

    A resent Patient (a client's retry) then gets the same pseudonym without a second registration in the vault,
    also when the vault's matching could not decide (a probable match queued for review makes a new person each
    time). The digest is ``HMAC-SHA256(DHNET_PSEUDONYM_KEY, "cases-patient|" + canonical JSON)``: without the
    deployment secret it reveals nothing about the content.
    """

    digest = models.CharField(max_length=64, unique=True)
    pseudonym = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"submission {self.digest[:12]}"
