"""The authorization matrix of the registry's pages and endpoints: every role x every page/endpoint.

The world (see ``world``): in DE a draft of the partner, a submitted, an approved and a published project; in KE a
submitted project of the knowledge manager. The ministry planner is DE's country administrator (not KE's); the
knowledge manager and the system administrator manage the whole registry. Drafts are 404 to anyone but their team
and administrators; a country administrator of another country gets 404 for that country's unpublished projects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.atlas import services
from dhnet.atlas.models import CountryAdmin
from dhnet.platform.access import Actor
from tests.atlas.helpers import PRODUCT, make_world, project_payload
from tests.platform.fixtures import ROLES, actor_of, login

PW, JW = services.PRODUCT_WRITE, services.PROJECT_WRITE
APPROVE, MANAGE = services.PROJECT_APPROVE, services.REGISTRY_MANAGE
ALL = frozenset(ROLES)
MANAGERS = frozenset({"system_admin", "knowledge_manager"})
ADMIN_DE = MANAGERS | {"digital_health_planner"}
SEES_DRAFT = ADMIN_DE | {"partner"}

NEW_PRODUCT = {**PRODUCT, "slug": "openmrs", "name": "OpenMRS", "owner": None}
PRODUCT_FORM = {"slug": "openmrs", "name": "OpenMRS", "dpg_status": "dpg", "maturity": "mature", "languages": "en"}
PROJECT_FORM = {
    "name": "Form project",
    "country": "DE",
    "stage": "pilot",
    "products": "dhis2",
    "interventions": "cdhi-v1:1.1.1",
    "budget": '[{"phase": "deployment", "funder": "gf", "year": 2024, "amount": "10.00", "currency": "EUR"}]',
    "links": "website https://example.org",
}
EDIT_FORM = {**PROJECT_FORM, "name": "Draft project", "stage": "deployment", "summary": "stage"}


@dataclass(frozen=True)
class Case:
    """``permission`` None: public. ``only``: the roles that pass the service's own check (others get
    ``denied``); ``special``: role -> answer where it differs."""

    label: str
    method: str
    url: str
    permission: str | None
    ok: int = 200
    only: frozenset[str] = ALL
    denied: int = 404
    body: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    special: dict[str, int] = field(default_factory=dict)


CASES = [
    # pages: products
    Case("products page", "get", "/atlas/products/", None),
    Case("product page", "get", "/atlas/products/dhis2/", None),
    Case("product form", "get", "/atlas/products/new/", PW),
    Case("product create", "post", "/atlas/products/new/", PW, 302, form=PRODUCT_FORM),
    Case("product edit form", "get", "/atlas/products/dhis2/edit/", PW),
    Case("product edit", "post", "/atlas/products/dhis2/edit/", PW, 302, form={"slug": "dhis2", "name": "DHIS 2"}),
    Case("product delete", "post", "/atlas/products/spare/delete/", MANAGE, 302, form={}),
    Case("product history", "get", "/atlas/products/dhis2/history/", None),
    Case("product diff", "get", "/atlas/products/dhis2/diff/?a=1&b=2", None),
    # pages: projects
    Case("project form", "get", "/atlas/projects/new/", JW),
    Case("project create", "post", "/atlas/projects/new/", JW, 302, form=PROJECT_FORM),
    Case("draft page", "get", "/atlas/projects/{draft}/", None, only=SEES_DRAFT),
    Case("published page", "get", "/atlas/projects/{pub}/", None),
    Case("other country's submitted page", "get", "/atlas/projects/{ke}/", None, only=MANAGERS),
    Case("draft edit form", "get", "/atlas/projects/{draft}/edit/", JW, only=SEES_DRAFT),
    Case("draft edit", "post", "/atlas/projects/{draft}/edit/", JW, 302, only=SEES_DRAFT, form=EDIT_FORM),
    Case("submitted edit form", "get", "/atlas/projects/{sub}/edit/", JW, only=ADMIN_DE, special={"partner": 403}),
    Case("submit", "post", "/atlas/projects/{draft}/workflow/", JW, 302, only=SEES_DRAFT, form={"action": "submit"}),
    Case(
        "approve",
        "post",
        "/atlas/projects/{sub}/workflow/",
        JW,
        302,
        only=ADMIN_DE,
        form={"action": "approve"},
        special={"partner": 403},
    ),
    Case(
        "approve other country",
        "post",
        "/atlas/projects/{ke}/workflow/",
        JW,
        302,
        only=MANAGERS,
        form={"action": "approve"},
    ),
    Case(
        "publish",
        "post",
        "/atlas/projects/{appr}/workflow/",
        JW,
        302,
        only=ADMIN_DE,
        form={"action": "publish"},
        special={"partner": 403},
    ),
    Case(
        "archive published",
        "post",
        "/atlas/projects/{pub}/workflow/",
        JW,
        302,
        only=ADMIN_DE,
        denied=403,
        form={"action": "archive", "note": "ended"},
    ),
    Case("team", "post", "/atlas/projects/{draft}/team/", JW, 302, only=SEES_DRAFT, form={"usernames": "viewer"}),
    Case("draft history", "get", "/atlas/projects/{draft}/history/", None, only=SEES_DRAFT),
    Case("published history", "get", "/atlas/projects/{pub}/history/", None),
    Case("published diff", "get", "/atlas/projects/{pub}/diff/?a=4&b=5", None),
    Case("draft-era diff", "get", "/atlas/projects/{pub}/diff/?a=1&b=5", None, only=SEES_DRAFT),
    Case("review queue", "get", "/atlas/review/", APPROVE),
    Case("my projects", "get", "/atlas/mine/", JW),
    Case("country admins page", "get", "/atlas/admins/", MANAGE),
    Case(
        "appoint", "post", "/atlas/admins/", MANAGE, 302, form={"username": "digital_health_planner", "country": "KE"}
    ),
    # API: products
    Case("products api", "get", "/api/v1/atlas/products", None),
    Case("product create api", "post", "/api/v1/atlas/products", PW, 201, body=NEW_PRODUCT),
    Case("product api", "get", "/api/v1/atlas/products/dhis2", None),
    Case("product patch api", "patch", "/api/v1/atlas/products/dhis2", PW, body={"languages": ["en", "pt"]}),
    Case("product delete api", "delete", "/api/v1/atlas/products/spare", MANAGE, 204),
    Case("product versions api", "get", "/api/v1/atlas/products/dhis2/versions", None),
    Case("product version api", "get", "/api/v1/atlas/products/dhis2/versions/1", None),
    Case("product diff api", "get", "/api/v1/atlas/products/dhis2/diff?a=1&b=2", None),
    # API: projects
    Case("project create api", "post", "/api/v1/atlas/projects", JW, 201, body=project_payload(name="API project")),
    Case("draft api", "get", "/api/v1/atlas/projects/{draft}", None, only=SEES_DRAFT),
    Case("published api", "get", "/api/v1/atlas/projects/{pub}", None),
    Case("draft patch api", "patch", "/api/v1/atlas/projects/{draft}", JW, only=SEES_DRAFT, body={"stage": "pilot"}),
    Case("submit api", "post", "/api/v1/atlas/projects/{draft}/submit", JW, only=SEES_DRAFT),
    Case("approve api", "post", "/api/v1/atlas/projects/{sub}/approve", APPROVE, only=ADMIN_DE, body={"note": "ok"}),
    Case("approve other country api", "post", "/api/v1/atlas/projects/{ke}/approve", APPROVE, only=MANAGERS, body={}),
    Case("publish api", "post", "/api/v1/atlas/projects/{appr}/publish", APPROVE, only=ADMIN_DE),
    Case("return api", "post", "/api/v1/atlas/projects/{sub}/return", APPROVE, only=ADMIN_DE, body={"note": "why"}),
    Case("archive api", "post", "/api/v1/atlas/projects/{pub}/archive", APPROVE, only=ADMIN_DE, body={"note": "end"}),
    Case("draft versions api", "get", "/api/v1/atlas/projects/{draft}/versions", None, only=SEES_DRAFT),
    Case("published version api", "get", "/api/v1/atlas/projects/{pub}/versions/4", None),
    Case("draft-era version api", "get", "/api/v1/atlas/projects/{pub}/versions/1", None, only=SEES_DRAFT),
    Case("published diff api", "get", "/api/v1/atlas/projects/{pub}/diff?a=4&b=5", None),
    Case("team api", "get", "/api/v1/atlas/projects/{draft}/team", JW, only=SEES_DRAFT),
    Case("team put api", "put", "/api/v1/atlas/projects/{draft}/team", JW, only=SEES_DRAFT, body={"usernames": []}),
    Case("review api", "get", "/api/v1/atlas/review", APPROVE),
    Case("my projects api", "get", "/api/v1/atlas/my-projects", JW),
    Case("country admins api", "get", "/api/v1/atlas/country-admins", MANAGE),
    Case(
        "appoint api",
        "post",
        "/api/v1/atlas/country-admins",
        MANAGE,
        201,
        body={"username": "digital_health_planner", "country": "KE"},
    ),
    Case("end appointment api", "delete", "/api/v1/atlas/country-admins/DE/digital_health_planner", MANAGE, 204),
]


def _expected(role: str, case: Case) -> int:
    if case.permission is not None and case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if role in case.special:
        return case.special[role]
    if role not in case.only:
        return case.denied
    return case.ok


def _request(client: Client, case: Case, ids: dict[str, str]) -> int:
    url = case.url.format(**ids)
    if case.body is not None or case.method in ("patch", "put", "delete") or url.startswith("/api/"):
        data = json.dumps(case.body) if case.body is not None else ""
        if case.method == "get":
            return client.get(url).status_code
        return client.generic(case.method.upper(), url, data=data, content_type="application/json").status_code
    if case.form is not None:
        return client.post(url, case.form).status_code
    return getattr(client, case.method)(url).status_code


def build_world(operator: Actor, users: dict[str, User]) -> dict[str, str]:
    """The projects of the matrix (see the module docstring); returns their public ids by name."""
    make_world(operator)
    services.create_product(operator, {**PRODUCT, "slug": "spare", "name": "Spare", "owner": None})
    services.update_product(operator, "dhis2", {"languages": ["en"]})
    CountryAdmin.objects.create(user=users["digital_health_planner"], country="DE")
    partner, manager = actor_of(users["partner"]), actor_of(users["knowledge_manager"])
    ids = {}
    ids["draft"] = services.create_project(partner, project_payload(name="Draft project")).public_id
    ids["sub"] = services.create_project(partner, project_payload(name="Submitted project")).public_id
    services.submit(partner, ids["sub"])
    ids["appr"] = services.create_project(partner, project_payload(name="Approved project")).public_id
    services.submit(partner, ids["appr"])
    services.approve(manager, ids["appr"])
    ids["pub"] = services.create_project(partner, project_payload(name="Published project")).public_id
    services.submit(partner, ids["pub"])
    services.approve(manager, ids["pub"])
    services.publish(manager, ids["pub"])
    services.update_project(manager, ids["pub"], {"stage": "institutionalised"})  # an administrator: stays published
    ke = project_payload(name="Kenyan project", country="KE", coverage=[])
    ids["ke"] = services.create_project(manager, ke).public_id
    services.submit(manager, ids["ke"])
    return ids


@pytest.fixture
def world(operator: Actor, users: dict[str, User]) -> dict[str, str]:
    return build_world(operator, users)


def _run(client: Client, case: Case, ids: dict[str, str]) -> int:
    """One request in a savepoint rolled back afterwards: every case sees the same world."""
    with transaction.atomic():
        status = _request(client, case, ids)
        transaction.set_rollback(True)
    return status


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role: str, users: dict[str, User], world: dict[str, str]) -> None:
    client = login(Client(), users[role])
    wrong = []
    for case in CASES:
        status, expected = _run(client, case, world), _expected(role, case)
        if status != expected:
            wrong.append(f"{case.label}: {status}, expected {expected}")
    assert not wrong, (role, wrong)


def test_anonymous(world: dict[str, str]) -> None:
    """Public pages answer anonymous visitors (drafts 404); the others send them to log in (API: 401)."""
    wrong = []
    for case in CASES:
        if case.method != "get":
            continue
        status = _run(Client(), case, world)
        if case.permission is None:
            expected = case.ok if case.only == ALL else 404
        elif case.url.startswith("/api/"):
            expected = 401
        else:
            expected = 302
        if status != expected:
            wrong.append(f"{case.label}: {status}, expected {expected}")
    assert not wrong, wrong
