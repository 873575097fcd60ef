"""The authorization matrix of the import and export endpoints and pages: every role x every page/endpoint.

Export is public (what the caller may see); importing needs atlas:project:write; publishing on import needs the
administration of the project's country (registry managers administer every country; the planner administers DE
only, and the file's project is in KE). A draft imported by one user is in no one else's export but a registry
manager's.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.atlas.generate import generate_registry
from dhnet.atlas.models import CountryAdmin, Project
from tests.platform.fixtures import ROLES, login

WRITE = "atlas:project:write"
MANAGERS = frozenset({"knowledge_manager", "system_admin"})
ALL = frozenset(ROLES)

REGISTRY = generate_registry(1, 1, seed=5)
GOOD = json.dumps(REGISTRY).encode()
_bad = copy.deepcopy(REGISTRY)
_bad["projects"][0]["budget"] = [{"phase": "someday", "year": 1800, "amount": "1"}]
BAD = json.dumps(_bad).encode()


@dataclass(frozen=True)
class Case:
    """``permission`` None: public. ``only``: the roles the service lets through (the others get ``denied``)."""

    label: str
    method: str
    url: str
    permission: str | None
    ok: int = 200
    only: frozenset[str] = ALL
    denied: int = 403
    body: bytes | None = None
    upload: bytes | None = None
    form: dict[str, str] = field(default_factory=dict)


CASES = [
    Case("import page", "get", "/atlas/import/", WRITE),
    Case("import upload", "post", "/atlas/import/", WRITE, upload=GOOD, form={"format": "json"}),
    Case("import upload bad rows", "post", "/atlas/import/", WRITE, 400, upload=BAD, form={"format": "json"}),
    Case(
        "import upload publish",
        "post",
        "/atlas/import/",
        WRITE,
        upload=GOOD,
        form={"format": "json", "publish": "1"},
        only=MANAGERS,
        denied=400,
    ),
    Case("export json page", "get", "/atlas/export.json", None),
    Case("export dha page", "get", "/atlas/export.dha?country=KE", None),
    Case("export bad format page", "get", "/atlas/export.xml", None, 400),
    Case("import api", "post", "/api/v1/atlas/import?format=json", WRITE, body=GOOD),
    Case("import api bad rows", "post", "/api/v1/atlas/import?format=json", WRITE, 400, body=BAD),
    Case(
        "import api publish",
        "post",
        "/api/v1/atlas/import?format=json&publish=true",
        WRITE,
        body=GOOD,
        only=MANAGERS,
        denied=400,
    ),
    Case("import api multipart", "post", "/api/v1/atlas/import?format=json", WRITE, upload=GOOD),
    Case("export api", "get", "/api/v1/atlas/export?format=csv", None),
    Case("export api country", "get", "/api/v1/atlas/export?format=json&country=KE", None),
    Case("export api bad country", "get", "/api/v1/atlas/export?country=K1", None, 400),
]


def _expected(role: str, case: Case) -> int:
    if case.permission is not None and case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if role not in case.only:
        return case.denied
    return case.ok


def _request(client: Client, case: Case) -> int:
    if case.upload is not None:
        data: dict[str, Any] = {**case.form, "file": SimpleUploadedFile("registry.json", case.upload)}
        return client.post(case.url, data).status_code
    if case.body is not None:
        return client.post(case.url, data=case.body, content_type="application/json").status_code
    return getattr(client, case.method)(case.url).status_code


@pytest.fixture
def planner_administers_de(users: dict[str, User]) -> None:
    CountryAdmin.objects.create(user=users["digital_health_planner"], country="DE")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], planner_administers_de: None) -> None:
    client = login(Client(), users[role])
    assert _request(client, case) == _expected(role, case), (role, case.label)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_anonymous(case: Case, db: Any) -> None:
    """Exports answer anonymous visitors; imports send them to log in (API: 401)."""
    status = _request(Client(), case)
    if case.permission is None:
        assert status == case.ok, case.label
    elif case.url.startswith("/api/"):
        assert status == 401, case.label
    else:
        assert status == 302, case.label
    assert Project.objects.count() == 0


def test_the_import_report_is_shown_as_a_table_and_returned_by_the_api(users: dict[str, User]) -> None:
    client = login(Client(), users["partner"])
    page = client.post("/atlas/import/", {"format": "json", "file": SimpleUploadedFile("r.json", BAD)})
    html = page.content.decode()
    assert page.status_code == 400
    assert 'id="import-errors"' in html
    assert "budget[0]." in html
    answer = client.post("/api/v1/atlas/import?format=json", data=BAD, content_type="application/json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["ok"] is False
    assert body["errors"][0]["row"] == 1
    assert body["errors"][0]["field"].startswith("budget[0].")
    assert Project.objects.count() == 0
    good = client.post("/api/v1/atlas/import?format=json", data=GOOD, content_type="application/json").json()
    assert (good["created"], good["public_ids"]) == (1, [REGISTRY["projects"][0]["public_id"]])
    again = client.post("/api/v1/atlas/import?format=json", data=GOOD, content_type="application/json").json()
    assert (again["created"], again["unchanged"]) == (0, 1)
    assert Project.objects.count() == 1


def test_a_draft_is_only_in_its_importer_and_managers_exports(users: dict[str, User]) -> None:
    partner = login(Client(), users["partner"])
    assert (
        partner.post("/api/v1/atlas/import?format=json", data=GOOD, content_type="application/json").status_code == 200
    )
    pid = REGISTRY["projects"][0]["public_id"]
    for role, sees in [("partner", True), ("knowledge_manager", True), ("national_epidemiologist", False)]:
        text = login(Client(), users[role]).get("/api/v1/atlas/export?format=csv").content.decode()
        assert (pid in text) is sees, role
    anonymous = Client().get("/atlas/export.csv")
    assert anonymous["Content-Disposition"] == 'attachment; filename="atlas.csv"'
    assert pid not in anonymous.content.decode()


def test_an_unreadable_file_is_a_400_report_naming_the_problem(users: dict[str, User]) -> None:
    client = login(Client(), users["partner"])
    answer = client.post("/api/v1/atlas/import?format=json", data=b"{not json", content_type="application/json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["errors"] == [{"row": 0, "field": "file", "message": body["errors"][0]["message"]}]
    assert "not JSON" in body["detail"]
    answer = client.post("/api/v1/atlas/import?format=xml", data=GOOD, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "format"
    multipart = client.post("/api/v1/atlas/import", {"other": SimpleUploadedFile("r.json", GOOD)})
    assert multipart.status_code == 400
    assert "no field 'file'" in multipart.json()["detail"]
