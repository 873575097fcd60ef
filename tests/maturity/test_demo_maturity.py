"""The maturity demo: Germany's three years through the real workflow (planner opens, focal point fills through the
link with evidence, planner submits, expert comments, another administrator approves and publishes), the
synthetic peer set (deterministic, marked synthetic in the data and on the pages), and idempotence."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dhnet.accounts import services as accounts
from dhnet.audit.models import AuditRecord
from dhnet.maturity import demo, services
from dhnet.maturity.models import Answer, Assessment, Evidence, FocalPointLink, PublishedScore, ReviewComment
from dhnet.network import services as network
from dhnet.platform.access import Actor


@pytest.fixture
def demo_users(tree: Any, operator: Actor) -> None:
    for username, role in (
        (demo.PLANNER, "digital_health_planner"),
        (demo.EXPERT, "expert_reviewer"),
        (demo.APPROVER, "system_admin"),
    ):
        accounts.create_user(operator, username, role=role, orgunit_code="DE")


def test_demo_takes_germany_through_the_workflow_and_adds_synthetic_peers(demo_users: None, operator: Actor) -> None:
    line = demo.load_demo(operator)
    assert "DE 2023 published, 2024 published, 2025 published" in line
    assert "88 publication(s) written for 44 countries" in line
    germany = {a.year: a for a in Assessment.objects.filter(country="DE").select_related("submitted_by")}
    assert sorted(germany) == [2023, 2024, 2025]
    for year, a in germany.items():
        assert a.status == "published"
        assert a.created_by is not None
        assert a.created_by.username == demo.PLANNER
        assert a.submitted_by is not None
        assert a.submitted_by.username == demo.PLANNER
        assert a.approved_by is not None
        assert a.approved_by.username == demo.APPROVER
        assert ReviewComment.objects.filter(assessment=a, author__username=demo.EXPERT).exists()
        assert Answer.objects.filter(assessment=a, answered_by=f"focal point {demo.FOCAL_EMAIL}").exists()
        assert FocalPointLink.objects.filter(assessment=a, revoked_at__isnull=False).count() == 1
        published = PublishedScore.objects.get(assessment=a)
        assert "synthetic" not in published.snapshot
        assert services.indicator_phases(published)["1"] == (3 if year == 2023 else 4)
    assert germany[2024].shared_from == germany[2023]
    assert germany[2025].shared_from == germany[2024]
    # evidence added through the link, and carried into the next year's copy
    assert Evidence.objects.filter(answer__assessment=germany[2023]).count() == 3
    assert Evidence.objects.filter(answer__assessment=germany[2025]).count() == 6
    # the overall score rises year by year
    scores = [PublishedScore.objects.get(assessment=germany[y]).overall_score for y in (2023, 2024, 2025)]
    assert scores == sorted(scores)
    assert scores[0] < scores[-1]
    # synthetic peers: every WHO region, every publication marked, every answer says so
    synthetic = PublishedScore.objects.exclude(assessment__country="DE")
    assert synthetic.count() == 88
    assert all(p.snapshot["synthetic"] is True for p in synthetic)
    assert {network.who_region(p.assessment.country) for p in synthetic} == set(network.who_regions())
    assert not Answer.objects.exclude(assessment__country="DE").exclude(note=demo.SYNTHETIC_NOTE).exists()
    assert AuditRecord.objects.filter(action="maturity.demo.synthetic").count() == 1
    # a second run changes nothing
    before = (PublishedScore.objects.count(), AuditRecord.objects.count())
    again = demo.load_demo(operator)
    assert "2023 already published, 2024 already published, 2025 already published" in again
    assert "0 publication(s) written" in again
    assert (PublishedScore.objects.count(), AuditRecord.objects.count()) == before
    # the pages say which scores are synthetic
    client = Client()
    compare = client.get("/maturity/compare/").content.decode()
    assert "44 of these scores are synthetic" in compare
    assert compare.count('</a> <span class="synthetic">synthetic</span>') == 44
    profile = client.get("/maturity/countries/KE/").content.decode()
    assert 'id="synthetic-note"' in profile
    assert 'id="synthetic-note"' not in client.get("/maturity/countries/DE/").content.decode()
    assert client.get("/api/v1/maturity/countries/KE/profile").json()["current"]["synthetic"] is True


def test_synthetic_answers_are_deterministic_and_valid() -> None:
    codes = ["1", "2", "2a", "3", "21c"] * 4
    first = demo.synthetic_answers("KE", 2025, codes)
    assert first == demo.synthetic_answers("KE", 2025, codes)
    assert set(first.values()) <= {-1, 1, 2, 3, 4, 5}
    assert demo.synthetic_answers("JP", 2025, codes) != first
    assert demo.synthetic_public_id("KE", 2025) == demo.synthetic_public_id("KE", 2025)
    assert services.PUBLIC_ID_RE.match(demo.synthetic_public_id("KE", 2025))
    assert len({demo.synthetic_public_id(c, y) for cs in demo.PEERS.values() for c in cs for y in (2024, 2025)}) == 88
    assert "DE" not in {c for cs in demo.PEERS.values() for c in cs}
    for region, countries in demo.PEERS.items():
        assert all(network.who_region(c) == region for c in countries), region


def test_demo_without_the_demo_users_is_played_by_the_operator(db: Any, operator: Actor) -> None:
    line = demo.load_demo(operator)
    assert f"by {operator.username}, approved by {operator.username}" in line
    assert PublishedScore.objects.filter(assessment__country="DE").count() == 3


def test_map_says_how_many_scores_are_synthetic(db: Any, operator: Actor) -> None:
    demo.load_demo(operator)
    html = Client().get("/maturity/map/?region=AFR").content.decode()
    assert "8 of these countries' scores are synthetic" in html.replace("&#x27;", "'")
    assert "8 of the coloured countries" not in html  # that sentence is the region page's
    region = Client().get("/maturity/regions/AFR/").content.decode()
    assert "8 of the coloured countries are synthetic" in region
