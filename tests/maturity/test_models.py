"""What the database itself guarantees: one assessment per (country, year, rubric), one answer per indicator,
phases only -1 or 1..5, and a publication is never changed."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from dhnet.accounts.models import User
from dhnet.atlas.models import CountryAdmin
from dhnet.maturity import services
from dhnet.maturity.models import Answer, Assessment, Indicator, PublishedScore
from dhnet.platform.access import Actor
from tests.maturity.assess_world import RUBRIC, filled, make_rubric, people, published
from tests.platform.fixtures import actor_of


@pytest.fixture
def who(users: dict[str, User]) -> dict[str, Actor]:
    make_rubric()
    return people(users)


def test_one_assessment_per_country_year_and_rubric(who: dict[str, Actor]) -> None:
    first = filled(who["digital_health_planner"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Assessment.objects.create(public_id="MA-222222", country="DE", year=first.year, rubric=first.rubric)


@pytest.mark.parametrize("phase", [0, 6, -2])
def test_the_database_refuses_other_phases(who: dict[str, Actor], phase: int) -> None:
    assessment = filled(who["digital_health_planner"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.filter(assessment=assessment, indicator__code="1").update(phase=phase)


def test_one_answer_per_indicator(who: dict[str, Actor]) -> None:
    assessment = filled(who["digital_health_planner"])
    indicator = Indicator.objects.get(rubric=assessment.rubric, code="2")
    with pytest.raises(IntegrityError), transaction.atomic():
        Answer.objects.create(assessment=assessment, indicator=indicator, phase=1)


def test_a_publication_is_never_changed(who: dict[str, Actor]) -> None:
    published(who["digital_health_planner"], who["system_admin"])
    row = PublishedScore.objects.get()
    row.overall_phase = 5
    with pytest.raises(ValueError, match="never changed"):
        row.save()
    row.refresh_from_db()
    assert row.overall_phase == 4


def test_administers(who: dict[str, Actor], users: dict[str, User]) -> None:
    planner = who["digital_health_planner"]
    assert services.administers(planner, "DE")
    assert services.administers(planner, "de")
    assert not services.administers(planner, "KE")
    assert services.administers(who["knowledge_manager"], "KE")  # holds atlas:registry:manage
    assert not services.administers(who["expert_reviewer"], "DE")
    assert not services.administers(Actor.anonymous(), "DE")
    CountryAdmin.objects.create(user=users["digital_health_planner"], country="KE")
    assert services.administers(actor_of(users["digital_health_planner"]), "KE")
    assert services.administered_countries(planner) == ["DE", "KE"]
    assert services.administered_countries(who["system_admin"]) is None  # every country


def test_the_shipped_rubrics_open_an_assessment(who: dict[str, Actor]) -> None:
    """The rubrics loaded by the data migration work with the workflow (gdhm-current is the default)."""
    planner = who["digital_health_planner"]
    assessment, _ = services.open_assessment(planner, "DE", 2025)
    assert assessment.rubric.code == "gdhm-current"
    top = Indicator.objects.filter(rubric=assessment.rubric, parent__isnull=True).count()
    assert services.form(assessment).total == top == 23
    classic, _ = services.open_assessment(planner, "DE", 2025, "classic")
    assert services.form(classic).total == 19
    assert RUBRIC not in ("gdhm-current", "gdhm-classic")
