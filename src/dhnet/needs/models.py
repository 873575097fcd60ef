# mypy: disallow-subclassing-any=False
"""A country's needs (health-system challenges, places, constraints) and the decisions taken on their matches.

A :class:`Need` is a planning document of one country: its administrators (``atlas.CountryAdmin``) and registry
managers see and edit it; once marked ``public`` everyone may read it. Matching (``dhnet.needs.matching``) ranks
products and deployments for a need; a :class:`MatchDecision` records that a person accepted, rejected or annotated
one candidate. Decisions are never overwritten: the latest per candidate counts, all are kept as the history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Level(models.TextChoices):
    NATIONAL = "national", "National"
    SUBNATIONAL = "subnational", "Subnational (regions, districts)"
    FACILITY = "facility", "Facility"
    COMMUNITY = "community", "Community"


class Connectivity(models.TextChoices):
    NONE = "none", "None (offline)"
    INTERMITTENT = "intermittent", "Intermittent"
    MOBILE = "mobile", "Mobile data"
    BROADBAND = "broadband", "Broadband"


#: Connectivity at which a solution must work offline.
LOW_CONNECTIVITY = frozenset({Connectivity.NONE, Connectivity.INTERMITTENT})


class Source(models.TextChoices):
    MANUAL = "manual", "Recorded by hand"
    MATURITY_GAP = "maturity_gap", "From a maturity-assessment gap"


class NeedStatus(models.TextChoices):
    OPEN = "open", "Open"
    ADDRESSED = "addressed", "Addressed"
    CLOSED = "closed", "Closed"


class Need(models.Model):
    """What a country needs solved: health-system challenges, where, under which constraints."""

    public_id = models.CharField(max_length=16, unique=True, editable=False, help_text="<ISO2>-N<6 chars>, stable")
    country = models.CharField(max_length=2, db_index=True, help_text="ISO 3166-1 alpha-2")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    challenges = models.ManyToManyField("taxonomy.Concept", related_name="+", help_text="scheme hsc")
    level = models.CharField(max_length=12, choices=Level.choices, default=Level.NATIONAL)
    orgunits = models.ManyToManyField("orgunits.OrgUnit", blank=True, related_name="+")
    places = models.JSONField(default=list, blank=True, help_text="names of places outside this node's hierarchy")
    languages = models.JSONField(default=list, blank=True, help_text="ISO 639-1 codes the users need")
    connectivity = models.CharField(max_length=12, choices=Connectivity.choices, default=Connectivity.MOBILE)
    standards = models.ManyToManyField("taxonomy.Concept", blank=True, related_name="+", help_text="must be met")
    budget = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    status = models.CharField(max_length=10, choices=NeedStatus.choices, default=NeedStatus.OPEN)
    public = models.BooleanField(default=False, help_text="readable by everyone (else: the country's admins)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("country", "-created_at", "id")
        constraints = (models.UniqueConstraint(fields=["country", "title"], name="needs_need_country_title_unique"),)

    def __str__(self) -> str:
        return f"{self.public_id} {self.title}"


class Decision(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    ANNOTATED = "annotated", "Annotated"


class MatchDecision(models.Model):
    """A person's decision on one candidate (a product or a project) of a need; the latest per candidate counts."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="decisions")
    product = models.ForeignKey("atlas.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("atlas.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    note = models.TextField(blank=True)
    score = models.FloatField(null=True, blank=True, help_text="the candidate's score when decided")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_by_name = models.CharField(max_length=150)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("need", "decided_at", "id")
        constraints = (
            models.CheckConstraint(
                condition=models.Q(product__isnull=False, project__isnull=True)
                | models.Q(product__isnull=True, project__isnull=False),
                name="needs_decision_one_candidate",
            ),
        )
