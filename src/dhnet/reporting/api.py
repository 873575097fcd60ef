"""Reporting API under ``/api/v1/``: counts, completeness, missing reports, DHIS2 mappings and settings, and the
DHIS2-compatible ``dataValueSets`` import (also served at ``/api/dataValueSets``, where DHIS2 clients post).

Thin handlers over :mod:`dhnet.reporting.services` and :mod:`dhnet.reporting.dhis2`.
"""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import Invalid, ServiceError
from dhnet.reporting import dhis2, services
from dhnet.reporting.models import DataElementMapping
from dhnet.reporting.periods import parse_week, week_label

router = Router(tags=["reporting"])

#: Largest DHIS2 request body read (bytes); DHIS2 clients send large sets in one request.
MAX_DHIS2_BODY = 256 * 1024 * 1024


# --- counts ---------------------------------------------------------------------------------------------------------


class CountIn(Schema):
    orgunit: str = Field(description="org-unit code (a reporting unit)")
    disease: str = Field(description="disease code of the catalogue, e.g. measles")
    period: str = Field(description="ISO week 2024-W05, its Monday 2024-01-29, or a month 2024-01 (monthly)")
    cases: Any = Field(None, description="non-negative integer; null deletes the count")
    deaths: Any = Field(None, description="non-negative integer (optional)")


class CountsIn(Schema):
    rows: list[CountIn]


class IngestOut(Schema):
    source: str
    checksum: str
    dry_run: bool
    duplicate: bool = Field(description="the same payload was imported before: nothing stored, first summary")
    batch_id: int | None
    values: int
    imported: int
    updated: int
    ignored: int
    deleted: int
    orgunits: int
    periods: list[str]


class RejectedOut(Schema):
    detail: str
    code: str
    total: int = Field(description="number of problems (all are counted; up to 1000 are listed)")
    errors: list[str] = Field(description="each names the row and field, e.g. 'rows[3], field cases: ...'")


class ErrorOut(Schema):
    """Any other refusal: malformed JSON (ninja), missing permission (``{"detail", "code"}``)."""

    detail: str
    code: str | None = None


class DryRun(Schema):
    dryRun: bool = Field(False, description="validate and count only; store nothing")


def _ingest_out(result: services.IngestResult) -> IngestOut:
    return IngestOut(**{k: v for k, v in result.as_dict().items() if k in IngestOut.model_fields})


def _rejected(exc: services.BatchRejected) -> RejectedOut:
    return RejectedOut(detail=exc.message, code=exc.code, total=exc.total, errors=[str(e) for e in exc.errors])


@router.post(
    "/reporting/counts",
    response={200: IngestOut, 400: RejectedOut | ErrorOut, 403: RejectedOut | ErrorOut},
    summary="Import weekly counts (all or nothing; a retried payload is stored once)",
)
@requires("surveillance:report:write")
def post_counts(request: HttpRequest, payload: CountsIn, params: Query[DryRun]) -> Any:
    records = [row.model_dump() for row in payload.rows]
    rows = services.rows_from_records(records)
    try:
        result = services.ingest(
            request_actor(request),
            "api",
            rows,
            payload_checksum=services.checksum_of({"rows": records}),
            dry_run=params.dryRun,
        )
    except services.BatchRejected as exc:
        return Status(exc.status, _rejected(exc))
    return _ingest_out(result)


# --- completeness ---------------------------------------------------------------------------------------------------


class CompletenessQuery(Schema):
    from_: str = Field(..., alias="from", description="first ISO week, e.g. 2024-W01")
    to: str = Field("", description="last ISO week (default: the first)")
    orgunit: str = Field("", max_length=64, description="root org unit (default: your jurisdiction)")
    depth: int = Field(1, ge=0, le=10, description="levels below the root to list")


class CellOut(Schema):
    week: str
    expected: int
    received: int
    on_time: int
    completeness: float | None = Field(description="received / expected, percent")
    timeliness: float | None = Field(description="received by the deadline / expected, percent")


class CompletenessRowOut(Schema):
    orgunit: str
    name: str
    level: int
    depth: int
    weeks: list[CellOut]
    total: CellOut


class CompletenessOut(Schema):
    weeks: list[str]
    deadline_days: int = Field(description="reports are due by 23:59 on this day after the week's Sunday")
    rows: list[CompletenessRowOut]


def _cell(label: str, cell: services.Cell) -> CellOut:
    return CellOut(
        week=label,
        expected=cell.expected,
        received=cell.received,
        on_time=cell.on_time,
        completeness=cell.completeness,
        timeliness=cell.timeliness,
    )


@router.get(
    "/reporting/completeness",
    response=CompletenessOut,
    summary="IDSR completeness and timeliness per org unit and week, rolled up",
)
@requires("surveillance:aggregate:read")
def get_completeness(request: HttpRequest, q: Query[CompletenessQuery]) -> CompletenessOut:
    table = services.completeness(request_actor(request), q.from_, q.to or None, root=q.orgunit or None, depth=q.depth)
    labels = table.labels
    return CompletenessOut(
        weeks=labels,
        deadline_days=table.deadline_days,
        rows=[
            CompletenessRowOut(
                orgunit=r.code,
                name=r.name,
                level=r.level,
                depth=r.depth,
                weeks=[_cell(label, c) for label, c in zip(labels, r.weeks, strict=True)],
                total=_cell("total", r.total),
            )
            for r in table.rows
        ],
    )


class MissingQuery(Schema):
    week: str = Field(..., description="ISO week, e.g. 2024-W05")
    orgunit: str = Field("", max_length=64, description="root org unit (default: your jurisdiction)")


class MissingItem(Schema):
    orgunit: str
    name: str
    level: int
    parent: str | None


class MissingOut(Schema):
    week: str
    deadline: str
    count: int
    items: list[MissingItem]


@router.get("/reporting/missing", response=MissingOut, summary="Reporting units with no report for a week")
@requires("surveillance:aggregate:read")
def get_missing(request: HttpRequest, q: Query[MissingQuery]) -> MissingOut:
    missing = services.missing_reports(request_actor(request), q.week, root=q.orgunit or None)
    start = parse_week(q.week)
    return MissingOut(
        week=week_label(start),
        deadline=services.deadline(start).isoformat(),
        count=len(missing),
        items=[MissingItem(orgunit=m.code, name=m.name, level=m.level, parent=m.parent_code) for m in missing],
    )


# --- DHIS2 mappings and settings ------------------------------------------------------------------------------------


class MappingOut(Schema):
    id: int
    data_element: str
    data_element_code: str
    category_option_combo: str
    category_option_combo_code: str
    disease: str
    measure: str


class MappingIn(Schema):
    data_element: str = Field("", max_length=64, description="DHIS2 uid")
    data_element_code: str = Field("", max_length=64, description="DHIS2 code")
    category_option_combo: str = Field("", max_length=64, description="uid; empty: any / the default combo")
    category_option_combo_code: str = Field("", max_length=64)
    disease: str = Field(description="disease code")
    measure: str = Field("cases", description="cases | deaths")


class MappingPatch(Schema):
    data_element: str | None = None
    data_element_code: str | None = None
    category_option_combo: str | None = None
    category_option_combo_code: str | None = None
    disease: str | None = None
    measure: str | None = None


def _mapping_out(m: DataElementMapping) -> MappingOut:
    return MappingOut(
        id=m.pk,
        data_element=m.data_element,
        data_element_code=m.data_element_code,
        category_option_combo=m.category_option_combo,
        category_option_combo_code=m.category_option_combo_code,
        disease=m.disease.code,
        measure=m.measure,
    )


@router.get("/reporting/mappings", response=list[MappingOut], summary="DHIS2 data element mappings")
@requires("reporting:config:read")
def list_mappings(request: HttpRequest) -> list[MappingOut]:
    return [_mapping_out(m) for m in services.list_mappings(request_actor(request))]


@router.post("/reporting/mappings", response={201: MappingOut}, summary="Map a DHIS2 data element to a disease")
@requires("reporting:config:write")
def create_mapping(request: HttpRequest, payload: MappingIn) -> Status[MappingOut]:
    return Status(201, _mapping_out(services.create_mapping(request_actor(request), payload.model_dump())))


@router.patch("/reporting/mappings/{mapping_id}", response=MappingOut, summary="Change a data element mapping")
@requires("reporting:config:write")
def update_mapping(request: HttpRequest, mapping_id: int, payload: MappingPatch) -> MappingOut:
    changes = payload.model_dump(exclude_unset=True)
    return _mapping_out(services.update_mapping(request_actor(request), mapping_id, changes))


@router.delete("/reporting/mappings/{mapping_id}", response={204: None}, summary="Delete a data element mapping")
@requires("reporting:config:write")
def delete_mapping(request: HttpRequest, mapping_id: int) -> Status[None]:
    services.delete_mapping(request_actor(request), mapping_id)
    return Status(204, None)


class SettingsOut(Schema):
    deadline_days: int = Field(description="weekly reports are due by 23:59 local time this many days after Sunday")
    reporting_level: int | None = Field(description="org-unit level of reporting units; null: units without children")


class SettingsPatch(Schema):
    deadline_days: int | None = None
    reporting_level: int | None = None


@router.get("/reporting/settings", response=SettingsOut, summary="Reporting deadline and reporting level")
@requires("reporting:config:read")
def get_settings(request: HttpRequest) -> SettingsOut:
    row = services.get_settings(request_actor(request))
    return SettingsOut(deadline_days=row.deadline_days, reporting_level=row.reporting_level)


@router.patch("/reporting/settings", response=SettingsOut, summary="Change the reporting deadline or level")
@requires("reporting:config:write")
def update_settings(request: HttpRequest, payload: SettingsPatch) -> SettingsOut:
    row = services.update_settings(request_actor(request), payload.model_dump(exclude_unset=True))
    return SettingsOut(deadline_days=row.deadline_days, reporting_level=row.reporting_level)


# --- DHIS2 dataValueSets --------------------------------------------------------------------------------------------


class Dhis2Params(Schema):
    idScheme: str | None = Field(None, description="UID (default) or CODE, for every object")
    dataElementIdScheme: str | None = Field(None, description="UID or CODE (default: idScheme)")
    orgUnitIdScheme: str | None = Field(None, description="UID or CODE (default: idScheme)")
    categoryOptionComboIdScheme: str | None = Field(None, description="UID or CODE (default: idScheme)")
    dryRun: str | None = Field(None, description="true: validate and count only, store nothing")
    importStrategy: str | None = Field(None, description="CREATE_AND_UPDATE (default), CREATE, UPDATE or DELETE")
    atomicMode: str | None = Field(None, description="ALL (the only mode: all or nothing)")


_DATA_VALUE_SET_SCHEMA = {
    "type": "object",
    "properties": {
        "dataSet": {"type": "string"},
        "completeDate": {"type": "string", "example": "2024-02-05"},
        "period": {"type": "string", "example": "2024W5"},
        "orgUnit": {"type": "string"},
        "attributeOptionCombo": {"type": "string"},
        "dataValues": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["dataElement"],
                "properties": {
                    "dataElement": {"type": "string"},
                    "categoryOptionCombo": {"type": "string"},
                    "period": {"type": "string", "example": "2024W5"},
                    "orgUnit": {"type": "string"},
                    "value": {"type": "string", "example": "12"},
                    "comment": {"type": "string"},
                },
            },
        },
    },
}


def read_body(request: HttpRequest, limit: int = MAX_DHIS2_BODY) -> bytes:
    """The raw request body, up to ``limit`` bytes (a DHIS2 set of 100,000 values is ~10 MB, above Django's
    default in-memory limit, which this endpoint replaces by its own)."""
    if hasattr(request, "_body"):
        return request._body
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Invalid("Content-Length: not a number") from None
    if length > limit:
        raise Invalid(f"body: larger than {limit // (1024 * 1024)} MB; send the data values in several requests")
    return request.read()


def _json(status: int, message: str, summary: dhis2.ImportSummary | None = None) -> HttpResponse:
    return JsonResponse(dhis2.web_message(status, message, summary), status=status)


@router.post(
    "/dataValueSets",
    url_name="dhis2-data-value-sets",
    tags=["dhis2"],
    response={200: dict, 400: dict, 403: dict, 409: dict},
    summary="DHIS2 dataValueSets import (also at /api/dataValueSets)",
    description=(dhis2.__doc__ or "").replace("``", "`"),
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _DATA_VALUE_SET_SCHEMA}}}
    },
)
@requires("surveillance:report:write")
def data_value_sets(request: HttpRequest, params: Query[Dhis2Params]) -> HttpResponse:
    actor = request_actor(request)
    try:
        options = dhis2.parse_options({k: v for k, v in params.model_dump().items() if v is not None})
        raw = read_body(request)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Invalid(f"body: not valid JSON ({exc})") from None
        summary = dhis2.import_data_value_set(actor, body, options, checksum=dhis2.checksum(options, raw))
    except dhis2.Dhis2Rejected as exc:
        return _json(exc.status, exc.message, exc.summary)
    except ServiceError as exc:
        return _json(exc.status, exc.message)
    return _json(200, "Import was successful.", summary)
