"""The catalogue's API and pages, and the authorization matrix: every role x every diseases endpoint and page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver

from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.diseases.models import AlertRule, Disease
from dhnet.platform.access import access_of
from dhnet.platform.api import api
from tests.platform.fixtures import ROLES, login


def test_api_list_and_detail(users: dict[str, Any]) -> None:
    client = login(Client(), users["viewer"])
    body = client.get("/api/v1/diseases").json()
    assert {d["code"] for d in body} >= {"measles", "cholera"}
    measles = client.get("/api/v1/diseases/measles").json()
    assert measles["icd11"] == "1F03"
    assert measles["rules"][0]["kind"] == "count"
    assert [d["code"] for d in client.get("/api/v1/diseases?reporting=weekly").json()].count("measles") == 0
    assert client.get("/api/v1/diseases?reporting=daily").status_code == 400
    assert client.get("/api/v1/diseases/nope").status_code == 404


def test_api_edit_rules(users: dict[str, Any]) -> None:
    client = login(Client(), users["national_epidemiologist"])
    created = client.post(
        "/api/v1/diseases/malaria/rules",
        data=json.dumps({"name": "GLR", "level": 3, "kind": "detector", "method": "glrnb", "settings": {}}),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    bad = client.patch(
        f"/api/v1/diseases/malaria/rules/{rule_id}",
        data=json.dumps({"method": "ears", "settings": {"variant": "C7"}}),
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("settings.variant:")
    ok = client.patch(
        f"/api/v1/diseases/malaria/rules/{rule_id}",
        data=json.dumps({"method": "ears", "settings": {"variant": "C3"}}),
        content_type="application/json",
    )
    assert ok.status_code == 200
    assert ok.json()["method"] == "ears"
    patched = client.patch(
        "/api/v1/diseases/malaria", data=json.dumps({"icd11": "1F4Z"}), content_type="application/json"
    )
    assert patched.status_code == 200
    assert patched.json()["icd11"] == "1F4Z"
    assert client.delete(f"/api/v1/diseases/malaria/rules/{rule_id}").status_code == 204
    assert client.delete(f"/api/v1/diseases/malaria/rules/{rule_id}").status_code == 404
    dup = client.post(
        "/api/v1/diseases", data=json.dumps({"code": "measles", "name": "x"}), content_type="application/json"
    )
    assert dup.status_code == 409


def test_pages_edit_a_rule_and_show_errors(users: dict[str, Any]) -> None:
    client = login(Client(), users["national_epidemiologist"])
    page = client.get("/diseases/")
    assert page.status_code == 200
    assert b"Measles" in page.content
    assert b"<script" not in page.content
    response = client.post(
        "/diseases/malaria/rules/new/",
        {"name": "EARS C1", "kind": "detector", "method": "ears", "settings": '{"variant": "C1"}', "active": "on"},
    )
    assert response.status_code == 302
    rule = AlertRule.objects.get(disease__code="malaria", name="EARS C1")
    bad = client.post(
        f"/diseases/malaria/rules/{rule.pk}/",
        {"name": "EARS C1", "kind": "detector", "method": "ears", "settings": "{not json", "active": "on"},
    )
    assert bad.status_code == 400
    assert b"settings: not valid JSON" in bad.content
    bad = client.post(
        f"/diseases/malaria/rules/{rule.pk}/",
        {"name": "EARS C1", "kind": "detector", "method": "ears", "settings": '{"baseline": 1}', "active": "on"},
    )
    assert bad.status_code == 400
    assert b"settings.baseline: must be an integer &gt;= 3" in bad.content
    assert client.post(f"/diseases/malaria/rules/{rule.pk}/delete/").status_code == 302
    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    edit = client.post(
        "/diseases/malaria/edit/",
        {"code": "malaria", "name": "Malaria (confirmed)", "reporting": "weekly", "active": "on"},
    )
    assert edit.status_code == 302
    assert Disease.objects.get(code="malaria").name == "Malaria (confirmed)"


# --- authorization matrix -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    method: str
    url: str
    permission: str
    ok: int = 200
    body: dict[str, Any] | None = None
    form: dict[str, Any] | None = None


RULE = {"name": "matrix rule", "kind": "count", "threshold": 2}
CASES = [
    Case("list page", "get", "/diseases/", "diseases:disease:read"),
    Case("detail page", "get", "/diseases/measles/", "diseases:disease:read"),
    Case("new disease page", "get", "/diseases/new/", "diseases:disease:write"),
    Case(
        "create disease",
        "post",
        "/diseases/new/",
        "diseases:disease:write",
        302,
        form={"code": "zz", "name": "Z", "reporting": "weekly", "active": "on"},
    ),
    Case("edit disease page", "get", "/diseases/measles/edit/", "diseases:disease:write"),
    Case(
        "edit disease",
        "post",
        "/diseases/measles/edit/",
        "diseases:disease:write",
        302,
        form={"code": "measles", "name": "Measles", "reporting": "immediate", "active": "on"},
    ),
    Case("new rule page", "get", "/diseases/measles/rules/new/", "diseases:disease:write"),
    Case(
        "create rule",
        "post",
        "/diseases/measles/rules/new/",
        "diseases:disease:write",
        302,
        form={"name": "two", "kind": "count", "threshold": "2", "active": "on"},
    ),
    Case("edit rule page", "get", "/diseases/measles/rules/{rule}/", "diseases:disease:write"),
    Case(
        "edit rule",
        "post",
        "/diseases/measles/rules/{rule}/",
        "diseases:disease:write",
        302,
        form={"name": "three", "kind": "count", "threshold": "3", "active": "on"},
    ),
    Case("delete rule", "post", "/diseases/measles/rules/{rule}/delete/", "diseases:disease:write", 302, form={}),
    Case("API list", "get", "/api/v1/diseases", "diseases:disease:read"),
    Case("API create", "post", "/api/v1/diseases", "diseases:disease:write", 201, body={"code": "zz", "name": "Z"}),
    Case("API detail", "get", "/api/v1/diseases/measles", "diseases:disease:read"),
    Case("API change", "patch", "/api/v1/diseases/measles", "diseases:disease:write", body={"icd10": "B05"}),
    Case("API rules", "get", "/api/v1/diseases/measles/rules", "diseases:disease:read"),
    Case("API add rule", "post", "/api/v1/diseases/measles/rules", "diseases:disease:write", 201, body=RULE),
    Case(
        "API change rule",
        "patch",
        "/api/v1/diseases/measles/rules/{rule}",
        "diseases:disease:write",
        body={"threshold": 4},
    ),
    Case("API delete rule", "delete", "/api/v1/diseases/measles/rules/{rule}", "diseases:disease:write", 204),
]


@pytest.fixture
def rule(db: Any) -> int:
    return AlertRule.objects.create(
        disease=Disease.objects.get(code="measles"), name="matrix", kind="count", threshold=2
    ).pk


def _request(client: Client, case: Case, rule: int) -> int:
    url = case.url.format(rule=rule)
    if case.body is not None:
        return client.generic(
            case.method.upper(), url, data=json.dumps(case.body), content_type="application/json"
        ).status_code
    if case.form is not None:
        return client.post(url, case.form).status_code
    return getattr(client, case.method)(url).status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, Any], rule: int) -> None:
    client = login(Client(), users[role])
    expected = case.ok if case.permission in ROLE_PERMISSIONS[role] else 403
    assert _request(client, case, rule) == expected, (role, case.label)


def test_anonymous(db: Any) -> None:
    client = Client()
    for url in ("/diseases/", "/diseases/measles/", "/diseases/new/"):
        assert client.get(url).status_code == 302
    assert client.get("/api/v1/diseases").status_code == 401


def test_matrix_covers_every_diseases_page_and_endpoint() -> None:
    pages = {
        str(p.pattern)
        for r in get_resolver().url_patterns
        if getattr(r, "namespace", None) == "diseases"
        for p in r.url_patterns
    }
    assert len(pages) == 7
    covered_pages = {c.url for c in CASES if not c.url.startswith("/api/")}
    for pattern in pages:
        rx = "^/diseases/" + pattern.replace("<slug:code>", "[a-z_]+").replace("<int:rule_id>", r"\{rule\}") + "$"
        import re

        assert any(re.match(rx, url) for url in covered_pages), pattern
    operations = []
    for _prefix, router in api._routers:
        for path, view in router.path_operations.items():
            if path.startswith("/diseases"):
                for op in view.operations:
                    assert access_of(op.view_func) is not None
                    operations.extend((m, path) for m in op.methods)
    covered = {
        (c.method.upper(), c.url.removeprefix("/api/v1").replace("measles", "{code}").replace("{rule}", "{rule_id}"))
        for c in CASES
        if c.url.startswith("/api/")
    }
    assert set(operations) == covered, set(operations) ^ covered
