# mypy: disallow-subclassing-any=False
"""The strategy's framework (objectives, outputs, proposed actions) and its monitoring indicators.

The framework is transcribed from the WHO Global strategy on digital health 2020-2025 (``data/strategy.json``,
loaded by migration 0002); it is reference data, the same for every deployment. Monitoring indicators carry a
baseline and a target (global when ``country`` is empty, else per country) and yearly values per country. A derived
indicator (``source=maturity``) has no stored values: it is computed from published maturity assessments with the
rule in ``maturity_rule`` (see :mod:`dhnet.strategy.services`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ActionActor(models.TextChoices):
    MEMBER_STATES = "member_states", "Member States"
    SECRETARIAT = "secretariat", "the Secretariat"
    PARTNERS = "partners", "partners"


class Term(models.TextChoices):
    SHORT = "short", "Short-term (1-2 years)"
    MEDIUM = "medium", "Medium-term (2-4 years)"
    LONG = "long", "Long-term (4-6 years)"
    #: a row of the annex that spans the three term columns (the partners' tables of objectives 2 and 4)
    ALL = "all", "Across all terms (1-6 years)"


class Objective(models.Model):
    """One of the four strategic objectives."""

    number = models.PositiveSmallIntegerField(unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField()

    class Meta:
        ordering = ("number",)

    def __str__(self) -> str:
        return f"{self.number}. {self.title}"


class Output(models.Model):
    """An output the strategy envisages under an objective ("1.1", "1.2", ...)."""

    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="outputs")
    code = models.CharField(max_length=8, unique=True)
    text = models.TextField()

    class Meta:
        ordering = ("objective__number", "code")

    def __str__(self) -> str:
        return f"{self.code} {self.text[:60]}"


class ProposedAction(models.Model):
    """A proposed action of the annex: who (actor), when (term), for which objective.

    ``key`` is stable (``SO2-MS-04``: objective, actor, number in the annex's reading order); other contexts and
    ``data/indicator_actions.json`` refer to actions by it.
    """

    key = models.CharField(max_length=16, unique=True)
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="actions")
    actor = models.CharField(max_length=16, choices=ActionActor.choices)
    term = models.CharField(max_length=8, choices=Term.choices)
    position = models.PositiveIntegerField()
    text = models.TextField()

    class Meta:
        ordering = ("objective__number", "position")

    def __str__(self) -> str:
        return f"{self.key} {self.text[:60]}"


class Direction(models.TextChoices):
    UP = "up", "Higher is better"
    DOWN = "down", "Lower is better"


class Aggregation(models.TextChoices):
    SUM = "sum", "Sum over countries"
    MEAN = "mean", "Mean over countries"
    COUNT_COUNTRIES = "count_countries", "Number of countries meeting the rule"
    SHARE_COUNTRIES = "share_countries", "Share of reporting countries meeting the rule (%)"


class Source(models.TextChoices):
    MANUAL = "manual", "Recorded values"
    MATURITY = "maturity", "Derived from published maturity assessments"


class Indicator(models.Model):
    """A monitoring indicator of the strategy.

    Per-country values are either recorded (``source=manual``) or derived (``source=maturity``). For
    ``count_countries`` / ``share_countries`` a country counts when its value is >= 1 (a yes/no indicator recorded
    as 1/0, or a derived rule that holds); ``share_countries`` divides by the countries with a value in the period
    (the denominator is reported with every aggregate).
    """

    code = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=200)
    definition = models.TextField()
    objective = models.ForeignKey(Objective, on_delete=models.PROTECT, related_name="indicators")
    output = models.ForeignKey(Output, null=True, blank=True, on_delete=models.PROTECT, related_name="indicators")
    unit = models.CharField(max_length=40, blank=True)
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.UP)
    aggregation = models.CharField(max_length=16, choices=Aggregation.choices)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    maturity_rule = models.JSONField(null=True, blank=True)
    source_text = models.TextField(blank=True, help_text="the sentence of the strategy the indicator measures")
    position = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("objective__number", "position", "code")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Target(models.Model):
    """Baseline and target of an indicator, global (``country=""``, on the aggregate) or for one country."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="targets")
    country = models.CharField(max_length=2, blank=True, default="")
    baseline_value = models.DecimalField(max_digits=18, decimal_places=4)
    baseline_year = models.PositiveSmallIntegerField()
    target_value = models.DecimalField(max_digits=18, decimal_places=4)
    target_year = models.PositiveSmallIntegerField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("indicator", "country")
        constraints = (
            models.UniqueConstraint(fields=["indicator", "country"], name="strategy_target_indicator_country_unique"),
        )


class Value(models.Model):
    """A country's value of an indicator for one period (a year)."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="values")
    country = models.CharField(max_length=2, db_index=True)
    period = models.PositiveSmallIntegerField()
    value = models.DecimalField(max_digits=18, decimal_places=4)
    source = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("indicator", "country", "period")
        constraints = (
            models.UniqueConstraint(
                fields=["indicator", "country", "period"], name="strategy_value_indicator_country_period_unique"
            ),
        )
