"""Focal-point links: the token is shown once and only its SHA-256 stored; it reaches its own assessment only; an
expired or revoked link is refused; re-inviting an e-mail revokes its earlier links; every use is audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.maturity import services
from dhnet.maturity.models import Answer, FocalPointLink
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from tests.maturity.assess_world import RUBRIC, filled, make_rubric, people
from tests.notifications.fixtures import SmtpServer, free_port, smtp_server  # noqa: F401  (fixture)
from tests.platform.fixtures import login


@pytest.fixture
def who(users: dict[str, User]) -> dict[str, Actor]:
    make_rubric()
    return people(users)


def test_only_the_hash_is_stored(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    assessment, _ = services.open_assessment(planner, "DE", 2025, RUBRIC)
    link, token = services.invite(planner, assessment.public_id, "Ada Focal", "Ada@Example.org", 14)
    assert len(token) >= 40
    assert link.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(FocalPointLink.objects.values()))
    assert link.email == "ada@example.org"
    assert dt.timedelta(days=13) < link.expires_at - timezone.now() <= dt.timedelta(days=14)


def test_the_link_fills_its_own_assessment_and_is_audited(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    mine, _ = services.open_assessment(planner, "DE", 2025, RUBRIC)
    other, _ = services.open_assessment(planner, "DE", 2024, RUBRIC)
    _, token = services.invite(planner, mine.public_id, "Ada", "ada@example.org")
    focal = services.link_actor(token, ip="127.0.0.1")
    assert focal.link.assessment_id == mine.pk
    services.answer(Actor.anonymous(), mine.public_id, {"1": {"phase": 2, "note": "draft law"}}, focal=focal)
    row = Answer.objects.get(assessment=mine, indicator__code="1")
    assert (row.phase, row.answered_by) == (2, "focal point ada@example.org")
    record = AuditRecord.objects.filter(action="maturity.answer.set").get()
    assert (record.actor_username, record.object_id) == ("focal point ada@example.org", mine.public_id)
    with pytest.raises(NotFound):
        services.answer(Actor.anonymous(), other.public_id, {"1": 2}, focal=focal)
    with pytest.raises(NotFound):
        services.get_assessment(Actor.anonymous(), other.public_id, focal=focal)
    assert FocalPointLink.objects.get().last_used_at is not None


def test_unknown_expired_and_revoked_links_are_refused(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    assessment, _ = services.open_assessment(planner, "DE", 2025, RUBRIC)
    with pytest.raises(NotFound):
        services.link_actor("not-a-token")
    with pytest.raises(NotFound):
        services.link_actor("")
    link, token = services.invite(planner, assessment.public_id, "Ada", "ada@example.org")
    FocalPointLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(Forbidden, match="expired"):
        services.link_actor(token)
    link2, token2 = services.invite(planner, assessment.public_id, "Bo", "bo@example.org")
    services.revoke(planner, assessment.public_id, link2.pk)
    services.revoke(planner, assessment.public_id, link2.pk)  # again: no change
    with pytest.raises(Forbidden, match="revoked"):
        services.link_actor(token2)
    assert AuditRecord.objects.filter(action="maturity.link.revoke").count() == 1


def test_reinvite_revokes_the_earlier_link(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    assessment, _ = services.open_assessment(planner, "DE", 2025, RUBRIC)
    _, first = services.invite(planner, assessment.public_id, "Ada", "ada@example.org")
    _, second = services.invite(planner, assessment.public_id, "Ada", "ada@example.org")
    with pytest.raises(Forbidden, match="revoked"):
        services.link_actor(first)
    assert services.link_actor(second).link.email == "ada@example.org"
    assert FocalPointLink.objects.filter(revoked_at__isnull=True).count() == 1


@pytest.mark.parametrize(
    ("name", "email", "days", "message"),
    [
        ("", "ada@example.org", 30, "name: required"),
        ("Ada", "not-an-address", 30, "email: 'not-an-address' is not an e-mail address"),
        ("Ada", "ada@example.org", 0, "days: 0 is outside 1..365"),
        ("Ada", "ada@example.org", "soon", "days: 'soon' is not a number of days"),
    ],
)
def test_invite_refuses_bad_input(who: dict[str, Actor], name: str, email: str, days: object, message: str) -> None:
    planner = who["digital_health_planner"]
    assessment, _ = services.open_assessment(planner, "DE", 2025, RUBRIC)
    with pytest.raises(Invalid, match=message):
        services.invite(planner, assessment.public_id, name, email, days)
    assert not FocalPointLink.objects.exists()


def test_who_may_invite_and_when(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    assessment = filled(planner)
    with pytest.raises(Forbidden, match="requires maturity:assessment:write"):
        services.invite(who["knowledge_manager"], assessment.public_id, "Ada", "ada@example.org")
    with pytest.raises(NotFound):
        services.invite(who["partner"], assessment.public_id, "Ada", "ada@example.org")
    _, token = services.invite(planner, assessment.public_id, "Ada", "ada@example.org")
    services.submit(planner, assessment.public_id)
    with pytest.raises(Conflict, match="invite while draft or returned"):
        services.invite(planner, assessment.public_id, "Bo", "bo@example.org")
    focal = services.link_actor(token)  # still valid, but the assessment is no longer editable
    with pytest.raises(Conflict, match="answers change while draft or returned"):
        services.answer(Actor.anonymous(), assessment.public_id, {"1": 1}, focal=focal)


def test_the_link_is_e_mailed_through_a_real_smtp_server(
    who: dict[str, Actor],
    users: dict[str, User],
    smtp_server: SmtpServer,  # noqa: F811  (the fixture imported above)
) -> None:
    planner = who["digital_health_planner"]
    assessment, _ = services.open_assessment(planner, "DE", 2025, RUBRIC)
    client = login(Client(), users["digital_health_planner"])
    form = {"name": "Ada", "email": "ada@example.org", "days": "10", "send": "on"}
    page = client.post(f"/maturity/assessments/{assessment.public_id}/links/", form).content.decode()
    assert "The link was e-mailed to ada@example.org." in page
    (message,) = smtp_server.messages
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Maturity assessment DE 2025: your link"
    url = re.search(r"http://testserver(/maturity/fill/[^/\s]+/)", message.get_content())
    assert url is not None
    assert services.link_actor(url.group(1).split("/")[3]).link.email == "ada@example.org"
    record = AuditRecord.objects.get(action="maturity.link.email")
    assert record.detail["sent"] is True
    assert url.group(1) not in str(record.detail)  # the secret link is not in the audit trail


def test_an_unreachable_mail_server_is_reported_not_a_500(
    who: dict[str, Actor], users: dict[str, User], settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", free_port(), False
    assessment, _ = services.open_assessment(who["digital_health_planner"], "DE", 2025, RUBRIC)
    client = login(Client(), users["digital_health_planner"])
    form = {"name": "Ada", "email": "ada@example.org", "send": "on"}
    response = client.post(f"/maturity/assessments/{assessment.public_id}/links/", form)
    assert response.status_code == 200
    assert "The e-mail could not be sent" in response.content.decode()
    assert FocalPointLink.objects.filter(revoked_at__isnull=True).count() == 1  # the link still works: copy it
