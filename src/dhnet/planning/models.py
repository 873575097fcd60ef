# mypy: disallow-subclassing-any=False
"""From maturity gaps to a roadmap: a country's target phases, its roadmap items and their milestones.

A :class:`Target` is where a country wants one indicator of a rubric to be, by when, and how much it weighs in the
priorities; the gap list is derived (``dhnet.planning.services.gaps``) from the targets and the latest published
maturity assessment, never stored. A :class:`Roadmap` (one per country and rubric) holds :class:`RoadmapItem`
rows, each about one indicator's gap and linked to the strategy's proposed actions, atlas projects and products
and at most one ``needs.Need``; an item's :class:`Milestone` rows carry an owner, a due date and progress. A
milestone is *late* when its due date has passed and it is not done (derived, see :attr:`Milestone.late`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class Target(models.Model):
    """The target phase of one indicator for a country, the year it should be reached and its priority weight."""

    country = models.CharField(max_length=2, db_index=True, help_text="ISO 3166-1 alpha-2")
    rubric = models.ForeignKey("maturity.Rubric", on_delete=models.PROTECT, related_name="+")
    indicator = models.ForeignKey("maturity.Indicator", on_delete=models.PROTECT, related_name="+")
    target_phase = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    target_year = models.PositiveSmallIntegerField()
    weight = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(1))
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("country", "rubric", "indicator__position")
        constraints = (
            models.UniqueConstraint(fields=("country", "rubric", "indicator"), name="planning_target_unique"),
            models.CheckConstraint(
                condition=models.Q(target_phase__gte=1, target_phase__lte=5), name="planning_target_phase"
            ),
            models.CheckConstraint(condition=models.Q(weight__gte=0), name="planning_target_weight"),
        )

    def __str__(self) -> str:
        return f"{self.country} {self.indicator.code} -> {self.target_phase} by {self.target_year}"


class Roadmap(models.Model):
    """A country's roadmap for one rubric: visible to its administrators, and to signed-in users when shared."""

    country = models.CharField(max_length=2, db_index=True)
    rubric = models.ForeignKey("maturity.Rubric", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    shared = models.BooleanField(
        default=False, help_text="readable by every signed-in user (else: the country's admins)"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("country", "rubric")
        constraints = (models.UniqueConstraint(fields=("country", "rubric"), name="planning_roadmap_unique"),)

    def __str__(self) -> str:
        return f"{self.country} {self.title}"


class ItemStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    DROPPED = "dropped", "Dropped"


class RoadmapItem(models.Model):
    """What the country will do about one indicator's gap, and what it links to."""

    roadmap = models.ForeignKey(Roadmap, on_delete=models.CASCADE, related_name="items")
    indicator = models.ForeignKey("maturity.Indicator", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    actions = models.ManyToManyField("strategy.ProposedAction", blank=True, related_name="+")
    projects = models.ManyToManyField("atlas.Project", blank=True, related_name="+")
    products = models.ManyToManyField("atlas.Product", blank=True, related_name="+")
    need = models.ForeignKey("needs.Need", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=12, choices=ItemStatus.choices, default=ItemStatus.PLANNED)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("roadmap", "position", "id")
        constraints = (
            models.UniqueConstraint(fields=("roadmap", "indicator", "title"), name="planning_item_unique_title"),
        )

    def __str__(self) -> str:
        return f"{self.indicator.code} {self.title}"


class Milestone(models.Model):
    """A dated step of a roadmap item, owned by a person (by name), a user or an organisation."""

    item = models.ForeignKey(RoadmapItem, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(max_length=200)
    owner_name = models.CharField(max_length=200, blank=True)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_organisation = models.ForeignKey(
        "network.Organisation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField()
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ("item", "due_date", "id")
        constraints = (
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="planning_milestone_progress"),
            models.UniqueConstraint(fields=("item", "title"), name="planning_milestone_unique_title"),
        )

    def __str__(self) -> str:
        return f"{self.title} (due {self.due_date})"

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def late_on(self, today: dt.date) -> bool:
        """Late: its due date has passed (before ``today``) and it is not done."""
        return self.done_at is None and self.due_date < today

    @property
    def late(self) -> bool:
        return self.late_on(timezone.localdate())

    @property
    def owner(self) -> str:
        """Who owns it, for people: the name given, else the user's or the organisation's name."""
        if self.owner_name:
            return self.owner_name
        if self.owner_user_id is not None:
            return str(self.owner_user.get_full_name() or self.owner_user.get_username())
        if self.owner_organisation_id is not None:
            return str(self.owner_organisation.name)
        return ""
