"""The authorization matrix of the needs pages and endpoints: every role x every page/endpoint.

The world: the small registry, a need of KE that is not public and a public one; the planner is appointed
administrator of KE. Reading is public but a need that is not public is 404 to everyone except its country's
administrators (the planner) and registry managers (knowledge manager, system admin). Writing needs and deciding
need their permission (403 without) and the country (the planner, the system admin).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.needs import services
from dhnet.platform.access import Actor
from tests.needs.helpers import NEED, appoint, make_registry
from tests.platform.fixtures import ROLES, login

WRITE = "needs:need:write"
DECIDE = "needs:match:decide"
ALL = frozenset(ROLES)
SEES_PRIVATE = frozenset({"system_admin", "knowledge_manager", "digital_health_planner"})

NEW = NEED | {"title": "A new need", "challenges": ["hsc:5.4"]}
NEW_FORM = {
    "country": "KE",
    "title": "A new need",
    "challenges": ["hsc:5.4", "hsc:6.2"],
    "level": "national",
    "languages": "en sw",
    "connectivity": "none",
    "standards": ["standard:hl7-fhir"],
    "budget": "2500",
    "currency": "USD",
}
DECISION = {"kind": "product", "ref": "dhis2", "decision": "accepted"}


@dataclass(frozen=True)
class Case:
    """``permission`` None: a public page/endpoint. ``only``: the roles that pass the service's own check (the others
    get ``denied``)."""

    label: str
    method: str
    url: str
    permission: str | None
    ok: int = 200
    only: frozenset[str] = ALL
    denied: int = 403
    body: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    special: dict[str, int] = field(default_factory=dict)


CASES = [
    # pages
    Case("needs page", "get", "/needs/", None),
    Case("needs page filtered", "get", "/needs/?country=KE&status=open&challenge=hsc:2.1", None),
    Case("needs page bad filter", "get", "/needs/?challenge=hsc:99", None, ok=400),
    Case("need form", "get", "/needs/new", WRITE),
    Case("need create", "post", "/needs/new", WRITE, 302, form=NEW_FORM),
    Case("private need page", "get", "/needs/{private}/", None, only=SEES_PRIVATE, denied=404),
    Case("public need page", "get", "/needs/{public}/", None),
    Case("unknown need page", "get", "/needs/KE-N222222/", None, ok=404),
    Case("need edit form", "get", "/needs/{private}/edit", WRITE),
    Case("need edit", "post", "/needs/{private}/edit", WRITE, 302, form=NEW_FORM | {"status": "addressed"}),
    Case("decide", "post", "/needs/{private}/decide", DECIDE, 302, form=DECISION),
    Case("decide on a public need", "post", "/needs/{public}/decide", DECIDE, 302, form=DECISION),
    Case("analytics page", "get", "/needs/analytics/KE/", None),
    Case("analytics bad country", "get", "/needs/analytics/XX/", None, ok=400),
    # API
    Case("needs api", "get", "/api/v1/needs?country=KE", None),
    Case("need create api", "post", "/api/v1/needs", WRITE, 201, body=NEW),
    Case("weights api", "get", "/api/v1/needs/weights", None),
    Case("analytics api", "get", "/api/v1/needs/analytics/KE", None),
    Case("private need api", "get", "/api/v1/needs/{private}", None, only=SEES_PRIVATE, denied=404),
    Case("public need api", "get", "/api/v1/needs/{public}", None),
    Case("need patch api", "patch", "/api/v1/needs/{private}", WRITE, body={"status": "addressed"}),
    Case("private matches api", "get", "/api/v1/needs/{private}/matches", None, only=SEES_PRIVATE, denied=404),
    Case("public matches api", "get", "/api/v1/needs/{public}/matches?limit=3", None),
    Case("private decisions api", "get", "/api/v1/needs/{private}/decisions", None, only=SEES_PRIVATE, denied=404),
    Case("public decisions api", "get", "/api/v1/needs/{public}/decisions", None),
    Case("decide api", "post", "/api/v1/needs/{private}/decisions", DECIDE, 201, body=DECISION),
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
    if case.body is not None:
        data = json.dumps(_fill(case.body, ids))
        return client.generic(case.method.upper(), url, data=data, content_type="application/json").status_code
    if case.form is not None:
        return client.post(url, _fill(case.form, ids)).status_code
    return getattr(client, case.method)(url).status_code


@pytest.fixture
def world(users: dict[str, User], operator: Actor) -> dict[str, Any]:
    make_registry()
    appoint(users["digital_health_planner"], "KE")
    private, _ = services.create_need(operator, NEED)
    public, _ = services.create_need(operator, NEED | {"title": "Published need", "public": True})
    return {"private": private.public_id, "public": public.public_id}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users[role])
    assert _request(client, case, world) == _expected(role, case), (role, case.label)


@pytest.mark.parametrize("case", [c for c in CASES if c.method == "get"], ids=lambda c: c.label)
def test_anonymous(case: Case, world: dict[str, Any]) -> None:
    """Public pages answer anonymous visitors (needs that are not public: 404); the others send them to log in."""
    status = _request(Client(), case, world)
    if case.permission is None:
        assert status == (case.ok if "private" not in case.url else 404), case.label
    elif case.url.startswith("/api/"):
        assert status == 401, case.label
    else:
        assert status == 302, case.label


def test_anonymous_writes_are_refused(world: dict[str, Any]) -> None:
    client = Client()
    assert client.post("/needs/new", NEW_FORM).status_code == 302  # to the login page
    assert client.post(f"/needs/{world['public']}/decide", DECISION).status_code == 302
    body = json.dumps(NEW)
    assert client.post("/api/v1/needs", body, content_type="application/json").status_code == 401
    body = json.dumps(DECISION)
    url = f"/api/v1/needs/{world['public']}/decisions"
    assert client.post(url, body, content_type="application/json").status_code == 401


def test_a_planner_of_another_country_neither_sees_nor_writes(users: dict[str, User], operator: Actor) -> None:
    make_registry()
    appoint(users["digital_health_planner"], "UG")
    private, _ = services.create_need(operator, NEED)
    client = login(Client(), users["digital_health_planner"])
    assert client.get(f"/needs/{private.public_id}/").status_code == 404
    assert client.post(f"/needs/{private.public_id}/decide", DECISION).status_code == 404
    assert client.post("/needs/new", NEW_FORM).status_code == 403
    assert client.get("/needs/new").status_code == 200
    response = client.post("/api/v1/needs", json.dumps(NEW), content_type="application/json")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("country: you do not administer KE")
