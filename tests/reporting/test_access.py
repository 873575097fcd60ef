"""Authorization matrix of the reporting pages and endpoints: every role x every page/endpoint.

Roles hold their role at ``HOMES[role]`` (D11's district officer, R1's regional officer and viewer, the rest at the
country). A request without the permission answers 403; a page or query about an org unit outside the actor's
jurisdiction answers 404 (its existence is not revealed); a *batch* with a row outside it answers 403 naming the
row, through every intake path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import access_of
from dhnet.platform.api import api
from dhnet.reporting.models import CountValue, DataElementMapping, ImportBatch, PendingUpload
from tests.platform.fixtures import HOMES, ROLES, login
from tests.reporting.helpers import UIDS, WEEK, csv_bytes, value_set

WRITE = "surveillance:report:write"
AGG = "surveillance:aggregate:read"
CFG_R = "reporting:config:read"
CFG_W = "reporting:config:write"


@dataclass(frozen=True)
class Case:
    """``target``: the org unit the request is about; ``outside``: the answer when it is outside the jurisdiction."""

    label: str
    method: str
    url: str
    permission: str
    ok: int = 200
    target: str | None = None
    outside: int = 404
    body: Any = None
    form: dict[str, Any] | None = None


def _counts(unit: str) -> dict[str, Any]:
    return {"rows": [{"orgunit": unit, "disease": "measles", "period": WEEK, "cases": 1}]}


def _dhis2(unit: str) -> dict[str, Any]:
    return value_set({"dataElement": "MeaslesCas1", "orgUnit": UIDS[unit], "value": "1"})


CASES = [
    Case("home page", "get", "/reporting/", AGG),
    Case("form chooser", "get", "/reporting/form/", WRITE),
    Case("form of D11", "get", f"/reporting/form/D11/{WEEK}/", WRITE, target="D11"),
    Case("form of D21", "get", f"/reporting/form/D21/{WEEK}/", WRITE, target="D21"),
    Case(
        "post form of D11",
        "post",
        f"/reporting/form/D11/{WEEK}/",
        WRITE,
        302,
        target="D11",
        form={"cases_measles": "1"},
    ),
    Case(
        "post form of D12",
        "post",
        f"/reporting/form/D12/{WEEK}/",
        WRITE,
        302,
        target="D12",
        form={"cases_measles": "1"},
    ),
    Case("upload page", "get", "/reporting/upload/", WRITE),
    Case("upload D11 file", "upload", "/reporting/upload/", WRITE, 302, body="D11"),
    Case("someone else's upload", "get", "/reporting/upload/{upload}/", WRITE, 404),
    Case("confirm someone else's upload", "post", "/reporting/upload/{upload}/", WRITE, 404, form={}),
    Case("completeness page", "get", "/reporting/completeness/", AGG),
    Case("completeness page of D21", "get", "/reporting/completeness/?orgunit=D21", AGG, target="D21"),
    Case("mappings page", "get", "/reporting/mappings/", CFG_R),
    Case(
        "add mapping page",
        "post",
        "/reporting/mappings/new/",
        CFG_W,
        302,
        form={"data_element": "Plague00001", "disease": "plague", "measure": "cases"},
    ),
    Case("delete mapping page", "post", "/reporting/mappings/{mapping}/delete/", CFG_W, 302, form={}),
    Case("settings page", "get", "/reporting/settings/", CFG_R),
    Case("change settings page", "post", "/reporting/settings/update/", CFG_W, 302, form={"deadline_days": "3"}),
    Case(
        "API counts for D11", "post", "/api/v1/reporting/counts", WRITE, target="D11", outside=403, body=_counts("D11")
    ),
    Case(
        "API counts for D21", "post", "/api/v1/reporting/counts", WRITE, target="D21", outside=403, body=_counts("D21")
    ),
    Case("API completeness", "get", f"/api/v1/reporting/completeness?from={WEEK}", AGG),
    Case(
        "API completeness of D21",
        "get",
        f"/api/v1/reporting/completeness?from={WEEK}&orgunit=D21",
        AGG,
        target="D21",
    ),
    Case("API missing", "get", f"/api/v1/reporting/missing?week={WEEK}", AGG),
    Case("API missing in R2", "get", f"/api/v1/reporting/missing?week={WEEK}&orgunit=R2", AGG, target="R2"),
    Case("API mappings", "get", "/api/v1/reporting/mappings", CFG_R),
    Case(
        "API add mapping",
        "post",
        "/api/v1/reporting/mappings",
        CFG_W,
        201,
        body={"data_element": "Plague00001", "disease": "plague"},
    ),
    Case("API change mapping", "patch", "/api/v1/reporting/mappings/{mapping}", CFG_W, body={"measure": "deaths"}),
    Case("API delete mapping", "delete", "/api/v1/reporting/mappings/{mapping}", CFG_W, 204),
    Case("API settings", "get", "/api/v1/reporting/settings", CFG_R),
    Case("API change settings", "patch", "/api/v1/reporting/settings", CFG_W, body={"deadline_days": 1}),
    Case("DHIS2 for D11", "post", "/api/v1/dataValueSets", WRITE, target="D11", outside=403, body=_dhis2("D11")),
    Case("DHIS2 for D21", "post", "/api/v1/dataValueSets", WRITE, target="D21", outside=403, body=_dhis2("D21")),
    Case("DHIS2 root for D12", "post", "/api/dataValueSets", WRITE, target="D12", outside=403, body=_dhis2("D12")),
    Case("DHIS2 root for D11", "post", "/api/dataValueSets", WRITE, target="D11", outside=403, body=_dhis2("D11")),
    Case(
        "DHIS2 .json for D21", "post", "/api/dataValueSets.json", WRITE, target="D21", outside=403, body=_dhis2("D21")
    ),
    Case("DHIS2 v40 for D11", "post", "/api/40/dataValueSets", WRITE, target="D11", outside=403, body=_dhis2("D11")),
    Case(
        "DHIS2 v40 .json for D12",
        "post",
        "/api/40/dataValueSets.json",
        WRITE,
        target="D12",
        outside=403,
        body=_dhis2("D12"),
    ),
]


@pytest.fixture
def objects(mappings: dict[str, DataElementMapping], users: dict[str, Any]) -> dict[str, Any]:
    """A mapping to change or delete, and an upload by a user outside every matrix role."""
    mapping = DataElementMapping.objects.create(data_element="Anthrax0001", disease_id=mappings["measles"].disease_id)
    upload = PendingUpload.objects.create(
        user=users["system_admin"], checksum="f" * 64, filename="x.csv", content="orgunit\n"
    )
    upload.user_id = users["partner"].pk  # the partner never uploads: nobody else may see it
    upload.save()
    return {"mapping": mapping.pk, "upload": upload.checksum}


def _expected(role: str, case: Case, tree: dict[str, OrgUnit]) -> int:
    if case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if case.target is not None and not tree[case.target].is_within(tree[HOMES[role]].path):  # type: ignore[index]
        return case.outside
    return case.ok


def _request(client: Client, case: Case, objects: dict[str, Any]) -> Any:
    url = case.url.format(**objects)
    if case.method == "upload":
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = csv_bytes(f"{case.body},measles,{WEEK},1,")
        return client.post(url, {"file": SimpleUploadedFile("f.csv", data, content_type="text/csv")})
    if case.body is not None:
        return client.generic(case.method.upper(), url, data=json.dumps(case.body), content_type="application/json")
    if case.form is not None:
        return client.post(url, case.form)
    return getattr(client, case.method)(url)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(
    role: str, case: Case, users: dict[str, Any], tree: dict[str, OrgUnit], objects: dict[str, Any]
) -> None:
    client = login(Client(), users[role])
    response = _request(client, case, objects)
    expected = _expected(role, case, tree)
    assert response.status_code == expected, (role, case.label, response.content[:300])
    if expected == 403 and case.outside == 403 and case.permission in ROLE_PERMISSIONS[role]:
        # A batch with a row outside the jurisdiction: 403 naming the row, and nothing stored.
        assert "outside your jurisdiction" in response.content.decode()
        assert not CountValue.objects.exists()
        assert not ImportBatch.objects.exists()


def test_anonymous(db: Any) -> None:
    client = Client()
    for case in CASES:
        if case.url.startswith("/reporting/") and "{" not in case.url:
            response = client.post(case.url, {}) if case.method == "post" else client.get(case.url)
            assert response.status_code == 302, case.label
            assert response["Location"].startswith("/accounts/login/"), case.label
        elif case.url.startswith("/api/") and "{" not in case.url:
            response = client.generic(case.method.upper(), case.url, data="{}", content_type="application/json")
            assert response.status_code == 401, case.label


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace in ("reporting", "dhis2"):
                found.extend((prefix + str(p.pattern) + str(q.pattern), q.callback) for q in p.url_patterns)
        elif isinstance(p, URLPattern):
            pass
    return found


def test_matrix_covers_every_reporting_page_and_endpoint() -> None:
    urls = [c.url.split("?")[0] for c in CASES]
    for route, callback in _walk(get_resolver().url_patterns):
        assert access_of(callback) is not None, route
        rx = "^/" + re.sub(r"<[^>]+>", r"[^/]+", route) + "$"
        assert any(re.match(rx, u) for u in urls), f"page not in the matrix: {route}"
    covered = {(c.method.upper(), c.url.split("?")[0].removeprefix("/api/v1")) for c in CASES if "/api/v1" in c.url}
    covered = {(m, re.sub(r"\{\w+\}", "{id}", u)) for m, u in covered}
    for _prefix, router in api._routers:
        for path, view in router.path_operations.items():
            if not path.startswith(("/reporting", "/dataValueSets")):
                continue
            for op in view.operations:
                assert access_of(op.view_func) is not None, path
                for method in op.methods:
                    assert (method, re.sub(r"\{\w+\}", "{id}", path)) in covered, f"not in the matrix: {method} {path}"
