# mypy: warn-return-any=False
"""Triage of signals as in WHO EWARS, enforced here and nowhere else::

    new ──> verification ──> verified ──> risk_assessed ──> response ──> closed
     │           │    ▲          │              │  ▲ (reassess)            │ (reopen: back to the status before)
     │           ▼    │          └──────────────┴──┴──────> closed <───────┘
     ├──> monitoring ─┘ (and from monitoring: verify, discard)
     └──> discarded (reopen: back to verification)

Actions (:data:`ACTIONS`) name a transition; any other is a :class:`~dhnet.platform.errors.Conflict` naming the
current and the requested status. Every change writes a timeline entry (:class:`~dhnet.signals.models.SignalEvent`),
an audit record in the same transaction, and sends ``signal_changed`` after the commit.

Who may act
    ``surveillance:signal:write`` where the signal's org unit lies (a role holds at its org unit and below; a signal
    outside where the actor may read is 404, one they may read but not triage is 403). Once a signal is escalated to
    a level (2 = region, 1 = nation), its triage (status, risk, assignment, IHR) is with officers whose grant is at
    that level or above; lower levels can still comment. Escalation goes up only (district -> region -> nation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.accounts.services import grants_of
from dhnet.audit import services as audit
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from dhnet.signals.models import IHRAssessment, Risk, Signal, SignalEvent
from dhnet.signals.services import READ, WRITE, get_visible, level_of_path, notify_changed, require
from dhnet.signals.services import ihr as ihr_logic

# The statuses (the values of SignalStatus, as plain strings).
NEW, VERIFICATION, MONITORING, VERIFIED = "new", "verification", "monitoring", "verified"
RISK_ASSESSED, RESPONSE, CLOSED, DISCARDED = "risk_assessed", "response", "closed", "discarded"
STATUSES = (NEW, VERIFICATION, DISCARDED, MONITORING, VERIFIED, RISK_ASSESSED, RESPONSE, CLOSED)
OPEN = frozenset({NEW, VERIFICATION, MONITORING, VERIFIED, RISK_ASSESSED, RESPONSE})
ENDED = frozenset({CLOSED, DISCARDED})

#: action -> (statuses it may start from, status it leads to; None: computed, see :func:`target_of`).
ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "start_verification": (frozenset({NEW, MONITORING}), VERIFICATION),
    "verify": (frozenset({NEW, VERIFICATION, MONITORING}), VERIFIED),
    "discard": (frozenset({NEW, VERIFICATION, MONITORING}), DISCARDED),
    "monitor": (frozenset({NEW, VERIFICATION}), MONITORING),
    "respond": (frozenset({RISK_ASSESSED}), RESPONSE),
    "close": (frozenset({VERIFIED, RISK_ASSESSED, RESPONSE}), CLOSED),
    "reopen": (frozenset({CLOSED, DISCARDED}), None),
}
ACTION_LABELS = {
    "start_verification": "Start verification",
    "verify": "Verify",
    "discard": "Discard",
    "monitor": "Monitor",
    "respond": "Start response",
    "close": "Close",
    "reopen": "Reopen",
}
#: A risk assessment may be made (and remade) from these; it moves a verified signal to risk_assessed.
RISK_FROM = frozenset({VERIFIED, RISK_ASSESSED, RESPONSE})
#: The IHR instrument applies to signals that are not discarded or closed.
IHR_FROM = OPEN
MAX_TEXT = 10_000
LEVEL_NAMES = {1: "national", 2: "regional", 3: "district"}


def allowed_actions(status: str) -> list[str]:
    """The actions that may be taken on a signal in ``status`` (for the page's buttons)."""
    return [action for action, (sources, _) in ACTIONS.items() if status in sources]


def target_of(signal: Signal, action: str) -> str:
    """The status ``action`` leads to from the signal's current status; :class:`Conflict` if not allowed."""
    if action not in ACTIONS:
        raise Invalid(f"action: unknown action {action!r} (actions: {', '.join(ACTIONS)})")
    sources, target = ACTIONS[action]
    if target is None:  # reopen
        target = _reopen_target(signal)
    if signal.status not in sources:
        raise Conflict(
            f"signal {signal.pk}: cannot {action.replace('_', ' ')}: the transition {signal.status} -> {target} is "
            f"not allowed (from {signal.status}: {', '.join(allowed_actions(signal.status)) or 'no action'})"
        )
    return target


def _reopen_target(signal: Signal) -> str:
    if signal.status == DISCARDED:
        return VERIFICATION
    last_close = (
        SignalEvent.objects.filter(signal=signal, kind="status", to_status=CLOSED).order_by("-at", "-id").first()
    )
    before = last_close.from_status if last_close else ""
    return before if before in OPEN else VERIFICATION


def _grant_level(actor: Actor, signal: Signal) -> int | None:
    """The highest level (smallest number) at which ``actor`` holds the write permission over the signal."""
    levels = [
        level_of_path(g.orgunit_path)
        for g in actor.grants
        if WRITE in g.permissions and signal.orgunit.path.startswith(g.orgunit_path)
    ]
    return min(levels) if levels else None


def _writable(actor: Actor, signal_id: int, *, triage: bool = True) -> Signal:
    """The signal, locked, if ``actor`` may change it (404 if invisible, 403 if only readable)."""
    require(actor, WRITE)
    signal = get_visible(actor, signal_id, lock=True)
    level = _grant_level(actor, signal)
    if level is None:
        raise Forbidden(f"signal {signal_id}: you may read but not triage signals of {signal.orgunit.name}")
    if triage and signal.escalation_level is not None and level > signal.escalation_level:
        where = LEVEL_NAMES.get(signal.escalation_level, f"level {signal.escalation_level}")
        raise Forbidden(f"signal {signal_id} is escalated to the {where} level: its triage is with officers there")
    return signal


def _event(
    signal: Signal,
    actor: Actor,
    kind: str,
    *,
    text: str = "",
    from_status: str = "",
    to_status: str = "",
    data: dict[str, Any] | None = None,
) -> SignalEvent:
    return SignalEvent.objects.create(
        signal=signal,
        actor_username=actor.username[:150],
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        text=text,
        data=data or {},
    )


def _text(value: str | None, name: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Invalid(f"{name}: required")
    if len(text) > max_length:
        raise Invalid(f"{name}: at most {max_length} characters")
    return text


def _save(signal: Signal, fields: list[str]) -> None:
    signal.updated_at = timezone.now()
    signal.save(update_fields=[*fields, "updated_at"])


def transition(actor: Actor, signal_id: int, action: str, *, text: str = "") -> Signal:
    """Take ``action`` (verify, discard, monitor, start_verification, respond, close, reopen) on a signal."""
    note = _text(text, "text")
    with transaction.atomic():
        signal = _writable(actor, signal_id)
        target = target_of(signal, action)
        before = signal.status
        signal.status = target
        _save(signal, ["status"])
        _event(signal, actor, "status", text=note, from_status=before, to_status=target, data={"action": action})
        audit.record(
            actor,
            f"signals.signal.{action}",
            object_type="signals.signal",
            object_id=signal.pk,
            detail={"from": before, "to": target},
            permission=WRITE,
        )
        notify_changed(signal.pk, "status", actor.username)
    return signal


@dataclass(frozen=True)
class RiskInput:
    """A rapid risk assessment (WHO 2012): the hazard, exposure and context assessments and the overall risk."""

    hazard: str
    exposure: str
    context: str
    risk: str
    text: str = ""


def assess_risk(actor: Actor, signal_id: int, data: RiskInput) -> Signal:
    """Record a risk assessment; a verified signal becomes risk_assessed (a later one updates the risk)."""
    hazard = _text(data.hazard, "hazard", required=True)
    exposure = _text(data.exposure, "exposure", required=True)
    context = _text(data.context, "context", required=True)
    if data.risk not in Risk.values:
        raise Invalid(f"risk: expected one of {', '.join(Risk.values)}")
    note = _text(data.text, "text")
    with transaction.atomic():
        signal = _writable(actor, signal_id)
        if signal.status not in RISK_FROM:
            raise Conflict(
                f"signal {signal.pk}: cannot assess the risk: the transition {signal.status} -> {RISK_ASSESSED} is "
                "not allowed (verify the signal first)"
            )
        before = signal.status
        signal.risk = data.risk
        if signal.status == VERIFIED:
            signal.status = RISK_ASSESSED
        _save(signal, ["risk", "status"])
        _event(
            signal,
            actor,
            "risk",
            text=note,
            from_status=before,
            to_status=signal.status,
            data={"hazard": hazard, "exposure": exposure, "context": context, "risk": data.risk},
        )
        audit.record(
            actor,
            "signals.signal.risk",
            object_type="signals.signal",
            object_id=signal.pk,
            detail={"risk": data.risk, "from": before, "to": signal.status},
            permission=WRITE,
        )
        notify_changed(signal.pk, "risk", actor.username)
    return signal


def assign(actor: Actor, signal_id: int, username: str | None, *, text: str = "") -> Signal:
    """Assign the signal to a user who may read it there (None or "" unassigns)."""
    note = _text(text, "text")
    with transaction.atomic():
        signal = _writable(actor, signal_id)
        assignee = None
        if username:
            assignee = User.objects.filter(username=username, is_active=True).first()
            if assignee is None:
                raise NotFound(f"username: user {username!r} not found")
            if not any(
                READ in g.permissions and signal.orgunit.path.startswith(g.orgunit_path) for g in grants_of(assignee)
            ):
                raise Invalid(f"username: {username!r} may not see signals of {signal.orgunit.name}")
        if (assignee.pk if assignee else None) == signal.assigned_to_id:
            return signal
        signal.assigned_to = assignee
        _save(signal, ["assigned_to"])
        _event(signal, actor, "assign", text=note, data={"username": assignee.username if assignee else None})
        audit.record(
            actor,
            "signals.signal.assign",
            object_type="signals.signal",
            object_id=signal.pk,
            detail={"username": assignee.username if assignee else None},
            permission=WRITE,
        )
        notify_changed(signal.pk, "assign", actor.username)
    return signal


def comment(actor: Actor, signal_id: int, text: str) -> SignalEvent:
    """Add a comment to the timeline (also allowed to lower levels after escalation)."""
    body = _text(text, "text", required=True)
    with transaction.atomic():
        signal = _writable(actor, signal_id, triage=False)
        event = _event(signal, actor, "comment", text=body)
        _save(signal, [])
        audit.record(
            actor, "signals.signal.comment", object_type="signals.signal", object_id=signal.pk, permission=WRITE
        )
        notify_changed(signal.pk, "comment", actor.username)
    return event


def escalation_targets(signal: Signal) -> list[OrgUnit]:
    """The org units a signal can be escalated to: its ancestors above its current (escalation) level."""
    current = signal.escalation_level or signal.orgunit.level
    ids = [int(part) for part in signal.orgunit.path.strip("/").split("/") if part]
    units = {u.pk: u for u in OrgUnit.objects.filter(pk__in=ids).defer("geometry")}
    return [units[i] for i in ids if i in units and units[i].level < current]


def escalate(actor: Actor, signal_id: int, *, to_level: int | None = None, text: str = "") -> Signal:
    """Escalate to a higher level (default: the next one up); the signal becomes that level's to triage."""
    note = _text(text, "text")
    with transaction.atomic():
        signal = _writable(actor, signal_id)
        if signal.status in ENDED:
            raise Conflict(f"signal {signal.pk}: cannot escalate a {signal.status} signal (reopen it first)")
        current = signal.escalation_level or signal.orgunit.level
        target = current - 1 if to_level is None else to_level
        if current <= 1:
            raise Conflict(f"signal {signal.pk}: at the national level already; it cannot be escalated further")
        if not 1 <= target < current:
            raise Invalid(f"to_level: expected a level above {current} (1 = national .. {current - 1})")
        unit = next((u for u in escalation_targets(signal) if u.level == target), None)
        signal.escalation_level = target
        _save(signal, ["escalation_level"])
        _event(
            signal,
            actor,
            "escalate",
            text=note,
            data={"from_level": current, "to_level": target, "to_orgunit": unit.code if unit else None},
        )
        audit.record(
            actor,
            "signals.signal.escalate",
            object_type="signals.signal",
            object_id=signal.pk,
            detail={"from_level": current, "to_level": target},
            permission=WRITE,
        )
        notify_changed(signal.pk, "escalate", actor.username)
    return signal


def assess_ihr(actor: Actor, signal_id: int, answers: Mapping[str, object]) -> IHRAssessment:
    """Store a completed IHR (2005) Annex 2 assessment with the signal and on its timeline."""
    decision = ihr_logic.decide(answers)
    if not decision.complete:
        raise Invalid(f"answers.{decision.next_step}: the assessment is not complete (next step: {decision.next_step})")
    with transaction.atomic():
        signal = _writable(actor, signal_id)
        if signal.status not in IHR_FROM:
            raise Conflict(
                f"signal {signal.pk}: cannot assess a {signal.status} signal under the IHR (reopen it first)"
            )
        assessment = IHRAssessment.objects.create(
            signal=signal,
            actor_username=actor.username[:150],
            answers=decision.answers,
            notify_who=bool(decision.notify),
            reasoning=decision.reasoning,
        )
        _save(signal, [])
        _event(
            signal,
            actor,
            "ihr",
            text=decision.reasoning,
            data={"assessment": assessment.pk, "notify_who": bool(decision.notify), "answers": decision.answers},
        )
        audit.record(
            actor,
            "signals.signal.ihr",
            object_type="signals.signal",
            object_id=signal.pk,
            detail={"assessment": assessment.pk, "notify_who": bool(decision.notify)},
            permission=WRITE,
        )
        notify_changed(signal.pk, "ihr", actor.username)
    return assessment


def can_triage(actor: Actor, signal: Signal) -> tuple[bool, bool]:
    """(may change status/risk/assignment/IHR, may comment) for the page's forms."""
    level = _grant_level(actor, signal) if actor.has(WRITE) else None
    if level is None:
        return False, False
    return signal.escalation_level is None or level <= signal.escalation_level, True
