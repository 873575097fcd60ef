"""The home page and the error pages (JSON under ``/api/``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from dhnet.accounts.roles import Role
from dhnet.platform.access import public, request_actor, requires


@requires("accounts:profile:read")
def home(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    roles = [(Role(g.role).label if g.role in Role.values else g.role, g) for g in actor.grants]
    return render(request, "platform/home.html", {"roles": roles, "permissions": sorted(actor.permissions)})


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": title.lower().replace(" ", "_")}, status=status)
    return render(request, "platform/error.html", {"title": title, "message": message}, status=status)


@public
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "Bad request", "The request could not be understood.")


@public
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "Forbidden", "You do not have access to this page.")


@public
def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Not found", "There is nothing here.")


@public
def api_not_found(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"detail": "Not Found", "code": "not_found"}, status=404)


@public
def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, "Server error", "Something went wrong on our side; it has been logged.")
