"""The disease catalogue (IDSR priority diseases) and the alert rules that detection runs.

Reference data, editable by national administrators through ``dhnet.diseases.services`` (audited).
"""

from __future__ import annotations

from django.db import models


class ReportingFrequency(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate (case-based, within 24 hours)"
    WEEKLY = "weekly", "Weekly aggregate"
    MONTHLY = "monthly", "Monthly aggregate"


class Disease(models.Model):
    """A notifiable disease or condition with its codes and case definition."""

    code = models.SlugField(max_length=64, unique=True, help_text="stable short code, e.g. 'measles'")
    name = models.CharField(max_length=255)
    icd11 = models.CharField(max_length=32, blank=True, default="", help_text="ICD-11 MMS code, e.g. 1F03")
    icd10 = models.CharField(max_length=32, blank=True, default="", help_text="ICD-10 code, e.g. B05")
    case_definition = models.TextField(blank=True, default="")
    reporting = models.CharField(max_length=16, choices=ReportingFrequency.choices, default=ReportingFrequency.WEEKLY)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class RuleKind(models.TextChoices):
    COUNT = "count", "Fixed count (alert when cases >= threshold)"
    RATE = "rate", "Rate per 100,000 population (alert / epidemic thresholds)"
    DETECTOR = "detector", "Statistical detector of the engine"


class AlertRule(models.Model):
    """How aberrations of one disease are detected at one org-unit level.

    ``level`` is the depth in the org-unit hierarchy (1 = country); ``None`` applies the rule at every level.
    ``method`` and ``settings`` name a method of ``dhnet.surveillance`` (``registry.names()``) and its settings
    (field names of its control dataclass, plus an optional ``"preset"``) for ``kind=detector``;
    ``threshold`` (cases) for ``kind=count``; ``alert_rate``/``epidemic_rate`` (per 100,000) for ``kind=rate``.
    """

    disease = models.ForeignKey(Disease, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=255)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    method = models.CharField(max_length=64, blank=True, default="")
    settings = models.JSONField(default=dict, blank=True)
    threshold = models.PositiveIntegerField(null=True, blank=True)
    alert_rate = models.FloatField(null=True, blank=True)
    epidemic_rate = models.FloatField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("disease__name", "level", "name")
        constraints = (models.UniqueConstraint(fields=["disease", "name"], name="alertrule_unique_name"),)

    def __str__(self) -> str:
        return f"{self.disease.code}: {self.name}"
