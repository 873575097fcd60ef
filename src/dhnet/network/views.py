"""Pages of the network of networks: organisations (filters by kind, country, focus area), an organisation with its
contacts, the networks tree, a network with members, join button and the coordinators' approval queue, events with
their agenda in the viewer's time zone. Thin: parse the request, call one service, render.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.network import services, timezones
from dhnet.network.models import EventKind, MemberRole, NetworkKind, OrganisationKind, Visibility
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import Forbidden, NotFound, ServiceError

TZ_COOKIE = "tz"


def _found(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The service's result; its NotFound as a 404 page and its Forbidden as a 403 page."""
    try:
        return call(*args, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None


def _error_page(request: HttpRequest, exc: ServiceError, back: str) -> HttpResponse:
    return render(request, "network/error.html", {"message": exc.message, "back": back}, status=exc.status)


# --- organisations --------------------------------------------------------------------------------------------------


@public
def organisation_list(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    query = services.OrganisationFilter(
        kind=request.GET.get("kind", "")[:40],
        country=request.GET.get("country", "")[:8],
        focus=request.GET.get("focus", "")[:60],
        q=request.GET.get("q", "")[:100],
    )
    error, status = "", 200
    try:
        organisations = services.list_organisations(actor, query)
    except ServiceError as exc:
        organisations, error, status = [], exc.message, exc.status
    context = {
        "organisations": organisations,
        "query": query,
        "error": error,
        "kinds": OrganisationKind.choices,
        "countries": sorted(timezones.countries().items(), key=lambda kv: kv[1]),
        "country_names": timezones.countries(),
        "focus_options": services.focus_options(),
        "can_write": actor.has(services.ORG_WRITE),
    }
    return render(request, "network/organisations.html", context, status=status)


@public
def organisation_detail(request: HttpRequest, slug: str) -> HttpResponse:
    detail = _found(services.get_organisation, request_actor(request), slug)
    context = {"d": detail, "org": detail.organisation, "country_names": timezones.countries()}
    return render(request, "network/organisation.html", context)


def _organisation_data(post: Any) -> dict[str, Any]:
    return {
        "slug": post.get("slug", ""),
        "name": post.get("name", ""),
        "kind": post.get("kind", ""),
        "countries": post.get("countries", ""),
        "focus_areas": post.get("focus_areas", ""),
        "website": post.get("website", ""),
        "description": post.get("description", ""),
    }


@requires(services.ORG_WRITE)
@require_http_methods(["GET", "POST"])
def organisation_create(request: HttpRequest) -> HttpResponse:
    values: dict[str, Any] = {"kind": OrganisationKind.OTHER}
    error, status = "", 200
    if request.method == "POST":
        values = _organisation_data(request.POST)
        try:
            org, _ = services.create_organisation(request_actor(request), values)
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("network:organisation", slug=org.slug)
    context = {"values": values, "error": error, "kinds": OrganisationKind.choices}
    return render(request, "network/organisation_form.html", context, status=status)


@requires(services.ORG_WRITE)
@require_http_methods(["GET", "POST"])
def organisation_edit(request: HttpRequest, slug: str) -> HttpResponse:
    org = _found(services.organisation, slug)
    values: dict[str, Any] = {
        "slug": org.slug,
        "name": org.name,
        "kind": org.kind,
        "countries": " ".join(org.countries or []),
        "focus_areas": " ".join(c.tag for c in org.focus_areas.select_related("scheme")),
        "website": org.website,
        "description": org.description,
    }
    error, status = "", 200
    if request.method == "POST":
        values = {**_organisation_data(request.POST), "slug": org.slug}
        changes = {k: v for k, v in values.items() if k != "slug"}
        try:
            services.update_organisation(request_actor(request), org.slug, changes)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("network:organisation", slug=org.slug)
    context = {"values": values, "error": error, "kinds": OrganisationKind.choices, "editing": org}
    return render(request, "network/organisation_form.html", context, status=status)


@requires(services.ORG_WRITE)
@require_POST
def contact_add(request: HttpRequest, slug: str) -> HttpResponse:
    data = {
        "name": request.POST.get("name", ""),
        "role_title": request.POST.get("role_title", ""),
        "email": request.POST.get("email", ""),
        "phone": request.POST.get("phone", ""),
        "visible_to_members": request.POST.get("visible_to_members") == "on",
    }
    try:
        services.add_contact(request_actor(request), slug, data)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return _error_page(request, exc, f"/network/organisations/{slug}/")
    return redirect("network:organisation", slug=slug)


# --- networks -------------------------------------------------------------------------------------------------------


@public
def network_tree(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    nodes = services.network_tree(actor)
    context = {"nodes": nodes, "can_write": actor.has(services.NETWORK_WRITE)}
    return render(request, "network/networks.html", context)


@public
def network_detail(request: HttpRequest, slug: str) -> HttpResponse:
    actor = request_actor(request)
    detail = _found(services.get_network, actor, slug)
    context = {
        "d": detail,
        "net": detail.network,
        "roles": MemberRole.choices,
        "signed_in": actor.is_authenticated,
    }
    return render(request, "network/network.html", context)


@requires(services.NETWORK_WRITE)
@require_http_methods(["GET", "POST"])
def network_create(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    values: dict[str, Any] = {"kind": NetworkKind.NETWORK, "visibility": Visibility.PUBLIC}
    error, status = "", 200
    if request.method == "POST":
        values = {
            "slug": request.POST.get("slug", ""),
            "name": request.POST.get("name", ""),
            "kind": request.POST.get("kind", ""),
            "visibility": request.POST.get("visibility", ""),
            "parent": request.POST.get("parent", ""),
            "description": request.POST.get("description", ""),
            "organisations": request.POST.get("organisations", ""),
        }
        try:
            network, _ = services.create_network(actor, values)
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("network:network", slug=network.slug)
    context = {
        "values": values,
        "error": error,
        "kinds": NetworkKind.choices,
        "visibilities": Visibility.choices,
        "parents": services.network_tree(actor),
    }
    return render(request, "network/network_form.html", context, status=status)


@requires(services.JOIN)
@require_POST
def join(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        services.request_to_join(
            request_actor(request), slug, request.POST.get("message", ""), request.POST.get("organisation", "")
        )
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return _error_page(request, exc, f"/network/networks/{slug}/")
    return redirect("network:network", slug=slug)


@requires(services.JOIN)
@require_POST
def decide(request: HttpRequest, slug: str, request_id: int) -> HttpResponse:
    approve = request.POST.get("decision") == "approve"
    try:
        services.decide_request(request_actor(request), request_id, approve, request.POST.get("role", "member"))
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return _error_page(request, exc, f"/network/networks/{slug}/")
    return redirect("network:network", slug=slug)


# --- events ---------------------------------------------------------------------------------------------------------


def _viewer_zone(request: HttpRequest) -> str:
    where = timezones.viewer_zone(request.GET.get("tz"), request.COOKIES.get(TZ_COOKIE))
    return str(where.key)


@public
def event_list(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    zone = timezones.zone(_viewer_zone(request)) or timezones.UTC
    events = services.list_events(actor)
    rows = [(e, e.starts_at.astimezone(zone)) for e in events]
    return render(request, "network/events.html", {"rows": rows, "zone": zone.key})


@public
def event_detail(request: HttpRequest, slug: str) -> HttpResponse:
    detail = _found(services.get_event, request_actor(request), slug, _viewer_zone(request))
    explicit = bool(timezones.zone(request.GET.get("tz")))
    context = {"d": detail, "e": detail.event, "explicit_zone": explicit}
    return render(request, "network/event.html", context)


def _agenda_lines(text: str) -> list[dict[str, str]]:
    """``HH:MM | title | speaker`` lines (speaker optional) into agenda entries, blank lines skipped."""
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        entries.append(
            {"time": parts[0], "title": parts[1] if len(parts) > 1 else "", "speaker": " | ".join(parts[2:])}
        )
    return entries


@requires(services.JOIN)
@require_http_methods(["GET", "POST"])
def event_create(request: HttpRequest, slug: str) -> HttpResponse:
    actor = request_actor(request)
    network = _found(services.network_for_planning, actor, slug)
    values: dict[str, Any] = {"kind": EventKind.ROUNDTABLE, "timezone": _viewer_zone(request)}
    error, status = "", 200
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in services.EVENT_FIELDS if name != "agenda"}
        values["agenda_text"] = request.POST.get("agenda", "")
        data = {k: v for k, v in values.items() if k != "agenda_text"}
        data["agenda"] = _agenda_lines(values["agenda_text"])
        try:
            event, _ = services.create_event(actor, slug, data)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("network:event", slug=event.slug)
    context = {"values": values, "error": error, "kinds": EventKind.choices, "net": network}
    return render(request, "network/event_form.html", context, status=status)


@requires(services.JOIN)
@require_POST
def participate(request: HttpRequest, slug: str) -> HttpResponse:
    attend = request.POST.get("attend", "1") == "1"
    try:
        services.participate(request_actor(request), slug, attend)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return _error_page(request, exc, f"/network/events/{slug}/")
    return redirect("network:event", slug=slug)


@requires(services.JOIN)
@require_POST
def outcome_add(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        services.add_outcome(request_actor(request), slug, request.POST.get("item", ""), request.POST.get("note", ""))
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return _error_page(request, exc, f"/network/events/{slug}/")
    return redirect("network:event", slug=slug)
