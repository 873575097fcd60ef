"""The identity vault's tables. Nothing here is readable without the vault keys except what lookups need:

- :class:`Person`: one row per person: the pseudonym, the district (jurisdiction), timestamps and the encrypted
  identity (AES-GCM, bound to the pseudonym);
- :class:`BlindIndex`: keyed hashes of the national identifier, e-mail addresses, phone numbers and the matching
  blocking keys, for exact lookups without decryption;
- :class:`MatchCandidate`: the review queue of probable matches (scores only, no identifying value).

All three live in the database alias ``vault`` when ``DHNET_VAULT_DATABASE_URL`` is set
(:class:`dhnet.identity.routers.VaultRouter`), so they hold no foreign key to the main database's tables.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Person(models.Model):
    pseudonym = models.CharField(max_length=64, unique=True)
    #: Code of the district the person was last reported from (the jurisdiction of re-identification and review).
    orgunit_code = models.CharField(max_length=64, db_index=True)
    key_id = models.CharField(max_length=32, blank=True, default="", db_index=True)
    nonce = models.BinaryField(default=b"")
    ciphertext = models.BinaryField(default=b"")
    #: A person linked into another one: the kept pseudonym; this row then holds no identity any more.
    merged_into = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField()
    #: When a report last named the person: retention counts from here.
    last_seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"person {self.pseudonym[:12]}…"


class BlindIndex(models.Model):
    class Kind(models.TextChoices):
        NATIONAL_ID = "nid", "National identifier"
        EMAIL = "email", "E-mail address"
        PHONE = "phone", "Phone number"
        BLOCK = "block", "Matching blocking key"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="index_entries")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    digest = models.CharField(max_length=64)

    class Meta:
        indexes = (models.Index(fields=["kind", "digest"], name="identity_blind_lookup_idx"),)
        constraints = (
            models.UniqueConstraint(fields=["person", "kind", "digest"], name="identity_blind_unique"),
            # One person per national identifier: concurrent registrations of the same one cannot both create.
            models.UniqueConstraint(fields=["kind", "digest"], condition=Q(kind="nid"), name="identity_nid_unique"),
        )


class MatchCandidate(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        LINKED = "linked", "Linked"
        KEPT_APART = "kept_apart", "Kept apart"
        SUPERSEDED = "superseded", "Superseded (one of the persons was linked or purged)"

    #: The later registration (merged into ``existing`` when linked).
    new_pseudonym = models.CharField(max_length=64, db_index=True)
    existing_pseudonym = models.CharField(max_length=64, db_index=True)
    score = models.FloatField()
    #: The weight of each compared field (no identifying value).
    parts = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    #: District codes of the two persons when queued (the jurisdiction of the review).
    orgunit_codes = models.JSONField(default=list)
    source = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ("-score", "id")
        constraints = (
            models.UniqueConstraint(fields=["new_pseudonym", "existing_pseudonym"], name="identity_candidate_unique"),
        )
