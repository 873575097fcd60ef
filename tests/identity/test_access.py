"""Authorization matrix of the identity pages and endpoints: every role x every page/endpoint, with persons and
reviews in the actor's own district, a neighbouring district and another region; refused re-identifications are
audited; a holder of the permissions in one region gets 404 for persons of another."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.audit.models import AuditRecord
from dhnet.identity.models import MatchCandidate
from dhnet.identity.services import register_person
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from tests.identity.helpers import person
from tests.platform.fixtures import HOMES, ROLES, login

pytestmark = pytest.mark.django_db

READ = "identity:person:read"
MATCH = "identity:match:write"


@dataclass(frozen=True)
class Case:
    label: str
    method: str
    url: str  # {D11}, {D12}, {D21}: the pseudonym of a person there; {review_D11}, {review_D21}: a review there
    permission: str
    ok: int = 200
    target: str | None = None
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None


def _reid(target: str) -> list[Case]:
    return [
        Case(f"re-identify page, {target}", "post", "/identity/reidentify/", READ, 200, target,
             form={"pseudonym": f"{{{target}}}", "purpose": "contact-tracing"}),
        Case(f"re-identify api, {target}", "post", "/api/v1/identity/reidentify", READ, 200, target,
             body={"pseudonym": f"{{{target}}}", "purpose": "contact-tracing"}),
    ]  # fmt: skip


def _review(target: str) -> list[Case]:
    return [
        Case(f"review page, {target}", "get", f"/identity/reviews/{{review_{target}}}/", MATCH, 200, target),
        Case(f"review decide page, {target}", "post", f"/identity/reviews/{{review_{target}}}/", MATCH, 302, target,
             form={"decision": "link"}),
        Case(f"review api, {target}", "get", f"/api/v1/identity/reviews/{{review_{target}}}", MATCH, 200, target),
        Case(f"review decide api, {target}", "post", f"/api/v1/identity/reviews/{{review_{target}}}", MATCH, 200,
             target, body={"decision": "keep_apart"}),
    ]  # fmt: skip


CASES = [
    Case("re-identify form", "get", "/identity/reidentify/", READ),
    *_reid("D11"),
    *_reid("D12"),
    *_reid("D21"),
    Case("purposes api", "get", "/api/v1/identity/purposes", READ),
    Case("review queue page", "get", "/identity/reviews/", MATCH),
    Case("review queue api", "get", "/api/v1/identity/reviews", MATCH),
    *_review("D11"),
    *_review("D21"),
]


@pytest.fixture
def objects(tree: dict[str, OrgUnit], operator: Actor) -> dict[str, str]:
    ids: dict[str, str] = {}
    for i, code in enumerate(("D11", "D12", "D21")):
        ids[code] = register_person(
            operator, person(f"Family{code}", "Anna", nid=f"N{i}", district=code), source="a"
        ).pseudonym
    for code in ("D11", "D21"):
        register_person(
            operator, person("Queued", "Bruno", sex="male", nid=None, district=code, phones=(), emails=()), source="a"
        )
        register_person(
            operator,
            person("Queued", "Bruno", sex="male", nid=None, birth=None, district=code, phones=(), emails=()),
            source="b",
        )
        ids[f"review_{code}"] = str(MatchCandidate.objects.get(orgunit_codes=[code]).pk)
    return ids


def _expected(role: str, case: Case, units: dict[str, OrgUnit], home: str | None = None) -> int:
    if case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if case.target is not None and not units[case.target].is_within(units[home or HOMES[role]].path):
        return 404
    return case.ok


def _request(client: Client, case: Case, ids: dict[str, str]) -> int:
    url = case.url.format(**ids)
    if case.body is not None:
        body = {k: v.format(**ids) for k, v in case.body.items()}
        return client.generic(
            case.method.upper(), url, data=json.dumps(body), content_type="application/json"
        ).status_code
    if case.form is not None:
        return client.post(url, {k: v.format(**ids) for k, v in case.form.items()}).status_code
    return client.get(url).status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(
    role: str, case: Case, users: dict[str, User], tree: dict[str, OrgUnit], objects: dict[str, str]
) -> None:
    client = login(Client(), users[role])
    assert _request(client, case, objects) == _expected(role, case, tree), (role, case.label)


@pytest.mark.parametrize("case", [c for c in CASES if c.target], ids=lambda c: c.label)
def test_regional_holder_is_limited_to_the_region(
    case: Case, tree: dict[str, OrgUnit], operator: Actor, objects: dict[str, str]
) -> None:
    """A national epidemiologist's role held at region R1 only: persons and reviews of R2 are 404."""
    user, _ = accounts.create_user(operator, "r1epi", role="national_epidemiologist", orgunit_code="R1")
    client = login(Client(), user)
    expected = _expected("national_epidemiologist", case, tree, home="R1")
    assert _request(client, case, objects) == expected, case.label


def test_refused_reidentification_is_audited(users: dict[str, User], objects: dict[str, str]) -> None:
    client = login(Client(), users["regional_officer"])
    pseudonym = objects["D11"]
    api = client.post(
        "/api/v1/identity/reidentify",
        data=json.dumps({"pseudonym": pseudonym, "purpose": "treatment"}),
        content_type="application/json",
    )
    assert api.status_code == 403
    page = client.post("/identity/reidentify/", {"pseudonym": pseudonym, "purpose": "treatment"})
    assert page.status_code == 403
    denied = AuditRecord.objects.filter(action="identity.person.reidentify_denied", actor_username="regional_officer")
    assert denied.count() == 2
    assert all(r.detail["subjects"] == [pseudonym] for r in denied)


def test_anonymous_is_sent_to_login_or_401(objects: dict[str, str]) -> None:
    client = Client()
    assert client.get("/identity/reidentify/").status_code == 302
    assert client.get("/identity/reviews/").status_code == 302
    assert client.get("/api/v1/identity/reviews").status_code == 401
    body = json.dumps({"pseudonym": objects["D11"], "purpose": "treatment"})
    assert client.post("/api/v1/identity/reidentify", data=body, content_type="application/json").status_code == 401


def test_reidentify_page_shows_the_identity_and_is_not_cached(users: dict[str, User], objects: dict[str, str]) -> None:
    client = login(Client(), users["national_epidemiologist"])
    response = client.post("/identity/reidentify/", {"pseudonym": objects["D12"], "purpose": "treatment"})
    assert response.status_code == 200
    assert b"FamilyD12" in response.content
    assert "no-store" in response["Cache-Control"]
    bad = client.post("/identity/reidentify/", {"pseudonym": objects["D12"], "purpose": "gossip"})
    assert bad.status_code == 400
    assert b"purpose: &#x27;gossip&#x27; is not one of" in bad.content
    assert b"FamilyD12" not in bad.content


def test_api_bad_input_is_4xx_with_a_message(users: dict[str, User], objects: dict[str, str]) -> None:
    client = login(Client(), users["system_admin"])
    r = client.post(
        "/api/v1/identity/reidentify",
        data=json.dumps({"pseudonym": "zz", "purpose": "treatment"}),
        content_type="application/json",
    )
    assert r.status_code == 400
    assert r.json()["detail"] == "pseudonym: expected 64 hexadecimal characters"
    r = client.post(
        f"/api/v1/identity/reviews/{objects['review_D11']}",
        data=json.dumps({"decision": "perhaps"}),
        content_type="application/json",
    )
    assert r.status_code == 400
    assert "decision: expected one of link, keep_apart" in r.json()["detail"]
    assert client.get("/api/v1/identity/reviews/99999999").status_code == 404
    assert client.get(f"/api/v1/identity/reviews/{2**63}").status_code in (404, 422)
    assert client.get("/api/v1/identity/reviews?status=nope").status_code == 400
    r = client.get(f"/api/v1/identity/reviews/{objects['review_D11']}")
    assert r.json()["new_identity"]["family"] == "Queued"
