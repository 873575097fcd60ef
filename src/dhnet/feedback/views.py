"""Pages of the feedback context: a deployment's feedback (aggregate chart, ratings, the rate form, invitations),
redeeming a code, the moderation queue, and expert reviews (always on pages and sections of their own).

Thin: parse the request, call one service, render. A refused form is shown again with the service's message and
its status (400, 403, 404, 409).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.feedback import charts, services
from dhnet.feedback.models import DIMENSIONS, Audience, FeedbackSettings
from dhnet.platform.access import Actor, public, request_actor, requires
from dhnet.platform.errors import Forbidden, NotFound, ServiceError

LABELS = [(code, label) for code, label, _ in DIMENSIONS]


def _found(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The service's result; its NotFound as a 404 page and its Forbidden as a 403 page."""
    try:
        return call(*args, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None


def _project_context(actor: Actor, public_id: str) -> dict[str, Any]:
    project = _found(services.published_project, public_id)
    summary = services.summary(project)
    chart = ""
    if summary.means is not None:
        chart = charts.means_svg(
            summary.means,
            LABELS,
            title=f"Mean user rating per dimension ({summary.count} ratings)",
            svg_id="means-chart",
        )
    status = services.rater_status(actor, project)
    mine = services.my_rating(actor, public_id) if actor.is_authenticated else None
    return {
        "project": project,
        "summary": summary,
        "chart": mark_safe(chart),  # built by charts.means_svg: every text in it escaped
        "rows": [(label, (summary.means or {}).get(code)) for code, label in LABELS],
        "dimensions": DIMENSIONS,
        "ratings": list(services.visible_ratings(project)[:200]),
        "status": status,
        "mine": mine,
        "values": mine.scores() | {"audience": mine.audience, "text": mine.text} if mine else {},
        "audiences": [(a, Audience(a).label) for a in status.audiences],
        "can_invite": services.may_invite(actor, project),
        "can_moderate": actor.has(services.MODERATE),
        "can_review": actor.has(services.REVIEW),
        "reviews": services.review_summary(project),
        "scale": range(1, 6),
    }


@public
def home(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    context = {
        "deployments": services.rated_deployments(),
        "minimum": services.min_ratings(),
        "can_moderate": actor.has(services.MODERATE),
        "can_review": actor.has(services.REVIEW),
    }
    return render(request, "feedback/home.html", context)


@public
def project_feedback(request: HttpRequest, public_id: str) -> HttpResponse:
    return render(request, "feedback/project.html", _project_context(request_actor(request), public_id))


def _rating_form(post: Any) -> dict[str, Any]:
    data: dict[str, Any] = {name: post.get(name, "") for name, _, _ in DIMENSIONS}
    data["text"] = post.get("text", "")
    if post.get("audience"):
        data["audience"] = post.get("audience")
    return data


@requires(services.WRITE)
@require_POST
def rate(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    data = _rating_form(request.POST)
    try:
        services.rate(actor, public_id, data)
    except ServiceError as exc:
        context = _project_context(actor, public_id)
        context.update({"error": exc.message, "values": data})
        return render(request, "feedback/project.html", context, status=exc.status)
    return redirect("feedback:project", public_id=public_id)


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def redeem(request: HttpRequest) -> HttpResponse:
    error, status = "", 200
    code = request.POST.get("code", "")[:64] if request.method == "POST" else ""
    if request.method == "POST":
        try:
            verification, _ = services.redeem(request_actor(request), code)
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("feedback:project", public_id=verification.project.public_id)
    return render(request, "feedback/redeem.html", {"error": error, "code": code}, status=status)


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def invitations(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    project = _found(services.published_project, public_id)
    error, status, issued = "", 200, None
    values: dict[str, Any] = {"audience": "health_worker", "max_uses": 20, "expires_in_days": 30}
    if request.method == "POST":
        values = {
            "label": request.POST.get("label", ""),
            "audience": request.POST.get("audience", ""),
            "max_uses": request.POST.get("max_uses", ""),
            "expires_in_days": request.POST.get("expires_in_days", ""),
        }
        try:
            issued = services.issue_invitation(actor, public_id, values)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ServiceError as exc:
            error, status = exc.message, exc.status
    listed = _found(services.invitations, actor, public_id)
    context = {
        "project": project,
        "invitations": listed,
        "issued": issued,
        "error": error,
        "values": values,
        "audiences": Audience.choices,
        "allow_patients": services.allows_patients(project),
    }
    return render(request, "feedback/invitations.html", context, status=status)


@requires(services.WRITE)
@require_POST
def revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _found(services.revoke_invitation, request_actor(request), invitation_id)
    return redirect("feedback:invitations", public_id=invitation.project.public_id)


@requires(services.WRITE)
@require_POST
def feedback_settings(request: HttpRequest, public_id: str) -> HttpResponse:
    allow = request.POST.get("allow_patients") in ("1", "on", "true")
    current: FeedbackSettings = _found(services.set_allow_patients, request_actor(request), public_id, allow)
    return redirect("feedback:invitations", public_id=current.project.public_id)


@requires(services.WRITE)
@require_POST
def flag(request: HttpRequest, rating_id: int) -> HttpResponse:
    actor = request_actor(request)
    try:
        item, _ = services.flag(actor, rating_id, request.POST.get("reason", ""))
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        back = request.POST.get("back", "")
        back = back if back.startswith("/feedback/") else "/feedback/"
        return render(request, "feedback/error.html", {"message": exc.message, "back": back}, status=exc.status)
    public_id = item.rating.project.public_id
    return redirect(f"/feedback/projects/{public_id}/?flagged={item.rating_id}#rating-{item.rating_id}")


@requires(services.MODERATE)
def moderation(request: HttpRequest) -> HttpResponse:
    queue = services.moderation_queue(request_actor(request))
    return render(request, "feedback/moderation.html", {"queue": queue, "dimensions": DIMENSIONS})


@requires(services.MODERATE)
@require_POST
def moderate(request: HttpRequest, rating_id: int) -> HttpResponse:
    try:
        services.moderate(
            request_actor(request), rating_id, request.POST.get("action", ""), request.POST.get("reason", "")
        )
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return render(
            request, "feedback/error.html", {"message": exc.message, "back": "/feedback/moderation/"}, status=exc.status
        )
    return redirect("feedback:moderation")


# --- expert reviews -------------------------------------------------------------------------------------------------


@public
def reviews(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    project = request.GET.get("project", "")[:16]
    product = request.GET.get("product", "")[:80]
    listed = _found(services.reviews, project=project, product=product)
    context = {
        "reviews": listed,
        "project": project,
        "product": product,
        "rubric": services.rubric(),
        "can_review": actor.has(services.REVIEW),
    }
    return render(request, "feedback/reviews.html", context)


@public
def review(request: HttpRequest, review_id: int) -> HttpResponse:
    item = _found(services.get_review, review_id)
    book = services.rubric()
    rows = [(c, item.scores.get(c.code)) for c in book.criteria]
    return render(request, "feedback/review.html", {"review": item, "rubric": book, "rows": rows})


@requires(services.REVIEW)
@require_http_methods(["GET", "POST"])
def review_new(request: HttpRequest) -> HttpResponse:
    book = services.rubric()
    source = request.POST if request.method == "POST" else request.GET
    subject = {"project": source.get("project", "")[:16], "product": source.get("product", "")[:80]}
    error, status = "", 200
    scores: dict[str, Any] = {}
    comment = ""
    if request.method == "POST":
        scores = {c.code: request.POST.get(f"score_{c.code}", "") for c in book.criteria}
        comment = request.POST.get("comment", "")
        data = {**{k: v for k, v in subject.items() if v}, "scores": scores, "comment": comment}
        try:
            result = services.write_review(request_actor(request), data)
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("feedback:review", review_id=result.review.pk)
    context = {
        "rubric": book,
        "subject": subject,
        "scores": scores,
        "comment": comment,
        "error": error,
        "points": range(5),
    }
    return render(request, "feedback/review_form.html", context, status=status)
