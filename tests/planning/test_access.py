"""The authorization matrix of the planning pages and endpoints: every role x every page/endpoint.

The world: DE's targets and its roadmap (not shared) with one item and one milestone; the planner is appointed
administrator of DE. Reading is declared public, but DE's planning is 404 to everyone except its administrators (the
planner) and registry managers (knowledge manager, system admin). Writing needs ``planning:roadmap:write`` (403
without: the knowledge manager administers DE but may not write roadmaps) and the country.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.planning import services
from dhnet.platform.access import Actor
from tests.planning.helpers import RUBRIC, TARGETS, people
from tests.platform.fixtures import ROLES, login

WRITE = "planning:roadmap:write"
ALL = frozenset(ROLES)
SEES = frozenset({"system_admin", "knowledge_manager", "digital_health_planner"})

ROWS = [{"indicator": "2", "target_phase": 3, "target_year": 2027, "weight": 2}]
MILESTONE = {"title": "Law passed", "owner_name": "Ministry", "due_date": "2027-06-30"}


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
    Case("index", "get", "/planning/", None),
    Case("gaps page", "get", "/planning/DE/", None, only=SEES, denied=404),
    Case("gaps page classic", "get", "/planning/DE/?rubric=gdhm-classic", None, only=SEES, denied=404),
    Case("gaps page bad country", "get", "/planning/XX/", None, ok=400),
    Case("targets form", "get", "/planning/DE/targets", WRITE),
    Case("targets post", "post", "/planning/DE/targets", WRITE, 302, form={"json": json.dumps(ROWS)}),
    Case("roadmap page", "get", "/planning/DE/roadmap", None, only=SEES, denied=404),
    Case("roadmap settings", "post", "/planning/DE/roadmap/settings", WRITE, 302, form={"title": "R", "shared": "on"}),
    Case("roadmap csv", "get", "/planning/DE/roadmap.csv", None, only=SEES, denied=404),
    Case("roadmap json", "get", "/planning/DE/roadmap.json", None, only=SEES, denied=404),
    Case("item add", "post", "/planning/DE/items/new", WRITE, 302, form={"indicator": "5", "rubric": RUBRIC}),
    Case("item page", "get", "/planning/DE/items/{item}/", None, only=SEES, denied=404),
    Case("unknown item page", "get", "/planning/DE/items/999999/", None, ok=404),
    Case("item edit", "post", "/planning/DE/items/{item}/edit", WRITE, 302, form={"title": "T", "status": "done"}),
    Case("item need", "post", "/planning/DE/items/{item}/need", WRITE, 302, form={}),
    Case("milestone add", "post", "/planning/DE/items/{item}/milestones", WRITE, 302, form=MILESTONE),
    Case("milestone edit", "post", "/planning/DE/milestones/{milestone}", WRITE, 302, form={"progress": "50"}),
    # API
    Case("targets api", "get", "/api/v1/planning/DE/targets", None, only=SEES, denied=404),
    Case("targets put api", "put", "/api/v1/planning/DE/targets", WRITE, body={"rows": ROWS}),
    Case("gaps api", "get", "/api/v1/planning/DE/gaps?rubric=gdhm-current", None, only=SEES, denied=404),
    Case("roadmap api", "get", "/api/v1/planning/DE/roadmap", None, only=SEES, denied=404),
    Case("roadmap patch api", "patch", "/api/v1/planning/DE/roadmap", WRITE, body={"shared": True}),
    Case("item create api", "post", "/api/v1/planning/DE/roadmap/items", WRITE, 201, body={"indicator": "5"}),
    Case("item patch api", "patch", "/api/v1/planning/DE/roadmap/items/{item}", WRITE, body={"status": "done"}),
    Case("suggestions api", "get", "/api/v1/planning/DE/roadmap/items/{item}/suggestions", None, only=SEES, denied=404),
    Case("need api", "post", "/api/v1/planning/DE/roadmap/items/{item}/need", WRITE, 201, body={}),
    Case(
        "milestone create api",
        "post",
        "/api/v1/planning/DE/roadmap/items/{item}/milestones",
        WRITE,
        201,
        body=MILESTONE,
    ),
    Case("milestone patch api", "patch", "/api/v1/planning/DE/milestones/{milestone}", WRITE, body={"progress": 80}),
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
        return value.format(**ids) if "{" in value and "}" in value and not value.startswith("[") else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _request(client: Client, case: Case, ids: dict[str, Any]) -> int:
    url = _fill(case.url, ids)
    if case.body is not None:
        data = json.dumps(case.body)
        return client.generic(case.method.upper(), url, data=data, content_type="application/json").status_code
    if case.form is not None:
        return client.post(url, case.form).status_code
    return getattr(client, case.method)(url).status_code


def make_world(users: dict[str, User]) -> dict[str, Any]:
    planner = people(users)["digital_health_planner"]
    services.set_targets(planner, "DE", RUBRIC, TARGETS)
    item, _ = services.add_item(planner, "DE", RUBRIC, {"indicator": "21", "title": "Person registry"})
    milestone, _ = services.add_milestone(
        planner, "DE", item.pk, {"title": "Tender", "owner_name": "MoH", "due_date": "2026-03-31"}
    )
    return {"item": item.pk, "milestone": milestone.pk}


@pytest.fixture
def world(users: dict[str, User]) -> dict[str, Any]:
    return make_world(users)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users[role])
    assert _request(client, case, world) == _expected(role, case), (role, case.label)


@pytest.mark.parametrize("case", [c for c in CASES if c.method == "get"], ids=lambda c: c.label)
def test_anonymous(case: Case, world: dict[str, Any]) -> None:
    """Public pages answer anonymous visitors (a country's planning: 404); the others send them to log in."""
    status = _request(Client(), case, world)
    if case.permission is None:
        assert status == (404 if case.only != ALL else case.ok), case.label
    elif case.url.startswith("/api/"):
        assert status == 401, case.label
    else:
        assert status == 302, case.label


def test_anonymous_writes_are_refused(world: dict[str, Any]) -> None:
    client = Client()
    for case in CASES:
        if case.method == "get":
            continue
        status = _request(client, case, world)
        assert status == (401 if case.url.startswith("/api/") else 302), case.label


def test_a_shared_roadmap_is_readable_by_every_signed_in_user(users: dict[str, User], world: dict[str, Any]) -> None:
    services.update_roadmap(people(users)["digital_health_planner"], "DE", RUBRIC, {"shared": True})
    for case in CASES:
        if case.method != "get" or case.permission is not None or "gdhm-classic" in case.url:
            continue  # (the classic rubric's roadmap is not shared)
        for role in ("viewer", "partner"):
            assert _request(login(Client(), users[role]), case, world) == case.ok, (role, case.label)
        if case.only != ALL:
            assert _request(Client(), case, world) == 404, case.label  # still not for anonymous visitors


def test_a_planner_of_another_country_neither_sees_nor_writes(users: dict[str, User], operator: Actor) -> None:
    world = make_world(users)
    planner = users["digital_health_planner"]
    from dhnet.atlas.models import CountryAdmin

    CountryAdmin.objects.filter(user=planner).update(country="AT")
    client = login(Client(), planner)
    assert client.get("/planning/DE/roadmap").status_code == 404
    assert client.get(f"/planning/DE/items/{world['item']}/").status_code == 404
    assert client.get("/planning/DE/targets").status_code == 403
    assert client.post("/planning/DE/items/new", {"indicator": "5"}).status_code == 403
    response = client.put("/api/v1/planning/DE/targets", json.dumps({"rows": ROWS}), content_type="application/json")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("country: you do not administer DE")
    assert client.get("/planning/AT/roadmap").status_code == 200  # its own country: empty roadmap
