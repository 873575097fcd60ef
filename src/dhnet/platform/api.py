"""The HTTP API, ``/api/v1/``: one NinjaAPI object; each context contributes a router.

Every endpoint declares its permission with :func:`dhnet.platform.access.requires` (or :func:`public`); errors are
JSON ``{"detail": ..., "code": ...}`` with a 4xx status.
"""

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status

from dhnet import __version__
from dhnet.accounts.api import router as accounts_router
from dhnet.accounts.auth import SessionActorAuth, TokenAuth
from dhnet.orgunits.api import router as orgunits_router
from dhnet.platform.access import public
from dhnet.platform.errors import ServiceError

api = NinjaAPI(
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
