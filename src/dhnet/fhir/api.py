"""``/fhir/``: a FHIR R4 REST endpoint as a separate ninja API (``application/fhir+json``, errors as OperationOutcome).

Routes follow the resource handlers of :mod:`dhnet.fhir.registry`: ``POST /fhir/<type>`` (create, conditional
create with ``If-None-Exist``), ``GET /fhir/<type>/<id>`` and ``.../_history/<vid>`` (read, vread), ``POST /fhir``
(transaction and batch Bundles), ``GET /fhir/metadata`` (the CapabilityStatement, public). The OpenAPI document is
``/fhir/openapi.json`` (browsable at ``/fhir/docs``). Handlers are thin: read the body, call one service, serialise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from dhnet.accounts.auth import SessionActorAuth, TokenAuth
from dhnet.fhir import services
from dhnet.fhir.outcome import FhirError, Issue, operation_outcome
from dhnet.fhir.registry import HANDLERS, ResourceHandler
from dhnet.fhir.validation import parse_json
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import CONCURRENT_MESSAGE, ServiceError, is_retryable

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
CONTENT_TYPE = f"{FHIR_JSON}; fhirVersion=4.0; charset=utf-8"
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
BUNDLE_WRITE = "surveillance:report:write"

fhir_api = NinjaAPI(
    title="dhnet FHIR R4",
    version="4.0.1",
    description=(
        "FHIR R4 (4.0.1) intake of aggregate surveillance reports as `MeasureReport` (see the CapabilityStatement at "
        "`GET /fhir/metadata`). Bodies and answers are `application/fhir+json`; every error is an "
        "`OperationOutcome` whose issues name the element at fault (`expression`). Authenticate with an API token "
        "(`Authorization: Bearer dhn_...`) or a browser session."
    ),
    urls_namespace="fhir",
    openapi_url="/openapi.json",
    docs_url="/docs",
    docs_decorator=public,
    auth=[TokenAuth(), SessionActorAuth()],
)

_OUTCOME_SCHEMA = {"type": "object", "description": "OperationOutcome", "additionalProperties": True}


def _fhir_content(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {FHIR_JSON: {"schema": {"type": "object", "additionalProperties": True}}},
    }


def _openapi(body: str | None, responses: dict[int, str]) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "responses": {
            **{str(code): _fhir_content(text) for code, text in responses.items()},
            "4XX": {"description": "OperationOutcome", "content": {FHIR_JSON: {"schema": _OUTCOME_SCHEMA}}},
        }
    }
    if body is not None:
        extra["requestBody"] = {"required": True, **_fhir_content(body)}
    return extra


# --- responses ------------------------------------------------------------------------------------------------------


def fhir_response(
    data: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    body = b"" if data is None else json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def outcome_response(status: int, issues: list[Issue], headers: dict[str, str] | None = None) -> HttpResponse:
    return fhir_response(operation_outcome(issues), status, headers)


def _base_url(request: HttpRequest) -> str:
    return str(request.build_absolute_uri("/fhir/"))


@fhir_api.exception_handler(FhirError)
def _fhir_error(request: HttpRequest, exc: FhirError) -> HttpResponse:
    return fhir_response(exc.outcome(), exc.status)


@fhir_api.exception_handler(ServiceError)
def _service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    code = {400: "invalid", 403: "forbidden", 404: "not-found", 409: "conflict", 429: "throttled"}.get(
        exc.status, "processing"
    )
    return outcome_response(exc.status, [Issue(code, exc.message)])


@fhir_api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return outcome_response(403, [Issue("forbidden", str(exc) or "forbidden")])


@fhir_api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return outcome_response(
        401,
        [Issue("login", "authentication required: Authorization: Bearer <API token>, or a browser session")],
        {"WWW-Authenticate": 'Bearer realm="dhnet"'},
    )


@fhir_api.exception_handler(NinjaValidationError)
def _bad_parameters(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return outcome_response(400, [Issue("invalid", f"invalid request parameters: {exc.errors}"[:500])])


@fhir_api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return outcome_response(exc.status_code, [Issue("processing", str(exc))])


@fhir_api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return outcome_response(404, [Issue("not-found", str(exc) or "not found")])


@fhir_api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return outcome_response(413, [Issue("too-costly", "the body is too large")])


@fhir_api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, OperationalError) and is_retryable(exc):  # a deadlock with a concurrent Bundle: retry
        return outcome_response(409, [Issue("conflict", CONCURRENT_MESSAGE)], {"Retry-After": "1"})
    log.exception("FHIR request failed: %s %s", request.method, request.path)
    return outcome_response(500, [Issue("exception", "internal error; it has been logged")])


# --- request helpers ------------------------------------------------------------------------------------------------


def _negotiate(request: HttpRequest) -> None:
    """JSON only: refuse a request that accepts only XML or other formats (406)."""
    fmt = request.GET.get("_format", "")
    if fmt and fmt not in ("json", *JSON_TYPES):
        raise FhirError.one(406, "not-supported", f"_format {fmt!r}: only json is supported")
    accept = request.headers.get("Accept", "")
    if accept and not any(t in accept for t in (*JSON_TYPES, "*/*", "application/*")):
        raise FhirError.one(406, "not-supported", f"Accept {accept!r}: only application/fhir+json is supported")


def _body(request: HttpRequest) -> Any:
    _negotiate(request)
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise FhirError.one(413, "too-costly", "the body is too large") from exc
    content_type = request.content_type or ""
    if raw.strip() and content_type not in JSON_TYPES:
        raise FhirError.one(
            415, "not-supported", f"Content-Type {content_type!r}: send application/fhir+json (or application/json)"
        )
    return parse_json(raw)


def _created_response(request: HttpRequest, result: services.Result) -> HttpResponse:
    headers = {
        "Location": _base_url(request) + result.location,
        "ETag": result.etag,
        "Last-Modified": result.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    prefer = request.headers.get("Prefer", "")
    if "return=minimal" in prefer:
        return fhir_response(None, result.status, headers)
    if "return=OperationOutcome" in prefer or result.resource is None:
        issues = list(result.issues) or [Issue("informational", f"created {result.location}", severity="information")]
        return outcome_response(result.status, issues, headers)
    return fhir_response(result.resource, result.status, headers)


# --- routes ---------------------------------------------------------------------------------------------------------


@fhir_api.get(
    "/metadata",
    auth=None,
    summary="CapabilityStatement (FHIR R4 4.0.1)",
    tags=["fhir"],
    openapi_extra=_openapi(None, {200: "CapabilityStatement"}),
)
@public
def metadata(request: HttpRequest) -> HttpResponse:
    _negotiate(request)
    return fhir_response(services.capability_statement(_base_url(request)))


@fhir_api.post(
    "/",
    summary="Transaction or batch Bundle (POST entries)",
    tags=["fhir"],
    url_name="base",
    openapi_extra=_openapi(
        "Bundle of type transaction or batch", {200: "Bundle transaction-response or batch-response"}
    ),
)
@requires(BUNDLE_WRITE)
def base(request: HttpRequest) -> HttpResponse:
    return fhir_response(services.bundle(request_actor(request), _body(request)))


def _register(handler: ResourceHandler) -> None:
    rtype = handler.resource_type

    def create(request: HttpRequest) -> HttpResponse:
        if_none_exist = request.headers.get("If-None-Exist")
        result = services.create(request_actor(request), rtype, _body(request), if_none_exist=if_none_exist)
        return _created_response(request, result)

    def read(request: HttpRequest, logical_id: str) -> HttpResponse:
        _negotiate(request)
        stored = services.read(request_actor(request), rtype, logical_id)
        return fhir_response(stored.content, 200, {"ETag": f'W/"{stored.version}"'})

    def vread(request: HttpRequest, logical_id: str, vid: str) -> HttpResponse:
        _negotiate(request)
        stored = services.read(request_actor(request), rtype, logical_id, vid)
        return fhir_response(stored.content, 200, {"ETag": f'W/"{stored.version}"'})

    for func, name in ((create, "create"), (read, "read"), (vread, "vread")):
        func.__name__ = f"{rtype.lower()}_{name}"
        func.__qualname__ = func.__name__
    fhir_api.post(
        f"/{rtype}",
        summary=f"Create a {rtype} (If-None-Exist: identifier=system|value for conditional create)",
        tags=["fhir"],
        url_name=f"{rtype.lower()}-create",
        openapi_extra=_openapi(rtype, {201: f"{rtype} stored", 200: f"{rtype} existing (nothing stored)"}),
    )(requires(handler.write_permission)(create))
    fhir_api.get(
        f"/{rtype}/{{logical_id}}",
        summary=f"Read a {rtype}",
        tags=["fhir"],
        url_name=f"{rtype.lower()}-read",
        openapi_extra=_openapi(None, {200: rtype}),
    )(requires(handler.read_permission)(read))
    fhir_api.get(
        f"/{rtype}/{{logical_id}}/_history/{{vid}}",
        summary=f"Read a version of a {rtype}",
        tags=["fhir"],
        url_name=f"{rtype.lower()}-vread",
        openapi_extra=_openapi(None, {200: rtype}),
    )(requires(handler.read_permission)(vread))


for _handler in HANDLERS.values():
    _register(_handler)


def operations() -> list[tuple[str, str, Callable[..., Any]]]:
    """(method, path under /fhir, view function) of every operation, for the access tests."""
    found = []
    for prefix, router in fhir_api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    found.append((method, "/fhir/" + f"{prefix}/{path}".strip("/"), operation.view_func))
    return found


from dhnet.consent import fhir_routes as _consent_routes  # noqa: E402, F401  (AuditEvent, Patient/<id>/Consent)
