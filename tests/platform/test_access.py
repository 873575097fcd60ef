"""Every page and endpoint declares what it requires; every role x every page/endpoint gets the right answer.

The matrix: roles hold their role at ``HOMES[role]`` (see fixtures). A request for an object outside the actor's
jurisdiction answers 404 (existence is not revealed); a request without the permission answers 403.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.accounts.roles import PERMISSIONS, ROLE_PERMISSIONS
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import PERMISSION_RE, access_of
from dhnet.platform.api import api
from tests.platform.fixtures import HOMES, ROLES, actor_of, login


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}:{p.namespace}" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), f"{namespace.strip(':')}:{p.name}", p.callback


def _api_operations() -> Iterator[tuple[str, str, Any]]:
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for op in path_view.operations:
                for method in op.methods:
                    yield method, "/" + f"{prefix}/{path}".strip("/"), op.view_func


def test_every_page_declares_its_access() -> None:
    missing = []
    for route, name, callback in _walk(get_resolver().url_patterns):
        if name.startswith("api:") and name not in ("api:openapi-json", "api:openapi-view", "api:api-root"):
            continue  # ninja operation views: checked per operation below
        if name == "api:api-root":
            continue  # ninja's bare root: the docs link
        if access_of(callback) is None:
            missing.append(f"{route} ({name})")
    assert not missing, f"pages without @requires/@public: {missing}"


def test_every_api_endpoint_declares_its_access() -> None:
    operations = list(_api_operations())
    assert len(operations) >= 6
    missing = [f"{m} {p}" for m, p, view in operations if access_of(view) is None]
    assert not missing, f"endpoints without @requires/@public: {missing}"


def test_declared_permissions_exist() -> None:
    declared = {access_of(cb) for _, _, cb in _walk(get_resolver().url_patterns)} | {
        access_of(v) for _, _, v in _api_operations()
    }
    for access in declared:
        if access is not None and access.permission is not None:
            assert access.permission in PERMISSIONS, access.permission


def test_permission_table_is_consistent() -> None:
    for name in PERMISSIONS:
        assert PERMISSION_RE.match(name), name
    for role, perms in ROLE_PERMISSIONS.items():
        assert perms <= set(PERMISSIONS), role
    assert ROLE_PERMISSIONS["system_admin"] == frozenset(PERMISSIONS)
    assert "surveillance:report:read" not in ROLE_PERMISSIONS["partner"]  # aggregates only
    assert "surveillance:report:write" in ROLE_PERMISSIONS["district_officer"]
    assert "audit:record:read" not in ROLE_PERMISSIONS["district_officer"]


@dataclass(frozen=True)
class Case:
    """One page or endpoint. ``target``: org unit the request is about (None: not about one)."""

    label: str
    method: str
    url: str
    permission: str
    ok: int = 200
    target: str | None = None
    body: dict[str, Any] | None = None


CASES = [
    Case("home page", "get", "/", "accounts:profile:read"),
    Case("org-unit tree page", "get", "/orgunits/", "orgunits:orgunit:read"),
    Case("audit page", "get", "/audit/", "audit:record:read"),
    Case("me", "get", "/api/v1/me", "accounts:profile:read"),
    Case("org units list", "get", "/api/v1/orgunits", "orgunits:orgunit:read"),
    Case("own district", "get", "/api/v1/orgunits/D11", "orgunits:orgunit:read", target="D11"),
    Case("neighbouring district", "get", "/api/v1/orgunits/D12", "orgunits:orgunit:read", target="D12"),
    Case("other region's district", "get", "/api/v1/orgunits/D21", "orgunits:orgunit:read", target="D21"),
    Case("country", "get", "/api/v1/orgunits/DE", "orgunits:orgunit:read", target="DE"),
    Case("list tokens", "get", "/api/v1/tokens", "accounts:token:read"),
    Case(
        "create token",
        "post",
        "/api/v1/tokens",
        "accounts:token:write",
        ok=201,
        body={"name": "t", "scopes": ["accounts:profile:read"]},
    ),
    Case("revoke someone else's token", "delete", "/api/v1/tokens/{other_token}", "accounts:token:write", ok=404),
]


def _expected(role: str, case: Case, units: dict[str, OrgUnit]) -> int:
    if case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if case.target is not None and not units[case.target].is_within(units[HOMES[role]].path):  # type: ignore[index]
        return 404
    return case.ok


def _request(client: Client, case: Case, other_token: int) -> int:
    url = case.url.format(other_token=other_token)
    if case.body is not None:
        return client.generic(
            case.method.upper(), url, data=json.dumps(case.body), content_type="application/json"
        ).status_code
    return getattr(client, case.method)(url).status_code


@pytest.fixture
def other_token(users: dict[str, User], operator: Any) -> int:
    """A token of a user outside every matrix role's reach (a second district officer)."""
    stranger, _ = accounts.create_user(operator, "stranger", role="district_officer", orgunit_code="D21")
    token, _ = accounts.create_token(operator, stranger, name="x", scopes=["accounts:profile:read"])
    return token.pk


def _matrix_cases() -> list[Any]:
    """The matrix cases of every context: each ``tests/<context>/test_*.py`` module's ``CASES`` of objects with a url.

    Each context owns the matrix of its own pages and endpoints (next to its code); this test only checks that,
    together, they cover every protected page and endpoint of the platform.
    """
    cases: list[Any] = []
    tests_dir = Path(__file__).resolve().parents[1]
    for module_path in sorted(tests_dir.glob("*/test_*.py")):
        if module_path.parent.name in ("surveillance", "cli", "e2e"):
            continue
        module = importlib.import_module(f"tests.{module_path.parent.name}.{module_path.stem}")
        for case in getattr(module, "CASES", ()):
            if hasattr(case, "url"):
                cases.append(case)
    return cases


def _route_key(method: str, url: str) -> str:
    path = re.sub(r"\{[^}]*\}", "1", url.split("?", 1)[0])
    match = resolve(path)
    if match.namespace == "api":
        route = "/" + match.route.removeprefix("api/v1/")
        return f"{method.upper()} {route.replace('<', '{').replace('>', '}')}"
    return f"{match.namespace}:{match.url_name}"


def test_matrix_covers_every_page_and_endpoint() -> None:
    declared = set()
    for _route, name, callback in _walk(get_resolver().url_patterns):
        access = access_of(callback)
        if access is not None and access.permission is not None:
            declared.add(name)
    for method, path, view in _api_operations():
        access = access_of(view)
        if access is not None and access.permission is not None:
            declared.add(f"{method} {path}")
    covered = {_route_key(getattr(case, "method", "get"), case.url) for case in _matrix_cases()}
    assert declared <= covered, f"not in any context's matrix: {sorted(declared - covered)}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], tree: dict[str, OrgUnit], other_token: int) -> None:
    client = login(Client(), users[role])
    assert _request(client, case, other_token) == _expected(role, case, tree), (role, case.label)


@pytest.mark.parametrize("role", ROLES)
def test_list_is_limited_to_the_jurisdiction(role: str, users: dict[str, User], tree: dict[str, OrgUnit]) -> None:
    client = login(Client(), users[role])
    body = client.get("/api/v1/orgunits").json()
    home = tree[HOMES[role]]
    expected = sorted(code for code, unit in tree.items() if unit.is_within(home.path))
    assert sorted(item["code"] for item in body["items"]) == expected
    assert body["count"] == len(expected)


def test_district_officer_cannot_reach_another_district(users: dict[str, User], tree: dict[str, OrgUnit]) -> None:
    officer = users["district_officer"]
    client = login(Client(), officer)
    page = client.get("/orgunits/").content.decode()
    assert "District 11" in page
    assert "District 12" not in page
    assert "Region 1" not in page
    assert [u["code"] for u in client.get("/api/v1/orgunits?parent=R1").json()["items"]] == ["D11"]
    assert client.get("/api/v1/orgunits?parent=R2").json()["items"] == []
    assert client.get("/api/v1/orgunits?q=12").json()["items"] == []
    # The same through an API token.
    _, raw = accounts.create_token(actor_of(officer), officer, name="t", scopes=["orgunits:orgunit:read"])
    tok = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert tok.get("/api/v1/orgunits/D12").status_code == 404
    assert tok.get("/api/v1/orgunits/D11").status_code == 200


def test_anonymous_is_sent_to_login_or_refused(db: Any) -> None:
    client = Client()
    for url in ("/", "/orgunits/", "/audit/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    for url in ("/api/v1/me", "/api/v1/orgunits", "/api/v1/orgunits/DE", "/api/v1/tokens"):
        response = client.get(url)
        assert response.status_code == 401
        assert response.json() == {"detail": "Unauthorized"}
