"""The HTTP API, ``/api/v1/``: one NinjaAPI object; each context contributes a router.

Every endpoint declares its permission with :func:`dhnet.platform.access.requires` (or :func:`public`); errors are
JSON ``{"detail": ..., "code": ...}`` with a 4xx status.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status
from ninja.openapi.schema import OpenAPISchema

from dhnet import __version__
from dhnet.accounts.api import router as accounts_router
from dhnet.accounts.auth import SessionActorAuth, TokenAuth
from dhnet.orgunits.api import router as orgunits_router
from dhnet.platform.access import public
from dhnet.platform.errors import CONCURRENT_MESSAGE, ServiceError, is_retryable

#: What every error answers (the handlers below; ninja's own 401 has no ``code``, its 422 lists the invalid fields).
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "title": "Error",
        "type": "object",
        "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
        "required": ["detail"],
    },
    "ValidationErrors": {
        "title": "ValidationErrors",
        "type": "object",
        "properties": {"detail": {"type": "array", "items": {"type": "object"}}},
        "required": ["detail"],
    },
}


def _error_response(description: str, name: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


class PlatformAPI(NinjaAPI):
    """The API whose OpenAPI document also declares the error answers of each operation that can fail."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_SCHEMAS)
        for operations in schema["paths"].values():
            for operation in operations.values():
                takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
                responses = operation.setdefault("responses", {})
                if takes_input:
                    responses.setdefault("422", _error_response("Invalid parameters or body", "ValidationErrors"))
                if takes_input or operation.get("security"):
                    responses.setdefault("4XX", _error_response("Refused: {detail, code}", "Error"))
        return schema


api = PlatformAPI(
    title="dhnet API",
    version="1",
    description=(
        "Digital health network platform. Authenticate with an API token (`Authorization: Bearer dhn_...`, or "
        "`Authorization: ApiToken dhn_...` as DHIS2 clients send it) or a browser session. Optional header "
        "`X-Purpose` states the purpose of use recorded in the audit trail."
    ),
    urls_namespace="api",
    docs_url="/docs",
    docs_decorator=public,
    auth=[TokenAuth(), SessionActorAuth()],
)


@api.exception_handler(ServiceError)
def _service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return api.create_response(request, {"detail": exc.message, "code": exc.code}, status=exc.status)


@api.exception_handler(OperationalError)
def _operational_error(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    """A deadlock or serialization failure with a concurrent request is a 409 to retry (nothing was stored)."""
    if is_retryable(exc):
        response = api.create_response(request, {"detail": CONCURRENT_MESSAGE, "code": "conflict"}, status=409)
        response["Retry-After"] = "1"
        return response
    raise exc


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "forbidden", "code": "forbidden"}, status=403)


class Health(Schema):
    status: str
    database: str
    version: str


@api.get("/health", auth=None, response={200: Health, 503: Health}, tags=["platform"], summary="Liveness and database")
@public
def health(request: HttpRequest) -> Status[Health]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:  # any database failure means "not healthy", never a 500
        database = "unavailable"
    status = 200 if database == "ok" else 503
    return Status(status, Health(status="ok" if status == 200 else "degraded", database=database, version=__version__))


api.add_router("/", accounts_router)
api.add_router("/", orgunits_router)
api.add_router("/", "dhnet.jobs.api.router")
api.add_router("/", "dhnet.signals.api.router")
api.add_router("/", "dhnet.notifications.api.router")
api.add_router("/", "dhnet.diseases.api.router")
api.add_router("/", "dhnet.reporting.api.router")
api.add_router("/", "dhnet.dashboard.api.router")
api.add_router("/", "dhnet.cases.api.router")
api.add_router("/", "dhnet.identity.api.router")
api.add_router("/", "dhnet.release.api.router")
api.add_router("/", "dhnet.taxonomy.api.router")
api.add_router("/", "dhnet.knowledge.api.router")
api.add_router("/knowledge", "dhnet.knowledge.search_api.router")
api.add_router("/", "dhnet.network.api.router")
api.add_router("/", "dhnet.feedback.api.router")
api.add_router("/", "dhnet.atlas.explore_api.router")
api.add_router("/", "dhnet.atlas.api.router")
api.add_router("/", "dhnet.atlas.io_api.router")
api.add_router("/", "dhnet.needs.api.router")
api.add_router("/", "dhnet.businesscase.api.router")
api.add_router("/", "dhnet.maturity.rubric_api.router")
api.add_router("/", "dhnet.maturity.explore_api.router")
api.add_router("/", "dhnet.maturity.api.router")
api.add_router("/", "dhnet.planning.api.router")
api.add_router("/", "dhnet.strategy.api.router")
