"""Pages of the line list (``/cases/``, CSV download) and of one case; thin views over the cases services."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dhnet.cases import services
from dhnet.cases.models import Classification
from dhnet.diseases.models import Disease
from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import NotFound, ServiceError

PER_PAGE = 50


def _filters(request: HttpRequest) -> services.Filters:
    params = {k: request.GET.get(k, "") for k in ("disease", "district", "date_from", "date_to", "classification")}
    page = request.GET.get("page", "1")
    try:
        number = max(1, min(int(page), services.MAX_OFFSET // PER_PAGE))
    except ValueError:
        number = 1
    params["offset"] = str((number - 1) * PER_PAGE)
    params["limit"] = str(PER_PAGE)
    return services.Filters.parse(params)


@requires(services.READ)
@require_GET
def case_list(request: HttpRequest) -> HttpResponse:
    error, status = "", 200
    result = None
    try:
        filters = _filters(request)
        result = services.line_list(request_actor(request), filters)
    except ServiceError as exc:
        error, status, filters = exc.message, exc.status, services.Filters()
    params = request.GET.copy()
    params.pop("page", None)
    total = result.total if result else 0
    page = filters.offset // PER_PAGE + 1
    context = {
        "cases": result.cases if result else [],
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "has_next": page * PER_PAGE < total,
        "query": params.urlencode(),
        "filter": filters,
        "diseases": list(Disease.objects.filter(active=True).values_list("code", "name")),
        "classifications": Classification.choices,
        "error": error,
    }
    return render(request, "cases/list.html", context, status=status)


@requires(services.READ)
@require_GET
def case_export(request: HttpRequest) -> HttpResponse:
    try:
        params = {k: request.GET.get(k, "") for k in ("disease", "district", "date_from", "date_to", "classification")}
        text = services.line_list_csv(request_actor(request), services.Filters.parse(params))
    except ServiceError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="cases.csv"'
    return response


@requires(services.READ)
@require_GET
def case_detail(request: HttpRequest, case_id: str) -> HttpResponse:
    try:
        case = services.get_case(request_actor(request), case_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "cases/detail.html", {"case": case, "labs": list(case.lab_results.all())})
