"""The assessment pages: the fill page (components, phase definitions next to the radio buttons, progress, evidence)
saves through a plain form post, the focal point's page through the link, the link shown once, review and decisions,
history; errors are pages with the message, never a 500."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dhnet.accounts.models import User
from dhnet.maturity import services
from dhnet.maturity.models import Answer, Assessment, Evidence
from dhnet.platform.access import Actor
from tests.maturity.assess_world import RUBRIC, filled, make_rubric, people, published
from tests.platform.fixtures import login


@pytest.fixture
def who(users: dict[str, User], settings: Any, tmp_path: Path) -> dict[str, Actor]:
    settings.CONFIG = dataclasses.replace(settings.CONFIG, data_dir=tmp_path)
    make_rubric()
    return people(users)


def test_open_and_fill_through_the_pages(who: dict[str, Actor], users: dict[str, User]) -> None:
    client = login(Client(), users["digital_health_planner"])
    form = client.get("/maturity/assessments/").content.decode()
    assert 'action="/maturity/assessments/new/"' in form
    opened = client.post("/maturity/assessments/new/", {"country": "de", "year": "2025", "rubric": RUBRIC})
    pid = Assessment.objects.get().public_id
    assert opened["Location"] == f"/maturity/assessments/{pid}/"
    page = client.get(opened["Location"]).content.decode()
    assert "0 of 3 answered" in page
    assert '<progress value="0" max="3">' in page
    assert "<h2>1. Governance</h2>" in page
    assert "<h2>2. Workforce</h2>" in page
    # the phase definition sits in the label of its radio button
    assert re.search(r'name="phase_1" value="3"> <strong>Phase 3</strong> — Strategy: level 3</label>', page)
    assert 'name="phase_1" value="-1"' in page
    saved = client.post(f"/maturity/assessments/{pid}/answers/", {"phase_1": "3", "note_1": "adopted", "phase_3": "-1"})
    assert saved.status_code == 302
    assert dict(Answer.objects.filter(phase__isnull=False).values_list("indicator__code", "phase")) == {"1": 3, "3": -1}
    page = client.get(f"/maturity/assessments/{pid}/").content.decode()
    assert "2 of 3 answered" in page
    assert 'value="3" checked' in page
    assert "Still to answer before submitting: 2" in page
    bad = client.post(f"/maturity/assessments/{pid}/answers/", {"phase_2": "9"})
    assert bad.status_code == 400
    assert "answers[2].phase: 9 is not -1" in bad.content.decode()
    upload = SimpleUploadedFile("plan.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")
    client.post(f"/maturity/assessments/{pid}/evidence/", {"indicator": "1", "kind": "document", "document": upload})
    assert Evidence.objects.get().filename == "plan.pdf"
    assert "plan.pdf" in client.get(f"/maturity/assessments/{pid}/").content.decode()
    refused = client.post(f"/maturity/assessments/{pid}/submit/")
    assert refused.status_code == 400
    assert "indicators not answered (a phase or not available): 2" in refused.content.decode()


def test_the_focal_point_fills_through_the_link(who: dict[str, Actor], users: dict[str, User]) -> None:
    client = login(Client(), users["digital_health_planner"])
    assessment, _ = services.open_assessment(who["digital_health_planner"], "DE", 2025, RUBRIC)
    shown = client.post(f"/maturity/assessments/{assessment.public_id}/links/", {"name": "Ada", "email": "a@ex.org"})
    url = re.search(r'<code id="link">(http[^<]+)</code>', shown.content.decode())
    assert url is not None
    path = url.group(1).removeprefix("http://testserver")
    assert url.group(1) not in client.get(f"/maturity/assessments/{assessment.public_id}/").content.decode()
    focal = Client()
    response = focal.get(path)
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "You are filling this assessment as <strong>Ada</strong>" in page
    assert f'action="{path}answers/"' in page
    assert focal.post(f"{path}answers/", {"phase_2": "4", "note_2": "law of 2020"}).status_code == 302
    focal.post(f"{path}evidence/", {"indicator": "2", "kind": "link", "url": "https://example.org/law"})
    row = Answer.objects.get(indicator__code="2")
    assert (row.phase, row.note, row.answered_by) == (4, "law of 2020", "focal point a@ex.org")
    assert Evidence.objects.get().added_by == "focal point a@ex.org"
    assert "Workflow" not in page  # no workflow buttons or links for the focal point


def test_review_decide_publish_and_history_pages(who: dict[str, Actor], users: dict[str, User]) -> None:
    admin = login(Client(), users["system_admin"])
    reviewer = login(Client(), users["expert_reviewer"])
    pid = filled(who["digital_health_planner"]).public_id
    services.submit(who["digital_health_planner"], pid)
    assert pid in reviewer.get("/maturity/review/").content.decode()
    reviewer.post(f"/maturity/assessments/{pid}/comments/", {"text": "source for 3?", "indicator": "3"})
    assert "source for 3?" in admin.get(f"/maturity/assessments/{pid}/").content.decode()
    unknown = admin.post(f"/maturity/assessments/{pid}/decide/", {"action": "delete"})
    assert unknown.status_code == 400
    assert "action: &#x27;delete&#x27; is not one of approve, return, publish" in unknown.content.decode()
    admin.post(f"/maturity/assessments/{pid}/decide/", {"action": "approve"})
    admin.post(f"/maturity/assessments/{pid}/decide/", {"action": "publish"})
    history = Client().get(f"/maturity/assessments/{pid}/history/").content.decode()
    assert "<td>3.25</td><td>4</td>" in history
    assert "2.50 (phase 3)" in history


def test_history_lists_other_years(who: dict[str, Actor]) -> None:
    planner, admin = who["digital_health_planner"], who["system_admin"]
    old = published(planner, admin, 2023)
    new = filled(planner, 2024)
    anonymous = Client().get(f"/maturity/assessments/{old.public_id}/history/").content.decode()
    assert f"/maturity/assessments/{new.public_id}/" not in anonymous  # a draft year is not shown to the public
    planner_client = login(Client(), User.objects.get(username="digital_health_planner"))
    assert (
        f"/maturity/assessments/{new.public_id}/"
        in planner_client.get(f"/maturity/assessments/{old.public_id}/history/").content.decode()
    )


def test_a_reopened_assessment_shows_the_public_its_publications(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    pid = published(planner, who["system_admin"]).public_id
    services.reopen(planner, pid, "indicator 3 mis-scored")
    response = Client().get(f"/maturity/assessments/{pid}/")
    assert response.status_code == 302
    assert response["Location"] == f"/maturity/assessments/{pid}/history/"
    assert "<td>3.25</td><td>4</td>" in Client().get(response["Location"]).content.decode()
    assert Client().get("/maturity/assessments/MA-222222/").status_code == 404
