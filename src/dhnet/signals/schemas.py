"""API schemas of the signals context."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import Field

from dhnet.signals.models import Detection, DetectionRun, IHRAssessment, Signal, SignalEvent


class SignalOut(Schema):
    id: int
    source: str
    status: str
    disease: str | None
    disease_name: str | None
    orgunit: str
    orgunit_name: str
    orgunit_level: int
    first_period: dt.date
    last_period: dt.date
    title: str
    hazard: str
    place: str
    max_observed: float | None
    max_score: float | None
    risk: str
    escalation_level: int | None
    assigned_to: str | None
    reported_by: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, s: Signal) -> SignalOut:
        return cls(
            id=s.pk,
            source=s.source,
            status=s.status,
            disease=s.disease.code if s.disease else None,
            disease_name=s.disease.name if s.disease else None,
            orgunit=s.orgunit.code,
            orgunit_name=s.orgunit.name,
            orgunit_level=s.orgunit.level,
            first_period=s.first_period,
            last_period=s.last_period,
            title=s.title,
            hazard=s.hazard,
            place=s.place,
            max_observed=s.max_observed,
            max_score=s.max_score,
            risk=s.risk,
            escalation_level=s.escalation_level,
            assigned_to=s.assigned_to.username if s.assigned_to else None,
            reported_by=s.reported_by,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class SignalPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[SignalOut]


class EventOut(Schema):
    id: int
    at: dt.datetime
    actor: str
    kind: str
    from_status: str
    to_status: str
    text: str
    data: dict[str, Any]

    @classmethod
    def of(cls, e: SignalEvent) -> EventOut:
        return cls(
            id=e.pk,
            at=e.at,
            actor=e.actor_username,
            kind=e.kind,
            from_status=e.from_status,
            to_status=e.to_status,
            text=e.text,
            data=e.data,
        )


class IHROut(Schema):
    id: int
    at: dt.datetime
    actor: str
    answers: dict[str, Any]
    notify_who: bool
    reasoning: str

    @classmethod
    def of(cls, a: IHRAssessment) -> IHROut:
        return cls(
            id=a.pk, at=a.at, actor=a.actor_username, answers=a.answers, notify_who=a.notify_who, reasoning=a.reasoning
        )


class DetectionOut(Schema):
    rule: int
    rule_name: str
    period_start: dt.date
    observed: float
    expected: float | None
    upperbound: float | None
    score: float | None
    alarm: bool

    @classmethod
    def of(cls, d: Detection) -> DetectionOut:
        return cls(
            rule=d.rule_id,
            rule_name=d.rule.name,
            period_start=d.period_start,
            observed=d.observed,
            expected=d.expected,
            upperbound=d.upperbound,
            score=d.score,
            alarm=d.alarm,
        )


class SignalDetailOut(SignalOut):
    description: str
    rule: int | None
    timeline: list[EventOut]
    ihr_assessments: list[IHROut]
    detections: list[DetectionOut]
    actions: list[str] = Field(description="status actions the caller may take now")


class TransitionIn(Schema):
    action: str = Field(description="start_verification, verify, discard, monitor, respond, close or reopen")
    text: str = Field("", max_length=10_000)


class RiskIn(Schema):
    hazard: str = Field(max_length=10_000, description="hazard assessment")
    exposure: str = Field(max_length=10_000, description="exposure assessment")
    context: str = Field(max_length=10_000, description="context assessment")
    risk: str = Field(description="overall risk: low, moderate, high or very_high")
    text: str = Field("", max_length=10_000)


class AssignIn(Schema):
    username: str | None = Field(None, max_length=150, description="null or empty: unassign")
    text: str = Field("", max_length=10_000)


class CommentIn(Schema):
    text: str = Field(max_length=10_000)


class EscalateIn(Schema):
    to_level: int | None = Field(None, ge=1, le=100, description="default: the next level up (1 = national)")
    text: str = Field("", max_length=10_000)


class IHRIn(Schema):
    answers: dict[str, str] = Field(
        description="notifiable, assessed, then serious/unusual/spread/restrictions (yes/no); see the guided form"
    )


class EventReportIn(Schema):
    orgunit: str = Field(max_length=64, description="code of the org unit where the event happened")
    date: dt.date
    hazard: str = Field(max_length=255)
    description: str = Field(max_length=10_000)
    place: str = Field("", max_length=255, description="free-text place (village, facility, ...)")
    disease: str = Field("", max_length=64, description="disease code, if known")


class RunOut(Schema):
    id: int
    status: str
    trigger: str
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    progress_done: int
    progress_total: int
    message: str
    job: int | None
    summary: dict[str, Any]

    @classmethod
    def of(cls, r: DetectionRun, *, summary: bool = True) -> RunOut:
        return cls(
            id=r.pk,
            status=r.status,
            trigger=r.trigger,
            requested_by=r.requested_by,
            created_at=r.created_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            progress_done=r.progress_done,
            progress_total=r.progress_total,
            message=r.message,
            job=r.job_id,
            summary=r.summary if summary else {},
        )


class RunPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[RunOut]


class RunRequestIn(Schema):
    diseases: list[str] | None = Field(None, description="disease codes (default: every disease)")
    full: bool = Field(False, description="recompute every period (default: the last `window` periods)")
    window: int = Field(8, ge=1, le=520)


class RunRequested(Schema):
    job: int
    status: str
    coalesced: bool
