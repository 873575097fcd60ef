"""Pages of the assessment workflow under ``/maturity/``: the list, opening one, the fill page (indicator by
indicator, grouped by component, phase definitions next to the radio buttons, evidence, progress), the same fill page
for a focal point through ``/maturity/fill/<token>/``, review comments, the approve/return/publish decisions and the
history of versions and years. Thin: each view parses the form, calls one service and renders or redirects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dhnet.maturity import services
from dhnet.maturity.models import Assessment, Rubric
from dhnet.platform.access import Actor, public, request_actor, requires
from dhnet.platform.errors import Invalid, NotFound, ServiceError

ERROR = "maturity/error.html"


def _run(request: HttpRequest, back: str, call: Callable[[], HttpResponse]) -> HttpResponse:
    """Run ``call``; a 404 stays a 404, any other refusal is a page with the message and the status."""
    try:
        return call()
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return render(request, ERROR, {"message": exc.message, "back": back}, status=exc.status)


def _page(pid: str) -> str:
    return f"/maturity/assessments/{pid}/"


def _answers_from(post: Any, codes: list[str]) -> dict[str, dict[str, Any]]:
    """The answers a fill form sent: ``phase_<code>`` (a radio, absent when none is chosen) and ``note_<code>``."""
    answers: dict[str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {}
        if f"phase_{code}" in post:
            entry["phase"] = post.get(f"phase_{code}")
        if f"note_{code}" in post:
            entry["note"] = post.get(f"note_{code}")
        if entry:
            answers[code] = entry
    return answers


def _codes(assessment: Assessment) -> list[str]:
    return list(assessment.rubric.indicators.order_by("position").values_list("code", flat=True))


def _context(actor: Actor, assessment: Assessment, **extra: Any) -> dict[str, Any]:
    return {
        "a": assessment,
        "form": services.form(assessment),
        "may": services.may(actor, assessment),
        "links": services.links(actor, assessment.public_id) if services.administers(actor, assessment.country) else [],
        "base": _page(assessment.public_id),
        "years": services.other_years(assessment),
        **extra,
    }


# --- list and open --------------------------------------------------------------------------------------------------


@public
def assessment_list(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)

    def show() -> HttpResponse:
        country = request.GET.get("country") or None
        rows = services.list_assessments(actor, country)
        return render(
            request,
            "maturity/list.html",
            {
                "rows": rows,
                "country": country or "",
                "may_open": actor.has(services.WRITE),
                "rubrics": Rubric.objects.order_by("code"),
                "default_rubric": services.DEFAULT_RUBRIC,
            },
        )

    return _run(request, "/maturity/assessments/", show)


@requires(services.WRITE)
@require_POST
def assessment_open(request: HttpRequest) -> HttpResponse:
    def act() -> HttpResponse:
        assessment, _ = services.open_assessment(
            request_actor(request),
            request.POST.get("country", ""),
            request.POST.get("year", ""),
            request.POST.get("rubric") or services.DEFAULT_RUBRIC,
            copy_previous=request.POST.get("copy_previous") == "on",
        )
        return redirect("maturity:assessment", pid=assessment.public_id)

    return _run(request, "/maturity/assessments/", act)


# --- one assessment -------------------------------------------------------------------------------------------------


@public
def assessment_page(request: HttpRequest, pid: str) -> HttpResponse:
    actor = request_actor(request)

    def show() -> HttpResponse:
        try:
            assessment = services.get_assessment(actor, pid)
        except NotFound:
            # Reopened for a correction: the public still sees what was published, on the history page.
            if services.published_history(actor, pid):
                return redirect("maturity:history", pid=pid)
            raise
        return render(request, "maturity/assessment.html", _context(actor, assessment))

    return _run(request, "/maturity/assessments/", show)


@requires(services.WRITE)
@require_POST
def answers_save(request: HttpRequest, pid: str) -> HttpResponse:
    actor = request_actor(request)

    def act() -> HttpResponse:
        assessment = services.get_assessment(actor, pid)
        services.answer(actor, pid, _answers_from(request.POST, _codes(assessment)))
        return redirect(_page(assessment.public_id) + "#answers")

    return _run(request, _page(pid), act)


def _evidence_args(request: HttpRequest) -> dict[str, Any]:
    upload = request.FILES.get("document")
    data = upload.read(services.MAX_DOCUMENT + 1) if upload is not None else None
    return {
        "text": request.POST.get("text", ""),
        "url": request.POST.get("url", ""),
        "data": data,
        "filename": upload.name if upload is not None else "",
    }


@requires(services.WRITE)
@require_POST
def evidence_add(request: HttpRequest, pid: str) -> HttpResponse:
    def act() -> HttpResponse:
        code = request.POST.get("indicator", "")
        services.add_evidence(
            request_actor(request), pid, code, request.POST.get("kind", ""), **_evidence_args(request)
        )
        return redirect(_page(pid) + f"#i-{code}")

    return _run(request, _page(pid), act)


@requires(services.WRITE)
@require_POST
def evidence_remove(request: HttpRequest, pid: str, eid: int) -> HttpResponse:
    def act() -> HttpResponse:
        services.remove_evidence(request_actor(request), pid, eid)
        return redirect(_page(pid) + "#answers")

    return _run(request, _page(pid), act)


@public
def evidence_download(request: HttpRequest, pid: str, eid: int) -> HttpResponse:
    def send() -> HttpResponse:
        content, name, media = services.evidence_document(request_actor(request), pid, eid)
        return _file(content, name, media)

    return _run(request, _page(pid), send)


def _file(content: bytes, name: str, media: str) -> HttpResponse:
    response = HttpResponse(content, content_type=media)
    safe = "".join(ch for ch in name if ch.isalnum() or ch in "._- ")[:120] or "evidence"
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@requires(services.WRITE)
@require_POST
def assessment_submit(request: HttpRequest, pid: str) -> HttpResponse:
    def act() -> HttpResponse:
        services.submit(request_actor(request), pid)
        return redirect("maturity:assessment", pid=pid)

    return _run(request, _page(pid), act)


@requires(services.WRITE)
@require_POST
def assessment_reopen(request: HttpRequest, pid: str) -> HttpResponse:
    def act() -> HttpResponse:
        services.reopen(request_actor(request), pid, request.POST.get("reason", ""))
        return redirect("maturity:assessment", pid=pid)

    return _run(request, _page(pid), act)


@requires(services.APPROVE)
@require_POST
def assessment_decide(request: HttpRequest, pid: str) -> HttpResponse:
    """Approve, return (with a reason) or publish."""
    actor = request_actor(request)
    step = request.POST.get("action", "")
    calls: dict[str, Callable[[], object]] = {
        "approve": lambda: services.approve(actor, pid),
        "return": lambda: services.return_assessment(actor, pid, request.POST.get("reason", "")),
        "publish": lambda: services.publish(actor, pid),
    }

    def act() -> HttpResponse:
        if step not in calls:
            raise Invalid(f"action: {step[:20]!r} is not one of {', '.join(calls)}")
        calls[step]()
        if request.POST.get("next") == "review":
            return redirect("maturity:review")
        return redirect("maturity:assessment", pid=pid)

    return _run(request, _page(pid), act)


@requires(services.REVIEW)
@require_POST
def comment_add(request: HttpRequest, pid: str) -> HttpResponse:
    def act() -> HttpResponse:
        code = request.POST.get("indicator") or None
        services.comment(request_actor(request), pid, request.POST.get("text", ""), code)
        return redirect(_page(pid) + (f"#i-{code}" if code else "#comments"))

    return _run(request, _page(pid), act)


@requires(services.SIGNED_IN)
@require_POST
def comment_resolve(request: HttpRequest, pid: str, cid: int) -> HttpResponse:
    def act() -> HttpResponse:
        services.resolve_comment(request_actor(request), pid, cid)
        return redirect(_page(pid) + "#comments")

    return _run(request, _page(pid), act)


@requires(services.WRITE)
@require_POST
def link_invite(request: HttpRequest, pid: str) -> HttpResponse:
    """Invite a focal point; the page shows the link this once."""
    actor = request_actor(request)

    def act() -> HttpResponse:
        link, token = services.invite(
            actor, pid, request.POST.get("name", ""), request.POST.get("email", ""), request.POST.get("days") or 30
        )
        assessment = services.get_assessment(actor, pid)
        url = request.build_absolute_uri(f"/maturity/fill/{token}/")
        sent, error = services.email_link(actor, link, url) if request.POST.get("send") == "on" else (None, "")
        context = {"a": assessment, "link": link, "url": url, "sent": sent, "error": error}
        return render(request, "maturity/invited.html", context)

    return _run(request, _page(pid), act)


@requires(services.WRITE)
@require_POST
def link_revoke(request: HttpRequest, pid: str, lid: int) -> HttpResponse:
    def act() -> HttpResponse:
        services.revoke(request_actor(request), pid, lid)
        return redirect(_page(pid) + "#links")

    return _run(request, _page(pid), act)


@public
def assessment_history(request: HttpRequest, pid: str) -> HttpResponse:
    def show() -> HttpResponse:
        assessment, rows, years = services.history(request_actor(request), pid)
        return render(request, "maturity/history.html", {"a": assessment, "rows": rows, "years": years})

    return _run(request, "/maturity/assessments/", show)


@requires(services.SIGNED_IN)
def review_queue(request: HttpRequest) -> HttpResponse:
    """Assessments waiting for the signed-in person: to comment on (reviewers) or to decide (approvers)."""
    actor = request_actor(request)
    rows = [a for a in services.list_assessments(actor) if a.status in ("submitted", "approved")]
    return render(request, "maturity/review.html", {"rows": [(a, services.may(actor, a)) for a in rows]})


# --- the focal point's link -----------------------------------------------------------------------------------------


def _focal(request: HttpRequest, token: str) -> services.FocalPoint:
    return services.link_actor(token, request.META.get("REMOTE_ADDR"))


@public
def fill_page(request: HttpRequest, token: str) -> HttpResponse:
    """The fill page for a focal point (no account); read-only once the assessment is submitted."""

    def show() -> HttpResponse:
        focal = _focal(request, token)
        assessment = services.get_assessment(focal.actor, focal.link.assessment.public_id, focal=focal)
        editable = assessment.status in services.EDITABLE
        response = render(
            request,
            "maturity/assessment.html",
            {
                "a": assessment,
                "form": services.form(assessment),
                "may": {"fill": editable},
                "focal": focal.link,
                "base": f"/maturity/fill/{token}/",
            },
        )
        # The token is in the address: no Referer to the evidence links' sites, no copy in a shared cache.
        # "same-origin", not "no-referrer": with no-referrer Chromium sends `Origin: null` on the page's own form
        # posts, and Django's CSRF check refuses them (the focal point could save nothing).
        response["Referrer-Policy"] = "same-origin"
        response["Cache-Control"] = "no-store, private"
        return response

    return _run(request, "", show)


@public
@require_POST
def fill_answers(request: HttpRequest, token: str) -> HttpResponse:
    def act() -> HttpResponse:
        focal = _focal(request, token)
        assessment = focal.link.assessment
        services.answer(focal.actor, assessment.public_id, _answers_from(request.POST, _codes(assessment)), focal=focal)
        return redirect(f"/maturity/fill/{token}/#answers")

    return _run(request, f"/maturity/fill/{token}/", act)


@public
@require_POST
def fill_evidence(request: HttpRequest, token: str) -> HttpResponse:
    def act() -> HttpResponse:
        focal = _focal(request, token)
        code = request.POST.get("indicator", "")
        services.add_evidence(
            focal.actor,
            focal.link.assessment.public_id,
            code,
            request.POST.get("kind", ""),
            focal=focal,
            **_evidence_args(request),
        )
        return redirect(f"/maturity/fill/{token}/#i-{code}")

    return _run(request, f"/maturity/fill/{token}/", act)


@public
@require_POST
def fill_evidence_remove(request: HttpRequest, token: str, eid: int) -> HttpResponse:
    def act() -> HttpResponse:
        focal = _focal(request, token)
        services.remove_evidence(focal.actor, focal.link.assessment.public_id, eid, focal=focal)
        return redirect(f"/maturity/fill/{token}/#answers")

    return _run(request, f"/maturity/fill/{token}/", act)


@public
def fill_download(request: HttpRequest, token: str, eid: int) -> HttpResponse:
    def send() -> HttpResponse:
        focal = _focal(request, token)
        content, name, media = services.evidence_document(
            focal.actor, focal.link.assessment.public_id, eid, focal=focal
        )
        return _file(content, name, media)

    return _run(request, "", send)
