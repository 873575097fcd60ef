"""The demo business case of Germany: recorded once by the demo planner (DE's administrator), shared, with a
positive NPV that pays back within its horizon; running the demo again adds nothing."""

from __future__ import annotations

import pytest

from dhnet.accounts import services as accounts
from dhnet.businesscase import demo, services
from dhnet.businesscase.models import BusinessCase, CaseVersion
from dhnet.platform.access import Actor
from tests.businesscase.helpers import appoint

pytestmark = pytest.mark.django_db


def test_demo_is_idempotent_and_recorded_by_the_planner(tree: object, operator: Actor) -> None:
    user, _ = accounts.create_user(operator, "demo-planner", role="digital_health_planner", orgunit_code="DE")
    appoint(user, "DE")
    line = demo.load_demo(operator)
    assert "recorded" in line
    assert "by demo-planner" in line
    assert "already there" in demo.load_demo(operator)
    case = BusinessCase.objects.get()
    assert (case.country, case.currency, case.shared, case.created_by_id) == ("DE", "EUR", True, user.pk)
    assert CaseVersion.objects.filter(case=case).count() == 1
    result = services.figures(case).result
    assert result.npv > 0
    assert result.payback_year is not None
    assert result.payback_year <= case.base_year + case.horizon_years - 1
    assert all("illustrative assumption" in b.assumption for b in case.benefits.all())
    assert all("illustrative assumption" in c.note for c in case.costs.all())


def test_demo_without_the_planner_is_recorded_by_the_operator(tree: object, operator: Actor) -> None:
    assert "by cli:test" in demo.load_demo(operator)
    assert BusinessCase.objects.get().created_by_id is None
