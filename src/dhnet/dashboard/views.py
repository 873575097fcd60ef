"""Dashboard pages: thin views over :mod:`dhnet.dashboard.services`.

Filters are plain GET forms (they work without JavaScript); with htmx (served from ``static/vendor``) a filter
change or a link inside the dashboard fetches only the ``#dash`` fragment (``HX-Request`` header) and swaps it in.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from dhnet.dashboard import services
from dhnet.platform import views as platform_views
from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import ServiceError

TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 409: "Conflict", 429: "Too many requests"}


def _fragment(request: HttpRequest) -> bool:
    """An htmx request for the fragment only (not a history restore, which needs the whole page)."""
    headers = request.headers
    return bool(headers.get("HX-Request") == "true" and headers.get("HX-History-Restore-Request") != "true")


def _respond(request: HttpRequest, page: str, fragment: str, context: dict[str, object]) -> HttpResponse:
    response = render(request, fragment if _fragment(request) else page, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _failed(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    context = {"title": TITLES.get(exc.status, "Error"), "message": exc.message}
    return render(request, "platform/error.html", context, status=exc.status)


def _int(raw: str | None, default: int) -> int:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 7 else default


def _query(request: HttpRequest) -> services.Query:
    g = request.GET
    return services.Query(
        disease=g.get("disease", "").strip()[:64],
        week=g.get("week", "").strip()[:16],
        area=g.get("area", "").strip()[:64],
        unit=g.get("unit", "").strip()[:64],
        measure=g.get("measure", "").strip()[:16],
        weeks=_int(g.get("weeks"), services.DEFAULT_WEEKS),
    )


def _overview(request: HttpRequest) -> HttpResponse:
    try:
        view = services.overview(request_actor(request), _query(request))
    except ServiceError as exc:
        return _failed(request, exc)
    return _respond(request, "dashboard/index.html", "dashboard/_overview.html", {"o": view})


@requires(services.AGGREGATE_READ)
def index_view(request: HttpRequest) -> HttpResponse:
    return _overview(request)


@requires("accounts:profile:read")
def home_view(request: HttpRequest) -> HttpResponse:
    """The home page: the dashboard for those who read surveillance data, the account overview for the others."""
    if request_actor(request).has(services.AGGREGATE_READ):
        return _overview(request)
    return platform_views.home(request)


@requires(services.SIGNAL_READ)
def signals_view(request: HttpRequest) -> HttpResponse:
    g = request.GET
    query = services.SignalQuery(
        disease=g.get("disease", "").strip()[:64],
        status=g.get("status", "open").strip()[:16],
        area=g.get("area", "").strip()[:64],
        week_from=g.get("week_from", "").strip()[:16],
        week_to=g.get("week_to", "").strip()[:16],
        source=g.get("source", "").strip()[:16],
        q=g.get("q", "").strip()[:100],
        page=_int(g.get("page"), 1) or 1,
    )
    try:
        page = services.signal_list(request_actor(request), query)
    except ServiceError as exc:
        return _failed(request, exc)
    return _respond(request, "dashboard/signals.html", "dashboard/_signals.html", {"p": page})


@requires(services.AGGREGATE_READ)
def bulletin_view(request: HttpRequest) -> HttpResponse:
    g = request.GET
    try:
        result = services.bulletin(
            request_actor(request), week=g.get("week", "").strip()[:16], area=g.get("area", "").strip()[:64]
        )
    except ServiceError as exc:
        return _failed(request, exc)
    return render(request, "dashboard/bulletin.html", {"b": result})
