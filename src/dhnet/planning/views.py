"""Pages of planning: the countries one may plan for, a country's gap list (SVG bars and table), the targets form,
the roadmap (items, links, milestones, a timeline SVG, progress), an item with its suggestions, CSV/JSON export.

Thin: parse the request, call one service, render. Works without JavaScript (plain forms, server-drawn SVG). Every
page takes ``?rubric=gdhm-current`` (default) or ``gdhm-classic``; forms carry it in a hidden field.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.maturity.models import Indicator
from dhnet.needs.models import Need
from dhnet.network import timezones
from dhnet.planning import charts, services
from dhnet.planning.models import ItemStatus
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import Forbidden, Invalid, NotFound, ServiceError


def _found(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The service's result; its NotFound as a 404 page and its Forbidden as a 403 page."""
    try:
        return call(*args, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None


def _rubric(request: HttpRequest) -> str:
    raw = request.POST.get("rubric") if request.method == "POST" else request.GET.get("rubric")
    return (raw or services.DEFAULT_RUBRIC)[:40]


def _back(country: str, rubric: str, page: str = "roadmap") -> str:
    suffix = "" if rubric == services.DEFAULT_RUBRIC else f"?rubric={rubric}"
    return f"/planning/{country}/{page}{suffix}"


def _error(request: HttpRequest, exc: ServiceError, back: str) -> HttpResponse:
    return render(request, "planning/error.html", {"message": exc.message, "back": back}, status=exc.status)


def _name(country: str) -> str:
    return timezones.countries().get(country, country)


def _timeline(view: services.RoadmapView) -> str:
    rows = [
        charts.TimelineRow(
            label=f"{item.indicator.code} · {m.title}",
            due=m.due_date,
            progress=m.progress,
            done=m.done,
            late=m.late_on(view.today),
        )
        for item in view.items
        for m in item.milestones.all()
    ]
    rows.sort(key=lambda r: (r.due, r.label))
    return charts.timeline(rows, today=view.today, title=f"Milestones of the roadmap of {_name(view.country)}")


@public
def index(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    rubric = _rubric(request)
    try:
        countries = services.visible_countries(actor, rubric)
    except ServiceError as exc:
        return _error(request, exc, "/planning/")
    rows = [(code, _name(code), writable) for code, writable in countries]
    context = {"rows": rows, "rubric": rubric, "can_write": actor.has(services.WRITE)}
    return render(request, "planning/index.html", context)


@public
def country(request: HttpRequest, country: str) -> HttpResponse:
    """The gap list: bars of current vs target phase, the table by priority, the progress summary."""
    actor = request_actor(request)
    rubric = _rubric(request)
    try:
        view = _found(services.roadmap_view, actor, country, rubric)
    except ServiceError as exc:
        return _error(request, exc, "/planning/")
    open_gaps = [g for g in view.gaps if not g.met]
    context = {
        "view": view,
        "rubric": view.rubric.code,
        "country_name": _name(view.country),
        "gap_svg": charts.gap_chart(view.gaps, title=f"Current and target phases of {_name(view.country)}"),
        "open_gaps": open_gaps,
        "items_by_code": {i.indicator.code for i in view.items},
        "can_write": services.may_write(actor, view.country),
    }
    return render(request, "planning/country.html", context)


def _target_rows(post: Any, codes: list[str]) -> list[dict[str, Any]]:
    """Rows of the targets form: one per indicator (an empty phase removes the target)."""
    return [
        {
            "indicator": code,
            "target_phase": post.get(f"phase_{code}", ""),
            "target_year": post.get(f"year_{code}", ""),
            "weight": post.get(f"weight_{code}", ""),
        }
        for code in codes
    ]


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def targets(request: HttpRequest, country: str) -> HttpResponse:
    """The targets form: every indicator with its current phase, a target phase, year and weight; or JSON rows."""
    actor = request_actor(request)
    rubric_code = _rubric(request)
    try:
        code = services.country_code(country)
        rubric = services.rubric_of(rubric_code)
    except ServiceError as exc:
        return _error(request, exc, "/planning/")
    if not services.may_write(actor, code):
        raise PermissionDenied(f"country: you do not administer {code}")
    indicators = list(Indicator.objects.filter(rubric=rubric).order_by("position", "id"))
    error, status = "", 200
    posted: dict[str, Any] = {}
    if request.method == "POST":
        posted = request.POST.dict()
        raw_json = request.POST.get("json", "").strip()
        try:
            if raw_json:
                try:
                    rows = json.loads(raw_json)
                except json.JSONDecodeError as exc:
                    raise Invalid(f"json: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
                if isinstance(rows, dict) and "rows" in rows:
                    rows = rows["rows"]
            else:
                rows = _target_rows(request.POST, [i.code for i in indicators])
            services.set_targets(actor, code, rubric.code, rows)
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect(_back(code, rubric.code, ""))
    current = {t.indicator_id: t for t in services.targets(actor, code, rubric.code)}
    phases, published = services.current_phases(code, rubric.code)
    rows_out = []
    for ind in indicators:
        t = current.get(ind.pk)
        phase = phases.get(ind.code)
        rows_out.append(
            {
                "indicator": ind,
                "sub": ind.parent_id is not None,
                "current": "n/a" if phase == -1 else ("–" if phase is None else phase),
                "phase": posted.get(f"phase_{ind.code}", t.target_phase if t else ""),
                "year": posted.get(f"year_{ind.code}", t.target_year if t else ""),
                "weight": posted.get(f"weight_{ind.code}", t.weight if t else ""),
            }
        )
    context = {
        "country": code,
        "country_name": _name(code),
        "rubric": rubric,
        "rows": rows_out,
        "published": published,
        "error": error,
        "json": request.POST.get("json", "") if request.method == "POST" else "",
    }
    return render(request, "planning/targets.html", context, status=status)


@public
def roadmap(request: HttpRequest, country: str) -> HttpResponse:
    """The roadmap: progress, the timeline of milestones, every item with its links and milestones."""
    actor = request_actor(request)
    rubric = _rubric(request)
    try:
        view = _found(services.roadmap_view, actor, country, rubric)
    except ServiceError as exc:
        return _error(request, exc, "/planning/")
    context = {
        "view": view,
        "rubric": view.rubric.code,
        "country_name": _name(view.country),
        "timeline_svg": _timeline(view),
        "open_gaps": [g for g in view.gaps if not g.met],
        "statuses": ItemStatus.choices,
        "can_write": services.may_write(actor, view.country),
    }
    return render(request, "planning/roadmap.html", context)


@requires(services.WRITE)
@require_POST
def roadmap_settings(request: HttpRequest, country: str) -> HttpResponse:
    rubric = _rubric(request)
    changes = {"title": request.POST.get("title", ""), "shared": request.POST.get("shared", "") == "on"}
    try:
        _found(services.update_roadmap, request_actor(request), country, rubric, changes)
    except ServiceError as exc:
        return _error(request, exc, _back(country, rubric))
    return redirect(_back(country.upper(), rubric))


@requires(services.WRITE)
@require_POST
def item_add(request: HttpRequest, country: str) -> HttpResponse:
    rubric = _rubric(request)
    data = {
        "indicator": request.POST.get("indicator", ""),
        "title": request.POST.get("title", ""),
        "description": request.POST.get("description", ""),
    }
    try:
        item, _ = _found(services.add_item, request_actor(request), country, rubric, data)
    except ServiceError as exc:
        return _error(request, exc, _back(country, rubric))
    return redirect(f"/planning/{item.roadmap.country}/items/{item.pk}/")


@public
def item(request: HttpRequest, country: str, item_id: int) -> HttpResponse:
    """One item: its links (check boxes, suggestions included), its need, its milestones and their forms."""
    actor = request_actor(request)
    found = _found(services.get_item, actor, country, item_id)
    rubric = found.roadmap.rubric.code
    suggestions = services.suggest(found.roadmap.country, rubric, found.indicator.code)
    data = services.item_data(found)
    # What the planner may tick: the suggestions plus whatever is linked already (even if no longer suggested).
    actions = list(dict.fromkeys([*suggestions.actions, *found.actions.all()]))
    projects = [(s.project, s.reach, s.matched) for s in suggestions.projects]
    projects += [
        (p, "linked", 0) for p in found.projects.all() if p.public_id not in {s[0].public_id for s in projects}
    ]
    products = [(s.product, s.matched) for s in suggestions.products]
    products += [(p, 0) for p in found.products.all() if p.slug not in {s[0].slug for s in products}]
    today = timezone.localdate()
    context = {
        "item": found,
        "data": data,
        "rubric": rubric,
        "country": found.roadmap.country,
        "country_name": _name(found.roadmap.country),
        "actions": actions,
        "projects": projects,
        "products": products,
        "concepts": suggestions.concepts,
        "milestones": [(m, m.late_on(today)) for m in found.milestones.all()],
        "statuses": ItemStatus.choices,
        "need": Need.objects.filter(pk=found.need_id).first() if found.need_id else None,
        "can_write": services.may_write(actor, found.roadmap.country),
    }
    return render(request, "planning/item.html", context)


@requires(services.WRITE)
@require_POST
def item_edit(request: HttpRequest, country: str, item_id: int) -> HttpResponse:
    changes = {
        "title": request.POST.get("title", ""),
        "description": request.POST.get("description", ""),
        "status": request.POST.get("status", ""),
        "actions": request.POST.getlist("actions"),
        "projects": request.POST.getlist("projects"),
        "products": request.POST.getlist("products"),
    }
    back = f"/planning/{country}/items/{item_id}/"
    try:
        _found(services.update_item, request_actor(request), country, item_id, changes)
    except ServiceError as exc:
        return _error(request, exc, back)
    return redirect(back)


@requires(services.WRITE)
@require_POST
def item_need(request: HttpRequest, country: str, item_id: int) -> HttpResponse:
    try:
        need, _ = _found(services.open_need, request_actor(request), country, item_id)
    except ServiceError as exc:
        return _error(request, exc, f"/planning/{country}/items/{item_id}/")
    return redirect(f"/needs/{need.public_id}/")


def _milestone_form(post: Any) -> dict[str, Any]:
    return {
        "title": post.get("title", ""),
        "owner_name": post.get("owner_name", ""),
        "owner_user": post.get("owner_user", ""),
        "owner_organisation": post.get("owner_organisation", ""),
        "due_date": post.get("due_date", ""),
        "progress": post.get("progress", ""),
        "done": post.get("done", "") == "on",
        "note": post.get("note", ""),
    }


@requires(services.WRITE)
@require_POST
def milestone_add(request: HttpRequest, country: str, item_id: int) -> HttpResponse:
    back = f"/planning/{country}/items/{item_id}/"
    try:
        _found(services.add_milestone, request_actor(request), country, item_id, _milestone_form(request.POST))
    except ServiceError as exc:
        return _error(request, exc, back)
    return redirect(back)


@requires(services.WRITE)
@require_POST
def milestone_edit(request: HttpRequest, country: str, milestone_id: int) -> HttpResponse:
    """Progress and done from the item page (the other fields only when sent)."""
    changes: dict[str, Any] = {"done": request.POST.get("done", "") == "on"}
    for name in ("progress", "due_date", "title", "owner_name", "note"):
        if name in request.POST:
            changes[name] = request.POST[name]
    try:
        m = _found(services.update_milestone, request_actor(request), country, milestone_id, changes)
    except ServiceError as exc:
        return _error(request, exc, f"/planning/{country}/roadmap")
    return redirect(f"/planning/{country.upper()}/items/{m.item_id}/")


@public
def export_csv(request: HttpRequest, country: str) -> HttpResponse:
    try:
        view = _found(services.roadmap_view, request_actor(request), country, _rubric(request))
    except ServiceError as exc:
        return _error(request, exc, "/planning/")
    response = HttpResponse(services.export_csv(view), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roadmap-{view.country}-{view.rubric.code}.csv"'
    return response


@public
def export_json(request: HttpRequest, country: str) -> HttpResponse:
    try:
        view = _found(services.roadmap_view, request_actor(request), country, _rubric(request))
    except ServiceError as exc:
        return _error(request, exc, "/planning/")
    response = JsonResponse(services.export_data(view), json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = f'attachment; filename="roadmap-{view.country}-{view.rubric.code}.json"'
    return response
