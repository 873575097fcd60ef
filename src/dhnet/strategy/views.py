"""Pages of the strategy: the framework (objectives, outputs, proposed actions filterable by actor and term), the
monitoring indicators (each with its chart against baseline and target), the progress report per objective, the
export for the report to the World Health Assembly, and the upload of a country's values.

Thin: parse the request, call the services, render. Server-rendered SVG, plain forms, no JavaScript.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_http_methods

from dhnet.maturity import services as maturity
from dhnet.network import services as network
from dhnet.network import timezones
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import Forbidden, NotFound, ServiceError
from dhnet.strategy import charts, services
from dhnet.strategy.models import ActionActor, Term

FORMATS = ("html", "md", "csv", "json")


def _found(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The service's result; its NotFound as a 404 page and its Forbidden as a 403 page."""
    try:
        return call(*args, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None


def _error(request: HttpRequest, exc: ServiceError, back: str) -> HttpResponse:
    return render(request, "strategy/error.html", {"message": exc.message, "back": back}, status=exc.status)


def _default_year() -> int:
    return dt.date.today().year


@public
def framework(request: HttpRequest) -> HttpResponse:
    """The four objectives with their outputs and the proposed actions, filtered by objective, actor and term."""
    query = {k: request.GET.get(k, "")[:20] for k in ("objective", "term")}
    query["actor"] = request.GET.get("actor", "member_states")[:20]  # the Member States' unless asked otherwise
    try:
        found = services.actions(objective=query["objective"] or None, actor=query["actor"] or None, term=query["term"])
    except ServiceError as exc:
        return _error(request, exc, "/strategy/")
    by_objective: dict[int, list[Any]] = {}
    for action in found:
        by_objective.setdefault(action.objective.number, []).append(action)
    groups = []
    for obj in services.objectives():
        if query["objective"] and str(obj.number) != query["objective"]:
            continue
        groups.append((obj, by_objective.get(obj.number, [])))
    context = {
        "groups": groups,
        "query": query,
        "actors": ActionActor.choices,
        "terms": Term.choices,
        "count": len(found),
    }
    return render(request, "strategy/framework.html", context)


@public
def indicator_list(request: HttpRequest) -> HttpResponse:
    """The monitoring indicators by objective, each with its latest aggregate and status."""
    return render(request, "strategy/indicators.html", {"report": services.progress_all()})


@public
def indicator_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One indicator: definition, source sentence, chart of values against baseline and target (global, a WHO
    region or one country), the values by country and year."""
    ind = _found(services.indicator, code)
    region = request.GET.get("region", "")[:20].strip()
    country = request.GET.get("country", "")[:4].strip().upper()
    try:
        if country:
            if country not in timezones.countries():
                raise NotFound(f"country {country!r}: not an ISO 3166-1 alpha-2 code")
            points = services.series(ind, country=country)
        else:
            points = services.series(ind, region=region or None)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return _error(request, exc, request.path)
    target = ind.targets.filter(country=country).first()
    progress = services.indicator_progress(ind, country=country or None)
    chart = charts.indicator_chart(
        [(p.period, p.value) for p in points if p.value is not None],
        title=ind.name + (f", {network.country_name(country)}" if country else f", {region}" if region else ""),
        unit=ind.unit,
        baseline=(target.baseline_year, target.baseline_value) if target else None,
        target=(target.target_year, target.target_value) if target else None,
    )
    periods, table = services.value_table(ind)
    context = {
        "ind": ind,
        "points": points,
        "chart": chart,
        "target": target,
        "progress": progress,
        "bar": charts.progress_bar(progress.percent, progress.status, label=ind.name),
        "status_label": services.STATUS_LABELS[progress.status],
        "periods": periods,
        "table": [(c, network.country_name(c), vals) for c, vals in table],
        "region": region,
        "country": country,
        "regions": network.who_regions(),
        "can_write": request_actor(request).has(services.VALUE_WRITE) and ind.source == services.MANUAL,
        "can_manage": request_actor(request).has(services.INDICATOR_MANAGE),
    }
    return render(request, "strategy/indicator.html", context)


def _year(request: HttpRequest) -> int:
    raw = request.GET.get("year", "")
    if not raw:
        return _default_year()
    try:
        return services.export_year(raw[:10])
    except ServiceError:
        raise Http404(f"year {raw[:10]!r}: not a year {services.MIN_YEAR}-{services.MAX_YEAR}") from None


def _rows(report: list[services.ObjectiveProgress]) -> list[dict[str, Any]]:
    out = []
    for op in report:
        rows = [
            {
                "p": p,
                "label": services.STATUS_LABELS[p.status],
                "bar": charts.progress_bar(p.percent, p.status, label=p.indicator.name),
            }
            for p in op.rows
        ]
        summary = [(services.STATUS_LABELS[status], n) for status, n in op.counts.items() if n]
        out.append({"objective": op.objective, "counts": op.counts, "summary": summary, "rows": rows})
    return out


@public
def progress(request: HttpRequest) -> HttpResponse:
    """The progress report per objective for a year (default: this year): each indicator's baseline, latest value,
    target, % of the way and whether it is on track, with a bar."""
    year = _year(request)
    context = {"year": year, "objectives": _rows(services.progress_all(year=year)), "labels": services.STATUS_LABELS}
    return render(request, "strategy/progress.html", context)


@public
def report(request: HttpRequest) -> HttpResponse:
    """The export for the report to the World Health Assembly: HTML (this page), Markdown, CSV or JSON of a year."""
    year = _year(request)
    fmt = request.GET.get("format", "html")[:8]
    if fmt not in FORMATS:
        raise Http404(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    if fmt == "csv":
        response = HttpResponse(services.export_csv(year), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="strategy-values-{year}.csv"'
        return response
    data = services.export_report(year)
    if fmt == "json":
        response = HttpResponse(json.dumps(data, indent=1, ensure_ascii=False), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="strategy-report-{year}.json"'
        return response
    context = {
        "data": data,
        "year": year,
        "labels": services.STATUS_LABELS,
        "objectives": _rows(services.progress_all(year=year)),
    }
    if fmt == "md":
        text = render_to_string("strategy/report_md.txt", context)  # .txt: shipped as package data
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="strategy-report-{year}.md"'
        return response
    return render(request, "strategy/report.html", context)


@requires(services.VALUE_WRITE)
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """Record a country's values: paste or upload CSV or JSON; all rows or none are stored."""
    actor = request_actor(request)
    context: dict[str, Any] = {
        "indicators": [i for i in services.indicators() if i.source == services.MANUAL],
        "countries": maturity.administered_countries(actor),
        "fmt": "csv",
        "content": "",
    }
    status = 200
    if request.method == "POST":
        fmt = request.POST.get("format", "csv")[:8]
        file = request.FILES.get("file")
        content: Any = file.read(services.MAX_UPLOAD_BYTES + 1) if file else request.POST.get("content", "")
        context.update(fmt=fmt, content=request.POST.get("content", "")[:20_000])
        try:
            context["result"] = services.upload_values(actor, content, fmt)
        except ServiceError as exc:
            context["error"] = exc.message
            status = exc.status
    return render(request, "strategy/upload.html", context, status=status)


@requires(services.INDICATOR_MANAGE)
@require_http_methods(["POST"])
def set_target(request: HttpRequest, code: str) -> HttpResponse:
    """Set a baseline and target from the indicator page's form (global, or a country's); back to the page."""
    data = {
        k: request.POST.get(k, "")[:30]
        for k in ("country", "baseline_value", "baseline_year", "target_value", "target_year")
    }
    try:
        services.set_target(request_actor(request), code, data)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return _error(request, exc, f"/strategy/indicators/{code}/")
    country = data["country"].strip().upper()
    return redirect(f"/strategy/indicators/{code}/" + (f"?country={country}" if country else ""))
