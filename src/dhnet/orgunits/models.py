"""Org units in a materialised-path tree."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class OrgUnit(models.Model):
    """A node of the hierarchy (country -> region -> district -> ..., any depth).

    ``path`` is the materialised path of primary keys, ``/1/7/42/``: the subtree of a unit is
    ``path__startswith=unit.path`` (an indexed prefix query), its depth ``level`` (1 for a root). Paths and levels
    are maintained by ``dhnet.orgunits.services`` only. ``geometry`` is a GeoJSON geometry object, in whatever
    coordinates the source used.
    """

    code = models.CharField(max_length=64, unique=True)
    uid = models.CharField(
        max_length=64, blank=True, default="", help_text="identifier in a source system, e.g. the DHIS2 id"
    )
    name = models.CharField(max_length=255)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=1024, unique=True, editable=False)
    level = models.PositiveSmallIntegerField(editable=False)
    population = models.BigIntegerField(null=True, blank=True)
    geometry = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("path",)
        indexes = (
            # LIKE 'prefix%' uses the index on PostgreSQL only with the pattern operator class.
            models.Index(fields=["path"], name="orgunit_path_prefix_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["level"], name="orgunit_level_idx"),
        )
        constraints = (models.UniqueConstraint(fields=["uid"], condition=~Q(uid=""), name="orgunit_uid_unique"),)

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def is_within(self, path: str) -> bool:
        """Whether this unit lies in the subtree whose root has materialised path ``path``."""
        return self.path.startswith(path)
