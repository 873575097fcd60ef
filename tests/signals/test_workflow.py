"""Triage: the state machine, risk assessment, assignment, comments, escalation and jurisdiction, IHR assessments,
the timeline, the audit trail and ``signal_changed``."""

from __future__ import annotations

from typing import Any

import pytest

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from dhnet.signals.events import signal_changed
from dhnet.signals.models import IHRAssessment, Signal, SignalEvent, SignalStatus
from dhnet.signals.services import queries, workflow
from tests.platform.fixtures import actor_of
from tests.signals import helpers

pytestmark = pytest.mark.django_db

ALL_STATUSES = [str(s) for s in SignalStatus.values]


@pytest.fixture
def national(users: dict[str, User]) -> Any:
    return actor_of(users["national_epidemiologist"])


@pytest.fixture
def regional(users: dict[str, User]) -> Any:
    return actor_of(users["regional_officer"])


@pytest.fixture
def sent() -> Any:
    calls: list[dict[str, Any]] = []

    def receiver(sender: Any, signal: Any = None, **kwargs: Any) -> None:
        calls.append(kwargs)

    signal_changed.connect(receiver, dispatch_uid="test-receiver")
    yield calls
    signal_changed.disconnect(dispatch_uid="test-receiver")


def test_statuses_match_the_model() -> None:
    assert set(workflow.STATUSES) == set(SignalStatus.values)


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("action", list(workflow.ACTIONS))
def test_state_machine(status: str, action: str, tree: dict[str, OrgUnit], national: Any) -> None:
    signal = helpers.make_signal(tree["D11"], status=status)
    sources, target = workflow.ACTIONS[action]
    if status in sources:
        changed = workflow.transition(national, signal.pk, action, text="checked by phone")
        expected = target or "verification"  # reopening a signal without a close in its timeline
        assert changed.status == expected
        event = SignalEvent.objects.get(signal=signal, kind="status")
        assert (event.from_status, event.to_status, event.text) == (status, expected, "checked by phone")
        assert AuditRecord.objects.filter(action=f"signals.signal.{action}", object_id=str(signal.pk)).exists()
    else:
        with pytest.raises(Conflict) as caught:
            workflow.transition(national, signal.pk, action)
        assert f"signal {signal.pk}" in caught.value.message
        assert f"transition {status} -> " in caught.value.message
        assert Signal.objects.get(pk=signal.pk).status == status
        assert not SignalEvent.objects.filter(signal=signal).exists()


def test_the_ewars_path_and_reopening(tree: dict[str, OrgUnit], national: Any) -> None:
    signal = helpers.make_signal(tree["D11"])
    path = ["start_verification", "verify"]
    for action in path:
        workflow.transition(national, signal.pk, action)
    workflow.assess_risk(national, signal.pk, workflow.RiskInput("cholera", "river village", "rainy season", "high"))
    assert Signal.objects.get(pk=signal.pk).status == "risk_assessed"
    workflow.transition(national, signal.pk, "respond")
    workflow.assess_risk(national, signal.pk, workflow.RiskInput("cholera", "two villages", "rains", "very_high"))
    signal.refresh_from_db()
    assert (signal.status, signal.risk) == ("response", "very_high")  # reassessed during the response
    workflow.transition(national, signal.pk, "close")
    assert workflow.transition(national, signal.pk, "reopen").status == "response"  # back where it was
    kinds = list(SignalEvent.objects.filter(signal=signal).values_list("kind", "to_status"))
    assert kinds == [
        ("status", "verification"),
        ("status", "verified"),
        ("risk", "risk_assessed"),
        ("status", "response"),
        ("risk", "response"),
        ("status", "closed"),
        ("status", "response"),
    ]


def test_unknown_action(tree: dict[str, OrgUnit], national: Any) -> None:
    signal = helpers.make_signal(tree["D11"])
    with pytest.raises(Invalid, match="action: unknown action 'approve'"):
        workflow.transition(national, signal.pk, "approve")


def test_risk_assessment_rules(tree: dict[str, OrgUnit], national: Any) -> None:
    signal = helpers.make_signal(tree["D11"])
    risk = workflow.RiskInput("h", "e", "c", "low")
    with pytest.raises(Conflict, match="new -> risk_assessed"):
        workflow.assess_risk(national, signal.pk, risk)
    workflow.transition(national, signal.pk, "verify")
    with pytest.raises(Invalid, match="risk: expected one of"):
        workflow.assess_risk(national, signal.pk, workflow.RiskInput("h", "e", "c", "extreme"))
    with pytest.raises(Invalid, match="exposure: required"):
        workflow.assess_risk(national, signal.pk, workflow.RiskInput("h", " ", "c", "low"))
    workflow.assess_risk(national, signal.pk, risk)
    event = SignalEvent.objects.get(signal=signal, kind="risk")
    assert event.data == {"hazard": "h", "exposure": "e", "context": "c", "risk": "low"}


def test_assignment(tree: dict[str, OrgUnit], users: dict[str, User], national: Any, operator: Any) -> None:
    from dhnet.accounts import services as accounts

    signal = helpers.make_signal(tree["D11"])
    assert workflow.assign(national, signal.pk, "district_officer").assigned_to == users["district_officer"]
    _other, _ = accounts.create_user(operator, "officer_d21", role="district_officer", orgunit_code="D21")
    with pytest.raises(Invalid, match="'officer_d21' may not see signals of District 11"):
        workflow.assign(national, signal.pk, "officer_d21")
    with pytest.raises(NotFound, match="user 'ghost' not found"):
        workflow.assign(national, signal.pk, "ghost")
    assert workflow.assign(national, signal.pk, None).assigned_to is None
    assert list(SignalEvent.objects.filter(signal=signal).values_list("kind", flat=True)) == ["assign", "assign"]
    assert queries.list_signals(national, queries.SignalQuery(assigned="me"))[0] == 0


def test_comment_needs_text(tree: dict[str, OrgUnit], regional: Any) -> None:
    signal = helpers.make_signal(tree["D11"])
    event = workflow.comment(regional, signal.pk, "  called the district hospital  ")
    assert (event.kind, event.text, event.actor_username) == (
        "comment",
        "called the district hospital",
        "regional_officer",
    )
    with pytest.raises(Invalid, match="text: required"):
        workflow.comment(regional, signal.pk, "   ")


def test_escalation_district_region_nation(tree: dict[str, OrgUnit], users: dict[str, User]) -> None:
    regional, national = actor_of(users["regional_officer"]), actor_of(users["national_epidemiologist"])
    signal = helpers.make_signal(tree["D11"])
    assert [u.code for u in workflow.escalation_targets(signal)] == ["DE", "R1"]
    assert workflow.escalate(regional, signal.pk, text="beyond the district").escalation_level == 2
    # Escalated to the region, the regional officer still triages it.
    workflow.transition(regional, signal.pk, "start_verification")
    assert workflow.escalate(regional, signal.pk).escalation_level == 1
    event = SignalEvent.objects.filter(signal=signal, kind="escalate").last()
    assert event.data == {"from_level": 2, "to_level": 1, "to_orgunit": "DE"}
    # Now it is the nation's: the region may comment, not triage.
    with pytest.raises(Forbidden, match="escalated to the national level"):
        workflow.transition(regional, signal.pk, "verify")
    with pytest.raises(Forbidden):
        workflow.escalate(regional, signal.pk)
    workflow.comment(regional, signal.pk, "we keep watching")
    assert workflow.transition(national, signal.pk, "verify").status == "verified"
    with pytest.raises(Conflict, match="at the national level already"):
        workflow.escalate(national, signal.pk)
    # Still visible to the region it came from, and marked as escalated.
    assert queries.get_signal(regional, signal.pk).can_triage is False
    _total, rows = queries.list_signals(regional, queries.SignalQuery(escalated=True))
    assert [s.pk for s in rows] == [signal.pk]


def test_escalation_to_a_chosen_level_and_limits(tree: dict[str, OrgUnit], national: Any) -> None:
    signal = helpers.make_signal(tree["D11"])
    with pytest.raises(Invalid, match="to_level: expected a level above 3"):
        workflow.escalate(national, signal.pk, to_level=3)
    assert workflow.escalate(national, signal.pk, to_level=1).escalation_level == 1
    closed = helpers.make_signal(tree["D12"], status="closed")
    with pytest.raises(Conflict, match="cannot escalate a closed signal"):
        workflow.escalate(national, closed.pk)


def test_jurisdiction(tree: dict[str, OrgUnit], users: dict[str, User]) -> None:
    signals = {code: helpers.make_signal(tree[code], title=code) for code in ("D11", "D12", "D21", "R1", "DE")}
    escalated = helpers.make_signal(tree["D21"], escalation_level=1, title="D21 escalated")

    def visible(role: str) -> set[str]:
        _, rows = queries.list_signals(actor_of(users[role]), queries.SignalQuery(limit=200))
        return {s.title for s in rows}

    assert visible("district_officer") == {"D11"}
    assert visible("regional_officer") == {"D11", "D12", "R1"}  # not R2's, even escalated to the nation
    assert visible("viewer") == {"D11", "D12", "R1"}
    assert visible("national_epidemiologist") == {"D11", "D12", "D21", "R1", "DE", "D21 escalated"}
    with pytest.raises(Forbidden):
        visible("partner")
    district = actor_of(users["district_officer"])
    queries.get_signal(district, signals["D11"].pk)
    for code in ("D12", "D21"):
        with pytest.raises(NotFound, match=f"signal {signals[code].pk} not found"):
            queries.get_signal(district, signals[code].pk)
    with pytest.raises(Forbidden, match="requires surveillance:signal:write"):
        workflow.transition(district, signals["D11"].pk, "verify")
    regional = actor_of(users["regional_officer"])
    workflow.transition(regional, signals["D12"].pk, "verify")
    for target in (signals["D21"], escalated):
        with pytest.raises(NotFound):
            workflow.transition(regional, target.pk, "verify")
    with pytest.raises(Forbidden):
        workflow.comment(actor_of(users["viewer"]), signals["D11"].pk, "hello")
    with pytest.raises(NotFound, match="org unit 'D21' not found"):
        queries.list_signals(regional, queries.SignalQuery(orgunit="D21"))
    _, rows = queries.list_signals(regional, queries.SignalQuery(orgunit="D11"))
    assert [s.title for s in rows] == ["D11"]


def test_changes_are_sent_after_commit_only(
    tree: dict[str, OrgUnit], national: Any, sent: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    signal = helpers.make_signal(tree["D11"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        workflow.transition(national, signal.pk, "verify")
    assert sent == []  # not before the commit
    for callback in callbacks:
        callback()
    assert sent == [{"signal_id": signal.pk, "kind": "status", "actor_username": "national_epidemiologist"}]
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Conflict):
        workflow.transition(national, signal.pk, "verify")
    assert callbacks == []
    with django_capture_on_commit_callbacks(execute=True):
        workflow.escalate(national, signal.pk)
        workflow.comment(national, signal.pk, "note")
        workflow.assess_ihr(national, signal.pk, {"notifiable": "sars"})
    assert [c["kind"] for c in sent] == ["status", "escalate", "comment", "ihr"]


def test_ihr_assessment_is_stored_with_the_signal(tree: dict[str, OrgUnit], national: Any) -> None:
    signal = helpers.make_signal(tree["D11"], status="verified")
    with pytest.raises(Invalid, match="next step: spread"):
        workflow.assess_ihr(
            national, signal.pk, {"notifiable": "none", "assessed": "cholera", "serious": "yes", "unusual": "no"}
        )
    assessment = workflow.assess_ihr(
        national,
        signal.pk,
        {
            "notifiable": "none",
            "assessed": "cholera",
            "serious": "yes",
            "unusual": "no",
            "spread": "yes",
            "restrictions": "no",
        },
    )
    assert assessment.notify_who is True
    assert assessment.answers == {
        "notifiable": "none",
        "assessed": "cholera",
        "serious": "yes",
        "unusual": "no",
        "spread": "yes",
    }  # IV was not needed
    event = SignalEvent.objects.get(signal=signal, kind="ihr")
    assert event.data["assessment"] == assessment.pk
    assert event.text == assessment.reasoning
    discarded = helpers.make_signal(tree["D11"], status="discarded")
    with pytest.raises(Conflict, match="cannot assess a discarded signal"):
        workflow.assess_ihr(national, discarded.pk, {"notifiable": "sars"})
    assert IHRAssessment.objects.count() == 1
