"""The needs API on the small registry: shapes, status codes, bad input named (never a 500), idempotent retries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.needs.models import MatchDecision, Need
from dhnet.platform.access import Actor
from tests.needs.helpers import NEED, appoint, make_registry
from tests.platform.fixtures import actor_of, login


@pytest.fixture
def planner(users: dict[str, User]) -> Client:
    appoint(users["digital_health_planner"], "KE")
    make_registry()
    return login(Client(), users["digital_health_planner"])


def _post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_record_match_decide(planner: Client) -> None:
    created = _post(planner, "/api/v1/needs", NEED)
    assert created.status_code == 201, created.content
    need = created.json()
    assert need["challenges"] == ["hsc:1.2", "hsc:2.1"]
    assert need["budget"] == "100000.00"
    again = _post(planner, "/api/v1/needs", NEED)
    assert again.status_code == 200
    assert again.json()["public_id"] == need["public_id"]
    pid = need["public_id"]
    matches = planner.get(f"/api/v1/needs/{pid}/matches?limit=3").json()
    assert [m["ref"] for m in matches] == ["KE-AAAAAA", "dhis2", "UG-CCCCCC"]
    top = matches[0]
    assert top["score"] == 80.0
    assert [p["name"] for p in top["parts"]][:2] == ["interventions", "standards"]
    assert sum(p["points"] for p in top["parts"]) == pytest.approx(0.8)
    assert top["decision"] is None
    body = {"kind": "project", "ref": "KE-AAAAAA", "decision": "accepted", "score": 80.0}
    assert _post(planner, f"/api/v1/needs/{pid}/decisions", body).status_code == 201
    assert _post(planner, f"/api/v1/needs/{pid}/decisions", body).status_code == 200
    assert MatchDecision.objects.count() == 1
    history = planner.get(f"/api/v1/needs/{pid}/decisions").json()
    assert [(d["candidate"], d["decision"], d["decided_by"]) for d in history] == [
        ("project:KE-AAAAAA", "accepted", "digital_health_planner")
    ]
    assert planner.get(f"/api/v1/needs/{pid}/matches?limit=1").json()[0]["decision"]["decision"] == "accepted"
    patched = planner.patch(
        f"/api/v1/needs/{pid}", json.dumps({"public": True, "languages": ["sw"]}), content_type="application/json"
    )
    assert patched.status_code == 200
    assert patched.json()["languages"] == ["sw"]
    assert Client().get(f"/api/v1/needs/{pid}").status_code == 200  # public now
    gaps = Client().get("/api/v1/needs/analytics/KE").json()
    assert gaps["projects"] == 2
    assert gaps["unfunded"] == []  # accepted KE-A, which has budget lines
    weights = Client().get("/api/v1/needs/weights").json()
    assert sum(weights["weights"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (NEED | {"challenges": ["hsc:42"]}, 400, "challenges: unknown tag 'hsc:42'"),
        (NEED | {"budget": "1e999"}, 400, "budget: '1e999' is too large"),
        (NEED | {"budget": "NaN"}, 400, "budget: 'NaN' is not a positive amount"),
        (NEED | {"country": "ZZ"}, 400, "country: 'ZZ' is not an ISO 3166-1 alpha-2 country code"),
        (NEED | {"country": "UG"}, 403, "country: you do not administer UG"),
        (NEED | {"title": "t\x00"}, 400, "title: contains a NUL character"),
        ({k: v for k, v in NEED.items() if k != "title"}, 422, None),
        (NEED | {"languages": "en"}, 422, None),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(planner: Client, body: Any, status: int, detail: str | None) -> None:
    response = _post(planner, "/api/v1/needs", body)
    assert response.status_code == status, response.content
    if detail is not None:
        assert response.json()["detail"].startswith(detail)
    else:
        assert json.dumps(response.json()["detail"])  # ninja lists the fields
    assert not Need.objects.exists()


def test_bad_match_and_decision_input(planner: Client, operator: Actor) -> None:
    pid = _post(planner, "/api/v1/needs", NEED).json()["public_id"]
    assert planner.get(f"/api/v1/needs/{pid}/matches?limit=0").status_code == 422
    assert planner.get("/api/v1/needs/KE-N222222/matches").status_code == 404
    assert planner.get("/api/v1/needs/%00/matches").status_code == 404
    bad = _post(planner, f"/api/v1/needs/{pid}/decisions", {"kind": "product", "ref": "x", "decision": "accepted"})
    assert (bad.status_code, bad.json()["detail"]) == (400, "ref: no product 'x'")
    bad = _post(planner, f"/api/v1/needs/{pid}/decisions", {"kind": "product", "ref": "dhis2", "decision": "rejected"})
    assert (bad.status_code, bad.json()["detail"]) == (400, "note: required to reject a match")
    assert Client().get("/api/v1/needs/analytics/XX").status_code == 400
    assert not MatchDecision.objects.exists()


def test_a_bad_token_is_refused_on_public_endpoints(planner: Client) -> None:
    assert Client(HTTP_AUTHORIZATION="Bearer dhn_nope").get("/api/v1/needs").status_code == 401


def test_a_token_sees_what_its_user_sees(planner: Client, users: dict[str, User]) -> None:
    pid = _post(planner, "/api/v1/needs", NEED).json()["public_id"]
    user = users["digital_health_planner"]
    _, raw = accounts.create_token(actor_of(user), user, name="t", scopes=["needs:need:write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert [n["public_id"] for n in client.get("/api/v1/needs?country=KE").json()] == [pid]
    assert Client().get("/api/v1/needs").json() == []
