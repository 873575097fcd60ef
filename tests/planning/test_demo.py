"""The planning demo: DE's targets and shared roadmap (two milestones done, one late), by the planner, idempotent."""

from __future__ import annotations

from typing import Any

from dhnet.accounts import services as accounts
from dhnet.atlas import services as atlas
from dhnet.audit.models import AuditRecord
from dhnet.planning import demo, services
from dhnet.planning.models import Milestone, Roadmap, RoadmapItem, Target
from dhnet.platform.access import Actor


def test_demo_roadmap_is_written_once_by_the_planner(operator: Actor, tree: Any) -> None:
    accounts.create_user(operator, "demo-planner", role="digital_health_planner", orgunit_code="DE")
    atlas.appoint_country_admin(operator, "demo-planner", "DE")

    first = demo.load_demo(operator)
    assert f"({len(demo.TARGETS)} changed)" in first
    assert "by demo-planner" in first
    roadmap = Roadmap.objects.get(country="DE", rubric__code="gdhm-current")
    assert roadmap.shared
    assert Target.objects.filter(country="DE").count() == len(demo.TARGETS)
    assert RoadmapItem.objects.count() == len(demo.ITEMS)
    view = services.roadmap_view(operator, "DE", "gdhm-current")
    assert (view.summary.milestones, view.summary.done, view.summary.late) == (6, 2, 1)
    assert RoadmapItem.objects.get(indicator__code="15").actions.count() == 2  # the top suggestions linked
    assert RoadmapItem.objects.get(indicator__code="21").need.source == "maturity_gap"  # type: ignore[union-attr]
    assert all(m.item.roadmap.created_by.username == "demo-planner" for m in Milestone.objects.all())  # type: ignore[union-attr]

    records = AuditRecord.objects.count()
    second = demo.load_demo(operator)
    assert "(0 changed)" in second
    assert "(0 new)" in second
    assert AuditRecord.objects.count() == records  # nothing written again
    assert Milestone.objects.count() == 6


def test_demo_without_the_planner_is_written_by_the_operator(operator: Actor, tree: Any) -> None:
    assert "by " + operator.username in demo.load_demo(operator)
    assert RoadmapItem.objects.count() == len(demo.ITEMS)
