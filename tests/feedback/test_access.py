"""The authorization matrix of the feedback pages and endpoints: every role x every page/endpoint.

Everyone signed in holds feedback:rating:write, but the services narrow it: only the deployment's team (the partner
is on DE-AAAAAA's team) rates without an invitation; the team and the country's registry administrators (the
planner administers DE; the knowledge manager and system admin manage the whole registry) manage invitations.
Moderation is for holders of feedback:rating:moderate, expert reviews for holders of feedback:review:write. Drafts
take no feedback (404 to everyone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, resolve

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.feedback import services
from dhnet.platform.access import access_of
from tests.feedback.helpers import SCORES, make_world
from tests.platform.fixtures import ROLES, actor_of, login
from tests.platform.test_access import _api_operations, _walk

WRITE = "feedback:rating:write"
MODERATE = "feedback:rating:moderate"
REVIEW = "feedback:review:write"
ALL = frozenset(ROLES)
TEAM = frozenset({"partner"})
INVITERS = frozenset({"partner", "digital_health_planner", "knowledge_manager", "system_admin"})
P = "DE-AAAAAA"
DRAFT = "DE-DDDDDD"
ALL_FOUR = {"fit": 4, "data_protection": 4, "interoperability": 4, "sustainability": 4, "evidence": 4, "usability": 4}
REVIEW_FORM = {"project": P, "comment": "ok"} | {f"score_{k}": str(v) for k, v in ALL_FOUR.items()}
RATING_FORM = {k: str(v) for k, v in SCORES.items()} | {"audience": "manager", "text": "good"}
INVITE = {"label": "new group", "audience": "health_worker", "max_uses": 3, "expires_in_days": 10}


@dataclass(frozen=True)
class Case:
    """``permission`` None: public. ``only``: the roles that pass the service's own check (others get ``denied``)."""

    label: str
    method: str
    url: str
    permission: str | None
    ok: int = 200
    only: frozenset[str] = ALL
    denied: int = 403
    body: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    special: dict[str, int] = field(default_factory=dict)


CASES = [
    # pages
    Case("home page", "get", "/feedback/", None),
    Case("deployment page", "get", f"/feedback/projects/{P}/", None),
    Case("draft deployment page", "get", f"/feedback/projects/{DRAFT}/", None, ok=404),
    Case("rate", "post", f"/feedback/projects/{P}/rate/", WRITE, 302, only=TEAM, form=RATING_FORM),
    Case("redeem page", "get", "/feedback/redeem/", WRITE),
    Case("redeem", "post", "/feedback/redeem/", WRITE, 302, form={"code": "{code}"}),
    Case("invitations page", "get", f"/feedback/projects/{P}/invitations/", WRITE, only=INVITERS),
    Case("invite", "post", f"/feedback/projects/{P}/invitations/", WRITE, only=INVITERS, form=INVITE),
    Case(
        "settings", "post", f"/feedback/projects/{P}/settings/", WRITE, 302, only=INVITERS, form={"allow_patients": "1"}
    ),
    Case("revoke", "post", "/feedback/invitations/{invitation}/revoke/", WRITE, 302, only=INVITERS, form={}),
    Case("flag", "post", "/feedback/ratings/{rating}/flag/", WRITE, 302, form={"reason": "rude"}),
    Case("moderation queue", "get", "/feedback/moderation/", MODERATE),
    Case("hide", "post", "/feedback/ratings/{rating}/moderate/", MODERATE, 302, form={"action": "hide", "reason": "r"}),
    Case("reviews page", "get", f"/feedback/reviews/?project={P}", None),
    Case("review page", "get", "/feedback/reviews/{review}/", None),
    Case("review form", "get", f"/feedback/reviews/new/?project={P}", REVIEW),
    Case("review create", "post", "/feedback/reviews/new/", REVIEW, 302, form=REVIEW_FORM),
    # API
    Case("summary api", "get", f"/api/v1/feedback/projects/{P}/summary", None),
    Case("draft summary api", "get", f"/api/v1/feedback/projects/{DRAFT}/summary", None, ok=404),
    Case("product summary api", "get", "/api/v1/feedback/products/dhis2/summary", None),
    Case("unknown product summary api", "get", "/api/v1/feedback/products/nope/summary", None, ok=404),
    Case("ratings api", "get", f"/api/v1/feedback/projects/{P}/ratings", None),
    Case("me api", "get", f"/api/v1/feedback/projects/{P}/me", WRITE),
    Case("rate api", "put", f"/api/v1/feedback/projects/{P}/rating", WRITE, only=TEAM, body=SCORES),
    Case("redeem api", "post", "/api/v1/feedback/redeem", WRITE, 201, body={"code": "{code}"}),
    Case("invitations api", "get", f"/api/v1/feedback/projects/{P}/invitations", WRITE, only=INVITERS),
    Case("invite api", "post", f"/api/v1/feedback/projects/{P}/invitations", WRITE, 201, only=INVITERS, body=INVITE),
    Case("revoke api", "delete", "/api/v1/feedback/invitations/{invitation}", WRITE, 204, only=INVITERS),
    Case(
        "settings api",
        "put",
        f"/api/v1/feedback/projects/{P}/settings",
        WRITE,
        only=INVITERS,
        body={"allow_patients": True},
    ),
    Case("flag api", "post", "/api/v1/feedback/ratings/{rating}/flags", WRITE, 201, body={"reason": "rude"}),
    Case("moderation api", "get", "/api/v1/feedback/moderation", MODERATE),
    Case(
        "moderate api",
        "post",
        "/api/v1/feedback/ratings/{rating}/moderation",
        MODERATE,
        body={"action": "hide", "reason": "names a patient"},
    ),
    Case("rubric api", "get", "/api/v1/feedback/rubric", None),
    Case("reviews api", "get", f"/api/v1/feedback/reviews?project={P}", None),
    Case("review api", "get", "/api/v1/feedback/reviews/{review}", None),
    Case("review create api", "post", "/api/v1/feedback/reviews", REVIEW, 201, body={"project": P, "scores": ALL_FOUR}),
]


def _expected(role: str, case: Case) -> int:
    if case.permission is not None and case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if role in case.special:
        return case.special[role]
    if role not in case.only:
        return case.denied
    return case.ok


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _request(client: Client, case: Case, ids: dict[str, Any]) -> int:
    url = _fill(case.url, ids)
    if case.body is not None:
        data = json.dumps(_fill(case.body, ids))
        return client.generic(case.method.upper(), url, data=data, content_type="application/json").status_code
    if case.form is not None:
        return client.post(url, _fill(case.form, ids)).status_code
    return getattr(client, case.method)(url).status_code


@pytest.fixture
def world(users: dict[str, User], operator: Any) -> dict[str, Any]:
    """The test world, a rating by the team (flagged by an outsider), a live invitation, an outsider's review."""
    make_world(operator, users)
    team = actor_of(users["partner"])
    rating = services.rate(team, P, {**SCORES, "audience": "manager"}).rating
    outsider, _ = accounts.create_user(operator, "outsider", role="viewer", orgunit_code="D21")
    services.flag(actor_of(outsider), rating.pk, "off topic")
    issued = services.issue_invitation(team, P, {"label": "everyone", "audience": "health_worker", "max_uses": 50})
    expert, _ = accounts.create_user(operator, "expert2", role="expert_reviewer", orgunit_code="DE")
    review = services.write_review(actor_of(expert), {"project": P, "scores": ALL_FOUR}).review
    return {"rating": rating.pk, "invitation": issued.invitation.pk, "code": issued.code, "review": review.pk}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users[role])
    assert _request(client, case, world) == _expected(role, case), (role, case.label)


@pytest.mark.parametrize("case", [c for c in CASES if c.method == "get"], ids=lambda c: c.label)
def test_anonymous(case: Case, world: dict[str, Any]) -> None:
    """Public pages answer anonymous visitors; the others send them to log in (API: 401)."""
    status = _request(Client(), case, world)
    if case.permission is None:
        assert status == case.ok, case.label
    elif case.url.startswith("/api/"):
        assert status == 401, case.label
    else:
        assert status == 302, case.label


def test_anonymous_writes_are_refused(world: dict[str, Any]) -> None:
    client = Client()
    assert client.post(f"/feedback/projects/{P}/rate/", RATING_FORM).status_code == 302  # to the login page
    body = json.dumps(SCORES)
    assert client.put(f"/api/v1/feedback/projects/{P}/rating", body, content_type="application/json").status_code == 401


def test_matrix_covers_every_page_and_endpoint() -> None:
    covered = set()
    for case in CASES:
        match = resolve(case.url.format(rating=1, invitation=1, review=1).split("?")[0])
        if match.namespace == "api":
            route = "/" + match.route.removeprefix("api/v1/")
            covered.add(f"{case.method.upper()} {route.replace('<', '{').replace('>', '}')}")
        else:
            covered.add(f"{match.namespace}:{match.url_name}")
    declared = set()
    for _route, name, callback in _walk(get_resolver().url_patterns):
        if name.startswith("feedback:"):
            assert access_of(callback) is not None, name
            declared.add(name)
    for method, path, view in _api_operations():
        if path.startswith("/feedback/"):
            assert access_of(view) is not None, f"{method} {path}"
            declared.add(f"{method} {path}")
    assert len(declared) == 30
    assert declared <= covered, f"not in the matrix: {sorted(declared - covered)}"
