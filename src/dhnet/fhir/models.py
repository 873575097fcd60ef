# mypy: disallow-subclassing-any=False
"""FHIR resources as received and stored (the counts they carry live in ``dhnet.reporting``).

A resource accepted by ``POST /fhir/<type>`` (or in a Bundle) is kept as JSON with the server-assigned id, so that
``GET /fhir/<type>/<id>`` answers it, a retry with the same content finds it (``checksum``: sha256 of the
canonical JSON without ``id`` and ``meta``), and conditional create (``If-None-Exist: identifier=system|value``)
finds it by :class:`ResourceIdentifier`. A case-based resource (Patient, Condition...) is stored pseudonymised and
names its person by ``subject`` (the pseudonym: the person's access log and export find their resources by it).
"""

from __future__ import annotations

from django.db import models

from dhnet.orgunits.models import OrgUnit
from dhnet.reporting.models import ImportBatch


class StoredResource(models.Model):
    resource_type = models.CharField(max_length=64)
    logical_id = models.CharField(max_length=64, unique=True, help_text="the FHIR id assigned by this server")
    version = models.PositiveIntegerField(default=1)
    checksum = models.CharField(max_length=64, help_text="sha256 of the canonical JSON without id and meta")
    content = models.JSONField(help_text="the resource as stored, with id and meta")
    orgunit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="whose jurisdiction"
    )
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject = models.CharField(max_length=64, blank=True, default="", help_text="pseudonym of the person it is about")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at",)
        constraints = (
            models.UniqueConstraint(fields=["resource_type", "checksum"], name="fhir_resource_unique_content"),
        )
        # A person's resources, or of one type (the Patient of a pseudonym): with ``subject`` alone indexed, SQLite's
        # planner took the (resource_type, checksum) index for ``resource_type = ? AND subject IN (...)`` and
        # walked every stored Patient for each Bundle.
        indexes = (models.Index(fields=["subject", "resource_type"], name="fhir_resource_subject_type"),)

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.logical_id}"


class ResourceIdentifier(models.Model):
    """One ``identifier`` of a stored resource (for conditional create)."""

    resource = models.ForeignKey(StoredResource, on_delete=models.CASCADE, related_name="identifiers")
    system = models.CharField(max_length=255, blank=True, default="")
    value = models.CharField(max_length=255)

    class Meta:
        indexes = (models.Index(fields=["value", "system"], name="fhir_identifier_idx"),)
