"""``permits``: legal basis, implied consent, dynamic consent (grant, withdraw, history kept, the moment counts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from dhnet.audit.models import AuditRecord, AuditSubject
from dhnet.consent import services
from dhnet.consent.models import ConsentDecision
from dhnet.platform.errors import Invalid, NotFound
from tests.consent.fixtures import pseudonym
from tests.platform.fixtures import actor_of

pytestmark = pytest.mark.django_db

A, B, C = pseudonym("a"), pseudonym("b"), pseudonym("c")


def test_surveillance_rests_on_a_legal_basis(users: Any) -> None:
    assert services.permits([A, B], "surveillance") == {A, B}
    officer = actor_of(users["district_officer"])
    with pytest.raises(Invalid, match="legal basis, not on consent"):
        services.record_decision(officer, A, "surveillance", "withdraw", orgunit_code="D11")
    row = services.record_decision(officer, A, "surveillance", "grant", orgunit_code="D11")
    assert row.decision == "legal-basis"
    assert "public-health law" in row.legal_basis
    assert services.permits([A], "surveillance") == {A}


def test_research_needs_a_grant_and_a_withdrawal_applies_at_once(users: Any) -> None:
    officer = actor_of(users["district_officer"])
    assert services.permits([A, B, C], "research") == set()
    services.record_decision(officer, A, "research", "grant", orgunit_code="D11")
    services.record_decision(officer, B, "research", "grant", orgunit_code="D11")
    before = timezone.now()
    assert services.permits([A, B, C], "research") == {A, B}
    services.record_decision(officer, A, "research", "withdraw", orgunit_code="D11")
    assert services.permits([A, B, C], "research") == {B}
    # A release computed for a moment before the withdrawal still saw the grant; every later one does not.
    assert services.permits([A, B], "research", at=before) == {A, B}
    assert services.permits([A], "research", at=timezone.now() + dt.timedelta(seconds=1)) == set()
    # History kept, never overwritten; every decision audited with the person as subject.
    assert list(ConsentDecision.objects.filter(pseudonym=A).values_list("decision", flat=True)) == ["grant", "withdraw"]
    assert AuditSubject.objects.filter(subject=A, record__action__startswith="consent.decision.").count() == 2
    services.record_decision(officer, A, "research", "grant", orgunit_code="D11")
    assert services.permits([A], "research") == {A}
    assert services.permits([A], "secondary") == set()  # purposes are separate


def test_care_is_implied_until_refused(users: Any) -> None:
    officer = actor_of(users["district_officer"])
    assert services.permits([A, B], "care") == {A, B}
    services.record_decision(officer, B, "care", "withdraw", orgunit_code="D11")
    assert services.permits([A, B], "care") == {A}


def test_expired_grant_no_longer_permits(users: Any) -> None:
    officer = actor_of(users["district_officer"])
    end = timezone.now() + dt.timedelta(days=1)
    services.store(
        officer,
        [services.NewDecision(pseudonym=A, purpose="research", decision="grant", valid_until=end)],
        channel="staff",
        orgunit=None,
        permission=services.WRITE,
    )
    assert services.permits([A], "research") == {A}
    assert services.permits([A], "research", at=end + dt.timedelta(seconds=1)) == set()


@pytest.mark.parametrize("size", [1200, 6000])  # looked up in IN chunks; scanned
def test_many_pseudonyms(users: Any, size: int) -> None:
    officer = actor_of(users["district_officer"])
    people = [pseudonym(f"p{i}") for i in range(size)]
    granted, withdrawn = people[::3], people[::9]
    outsider = pseudonym("not asked")
    items = [services.NewDecision(pseudonym=p, purpose="research", decision="grant") for p in [*granted, outsider]]
    items += [services.NewDecision(pseudonym=p, purpose="research", decision="withdraw") for p in withdrawn]
    services.store(officer, items, channel="staff", orgunit=None, permission=services.WRITE)
    assert services.permits(people, "research") == set(granted) - set(withdrawn)
    assert services.permits(people, "care") == set(people)


def test_bad_input_is_refused(users: Any) -> None:
    officer = actor_of(users["district_officer"])
    with pytest.raises(Invalid, match="purpose"):
        services.permits([A], "marketing")
    with pytest.raises(Invalid, match="pseudonym"):
        services.record_decision(officer, "not-a-pseudonym", "research", "grant", orgunit_code="D11")
    with pytest.raises(Invalid, match="decision"):
        services.record_decision(officer, A, "research", "maybe", orgunit_code="D11")
    with pytest.raises(NotFound):  # another region's district
        services.record_decision(officer, A, "research", "grant", orgunit_code="D21")
    assert not ConsentDecision.objects.exists()


def test_history_and_jurisdiction(users: Any) -> None:
    regional = actor_of(users["regional_officer"])  # R1
    services.record_decision(regional, A, "research", "grant", orgunit_code="D12")
    services.record_decision(regional, A, "research", "withdraw", orgunit_code="D12")
    assert [r.decision for r in services.history(regional, A)] == ["grant", "withdraw"]
    with pytest.raises(NotFound):
        services.history(actor_of(users["district_officer"]), A)  # D11 officer: D12 is not theirs
    total, rows = services.search(
        actor_of(users["national_epidemiologist"]), services.DecisionFilter(purpose="research")
    )
    assert total == 2
    assert {r.pseudonym for r in rows} == {A}


def test_repoint_on_link(users: Any) -> None:
    officer = actor_of(users["district_officer"])
    services.record_decision(officer, B, "research", "grant", orgunit_code="D11")
    assert services.repoint(B, A) == 1
    assert services.permits([A, B], "research") == {A}


def test_decisions_of_many_sources_recorded_at_once(users: Any, tree: Any) -> None:
    """``store_all`` (a transaction Bundle's Consents): the rows in bulk, one audit record per decision and purpose
    naming every person, the repeats skipped (in the same call and when sent again)."""
    officer = actor_of(users["district_officer"])
    unit = tree["D11"]

    def decision(who: str, purpose: str, what: str, key: str) -> services.NewDecision:
        return services.NewDecision(pseudonym=who, purpose=purpose, decision=what, source_key=key * 64)

    groups = [
        ([decision(A, "research", "grant", "1"), decision(A, "surveillance", "grant", "2")], unit),
        ([decision(B, "research", "grant", "3"), decision(C, "research", "withdraw", "4")], unit),
        ([decision(B, "research", "grant", "3")], unit),  # the same source twice in one call
    ]
    rows = services.store_all(officer, groups, channel="fhir", permission=services.WRITE)
    assert [(r.pseudonym, r.purpose, r.decision) for r in rows] == [
        (A, "research", "grant"),
        (A, "surveillance", "legal-basis"),
        (B, "research", "grant"),
        (C, "research", "withdraw"),
    ]
    assert all(r.pk for r in rows)
    assert services.permits([A, B, C], "research") == {A, B}
    records = {r.action: r for r in AuditRecord.objects.filter(action__startswith="consent.decision.")}
    assert sorted(records) == ["consent.decision.grant", "consent.decision.legal-basis", "consent.decision.withdraw"]
    grant = records["consent.decision.grant"]
    assert grant.detail["subjects"] == sorted([A, B])
    assert grant.detail["purpose"] == "research"
    assert sorted(grant.detail["decisions"]) == sorted(r.pk for r in rows if r.decision == "grant")
    assert records["consent.decision.withdraw"].object_id == str(rows[3].pk)  # a single decision: its row
    assert AuditSubject.objects.filter(subject=B, record=grant).exists()
    # Sent again: nothing new, nothing audited.
    assert services.store_all(officer, groups, channel="fhir", permission=services.WRITE) == []
    assert ConsentDecision.objects.count() == 4
    assert AuditRecord.objects.filter(action__startswith="consent.decision.").count() == 3
