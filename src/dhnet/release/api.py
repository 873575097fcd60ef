"""Release API under ``/api/v1/release/``: datasets, publishing, published tables, the budget ledger, line lists.

Thin handlers over :mod:`dhnet.release.services`.
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dhnet.platform.access import request_actor, requires
from dhnet.release import services
from dhnet.release.models import Publication, ReleasedDataset

router = Router(tags=["release"])

Slug = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class DatasetIn(Schema):
    slug: str = Slug
    title: str = Field(..., min_length=1, max_length=255)
    disease: str = Field(..., max_length=64, description="disease code of the catalogue")
    area: str = Field(..., max_length=64, description="org-unit code of the area covered")
    level: int = Field(..., ge=1, le=20, description="org-unit level of the rows (1 = country)")
    period_start: dt.date
    period_end: dt.date
    time_unit: str = Field("week", description="week | month")
    date_basis: str = Field("onset", description="onset (report date when unknown) | report")
    by_sex: bool = Field(False, description="columns are period x sex (a 3-way table flattened per row)")
    method: str = Field("suppression", description="suppression | dp")
    threshold: int = Field(5, ge=1, le=services.MAX_THRESHOLD, description="counts below it are suppressed")
    protection: int | None = Field(None, ge=1, le=services.MAX_THRESHOLD, description="default: threshold")
    zeros_sensitive: bool = False
    epsilon_budget: float = Field(1.0, gt=0, le=services.MAX_BUDGET, allow_inf_nan=False)
    epsilon_per_release: float = Field(0.5, gt=0, le=services.MAX_BUDGET, allow_inf_nan=False)
    audience: str = Field("partners", description="partners | public")


class DatasetOut(Schema):
    slug: str
    title: str
    disease: str
    area: str
    level: int
    period_start: str
    period_end: str
    time_unit: str
    date_basis: str
    by_sex: bool
    method: str
    threshold: int
    protection: int | None
    zeros_sensitive: bool
    epsilon_budget: float
    epsilon_per_release: float
    audience: str


def _dataset_out(dataset: ReleasedDataset) -> DatasetOut:
    return DatasetOut(**services.definition(dataset))


class TableOut(Schema):
    dataset: str
    version: int
    method: str
    published_at: str
    rows: list[list[str]] = Field(description="[code, name] of each row; the last grid row is the column totals")
    columns: list[str] = Field(description="column labels; the last grid column is the row totals")
    grid: list[list[int | None]] = Field(description="(rows+1) x (columns+1); null: suppressed")
    info: dict[str, Any] = Field(description="threshold and suppressed counts, or epsilon and the noise scale")


def table_out(publication: Publication) -> TableOut:
    return TableOut(
        dataset=publication.dataset.slug,
        version=publication.version,
        method=publication.method,
        published_at=publication.created_at.isoformat(timespec="seconds"),
        rows=publication.row_labels,
        columns=publication.column_labels,
        grid=publication.grid,
        info=publication.info,
    )


class PublishedOut(TableOut):
    created: bool = Field(description="false: the table was unchanged, the earlier publication is returned")


class SpendOut(Schema):
    version: int
    epsilon: float
    noise_scale: float
    spent_by: str
    spent_at: str


class BudgetOut(Schema):
    dataset: str
    budget: float
    spent: float
    remaining: float
    spends: list[SpendOut]


@router.get("/release/datasets", response=list[DatasetOut], summary="Released datasets")
@requires(services.READ)
def list_datasets(request: HttpRequest) -> list[DatasetOut]:
    return [_dataset_out(d) for d in services.list_datasets(request_actor(request))]


@router.post(
    "/release/datasets",
    response={200: DatasetOut, 201: DatasetOut},
    summary="Define a released dataset (201; 200 when the same definition exists: a retry)",
)
@requires(services.WRITE)
def create_dataset(request: HttpRequest, payload: DatasetIn) -> Status[DatasetOut]:
    spec = services.DatasetSpec(**payload.model_dump())
    dataset, created = services.create_dataset(request_actor(request), spec)
    return Status(201 if created else 200, _dataset_out(dataset))


@router.get("/release/datasets/{slug}", response=DatasetOut, summary="One released dataset's definition")
@requires(services.READ)
def get_dataset(request: HttpRequest, slug: str) -> DatasetOut:
    return _dataset_out(services.get_dataset(request_actor(request), slug[:100]))


@router.post(
    "/release/datasets/{slug}/publish",
    response={200: PublishedOut, 201: PublishedOut},
    summary="Publish the dataset's table now (201; 200 when unchanged; 409 when the privacy budget is spent)",
)
@requires(services.WRITE)
def publish(request: HttpRequest, slug: str) -> Status[PublishedOut]:
    publication, created = services.publish(request_actor(request), slug[:100])
    return Status(201 if created else 200, PublishedOut(**table_out(publication).model_dump(), created=created))


@router.get("/release/datasets/{slug}/table", response=TableOut, summary="The latest published (protected) table")
@requires(services.READ)
def get_table(request: HttpRequest, slug: str) -> TableOut:
    return table_out(services.latest_table(request_actor(request), slug[:100]))


@router.get("/release/datasets/{slug}/budget", response=BudgetOut, summary="The dataset's privacy-budget ledger")
@requires(services.READ)
def get_budget(request: HttpRequest, slug: str) -> BudgetOut:
    ledger = services.budget(request_actor(request), slug[:100])
    return BudgetOut(
        dataset=slug,
        budget=ledger.budget,
        spent=ledger.spent,
        remaining=ledger.remaining,
        spends=[
            SpendOut(
                version=s.publication.version,
                epsilon=s.epsilon,
                noise_scale=s.scale,
                spent_by=s.spent_by,
                spent_at=s.spent_at.isoformat(timespec="seconds"),
            )
            for s in ledger.spends
        ],
    )


class LineListParams(Schema):
    disease: str = Field(..., max_length=64)
    area: str = Field("", max_length=64, description="org-unit code (default: your jurisdiction)")
    k: int = Field(5, ge=2, le=services.MAX_K)
    purpose: str = Field("surveillance", max_length=16, description="surveillance | care | research | secondary")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    max_suppression: float = Field(0.05, ge=0, le=1, allow_inf_nan=False)


class LineListOut(Schema):
    metadata: dict[str, Any] = Field(description="k requested and achieved, generalisation levels, suppressed")
    columns: list[str]
    rows: list[list[str]]
    csv: str


@router.get(
    "/release/linelist",
    response=LineListOut,
    summary="A de-identified (k-anonymous) line list of the cases in your jurisdiction",
)
@requires(services.EXPORT)
def get_line_list(request: HttpRequest, q: Query[LineListParams]) -> LineListOut:
    result = services.export_line_list(request_actor(request), services.LineListQuery(**q.model_dump()))
    columns = list(services.CSV_COLUMNS)
    return LineListOut(
        metadata=result.metadata,
        columns=columns,
        rows=[[row.get(c, "") for c in columns] for row in result.rows],
        csv=result.csv(),
    )
