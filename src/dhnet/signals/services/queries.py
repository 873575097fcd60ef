# mypy: warn-return-any=False
"""Reading signals and detection runs (audited), and requesting a detection run."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q

from dhnet.audit import services as audit
from dhnet.diseases.models import Disease
from dhnet.jobs import services as jobs
from dhnet.jobs.models import Job, JobStatus
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import require_in_jurisdiction
from dhnet.platform.access import Actor
from dhnet.platform.errors import Invalid, NotFound
from dhnet.signals.models import (
    Detection,
    DetectionRun,
    IHRAssessment,
    Risk,
    Signal,
    SignalEvent,
    SignalSource,
    SignalStatus,
)
from dhnet.signals.services import MAX_ID, READ, RUN, get_visible, require, visible_signals, workflow
from dhnet.signals.services.detection import MAX_WINDOW

MAX_LIMIT = 200
#: The largest offset of a page (a SQL integer, less a page).
MAX_OFFSET = 2**63 - 1 - 1000


@dataclass(frozen=True)
class SignalQuery:
    statuses: tuple[str, ...] = ()
    disease: str = ""  # code
    orgunit: str = ""  # code: signals in its subtree
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    risk: str = ""
    source: str = ""
    assigned: str = ""  # a username, or "me"
    escalated: bool | None = None
    q: str = ""
    limit: int = 25
    offset: int = 0

    def as_detail(self) -> dict[str, Any]:
        return {
            "status": list(self.statuses),
            "disease": self.disease,
            "orgunit": self.orgunit,
            "from": self.period_from.isoformat() if self.period_from else None,
            "to": self.period_to.isoformat() if self.period_to else None,
            "risk": self.risk,
            "source": self.source,
            "assigned": self.assigned,
            "escalated": self.escalated,
            "q": self.q,
            "offset": self.offset,
        }


def list_signals(actor: Actor, query: SignalQuery) -> tuple[int, list[Signal]]:
    """Signals within the actor's jurisdiction matching ``query``, most recent first: (total, one page).

    Served by the indexes on ``(-last_period, -id)``, ``(status, -last_period)`` and ``(orgunit, -last_period)``.
    """
    require(actor, READ)
    if not 1 <= query.limit <= MAX_LIMIT:
        raise Invalid(f"limit: must be between 1 and {MAX_LIMIT}")
    if not 0 <= query.offset <= MAX_OFFSET:
        raise Invalid(f"offset: must be between 0 and {MAX_OFFSET}")
    for status in query.statuses:
        if status not in SignalStatus.values:
            raise Invalid(f"status: expected one of {', '.join(SignalStatus.values)}, got {status!r}")
    if query.risk and query.risk not in Risk.values:
        raise Invalid(f"risk: expected one of {', '.join(Risk.values)}")
    if query.source and query.source not in SignalSource.values:
        raise Invalid(f"source: expected one of {', '.join(SignalSource.values)}")
    if query.period_from and query.period_to and query.period_from > query.period_to:
        raise Invalid("from: must not be after to")
    qs = visible_signals(actor)
    if query.statuses:
        qs = qs.filter(status__in=query.statuses)
    if query.disease:
        disease = Disease.objects.filter(code=query.disease).first()
        if disease is None:
            raise NotFound(f"disease {query.disease!r} not found")
        qs = qs.filter(disease=disease)
    if query.orgunit:
        unit = OrgUnit.objects.filter(code=query.orgunit).first()
        if unit is None:
            raise NotFound(f"org unit {query.orgunit!r} not found")
        require_in_jurisdiction(actor, READ, unit)
        qs = qs.filter(orgunit=unit) if not unit.children.exists() else qs.filter(orgunit__path__startswith=unit.path)
    if query.period_from:
        qs = qs.filter(last_period__gte=query.period_from)
    if query.period_to:
        qs = qs.filter(first_period__lte=query.period_to)
    if query.risk:
        qs = qs.filter(risk=query.risk)
    if query.source:
        qs = qs.filter(source=query.source)
    if query.assigned:
        if query.assigned == "me":
            qs = qs.filter(assigned_to_id=actor.user_id) if actor.user_id else qs.none()
        else:
            qs = qs.filter(assigned_to__username=query.assigned)
    if query.escalated is not None:
        qs = qs.filter(escalation_level__isnull=not query.escalated)
    if query.q:
        qs = qs.filter(Q(title__icontains=query.q) | Q(hazard__icontains=query.q) | Q(place__icontains=query.q))
    qs = qs.order_by("-last_period", "-id")
    with transaction.atomic():
        total = qs.count()
        page = list(
            qs.select_related("disease", "orgunit", "assigned_to").defer("orgunit__geometry", "description")[
                query.offset : query.offset + query.limit
            ]
        )
        audit.record(
            actor,
            "signals.signal.list",
            object_type="signals.signal",
            detail={**query.as_detail(), "returned": len(page)},
            permission=READ,
        )
    return total, page


@dataclass
class SignalDetail:
    signal: Signal
    timeline: list[SignalEvent]
    assessments: list[IHRAssessment]
    detections: list[Detection]
    actions: list[str] = field(default_factory=list)
    can_triage: bool = False
    can_comment: bool = False
    escalation_targets: list[OrgUnit] = field(default_factory=list)


def get_signal(actor: Actor, signal_id: int, *, curve: int = 16) -> SignalDetail:
    """One signal with its timeline, IHR assessments and the recent detections of its disease and place."""
    require(actor, READ)
    with transaction.atomic():
        signal = get_visible(actor, signal_id)
        timeline = list(signal.timeline.order_by("at", "id"))
        assessments = list(signal.ihr_assessments.order_by("-at", "-id"))
        detections: list[Detection] = []
        if signal.disease_id and signal.source == SignalSource.DETECTION:
            qs = Detection.objects.filter(disease_id=signal.disease_id, orgunit_id=signal.orgunit_id)
            if signal.rule_id:
                qs = qs.filter(rule_id=signal.rule_id)
            detections = list(qs.select_related("rule").order_by("-period_start")[:curve])[::-1]
        audit.record(actor, "signals.signal.read", object_type="signals.signal", object_id=signal.pk, permission=READ)
    triage, comment = workflow.can_triage(actor, signal)
    return SignalDetail(
        signal=signal,
        timeline=timeline,
        assessments=assessments,
        detections=detections,
        actions=workflow.allowed_actions(signal.status) if triage else [],
        can_triage=triage,
        can_comment=comment,
        escalation_targets=workflow.escalation_targets(signal) if triage else [],
    )


# --- detection runs ----------------------------------------------------------------------------------------------


def _redact(actor: Actor, run: DetectionRun) -> DetectionRun:
    """Runs are platform-wide: the reasons a panel was skipped (which may name org units) are for operators of
    detection (``surveillance:run:write``) only."""
    if actor.has(RUN) or not run.summary:
        return run
    run.summary = copy.deepcopy(run.summary)
    run.summary["skipped"] = [{k: v for k, v in s.items() if k != "reason"} for s in run.summary.get("skipped", [])]
    for entry in run.summary.get("diseases", {}).values():
        for rule in entry.get("rules", []):
            if "skipped" in rule:
                rule["skipped"] = "skipped"
            rule.pop("note", None)
    return run


def list_runs(actor: Actor, *, limit: int = 25, offset: int = 0) -> tuple[int, list[DetectionRun]]:
    require(actor, READ)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise Invalid(f"offset: must be between 0 and {MAX_OFFSET}")
    with transaction.atomic():
        qs = DetectionRun.objects.order_by("-created_at", "-id")
        total = qs.count()
        runs = [_redact(actor, r) for r in qs[offset : offset + limit]]
        audit.record(
            actor,
            "signals.run.list",
            object_type="signals.detectionrun",
            detail={"offset": offset, "returned": len(runs)},
            permission=READ,
        )
    return total, runs


def get_run(actor: Actor, run_id: int) -> DetectionRun:
    require(actor, READ)
    if not 0 < run_id <= MAX_ID:
        raise NotFound(f"detection run {run_id} not found")
    with transaction.atomic():
        run = DetectionRun.objects.filter(pk=run_id).first()
        if run is None:
            raise NotFound(f"detection run {run_id} not found")
        audit.record(actor, "signals.run.read", object_type="signals.detectionrun", object_id=run_id, permission=READ)
    return _redact(actor, run)


def pending_runs(actor: Actor) -> list[Job]:
    """Detection jobs queued or running (they have no run row until they start)."""
    require(actor, READ)
    from dhnet.signals.jobs import DETECT

    return list(
        Job.objects.filter(kind=DETECT, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).order_by("run_after", "id")
    )


def request_run(
    actor: Actor,
    *,
    diseases: tuple[str, ...] | None = None,
    full: bool = False,
    window: int = 8,
) -> tuple[Job, bool]:
    """Queue a detection run (coalesces with one queued already); returns ``(job, created)``."""
    require(actor, RUN)
    from dhnet.signals.jobs import DEDUPE_KEY, DETECT

    if not 1 <= window <= MAX_WINDOW:
        raise Invalid(f"window: between 1 and {MAX_WINDOW} periods")
    if diseases:
        found = set(Disease.objects.filter(code__in=diseases).values_list("code", flat=True))
        missing = [c for c in diseases if c not in found]
        if missing:
            raise Invalid(f"diseases: unknown disease {missing[0]!r}")
    payload = {
        "trigger": "manual",
        "diseases": sorted(diseases) if diseases else None,
        "full": full,
        "window": window,
        "requested_by": actor.username,
    }
    with transaction.atomic():
        job, created = jobs.enqueue(DETECT, payload, dedupe_key=DEDUPE_KEY, requested_by=actor.username)
        audit.record(
            actor,
            "signals.run.request",
            object_type="jobs.job",
            object_id=job.pk,
            detail={**payload, "coalesced": not created},
            permission=RUN,
        )
    return job, created
