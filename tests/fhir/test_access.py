"""Who may do what at /fhir: declarations on every URL and operation, and the role x endpoint matrix.

Roles hold at ``HOMES[role]`` (tests/platform/fixtures.py). Writing needs ``surveillance:report:write`` at the
report's org unit: without the permission, or outside the jurisdiction, the answer is 403 (an OperationOutcome
naming the org-unit identifier). Reading needs ``surveillance:aggregate:read``; a report outside the jurisdiction is
404 (existence not revealed). The CapabilityStatement is public.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.accounts.roles import PERMISSIONS, ROLE_PERMISSIONS
from dhnet.diseases.models import Disease
from dhnet.fhir import services
from dhnet.fhir.api import operations
from dhnet.fhir.registry import HANDLERS
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import access_of
from tests.fhir.fixtures import post, report
from tests.platform.fixtures import HOMES, ROLES, actor_of, login


def _fhir_urls(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            found += _fhir_urls(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern) and (prefix + str(p.pattern)).startswith("fhir"):
            found.append((prefix + str(p.pattern), p.callback))
    return found


def test_every_fhir_url_and_operation_declares_its_access() -> None:
    urls = _fhir_urls(get_resolver().url_patterns)
    assert len(urls) >= 8
    ops = operations()
    # A path with several methods (POST /fhir/Consent, GET /fhir/Consent) has one URL callback dispatching to its
    # operations: those must each declare their access (checked below).
    multi = {path for path in {p for _, p, _ in ops} if sum(1 for _, q, _ in ops if q == path) > 1}
    assert [route for route, callback in urls if access_of(callback) is None and "/" + route not in multi] == []
    assert len(ops) >= 2 + 3 * len(HANDLERS)
    for method, path, view in ops:
        access = access_of(view)
        assert access is not None, (method, path)
        assert access.public == (path == "/fhir/metadata"), (method, path)
        assert access.permission is None or access.permission in PERMISSIONS


@dataclass(frozen=True)
class Case:
    label: str
    method: str
    url: str
    permission: str | None
    ok: int
    target: str | None = None
    outside: int = 403  # the answer outside the jurisdiction
    body: Any = None


CASES = [
    Case("capability statement", "get", "/fhir/metadata", None, 200),
    Case("create, own district", "post", "/fhir/MeasureReport", "surveillance:report:write", 201, "D11", body="D11"),
    Case("create, other region", "post", "/fhir/MeasureReport", "surveillance:report:write", 201, "D21", body="D21"),
    Case("transaction, D12", "post", "/fhir", "surveillance:report:write", 200, "D12", body="bundle:D12"),
    Case("transaction at /fhir/, D12", "post", "/fhir/", "surveillance:report:write", 200, "D12", body="bundle:D12"),
    Case("read, D11", "get", "/fhir/MeasureReport/{D11}", "surveillance:aggregate:read", 200, "D11", 404),
    Case("read, D21", "get", "/fhir/MeasureReport/{D21}", "surveillance:aggregate:read", 200, "D21", 404),
    Case("vread, D21", "get", "/fhir/MeasureReport/{D21}/_history/1", "surveillance:aggregate:read", 200, "D21", 404),
]


@pytest.fixture
def stored(users: dict[str, User], diseases: dict[str, Disease]) -> dict[str, str]:
    """One stored report each for D11 and D21 (another week than the matrix writes)."""
    admin = actor_of(users["system_admin"])
    ids = {}
    for unit in ("D11", "D21"):
        data = report(unit)
        data["period"] = {"start": "2024-01-01", "end": "2024-01-07"}
        ids[unit] = services.create(admin, "MeasureReport", data).logical_id
    return ids


def _body(spec: str) -> Any:
    if spec.startswith("bundle:"):
        resource = report(spec.split(":", 1)[1])
        return {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"resource": resource, "request": {"method": "POST", "url": "MeasureReport"}}],
        }
    return report(spec)


def _expected(role: str | None, case: Case, units: dict[str, OrgUnit]) -> int:
    if case.permission is None:
        return case.ok
    if role is None:
        return 401
    if case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if case.target is not None and not units[case.target].is_within(units[HOMES[role]].path):  # type: ignore[index]
        return case.outside
    return case.ok


def _call(client: Client, case: Case, ids: dict[str, str]) -> Any:
    url = case.url.format(**ids)
    if case.method == "post":
        return post(client, url, _body(case.body))
    return client.get(url)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(
    role: str, case: Case, users: dict[str, User], tree: dict[str, OrgUnit], stored: dict[str, str]
) -> None:
    response = _call(login(Client(), users[role]), case, stored)
    assert response.status_code == _expected(role, case, tree), (role, case.label, response.content)
    assert response["Content-Type"].startswith("application/fhir+json")
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_anonymous(case: Case, tree: dict[str, OrgUnit], stored: dict[str, str]) -> None:
    response = _call(Client(), case, stored)
    assert response.status_code == _expected(None, case, tree)
    if response.status_code == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["issue"][0]["code"] == "login"


def test_district_token_cannot_post_another_district(users: dict[str, User], diseases: dict[str, Disease]) -> None:
    officer = users["district_officer"]
    _, raw = accounts.create_token(actor_of(officer), officer, name="t", scopes=["surveillance:report:write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    denied = post(client, "/fhir/MeasureReport", report("D12"))
    assert denied.status_code == 403
    assert denied.json()["issue"][0]["expression"] == ["MeasureReport.subject.identifier.value"]
    assert post(client, "/fhir/MeasureReport", report("D11")).status_code == 201
    # A token without the write scope: 403 whatever the org unit.
    _, reader = accounts.create_token(actor_of(officer), officer, name="r", scopes=["surveillance:aggregate:read"])
    assert post(Client(HTTP_AUTHORIZATION=f"Bearer {reader}"), "/fhir/MeasureReport", report("D11")).status_code == 403
    assert Client(HTTP_AUTHORIZATION="Bearer dhn_nope").get("/fhir/MeasureReport/x").status_code == 401
