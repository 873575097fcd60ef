"""The needs demo: recorded by the country's administrator, public, idempotent."""

from __future__ import annotations

from typing import Any

from dhnet.accounts import services as accounts
from dhnet.atlas import services as atlas
from dhnet.needs import demo
from dhnet.needs.models import Need
from dhnet.platform.access import Actor


def test_demo_needs_are_recorded_once_by_the_planner(operator: Actor, tree: Any) -> None:
    accounts.create_user(operator, "demo-planner", role="digital_health_planner", orgunit_code="DE")
    atlas.appoint_country_admin(operator, "demo-planner", "DE")

    first = demo.load_demo(operator)
    assert "2 demo need(s) recorded for DE" in first
    assert "by demo-planner" in first
    needs = list(Need.objects.order_by("title"))
    assert [n.title for n in needs] == sorted(d["title"] for d in demo.NEEDS)
    assert all(n.public and n.country == "DE" and n.created_by.username == "demo-planner" for n in needs)
    assert {c.code for c in needs[1].challenges.all()} == {"1.2", "6.6", "1.3"}

    second = demo.load_demo(operator)
    assert "0 demo need(s) recorded" in second
    assert Need.objects.count() == 2


def test_demo_needs_without_the_planner_are_recorded_by_the_operator(operator: Actor, tree: Any) -> None:
    assert "by " + operator.username in demo.load_demo(operator)
    assert Need.objects.count() == 2
