"""The authorization matrix of the case pages, the line-list API and the case-based FHIR resources: every role ×
every endpoint, in and outside the jurisdiction (collected by ``tests/platform/test_access.py`` too)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.cases.models import Case as CaseRow
from dhnet.fhir import services as fhir
from dhnet.orgunits.models import OrgUnit
from tests.cases.fixtures import case_bundle, condition, encounter, observation, patient, post
from tests.platform.fixtures import HOMES, ROLES, actor_of, login

READ = "surveillance:report:read"
WRITE = "surveillance:report:write"


@dataclass(frozen=True)
class Case:
    label: str
    method: str
    url: str
    permission: str
    ok: int
    target: str | None = None
    outside: int = 404
    body: str | None = None


CASES = [
    Case("line list page", "get", "/cases/", READ, 200),
    Case("line list page, filtered", "get", "/cases/?disease=measles&district=D11", READ, 200),
    Case("CSV page", "get", "/cases/export.csv", READ, 200),
    Case("case page, D11", "get", "/cases/{case:D11}/", READ, 200, "D11"),
    Case("case page, D21", "get", "/cases/{case:D21}/", READ, 200, "D21"),
    Case("line list api", "get", "/api/v1/cases/", READ, 200),
    Case("line list api, no slash", "get", "/api/v1/cases?classification=confirmed", READ, 200),
    Case("CSV api", "get", "/api/v1/cases/export.csv", READ, 200),
    Case("case api, D11", "get", "/api/v1/cases/{case:D11}", READ, 200, "D11"),
    Case("case api, D21", "get", "/api/v1/cases/{case:D21}", READ, 200, "D21"),
    Case("create Patient, D11", "post", "/fhir/Patient", WRITE, 201, "D11", 403, "patient:D11"),
    Case("create Patient, D21", "post", "/fhir/Patient", WRITE, 201, "D21", 403, "patient:D21"),
    Case("create Encounter, D11", "post", "/fhir/Encounter", WRITE, 201, "D11", 403, "encounter:D11"),
    Case("create Condition, D21", "post", "/fhir/Condition", WRITE, 201, "D21", 403, "condition:D21"),
    Case("create Condition, D11", "post", "/fhir/Condition", WRITE, 201, "D11", 403, "condition:D11"),
    Case("create Observation, D11", "post", "/fhir/Observation", WRITE, 201, "D11", 403, "observation:D11"),
    Case("read Patient, D11", "get", "/fhir/Patient/{Patient:D11}", READ, 200, "D11"),
    Case("vread Patient, D21", "get", "/fhir/Patient/{Patient:D21}/_history/1", READ, 200, "D21"),
    Case("read Condition, D21", "get", "/fhir/Condition/{Condition:D21}", READ, 200, "D21"),
    Case("vread Condition, D11", "get", "/fhir/Condition/{Condition:D11}/_history/1", READ, 200, "D11"),
    Case("read Encounter, D11", "get", "/fhir/Encounter/{Encounter:D11}", READ, 200, "D11"),
    Case("vread Encounter, D21", "get", "/fhir/Encounter/{Encounter:D21}/_history/1", READ, 200, "D21"),
    Case("read Observation, D21", "get", "/fhir/Observation/{Observation:D21}", READ, 200, "D21"),
    Case("vread Observation, D11", "get", "/fhir/Observation/{Observation:D11}/_history/1", READ, 200, "D11"),
]


def district_bundle(unit: str) -> dict[str, Any]:
    n = unit[1:]
    return case_bundle(
        patient={"district": unit, "national": f"N{n}"},
        condition={"key": f"C-{unit}"},
        encounter={
            "identifier": [{"system": "https://clinic.example.org/encounters", "value": f"E-{unit}"}],
            "serviceProvider": {"identifier": {"system": "https://dhnet.example/fhir/sid/orgunit-code", "value": unit}},
        },
        observation={"identifier": [{"system": "https://lab.example.org/results", "value": f"L-{unit}"}]},
    )


@pytest.fixture
def stored(users: dict[str, User], diseases: Any) -> dict[str, str]:
    """One case bundle each in D11 and D21 (by the system administrator): ids by ``Type:district``."""
    admin = actor_of(users["system_admin"])
    ids: dict[str, str] = {}
    for unit in ("D11", "D21"):
        answer = fhir.bundle(admin, district_bundle(unit))
        for entry in answer["entry"]:
            rtype, logical_id = entry["response"]["location"].split("/")[:2]
            ids[f"{rtype}:{unit}"] = logical_id
        ids[f"case:{unit}"] = str(CaseRow.objects.get(source_value=f"C-{unit}").case_id)
    return ids


def _body(spec: str, ids: dict[str, str]) -> dict[str, Any]:
    kind, unit = spec.split(":")
    if kind == "patient":
        return patient(district=unit, national=f"NEW-{unit}")
    subject = f"Patient/{ids['Patient:' + unit]}"
    if kind == "encounter":
        return encounter(
            subject,
            identifier=[{"system": "https://clinic.example.org/encounters", "value": "E-new"}],
            serviceProvider={"identifier": {"system": "https://dhnet.example/fhir/sid/orgunit-code", "value": unit}},
        )
    if kind == "condition":
        return condition(subject, key=f"C-new-{unit}")
    return observation(
        subject,
        identifier=[{"system": "https://lab.example.org/results", "value": "L-new"}],
        focus=[{"reference": f"Condition/{ids['Condition:' + unit]}"}],
    )


def _expected(role: str, case: Case, units: dict[str, OrgUnit]) -> int:
    if case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if case.target is not None and not units[case.target].is_within(units[HOMES[role]].path):
        return case.outside
    return case.ok


def _call(client: Client, case: Case, ids: dict[str, str]) -> Any:
    url = re.sub(r"\{([^}]+)\}", lambda m: ids[m.group(1)], case.url)
    if case.method == "post":
        assert case.body is not None
        return post(client, url, _body(case.body, ids))
    return client.get(url)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(
    role: str, case: Case, users: dict[str, User], tree: dict[str, OrgUnit], stored: dict[str, str]
) -> None:
    response = _call(login(Client(), users[role]), case, stored)
    assert response.status_code == _expected(role, case, tree), (role, case.label, response.content[:500])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_anonymous_is_refused(case: Case, tree: dict[str, OrgUnit], stored: dict[str, str]) -> None:
    response = _call(Client(), case, stored)
    if case.url.startswith("/cases/"):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 401


def test_partner_sees_no_case_level_data(users: dict[str, User], stored: dict[str, str]) -> None:
    client = login(Client(), users["partner"])
    for url in ("/cases/", "/api/v1/cases/", f"/api/v1/cases/{stored['case:D11']}", "/api/v1/cases/export.csv"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert stored["case:D11"] not in response.content.decode()
    assert json.loads(client.get("/api/v1/cases/").content)["detail"]


def test_a_malformed_case_id_is_not_found(users: dict[str, User], stored: dict[str, str]) -> None:
    client = login(Client(), users["national_epidemiologist"])
    assert client.get("/api/v1/cases/not-a-uuid").status_code == 404
    assert client.get("/cases/not-a-uuid/").status_code == 404
