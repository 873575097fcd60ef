"""The assessment API end to end: bad input is a 4xx naming the field and stores nothing, retries never duplicate,
a focal point works through the link's token alone, and the published snapshot is public."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.maturity.models import Answer, Assessment, Evidence, FocalPointLink, PublishedScore, ReviewComment
from tests.maturity.assess_world import RUBRIC, make_rubric, people
from tests.platform.fixtures import login


@pytest.fixture
def clients(users: dict[str, User], settings: Any, tmp_path: Path) -> dict[str, Client]:
    settings.CONFIG = dataclasses.replace(settings.CONFIG, data_dir=tmp_path)
    make_rubric()
    people(users)
    return {role: login(Client(), user) for role, user in users.items()}


def _send(client: Client, method: str, url: str, body: Any = None) -> Any:
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data=data, content_type="application/json")


def _open(client: Client, year: int = 2025) -> str:
    response = _send(client, "POST", "/api/v1/maturity/assessments", {"country": "DE", "year": year, "rubric": RUBRIC})
    assert response.status_code in (200, 201), response.content
    return str(response.json()["public_id"])


def test_the_whole_workflow_through_the_api(clients: dict[str, Client]) -> None:
    planner, admin, reviewer = clients["digital_health_planner"], clients["system_admin"], clients["expert_reviewer"]
    pid = _open(planner)
    assert _open(planner) == pid  # a retry returns the same assessment (200)
    base = f"/api/v1/maturity/assessments/{pid}"
    answers = {"answers": {"1": {"phase": 3, "note": "adopted"}, "1a": {"phase": 5}, "2": {"phase": 2}}}
    first = _send(planner, "PUT", f"{base}/answers", answers).json()
    again = _send(planner, "PUT", f"{base}/answers", answers).json()
    assert (first["changed"], first["answered"], first["total"]) == (["1", "1a", "2"], 2, 3)
    assert again["changed"] == []
    refused = _send(planner, "POST", f"{base}/submit")
    assert refused.status_code == 400
    assert refused.json()["detail"] == "answers: indicators not answered (a phase or not available): 3"
    _send(planner, "PUT", f"{base}/answers", {"answers": {"3": {"phase": 4}}})
    assert _send(planner, "POST", f"{base}/submit").json()["status"] == "submitted"
    comment = _send(reviewer, "POST", f"{base}/comments", {"text": "cite the law", "indicator": "2"})
    assert comment.status_code == 201
    assert _send(reviewer, "POST", f"{base}/comments", {"text": "cite the law", "indicator": "2"}).status_code == 200
    assert ReviewComment.objects.count() == 1
    four_eyes = _send(planner, "POST", f"{base}/approve")
    assert four_eyes.status_code == 403
    assert "four eyes" in four_eyes.json()["detail"]
    assert _send(admin, "POST", f"{base}/approve").json()["status"] == "approved"
    published = _send(admin, "POST", f"{base}/publish").json()
    assert (published["overall_score"], published["overall_phase"], published["version"]) == (3.25, 4, 1)
    public = Client().get(base).json()
    assert public["status"] == "published"
    assert [(c["name"], c["phase"]) for c in public["components"]] == [("Governance", 3), ("Workforce", 4)]
    assert [a["phase"] for a in public["answers"]] == [3, 5, 2, 4]
    assert len(Client().get(f"{base}/publications").json()) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"answers": {"1": {"phase": 3}, "8": {"phase": 2}}}, "answers[8]: no indicator '8' in rubric mini"),
        ({"answers": {"1": {"phase": 3}, "2": {"phase": 7}}}, "answers[2].phase: 7 is not -1 (not available) or 1..5"),
        ({"answers": {"1": {"phase": 3, "note": "a\u0000b"}}}, "answers[1].note: contains a NUL character"),
    ],
)
def test_bad_answers_name_the_field_and_store_nothing(clients: dict[str, Client], body: Any, message: str) -> None:
    planner = clients["digital_health_planner"]
    pid = _open(planner)
    response = _send(planner, "PUT", f"/api/v1/maturity/assessments/{pid}/answers", body)
    assert response.status_code == 400
    assert response.json()["detail"] == message
    assert not Answer.objects.filter(phase__isnull=False).exists()


def test_malformed_json_and_types_are_4xx(clients: dict[str, Client]) -> None:
    planner = clients["digital_health_planner"]
    pid = _open(planner)
    url = f"/api/v1/maturity/assessments/{pid}/answers"
    assert planner.generic("PUT", url, data="{not json", content_type="application/json").status_code in (400, 422)
    assert _send(planner, "PUT", url, {"answers": {"1": {"phase": "three"}}}).status_code == 422
    assert _send(planner, "POST", "/api/v1/maturity/assessments", {"country": "DE"}).status_code == 422
    bad_year = _send(planner, "POST", "/api/v1/maturity/assessments", {"country": "DE", "year": 1800, "rubric": RUBRIC})
    assert (bad_year.status_code, bad_year.json()["detail"]) == (
        400,
        f"year: 1800 is outside 2000..{timezone.now().year + 1}",
    )
    assert Assessment.objects.count() == 1


def test_evidence_through_the_api(clients: dict[str, Client]) -> None:
    planner = clients["digital_health_planner"]
    pid = _open(planner)
    url = f"/api/v1/maturity/assessments/{pid}/evidence"
    pdf = base64.b64encode(b"%PDF-1.7\n%%EOF\n").decode()
    body = {"indicator": "1", "kind": "document", "filename": "law.pdf", "content_base64": pdf}
    first, again = _send(planner, "POST", url, body), _send(planner, "POST", url, body)
    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, first.json()["id"])
    bad = _send(planner, "POST", url, {**body, "content_base64": "***"})
    assert (bad.status_code, bad.json()["detail"]) == (400, "content_base64: not valid base64")
    fake = _send(planner, "POST", url, {**body, "content_base64": base64.b64encode(b"GIF89a").decode()})
    assert (fake.status_code, fake.json()["detail"]) == (400, "document: the content of 'law.pdf' is not a pdf file")
    link = _send(planner, "POST", url, {"indicator": "1", "kind": "link", "url": "file:///etc/passwd"})
    assert (link.status_code, link.json()["detail"]) == (400, "url: 'file:///etc/passwd' is not an http(s) URL")
    assert Evidence.objects.count() == 1
    big = SimpleUploadedFile("big.pdf", b"%PDF-" + b"x" * 3_000_000, content_type="application/pdf")
    uploaded = planner.post(f"/api/v1/maturity/assessments/{pid}/documents", {"indicator": "2", "file": big})
    assert (uploaded.status_code, uploaded.json()["size"]) == (201, 3_000_005)
    no_indicator = planner.post(f"/api/v1/maturity/assessments/{pid}/documents", {"file": big})
    assert no_indicator.status_code == 422
    assert Evidence.objects.count() == 2
    download = planner.get(f"/maturity/assessments/{pid}/evidence/{first.json()['id']}/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == 'attachment; filename="law.pdf"'


def test_a_focal_point_through_the_api(clients: dict[str, Client]) -> None:
    planner = clients["digital_health_planner"]
    pid = _open(planner)
    invited = _send(planner, "POST", f"/api/v1/maturity/assessments/{pid}/links", {"name": "Ada", "email": "a@ex.org"})
    assert invited.status_code == 201
    token = invited.json()["token"]
    assert invited.json()["url"].endswith(f"/maturity/fill/{token}/")
    assert "token" not in _send(planner, "GET", f"/api/v1/maturity/assessments/{pid}/links").json()[0]
    anonymous = Client()
    shown = anonymous.get(f"/api/v1/maturity/fill/{token}").json()
    assert (shown["public_id"], shown["total"]) == (pid, 3)
    saved = _send(anonymous, "PUT", f"/api/v1/maturity/fill/{token}/answers", {"answers": {"2": {"phase": -1}}})
    assert saved.json()["changed"] == ["2"]
    assert Answer.objects.get(indicator__code="2").answered_by == "focal point a@ex.org"
    link_id = FocalPointLink.objects.get().pk
    assert _send(planner, "DELETE", f"/api/v1/maturity/assessments/{pid}/links/{link_id}").json()["revoked_at"]
    refused = anonymous.get(f"/api/v1/maturity/fill/{token}")
    assert refused.status_code == 403
    assert "revoked" in refused.json()["detail"]


def test_reopen_keeps_the_published_version_public(clients: dict[str, Client]) -> None:
    planner, admin = clients["digital_health_planner"], clients["system_admin"]
    pid = _open(planner, 2024)
    base = f"/api/v1/maturity/assessments/{pid}"
    _send(planner, "PUT", f"{base}/answers", {"answers": {"1": {"phase": 1}, "2": {"phase": 1}, "3": {"phase": 1}}})
    _send(planner, "POST", f"{base}/submit")
    _send(admin, "POST", f"{base}/approve")
    _send(admin, "POST", f"{base}/publish")
    no_reason = _send(planner, "POST", f"{base}/reopen", {"reason": ""})
    assert (no_reason.status_code, no_reason.json()["detail"]) == (400, "reason: required")
    assert _send(planner, "POST", f"{base}/reopen", {"reason": "typo"}).json()["version"] == 2
    assert Client().get(base).status_code == 404  # the draft of version 2 is not public ...
    publications = Client().get(f"{base}/publications").json()
    assert [p["version"] for p in publications] == [1]  # ... version 1 stays published
    assert PublishedScore.objects.count() == 1
