"""Identity pages: re-identification (a form with the purpose; the identity shown once, never cached) and the
review queue of probable person matches (link or keep apart). Server-rendered, no JavaScript."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from dhnet.identity import services
from dhnet.identity.access import requires_audited
from dhnet.identity.models import MatchCandidate
from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import NotFound, ServiceError


@never_cache
@requires_audited(services.READ, "identity.person.reidentify_denied")
@require_http_methods(["GET", "POST"])
def reidentify(request: HttpRequest) -> HttpResponse:
    """GET: the form (``?pseudonym=`` pre-fills it); POST: the identity, if the service allows it."""
    values = {
        "pseudonym": (request.POST.get("pseudonym") or request.GET.get("pseudonym") or "").strip()[:64],
        "purpose": request.POST.get("purpose", ""),
    }
    context: dict[str, object] = {"purposes": services.PURPOSES.items(), "values": values}
    status = 200
    if request.method == "POST":
        try:
            context["identity"] = services.reidentify(
                request_actor(request), values["pseudonym"], purpose=values["purpose"]
            )
        except ServiceError as exc:
            context["error"], status = exc.message, exc.status
    return render(request, "identity/reidentify.html", context, status=status)


@requires(services.MATCH)
def reviews(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    if status not in MatchCandidate.Status.values:
        status = "open"
    total, items = services.list_reviews(request_actor(request), status=status, limit=services.MAX_PAGE)
    context = {"total": total, "items": items, "status": status, "statuses": MatchCandidate.Status.choices}
    return render(request, "identity/reviews.html", context)


@never_cache
@requires(services.MATCH)
@require_http_methods(["GET", "POST"])
def review(request: HttpRequest, review_id: int) -> HttpResponse:
    actor = request_actor(request)
    error, status = "", 200
    if request.method == "POST":
        try:
            services.decide_review(actor, review_id, request.POST.get("decision", ""))
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect(reverse("identity:reviews"))
    try:
        item = services.get_review(actor, review_id)
    except NotFound as exc:
        raise Http404(exc.message) from None
    return render(request, "identity/review.html", {"item": item, "error": error}, status=status)
