"""The authorization matrix of the business-case pages and endpoints: every role x every page/endpoint.

The world: a case of KE that is not shared and a shared one, both created by the operator; the planner is appointed
administrator of KE. Reading needs a signed-in user; a case that is not shared is 404 to everyone but KE's
administrators (the planner) and registry managers (knowledge manager, system admin). Writing needs
``businesscase:case:write`` (planner, partner, system admin: 403 without) and the country or being the creator:
the partner sees the shared case but may not change it (403) and does not see the other (404); the knowledge
manager sees both but may not write. A case without a country is its creator's (the partner may create one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.businesscase import services
from dhnet.platform.access import Actor
from tests.businesscase.helpers import BENEFITS, COSTS, COSTS_CSV, FIELDS, appoint
from tests.platform.fixtures import ROLES, login

WRITE = "businesscase:case:write"
READ = "accounts:profile:read"
ALL = frozenset(ROLES)
SEES_PRIVATE = frozenset({"system_admin", "knowledge_manager", "digital_health_planner"})
WRITES_KE = frozenset({"system_admin", "digital_health_planner"})

NEW = FIELDS | {"title": "A new case", "costs": COSTS, "benefits": BENEFITS}
NEW_FORM = {
    "country": "KE",
    "title": "A new case",
    "currency": "USD",
    "base_year": "2025",
    "horizon_years": "4",
    "discount_rate_percent": "5",
}
FIELDS_FORM = NEW_FORM | {"part": "fields", "title": "Renamed"}
COSTS_FORM = {"part": "costs", "cost-deployment-hardware-2025": "1000"}
BENEFITS_FORM = {
    "part": "benefits",
    "benefit_rows": "1",
    "b-0-kind": "costs_avoided",
    "b-0-year": "2026",
    "b-0-quantity": "10",
    "b-0-unit": "faxes",
    "b-0-unit_value": "2",
    "b-0-assumption": "ten faxes fewer",
}


@dataclass(frozen=True)
class Case:
    """``only``: the roles that pass the service's own checks (the others get ``denied``); ``special``: a role's
    own answer. ``upload``: a multipart form with a file."""

    label: str
    method: str
    url: str
    permission: str | None
    ok: int = 200
    only: frozenset[str] = ALL
    denied: int = 403
    body: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    upload: bool = False
    special: dict[str, int] = field(default_factory=dict)


CASES = [
    # pages
    Case("list page", "get", "/business-cases/", READ),
    Case("list page by country", "get", "/business-cases/?country=KE", READ),
    Case("list page bad country", "get", "/business-cases/?country=XX", READ, ok=400),
    Case("new case form", "get", "/business-cases/new", WRITE),
    Case("create a KE case", "post", "/business-cases/new", WRITE, 302, only=WRITES_KE, form=NEW_FORM),
    Case("create a case of no country", "post", "/business-cases/new", WRITE, 302, form=NEW_FORM | {"country": ""}),
    Case("private case page", "get", "/business-cases/{private}/", READ, only=SEES_PRIVATE, denied=404),
    Case("shared case page", "get", "/business-cases/{shared}/", READ),
    Case("unknown case page", "get", "/business-cases/BC-222222/", READ, ok=404),
    Case("private history", "get", "/business-cases/{private}/history", READ, only=SEES_PRIVATE, denied=404),
    Case("shared history", "get", "/business-cases/{shared}/history?a=1&b=2", READ),
    Case("private csv", "get", "/business-cases/{private}/export.csv", READ, only=SEES_PRIVATE, denied=404),
    Case("shared csv", "get", "/business-cases/{shared}/export.csv?table=sensitivity", READ),
    Case("shared pdf", "get", "/business-cases/{shared}/export.pdf", READ),
    Case("private pdf", "get", "/business-cases/{private}/export.pdf", READ, only=SEES_PRIVATE, denied=404),
    Case("edit form", "get", "/business-cases/{private}/edit", WRITE, only=WRITES_KE, special={"partner": 404}),
    Case("edit shared", "get", "/business-cases/{shared}/edit", WRITE, only=WRITES_KE),
    Case(
        "save fields",
        "post",
        "/business-cases/{private}/edit",
        WRITE,
        302,
        WRITES_KE,
        form=FIELDS_FORM,
        special={"partner": 404},
    ),
    Case(
        "save costs",
        "post",
        "/business-cases/{private}/edit",
        WRITE,
        302,
        WRITES_KE,
        form=COSTS_FORM,
        special={"partner": 404},
    ),
    Case("save benefits", "post", "/business-cases/{shared}/edit", WRITE, 302, WRITES_KE, form=BENEFITS_FORM),
    Case("upload costs", "post", "/business-cases/{shared}/upload", WRITE, 302, WRITES_KE, upload=True),
    Case(
        "copy private",
        "post",
        "/business-cases/{private}/copy",
        WRITE,
        302,
        WRITES_KE,
        form={"title": "Mine"},
        special={"partner": 404},
    ),
    Case(
        "copy shared without country",
        "post",
        "/business-cases/{shared}/copy",
        WRITE,
        302,
        form={"title": "Mine", "country": ""},
    ),
    # API
    Case("list api", "get", "/api/v1/business-cases?country=KE", READ),
    Case("create api", "post", "/api/v1/business-cases", WRITE, 201, WRITES_KE, body=NEW),
    Case("create api no country", "post", "/api/v1/business-cases", WRITE, 201, body=NEW | {"country": ""}),
    Case("private case api", "get", "/api/v1/business-cases/{private}", READ, only=SEES_PRIVATE, denied=404),
    Case("shared case api", "get", "/api/v1/business-cases/{shared}", READ),
    Case(
        "patch api",
        "patch",
        "/api/v1/business-cases/{private}",
        WRITE,
        only=WRITES_KE,
        body={"shared": True},
        special={"partner": 404},
    ),
    Case(
        "patch shared api", "patch", "/api/v1/business-cases/{shared}", WRITE, only=WRITES_KE, body={"title": "Renamed"}
    ),
    Case("lines api", "put", "/api/v1/business-cases/{shared}/lines", WRITE, only=WRITES_KE, body={"costs": COSTS[:2]}),
    Case(
        "upload api",
        "post",
        "/api/v1/business-cases/{shared}/upload?kind=costs&filename=c.csv",
        WRITE,
        only=WRITES_KE,
        upload=True,
    ),
    Case("copy api", "post", "/api/v1/business-cases/{shared}/copy", WRITE, 201, body={"country": ""}),
    Case("versions api", "get", "/api/v1/business-cases/{private}/versions", READ, only=SEES_PRIVATE, denied=404),
    Case("diff api", "get", "/api/v1/business-cases/{shared}/diff?a=1&b=2", READ),
    Case("csv api", "get", "/api/v1/business-cases/{shared}/export.csv?table=years", READ),
    Case("pdf api", "get", "/api/v1/business-cases/{private}/export.pdf", READ, only=SEES_PRIVATE, denied=404),
]


def _expected(role: str, case: Case) -> int:
    if case.permission is not None and case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if role in case.special:
        return case.special[role]
    if role not in case.only:
        return case.denied
    return case.ok


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _request(client: Client, case: Case, ids: dict[str, Any]) -> int:
    url = _fill(case.url, ids)
    if case.upload:
        upload = SimpleUploadedFile("costs.csv", COSTS_CSV.encode(), content_type="text/csv")
        return client.post(url, {"kind": "costs", "file": upload}).status_code
    if case.body is not None:
        data = json.dumps(_fill(case.body, ids))
        return client.generic(case.method.upper(), url, data=data, content_type="application/json").status_code
    if case.form is not None:
        return client.post(url, _fill(case.form, ids)).status_code
    return getattr(client, case.method)(url).status_code


@pytest.fixture
def world(users: dict[str, User], operator: Actor) -> dict[str, Any]:
    appoint(users["digital_health_planner"], "KE")
    private, _ = services.create_case(operator, FIELDS | {"costs": COSTS, "benefits": BENEFITS})
    shared, _ = services.create_case(operator, FIELDS | {"title": "Shared case", "shared": True, "costs": COSTS})
    services.set_lines(operator, shared.public_id, benefits=BENEFITS)  # version 2, for the diff
    return {"private": private.public_id, "shared": shared.public_id}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users[role])
    assert _request(client, case, world) == _expected(role, case), (role, case.label)


@pytest.mark.parametrize("case", [c for c in CASES if c.method == "get"], ids=lambda c: c.label)
def test_anonymous_reads(case: Case, world: dict[str, Any]) -> None:
    """Anonymous visitors are sent to log in (pages) or get 401 (API): business cases are not public."""
    status = _request(Client(), case, world)
    assert status == (401 if case.url.startswith("/api/") else 302), case.label


def test_anonymous_writes_are_refused(world: dict[str, Any]) -> None:
    client = Client()
    assert client.post("/business-cases/new", NEW_FORM).status_code == 302  # to the login page
    assert client.post(f"/business-cases/{world['shared']}/edit", COSTS_FORM).status_code == 302
    response = client.post("/api/v1/business-cases", json.dumps(NEW), content_type="application/json")
    assert response.status_code == 401


def test_a_planner_of_another_country_neither_sees_nor_writes(users: dict[str, User], operator: Actor) -> None:
    appoint(users["digital_health_planner"], "UG")
    private, _ = services.create_case(operator, FIELDS)
    client = login(Client(), users["digital_health_planner"])
    assert client.get(f"/business-cases/{private.public_id}/").status_code == 404
    assert client.post(f"/business-cases/{private.public_id}/edit", COSTS_FORM).status_code == 404
    assert client.post("/business-cases/new", NEW_FORM).status_code == 403
    response = client.post("/api/v1/business-cases", json.dumps(NEW), content_type="application/json")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("country: you do not administer KE")


def test_the_creator_keeps_writing_without_the_country(users: dict[str, User], operator: Actor) -> None:
    """A partner's own case (no country) is theirs to edit; another partner does not see it."""
    partner = users["partner"]
    client = login(Client(), partner)
    response = client.post("/api/v1/business-cases", json.dumps(NEW | {"country": ""}), content_type="application/json")
    assert response.status_code == 201
    public_id = response.json()["public_id"]
    patch = client.patch(f"/api/v1/business-cases/{public_id}", json.dumps({"shared": True}), "application/json")
    assert patch.status_code == 200
    assert patch.json()["version"] == 2
    other = login(Client(), users["digital_health_planner"])  # shared now: readable, not writable
    assert other.get(f"/business-cases/{public_id}/").status_code == 200
    assert other.patch(f"/api/v1/business-cases/{public_id}", "{}", "application/json").status_code == 403
