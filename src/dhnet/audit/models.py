"""Audit records and the chain head that serialises appends."""

from __future__ import annotations

from django.db import models


class AuditRecord(models.Model):
    """One audited action. Append-only: rows are written by :func:`dhnet.audit.services.record` only.

    ``hash`` is the sha256 of the row's canonical content, which includes ``prev_hash`` (the previous row's
    ``hash``) and ``seq`` (1, 2, 3, ... without gaps), so that altering, inserting or deleting a row breaks the
    chain (``dhnet audit verify``). Actor fields are copies, not foreign keys: the trail outlives accounts.
    """

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, db_index=True)
    actor_role = models.CharField(max_length=255, blank=True)
    via = models.CharField(max_length=16)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=255, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    purpose = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ("seq",)
        indexes = (models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),)

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action}"


class AuditSubject(models.Model):
    """Index of the persons (pseudonyms) an audited action concerned: who read or changed a person's record.

    Derived from ``detail["subjects"]`` of the record (which the hash covers); ``dhnet audit verify`` checks that
    the index matches. A person's access log (right of access) and ``GET /fhir/AuditEvent?patient=`` read it.
    """

    record = models.ForeignKey(AuditRecord, on_delete=models.CASCADE, related_name="subjects")
    subject = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=["record", "subject"], name="audit_subject_unique"),)

    def __str__(self) -> str:
        return f"{self.subject[:12]} in #{self.record_id}"


class ChainHead(models.Model):
    """The single row (``pk=1``) holding the last ``seq`` and ``hash``; appends lock it (``SELECT ... FOR UPDATE``)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"chain head #{self.seq} {self.hash[:12]}"
