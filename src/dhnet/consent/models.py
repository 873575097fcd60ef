# mypy: disallow-subclassing-any=False
"""Consent decisions (append-only history), right-of-access one-time codes, and the SMS outbox.

:class:`ConsentDecision` rows are never updated or deleted by the services: a person's current decision for a
purpose is the latest row recorded, so the whole history is kept (dynamic consent). A person is named by the
keyed-HMAC pseudonym of :mod:`dhnet.identity` only; no direct identifier is stored in this context (the contact a
code was sent to is kept as a keyed hash, for throttling).
"""

from __future__ import annotations

from django.db import models

from dhnet.consent.purposes import PURPOSE_CHOICES
from dhnet.orgunits.models import OrgUnit

GRANT = "grant"
WITHDRAW = "withdraw"
#: surveillance: not a consent; the row records the legal basis the processing rests on
LEGAL_BASIS = "legal-basis"
DECISION_CHOICES = [(GRANT, "Granted"), (WITHDRAW, "Withdrawn or refused"), (LEGAL_BASIS, "Legal basis (not consent)")]
DECISIONS = tuple(value for value, _ in DECISION_CHOICES)

FHIR = "fhir"
STAFF = "staff"
SELF = "self"
CHANNEL_CHOICES = [
    (FHIR, "FHIR Consent"),
    (STAFF, "Staff, on the person's behalf"),
    (SELF, "The person (right-of-access page)"),
]


class ConsentDecision(models.Model):
    """One decision of one person for one purpose, effective from ``recorded_at`` (append-only)."""

    pseudonym = models.CharField(max_length=64, help_text="HMAC pseudonym of the person")
    purpose = models.CharField(max_length=16, choices=PURPOSE_CHOICES)
    decision = models.CharField(max_length=16, choices=DECISION_CHOICES)
    recorded_at = models.DateTimeField(help_text="when the platform recorded it: it applies to every later release")
    decided_at = models.DateTimeField(null=True, blank=True, help_text="Consent.dateTime, as stated by the source")
    valid_until = models.DateTimeField(null=True, blank=True, help_text="end of Consent.provision.period (a grant)")
    orgunit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="whose jurisdiction"
    )
    channel = models.CharField(max_length=8, choices=CHANNEL_CHOICES)
    fhir_status = models.CharField(max_length=16, blank=True, default="", help_text="Consent.status as received")
    fhir_id = models.CharField(max_length=64, blank=True, default="", help_text="the stored Consent's id")
    source_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, help_text="idempotency key of the source (a retry)"
    )
    legal_basis = models.TextField(blank=True, default="", help_text="the law a legal-basis purpose rests on")
    recorded_by = models.CharField(max_length=150)
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ("recorded_at", "id")
        indexes = (models.Index(fields=["pseudonym", "purpose", "recorded_at"], name="consent_person_purpose_idx"),)

    def __str__(self) -> str:
        return f"{self.pseudonym[:12]} {self.purpose} {self.decision} {self.recorded_at:%Y-%m-%d %H:%M}"


EMAIL = "email"
PHONE = "phone"
CONTACT_CHOICES = [(EMAIL, "E-mail"), (PHONE, "Phone")]


class AccessCode(models.Model):
    """A one-time code sent for the right of access: hashed at rest, expiring, with limited attempts.

    A row is written for every request, whether or not the contact is on record (``pseudonyms`` empty then), so
    that throttling and answers are the same either way.
    """

    ticket = models.CharField(max_length=64, unique=True, help_text="sha256 of the browser's ticket")
    kind = models.CharField(max_length=8, choices=CONTACT_CHOICES)
    contact_hash = models.CharField(max_length=64, db_index=True, help_text="keyed hash of the normalised contact")
    code_hash = models.CharField(max_length=64, help_text="keyed hash of the code and the ticket")
    pseudonyms = models.JSONField(default=list, blank=True, help_text="the persons the contact belongs to")
    ip = models.CharField(max_length=45, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=["ip", "created_at"], name="consent_code_ip_idx"),)

    def __str__(self) -> str:
        return f"{self.kind} code {self.ticket[:8]} {self.created_at:%Y-%m-%d %H:%M}"


class OutboxMessage(models.Model):
    """A text message the ``outbox`` SMS transport wrote instead of sending (development and tests only)."""

    to = models.CharField(max_length=32)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"SMS to {self.to} at {self.created_at:%Y-%m-%d %H:%M}"
