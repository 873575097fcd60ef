"""Reporting pages: the weekly form, CSV upload with preview, completeness, DHIS2 mappings and settings.

Small server-rendered pages without JavaScript (they work on a phone over a slow link); every form posts and then
redirects (POST-redirect-GET).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import resolve, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import Invalid, NotFound, ServiceError
from dhnet.reporting import api, services
from dhnet.reporting.models import Measure
from dhnet.reporting.periods import monday_of, week_label

WRITE = services.WRITE


def _recent_weeks(count: int = 8) -> list[dt.date]:
    this = monday_of(services.today())
    return [this - dt.timedelta(weeks=i) for i in range(count)]


@requires(services.AGGREGATE_READ)
def home(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    context = {
        "can_report": actor.has(WRITE),
        "can_config": actor.has(services.CONFIG_READ),
    }
    return render(request, "reporting/home.html", context)


# --- weekly form ----------------------------------------------------------------------------------------------------


@requires(WRITE)
def form_select(request: HttpRequest) -> HttpResponse:
    """Choose the reporting unit and week (GET ``?orgunit=&week=`` goes to the form)."""
    actor = request_actor(request)
    code = request.GET.get("orgunit", "").strip()
    week = request.GET.get("week", "").strip()
    if code and week:
        return redirect("reporting:form", code=code, week=week)
    units = services.reporting_units(actor)
    weeks = _recent_weeks()
    context = {
        "units": units,
        "weeks": [(week_label(w), w) for w in weeks],
        "default_week": week_label(weeks[1]),
    }
    return render(request, "reporting/form_select.html", context)


@requires(WRITE)
@require_http_methods(["GET", "POST"])
def weekly_form(request: HttpRequest, code: str, week: str) -> HttpResponse:
    actor = request_actor(request)
    errors: list[str] = []
    status = 200
    posted: dict[str, str] = {}
    if request.method == "POST":
        posted = {k: v for k, v in request.POST.items() if k.startswith(("cases_", "deaths_"))}
        try:
            result = services.submit_form(actor, code, week, posted)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except services.BatchRejected as exc:
            errors, status = [str(e) for e in exc.errors], exc.status
        except ServiceError as exc:
            errors, status = [exc.message], exc.status
        else:
            query = urlencode(
                {"saved": 1, "imported": result.imported, "updated": result.updated, "deleted": result.deleted}
            )
            return redirect(f"{reverse('reporting:form', kwargs={'code': code, 'week': week})}?{query}")
    try:
        form = services.weekly_form(actor, code, week)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Invalid as exc:
        return render(request, "platform/error.html", {"title": "Bad request", "message": exc.message}, status=400)
    lines = []
    for line in form.lines:
        cases_key, deaths_key = f"cases_{line.disease.code}", f"deaths_{line.disease.code}"
        lines.append(
            {
                "line": line,
                "cases_name": cases_key,
                "deaths_name": deaths_key,
                "cases": posted.get(cases_key, "" if line.cases is None else str(line.cases)),
                "deaths": posted.get(deaths_key, "" if line.deaths is None else str(line.deaths)),
            }
        )
    previous = form.week - dt.timedelta(weeks=1)
    following = form.week + dt.timedelta(weeks=1)
    context = {
        "form": form,
        "lines": lines,
        "errors": errors,
        "saved": request.GET.get("saved") == "1" and not errors,
        "counts": {k: request.GET.get(k, "0") for k in ("imported", "updated", "deleted")},
        "previous_label": week_label(previous),
        "next_label": week_label(following) if following <= services.today() else "",
    }
    return render(request, "reporting/form.html", context, status=status)


# --- CSV upload -----------------------------------------------------------------------------------------------------


@requires(WRITE)
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    error, status = "", 200
    if request.method == "POST":
        file = request.FILES.get("file")
        if file is None:
            error, status = "file: choose a CSV file", 400
        elif file.size is not None and file.size > services.MAX_UPLOAD_BYTES:
            error, status = "file: too large for the upload page; use `dhnet import counts FILE.csv`", 400
        else:
            try:
                pending = services.stage_upload(request_actor(request), file.name or "", file.read())
            except ServiceError as exc:
                error, status = exc.message, exc.status
            else:
                return redirect("reporting:upload-preview", checksum=pending.checksum)
    context = {"error": error, "columns": services.CSV_COLUMNS}
    return render(request, "reporting/upload.html", context, status=status)


@requires(WRITE)
@require_http_methods(["GET", "POST"])
def upload_preview(request: HttpRequest, checksum: str) -> HttpResponse:
    actor = request_actor(request)
    try:
        pending = services.get_upload(actor, checksum)
    except NotFound as exc:
        raise Http404(exc.message) from None
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            services.confirm_upload(actor, checksum)
        except services.BatchRejected as exc:
            errors, status = [str(e) for e in exc.errors], exc.status
        except ServiceError as exc:
            errors, status = [exc.message], exc.status
        else:
            return redirect("reporting:upload-preview", checksum=checksum)
        pending = services.get_upload(actor, checksum)
    rows, total = services.preview_rows(pending)
    report = pending.report
    context = {
        "pending": pending,
        "report": report,
        "summary": report.get("summary") or {},
        "report_errors": errors or report.get("errors") or [],
        "rows": rows,
        "total": total,
        "stored": bool(report.get("stored")),
    }
    return render(request, "reporting/upload_preview.html", context, status=status)


# --- completeness ---------------------------------------------------------------------------------------------------


@requires(services.AGGREGATE_READ)
def completeness(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    weeks = _recent_weeks(9)
    first = request.GET.get("from", "").strip() or week_label(weeks[-1])
    last = request.GET.get("to", "").strip() or week_label(weeks[1])
    root = request.GET.get("orgunit", "").strip() or None
    depth_raw = request.GET.get("depth", "1")
    depth = int(depth_raw) if depth_raw.isdigit() else 1
    error, status, table = "", 200, None
    try:
        table = services.completeness(actor, first, last, root=root, depth=min(depth, 10))
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        error, status = exc.message, exc.status
    rows = []
    if table is not None:
        for row in table.rows:
            rows.append({"row": row, "cells": list(zip(table.labels, row.weeks, strict=True))})
    context = {
        "table": table,
        "rows": rows,
        "error": error,
        "filters": {"from": first, "to": last, "orgunit": root or "", "depth": depth},
    }
    return render(request, "reporting/completeness.html", context, status=status)


# --- DHIS2 mappings and settings ------------------------------------------------------------------------------------


def _mappings_page(request: HttpRequest, error: str = "", status: int = 200, values: Any = None) -> HttpResponse:
    actor = request_actor(request)
    from dhnet.diseases.models import Disease

    context = {
        "mappings": services.list_mappings(actor),
        "can_write": actor.has(services.CONFIG_WRITE),
        "diseases": Disease.objects.order_by("name").only("code", "name"),
        "measures": Measure.choices,
        "error": error,
        "values": values or {},
    }
    return render(request, "reporting/mappings.html", context, status=status)


@requires(services.CONFIG_READ)
def mappings(request: HttpRequest) -> HttpResponse:
    return _mappings_page(request)


@requires(services.CONFIG_WRITE)
@require_POST
def mapping_create(request: HttpRequest) -> HttpResponse:
    values = {name: request.POST.get(name, "").strip() for name in services.MAPPING_FIELDS}
    try:
        services.create_mapping(request_actor(request), values)
    except ServiceError as exc:
        return _mappings_page(request, exc.message, exc.status, values)
    return redirect("reporting:mappings")


@requires(services.CONFIG_WRITE)
@require_POST
def mapping_delete(request: HttpRequest, mapping_id: int) -> HttpResponse:
    try:
        services.delete_mapping(request_actor(request), mapping_id)
    except NotFound as exc:
        raise Http404(exc.message) from None
    return redirect("reporting:mappings")


def _settings_page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    actor = request_actor(request)
    row = services.get_settings(actor)
    example = monday_of(services.today())
    context = {
        "settings": row,
        "can_write": actor.has(services.CONFIG_WRITE),
        "error": error,
        "example_week": week_label(example),
        "example_deadline": services.deadline(example, row.deadline_days),
    }
    return render(request, "reporting/settings.html", context, status=status)


@requires(services.CONFIG_READ)
def settings_view(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


@requires(services.CONFIG_WRITE)
@require_POST
def settings_update(request: HttpRequest) -> HttpResponse:
    changes: dict[str, Any] = {}
    days = request.POST.get("deadline_days", "").strip()
    level = request.POST.get("reporting_level", "").strip()
    try:
        if not days.isdigit():
            raise Invalid("deadline_days: expected a whole number of days")
        changes["deadline_days"] = int(days)
        if level and not level.isdigit():
            raise Invalid("reporting_level: expected a level number, or empty")
        changes["reporting_level"] = int(level) if level else None
        services.update_settings(request_actor(request), changes)
    except ServiceError as exc:
        return _settings_page(request, exc.message, exc.status)
    return redirect("reporting:settings")


# --- DHIS2 at its own path ------------------------------------------------------------------------------------------


@functools.cache
def _dhis2_endpoint() -> Any:
    return resolve(reverse("api:dhis2-data-value-sets")).func


@csrf_exempt  # as every API endpoint: token requests carry no cookie; sessions are CSRF-checked by the API auth
@functools.wraps(api.data_value_sets)
def data_value_sets(request: HttpRequest, version: int | None = None) -> HttpResponse:
    """``/api/dataValueSets`` (and ``/api/<version>/dataValueSets``, ``.json``): the same endpoint as
    ``/api/v1/dataValueSets``, at the path DHIS2 clients use."""
    return _dhis2_endpoint()(request)
