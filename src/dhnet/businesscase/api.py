"""``/api/v1/business-cases``: business cases of digital health investments — fields, cost and benefit lines
(JSON body, or a JSON/CSV file), the figures (NPV, ROI, benefit-cost ratio, payback, sensitivity), versions and
their differences, copies, CSV and PDF exports.

Every endpoint needs a signed-in caller (token or session); a case is answered only to those who may read it (its
country's administrators, its creator, everyone signed in once shared), 404 otherwise. Writing needs
``businesscase:case:write`` and the country (see :mod:`dhnet.businesscase.services`). Money is decimal text.
"""

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dhnet.businesscase import exports, finance, services
from dhnet.businesscase.models import BusinessCase, CaseVersion
from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import Invalid

router = Router(tags=["businesscase"])
READ = "accounts:profile:read"  # every signed-in user holds it; the service decides which cases they see


# --- schemas --------------------------------------------------------------------------------------------------------


class BcCostLineOut(Schema):
    phase: str
    category: str
    year: int
    amount: str = Field(description="decimal text, cents")
    note: str


class BcBenefitLineOut(Schema):
    kind: str
    year: int
    quantity: str
    unit: str
    unit_value: str
    assumption: str


class BcYearOut(Schema):
    year: int
    t: int
    costs: str
    benefits: str
    discount_factor: str = Field(description="1/(1+rate)^t, 10 decimal places")
    pv_costs: str
    pv_benefits: str
    net: str
    cumulative_net: str
    cumulative_pv_net: str


class BcSensitivityOut(Schema):
    rates: list[str]
    benefit_factors: list[str]
    cost_factors: list[str]
    npv: list[list[list[str]]] = Field(description="npv[rate][benefit factor][cost factor]")


class BcFiguresOut(Schema):
    total_costs: str
    total_benefits: str
    pv_costs: str
    pv_benefits: str
    npv: str
    roi: str | None = Field(description="NPV / PV(costs), 6 decimal places; null when PV(costs) is 0")
    benefit_cost_ratio: str | None
    payback_year: int | None
    discounted_payback_year: int | None
    costs_by_phase: dict[str, str]
    costs_by_category: dict[str, str]
    years: list[BcYearOut]
    sensitivity: BcSensitivityOut


class BcCaseOut(Schema):
    public_id: str
    country: str
    title: str
    investment: str
    roadmap_item: int | None = Field(description="id of the planning.RoadmapItem this investment carries out")
    currency: str
    base_year: int
    horizon_years: int
    discount_rate: str = Field(description="a fraction: 0.05 is 5 %")
    shared: bool
    version: int
    created_by: str
    updated_at: str


class BcCaseDetailOut(BcCaseOut):
    costs: list[BcCostLineOut]
    benefits: list[BcBenefitLineOut]
    figures: BcFiguresOut


class BcCaseIn(Schema):
    country: str = Field("", max_length=8, description="ISO 3166-1 alpha-2; empty: not a country's case")
    title: str = Field(max_length=200)
    investment: str = Field("", max_length=20_000)
    roadmap_item: int | None = Field(None, description="a roadmap item of the case's country (planning)")
    currency: str = Field("USD", max_length=8, description="ISO 4217")
    base_year: int
    horizon_years: int = Field(description="1..30")
    discount_rate: str = Field("0.05", max_length=20, description="a fraction: 0.05 is 5 %")
    shared: bool = False
    costs: list[dict[str, Any]] = Field(default_factory=list, description="rows {phase, category, year, amount, note}")
    benefits: list[dict[str, Any]] = Field(
        default_factory=list, description="rows {kind, year, quantity, unit, unit_value, assumption}"
    )


class BcCasePatch(Schema):
    country: str | None = Field(None, max_length=8)
    title: str | None = Field(None, max_length=200)
    investment: str | None = Field(None, max_length=20_000)
    roadmap_item: int | None = Field(None, description="null: no link")
    currency: str | None = Field(None, max_length=8)
    base_year: int | None = None
    horizon_years: int | None = None
    discount_rate: str | None = Field(None, max_length=20)
    shared: bool | None = None


class BcLinesIn(Schema):
    costs: list[dict[str, Any]] | None = Field(None, description="the whole cost table (replaces it); null: keep")
    benefits: list[dict[str, Any]] | None = Field(None, description="the whole benefit table; null: keep")


class BcCopyIn(Schema):
    title: str | None = Field(None, max_length=200)
    country: str | None = Field(None, max_length=8)
    base_year: int | None = None
    horizon_years: int | None = None
    discount_rate: str | None = Field(None, max_length=20)
    currency: str | None = Field(None, max_length=8)


class BcListQuery(Schema):
    country: str = Field("", max_length=8)


class BcUploadQuery(Schema):
    kind: str = Field(max_length=20, description="costs or benefits")
    filename: str = Field("", max_length=200, description="a name ending .json or .csv (else: sniffed)")


class BcDiffQuery(Schema):
    a: int = Field(ge=1, le=1_000_000)
    b: int = Field(ge=1, le=1_000_000)


class BcCsvQuery(Schema):
    table: str = Field("years", max_length=20, description="costs, benefits, years or sensitivity")


class BcVersionOut(Schema):
    version: int
    change: str
    saved_by: str
    saved_at: str


class BcChangeOut(Schema):
    what: str
    before: str
    after: str


# --- serialisers ----------------------------------------------------------------------------------------------------


def case_out(case: BusinessCase) -> dict[str, Any]:
    return {
        **services.fields_data(case),
        "public_id": case.public_id,
        "version": case.version,
        "created_by": case.created_by.username if case.created_by else "",
        "updated_at": case.updated_at.isoformat(),
    }


def figures_out(figures: services.Figures) -> BcFiguresOut:
    r, s = figures.result, figures.sensitivity
    six = Decimal("0.000001")
    return BcFiguresOut(
        total_costs=str(finance.cents(r.total_costs)),
        total_benefits=str(finance.cents(r.total_benefits)),
        pv_costs=str(finance.cents(r.pv_costs)),
        pv_benefits=str(finance.cents(r.pv_benefits)),
        npv=str(finance.cents(r.npv)),
        roi=None if r.roi is None else str(r.roi.quantize(six)),
        benefit_cost_ratio=None if r.bcr is None else str(r.bcr.quantize(six)),
        payback_year=r.payback_year,
        discounted_payback_year=r.discounted_payback_year,
        costs_by_phase=finance.mapping_of(figures.by_phase),
        costs_by_category=finance.mapping_of(figures.by_category),
        years=[
            BcYearOut(
                year=y.year,
                t=y.t,
                costs=str(finance.cents(y.costs)),
                benefits=str(finance.cents(y.benefits)),
                discount_factor=str(y.factor.quantize(Decimal("0.0000000001"))),
                pv_costs=str(finance.cents(y.pv_costs)),
                pv_benefits=str(finance.cents(y.pv_benefits)),
                net=str(finance.cents(y.net)),
                cumulative_net=str(finance.cents(y.cumulative_net)),
                cumulative_pv_net=str(finance.cents(y.cumulative_pv_net)),
            )
            for y in r.years
        ],
        sensitivity=BcSensitivityOut(
            rates=[str(x) for x in s.rates],
            benefit_factors=[str(x) for x in s.benefit_factors],
            cost_factors=[str(x) for x in s.cost_factors],
            npv=[[[str(finance.cents(v)) for v in row] for row in table] for table in s.npv],
        ),
    )


def detail_out(case: BusinessCase) -> BcCaseDetailOut:
    data = services.snapshot(case)
    return BcCaseDetailOut(
        **case_out(case),
        costs=[BcCostLineOut(**c) for c in data["costs"]],
        benefits=[BcBenefitLineOut(**b) for b in data["benefits"]],
        figures=figures_out(services.figures(case)),
    )


def version_out(v: CaseVersion) -> BcVersionOut:
    return BcVersionOut(version=v.version, change=v.change, saved_by=v.saved_by_name, saved_at=v.saved_at.isoformat())


def _file_response(body: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- endpoints ------------------------------------------------------------------------------------------------------


@router.get("/business-cases", response=list[BcCaseOut], summary="The business cases the caller may read")
@requires(READ)
def list_cases(request: HttpRequest, q: Query[BcListQuery]) -> list[dict[str, Any]]:
    return [case_out(c) for c in services.list_cases(request_actor(request), q.country)]


@router.post(
    "/business-cases",
    response={200: BcCaseDetailOut, 201: BcCaseDetailOut},
    summary="Create a business case, optionally with its lines (the same request again: 200, the same case)",
)
@requires(services.WRITE)
def create_case(request: HttpRequest, payload: BcCaseIn) -> Status[BcCaseDetailOut]:
    case, created = services.create_case(request_actor(request), payload.model_dump())
    return Status(201 if created else 200, detail_out(case))


@router.get("/business-cases/{public_id}", response=BcCaseDetailOut, summary="A case with its lines and figures")
@requires(READ)
def get_case(request: HttpRequest, public_id: str) -> BcCaseDetailOut:
    return detail_out(services.get_case(request_actor(request), public_id))


@router.patch("/business-cases/{public_id}", response=BcCaseDetailOut, summary="Change a case's fields (a new version)")
@requires(services.WRITE)
def update_case(request: HttpRequest, public_id: str, payload: BcCasePatch) -> BcCaseDetailOut:
    case, _ = services.update_case(request_actor(request), public_id, payload.model_dump(exclude_unset=True))
    return detail_out(case)


@router.put(
    "/business-cases/{public_id}/lines",
    response=BcCaseDetailOut,
    summary="Replace the cost and/or benefit table (all rows or none stored; the same rows again change nothing)",
)
@requires(services.WRITE)
def set_lines(request: HttpRequest, public_id: str, payload: BcLinesIn) -> BcCaseDetailOut:
    case, _ = services.set_lines(
        request_actor(request), public_id, costs=payload.costs, benefits=payload.benefits, source="api"
    )
    return detail_out(case)


@router.post(
    "/business-cases/{public_id}/upload",
    response=BcCaseDetailOut,
    summary="Replace the cost or benefit table from a JSON or CSV file (body, or the multipart field 'file')",
    description="CSV: a header row (costs: phase, category, year, amount, note; benefits: kind, year, quantity, "
    "unit, unit_value, assumption); row N in an error is the CSV line. JSON: a list of row objects or "
    '{"costs": [...]}. A bad row: 400 naming it, nothing stored. The same file again: nothing changes.',
)
@requires(services.WRITE)
def upload(request: HttpRequest, public_id: str, q: Query[BcUploadQuery]) -> BcCaseDetailOut:
    filename = q.filename
    if request.content_type == "multipart/form-data":
        file = request.FILES.get("file")
        if file is None:
            raise Invalid("file: the multipart form has no field 'file'")
        if file.size is not None and file.size > services.MAX_UPLOAD:
            raise Invalid(f"file: larger than {services.MAX_UPLOAD // (1024 * 1024)} MB")
        content, filename = file.read(services.MAX_UPLOAD + 1), filename or (file.name or "")
    else:
        content = request.body
    case, _ = services.upload_lines(request_actor(request), public_id, q.kind, content, filename)
    return detail_out(case)


@router.post("/business-cases/{public_id}/copy", response={201: BcCaseDetailOut}, summary="Copy a case (yours)")
@requires(services.WRITE)
def copy_case(request: HttpRequest, public_id: str, payload: BcCopyIn) -> Status[BcCaseDetailOut]:
    case = services.copy_case(request_actor(request), public_id, payload.model_dump(exclude_none=True))
    return Status(201, detail_out(case))


@router.get("/business-cases/{public_id}/versions", response=list[BcVersionOut], summary="Versions, newest first")
@requires(READ)
def versions(request: HttpRequest, public_id: str) -> list[BcVersionOut]:
    _, rows = services.versions(request_actor(request), public_id)
    return [version_out(v) for v in rows]


@router.get("/business-cases/{public_id}/diff", response=list[BcChangeOut], summary="What changed from version a to b")
@requires(READ)
def diff(request: HttpRequest, public_id: str, q: Query[BcDiffQuery]) -> list[BcChangeOut]:
    _, changes = services.diff(request_actor(request), public_id, q.a, q.b)
    return [BcChangeOut(what=c.what, before=c.before, after=c.after) for c in changes]


@router.get(
    "/business-cases/{public_id}/export.csv",
    summary="One table as CSV: costs, benefits (the upload format), years (figures per year), sensitivity",
    openapi_extra={
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}
    },
)
@requires(READ)
def export_csv(request: HttpRequest, public_id: str, q: Query[BcCsvQuery]) -> HttpResponse:
    if q.table not in exports.TABLES:
        raise Invalid(f"table: {q.table[:20]!r} is not one of {', '.join(exports.TABLES)}")
    case = services.get_case(request_actor(request), public_id)
    body = exports.csv_table(case, services.figures(case), q.table)
    return _file_response(body, "text/csv; charset=utf-8", f"{case.public_id}-{q.table}.csv")


@router.get(
    "/business-cases/{public_id}/export.pdf",
    summary="The business case as a PDF document",
    openapi_extra={
        "responses": {
            "200": {
                "description": "PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
@requires(READ)
def export_pdf(request: HttpRequest, public_id: str) -> HttpResponse:
    case = services.get_case(request_actor(request), public_id)
    return _file_response(exports.pdf(case, services.figures(case)), "application/pdf", f"{case.public_id}.pdf")
