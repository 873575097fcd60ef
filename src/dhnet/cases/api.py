"""``/api/v1/cases/``: the line list (JSON or CSV) and one case; thin handlers over :mod:`dhnet.cases.services`."""

import datetime as dt
import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from dhnet.cases import services
from dhnet.cases.models import Case
from dhnet.platform.access import request_actor, requires

router = Router(tags=["cases"])


class CaseFilter(Schema):
    disease: str = Field("", max_length=64, description="disease code")
    district: str = Field("", max_length=64, description="org-unit code: cases there and below")
    date_from: dt.date | None = Field(None, description="onset (else report) date on or after")
    date_to: dt.date | None = Field(None, description="onset (else report) date on or before")
    classification: str = Field("", max_length=16, description="suspected, probable or confirmed")
    limit: int = Field(50, ge=1, le=services.MAX_LIMIT)
    offset: int = Field(0, ge=0, le=services.MAX_OFFSET)

    def filters(self) -> services.Filters:
        return services.Filters.parse(
            {
                "disease": self.disease,
                "district": self.district,
                "date_from": self.date_from.isoformat() if self.date_from else "",
                "date_to": self.date_to.isoformat() if self.date_to else "",
                "classification": self.classification,
                "offset": str(self.offset),
                "limit": str(self.limit),
            }
        )


class LabOut(Schema):
    loinc: str
    display: str
    status: str
    value: str
    interpretation: str
    specimen_date: dt.date | None


class CaseOut(Schema):
    case_id: uuid.UUID
    pseudonym: str
    disease: str
    icd_code: str
    district: str
    classification: str
    clinical_status: str
    onset_date: dt.date | None
    diagnosis_date: dt.date | None
    report_date: dt.date
    age_years: int | None
    age_band: str
    sex: str
    outcome: str
    hospitalised: bool | None

    @classmethod
    def of(cls, case: Case) -> "CaseOut":
        return cls(
            case_id=case.case_id,
            pseudonym=case.pseudonym,
            disease=case.disease.code,
            icd_code=case.icd_code,
            district=case.orgunit.code,
            classification=case.classification,
            clinical_status=case.clinical_status,
            onset_date=case.onset_date,
            diagnosis_date=case.diagnosis_date,
            report_date=case.report_date,
            age_years=case.age_years,
            age_band=case.age_band,
            sex=case.sex,
            outcome=case.outcome,
            hospitalised=case.hospitalised,
        )


class CaseDetailOut(CaseOut):
    lab_results: list[LabOut]


class CasePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[CaseOut]


@router.get("/cases", response=CasePage, summary="The line list: cases in my jurisdiction, latest report first")
@router.get("/cases/", response=CasePage, include_in_schema=False)
@requires(services.READ)
def list_cases(request: HttpRequest, filters: Query[CaseFilter]) -> CasePage:
    result = services.line_list(request_actor(request), filters.filters())
    return CasePage(
        count=result.total,
        limit=result.filters.limit,
        offset=result.filters.offset,
        items=[CaseOut.of(c) for c in result.cases],
    )


@router.get(
    "/cases/export.csv",
    summary="The line list as CSV (every matching case, at most 100,000)",
    openapi_extra={
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}
    },
)
@requires(services.READ)
def export_cases(request: HttpRequest, filters: Query[CaseFilter]) -> HttpResponse:
    text = services.line_list_csv(request_actor(request), filters.filters())
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="cases.csv"'
    return response


@router.get("/cases/{case_id}", response=CaseDetailOut, summary="One case with its lab results")
@requires(services.READ)
def get_case(request: HttpRequest, case_id: str) -> CaseDetailOut:
    case = services.get_case(request_actor(request), case_id)
    return CaseDetailOut(
        **CaseOut.of(case).model_dump(),
        lab_results=[
            LabOut(
                loinc=r.loinc,
                display=r.display,
                status=r.status,
                value=r.value,
                interpretation=r.interpretation,
                specimen_date=r.specimen_date,
            )
            for r in case.lab_results.all()
        ],
    )
