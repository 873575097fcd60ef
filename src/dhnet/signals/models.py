# mypy: disallow-subclassing-any=False
"""Detection runs, their outputs, and signals triaged into events (WHO EWARS workflow).

A *signal* comes either from detection (consecutive alarms of one disease in one org unit, merged) or from
event-based surveillance (a free-text report of an event or rumour). It is triaged:

    new -> verification (discarded / monitoring / verified) -> risk assessment (low .. very high)
        -> response -> closed (reopenable)

with assignment, comments and a full timeline (:class:`SignalEvent`), escalation district -> region -> nation,
and optionally the IHR (2005) Annex 2 decision instrument (:class:`IHRAssessment`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dhnet.diseases.models import AlertRule, Disease
from dhnet.orgunits.models import OrgUnit


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DetectionRun(models.Model):
    """One execution of the alert rules (after an import, on a schedule, or by hand)."""

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=32, help_text="import, schedule, manual, demo")
    requested_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, default="")
    summary = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="the job that ran it"
    )

    class Meta:
        ordering = ("-created_at",)


class Detection(models.Model):
    """The latest output of one rule for one disease, org unit and period (replaced by later runs)."""

    # No single-column indexes on rule and disease: the unique (rule, orgunit, period_start) and the (disease, orgunit,
    # period_start) indexes start with them; every index costs time on each of the millions of upserts.
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="detections", db_index=False)
    disease = models.ForeignKey(Disease, on_delete=models.CASCADE, related_name="detections", db_index=False)
    orgunit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="detections")
    period_start = models.DateField()
    observed = models.FloatField()
    expected = models.FloatField(null=True, blank=True)
    upperbound = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    alarm = models.BooleanField(default=False)
    run = models.ForeignKey(DetectionRun, null=True, on_delete=models.SET_NULL, related_name="detections")

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["rule", "orgunit", "period_start"], name="detection_unique_cell"),
        )
        indexes = (models.Index(fields=["disease", "orgunit", "period_start"], name="detection_curve"),)


class SignalSource(models.TextChoices):
    DETECTION = "detection", "Indicator-based (detection)"
    EVENT = "event", "Event-based (report or rumour)"


class SignalStatus(models.TextChoices):
    NEW = "new", "New"
    VERIFICATION = "verification", "Verification"
    DISCARDED = "discarded", "Discarded"
    MONITORING = "monitoring", "Monitoring"
    VERIFIED = "verified", "Verified"
    RISK_ASSESSED = "risk_assessed", "Risk assessed"
    RESPONSE = "response", "Response"
    CLOSED = "closed", "Closed"


class Risk(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"
    VERY_HIGH = "very_high", "Very high"


class Signal(models.Model):
    """A signal, and once verified an event, with its triage state."""

    source = models.CharField(max_length=16, choices=SignalSource.choices)
    status = models.CharField(max_length=16, choices=SignalStatus.choices, default=SignalStatus.NEW)
    disease = models.ForeignKey(Disease, null=True, blank=True, on_delete=models.PROTECT, related_name="signals")
    orgunit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="signals")
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="signals")
    first_period = models.DateField(help_text="first alarm period, or the event date")
    last_period = models.DateField(help_text="last alarm period merged into this signal, or the event date")
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    hazard = models.CharField(max_length=255, blank=True, default="")
    place = models.CharField(max_length=255, blank=True, default="", help_text="free-text place of an event report")
    max_observed = models.FloatField(null=True, blank=True)
    max_score = models.FloatField(null=True, blank=True)
    risk = models.CharField(max_length=16, choices=Risk.choices, blank=True, default="")
    escalation_level = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="org-unit level the signal is escalated to (1 = national)"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_signals"
    )
    reported_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-last_period", "-id")
        indexes = (
            models.Index(fields=["status", "-last_period"], name="signal_status_recent"),
            models.Index(fields=["disease", "orgunit", "last_period"], name="signal_merge"),
            # The list's default order (and its pages) without a sort of every row.
            models.Index(fields=["-last_period", "-id"], name="signal_recent"),
            models.Index(fields=["orgunit", "-last_period"], name="signal_place_recent"),
        )


class SignalEvent(models.Model):
    """One entry of a signal's timeline: a state change, an assignment, a comment, an escalation, an alarm."""

    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(auto_now_add=True)
    actor_username = models.CharField(max_length=150)
    kind = models.CharField(max_length=32, help_text="created, alarm, status, assign, comment, escalate, risk, ihr")
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16, blank=True, default="")
    text = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("at", "id")


class IHRAssessment(models.Model):
    """The IHR (2005) Annex 2 decision instrument applied to an event, kept with it."""

    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="ihr_assessments")
    at = models.DateTimeField(auto_now_add=True)
    actor_username = models.CharField(max_length=150)
    answers = models.JSONField(help_text="question key -> answer, as asked by the guided form")
    notify_who = models.BooleanField(help_text="whether WHO must be notified within 24 hours")
    reasoning = models.TextField()

    class Meta:
        ordering = ("-at",)
