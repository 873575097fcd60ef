"""A small rubric and the people of the assessment tests (the shipped GDHM rubrics are the rubric tests' business).

The rubric ``mini``: component 1 "Governance" with indicators 1 (sub-indicator 1a) and 2; component 2 "Workforce"
with indicator 3. The digital health planner is DE's country administrator; the knowledge manager manages the whole
registry (administers every country) but may not write assessments; the system administrator holds everything.
"""

from __future__ import annotations

from typing import Any

from dhnet.accounts.models import User
from dhnet.atlas.models import CountryAdmin
from dhnet.maturity import services
from dhnet.maturity.models import Assessment, Component, Indicator, PhaseDefinition, Rubric
from dhnet.platform.access import Actor
from tests.platform.fixtures import actor_of

RUBRIC = "mini"
TOP = ("1", "2", "3")


def make_rubric(code: str = RUBRIC) -> Rubric:
    """The ``mini`` rubric (idempotent)."""
    rubric, created = Rubric.objects.get_or_create(code=code, defaults={"name": "Mini rubric", "source": "tests"})
    if not created:
        return rubric
    governance = Component.objects.create(rubric=rubric, position=1, name="Governance")
    workforce = Component.objects.create(rubric=rubric, position=2, name="Workforce")
    rows = [("1", governance, None, "Strategy"), ("1a", governance, "1", "Strategy costed")]
    rows += [("2", governance, None, "Legislation"), ("3", workforce, None, "Training")]
    made: dict[str, Indicator] = {}
    for position, (icode, component, parent, name) in enumerate(rows, start=1):
        made[icode] = Indicator.objects.create(
            rubric=rubric,
            component=component,
            code=icode,
            parent=made.get(parent) if parent else None,
            position=position,
            name=name,
            question=f"How far is {name.lower()}?",
        )
        for phase in range(1, 6):
            PhaseDefinition.objects.create(indicator=made[icode], phase=phase, text=f"{name}: level {phase}")
    return rubric


def people(users: dict[str, User]) -> dict[str, Actor]:
    """Actors by role, with the planner appointed administrator of DE."""
    CountryAdmin.objects.get_or_create(user=users["digital_health_planner"], country="DE")
    return {role: actor_of(user) for role, user in users.items()}


def filled(actor: Actor, year: int = 2025, country: str = "DE", phases: dict[str, Any] | None = None) -> Assessment:
    """A DE assessment with every indicator answered (default 3, 2, 4 and 1a = 5)."""
    make_rubric()
    assessment, _ = services.open_assessment(actor, country, year, RUBRIC)
    services.answer(actor, assessment.public_id, phases or {"1": 3, "1a": 5, "2": 2, "3": 4})
    return assessment


def published(planner: Actor, approver: Actor, year: int = 2025, phases: dict[str, Any] | None = None) -> Assessment:
    """A DE assessment filled and submitted by ``planner``, approved and published by ``approver``."""
    assessment = filled(planner, year, phases=phases)
    services.submit(planner, assessment.public_id)
    services.approve(approver, assessment.public_id)
    services.publish(approver, assessment.public_id)
    assessment.refresh_from_db()
    return assessment
