"""Authorization matrix of every page and endpoint of the consent context: every role x every page/endpoint, with
persons in the actor's own district and in another region's; anonymous visitors; the public right-of-access pages.

Roles hold their role at ``HOMES[role]`` (tests/platform/fixtures.py). Without the permission: 403; a person outside
the actor's jurisdiction: 404 for reads and staff pages (existence not revealed), 403 for FHIR writes (an
OperationOutcome naming ``Consent.patient``); else the success status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.consent import fhirconsent
from dhnet.fhir.models import StoredResource
from dhnet.orgunits.models import OrgUnit
from tests.cases.fixtures import bundle, condition, encounter, patient, post, urn
from tests.consent.test_fhir_consent import consent
from tests.platform.fixtures import HOMES, ROLES, login

pytestmark = pytest.mark.django_db

READ = "consent:consent:read"
WRITE = "consent:consent:write"
AUDIT = "audit:record:read"


@dataclass(frozen=True)
class Case:
    label: str
    method: str
    url: str  # {P11}, {P21} (pseudonyms), {C11}, {C21} (stored Consent ids) are filled in
    permission: str | None
    ok: int = 200
    target: str | None = None
    outside: int = 404
    form: dict[str, str] | None = None
    fhir_body: str | None = None  # "D11"/"D21": a Consent of that district's person
    fhir: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _record_form(person: str, unit: str) -> dict[str, str]:
    return {"pseudonym": person, "purpose": "research", "decision": "withdraw", "orgunit": unit}


CASES = [
    Case("decisions page", "get", "/consent/", READ),
    Case("record form", "get", "/consent/record/", WRITE),
    Case("record, D11 person", "post", "/consent/record/", WRITE, 302, "D11", form=_record_form("{P11}", "D11")),
    Case("record, D21 person", "post", "/consent/record/", WRITE, 302, "D21", form=_record_form("{P21}", "D21")),
    Case("person page, D11", "get", "/consent/person/{P11}/", READ, target="D11"),
    Case("person page, D21", "get", "/consent/person/{P21}/", READ, target="D21"),
    Case("FHIR create, D11", "post", "/fhir/Consent", WRITE, 201, "D11", 403, fhir_body="D11", fhir=True),
    Case("FHIR create, D21", "post", "/fhir/Consent", WRITE, 201, "D21", 403, fhir_body="D21", fhir=True),
    Case("FHIR search, D11 person", "get", "/fhir/Patient/{P11}/Consent", READ, fhir=True),
    Case("FHIR read, D11", "get", "/fhir/Consent/{C11}", READ, target="D11", fhir=True),
    Case("FHIR read, D21", "get", "/fhir/Consent/{C21}", READ, target="D21", fhir=True),
    Case("FHIR vread, D21", "get", "/fhir/Consent/{C21}/_history/1", READ, target="D21", fhir=True),
    Case("AuditEvent search", "get", "/fhir/AuditEvent", AUDIT, fhir=True),
    Case("right of access: start", "get", "/my-data/", None),
    Case("right of access: code without a ticket", "get", "/my-data/code/", None, 302),
    Case("right of access: record without a code", "get", "/my-data/record/", None, 302),
    Case("right of access: download without a code", "get", "/my-data/download/", None, 302),
    Case("right of access: consent without a code", "post", "/my-data/consent/", None, 302, form={}),
    Case("right of access: end", "post", "/my-data/end/", None, 302, form={}),
]


def _person_bundle(unit: str, n: int) -> dict[str, Any]:
    provider = {"identifier": {"system": "https://dhnet.example/fhir/sid/orgunit-code", "value": unit}}
    return bundle(
        patient(district=unit, national=f"N-{unit}"),
        condition(encounter=urn(3), key=f"C-{unit}"),
        encounter(serviceProvider=provider, identifier=[{"system": "https://clinic.example.org/e", "value": unit}]),
        consent(key=f"K-{unit}-{n}"),
    )


@pytest.fixture
def ids(users: dict[str, User], diseases: Any) -> dict[str, str]:
    """A person with a case and a research consent in D11 and in D21 (reported by the system administrator)."""
    admin = login(Client(), users["system_admin"])
    found = {}
    for n, unit in enumerate(("D11", "D21")):
        response = post(admin, "/fhir", _person_bundle(unit, n))
        assert response.status_code == 200, response.content
        consent_row = StoredResource.objects.select_related("orgunit").get(resource_type="Consent", orgunit__code=unit)
        found[f"C{unit[1:]}"] = consent_row.logical_id
        found[f"P{unit[1:]}"] = (
            consent_row.subject or StoredResource.objects.get(resource_type="Patient", orgunit__code=unit).subject
        )
    return found


def _body(case: Case, ids: dict[str, str]) -> dict[str, Any]:
    data = consent(status="inactive", key=f"K-matrix-{case.fhir_body}")
    person = ids[f"P{case.fhir_body[1:]}"]  # type: ignore[index]
    data["patient"] = {"identifier": {"system": fhirconsent.PSEUDONYM_SYSTEM, "value": person}}
    return data


def _expected(role: str | None, case: Case, units: dict[str, OrgUnit]) -> int:
    if case.permission is None:
        return case.ok
    if role is None:
        return 401 if case.fhir else 302
    if case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if case.target is not None and not units[case.target].is_within(units[HOMES[role]].path):  # type: ignore[index]
        return case.outside
    return case.ok


def _call(client: Client, case: Case, ids: dict[str, str]) -> Any:
    url = case.url.format(**ids)
    if case.fhir_body:
        return post(client, url, _body(case, ids))
    if case.method == "post":
        form = {k: v.format(**ids) for k, v in (case.form or {}).items()}
        return client.post(url, form)
    return client.get(url)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(
    role: str, case: Case, users: dict[str, User], tree: dict[str, OrgUnit], ids: dict[str, str]
) -> None:
    response = _call(login(Client(), users[role]), case, ids)
    assert response.status_code == _expected(role, case, tree), (role, case.label, response.content[:300])
    if case.fhir:
        assert response["Content-Type"].startswith("application/fhir+json")
        if response.status_code >= 400:
            assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_anonymous(case: Case, tree: dict[str, OrgUnit], ids: dict[str, str]) -> None:
    response = _call(Client(), case, ids)
    assert response.status_code == _expected(None, case, tree), (case.label, response.content[:300])
    if response.status_code == 302 and case.permission is not None:
        assert "/accounts/login" in response["Location"]


def test_outside_write_names_the_patient(users: dict[str, User], ids: dict[str, str]) -> None:
    officer = login(Client(), users["district_officer"])  # D11
    response = post(officer, "/fhir/Consent", _body(CASES[7], ids))  # a D21 person
    assert response.status_code == 403
    assert response.json()["issue"][0]["expression"] == ["Consent.patient"]
