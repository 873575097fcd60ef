"""Authorization matrix of every notifications page and endpoint: every role x every page/endpoint, another user's
subscription and areas outside the jurisdiction are "not found", anonymous visitors are sent to log in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, resolve

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.notifications import services
from dhnet.notifications.models import Subscription
from dhnet.notifications.services import SubscriptionInput
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import access_of
from tests.platform.fixtures import HOMES, ROLES, actor_of, login
from tests.platform.test_access import _api_operations, _walk

READ = "surveillance:signal:read"
WEBHOOK = "notifications:webhook:write"


@dataclass(frozen=True)
class Case:
    """``permission``: declared by the page/endpoint; ``extra``: also required by the service (webhooks);
    ``target``: the org unit the request is about (404 outside the jurisdiction); ``{own}``, ``{other}`` and
    ``{hook}`` in the URL: the requester's subscription, another user's, the requester's webhook."""

    label: str
    method: str
    url: str
    permission: str
    ok: int = 200
    target: str | None = None
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    extra: str | None = None


HOOK = {"channel": "webhook", "webhook_url": "https://receiver.example.org/dhnet"}
API = "/api/v1/notifications"
SUBS = f"{API}/subscriptions"
PAGE = "/notifications"

CASES = [
    Case("subscriptions page", "get", f"{PAGE}/", READ),
    Case("subscribe (page)", "post", f"{PAGE}/", READ, ok=302, target="D11", form={"orgunit": "D11"}),
    Case("subscribe other region (page)", "post", f"{PAGE}/", READ, ok=302, target="D21", form={"orgunit": "D21"}),
    Case(
        "subscribe webhook (page)", "post", f"{PAGE}/", READ, ok=201, target="D11", form={"orgunit": "D11", **HOOK},
        extra=WEBHOOK,
    ),
    Case("pause own (page)", "post", f"{PAGE}/{{own}}/active/", READ, ok=302, form={"active": "0"}),
    Case("pause another's (page)", "post", f"{PAGE}/{{other}}/active/", READ, ok=404, form={"active": "0"}),
    Case("delete own (page)", "post", f"{PAGE}/{{own}}/delete/", READ, ok=302),
    Case("delete another's (page)", "post", f"{PAGE}/{{other}}/delete/", READ, ok=404),
    Case("new webhook secret (page)", "post", f"{PAGE}/{{hook}}/secret/", WEBHOOK),
    Case("deliveries page", "get", f"{PAGE}/deliveries/", READ),
    Case("list subscriptions", "get", SUBS, READ),
    Case("subscribe", "post", SUBS, READ, ok=201, target="D11", body={"orgunit": "D11"}),
    Case("subscribe sibling district", "post", SUBS, READ, ok=201, target="D12", body={"orgunit": "D12"}),
    Case("subscribe other region", "post", SUBS, READ, ok=201, target="D21", body={"orgunit": "D21"}),
    Case("subscribe country", "post", SUBS, READ, ok=201, target="DE", body={"orgunit": "DE"}),
    Case(
        "subscribe webhook", "post", SUBS, READ, ok=201, target="D11", body={"orgunit": "D11", **HOOK},
        extra=WEBHOOK,
    ),
    Case("own subscription", "get", f"{SUBS}/{{own}}", READ),
    Case("another's subscription", "get", f"{SUBS}/{{other}}", READ, ok=404),
    Case("change own", "patch", f"{SUBS}/{{own}}", READ, body={"min_severity": "high"}),
    Case("change another's", "patch", f"{SUBS}/{{other}}", READ, ok=404, body={"active": False}),
    Case("delete own", "delete", f"{SUBS}/{{own}}", READ, ok=204),
    Case("delete another's", "delete", f"{SUBS}/{{other}}", READ, ok=404),
    Case("rotate own webhook secret", "post", f"{SUBS}/{{hook}}/secret", WEBHOOK, body={}),
    Case("rotate another's secret", "post", f"{SUBS}/{{other_hook}}/secret", WEBHOOK, ok=404, body={}),
    Case("own deliveries", "get", f"{SUBS}/{{own}}/deliveries", READ),
    Case("another's deliveries", "get", f"{SUBS}/{{other}}/deliveries", READ, ok=404),
    Case("my deliveries", "get", f"{API}/deliveries", READ),
]  # fmt: skip


def _expected(role: str, case: Case, units: dict[str, OrgUnit]) -> int:
    perms = ROLE_PERMISSIONS[role]
    if case.permission not in perms or (case.extra and case.extra not in perms):
        return 403
    if case.target is not None and not units[case.target].is_within(units[HOMES[role]].path):
        return 404
    return case.ok


@dataclass
class Ids:
    own: int
    other: int
    hook: int
    other_hook: int


@pytest.fixture
def ids(emails: dict[str, User], operator: Any, tree: dict[str, OrgUnit]) -> dict[str, Ids]:
    """Per role: a subscription of their own (when they may subscribe), a stranger's, and webhooks."""
    stranger, _ = accounts.create_user(operator, "stranger", role="system_admin", orgunit_code="DE", email="s@x.org")
    other = Subscription.objects.create(user=stranger, orgunit=tree["D21"])
    other_hook = Subscription.objects.create(
        user=stranger, orgunit=tree["DE"], channel="webhook", webhook_url="https://x.org/", webhook_secret="k" * 32
    )
    result = {}
    for role, user in emails.items():
        home = tree[HOMES[role]]
        own = Subscription.objects.create(user=user, orgunit=home)
        hook = Subscription.objects.create(
            user=user, orgunit=home, channel="webhook", webhook_url="https://x.org/", webhook_secret="k" * 32
        )
        result[role] = Ids(own.pk, other.pk, hook.pk, other_hook.pk)
    return result


def _request(client: Client, case: Case, ids: Ids) -> int:
    url = case.url.format(own=ids.own, other=ids.other, hook=ids.hook, other_hook=ids.other_hook)
    if case.form is not None or (case.method == "post" and not url.startswith("/api/")):
        return client.post(url, data=case.form or {}).status_code
    if case.body is not None:
        return client.generic(
            case.method.upper(), url, data=json.dumps(case.body), content_type="application/json"
        ).status_code
    return getattr(client, case.method)(url).status_code


def test_matrix_covers_every_notifications_page_and_endpoint() -> None:
    declared = set()
    for _route, name, callback in _walk(get_resolver().url_patterns):
        if name.startswith("notifications:"):
            access = access_of(callback)
            assert access is not None, name
            declared.add(name)
    for method, path, view in _api_operations():
        if path.startswith("/notifications/"):
            assert access_of(view) is not None, path
            declared.add(f"{method} {path}")
    covered = set()
    for case in CASES:
        match = resolve(case.url.format(own=1, other=2, hook=3, other_hook=4))
        if match.namespace == "api":
            route = "/" + match.route.removeprefix("api/v1/")
            covered.add(f"{case.method.upper()} {route.replace('<', '{').replace('>', '}')}")
        else:
            covered.add(f"{match.namespace}:{match.url_name}")
    assert len(declared) == 13
    assert declared <= covered, f"not in the matrix: {declared - covered}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(
    role: str, case: Case, emails: dict[str, User], tree: dict[str, OrgUnit], ids: dict[str, Ids]
) -> None:
    client = login(Client(), emails[role])
    assert _request(client, case, ids[role]) == _expected(role, case, tree), (role, case.label)


def test_anonymous_is_sent_to_login_or_refused(ids: dict[str, Ids]) -> None:
    client = Client()
    some = ids["viewer"]
    for case in CASES:
        url = case.url.format(own=some.own, other=some.other, hook=some.hook, other_hook=some.other_hook)
        response = client.generic(case.method.upper(), url)
        if url.startswith("/api/"):
            assert response.status_code == 401, case.label
        else:
            assert response.status_code == 302, case.label
            assert response["Location"].startswith("/accounts/login/?next="), case.label


def test_a_token_without_the_scope_is_refused(emails: dict[str, User]) -> None:
    officer = emails["regional_officer"]
    _, narrow = accounts.create_token(actor_of(officer), officer, name="n", scopes=["accounts:profile:read"])
    _, wide = accounts.create_token(actor_of(officer), officer, name="w", scopes=[READ])
    assert Client(HTTP_AUTHORIZATION=f"Bearer {narrow}").get(f"{API}/subscriptions").status_code == 403
    client = Client(HTTP_AUTHORIZATION=f"Bearer {wide}")
    assert client.get(f"{API}/subscriptions").status_code == 200
    created = client.post(f"{API}/subscriptions", data={"orgunit": "D12"}, content_type="application/json")
    assert created.status_code == 201
    assert created.json()["webhook_secret"] is None


def test_integrator_token_registers_a_webhook_and_gets_the_secret_once(emails: dict[str, User]) -> None:
    admin = emails["system_admin"]
    _, raw = accounts.create_token(actor_of(admin), admin, name="i", scopes=[READ, WEBHOOK])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"orgunit": "DE", "disease": "", **HOOK, "max_attempts": 4}
    response = client.post(f"{API}/subscriptions", data=body, content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert len(data["webhook_secret"]) >= 32
    assert (data["channel"], data["webhook_url"], data["max_attempts"]) == ("webhook", HOOK["webhook_url"], 4)
    shown = client.get(f"{API}/subscriptions/{data['id']}").json()
    assert "webhook_secret" not in shown
    rotated = client.post(f"{API}/subscriptions/{data['id']}/secret", data={}, content_type="application/json")
    assert rotated.json()["webhook_secret"] not in (data["webhook_secret"], "")
    bad = client.post(
        f"{API}/subscriptions", data={**body, "webhook_url": "ftp://x.org/"}, content_type="application/json"
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")
    assert "only http:// and https://" in bad.json()["detail"]
    # Without the integrator scope, the same token owner cannot.
    _, plain = accounts.create_token(actor_of(admin), admin, name="p", scopes=[READ])
    refused = Client(HTTP_AUTHORIZATION=f"Bearer {plain}").post(
        f"{API}/subscriptions", data=body, content_type="application/json"
    )
    assert refused.status_code == 403


def test_bad_input_is_a_clear_4xx(emails: dict[str, User]) -> None:
    client = login(Client(), emails["regional_officer"])
    for body in ({"orgunit": "R1", "min_severity": "extreme"}, {}, {"orgunit": "R1", "max_attempts": 0}):
        response = client.post(f"{API}/subscriptions", data=body, content_type="application/json")
        assert 400 <= response.status_code < 500, body
    response = client.post(
        f"{API}/subscriptions", data={"orgunit": "R1", "disease": "nope"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert "disease" in response.json()["detail"]
    assert not Subscription.objects.filter(user=emails["regional_officer"]).exists()


def test_pages_show_only_my_subscriptions(emails: dict[str, User], tree: dict[str, OrgUnit]) -> None:
    services.create_subscription(actor_of(emails["regional_officer"]), SubscriptionInput(orgunit="D12"))
    services.create_subscription(actor_of(emails["national_epidemiologist"]), SubscriptionInput(orgunit="D21"))
    page = login(Client(), emails["regional_officer"]).get("/notifications/").content.decode()
    assert "District 12" in page
    assert "District 21" not in page  # neither the other user's subscription nor an area outside R1
    assert '<input type="hidden" name="webhook_url"' in page  # webhook fields hidden for non-integrators
    admin_page = login(Client(), emails["system_admin"]).get("/notifications/").content.decode()
    assert '<option value="webhook">' in admin_page


def test_webhook_created_on_the_page_shows_its_secret_once(emails: dict[str, User]) -> None:
    client = login(Client(), emails["system_admin"])
    response = client.post("/notifications/", data={"orgunit": "DE", **HOOK, "max_attempts": "6"})
    assert response.status_code == 201
    secret = Subscription.objects.get(user=emails["system_admin"], channel="webhook").webhook_secret
    assert secret in response.content.decode()
    assert secret not in client.get("/notifications/").content.decode()


def test_page_errors_name_the_problem(emails: dict[str, User]) -> None:
    client = login(Client(), emails["district_officer"])
    response = client.post("/notifications/", data={"orgunit": "D11", "min_severity": "extreme"})
    assert response.status_code == 400
    assert "min_severity" in response.content.decode()
    response = client.post("/notifications/", data={"orgunit": "D12"})
    assert response.status_code == 404
    assert "org unit &#x27;D12&#x27; not found" in response.content.decode()
    assert client.get("/notifications/1/delete/").status_code == 405
