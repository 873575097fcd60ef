"""The feedback demo rates generated example deployments only, shows both sides of the threshold, and a second run
changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.feedback import demo, services
from dhnet.feedback.models import ExpertReview, Flag, Rating
from dhnet.platform.access import Actor
from tests.feedback.helpers import make_project

pytestmark = pytest.mark.django_db


def test_demo_rates_generated_examples_and_is_idempotent(users: dict[str, User], operator: Actor) -> None:
    real = make_project("DE-REAL01", stage="scale", description="A real system")
    first = make_project("KE-GEN001", country="KE", stage="scale", description="Something (generated example)")
    second = make_project("SN-GEN002", country="SN", stage="institutionalised", description="x (generated example)")
    accounts.create_user(operator, "demo-expert", role="expert_reviewer", orgunit_code="DE")
    accounts.create_user(operator, "demo-viewer", role="viewer", orgunit_code="R1")
    line = demo.load_demo(operator)
    assert "KE-GEN001 and SN-GEN002 rated" in line
    assert "(10 rating(s) written)" in line
    assert services.summary(first).means is not None
    assert services.summary(first).count == 7
    assert services.summary(second).count == 3
    assert services.summary(second).means is None
    assert not Rating.objects.filter(project=real).exists()
    assert all(r.text.endswith("(example rating)") for r in Rating.objects.all())
    assert Flag.objects.count() == 1
    assert ExpertReview.objects.get().project == first
    records = AuditRecord.objects.count()
    again = demo.load_demo(operator)
    assert "(0 rating(s) written); expert review unchanged" in again
    assert AuditRecord.objects.count() == records
    assert Rating.objects.count() == 10


def test_demo_without_generated_deployments(users: dict[str, Any], operator: Actor) -> None:
    assert "load the atlas demo first" in demo.load_demo(operator)
