"""URLs of ``/fhir/``: the ninja API, ``POST /fhir`` without the slash, and OperationOutcome 404s below /fhir/.

Included from ``dhnet.platform.urls`` at the root (``path("", include("dhnet.fhir.urls"))``) so that both
``/fhir`` (the FHIR base as clients write it) and ``/fhir/...`` resolve here. Every URL callback carries the access
declaration of its operation (each path has one), so that the platform's URL walk sees what it requires.
"""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, include, path, re_path

from dhnet.fhir.api import FHIR_JSON, fhir_api, operations, outcome_response
from dhnet.fhir.outcome import Issue
from dhnet.platform.access import access_of, public


def _declared(pattern: URLPattern) -> URLPattern:
    """Copy the declaration of the operation(s) behind a ninja URL onto its callback; FHIR 405s."""
    route = "/fhir/" + str(pattern.pattern).strip("/")
    route = route.rstrip("/").replace("<", "{").replace(">", "}")
    accesses = {access_of(view) for _, path_, view in operations() if path_.rstrip("/") == route.rstrip("/")}
    callback = pattern.callback

    @functools.wraps(callback)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = callback(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(FHIR_JSON):
            allowed = response.get("Allow", "")
            return outcome_response(
                405,
                [Issue("not-supported", f"method {request.method} not allowed here (allowed: {allowed})")],
                {"Allow": allowed},
            )
        return response

    if len(accesses) == 1 and None not in accesses:
        view.dhnet_access = accesses.pop()  # type: ignore[attr-defined]
    elif access_of(callback) is not None:
        view.dhnet_access = access_of(callback)  # type: ignore[attr-defined]
    return URLPattern(pattern.pattern, view, pattern.default_args, pattern.name)


@public
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return outcome_response(404, [Issue("not-found", f"no FHIR endpoint at {request.path}")])


_patterns, _app, _namespace = fhir_api.urls
# ninja's "api-root" is kept for reversing (the OpenAPI document needs it); "base" answers that path first.
_fhir = [
    _declared(p) if p.name != "api-root" else URLPattern(p.pattern, not_found, p.default_args, p.name)
    for p in _patterns
    if isinstance(p, URLPattern)
]
_base = next(p for p in _fhir if p.name == "base")

urlpatterns = [
    path("fhir", _base.callback, name="fhir-base"),
    path("fhir/", include((_fhir, _app), namespace=_namespace)),
    re_path(r"^fhir/(?P<rest>.*)$", not_found, name="fhir-not-found"),
]
