"""The authorization matrix of the strategy pages and endpoints: every role x every page/endpoint.

Reading is public. Defining indicators and targets needs ``strategy:indicator:manage`` (knowledge manager, system
administrator); recording values needs ``strategy:value:write`` (planner, system administrator) and administering
the country: the planner administers DE only, so a value of FR is 403 for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.strategy.models import Value
from tests.platform.fixtures import ROLES, login
from tests.strategy.helpers import people, published

MANAGE = "strategy:indicator:manage"
WRITE = "strategy:value:write"
ALL = frozenset(ROLES)

INDICATOR = {"code": "T-NEW", "name": "New", "definition": "d", "objective": 1, "aggregation": "sum"}
TARGET = {"baseline_value": "1", "baseline_year": 2020, "target_value": "5", "target_year": 2025}
VALUES = {"values": [{"indicator": "SO2.3-FUNDING", "country": "DE", "period": 2024, "value": "2.5"}]}
CSV = "indicator,country,period,value\nSO4.3-EHR,DE,2024,61\n"


@dataclass(frozen=True)
class Case:
    """``permission`` None: a public page/endpoint; ``special``: a role's own answer (the service's country check)."""

    label: str
    method: str
    url: str
    permission: str | None
    ok: int = 200
    body: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    special: dict[str, int] = field(default_factory=dict)


CASES = [
    # pages
    Case("framework page", "get", "/strategy/", None),
    Case("framework filtered", "get", "/strategy/?objective=2&actor=member_states&term=short", None),
    Case("framework bad filter", "get", "/strategy/?term=soon", None, ok=400),
    Case("indicators page", "get", "/strategy/indicators/", None),
    Case("indicator page", "get", "/strategy/indicators/SO2.1-NDHS/", None),
    Case("indicator page of a region", "get", "/strategy/indicators/SO2.1-NDHS/?region=EUR", None),
    Case("indicator page of a country", "get", "/strategy/indicators/SO2.3-FUNDING/?country=DE", None),
    Case("indicator page bad region", "get", "/strategy/indicators/SO2.1-NDHS/?region=Atlantis", None, ok=400),
    Case("unknown indicator page", "get", "/strategy/indicators/NOPE/", None, ok=404),
    Case("progress page", "get", "/strategy/progress/?year=2024", None),
    Case("progress bad year", "get", "/strategy/progress/?year=soon", None, ok=404),
    Case("report page", "get", "/strategy/report/?year=2024", None),
    Case("report markdown", "get", "/strategy/report/?year=2024&format=md", None),
    Case("report csv", "get", "/strategy/report/?year=2024&format=csv", None),
    Case("report json", "get", "/strategy/report/?year=2024&format=json", None),
    Case("set target", "post", "/strategy/indicators/SO2.1-NDHS/target", MANAGE, 302, form=TARGET | {"country": "DE"}),
    Case(
        "set bad target",
        "post",
        "/strategy/indicators/SO2.1-NDHS/target",
        MANAGE,
        400,
        form=TARGET | {"target_year": 1},
    ),
    Case("upload page", "get", "/strategy/values/upload/", WRITE),
    Case("upload", "post", "/strategy/values/upload/", WRITE, form={"format": "csv", "content": CSV}),
    Case(
        "upload for another country",
        "post",
        "/strategy/values/upload/",
        WRITE,
        form={"format": "csv", "content": CSV.replace(",DE,", ",FR,")},
        special={"digital_health_planner": 403},
    ),
    # API
    Case("objectives api", "get", "/api/v1/strategy/objectives", None),
    Case("actions api", "get", "/api/v1/strategy/actions?objective=2&actor=all&term=long", None),
    Case(
        "actions for an indicator api",
        "get",
        "/api/v1/strategy/actions/for-indicator?rubric=gdhm-classic&code=9a",
        None,
    ),
    Case("indicators api", "get", "/api/v1/strategy/indicators", None),
    Case("indicator api", "get", "/api/v1/strategy/indicators/SO2.1-NDHS", None),
    Case("values api", "get", "/api/v1/strategy/indicators/SO2.1-NDHS/values?period=2024", None),
    Case("series api", "get", "/api/v1/strategy/indicators/SO2.1-NDHS/series?region=EUR", None),
    Case("progress api", "get", "/api/v1/strategy/progress?year=2024", None),
    Case("report api", "get", "/api/v1/strategy/report/2024", None),
    Case("define indicator api", "post", "/api/v1/strategy/indicators", MANAGE, 201, body=INDICATOR),
    Case("set target api", "put", "/api/v1/strategy/indicators/SO2.1-NDHS/target", MANAGE, 201, body=TARGET),
    Case("record values api", "post", "/api/v1/strategy/values", WRITE, body=VALUES),
    Case("upload api", "post", "/api/v1/strategy/values/upload", WRITE, body={"format": "csv", "content": CSV}),
    Case(
        "record values of another country api",
        "post",
        "/api/v1/strategy/values",
        WRITE,
        body={"values": [VALUES["values"][0] | {"country": "FR"}]},
        special={"digital_health_planner": 403},
    ),
]


def _expected(role: str, case: Case) -> int:
    if case.permission is not None and case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    return case.special.get(role, case.ok)


def _request(client: Client, case: Case) -> int:
    if case.body is not None:
        return client.generic(
            case.method.upper(), case.url, data=json.dumps(case.body), content_type="application/json"
        ).status_code
    if case.form is not None:
        return client.post(case.url, case.form).status_code
    return client.get(case.url).status_code


@pytest.fixture
def world(users: dict[str, User]) -> None:
    people(users)
    published("DE", 2024, {"5": 3}, 3)
    published("FR", 2024, {"5": 2}, 2)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], world: None) -> None:
    client = login(Client(), users[role])
    assert _request(client, case) == _expected(role, case), (role, case.label)


@pytest.mark.parametrize("case", [c for c in CASES if c.method == "get"], ids=lambda c: c.label)
def test_anonymous(case: Case, world: None) -> None:
    """Public pages answer anonymous visitors; the upload page sends them to log in."""
    status = _request(Client(), case)
    assert status == (case.ok if case.permission is None else 302), case.label


def test_anonymous_writes_are_refused(world: None) -> None:
    client = Client()
    assert client.post("/strategy/values/upload/", {"format": "csv", "content": CSV}).status_code == 302
    for method, url, body in [
        ("POST", "/api/v1/strategy/values", VALUES),
        ("POST", "/api/v1/strategy/indicators", INDICATOR),
        ("PUT", "/api/v1/strategy/indicators/SO2.1-NDHS/target", TARGET),
    ]:
        assert client.generic(method, url, data=json.dumps(body), content_type="application/json").status_code == 401
    assert Value.objects.count() == 0


def test_a_rejected_upload_names_the_row_and_field(users: dict[str, User], world: None) -> None:
    client = login(Client(), users["digital_health_planner"])
    bad = CSV + "SO4.3-EHR,DE,2025,lots\n"
    response = client.post(
        "/api/v1/strategy/values/upload", json.dumps({"format": "csv", "content": bad}), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "row 2, value: 'lots' is not a number"
    page = client.post("/strategy/values/upload/", {"format": "csv", "content": bad})
    assert page.status_code == 400
    assert "row 2, value: &#x27;lots&#x27; is not a number" in page.content.decode()
    assert Value.objects.count() == 0
    again = [client.post("/strategy/values/upload/", {"format": "csv", "content": CSV}) for _ in range(2)]
    assert [r.status_code for r in again] == [200, 200]
    assert "1 new" in again[0].content.decode()
    assert "1 unchanged" in again[1].content.decode()
    assert Value.objects.count() == 1
