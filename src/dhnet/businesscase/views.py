"""Pages of business cases: the list, a new case, the editor (fields, the costs grid of TCO phase x category x
year, the benefits table with assumptions, JSON/CSV upload), the result (NPV, ROI, benefit-cost ratio, payback,
the cash-flow chart, the sensitivity table), the history with differences, copying, CSV and PDF downloads.

Thin: parse the form, call one service, render. Works without JavaScript (plain forms, server-drawn SVG).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.atlas.models import CostPhase
from dhnet.businesscase import charts, exports, services
from dhnet.businesscase.models import BenefitKind, BusinessCase, CostCategory
from dhnet.network import timezones
from dhnet.platform.access import Actor, request_actor, requires
from dhnet.platform.errors import Forbidden, NotFound, ServiceError

READ = "accounts:profile:read"  # every signed-in user; the service decides which cases they see
BLANK_BENEFITS = 3


def _found(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The service's result; its NotFound as a 404 page and its Forbidden as a 403 page."""
    try:
        return call(*args, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None


def _error_page(request: HttpRequest, exc: ServiceError, back: str) -> HttpResponse:
    return render(request, "businesscase/error.html", {"message": exc.message, "back": back}, status=exc.status)


def _countries(actor: Actor) -> list[tuple[str, str]]:
    names = timezones.countries()
    if actor.has(services.REGISTRY_MANAGE):
        return sorted(names.items(), key=lambda kv: kv[1])
    from dhnet.atlas.models import CountryAdmin

    codes = CountryAdmin.objects.filter(user_id=actor.user_id).values_list("country", flat=True)
    return sorted(((c, names.get(c, c)) for c in codes), key=lambda kv: kv[1])


def _rate_from_percent(raw: str) -> str:
    """The form's discount rate in percent ("3.5") as the fraction the service takes ("0.035"); text it cannot
    read is passed on for the service to name."""
    try:
        return str(Decimal(raw.strip()) / 100)
    except (InvalidOperation, ValueError):
        return raw


def _field_form(post: Any) -> dict[str, Any]:
    return {
        "country": post.get("country", ""),
        "title": post.get("title", ""),
        "investment": post.get("investment", ""),
        "roadmap_item": post.get("roadmap_item", "") or None,
        "currency": post.get("currency", "") or "USD",
        "base_year": post.get("base_year", ""),
        "horizon_years": post.get("horizon_years", ""),
        "discount_rate": _rate_from_percent(post.get("discount_rate_percent", "")),
        "shared": post.get("shared", "") == "on",
    }


def _percent(rate: Any) -> str:
    try:
        return f"{(Decimal(rate) * 100).normalize():f}"
    except (InvalidOperation, ValueError, TypeError):
        return ""


@requires(READ)
def case_list(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    country = request.GET.get("country", "")[:8]
    error, status = "", 200
    try:
        cases = services.list_cases(actor, country)
    except ServiceError as exc:
        cases, error, status = [], exc.message, exc.status
    names = timezones.countries()
    context = {
        "cases": [(c, names.get(c.country, c.country)) for c in cases],
        "country": country,
        "error": error,
        "can_write": actor.has(services.WRITE),
    }
    return render(request, "businesscase/list.html", context, status=status)


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def case_create(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    values: dict[str, Any] = {
        "country": request.GET.get("country", "")[:8].upper(),
        "currency": "USD",
        "horizon_years": 5,
        "discount_rate_percent": "5",
    }
    error, status = "", 200
    if request.method == "POST":
        values = _field_form(request.POST) | {"discount_rate_percent": request.POST.get("discount_rate_percent", "")}
        try:
            case, _ = services.create_case(actor, {k: v for k, v in values.items() if k in services.FIELDS})
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("businesscase:edit", public_id=case.public_id)
    context = {"values": values, "error": error, "countries": _countries(actor), "case": None}
    return render(request, "businesscase/form.html", context, status=status)


def _grid_rows(case: BusinessCase, figures: services.Figures) -> list[dict[str, Any]]:
    """The editor's grid: every phase x category, one input per year (the stored amount, else empty)."""
    years = [case.base_year + t for t in range(case.horizon_years)]
    notes = {(c.phase, c.category, c.year): c.note for c in case.costs.all()}
    rows = []
    for phase, phase_label in CostPhase.choices:
        for category, category_label in CostCategory.choices:
            amounts = figures.grid.get((phase, category))
            cells = []
            for t, year in enumerate(years):
                amount = amounts[t] if amounts else None
                value = f"{amount.normalize():f}" if amount else ""
                cells.append({"name": f"cost-{phase}-{category}-{year}", "value": value, "year": year})
            note = "; ".join(f"{y}: {notes[(phase, category, y)]}" for y in years if notes.get((phase, category, y)))
            rows.append({"phase": phase_label, "category": category_label, "cells": cells, "note": note})
    return rows


def _grid_costs(case: BusinessCase, post: Any) -> list[dict[str, Any]]:
    """The cost rows of the submitted grid (empty cells left out; a cell's note kept from the stored line)."""
    notes = {(c.phase, c.category, c.year): c.note for c in case.costs.all()}
    rows = []
    for phase, _ in CostPhase.choices:
        for category, _ in CostCategory.choices:
            for t in range(case.horizon_years):
                year = case.base_year + t
                raw = post.get(f"cost-{phase}-{category}-{year}", "").strip()
                if raw:
                    rows.append(
                        {
                            "phase": phase,
                            "category": category,
                            "year": year,
                            "amount": raw.replace(",", ""),
                            "note": notes.get((phase, category, year), ""),
                        }
                    )
    return rows


def _benefit_rows(post: Any) -> list[dict[str, Any]]:
    """The benefit rows of the submitted table (a row left wholly empty is no row)."""
    rows = []
    count = min(int(post.get("benefit_rows", "0") or 0) if post.get("benefit_rows", "").isdigit() else 0, 2000)
    for i in range(count):
        row = {k: post.get(f"b-{i}-{k}", "").strip() for k in services.BENEFIT_COLUMNS}
        if any(v for k, v in row.items() if k != "kind"):
            rows.append(row)
    return rows


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def case_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    case = _found(services.get_case, actor, public_id, audit=False)
    if not services.may_write(actor, case):
        raise PermissionDenied(f"country: you do not administer {case.country or 'this case'} and did not create it")
    error, status, message = "", 200, ""
    values: dict[str, Any] = services.fields_data(case) | {"discount_rate_percent": _percent(case.discount_rate)}
    if request.method == "POST":
        part = request.POST.get("part", "")
        try:
            if part == "fields":
                values = _field_form(request.POST) | {
                    "discount_rate_percent": request.POST.get("discount_rate_percent", "")
                }
                case, changed = services.update_case(
                    actor, public_id, {k: v for k, v in values.items() if k in services.FIELDS}
                )
            elif part == "costs":
                case, changed = services.set_lines(actor, public_id, costs=_grid_costs(case, request.POST))
            elif part == "benefits":
                case, changed = services.set_lines(actor, public_id, benefits=_benefit_rows(request.POST))
            else:
                return _error_page(request, ServiceError("part: expected fields, costs or benefits"), request.path)
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect(f"{request.path}?saved={'1' if changed else '0'}#{part}")
    if request.GET.get("saved") == "1":
        message = "Saved (a new version)."
    elif request.GET.get("saved") == "0":
        message = "Nothing changed: no new version."
    figures = services.figures(case)
    benefits = services.snapshot(case)["benefits"]
    items = services.roadmap_items(case.country)
    benefits += [
        {"kind": "", "year": "", "quantity": "", "unit": "", "unit_value": "", "assumption": ""}
    ] * BLANK_BENEFITS
    context = {
        "case": case,
        "values": values,
        "error": error,
        "message": message,
        "countries": _countries(actor) or ([(case.country, case.country)] if case.country else []),
        "years": [case.base_year + t for t in range(case.horizon_years)],
        "grid": _grid_rows(case, figures),
        "benefits": benefits,
        "kinds": BenefitKind.choices,
        "phases": CostPhase.choices,
        "categories": CostCategory.choices,
        "result": figures.result,
        "roadmap_items": items,
    }
    return render(request, "businesscase/edit.html", context, status=status)


@requires(services.WRITE)
@require_POST
def case_upload(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    back = f"/business-cases/{public_id}/edit"
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ServiceError("file: choose a JSON or CSV file")
        if upload.size is not None and upload.size > services.MAX_UPLOAD:
            raise ServiceError(f"file: larger than {services.MAX_UPLOAD // (1024 * 1024)} MB")
        content = upload.read(services.MAX_UPLOAD + 1)
        _, changed = _found(
            services.upload_lines, actor, public_id, request.POST.get("kind", ""), content, upload.name or ""
        )
    except ServiceError as exc:
        return _error_page(request, exc, back)
    return redirect(f"{back}?saved={'1' if changed else '0'}")


@requires(services.WRITE)
@require_POST
def case_copy(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    data = {"title": request.POST.get("title", "").strip() or None}
    if "country" in request.POST:
        data["country"] = request.POST.get("country", "")
    try:
        case = _found(services.copy_case, actor, public_id, {k: v for k, v in data.items() if v is not None})
    except ServiceError as exc:
        return _error_page(request, exc, f"/business-cases/{public_id}/")
    return redirect("businesscase:edit", public_id=case.public_id)


def sensitivity_rows(figures: services.Figures) -> list[dict[str, Any]]:
    """The sensitivity table for the page: one block per rate, one row per benefit factor, NPVs per cost factor."""
    s = figures.sensitivity
    blocks = []
    for i, rate in enumerate(s.rates):
        rows = []
        for j, fb in enumerate(s.benefit_factors):
            cells = [{"value": exports.money(v), "negative": v < 0} for v in s.npv[i][j]]
            rows.append({"factor": exports.percent(fb, 0), "cells": cells})
        blocks.append({"rate": exports.percent(rate, 2), "rows": rows, "base": rate == figures.result.rate})
    return blocks


@requires(READ)
def case_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    case = _found(services.get_case, actor, public_id)
    figures = services.figures(case)
    names = timezones.countries()
    context = {
        "case": case,
        "country_name": names.get(case.country, case.country),
        "figures": figures,
        "result": figures.result,
        "npv": exports.money(figures.result.npv),
        "roi": exports.percent(figures.result.roi),
        "bcr": exports.ratio(figures.result.bcr),
        "rate": exports.percent(figures.result.rate, 2),
        "chart": charts.cashflow_svg(figures.result, case.currency),
        "years": [
            {
                "year": y.year,
                "costs": exports.money(y.costs),
                "benefits": exports.money(y.benefits),
                "factor": f"{y.factor.quantize(Decimal('0.0001')):f}",
                "pv_costs": exports.money(y.pv_costs),
                "pv_benefits": exports.money(y.pv_benefits),
                "cumulative": exports.money(y.cumulative_pv_net),
                "negative": y.cumulative_pv_net < 0,
            }
            for y in figures.result.years
        ],
        "totals": {
            "costs": exports.money(figures.result.total_costs),
            "benefits": exports.money(figures.result.total_benefits),
            "pv_costs": exports.money(figures.result.pv_costs),
            "pv_benefits": exports.money(figures.result.pv_benefits),
        },
        "by_phase": [(dict(CostPhase.choices).get(k, k), exports.money(v)) for k, v in figures.by_phase.items()],
        "by_category": [
            (dict(CostCategory.choices).get(k, k), exports.money(v)) for k, v in figures.by_category.items()
        ],
        "sensitivity": sensitivity_rows(figures),
        "cost_factors": [exports.percent(f, 0) for f in figures.sensitivity.cost_factors],
        "benefits": list(case.benefits.order_by("position", "id")),
        "can_write": services.may_write(actor, case),
        "can_copy": actor.has(services.WRITE),
    }
    return render(request, "businesscase/detail.html", context)


@requires(READ)
def case_history(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    case, rows = _found(services.versions, actor, public_id)
    changes, a, b, error, status = None, None, None, "", 200
    if request.GET.get("a") and request.GET.get("b"):
        try:
            a, b = int(request.GET["a"]), int(request.GET["b"])
            _, changes = services.diff(actor, public_id, a, b)
        except ValueError:
            error, status = "a, b: expected version numbers", 400
        except ServiceError as exc:
            error, status = exc.message, exc.status
    elif len(rows) >= 2:
        a, b = rows[1].version, rows[0].version
        _, changes = services.diff(actor, public_id, a, b)
    context = {"case": case, "versions": rows, "changes": changes, "a": a, "b": b, "error": error}
    return render(request, "businesscase/history.html", context, status=status)


@requires(READ)
def export_csv(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    table = request.GET.get("table", "years")[:20]
    if table not in exports.TABLES:
        return _error_page(
            request, ServiceError(f"table: {table!r} is not one of {', '.join(exports.TABLES)}"), "/business-cases/"
        )
    case = _found(services.get_case, actor, public_id)
    response = HttpResponse(
        exports.csv_table(case, services.figures(case), table), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{case.public_id}-{table}.csv"'
    return response


@requires(READ)
def export_pdf(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = request_actor(request)
    case = _found(services.get_case, actor, public_id)
    response = HttpResponse(exports.pdf(case, services.figures(case)), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{case.public_id}.pdf"'
    return response
