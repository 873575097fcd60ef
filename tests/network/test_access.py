"""The authorization matrix of the network pages and endpoints: every role x every page/endpoint.

Public pages and endpoints answer everyone; a private network and its events are 404 to non-members (the partner is
the only matrix role that is a member; holders of network:network:write see every network); the approval queue,
appointing members, planning events and recording outcomes are for coordinators (the district officer coordinates
``pub``) and holders of network:network:write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, resolve

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.platform.access import access_of
from tests.network.helpers import COORD, NW, PRIVATE_SEES, make_world
from tests.platform.fixtures import ROLES, login
from tests.platform.test_access import _api_operations, _walk

ORG_WRITE = "network:organisation:write"
NETWORK_WRITE = "network:network:write"
JOIN = "network:membership:request"
ALL = frozenset(ROLES)

NEW_ORG = {"slug": "new-org", "name": "New org", "kind": "academia", "countries": ["FR"]}
NEW_NET = {"slug": "new-net", "name": "New net", "parent": "pub"}
EVENT = {
    "title": "Webinar",
    "kind": "webinar",
    "starts_at": "2026-11-30T09:00:00Z",
    "ends_at": "2026-11-30T10:00:00Z",
    "agenda": [{"time": "09:30", "title": "Talk"}],
}
EVENT_FORM = {
    "title": "Webinar",
    "kind": "webinar",
    "timezone": "UTC",
    "starts_at": "2026-11-30T09:00",
    "ends_at": "2026-11-30T10:00",
    "agenda": "09:10 | Talk | Ann",
}


@dataclass(frozen=True)
class Case:
    """``permission`` None: a public page/endpoint. ``only``: the roles that pass the service's own check (the
    others get ``denied``); ``special``: role -> answer where it differs (e.g. already a member)."""

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
    Case("organisations page", "get", "/network/", None),
    Case("organisations filtered", "get", "/network/?kind=cso_ngo&country=KE&focus=cdhi-v1:1.1", None),
    Case("organisations bad filter", "get", "/network/?focus=cdhi-v1:9.9", None, ok=400),
    Case("organisation page", "get", "/network/organisations/acme/", None),
    Case("organisation form", "get", "/network/organisations/new/", ORG_WRITE),
    Case("organisation create", "post", "/network/organisations/new/", ORG_WRITE, 302, form=NEW_ORG),
    Case("organisation edit form", "get", "/network/organisations/acme/edit/", ORG_WRITE),
    Case(
        "organisation edit",
        "post",
        "/network/organisations/acme/edit/",
        ORG_WRITE,
        302,
        form={"name": "Acme", "kind": "cso_ngo", "countries": "KE UG", "focus_areas": "so:1"},
    ),
    Case("contact add", "post", "/network/organisations/acme/contacts/", ORG_WRITE, 302, form={"name": "Cy"}),
    Case("networks tree", "get", "/network/networks/", None),
    Case("network form", "get", "/network/networks/new/", NETWORK_WRITE),
    Case("network create", "post", "/network/networks/new/", NETWORK_WRITE, 302, form=NEW_NET),
    Case("public network page", "get", "/network/networks/pub/", None),
    Case("private network page", "get", "/network/networks/priv/", None, only=PRIVATE_SEES, denied=404),
    Case("join public", "post", "/network/networks/sub/join/", JOIN, 302, form={"message": "hi"}),
    Case(
        "join private",
        "post",
        "/network/networks/priv/join/",
        JOIN,
        302,
        only=PRIVATE_SEES,
        denied=404,
        special={"partner": 409},
    ),
    Case(
        "approve",
        "post",
        "/network/networks/pub/requests/{request}/",
        JOIN,
        302,
        only=COORD,
        form={"decision": "approve"},
    ),
    Case("event form", "get", "/network/networks/pub/events/new/", JOIN, only=COORD),
    Case("event create", "post", "/network/networks/pub/events/new/", JOIN, 302, only=COORD, form=EVENT_FORM),
    Case("events page", "get", "/network/events/", None),
    Case("event page", "get", "/network/events/ev/?tz=Asia/Tokyo", None),
    Case("private event page", "get", "/network/events/priv-ev/", None, only=PRIVATE_SEES, denied=404),
    Case("participate", "post", "/network/events/ev/participate/", JOIN, 302, form={"attend": "1"}),
    Case(
        "participate private", "post", "/network/events/priv-ev/participate/", JOIN, 302, only=PRIVATE_SEES, denied=404
    ),
    Case("outcome", "post", "/network/events/ev/outcomes/", JOIN, 302, only=COORD, form={"item": "{item}"}),
    # API
    Case("organisations api", "get", "/api/v1/network/organisations?country=KE", None),
    Case("organisation create api", "post", "/api/v1/network/organisations", ORG_WRITE, 201, body=NEW_ORG),
    Case("organisation api", "get", "/api/v1/network/organisations/acme", None),
    Case(
        "organisation patch api",
        "patch",
        "/api/v1/network/organisations/acme",
        ORG_WRITE,
        body={"countries": ["KE", "UG"]},
    ),
    Case("contact api", "post", "/api/v1/network/organisations/acme/contacts", ORG_WRITE, 201, body={"name": "Cy"}),
    Case("contact delete api", "delete", "/api/v1/network/organisations/acme/contacts/{contact}", ORG_WRITE, 204),
    Case("networks api", "get", "/api/v1/network/networks", None),
    Case("network create api", "post", "/api/v1/network/networks", NETWORK_WRITE, 201, body=NEW_NET),
    Case("network api", "get", "/api/v1/network/networks/pub", None),
    Case("private network api", "get", "/api/v1/network/networks/priv", None, only=PRIVATE_SEES, denied=404),
    Case("network patch api", "patch", "/api/v1/network/networks/pub", JOIN, only=COORD, body={"description": "d"}),
    Case("members api", "get", "/api/v1/network/networks/pub/members", JOIN),
    Case("private members api", "get", "/api/v1/network/networks/priv/members", JOIN, only=PRIVATE_SEES, denied=404),
    Case(
        "appoint api",
        "put",
        "/api/v1/network/networks/pub/members/applicant",
        JOIN,
        201,
        only=COORD,
        body={"role": "coordinator"},
    ),
    Case("join api", "post", "/api/v1/network/networks/sub/join", JOIN, 201, body={"message": "hi"}),
    Case(
        "join private api",
        "post",
        "/api/v1/network/networks/priv/join",
        JOIN,
        201,
        only=PRIVATE_SEES,
        denied=404,
        special={"partner": 409},
        body={},
    ),
    Case("approval queue api", "get", "/api/v1/network/networks/pub/requests", JOIN, only=COORD),
    Case(
        "private approval queue api",
        "get",
        "/api/v1/network/networks/priv/requests",
        JOIN,
        only=NW,
        denied=404,
        special={"partner": 403},
    ),
    Case(
        "decision api", "post", "/api/v1/network/requests/{request}/decision", JOIN, only=COORD, body={"approve": True}
    ),
    Case("events api", "get", "/api/v1/network/events", None),
    Case("event create api", "post", "/api/v1/network/networks/pub/events", JOIN, 201, only=COORD, body=EVENT),
    Case("event api", "get", "/api/v1/network/events/ev?tz=America/Sao_Paulo", None),
    Case("private event api", "get", "/api/v1/network/events/priv-ev", None, only=PRIVATE_SEES, denied=404),
    Case("participate api", "post", "/api/v1/network/events/ev/participants", JOIN, 204),
    Case("withdraw api", "delete", "/api/v1/network/events/ev/participants", JOIN, 204),
    Case("outcome api", "post", "/api/v1/network/events/ev/outcomes", JOIN, 201, only=COORD, body={"item": "{item}"}),
    Case(
        "outcome of a draft api",
        "post",
        "/api/v1/network/events/ev/outcomes",
        JOIN,
        400,
        only=COORD,
        body={"item": "{draft}"},
        special=dict.fromkeys(NW, 201),
    ),
    Case("taxonomy schemes", "get", "/api/v1/taxonomy/schemes", None),
    Case("taxonomy scheme", "get", "/api/v1/taxonomy/schemes/hsc", None),
    Case("taxonomy concepts", "get", "/api/v1/taxonomy/schemes/so/concepts", None),
    Case("taxonomy concept", "get", "/api/v1/taxonomy/schemes/cdhi-v1/concepts/1.1.1", None),
    Case("taxonomy crosswalk", "get", "/api/v1/taxonomy/schemes/cdhi-v1/concepts/1.1.1/crosswalk", None),
    Case("taxonomy crosswalk table", "get", "/api/v1/taxonomy/crosswalk?source=cdhi-2023&target=cdhi-v1", None),
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
    """``value`` with ``{request}``, ``{contact}``, ``{item}``, ``{draft}`` in its strings filled in."""
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
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
    return make_world(operator, users)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(role: str, case: Case, users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users[role])
    assert _request(client, case, world) == _expected(role, case), (role, case.label)


@pytest.mark.parametrize("case", [c for c in CASES if c.method == "get"], ids=lambda c: c.label)
def test_anonymous(case: Case, world: dict[str, Any]) -> None:
    """Public pages answer anonymous visitors (private ones 404); the others send them to log in (API: 401)."""
    status = _request(Client(), case, world)
    if case.permission is None:
        assert status == (case.ok if "priv" not in case.url else 404), case.label
    elif case.url.startswith("/api/"):
        assert status == 401, case.label
    else:
        assert status == 302, case.label


def test_anonymous_writes_are_refused(world: dict[str, Any]) -> None:
    client = Client()
    assert client.post("/network/networks/pub/join/", {"message": "x"}).status_code == 302  # to the login page
    assert client.post("/api/v1/network/networks/pub/join", "{}", content_type="application/json").status_code == 401
    assert (
        client.post("/api/v1/network/organisations", json.dumps(NEW_ORG), content_type="application/json").status_code
        == 401
    )


MINE = ("network:",)
MY_API = ("/network/", "/taxonomy/")


def test_matrix_covers_every_page_and_endpoint() -> None:
    covered = set()
    for case in CASES:
        match = resolve(case.url.format(request=1, contact=1, item="x", draft="x").split("?")[0])
        if match.namespace == "api":
            route = "/" + match.route.removeprefix("api/v1/")
            covered.add(f"{case.method.upper()} {route.replace('<', '{').replace('>', '}')}")
        else:
            covered.add(f"{match.namespace}:{match.url_name}")
    declared = set()
    for _route, name, callback in _walk(get_resolver().url_patterns):
        if name.startswith(MINE):
            assert access_of(callback) is not None, name
            declared.add(name)
    for method, path, view in _api_operations():
        if path.startswith(MY_API):
            assert access_of(view) is not None, f"{method} {path}"
            declared.add(f"{method} {path}")
    assert len(declared) >= 35
    assert declared <= covered, f"not in the matrix: {sorted(declared - covered)}"
