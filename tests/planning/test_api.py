"""``/api/v1/planning``: bulk targets (400 naming the row, nothing stored, retries write nothing), the gap list,
items, suggestions, needs and milestones (the same payload again: 200, no duplicate), the roadmap document."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.needs.models import Need
from dhnet.planning.models import Milestone, RoadmapItem, Target
from tests.planning.helpers import world
from tests.platform.fixtures import login


@pytest.fixture
def api(users: dict[str, User]) -> Client:
    world(users)
    return login(Client(), users["digital_health_planner"])


def send(client: Client, method: str, url: str, body: Any) -> Any:
    return client.generic(method, url, data=json.dumps(body), content_type="application/json")


def test_put_targets_all_or_nothing_and_retry(api: Client) -> None:
    rows = [
        {"indicator": "2", "target_phase": 4, "target_year": 2027, "weight": 1.5},
        {"indicator": "3", "target_phase": 4, "target_year": 2027, "weight": "heavy"},
    ]
    response = send(api, "PUT", "/api/v1/planning/DE/targets", {"rows": rows})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "rows[1].weight (indicator 3): 'heavy' is not a number",
        "code": "invalid",
    }
    assert not Target.objects.filter(indicator__code="2").exists()
    rows[1]["weight"] = 1
    first = send(api, "PUT", "/api/v1/planning/DE/targets", {"rows": rows})
    assert first.status_code == 200
    assert first.json()["changed"] == ["2", "3"]
    again = send(api, "PUT", "/api/v1/planning/DE/targets", {"rows": rows})
    assert again.json()["changed"] == []
    assert len(again.json()["targets"]) == 7
    assert Target.objects.count() == 7


def test_gaps_and_roadmap_documents(api: Client) -> None:
    gaps = api.get("/api/v1/planning/DE/gaps").json()
    assert [(g["indicator"], g["gap"], g["priority"]) for g in gaps][:2] == [("21", 3, "6.00"), ("5", 1, "3.00")]
    assert api.get("/api/v1/planning/DE/gaps?rubric=gdhm-classic").json() == []
    assert api.get("/api/v1/planning/DE/gaps?rubric=x").status_code == 400
    roadmap = api.get("/api/v1/planning/DE/roadmap").json()
    assert roadmap["title"] is None  # no roadmap yet; the gaps are there
    assert roadmap["assessment"]["year"] == 2025
    patched = send(api, "PATCH", "/api/v1/planning/DE/roadmap", {"title": "Plan 2027", "shared": True})
    assert (patched.json()["title"], patched.json()["shared"]) == ("Plan 2027", True)


def test_items_suggestions_need_and_milestones_are_idempotent(api: Client) -> None:
    body = {"indicator": "21b", "title": "Birth registration", "projects": ["DE-AAAAAA"], "actions": []}
    first = send(api, "POST", "/api/v1/planning/DE/roadmap/items", body)
    assert first.status_code == 201
    item = first.json()["id"]
    assert send(api, "POST", "/api/v1/planning/DE/roadmap/items", body).status_code == 200
    assert RoadmapItem.objects.count() == 1
    bad = send(api, "POST", "/api/v1/planning/DE/roadmap/items", body | {"title": "Other", "products": ["nope"]})
    assert bad.status_code == 400
    assert bad.json()["detail"] == "products[0]: no atlas product 'nope'"

    s = api.get(f"/api/v1/planning/DE/roadmap/items/{item}/suggestions").json()
    assert [(p["public_id"], p["reach"]) for p in s["projects"]] == [
        ("DE-AAAAAA", "country"),
        ("AT-BBBBBB", "region"),
        ("KE-CCCCCC", "other"),
    ]
    assert "cdhi-v1:3.4.2" in s["concepts"]
    actions = [a["key"] for a in s["actions"]]
    patched = send(
        api, "PATCH", f"/api/v1/planning/DE/roadmap/items/{item}", {"actions": actions[:2], "status": "done"}
    )
    assert patched.json()["actions"] == sorted(actions[:2])
    assert patched.json()["status"] == "done"

    need = api.post(f"/api/v1/planning/DE/roadmap/items/{item}/need")
    assert need.status_code == 201
    assert api.post(f"/api/v1/planning/DE/roadmap/items/{item}/need").status_code == 200
    assert Need.objects.get().source == "maturity_gap"

    m = {"title": "Pilot", "owner_user": "digital_health_planner", "due_date": "2027-02-28", "progress": 10}
    created = send(api, "POST", f"/api/v1/planning/DE/roadmap/items/{item}/milestones", m)
    assert created.status_code == 201
    assert created.json()["owner"] == "digital_health_planner"
    assert send(api, "POST", f"/api/v1/planning/DE/roadmap/items/{item}/milestones", m).status_code == 200
    assert Milestone.objects.count() == 1
    done = send(api, "PATCH", f"/api/v1/planning/DE/milestones/{created.json()['id']}", {"done": True})
    assert (done.json()["done"], done.json()["progress"], done.json()["late"]) == (True, 100, False)
    document = api.get("/api/v1/planning/DE/roadmap").json()
    assert document["items"][0]["milestones"][0]["done"] is True
    assert document["summary"]["share_done"] == 100.0


def test_unknown_ids_are_404_and_bad_bodies_4xx(api: Client) -> None:
    assert api.get("/api/v1/planning/DE/roadmap/items/999/suggestions").status_code == 404
    assert api.get("/api/v1/planning/DE/roadmap/items/abc/suggestions").status_code == 404
    assert send(api, "PATCH", "/api/v1/planning/DE/milestones/999", {"progress": 5}).status_code == 404
    assert send(api, "PATCH", "/api/v1/planning/DE/milestones/999", {"progress": 500}).status_code == 422
    assert send(api, "PUT", "/api/v1/planning/DE/targets", {"rows": "x"}).status_code == 422
    response = send(api, "PUT", "/api/v1/planning/DE/targets", {"rows": [{"indicator": "2\x00"}]})
    assert response.status_code == 400
    assert response.json()["detail"] == "rows[0].indicator: contains a NUL character"
