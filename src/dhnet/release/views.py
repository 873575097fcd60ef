"""Release pages: datasets and their published tables, defining and publishing a dataset, line-list export, and
the public pages (published tables of datasets released to the public, without login).

Small server-rendered pages without JavaScript; forms post and redirect (POST-redirect-GET).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.diseases.models import Disease
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import NotFound, ServiceError
from dhnet.release import services
from dhnet.release.models import Audience, DateBasis, Method, Publication, TimeUnit


def _table_rows(publication: Publication) -> list[dict[str, Any]]:
    rows = [
        {"code": code, "name": name, "cells": publication.grid[i][:-1], "total": publication.grid[i][-1]}
        for i, (code, name) in enumerate(publication.row_labels)
    ]
    totals = publication.grid[-1]
    rows.append({"code": "", "name": "Total", "cells": totals[:-1], "total": totals[-1], "is_total": True})
    return rows


@requires(services.READ)
def home(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    datasets = services.list_datasets(actor)
    context = {
        "datasets": datasets,
        "can_write": actor.has(services.WRITE),
        "can_export": actor.has(services.EXPORT),
    }
    return render(request, "release/home.html", context)


def _spec_from_post(post: Any) -> services.DatasetSpec:
    def integer(name: str, default: int | None) -> int | None:
        raw = post.get(name, "").strip()
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ServiceError(f"{name}: not a whole number: {raw[:20]!r}") from None

    def number(name: str, default: float) -> float:
        raw = post.get(name, "").strip()
        try:
            return float(raw) if raw else default
        except ValueError:
            raise ServiceError(f"{name}: not a number: {raw[:20]!r}") from None

    def date(name: str) -> dt.date:
        raw = post.get(name, "").strip()
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise ServiceError(f"{name}: expected a date YYYY-MM-DD, got {raw[:20]!r}") from None

    level = integer("level", None)
    if level is None:
        raise ServiceError("level: required")
    return services.DatasetSpec(
        slug=post.get("slug", "").strip(),
        title=post.get("title", "").strip(),
        disease=post.get("disease", "").strip(),
        area=post.get("area", "").strip(),
        level=level,
        period_start=date("period_start"),
        period_end=date("period_end"),
        time_unit=post.get("time_unit", TimeUnit.WEEK),
        date_basis=post.get("date_basis", DateBasis.ONSET),
        by_sex=post.get("by_sex") == "on",
        method=post.get("method", Method.SUPPRESSION),
        threshold=integer("threshold", 5) or 0,
        protection=integer("protection", None),
        zeros_sensitive=post.get("zeros_sensitive") == "on",
        epsilon_budget=number("epsilon_budget", 1.0),
        epsilon_per_release=number("epsilon_per_release", 0.5),
        audience=post.get("audience", Audience.PARTNERS),
    )


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    """Define a dataset."""
    actor = request_actor(request)
    error, status = "", 200
    if request.method == "POST":
        try:
            dataset, _ = services.create_dataset(actor, _spec_from_post(request.POST))
        except NotFound as exc:
            error, status = exc.message, 404
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("release:dataset", slug=dataset.slug)
    context = {
        "error": error,
        "posted": request.POST if request.method == "POST" else {},
        "diseases": Disease.objects.filter(active=True).order_by("name"),
        "methods": Method.choices,
        "time_units": TimeUnit.choices,
        "date_bases": DateBasis.choices,
        "audiences": Audience.choices,
    }
    return render(request, "release/create.html", context, status=status)


def _dataset_page(request: HttpRequest, slug: str, *, error: str = "", status: int = 200) -> HttpResponse:
    actor = request_actor(request)
    try:
        item = services.get_dataset(actor, slug)
    except NotFound as exc:
        raise Http404(exc.message) from None
    try:
        publication: Publication | None = services.latest_table(actor, slug)
    except NotFound:
        publication = None
    context = {
        "dataset": item,
        "publication": publication,
        "rows": _table_rows(publication) if publication else [],
        "can_write": actor.has(services.WRITE),
        "ledger": services.budget(actor, slug) if item.method == Method.DP else None,
        "error": error,
        "published": request.GET.get("published", ""),
        "unchanged": request.GET.get("unchanged", ""),
    }
    return render(request, "release/dataset.html", context, status=status)


@requires(services.READ)
def dataset(request: HttpRequest, slug: str) -> HttpResponse:
    """A dataset's definition and its latest published table."""
    return _dataset_page(request, slug)


@requires(services.WRITE)
@require_POST
def publish(request: HttpRequest, slug: str) -> HttpResponse:
    """Publish now; a refusal (budget spent) is shown on the dataset page with its status."""
    try:
        publication, created = services.publish(request_actor(request), slug)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return _dataset_page(request, slug, error=exc.message, status=exc.status)
    flag = "published" if created else "unchanged"
    return redirect(f"{reverse('release:dataset', kwargs={'slug': slug})}?{flag}={publication.version}")


@requires(services.EXPORT)
def linelist(request: HttpRequest) -> HttpResponse:
    """The export form; ``format=csv`` or ``format=json`` downloads the export, otherwise a preview."""
    actor = request_actor(request)
    params = request.GET
    context: dict[str, Any] = {
        "diseases": Disease.objects.filter(active=True).order_by("name"),
        "filters": {k: params.get(k, "") for k in ("disease", "area", "k", "purpose", "date_from", "date_to")},
        "purposes": ("surveillance", "research", "secondary", "care"),
    }
    if not params.get("disease"):
        return render(request, "release/linelist.html", context)
    try:
        query = services.LineListQuery(
            disease=params["disease"],
            area=params.get("area", "").strip(),
            k=int(params.get("k") or 5),
            purpose=params.get("purpose") or "surveillance",
            date_from=dt.date.fromisoformat(params["date_from"]) if params.get("date_from") else None,
            date_to=dt.date.fromisoformat(params["date_to"]) if params.get("date_to") else None,
        )
    except ValueError:
        context["error"] = "k: a whole number; dates: YYYY-MM-DD"
        return render(request, "release/linelist.html", context, status=400)
    try:
        result = services.export_line_list(actor, query)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        context["error"] = exc.message
        return render(request, "release/linelist.html", context, status=exc.status)
    name = f"linelist-{result.metadata['disease']}-{result.metadata['area']}-{result.export_id[:8]}"
    if params.get("format") == "csv":
        response = HttpResponse(result.csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    if params.get("format") == "json":
        response = HttpResponse(json.dumps(result.metadata, indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    preview = [[row.get(c, "") for c in services.CSV_COLUMNS] for row in result.rows[:50]]
    context |= {"result": result, "preview": preview, "columns": services.CSV_COLUMNS}
    return render(request, "release/linelist.html", context)


@public
def public_home(request: HttpRequest) -> HttpResponse:
    """Published tables of the datasets released to the public (protected aggregates only)."""
    return render(request, "release/public_home.html", {"datasets": services.public_datasets()})


@public
def public_dataset(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        item, publication = services.public_table(slug)
    except NotFound as exc:
        raise Http404(exc.message) from None
    context = {"dataset": item, "publication": publication, "rows": _table_rows(publication), "public": True}
    return render(request, "release/dataset.html", context)
