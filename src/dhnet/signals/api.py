"""``/api/v1/signals``, ``/api/v1/events``, ``/api/v1/detection-runs``: thin handlers over the signals services."""

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dhnet.platform.access import request_actor, requires
from dhnet.signals.schemas import (
    AssignIn,
    CommentIn,
    DetectionOut,
    EscalateIn,
    EventOut,
    EventReportIn,
    IHRIn,
    IHROut,
    RiskIn,
    RunOut,
    RunPage,
    RunRequested,
    RunRequestIn,
    SignalDetailOut,
    SignalOut,
    SignalPage,
    TransitionIn,
)
from dhnet.signals.services import READ, REPORT, RUN, WRITE, queries, reports, workflow

router = Router(tags=["signals"])


class SignalFilter(Schema):
    status: list[str] = Field([], description="one or more statuses")
    disease: str = Field("", max_length=64, description="disease code")
    orgunit: str = Field("", max_length=64, description="org unit code: signals there and below")
    period_from: dt.date | None = Field(None, alias="from", description="signals active on or after this date")
    period_to: dt.date | None = Field(None, alias="to", description="signals active on or before this date")
    risk: str = Field("", max_length=16)
    source: str = Field("", max_length=16, description="detection or event")
    assigned: str = Field("", max_length=150, description="a username, or 'me'")
    escalated: bool | None = None
    q: str = Field("", max_length=100, description="text in the title, hazard or place")
    limit: int = Field(25, ge=1, le=200)
    offset: int = Field(0, ge=0, le=queries.MAX_OFFSET)


def _detail(detail: queries.SignalDetail) -> SignalDetailOut:
    s = detail.signal
    return SignalDetailOut(
        **SignalOut.of(s).model_dump(),
        description=s.description,
        rule=s.rule_id,
        timeline=[EventOut.of(e) for e in detail.timeline],
        ihr_assessments=[IHROut.of(a) for a in detail.assessments],
        detections=[DetectionOut.of(d) for d in detail.detections],
        actions=detail.actions,
    )


@router.get("/signals", response=SignalPage, summary="Signals within my jurisdiction, most recent first")
@requires(READ)
def list_signals(request: HttpRequest, filters: Query[SignalFilter]) -> SignalPage:
    query = queries.SignalQuery(
        statuses=tuple(filters.status),
        disease=filters.disease,
        orgunit=filters.orgunit,
        period_from=filters.period_from,
        period_to=filters.period_to,
        risk=filters.risk,
        source=filters.source,
        assigned=filters.assigned,
        escalated=filters.escalated,
        q=filters.q,
        limit=filters.limit,
        offset=filters.offset,
    )
    total, signals = queries.list_signals(request_actor(request), query)
    return SignalPage(count=total, limit=filters.limit, offset=filters.offset, items=[SignalOut.of(s) for s in signals])


@router.get("/signals/{signal_id}", response=SignalDetailOut, summary="One signal with its timeline")
@requires(READ)
def get_signal(request: HttpRequest, signal_id: int) -> SignalDetailOut:
    return _detail(queries.get_signal(request_actor(request), signal_id))


@router.post("/signals/{signal_id}/transition", response=SignalOut, summary="Verify, discard, monitor, close, ...")
@requires(WRITE)
def transition(request: HttpRequest, signal_id: int, payload: TransitionIn) -> SignalOut:
    return SignalOut.of(workflow.transition(request_actor(request), signal_id, payload.action, text=payload.text))


@router.post("/signals/{signal_id}/risk", response=SignalOut, summary="Record a rapid risk assessment")
@requires(WRITE)
def assess_risk(request: HttpRequest, signal_id: int, payload: RiskIn) -> SignalOut:
    data = workflow.RiskInput(
        hazard=payload.hazard, exposure=payload.exposure, context=payload.context, risk=payload.risk, text=payload.text
    )
    return SignalOut.of(workflow.assess_risk(request_actor(request), signal_id, data))


@router.post("/signals/{signal_id}/assign", response=SignalOut, summary="Assign (or unassign) the signal")
@requires(WRITE)
def assign(request: HttpRequest, signal_id: int, payload: AssignIn) -> SignalOut:
    return SignalOut.of(workflow.assign(request_actor(request), signal_id, payload.username, text=payload.text))


@router.post("/signals/{signal_id}/comments", response={201: EventOut}, summary="Comment on the timeline")
@requires(WRITE)
def comment(request: HttpRequest, signal_id: int, payload: CommentIn) -> Status[EventOut]:
    return Status(201, EventOut.of(workflow.comment(request_actor(request), signal_id, payload.text)))


@router.post("/signals/{signal_id}/escalate", response=SignalOut, summary="Escalate to a higher level")
@requires(WRITE)
def escalate(request: HttpRequest, signal_id: int, payload: EscalateIn) -> SignalOut:
    signal = workflow.escalate(request_actor(request), signal_id, to_level=payload.to_level, text=payload.text)
    return SignalOut.of(signal)


@router.post(
    "/signals/{signal_id}/ihr",
    response={201: IHROut},
    summary="Store an IHR (2005) Annex 2 assessment (400 names the next question while incomplete)",
)
@requires(WRITE)
def assess_ihr(request: HttpRequest, signal_id: int, payload: IHRIn) -> Status[IHROut]:
    assessment = workflow.assess_ihr(request_actor(request), signal_id, dict(payload.answers))
    return Status(201, IHROut.of(assessment))


@router.post(
    "/events",
    response={201: SignalOut, 200: SignalOut},
    summary="Report an event or rumour (event-based surveillance); 200 when the same report exists already",
)
@requires(REPORT)
def report_event(request: HttpRequest, payload: EventReportIn) -> Status[SignalOut]:
    report = reports.EventReport(
        orgunit=payload.orgunit,
        date=payload.date,
        hazard=payload.hazard,
        description=payload.description,
        place=payload.place,
        disease=payload.disease,
    )
    signal, created = reports.report_event(request_actor(request), report)
    return Status(201 if created else 200, SignalOut.of(signal))


class RunFilter(Schema):
    limit: int = Field(25, ge=1, le=200)
    offset: int = Field(0, ge=0, le=queries.MAX_OFFSET)


@router.get("/detection-runs", response=RunPage, summary="Detection runs, newest first, with progress")
@requires(READ)
def list_runs(request: HttpRequest, filters: Query[RunFilter]) -> RunPage:
    total, runs = queries.list_runs(request_actor(request), limit=filters.limit, offset=filters.offset)
    return RunPage(count=total, limit=filters.limit, offset=filters.offset, items=[RunOut.of(r) for r in runs])


@router.get("/detection-runs/{run_id}", response=RunOut, summary="One detection run with its summary")
@requires(READ)
def get_run(request: HttpRequest, run_id: int) -> RunOut:
    return RunOut.of(queries.get_run(request_actor(request), run_id))


@router.post("/detection-runs", response={202: RunRequested}, summary="Queue a detection run (a background job)")
@requires(RUN)
def request_run(request: HttpRequest, payload: RunRequestIn) -> Status[RunRequested]:
    job, created = queries.request_run(
        request_actor(request),
        diseases=tuple(payload.diseases) if payload.diseases else None,
        full=payload.full,
        window=payload.window,
    )
    return Status(202, RunRequested(job=job.pk, status=job.status, coalesced=not created))
