# mypy: disallow-untyped-decorators=False
"""The notifications pages: my subscriptions (create, pause, delete, rotate a webhook secret) and my deliveries."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.notifications import services
from dhnet.notifications.forms import SubscriptionForm
from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import ServiceError

READ = services.READ
WEBHOOK = services.WEBHOOK


def _failed(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    titles = {400: "Bad request", 403: "Forbidden", 404: "Not found", 409: "Conflict", 429: "Too many requests"}
    context = {"title": titles.get(exc.status, "Error"), "message": exc.message}
    return render(request, "platform/error.html", context, status=exc.status)


def _page(
    request: HttpRequest, form: SubscriptionForm, *, error: str = "", secret: str = "", status: int = 200
) -> HttpResponse:
    actor = request_actor(request)
    return render(
        request,
        "notifications/subscriptions.html",
        {
            "form": form,
            "subscriptions": services.list_subscriptions(actor),
            "can_webhook": actor.has(WEBHOOK),
            "error": error,
            "secret": secret,
        },
        status=status,
    )


@requires(READ)
@require_http_methods(["GET", "POST"])
def subscriptions_view(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    units, diseases = services.form_choices(actor)
    form = SubscriptionForm(request.POST or None, units=units, diseases=diseases, webhooks=actor.has(WEBHOOK))
    if request.method != "POST":
        return _page(request, form)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return _page(request, form, error=f"{field}: {' '.join(errors)}", status=400)
    data = form.cleaned_data
    try:
        _, secret = services.create_subscription(
            actor,
            services.SubscriptionInput(
                orgunit=data["orgunit"],
                disease=data["disease"] or "",
                min_severity=data["min_severity"] or "any",
                channel=data["channel"] or "email",
                frequency=data["frequency"] or "immediate",
                webhook_url=data["webhook_url"] or "",
                webhook_secret=data["webhook_secret"] or "",
                max_attempts=data["max_attempts"] or services.DEFAULT_MAX_ATTEMPTS,
            ),
        )
    except ServiceError as exc:
        return _page(request, form, error=exc.message, status=exc.status)
    if secret:  # shown once: render, do not redirect
        empty = SubscriptionForm(units=units, diseases=diseases, webhooks=True)
        return _page(request, empty, secret=secret, status=201)
    return redirect("notifications:subscriptions")


@requires(READ)
@require_POST
def toggle_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    active = request.POST.get("active") == "1"
    try:
        services.update_subscription(actor, pk, services.SubscriptionChange(active=active))
    except ServiceError as exc:
        return _failed(request, exc)
    return redirect("notifications:subscriptions")


@requires(READ)
@require_POST
def delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.delete_subscription(request_actor(request), pk)
    except ServiceError as exc:
        return _failed(request, exc)
    return redirect("notifications:subscriptions")


@requires(WEBHOOK)
@require_POST
def secret_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    try:
        _, secret = services.rotate_secret(actor, pk)
    except ServiceError as exc:
        return _failed(request, exc)
    units, diseases = services.form_choices(actor)
    return _page(request, SubscriptionForm(units=units, diseases=diseases, webhooks=True), secret=secret)


@requires(READ)
def deliveries_view(request: HttpRequest) -> HttpResponse:
    rows = services.list_deliveries(request_actor(request), limit=100)
    return render(request, "notifications/deliveries.html", {"deliveries": rows})
