"""Schemes (classifications) and their concepts, loaded from the files in ``data/`` by a data migration."""

from __future__ import annotations

from django.db import models


class Scheme(models.Model):
    """One classification, e.g. ``cdhi-v1`` (WHO CDHI 2018) or ``hsc`` (health system challenges)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=100, blank=True)
    source = models.TextField(blank=True)
    licence_note = models.TextField(blank=True)

    class Meta:
        ordering = ("code",)

    def __str__(self) -> str:
        return self.code


class Concept(models.Model):
    """One code of a scheme, with its official name and place in the hierarchy.

    ``level`` is the depth (1 for a top-level group), ``kind`` the source's name for that level (group, category,
    intervention, challenge, objective) and ``ordinal`` the position in the source's order.
    """

    scheme = models.ForeignKey(Scheme, on_delete=models.CASCADE, related_name="concepts")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=300)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    level = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=20, blank=True)
    ordinal = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("scheme__code", "ordinal")
        constraints = (models.UniqueConstraint(fields=["scheme", "code"], name="taxonomy_concept_scheme_code_unique"),)

    def __str__(self) -> str:
        return f"{self.scheme.code}:{self.code} {self.name}"

    @property
    def tag(self) -> str:
        """The tag naming this concept (``<scheme>:<code>``, ``so:`` for strategic objectives)."""
        return f"{SHORT_CODES.get(self.scheme.code, self.scheme.code)}:{self.code}"


#: Short scheme names accepted (and written) in tags.
SHORT_CODES = {"strategic-objective": "so"}


class Relation(models.TextChoices):
    """How the target concept relates to the source one (SKOS mapping properties: ``broader`` = skos:broadMatch,
    the target is broader than the source)."""

    EQUIVALENT = "equivalent", "equivalent"
    BROADER = "broader", "broader"
    NARROWER = "narrower", "narrower"
    RELATED = "related", "related"


#: The relation read the other way round (target -> source).
INVERSE = {"equivalent": "equivalent", "broader": "narrower", "narrower": "broader", "related": "related"}


class Mapping(models.Model):
    """A link between concepts of two schemes (the crosswalk CDHI v1 -> CDISAH 2023), stored in one direction.

    Our own work from codes and names (``dhnet.taxonomy.crosswalk``); ``method`` names the rule that made it and
    ``note`` says why where a person reviewed it. The reverse direction is derived (``INVERSE``), not stored.
    """

    source = models.ForeignKey(Concept, on_delete=models.CASCADE, related_name="mappings_out")
    target = models.ForeignKey(Concept, on_delete=models.CASCADE, related_name="mappings_in")
    relation = models.CharField(max_length=12, choices=Relation.choices)
    method = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("source__ordinal", "target__ordinal")
        constraints = (
            models.UniqueConstraint(fields=["source", "target"], name="taxonomy_mapping_source_target_unique"),
        )

    def __str__(self) -> str:
        return f"{self.source.tag} {self.relation} {self.target.tag}"
