"""Authorization matrix of every page and endpoint of the signals context and the job queue: every role x every
page/endpoint, with objects in the actor's own district, a neighbouring district and another region.

Roles hold their role at ``HOMES[role]`` (tests/platform/fixtures.py). Without the permission: 403; an object outside
the actor's jurisdiction: 404 (its existence is not revealed); else the page's or endpoint's success status.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, resolve

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.jobs.models import Job
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import access_of
from dhnet.signals.models import DetectionRun
from tests.platform.fixtures import HOMES, ROLES, login
from tests.platform.test_access import _api_operations, _walk
from tests.signals import helpers

pytestmark = pytest.mark.django_db

READ = "surveillance:signal:read"
WRITE = "surveillance:signal:write"
RUN = "surveillance:run:write"
REPORT = "accounts:profile:read"
MINE = ("signals:", "jobs:")
MY_API = ("/signals", "/events", "/detection-runs", "/jobs")


@dataclass(frozen=True)
class Case:
    label: str
    method: str
    url: str  # {signal}, {run}, {job} are filled in
    permission: str
    ok: int = 200
    target: str | None = None  # org unit of the signal
    status: str = "new"  # of the signal
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    ok_for: dict[str, int] = field(default_factory=dict)


def _signal_cases(prefix: str, target: str) -> list[Case]:
    return [
        Case(f"signal page {prefix}", "get", "/signals/{signal}/", READ, target=target),
        Case(f"signal api {prefix}", "get", "/api/v1/signals/{signal}", READ, target=target),
        Case(
            f"verify page {prefix}",
            "post",
            "/signals/{signal}/transition/",
            WRITE,
            302,
            target,
            form={"action": "verify"},
        ),
        Case(
            f"verify api {prefix}",
            "post",
            "/api/v1/signals/{signal}/transition",
            WRITE,
            target=target,
            body={"action": "verify"},
        ),
        Case(f"IHR form {prefix}", "get", "/signals/{signal}/ihr/", WRITE, target=target),
    ]


RECENT = (dt.date.today() - dt.timedelta(days=3)).isoformat()
RISK = {"hazard": "h", "exposure": "e", "context": "c", "risk": "moderate"}

CASES = [
    Case("signal list page", "get", "/signals/", READ),
    Case("signal list api", "get", "/api/v1/signals", READ),
    *_signal_cases("own district", "D11"),
    *_signal_cases("neighbouring district", "D12"),
    *_signal_cases("other region", "D21"),
    Case("risk page", "post", "/signals/{signal}/risk/", WRITE, 302, "D11", "verified", form=RISK),
    Case("risk api", "post", "/api/v1/signals/{signal}/risk", WRITE, 200, "D11", "verified", body=RISK),
    Case("risk api, other region", "post", "/api/v1/signals/{signal}/risk", WRITE, 200, "D21", "verified", body=RISK),
    Case("assign page", "post", "/signals/{signal}/assign/", WRITE, 302, "D11", form={"username": "district_officer"}),
    Case("assign api", "post", "/api/v1/signals/{signal}/assign", WRITE, 200, "D11", body={"username": None}),
    Case("comment page", "post", "/signals/{signal}/comment/", WRITE, 302, "D12", form={"text": "called"}),
    Case("comment api", "post", "/api/v1/signals/{signal}/comments", WRITE, 201, "D11", body={"text": "called"}),
    Case(
        "comment api, other region", "post", "/api/v1/signals/{signal}/comments", WRITE, 201, "D21", body={"text": "x"}
    ),
    Case("escalate page", "post", "/signals/{signal}/escalate/", WRITE, 302, "D11", form={"to_level": "1"}),
    Case("escalate api", "post", "/api/v1/signals/{signal}/escalate", WRITE, 200, "D12", body={}),
    Case("IHR step", "post", "/signals/{signal}/ihr/", WRITE, 200, "D11", form={"notifiable": "none"}),
    Case(
        "IHR save page", "post", "/signals/{signal}/ihr/", WRITE, 302, "D11", form={"notifiable": "sars", "save": "1"}
    ),
    Case(
        "IHR api", "post", "/api/v1/signals/{signal}/ihr", WRITE, 201, "D11", body={"answers": {"notifiable": "sars"}}
    ),
    Case(
        "IHR api, other region",
        "post",
        "/api/v1/signals/{signal}/ihr",
        WRITE,
        201,
        "D21",
        body={"answers": {"notifiable": "sars"}},
    ),
    Case("event form", "get", "/signals/report/", REPORT),
    Case(
        "event report page, own district",
        "post",
        "/signals/report/",
        REPORT,
        302,
        "D11",
        form={"orgunit": "D11", "date": RECENT, "hazard": "dead birds", "description": "many"},
        # the report is taken; roles that may not read signals (partner, the network-of-networks roles) get a
        # thank-you page
        ok_for={"partner": 200, "knowledge_manager": 200, "digital_health_planner": 200, "expert_reviewer": 200},
    ),
    Case(
        "event report api, own district",
        "post",
        "/api/v1/events",
        REPORT,
        201,
        "D11",
        body={"orgunit": "D11", "date": RECENT, "hazard": "dead birds", "description": "many"},
    ),
    Case(
        "event report api, other region",
        "post",
        "/api/v1/events",
        REPORT,
        201,
        "D21",
        body={"orgunit": "D21", "date": RECENT, "hazard": "dead birds", "description": "many"},
    ),
    Case("runs page", "get", "/signals/runs/", READ),
    Case("run page", "get", "/signals/runs/{run}/", READ),
    Case("run start page", "post", "/signals/runs/start/", RUN, 302, form={}),
    Case("runs api", "get", "/api/v1/detection-runs", READ),
    Case("run api", "get", "/api/v1/detection-runs/{run}", READ),
    Case("run request api", "post", "/api/v1/detection-runs", RUN, 202, body={"window": 8}),
    Case("jobs page", "get", "/jobs/", RUN),
    Case("job page", "get", "/jobs/{job}/", RUN),
    Case("job retry page", "post", "/jobs/{job}/retry/", RUN, 302, form={}),
    Case("jobs api", "get", "/api/v1/jobs", RUN),
    Case("job api", "get", "/api/v1/jobs/{job}", RUN),
    Case("job retry api", "post", "/api/v1/jobs/{job}/retry", RUN, body={}),
]


def _expected(role: str, case: Case, units: dict[str, OrgUnit]) -> int:
    if case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if case.target is not None and not units[case.target].is_within(units[HOMES[role]].path):
        return 404
    return case.ok_for.get(role, case.ok)


def _url(case: Case, ids: dict[str, int]) -> str:
    return case.url.format(**ids)


@pytest.fixture
def objects(tree: dict[str, OrgUnit]) -> dict[str, Any]:
    run = DetectionRun.objects.create(status="done", trigger="test", requested_by="t", summary={"skipped": []})
    job = Job.objects.create(kind="signals.detect", status="failed", attempts=3, max_attempts=3, error="boom")
    return {"run": run.pk, "job": job.pk}


def _request(client: Client, case: Case, url: str) -> int:
    if case.body is not None:
        return client.generic(
            case.method.upper(), url, data=json.dumps(case.body), content_type="application/json"
        ).status_code
    if case.form is not None:
        return client.post(url, case.form).status_code
    return client.get(url).status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(
    role: str, case: Case, users: dict[str, User], tree: dict[str, OrgUnit], objects: dict[str, Any]
) -> None:
    ids = dict(objects)
    if "{signal}" in case.url:
        ids["signal"] = helpers.make_signal(tree[case.target or "D11"], status=case.status).pk
    client = login(Client(), users[role])
    assert _request(client, case, _url(case, ids)) == _expected(role, case, tree), (role, case.label)


def _mine() -> set[str]:
    declared = set()
    for _route, name, callback in _walk(get_resolver().url_patterns):
        if name.startswith(MINE) and access_of(callback) is not None:
            declared.add(name)
    for method, path, view in _api_operations():
        if path.startswith(MY_API) and access_of(view) is not None:
            declared.add(f"{method} {path}")
    return declared


def test_matrix_covers_every_page_and_endpoint() -> None:
    covered = set()
    for case in CASES:
        match = resolve(case.url.format(signal=1, run=1, job=1).split("?")[0])
        if match.namespace == "api":
            route = "/" + match.route.removeprefix("api/v1/")
            covered.add(f"{case.method.upper()} {route.replace('<', '{').replace('>', '}')}")
        else:
            covered.add(f"{match.namespace}:{match.url_name}")
    declared = _mine()
    assert len(declared) >= 30
    assert declared <= covered, f"not in the matrix: {declared - covered}"


def test_every_page_and_endpoint_declares_its_access() -> None:
    for _route, name, callback in _walk(get_resolver().url_patterns):
        if name.startswith(MINE):
            assert access_of(callback) is not None, name
    for method, path, view in _api_operations():
        if path.startswith(MY_API):
            assert access_of(view) is not None, f"{method} {path}"


def test_anonymous_is_sent_to_login_or_refused(tree: dict[str, OrgUnit], objects: dict[str, Any]) -> None:
    signal = helpers.make_signal(tree["D11"])
    client = Client()
    for url in ("/signals/", f"/signals/{signal.pk}/", "/signals/report/", "/signals/runs/", "/jobs/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=")
    for url in ("/api/v1/signals", f"/api/v1/signals/{signal.pk}", "/api/v1/detection-runs", "/api/v1/jobs"):
        assert client.get(url).status_code == 401, url
    assert client.post("/api/v1/events", data="{}", content_type="application/json").status_code == 401


def test_district_officer_cannot_reach_another_district(users: dict[str, User], tree: dict[str, OrgUnit]) -> None:
    mine = helpers.make_signal(tree["D11"], title="in D11")
    theirs = helpers.make_signal(tree["D12"], title="in D12")
    client = login(Client(), users["district_officer"])
    page = client.get("/signals/").content.decode()
    assert "in D11" in page
    assert "in D12" not in page
    assert [s["id"] for s in client.get("/api/v1/signals").json()["items"]] == [mine.pk]
    assert client.get(f"/signals/{theirs.pk}/").status_code == 404
    assert client.get(f"/api/v1/signals/{theirs.pk}").status_code == 404
    assert client.get("/api/v1/signals?orgunit=D12").status_code == 404
    # The same through an API token.
    from dhnet.accounts import services as accounts
    from tests.platform.fixtures import actor_of

    officer = users["district_officer"]
    _, raw = accounts.create_token(actor_of(officer), officer, name="t", scopes=[READ])
    token = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert token.get(f"/api/v1/signals/{theirs.pk}").status_code == 404
    assert token.get(f"/api/v1/signals/{mine.pk}").status_code == 200


def test_a_token_without_the_scope_is_refused(users: dict[str, User], tree: dict[str, OrgUnit]) -> None:
    from dhnet.accounts import services as accounts
    from tests.platform.fixtures import actor_of

    national = users["national_epidemiologist"]
    signal = helpers.make_signal(tree["D11"])
    _, raw = accounts.create_token(actor_of(national), national, name="t", scopes=[READ])
    token = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert token.get(f"/api/v1/signals/{signal.pk}").status_code == 200
    response = token.post(
        f"/api/v1/signals/{signal.pk}/transition", data={"action": "verify"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "requires surveillance:signal:write"
