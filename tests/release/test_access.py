"""Authorization matrix of the release pages and endpoints: every role x every page/endpoint.

Roles hold their role at ``HOMES[role]`` (see ``tests/platform/fixtures.py``). A request without the permission
answers 403; a line list of an org unit outside the actor's jurisdiction answers 404. Published tables are
protected aggregates: every holder of ``release:dataset:read`` (partners included) reads them, wherever they hold it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.release import services
from tests.platform.fixtures import HOMES, ROLES, login
from tests.release.helpers import add_counts

READ = services.READ
WRITE = services.WRITE
EXPORT = services.EXPORT

DATASET = {
    "slug": "measles-w",
    "title": "Measles by district and week",
    "disease": "measles",
    "area": "DE",
    "level": 3,
    "period_start": "2024-03-04",
    "period_end": "2024-03-31",
}
NEW = {**DATASET, "slug": "measles-new"}


@dataclass(frozen=True)
class Case:
    """``target``: the org unit the request is about (outside the jurisdiction: 404)."""

    label: str
    method: str
    url: str
    permission: str
    ok: int = 200
    target: str | None = None
    body: Any = None
    form: dict[str, Any] | None = None


CASES = [
    Case("release home", "get", "/release/", READ),
    Case("define page", "get", "/release/new/", WRITE),
    Case("define (form)", "post", "/release/new/", WRITE, 302, form={**NEW, "slug": "from-form"}),
    Case("dataset page", "get", "/release/measles-w/", READ),
    Case("publish (form)", "post", "/release/measles-w/publish/", WRITE, 302),
    Case("line-list page", "get", "/release/linelist/", EXPORT),
    Case("line list of D11 (page)", "get", "/release/linelist/?disease=measles&area=D11&k=2", EXPORT, target="D11"),
    Case("line list of D21 (page)", "get", "/release/linelist/?disease=measles&area=D21&k=2", EXPORT, target="D21"),
    Case("datasets", "get", "/api/v1/release/datasets", READ),
    Case("define", "post", "/api/v1/release/datasets", WRITE, 201, body=NEW),
    Case("dataset", "get", "/api/v1/release/datasets/measles-w", READ),
    Case("publish", "post", "/api/v1/release/datasets/measles-w/publish", WRITE, 201),
    Case("published table", "get", "/api/v1/release/datasets/measles-w/table", READ),
    Case("budget ledger", "get", "/api/v1/release/datasets/measles-w/budget", READ),
    Case("line list of D11", "get", "/api/v1/release/linelist?disease=measles&area=D11&k=2", EXPORT, target="D11"),
    Case("line list of R1", "get", "/api/v1/release/linelist?disease=measles&area=R1&k=2", EXPORT, target="R1"),
    Case("line list of D21", "get", "/api/v1/release/linelist?disease=measles&area=D21&k=2", EXPORT, target="D21"),
]


@pytest.fixture
def published(users: dict[str, User], operator: Actor) -> None:
    """The dataset of the matrix, published once (so that reading its table answers 200)."""
    add_counts([("D11", 0, 7), ("D12", 1, 2), ("D21", 2, 9)])
    spec = services.DatasetSpec(
        **{**DATASET, "period_start": _date(DATASET["period_start"]), "period_end": _date(DATASET["period_end"])}
    )  # type: ignore[arg-type]
    services.create_dataset(operator, spec)
    services.publish(operator, "measles-w")
    add_counts([("D11", 3, 1)], start=100)  # so that the matrix's publish makes a new version


def _date(text: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(text)


def _expected(role: str, case: Case, units: dict[str, OrgUnit]) -> int:
    if case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if case.target is not None and not units[case.target].is_within(units[HOMES[role]].path):
        return 404
    return case.ok


def _request(client: Client, case: Case) -> int:
    if case.body is not None:
        return client.generic(
            case.method.upper(), case.url, data=json.dumps(case.body), content_type="application/json"
        ).status_code
    if case.method == "post":
        return client.post(case.url, case.form or {}).status_code
    return client.get(case.url).status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], tree: dict[str, OrgUnit], published: None) -> None:
    client = login(Client(), users[role])
    assert _request(client, case) == _expected(role, case, tree), (role, case.label)


def test_anonymous_visitors_are_sent_to_login_or_refused(published: None) -> None:
    client = Client()
    assert client.get("/release/").status_code == 302
    assert client.get("/release/linelist/").status_code == 302
    assert client.get("/api/v1/release/datasets").status_code == 401
    assert client.get("/api/v1/release/linelist?disease=measles").status_code == 401


def test_public_pages_need_no_login_and_show_only_public_datasets(published: None, operator: Actor) -> None:
    client = Client()
    assert client.get("/release/public/").status_code == 200
    assert client.get("/release/public/measles-w/").status_code == 404  # audience: partners
    spec = services.DatasetSpec(
        **{
            **DATASET,
            "slug": "measles-public",
            "audience": "public",
            "period_start": _date("2024-03-04"),
            "period_end": _date("2024-03-31"),
        }  # type: ignore[arg-type]
    )
    services.create_dataset(operator, spec)
    assert client.get("/release/public/measles-public/").status_code == 404  # nothing published yet
    services.publish(operator, "measles-public")
    page = client.get("/release/public/measles-public/")
    assert page.status_code == 200
    assert b"District 11" in page.content
    assert b"measles-public" in client.get("/release/public/").content
    assert b"Publish now" not in page.content
