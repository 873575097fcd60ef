# mypy: disallow-untyped-decorators=False
"""Pages: staff record and look up consent decisions (``consent:consent:read``/``write``); the public
right-of-access pages where a person proves control of their contact, reads and downloads what is held about them
and who accessed it, and grants or withdraws their own research consent. Thin: parse, call one service, render."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dhnet.consent import access, auditevent, services
from dhnet.consent import models as m
from dhnet.consent.purposes import CONSENT_BASED, PURPOSE_CHOICES, SURVEILLANCE_LEGAL_BASIS
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import ServiceError

PER_PAGE = 50
TICKET_KEY = "dhnet.consent.ticket"
GRANT_KEY = "dhnet.consent.grant"
STAFF_DECISIONS = [(m.GRANT, "Grant"), (m.WITHDRAW, "Withdraw / refuse")]


def _error(
    request: HttpRequest, exc: ServiceError, template: str = "platform/error.html", **context: Any
) -> HttpResponse:
    context.setdefault("title", "Cannot do that")
    return render(request, template, {**context, "message": exc.message, "error": exc.message}, status=exc.status)


def _page(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


# --- staff ----------------------------------------------------------------------------------------------------------


@requires(services.READ)
@require_GET
def decisions_view(request: HttpRequest) -> HttpResponse:
    params = request.GET
    flt = services.DecisionFilter(
        pseudonym=params.get("pseudonym", "").strip().lower()[:64],
        purpose=params.get("purpose", "").strip()[:16],
        decision=params.get("decision", "").strip()[:16],
    )
    page = _page(params.get("page"))
    try:
        total, rows = services.search(request_actor(request), flt, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    except ServiceError as exc:
        return _error(request, exc)
    return render(
        request,
        "consent/decisions.html",
        {
            "rows": rows,
            "total": total,
            "filter": flt,
            "page": page,
            "has_next": page * PER_PAGE < total,
            "purposes": PURPOSE_CHOICES,
            "decisions": m.DECISION_CHOICES,
            "legal_basis": SURVEILLANCE_LEGAL_BASIS,
        },
    )


@requires(services.READ)
@require_GET
def person_view(request: HttpRequest, pseudonym: str) -> HttpResponse:
    actor = request_actor(request)
    try:
        rows = services.history(actor, pseudonym)
    except ServiceError as exc:
        return _error(request, exc)
    current: dict[str, m.ConsentDecision] = {}
    for row in rows:
        current[row.purpose] = row
    return render(
        request,
        "consent/person.html",
        {
            "pseudonym": pseudonym,
            "rows": rows,
            "current": [(value, label, current.get(value)) for value, label in PURPOSE_CHOICES],
            "can_write": actor.has(services.WRITE),
            "purposes": PURPOSE_CHOICES,
            "decisions": STAFF_DECISIONS,
            "legal_basis": SURVEILLANCE_LEGAL_BASIS,
        },
    )


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def record_view(request: HttpRequest) -> HttpResponse:
    context = {"purposes": PURPOSE_CHOICES, "decisions": STAFF_DECISIONS, "legal_basis": SURVEILLANCE_LEGAL_BASIS}
    if request.method == "GET":
        return render(request, "consent/record.html", {**context, "form": request.GET})
    form = request.POST
    pseudonym = form.get("pseudonym", "").strip().lower()[:64]
    try:
        services.record_decision(
            request_actor(request),
            pseudonym,
            form.get("purpose", "")[:16],
            form.get("decision", "")[:16],
            note=form.get("note", "")[:500],
            orgunit_code=form.get("orgunit", "").strip()[:64] or None,
        )
    except ServiceError as exc:
        return _error(request, exc, "consent/record.html", form=form, **context)
    return redirect(reverse("consent:person", args=[pseudonym]))


# --- the person's right of access -----------------------------------------------------------------------------------


def _ip(request: HttpRequest) -> str | None:
    return request_actor(request).ip or request.META.get("REMOTE_ADDR")


@public
@require_http_methods(["GET", "POST"])
def access_start_view(request: HttpRequest) -> HttpResponse:
    """Enter the e-mail address or phone number on record; a code is sent if it belongs to someone."""
    context: dict[str, Any] = {"kinds": m.CONTACT_CHOICES}
    if request.method == "GET":
        return render(request, "consent/access_start.html", context)
    kind = request.POST.get("kind", "")[:8]
    contact = request.POST.get("contact", "")[:320]
    try:
        ticket = access.request_code(kind, contact, ip=_ip(request))
    except ServiceError as exc:
        return _error(request, exc, "consent/access_start.html", kind=kind, **context)
    request.session[TICKET_KEY] = ticket
    request.session.pop(GRANT_KEY, None)
    return redirect(reverse("consent:access-code"))


@public
@require_http_methods(["GET", "POST"])
def access_code_view(request: HttpRequest) -> HttpResponse:
    """Enter the code: the same page whether or not the contact was on record."""
    ticket = request.session.get(TICKET_KEY)
    if not isinstance(ticket, str):
        return redirect(reverse("consent:access"))
    if request.method == "GET":
        return render(request, "consent/access_code.html", {"ttl": int(access.CODE_TTL.total_seconds() // 60)})
    try:
        grant = access.verify_code(ticket, request.POST.get("code", "")[:20], ip=_ip(request))
    except ServiceError as exc:
        return _error(request, exc, "consent/access_code.html", ttl=int(access.CODE_TTL.total_seconds() // 60))
    request.session.cycle_key()
    request.session.pop(TICKET_KEY, None)
    request.session[GRANT_KEY] = grant.as_session()
    return redirect(reverse("consent:access-record"))


def _grant(request: HttpRequest) -> access.AccessGrant | None:
    return access.AccessGrant.from_session(request.session.get(GRANT_KEY))


@public
@require_GET
def access_record_view(request: HttpRequest) -> HttpResponse:
    """The person's page: their consent decisions, the access log, the download and the research consent."""
    grant = _grant(request)
    if grant is None:
        return redirect(reverse("consent:access"))
    current = services.current(grant.pseudonyms)
    return render(
        request,
        "consent/access_record.html",
        {
            "grant": grant,
            "log": [(row, auditevent.reason_of(row)) for row in access.access_log(grant.pseudonyms)],
            "current": [(value, label, current.get(value)) for value, label in PURPOSE_CHOICES],
            "own_purposes": [(value, label) for value, label in PURPOSE_CHOICES if value in CONSENT_BASED],
            "legal_basis": SURVEILLANCE_LEGAL_BASIS,
        },
    )


@public
@require_GET
def access_download_view(request: HttpRequest) -> HttpResponse:
    grant = _grant(request)
    if grant is None:
        return redirect(reverse("consent:access"))
    bundle = access.export(grant, ip=_ip(request), base_url=request.build_absolute_uri("/fhir/"))
    response = HttpResponse(
        json.dumps(bundle, ensure_ascii=False, indent=1), content_type="application/fhir+json; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.fhir.json"'
    response["Cache-Control"] = "no-store"
    return response


@public
@require_POST
def access_consent_view(request: HttpRequest) -> HttpResponse:
    """Grant or withdraw one's own research (or secondary-use) consent."""
    grant = _grant(request)
    if grant is None:
        return redirect(reverse("consent:access"))
    actor = access.person_actor(_ip(request), list(grant.pseudonyms))
    try:
        services.record_own(
            actor, list(grant.pseudonyms), request.POST.get("purpose", "")[:16], request.POST.get("decision", "")[:16]
        )
    except ServiceError as exc:
        return _error(request, exc)
    return redirect(reverse("consent:access-record"))


@public
@require_POST
def access_end_view(request: HttpRequest) -> HttpResponse:
    request.session.pop(GRANT_KEY, None)
    request.session.pop(TICKET_KEY, None)
    return redirect(reverse("consent:access"))
