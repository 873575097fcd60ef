"""The registry API: idempotent creation, errors naming the field (never a 500), workflow, versions and diff."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from dhnet.atlas.models import CountryAdmin, Project, RecordVersion
from dhnet.platform.access import Actor
from tests.atlas.helpers import PRODUCT, make_world, project_payload
from tests.platform.fixtures import login


@pytest.fixture
def world(operator: Actor, users: dict[str, Any]) -> dict[str, Any]:
    world = make_world(operator)
    CountryAdmin.objects.create(user=users["digital_health_planner"], country="DE")
    return world


def _send(client: Client, method: str, url: str, body: Any = None) -> Any:
    return client.generic(
        method, url, data=json.dumps(body) if body is not None else "", content_type="application/json"
    )


def test_create_is_idempotent_and_errors_are_named(world: dict[str, Any], users: dict[str, Any]) -> None:
    client = login(Client(), users["partner"])
    first = _send(client, "POST", "/api/v1/atlas/projects", project_payload())
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["status"] == "draft"
    assert body["budget"][0]["amount"] == "120000.00"
    again = _send(client, "POST", "/api/v1/atlas/projects", project_payload())
    assert again.status_code == 200
    assert again.json()["public_id"] == body["public_id"]
    assert Project.objects.count() == 1
    bad = project_payload(name="Other", budget=[{"phase": "deployment", "year": 1890, "amount": "1"}])
    refused = _send(client, "POST", "/api/v1/atlas/projects", bad)
    assert refused.status_code == 400
    assert refused.json() == {"detail": "budget[0].year: 1890 is before 1990", "code": "invalid"}
    typed = _send(client, "POST", "/api/v1/atlas/projects", {**project_payload(name="T"), "coverage": "everywhere"})
    assert typed.status_code == 422
    assert Project.objects.count() == 1


def test_workflow_versions_and_diff_over_the_api(world: dict[str, Any], users: dict[str, Any]) -> None:
    partner = login(Client(), users["partner"])
    planner = login(Client(), users["digital_health_planner"])
    pid = _send(partner, "POST", "/api/v1/atlas/projects", project_payload()).json()["public_id"]
    assert Client().get(f"/api/v1/atlas/projects/{pid}").status_code == 404
    patched = _send(partner, "PATCH", f"/api/v1/atlas/projects/{pid}", {"stage": "pilot", "summary": "pilot first"})
    assert patched.json()["version"] == 2
    assert _send(partner, "POST", f"/api/v1/atlas/projects/{pid}/submit").json()["status"] == "submitted"
    frozen = _send(partner, "PATCH", f"/api/v1/atlas/projects/{pid}", {"stage": "scale"})
    assert frozen.status_code == 403
    assert _send(planner, "POST", f"/api/v1/atlas/projects/{pid}/approve", {"note": "ok"}).status_code == 200
    published = _send(planner, "POST", f"/api/v1/atlas/projects/{pid}/publish")
    assert published.json()["status"] == "published"
    anonymous = Client().get(f"/api/v1/atlas/projects/{pid}").json()
    assert anonymous["contact_email"] == ""
    assert anonymous["current"] is True
    versions = partner.get(f"/api/v1/atlas/projects/{pid}/versions").json()
    assert [(v["version"], v["status"]) for v in versions] == [
        (1, "draft"),
        (2, "draft"),
        (3, "submitted"),
        (4, "approved"),
        (5, "published"),
    ]
    assert versions[1]["summary"] == "pilot first"
    diff = partner.get(f"/api/v1/atlas/projects/{pid}/diff?a=1&b=2").json()
    assert diff == [{"field": "stage", "before": "scale", "after": "pilot", "added": [], "removed": []}]
    assert [v["version"] for v in Client().get(f"/api/v1/atlas/projects/{pid}/versions").json()] == [5]
    assert Client().get(f"/api/v1/atlas/projects/{pid}/versions/5").json()["snapshot"]["contact_email"] == ""
    no_reason = _send(planner, "POST", f"/api/v1/atlas/projects/{pid}/archive", {"note": " "})
    assert no_reason.status_code == 400


def test_products_api(world: dict[str, Any], users: dict[str, Any]) -> None:
    client = login(Client(), users["partner"])
    again = _send(client, "POST", "/api/v1/atlas/products", PRODUCT)
    assert again.status_code == 200
    conflict = _send(client, "POST", "/api/v1/atlas/products", {**PRODUCT, "name": "Something else"})
    assert conflict.status_code == 409
    patched = _send(client, "PATCH", "/api/v1/atlas/products/dhis2", {"maturity": "established"})
    assert patched.json()["version"] == 2
    same = _send(client, "PATCH", "/api/v1/atlas/products/dhis2", {"maturity": "established"})
    assert same.json()["version"] == 2
    assert RecordVersion.objects.filter(kind="product").count() == 2
    assert Client().get("/api/v1/atlas/products?q=health").json()[0]["slug"] == "dhis2"
    assert Client().get("/api/v1/atlas/products/nothing").status_code == 404
    assert Client().get("/api/v1/atlas/products", HTTP_AUTHORIZATION="Bearer dhn_wrong").status_code == 401
    used = _send(login(Client(), users["knowledge_manager"]), "DELETE", "/api/v1/atlas/products/dhis2")
    assert used.status_code == 204  # no project uses it yet


def test_nul_and_odd_identifiers_are_404_not_500(world: dict[str, Any], users: dict[str, Any]) -> None:
    client = login(Client(), users["knowledge_manager"])
    for url in ("/api/v1/atlas/projects/DE-%00", "/api/v1/atlas/products/a%00b", "/api/v1/atlas/projects/x/versions"):
        assert client.get(url).status_code == 404, url
    assert client.get("/atlas/projects/DE-%00/").status_code == 404
    assert client.get("/atlas/products/a%00b/history/").status_code == 404


def test_contact_email_changes_are_for_signed_in_users(world: dict[str, Any], users: dict[str, Any]) -> None:
    planner = login(Client(), users["digital_health_planner"])
    pid = _send(planner, "POST", "/api/v1/atlas/projects", project_payload()).json()["public_id"]
    for step in ("submit", "approve", "publish"):
        assert _send(planner, "POST", f"/api/v1/atlas/projects/{pid}/{step}", {}).status_code == 200
    edited = _send(planner, "PATCH", f"/api/v1/atlas/projects/{pid}", {"contact_email": "new@example.org"})
    assert edited.json()["status"] == "published"  # an administrator's edit stays published
    assert edited.json()["version"] == 5
    signed_in = planner.get(f"/api/v1/atlas/projects/{pid}/diff?a=4&b=5").json()
    assert [c["field"] for c in signed_in] == ["contact_email"]
    assert Client().get(f"/api/v1/atlas/projects/{pid}/diff?a=4&b=5").json() == []
    page = Client().get(f"/atlas/projects/{pid}/diff/?a=4&b=5").content.decode()
    assert "new@example.org" not in page
