"""``/api/v1/atlas/import`` and ``/api/v1/atlas/export``: the registry in and out as JSON, CSV or the DHA shape.

Thin handlers over :mod:`dhnet.atlas.io`. Import takes the file as the request body or as the ``file`` field of a
multipart form; its answer is the import report (200), or the same report with every bad row as a 400 (nothing
stored). Export is public (published projects; a signed-in caller also gets the projects they may see, with
contact e-mails).
"""

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import AuthenticationError
from pydantic import Field

from dhnet.atlas import io, services
from dhnet.platform.access import Actor, public, request_actor, requires
from dhnet.platform.errors import Invalid

router = Router(tags=["atlas"])

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "dha": "application/json; charset=utf-8",
}
SUFFIX = {"json": "json", "csv": "csv", "dha": "dha.json"}


class RowErrorOut(Schema):
    row: int = Field(description="CSV: the file's line number; JSON and DHA: the record's position from 1")
    field: str = Field(description="the field's path in the record, e.g. budget[2].year")
    message: str


class ReportOut(Schema):
    ok: bool
    detail: str = Field(description="what went wrong, in one line ('' when ok)")
    created: int
    updated: int
    unchanged: int
    products_created: int
    products_updated: int
    products_unchanged: int
    organisations_created: list[str]
    public_ids: list[str]
    errors: list[RowErrorOut]


class ImportParams(Schema):
    format: str = Field("json", description="json | csv | dha")
    publish: bool = Field(False, description="store as published (needs the administration of each country)")


class ExportParams(Schema):
    format: str = Field("json", description="json | csv | dha")
    country: str | None = Field(None, max_length=2, description="ISO 3166-1 alpha-2")


def _viewer(request: HttpRequest) -> Actor:
    """The caller of a public endpoint: the token's actor if a token is sent, else the session's (or anonymous)."""
    if request.headers.get("Authorization"):
        from dhnet.accounts.auth import TokenAuth

        if TokenAuth()(request) is None:
            raise AuthenticationError()
    return request_actor(request)


def read_upload(request: HttpRequest) -> bytes:
    """The uploaded file: the multipart field ``file``, else the raw request body."""
    if request.content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise Invalid("file: the multipart form has no field 'file'")
        if upload.size is not None and upload.size > io.MAX_BYTES:
            raise Invalid(f"file: {upload.size} bytes is more than the {io.MAX_BYTES // (1024 * 1024)} MiB accepted")
        return upload.read(io.MAX_BYTES + 1)
    return request.body


@router.post(
    "/atlas/import",
    response={200: ReportOut, 400: ReportOut},
    summary="Import projects (and products) from JSON, CSV or DHA records: all or nothing, a report per row",
    description="The file is the request body (any content type), or the field `file` of a multipart/form-data "
    "form. 200: the report; 400: the report with every bad row (`row`: the CSV line number, else the record's "
    "position from 1; 0 for the file as a whole) and nothing stored. Importing the same file again stores nothing.",
)
@requires(services.PROJECT_WRITE)
def import_registry(request: HttpRequest, q: Query[ImportParams]) -> Status[ReportOut]:
    try:
        report = io.import_projects(request_actor(request), read_upload(request), q.format, publish=q.publish)
    except Invalid as exc:  # the file as a whole: a report with one error (row 0), like the row errors
        where, sep, problem = exc.message.partition(": ")
        field, message = (where, problem) if sep and " " not in where else ("", exc.message)
        report = io.ImportReport(errors=[io.RowError(0, field, message)])
    body = report.as_dict()
    if not report.ok:
        first = report.errors[0]
        body["detail"] = (
            f"nothing imported: {len(report.errors)} problem(s); first: row {first.row} {first.field}: {first.message}"
        )
    else:
        body["detail"] = ""
    return Status(200 if report.ok else 400, ReportOut(**body))


def export_response(actor: Actor, fmt: str, country: str | None) -> HttpResponse:
    """The export of what ``actor`` may see (of ``country``) as a download."""
    if fmt not in io.FORMATS:
        raise Invalid(f"format: {fmt!r} is not one of {', '.join(io.FORMATS)}")
    projects = services.visible_projects(actor)
    name = "atlas"
    if country:
        code = country.strip().upper()
        if len(code) != 2 or not code.isalpha():
            raise Invalid(f"country: {country[:10]!r} is not an ISO 3166-1 alpha-2 code")
        projects = projects.filter(country=code)
        name = f"atlas-{code}"
    response = HttpResponse(io.export_projects(actor, projects, fmt), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}.{SUFFIX[fmt]}"'
    return response


@router.get(
    "/atlas/export",
    auth=None,
    summary="Export projects as JSON, CSV or DHA records (public: published ones; more for their team and admins)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The file: JSON (format json or dha) or CSV (format csv)",
                "content": {
                    "application/json": {"schema": {}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
@public
def export_registry(request: HttpRequest, q: Query[ExportParams]) -> HttpResponse:
    return export_response(_viewer(request), q.format, q.country)
