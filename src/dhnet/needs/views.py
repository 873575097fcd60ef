"""Pages of needs ↔ solutions: the needs by country, recording a need, a need with its ranked matches (each score as
a stacked bar of its parts and a table of every part), decisions and their history, a country's portfolio gaps.
Thin: parse the request, call one service, render. Works without JavaScript (plain forms, server-drawn SVG).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.needs import matching, services
from dhnet.needs.models import Connectivity, Decision, Level, NeedStatus
from dhnet.network import timezones
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import Forbidden, NotFound, ServiceError
from dhnet.taxonomy.services import concepts

#: One colour per part of a score (the stacked bar and its legend), colour-blind-safe (Okabe-Ito, then greys).
PALETTE = {
    "interventions": "#0072B2",
    "standards": "#E69F00",
    "evidence": "#009E73",
    "feedback": "#CC79A7",
    "openness": "#56B4E9",
    "similar_countries": "#D55E00",
    "languages": "#F0E442",
    "connectivity": "#999999",
    "cost": "#555555",
}
BAR_WIDTH = 300


def _found(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The service's result; its NotFound as a 404 page and its Forbidden as a 403 page."""
    try:
        return call(*args, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None


def _error_page(request: HttpRequest, exc: ServiceError, back: str) -> HttpResponse:
    return render(request, "needs/error.html", {"message": exc.message, "back": back}, status=exc.status)


@dataclass(frozen=True)
class Segment:
    name: str
    label: str
    x: float
    width: float
    colour: str
    points: float
    weight: float


def segments(parts: list[matching.Part]) -> list[Segment]:
    """The stacked bar of a score: one rectangle per part, as wide as its points (the whole bar is 100 points)."""
    out, x = [], 0.0
    for part in parts:
        width = round(part.points * BAR_WIDTH, 2)
        points = round(100 * part.points, 1)
        out.append(Segment(part.name, part.label, round(x, 2), width, PALETTE[part.name], points, part.weight))
        x += width
    return out


def weight_bar() -> list[Segment]:
    """The weights drawn like a score whose every part is 1: the legend of the stacked bars."""
    return segments([matching.Part(n, matching.LABELS[n], w, 1.0, w, "") for n, w in matching.weights().items()])


def _countries() -> list[tuple[str, str]]:
    return sorted(timezones.countries().items(), key=lambda kv: kv[1])


@public
def need_list(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    query = services.NeedFilter(
        country=request.GET.get("country", "")[:8],
        status=request.GET.get("status", "")[:20],
        challenge=request.GET.get("challenge", "")[:40],
    )
    error, status = "", 200
    try:
        needs = services.list_needs(actor, query)
    except ServiceError as exc:
        needs, error, status = [], exc.message, exc.status
    by_country: dict[str, list[Any]] = {}
    for need in needs:
        by_country.setdefault(need.country, []).append(need)
    names = timezones.countries()
    context = {
        "groups": [(code, names.get(code, code), items) for code, items in by_country.items()],
        "query": query,
        "error": error,
        "countries": _countries(),
        "statuses": NeedStatus.choices,
        "challenges": concepts("hsc").filter(level=2),
        "can_write": actor.has(services.NEED_WRITE),
    }
    return render(request, "needs/list.html", context, status=status)


def _form_data(post: Any) -> dict[str, Any]:
    return {
        "country": post.get("country", ""),
        "title": post.get("title", ""),
        "description": post.get("description", ""),
        "challenges": post.getlist("challenges"),
        "level": post.get("level", ""),
        "orgunits": post.get("orgunits", ""),
        "places": post.get("places", ""),
        "languages": post.get("languages", ""),
        "connectivity": post.get("connectivity", ""),
        "standards": post.getlist("standards"),
        "budget": post.get("budget", ""),
        "currency": post.get("currency", "") or "USD",
        "public": post.get("public", "") == "on",
    }


@requires(services.NEED_WRITE)
@require_http_methods(["GET", "POST"])
def need_create(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    values: dict[str, Any] = {"level": Level.NATIONAL, "connectivity": Connectivity.MOBILE, "currency": "USD"}
    values["country"] = request.GET.get("country", "")[:8].upper()
    error, status = "", 200
    if request.method == "POST":
        values = _form_data(request.POST)
        try:
            need, _ = services.create_need(actor, values)
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("needs:detail", public_id=need.public_id)
    administered = services.administered_countries(actor)
    names = timezones.countries()
    countries = (
        _countries()
        if administered is None
        else sorted(((c, names.get(c, c)) for c in administered), key=lambda kv: kv[1])
    )
    context = {
        "values": values,
        "error": error,
        "countries": countries,
        "challenges": concepts("hsc").filter(level=2),
        "standards": concepts("standard"),
        "levels": Level.choices,
        "connectivities": Connectivity.choices,
    }
    return render(request, "needs/form.html", context, status=status)


@requires(services.NEED_WRITE)
@require_http_methods(["GET", "POST"])
def need_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    """Change a need (its country stays): the same form as recording one, with its status."""
    actor = request_actor(request)
    need = _found(services.get_need, actor, public_id)
    data = services.need_data(need)
    values: dict[str, Any] = data | {
        "orgunits": " ".join(data["orgunits"]),
        "places": "\n".join(data["places"]),
        "languages": " ".join(data["languages"]),
        "budget": data["budget"] or "",
    }
    error, status = "", 200
    if request.method == "POST":
        values = _form_data(request.POST) | {"country": need.country, "status": request.POST.get("status", "")}
        try:
            _found(services.update_need, actor, need.public_id, {k: v for k, v in values.items() if k != "country"})
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("needs:detail", public_id=need.public_id)
    names = timezones.countries()
    context = {
        "need": need,
        "values": values,
        "error": error,
        "countries": [(need.country, names.get(need.country, need.country))],
        "challenges": concepts("hsc").filter(level=2),
        "standards": concepts("standard"),
        "levels": Level.choices,
        "connectivities": Connectivity.choices,
        "statuses": NeedStatus.choices,
    }
    return render(request, "needs/form.html", context, status=status)


@public
def need_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    need = _found(services.get_need, actor, public_id)
    matches = services.match(actor, need.public_id, limit=20)
    context = {
        "need": need,
        "data": services.need_data(need),
        "country_name": timezones.countries().get(need.country, need.country),
        "rows": [(m, segments(m.parts)) for m in matches],
        "weight_bar": weight_bar(),
        "co_occurrence_min": matching.settings_data()["co_occurrence_min"],
        "history": services.decisions(need),
        "can_decide": services.may_decide(actor, need),
        "can_write": services.may_write(actor, need),
        "decisions": Decision.choices,
        "bar_width": BAR_WIDTH,
    }
    return render(request, "needs/detail.html", context)


@requires(services.DECIDE)
@require_POST
def decide(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    kind, ref = request.POST.get("kind", ""), request.POST.get("ref", "")
    raw_score = request.POST.get("score", "")
    try:
        score = float(raw_score) if raw_score else None
    except ValueError:
        score = None
    try:
        services.decide(
            actor, public_id, kind, ref, request.POST.get("decision", ""), request.POST.get("note", ""), score=score
        )
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except ServiceError as exc:
        return _error_page(request, exc, f"/needs/{public_id}/")
    return redirect(f"/needs/{public_id}/#{kind}-{ref}")


@public
def analytics(request: HttpRequest, country: str) -> HttpResponse:
    try:
        gaps = services.portfolio_gaps(request_actor(request), country)
    except ServiceError as exc:
        return _error_page(request, exc, "/needs/")
    context = {
        "gaps": gaps,
        "country_name": timezones.countries().get(gaps.country, gaps.country),
        "named": [n for n in gaps.neglected if n.needs],
        "others": [n for n in gaps.neglected if not n.needs],
    }
    return render(request, "needs/analytics.html", context)
