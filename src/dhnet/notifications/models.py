# mypy: disallow-subclassing-any=False
"""Subscriptions to signals and the deliveries made for them.

A :class:`Subscription` belongs to one user: a disease (or every disease), an area (an org unit and everything
below it), a minimum severity (``any`` new signal, or a signal whose assessed risk reaches a level), and a channel:
``email`` to the user's own address, or ``webhook`` (a URL and an HMAC secret; system integrators only).

A :class:`Delivery` is one message to one recipient (a signal notification, a daily digest, a report reminder),
with its attempts. ``dedupe_key`` is unique, so fanning out the same event twice never sends twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit
from dhnet.signals.models import Signal

ANY = "any"
EMAIL = "email"
WEBHOOK = "webhook"
IMMEDIATE = "immediate"
DAILY = "daily"
SIGNAL = "signal"
DIGEST = "digest"
REMINDER = "reminder"
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
CANCELLED = "cancelled"


class Severity(models.TextChoices):
    """The least a signal must reach to be notified: any signal, or its assessed risk (ordered)."""

    ANY = ANY, "Any new signal"
    LOW = "low", "Risk low or higher"
    MODERATE = "moderate", "Risk moderate or higher"
    HIGH = "high", "Risk high or higher"
    VERY_HIGH = "very_high", "Risk very high"


#: Rank of each severity; a signal's risk (``dhnet.signals.models.Risk``) ranks the same way ("" = not assessed).
SEVERITY_RANK: dict[str, int] = {"": 0, "any": 0, "low": 1, "moderate": 2, "high": 3, "very_high": 4}


class Channel(models.TextChoices):
    EMAIL = EMAIL, "E-mail"
    WEBHOOK = WEBHOOK, "Webhook"


class Frequency(models.TextChoices):
    IMMEDIATE = IMMEDIATE, "Immediately"
    DAILY = DAILY, "Daily digest"


class Subscription(models.Model):
    """``user`` wants to hear about signals of ``disease`` (None: any) in ``orgunit``'s subtree."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    disease = models.ForeignKey(Disease, null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions")
    orgunit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="subscriptions")
    min_severity = models.CharField(max_length=16, choices=Severity.choices, default=ANY)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=EMAIL)
    frequency = models.CharField(max_length=16, choices=Frequency.choices, default=IMMEDIATE)
    webhook_url = models.URLField(max_length=2000, blank=True, default="")
    webhook_secret = models.CharField(max_length=128, blank=True, default="")
    max_attempts = models.PositiveSmallIntegerField(default=6, help_text="attempts per delivery before giving up")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        indexes = (models.Index(fields=["active", "disease"], name="subscription_match"),)

    def __str__(self) -> str:
        return f"subscription {self.pk} of user {self.user_id}"


class DeliveryKind(models.TextChoices):
    SIGNAL = SIGNAL, "Signal notification"
    DIGEST = DIGEST, "Daily digest"
    REMINDER = REMINDER, "Missing-report reminder"


class DeliveryStatus(models.TextChoices):
    PENDING = PENDING, "Pending"
    DELIVERED = DELIVERED, "Delivered"
    FAILED = FAILED, "Failed"
    CANCELLED = CANCELLED, "Cancelled"


class Delivery(models.Model):
    """One message to one recipient and its attempts (``payload`` is exactly what is sent, every attempt)."""

    kind = models.CharField(max_length=16, choices=DeliveryKind.choices)
    dedupe_key = models.CharField(max_length=255, unique=True)
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    signal = models.ForeignKey(Signal, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    event = models.CharField(max_length=64, blank=True, default="", help_text="the signal change notified")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.CharField(max_length=2000, help_text="e-mail address or webhook URL")
    payload = models.JSONField(help_text="e-mail: subject and body; webhook: the JSON document posted")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=6)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "deliveries"
        indexes = (models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),)

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.kind}, {self.channel}, {self.status})"
