# mypy: disallow-untyped-decorators=False
"""Pages of the signals context: the signal queue, a signal with its timeline and triage forms, the IHR (2005)
Annex 2 guided form, event reports, and detection runs. Thin: parse, call one service, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import Forbidden, ServiceError
from dhnet.signals.models import Risk, SignalSource, SignalStatus
from dhnet.signals.services import READ, REPORT, RUN, WRITE, ihr, queries, reports, workflow

PER_PAGE = 25


def _error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return render(
        request, "platform/error.html", {"title": "Cannot do that", "message": exc.message}, status=exc.status
    )


def _date(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _page(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


# --- the queue ----------------------------------------------------------------------------------------------------


def _filter(params: QueryDict) -> queries.SignalQuery:
    statuses = tuple(s for s in params.getlist("status") if s in SignalStatus.values)
    escalated = {"1": True, "0": False}.get(params.get("escalated", ""))
    page = _page(params.get("page"))
    return queries.SignalQuery(
        statuses=statuses,
        disease=params.get("disease", "").strip()[:64],
        orgunit=params.get("orgunit", "").strip()[:64],
        period_from=_date(params.get("from")),
        period_to=_date(params.get("to")),
        risk=params.get("risk", "") if params.get("risk", "") in Risk.values else "",
        source=params.get("source", "") if params.get("source", "") in SignalSource.values else "",
        assigned=params.get("assigned", "").strip()[:150],
        escalated=escalated,
        q=params.get("q", "").strip()[:100],
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )


@requires(READ)
@require_GET
def signal_list(request: HttpRequest) -> HttpResponse:
    query = _filter(request.GET)
    error = ""
    status = 200
    try:
        total, signals = queries.list_signals(request_actor(request), query)
    except ServiceError as exc:
        total, signals, error, status = 0, [], exc.message, exc.status
    params = request.GET.copy()
    params.pop("page", None)
    page = query.offset // PER_PAGE + 1
    context = {
        "signals": signals,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "has_next": page * PER_PAGE < total,
        "query": params.urlencode(),
        "filter": query,
        "escalated": request.GET.get("escalated", ""),
        "statuses": SignalStatus.choices,
        "risks": Risk.choices,
        "sources": SignalSource.choices,
        "diseases": reports.disease_choices(),
        "error": error,
        "can_report": request_actor(request).has(REPORT),
        "can_run": request_actor(request).has(RUN),
    }
    return render(request, "signals/list.html", context, status=status)


# --- one signal ---------------------------------------------------------------------------------------------------


def _render_detail(request: HttpRequest, signal_id: int, *, error: str = "", status: int = 200) -> HttpResponse:
    try:
        detail = queries.get_signal(request_actor(request), signal_id)
    except ServiceError as exc:
        return _error(request, exc)
    return render(
        request,
        "signals/detail.html",
        {
            "d": detail,
            "s": detail.signal,
            "actions": [(a, workflow.ACTION_LABELS[a]) for a in detail.actions],
            "risks": Risk.choices,
            "error": error,
            "done": request.GET.get("done", ""),
            "show_risk": detail.can_triage and detail.signal.status in workflow.RISK_FROM,
        },
        status=status,
    )


@requires(READ)
@require_GET
def signal_detail(request: HttpRequest, signal_id: int) -> HttpResponse:
    return _render_detail(request, signal_id)


def _act(request: HttpRequest, signal_id: int, done: str, action: Any) -> HttpResponse:
    try:
        action()
    except ServiceError as exc:
        if exc.status == 404:
            return _error(request, exc)
        return _render_detail(request, signal_id, error=exc.message, status=exc.status)
    return redirect(f"{reverse('signals:detail', args=[signal_id])}?done={done}")


@requires(WRITE)
@require_POST
def signal_transition(request: HttpRequest, signal_id: int) -> HttpResponse:
    action = request.POST.get("action", "")
    text = request.POST.get("text", "")
    return _act(
        request, signal_id, action, lambda: workflow.transition(request_actor(request), signal_id, action, text=text)
    )


@requires(WRITE)
@require_POST
def signal_risk(request: HttpRequest, signal_id: int) -> HttpResponse:
    data = workflow.RiskInput(
        hazard=request.POST.get("hazard", ""),
        exposure=request.POST.get("exposure", ""),
        context=request.POST.get("context", ""),
        risk=request.POST.get("risk", ""),
        text=request.POST.get("text", ""),
    )
    return _act(request, signal_id, "risk", lambda: workflow.assess_risk(request_actor(request), signal_id, data))


@requires(WRITE)
@require_POST
def signal_assign(request: HttpRequest, signal_id: int) -> HttpResponse:
    username = request.POST.get("username", "").strip()
    return _act(request, signal_id, "assign", lambda: workflow.assign(request_actor(request), signal_id, username))


@requires(WRITE)
@require_POST
def signal_comment(request: HttpRequest, signal_id: int) -> HttpResponse:
    text = request.POST.get("text", "")
    return _act(request, signal_id, "comment", lambda: workflow.comment(request_actor(request), signal_id, text))


@requires(WRITE)
@require_POST
def signal_escalate(request: HttpRequest, signal_id: int) -> HttpResponse:
    raw = request.POST.get("to_level", "")
    level = int(raw) if raw.isdigit() else None
    text = request.POST.get("text", "")
    return _act(
        request,
        signal_id,
        "escalate",
        lambda: workflow.escalate(request_actor(request), signal_id, to_level=level, text=text),
    )


# --- the IHR (2005) Annex 2 guided form -----------------------------------------------------------------------------


@requires(WRITE)
@require_http_methods(["GET", "POST"])
def signal_ihr(request: HttpRequest, signal_id: int) -> HttpResponse:
    """Step by step: every POST carries the answers so far (hidden fields) plus the current step's; the pure
    function :func:`dhnet.signals.services.ihr.decide` says what to ask next, or the outcome. ``save`` stores it."""
    actor = request_actor(request)
    try:
        detail = queries.get_signal(actor, signal_id)
    except ServiceError as exc:
        return _error(request, exc)
    if not detail.can_triage:
        return _error(
            request, Forbidden(f"signal {signal_id}: you may not triage it (it is escalated or outside your area)")
        )
    answers = {step: request.POST[step] for step in ihr.STEPS if request.POST.get(step)}
    error, status = "", 200
    try:
        decision = ihr.decide(answers)
    except ServiceError as exc:
        error, status = exc.message, exc.status
        decision = ihr.decide({})
    if request.method == "POST" and request.POST.get("save") and decision.complete and not error:
        try:
            workflow.assess_ihr(actor, signal_id, decision.answers)
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect(f"{reverse('signals:detail', args=[signal_id])}?done=ihr#ihr")
    if request.method == "GET" and detail.signal.disease:
        hint = ihr.DISEASE_HINTS.get(detail.signal.disease.code)
    else:
        hint = None
    step = decision.next_step
    context = {
        "s": detail.signal,
        "decision": decision,
        "answers": decision.answers,
        "step": step,
        "error": error,
        "hint": hint,
        "notifiable": ihr.ALWAYS_NOTIFIABLE,
        "assessed": ihr.ALWAYS_ASSESSED,
        "question": ihr.question(step) if step else None,
        "asked": [(key, ihr.question(key), value) for key, value in decision.answers.items() if ihr.question(key)],
        "step_number": len(decision.answers) + 1,
    }
    return render(request, "signals/ihr.html", context, status=status)


# --- event reports ------------------------------------------------------------------------------------------------


@requires(REPORT)
@require_http_methods(["GET", "POST"])
def event_report(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    error, status = "", 200
    values = {
        k: request.POST.get(k, "").strip() for k in ("orgunit", "date", "hazard", "description", "place", "disease")
    }
    if request.method == "POST":
        day = _date(values["date"])
        if day is None:
            error, status = "date: enter the date of the event (YYYY-MM-DD)", 400
        else:
            report = reports.EventReport(
                orgunit=values["orgunit"],
                date=day,
                hazard=values["hazard"],
                description=values["description"],
                place=values["place"],
                disease=values["disease"],
            )
            try:
                signal, _ = reports.report_event(actor, report)
            except ServiceError as exc:
                error, status = exc.message, exc.status
            else:
                if reports.can_read(actor, signal):
                    return redirect(f"{reverse('signals:detail', args=[signal.pk])}?done=reported")
                return render(request, "signals/event_thanks.html", {"signal": signal})
    choices = reports.form_choices(actor)
    context = {
        "values": values,
        "error": error,
        "units": choices.units,
        "many_units": choices.more_units,
        "diseases": choices.diseases,
        "today": choices.today.isoformat(),
    }
    return render(request, "signals/event_report.html", context, status=status)


# --- detection runs -----------------------------------------------------------------------------------------------


@requires(READ)
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    page = _page(request.GET.get("page"))
    total, runs = queries.list_runs(actor, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    pending = queries.pending_runs(actor)
    running = any(r.status in ("queued", "running") for r in runs) or bool(pending)
    return render(
        request,
        "signals/runs.html",
        {
            "runs": runs,
            "pending": pending,
            "total": total,
            "page": page,
            "has_next": page * PER_PAGE < total,
            "refresh": running,
            "can_run": actor.has(RUN),
            "queued": request.GET.get("queued", ""),
        },
    )


@requires(READ)
@require_GET
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    try:
        run = queries.get_run(request_actor(request), run_id)
    except ServiceError as exc:
        return _error(request, exc)
    return render(request, "signals/run.html", {"run": run, "refresh": run.status in ("queued", "running")})


@requires(RUN)
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    disease = request.POST.get("disease", "").strip()
    try:
        job, _ = queries.request_run(
            request_actor(request),
            diseases=(disease,) if disease else None,
            full=request.POST.get("full") == "1",
        )
    except ServiceError as exc:
        return _error(request, exc)
    return redirect(f"{reverse('signals:runs')}?queued={job.pk}")
