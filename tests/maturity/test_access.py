"""The authorization matrix of the assessment pages and endpoints: every role x every page/endpoint.

The world (``build_world``): DE assessments on the ``mini`` rubric — a draft (2026), a submitted one (2025, submitted
by the system administrator), an approved one (2024) and a published one (2023) — and a KE draft. The digital health
planner is DE's country administrator (not KE's): it opens, fills, submits and decides DE's; the knowledge manager
(a registry manager: administers every country) sees every state but may not write or approve; the expert
reviewer sees DE's from submission on and comments; everyone sees the published one. Four eyes: the system
administrator submitted 2025 and may not approve it. Focal-point links: a valid one on the draft, an expired and a
revoked one — each reaches its own assessment only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.maturity import services
from dhnet.maturity.models import FocalPointLink
from dhnet.platform.access import Actor
from tests.maturity.assess_world import RUBRIC, filled, make_rubric, people
from tests.platform.fixtures import ROLES, login

W, R, A, S = services.WRITE, services.REVIEW, services.APPROVE, services.SIGNED_IN
ALL = frozenset(ROLES)
ADMIN = frozenset({"system_admin", "knowledge_manager", "digital_health_planner"})  # administer DE
WRITERS = frozenset({"system_admin", "digital_health_planner"})  # hold write and approve, administer DE
SEES_SUBMITTED = ADMIN | {"expert_reviewer"}
PDF = base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()


@dataclass(frozen=True)
class Case:
    """``permission`` None: public. ``only``: the roles that pass the service's own check (others get
    ``denied``); ``special``: role -> answer where it differs."""

    label: str
    method: str
    url: str
    permission: str | None
    ok: int = 200
    only: frozenset[str] = ALL
    denied: int = 404
    body: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    special: dict[str, int] = field(default_factory=dict)


CASES = [
    # pages
    Case("list page", "get", "/maturity/assessments/", None),
    Case("open", "post", "/maturity/assessments/new/", W, 302, form={"country": "DE", "year": "2022"}),
    Case(
        "open other country",
        "post",
        "/maturity/assessments/new/",
        W,
        403,
        form={"country": "KE", "year": "2022"},
        special={"system_admin": 302},
    ),
    Case("draft page", "get", "/maturity/assessments/{draft}/", None, only=ADMIN),
    Case("submitted page", "get", "/maturity/assessments/{sub}/", None, only=SEES_SUBMITTED),
    Case("published page", "get", "/maturity/assessments/{pub}/", None),
    Case(
        "other country's draft page",
        "get",
        "/maturity/assessments/{ke}/",
        None,
        only={"system_admin", "knowledge_manager"},
    ),
    Case("save answers", "post", "/maturity/assessments/{draft}/answers/", W, 302, only=ADMIN, form={"phase_1": "4"}),
    Case(
        "add evidence",
        "post",
        "/maturity/assessments/{draft}/evidence/",
        W,
        302,
        only=ADMIN,
        form={"indicator": "1", "kind": "text", "text": "strategy"},
        special={"knowledge_manager": 403},
    ),
    Case(
        "remove evidence",
        "post",
        "/maturity/assessments/{draft}/evidence/{evidence}/remove/",
        W,
        302,
        only=ADMIN,
        form={},
        special={"knowledge_manager": 403},
    ),
    Case("draft document", "get", "/maturity/assessments/{draft}/evidence/{document}/", None, only=ADMIN),
    Case("submit", "post", "/maturity/assessments/{draft}/submit/", W, 302, only=ADMIN, form={}),
    Case(
        "approve (four eyes)",
        "post",
        "/maturity/assessments/{sub}/decide/",
        A,
        302,
        only=ADMIN,
        form={"action": "approve"},
        special={"system_admin": 403},
    ),
    Case(
        "return",
        "post",
        "/maturity/assessments/{sub}/decide/",
        A,
        302,
        only=ADMIN,
        form={"action": "return", "reason": "x"},
    ),
    Case("publish", "post", "/maturity/assessments/{appr}/decide/", A, 302, only=ADMIN, form={"action": "publish"}),
    Case(
        "reopen",
        "post",
        "/maturity/assessments/{pub}/reopen/",
        W,
        302,
        only=WRITERS,
        denied=403,
        form={"reason": "fix"},
    ),
    Case("comment", "post", "/maturity/assessments/{sub}/comments/", R, 302, only=SEES_SUBMITTED, form={"text": "ok"}),
    Case(
        "comment on a draft", "post", "/maturity/assessments/{draft}/comments/", R, 409, only=ADMIN, form={"text": "x"}
    ),
    Case(
        "resolve",
        "post",
        "/maturity/assessments/{sub}/comments/{comment}/resolve/",
        S,
        302,
        only=SEES_SUBMITTED,
        form={},
        special={"knowledge_manager": 403},
    ),
    Case(
        "invite",
        "post",
        "/maturity/assessments/{draft}/links/",
        W,
        200,
        only=ADMIN,
        form={"name": "Ada", "email": "ada@example.org"},
    ),
    Case("revoke", "post", "/maturity/assessments/{draft}/links/{link}/revoke/", W, 302, only=ADMIN, form={}),
    Case("published history", "get", "/maturity/assessments/{pub}/history/", None),
    Case("draft history", "get", "/maturity/assessments/{draft}/history/", None, only=ADMIN),
    Case("review queue", "get", "/maturity/review/", S),
    # the focal point's link (no account needed; a session changes nothing)
    Case("fill page", "get", "/maturity/fill/{token}/", None),
    Case("fill answers", "post", "/maturity/fill/{token}/answers/", None, 302, form={"phase_2": "3", "note_2": "x"}),
    Case(
        "fill evidence",
        "post",
        "/maturity/fill/{token}/evidence/",
        None,
        302,
        form={"indicator": "2", "kind": "text", "text": "law"},
    ),
    Case("fill document", "get", "/maturity/fill/{token}/evidence/{document}/", None),
    Case("fill removes evidence", "post", "/maturity/fill/{token}/evidence/{evidence}/remove/", None, 302, form={}),
    Case("expired link", "get", "/maturity/fill/{expired}/", None, 403),
    Case("revoked link", "get", "/maturity/fill/{revoked}/", None, 403),
    Case("unknown link", "get", "/maturity/fill/nope/", None, 404),
    Case("link to another assessment's document", "get", "/maturity/fill/{token}/evidence/{sub_document}/", None, 404),
    # API
    Case("list api", "get", "/api/v1/maturity/assessments", None),
    Case(
        "open api",
        "post",
        "/api/v1/maturity/assessments",
        W,
        201,
        body={"country": "DE", "year": 2022, "rubric": RUBRIC},
    ),
    Case(
        "open api again",
        "post",
        "/api/v1/maturity/assessments",
        W,
        200,
        body={"country": "DE", "year": 2026, "rubric": RUBRIC},
    ),
    Case(
        "open api other country",
        "post",
        "/api/v1/maturity/assessments",
        W,
        403,
        body={"country": "KE", "year": 2022, "rubric": RUBRIC},
        special={"system_admin": 201},
    ),
    Case("draft api", "get", "/api/v1/maturity/assessments/{draft}", None, only=ADMIN),
    Case("published api", "get", "/api/v1/maturity/assessments/{pub}", None),
    Case(
        "answers api",
        "put",
        "/api/v1/maturity/assessments/{draft}/answers",
        W,
        only=ADMIN,
        body={"answers": {"1": {"phase": 2}}},
        special={"knowledge_manager": 403},
    ),
    Case(
        "evidence api",
        "post",
        "/api/v1/maturity/assessments/{draft}/evidence",
        W,
        201,
        only=ADMIN,
        body={"indicator": "1", "kind": "document", "filename": "a.pdf", "content_base64": PDF},
        special={"knowledge_manager": 403},
    ),
    Case(
        "document upload api",
        "post",
        "/api/v1/maturity/assessments/{draft}/documents",
        W,
        201,
        only=ADMIN,
        form={"indicator": "3"},
        special={"knowledge_manager": 403},
    ),
    Case(
        "evidence delete api", "delete", "/api/v1/maturity/assessments/{draft}/evidence/{evidence}", W, 204, only=ADMIN
    ),
    Case("submit api", "post", "/api/v1/maturity/assessments/{draft}/submit", W, only=ADMIN),
    Case(
        "approve api",
        "post",
        "/api/v1/maturity/assessments/{sub}/approve",
        A,
        only=ADMIN,
        special={"system_admin": 403},
    ),
    Case("return api", "post", "/api/v1/maturity/assessments/{sub}/return", A, only=ADMIN, body={"reason": "why"}),
    Case("publish api", "post", "/api/v1/maturity/assessments/{appr}/publish", A, only=ADMIN),
    Case(
        "reopen api",
        "post",
        "/api/v1/maturity/assessments/{pub}/reopen",
        W,
        only=WRITERS,
        denied=403,
        body={"reason": "fix"},
    ),
    Case("publications api", "get", "/api/v1/maturity/assessments/{pub}/publications", None),
    Case(
        "comment api",
        "post",
        "/api/v1/maturity/assessments/{sub}/comments",
        R,
        201,
        only=SEES_SUBMITTED,
        body={"text": "ok", "indicator": "2"},
    ),
    Case(
        "resolve api",
        "post",
        "/api/v1/maturity/assessments/{sub}/comments/{comment}/resolve",
        S,
        only=SEES_SUBMITTED,
        special={"knowledge_manager": 403},
    ),
    Case("links api", "get", "/api/v1/maturity/assessments/{draft}/links", W, only=ADMIN),
    Case(
        "invite api",
        "post",
        "/api/v1/maturity/assessments/{draft}/links",
        W,
        201,
        only=ADMIN,
        body={"name": "Bo", "email": "bo@example.org"},
    ),
    Case("revoke api", "delete", "/api/v1/maturity/assessments/{draft}/links/{link}", W, only=ADMIN),
    Case("fill api", "get", "/api/v1/maturity/fill/{token}", None),
    Case(
        "fill answers api", "put", "/api/v1/maturity/fill/{token}/answers", None, body={"answers": {"3": {"phase": -1}}}
    ),
    Case(
        "fill evidence api",
        "post",
        "/api/v1/maturity/fill/{token}/evidence",
        None,
        201,
        body={"indicator": "3", "kind": "link", "url": "https://example.org/x"},
    ),
    Case("expired link api", "get", "/api/v1/maturity/fill/{expired}", None, 403),
]


def _expected(role: str, case: Case) -> int:
    if case.permission is not None and case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if role in case.special:
        return case.special[role]
    if role not in case.only:
        return case.denied
    return case.ok


def _request(client: Client, case: Case, ids: dict[str, Any]) -> int:
    url = case.url.format(**ids)
    if url.endswith("/documents"):  # multipart
        upload = SimpleUploadedFile("plan.pdf", base64.b64decode(PDF), content_type="application/pdf")
        return client.post(url, {**(case.form or {}), "file": upload}).status_code
    if url.startswith("/api/"):
        data = json.dumps(case.body) if case.body is not None else ""
        if case.method == "get":
            return client.get(url).status_code
        return client.generic(case.method.upper(), url, data=data, content_type="application/json").status_code
    if case.method == "post":
        return client.post(url, case.form or {}).status_code
    return client.get(url).status_code


def build_world(users: dict[str, User]) -> dict[str, Any]:
    """The assessments, evidence, comment and links of the matrix (see the module docstring)."""
    make_rubric()
    who: dict[str, Actor] = people(users)
    planner, admin, reviewer = who["digital_health_planner"], who["system_admin"], who["expert_reviewer"]
    ids: dict[str, Any] = {}
    draft = filled(planner, 2026)
    ids["draft"] = draft.public_id
    ids["evidence"] = services.add_evidence(planner, draft.public_id, "1", "link", url="https://example.org/e")[0].pk
    pdf = base64.b64decode(PDF)
    ids["document"] = services.add_evidence(planner, draft.public_id, "2", "document", data=pdf, filename="d.pdf")[0].pk
    sub = filled(admin, 2025)
    ids["sub_document"] = services.add_evidence(admin, sub.public_id, "2", "document", data=pdf, filename="s.pdf")[0].pk
    services.submit(admin, sub.public_id)
    ids["sub"] = sub.public_id
    ids["comment"] = services.comment(reviewer, sub.public_id, "check indicator 2", "2")[0].pk
    appr = filled(planner, 2024)
    services.submit(planner, appr.public_id)
    services.approve(admin, appr.public_id)
    ids["appr"] = appr.public_id
    pub = filled(planner, 2023)
    services.submit(planner, pub.public_id)
    services.approve(admin, pub.public_id)
    services.publish(admin, pub.public_id)
    ids["pub"] = pub.public_id
    ids["ke"] = services.open_assessment(admin, "KE", 2025, RUBRIC)[0].public_id
    link, ids["token"] = services.invite(planner, draft.public_id, "Ada", "ada@example.org")
    ids["link"] = link.pk
    expired, ids["expired"] = services.invite(planner, draft.public_id, "Old", "old@example.org")
    FocalPointLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    revoked, ids["revoked"] = services.invite(planner, draft.public_id, "Gone", "gone@example.org")
    services.revoke(planner, draft.public_id, revoked.pk)
    return ids


@pytest.fixture
def world(users: dict[str, User], settings: Any, tmp_path: Any) -> dict[str, Any]:
    import dataclasses

    settings.CONFIG = dataclasses.replace(settings.CONFIG, data_dir=tmp_path)
    return build_world(users)


def _run(client: Client, case: Case, ids: dict[str, Any]) -> int:
    """One request in a savepoint rolled back afterwards: every case sees the same world."""
    with transaction.atomic():
        status = _request(client, case, ids)
        transaction.set_rollback(True)
    return status


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role: str, users: dict[str, User], world: dict[str, Any]) -> None:
    client = login(Client(), users[role])
    wrong = []
    for case in CASES:
        status, expected = _run(client, case, world), _expected(role, case)
        if status != expected:
            wrong.append(f"{case.label}: {status}, expected {expected}")
    assert not wrong, (role, wrong)


def test_anonymous(world: dict[str, Any]) -> None:
    """Public pages answer anonymous visitors (unpublished: 404); the others send them to log in (API: 401); the
    focal-point link works without an account."""
    wrong = []
    for case in CASES:
        status = _run(Client(), case, world)
        if case.permission is None:
            expected = case.ok if case.only == ALL else 404
        elif case.url.startswith("/api/"):
            expected = 401
        else:
            expected = 302
        if status != expected:
            wrong.append(f"{case.label}: {status}, expected {expected}")
    assert not wrong, wrong
