"""Staff pages: record a decision on a person's behalf (audited with the person as subject), the person's history
(never overwritten), the legal-basis explanation, clear errors; persons linked by identity re-point decisions;
a person's export lists only their own pseudonyms."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dhnet.audit.models import AuditSubject
from dhnet.consent import access, services
from dhnet.consent.models import ConsentDecision
from tests.consent.fixtures import pseudonym
from tests.platform.fixtures import actor_of, login

pytestmark = pytest.mark.django_db

A, B = pseudonym("a"), pseudonym("b")


def test_staff_record_grant_and_withdrawal(users: Any) -> None:
    client = login(Client(), users["district_officer"])
    form = {"pseudonym": A, "purpose": "research", "decision": "grant", "orgunit": "D11", "note": "signed form"}
    response = client.post("/consent/record/", form)
    assert response.status_code == 302
    assert response["Location"] == f"/consent/person/{A}/"
    client.post("/consent/record/", {**form, "decision": "withdraw", "note": "by phone"})
    page = client.get(f"/consent/person/{A}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "signed form" in text
    assert "by phone" in text
    assert "Legal basis (not consent)" in text
    assert "public-health law" in text
    assert list(ConsentDecision.objects.values_list("decision", "recorded_by")) == [
        ("grant", "district_officer"),
        ("withdraw", "district_officer"),
    ]
    assert AuditSubject.objects.filter(subject=A, record__action__startswith="consent.decision.").count() == 3
    listing = client.get("/consent/?purpose=research")
    assert listing.status_code == 200
    assert A[:12] in listing.content.decode()


def test_staff_errors_are_clear_and_store_nothing(users: Any) -> None:
    client = login(Client(), users["district_officer"])
    base = {"pseudonym": A, "purpose": "surveillance", "decision": "withdraw", "orgunit": "D11"}
    response = client.post("/consent/record/", base)
    assert response.status_code == 400
    assert "cannot be withdrawn" in response.content.decode()
    response = client.post("/consent/record/", {**base, "pseudonym": "Erika Mustermann", "purpose": "research"})
    assert response.status_code == 400
    assert "pseudonym: expected a pseudonym" in response.content.decode()
    response = client.post("/consent/record/", {**base, "purpose": "research", "orgunit": "NOPE"})
    assert response.status_code == 400
    assert "orgunit: unknown org unit" in response.content.decode()
    assert client.get("/consent/?pseudonym=xyz").status_code == 400
    assert not ConsentDecision.objects.exists()


def test_linked_persons_keep_their_decisions(users: Any) -> None:
    from dhnet.identity.events import persons_linked

    officer = actor_of(users["district_officer"])
    services.record_decision(officer, B, "research", "grant", orgunit_code="D11")
    persons_linked.send(sender=None, kept=A, merged=B)
    assert services.permits([A], "research") == {A}
    assert not ConsentDecision.objects.filter(pseudonym=B).exists()


def test_export_names_only_the_person(users: Any, tree: Any) -> None:
    officer = actor_of(users["district_officer"])
    services.record_decision(officer, A, "research", "grant", orgunit_code="D11")
    services.record_decision(officer, B, "research", "grant", orgunit_code="D11")
    total, _ = services.search(actor_of(users["regional_officer"]), services.DecisionFilter())  # reads A and B
    assert total == 2
    grant = access.AccessGrant((A,), expires_at=access.timezone.now() + access.SESSION_TTL)
    bundle = access.export(grant, ip="127.0.0.1", base_url="http://testserver/fhir/")
    assert B not in str(bundle)
    events = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "AuditEvent"]
    assert any(e["agent"][0]["altId"] == "regional_officer" for e in events)
