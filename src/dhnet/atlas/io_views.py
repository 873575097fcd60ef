"""Pages to import a registry file (``/atlas/import/``: an upload form, then the report as a table) and to export
the registry (``/atlas/export.<fmt>``: a download of what the visitor may see). Thin: the work is in
:mod:`dhnet.atlas.io`."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from dhnet.atlas import io, services
from dhnet.atlas.io_api import export_response
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import Forbidden, Invalid, ServiceError

FORMAT_LABELS = {
    "json": "JSON (products, projects and their organisations)",
    "csv": "CSV (projects; products by slug)",
    "dha": "WHO Digital Health Atlas project records (JSON)",
}


@requires(services.PROJECT_WRITE)
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    context: dict[str, object] = {
        "formats": FORMAT_LABELS,
        "format": "json",
        "publish": False,
        "may_publish": actor.has(services.REGISTRY_MANAGE) or bool(services.administered_countries(actor)),
        "report": None,
        "error": "",
    }
    status = 200
    if request.method == "POST":
        fmt = request.POST.get("format", "json")
        publish = request.POST.get("publish") == "1"
        context.update(format=fmt, publish=publish)
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise Invalid("file: choose a file to import")
            if upload.size is not None and upload.size > io.MAX_BYTES:
                raise Invalid(f"file: more than {io.MAX_BYTES // (1024 * 1024)} MiB")
            report = io.import_projects(actor, upload.read(), fmt, publish=publish)
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except ServiceError as exc:
            context["error"] = exc.message
            status = exc.status
        else:
            context["report"] = report
            status = 200 if report.ok else 400
    return render(request, "atlas/io/import.html", context, status=status)


@public
def export_file(request: HttpRequest, fmt: str) -> HttpResponse:
    try:
        return export_response(request_actor(request), fmt, request.GET.get("country") or None)
    except Invalid as exc:
        return render(request, "atlas/io/import.html", {"error": exc.message, "formats": FORMAT_LABELS}, status=400)
