"""``/api/v1/atlas``: the registry's products, projects, workflow, versions and country administrators.

Thin handlers over :mod:`dhnet.atlas.services`. Products and published projects are public: those endpoints take no
authentication but honour an API token or session when one is sent (a draft is then visible to its team and
administrators); a token that does not authenticate is a 401, not an anonymous read.
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import AuthenticationError
from pydantic import Field

from dhnet.atlas import services
from dhnet.atlas.models import CountryAdmin, Product, Project, RecordVersion
from dhnet.platform.access import Actor, public, request_actor, requires

router = Router(tags=["atlas"])


def _viewer(request: HttpRequest) -> Actor:
    """The caller of a public endpoint: the token's actor if a token is sent, else the session's (or anonymous)."""
    if request.headers.get("Authorization"):
        from dhnet.accounts.auth import TokenAuth

        if TokenAuth()(request) is None:
            raise AuthenticationError()
    return request_actor(request)


# --- schemas --------------------------------------------------------------------------------------------------------

TAGS = "taxonomy tags <scheme>:<code>"


class ProductIn(Schema):
    slug: str = Field(max_length=80)
    name: str = Field(max_length=200)
    description: str = Field("", max_length=20_000)
    website: str = Field("", max_length=300)
    repository: str = Field("", max_length=300)
    licence: str = Field("", max_length=64, description='SPDX id or expression, or "proprietary"')
    open_source: bool = False
    dpg_status: str = Field("none", description="none | nominee | dpg")
    maturity: str = Field("emerging", description="emerging | established | mature")
    standards: list[str] = Field(default_factory=list, max_length=200, description="tags standard:<code>")
    interventions: list[str] = Field(default_factory=list, max_length=200, description="cdhi-v1: or cdhi-2023: tags")
    system_categories: list[str] = Field(
        default_factory=list, max_length=200, description="system-category-v1: or service-app-2023: tags"
    )
    languages: list[str] = Field(default_factory=list, max_length=100, description="ISO 639-1 codes")
    offline: bool = False
    owner: str | None = Field(None, max_length=80, description="organisation slug")


class ProductPatch(Schema):
    slug: str | None = Field(None, max_length=80)
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=20_000)
    website: str | None = Field(None, max_length=300)
    repository: str | None = Field(None, max_length=300)
    licence: str | None = Field(None, max_length=64)
    open_source: bool | None = None
    dpg_status: str | None = None
    maturity: str | None = None
    standards: list[str] | None = Field(None, max_length=200)
    interventions: list[str] | None = Field(None, max_length=200)
    system_categories: list[str] | None = Field(None, max_length=200)
    languages: list[str] | None = Field(None, max_length=100)
    offline: bool | None = None
    owner: str | None = Field(None, max_length=80)
    summary: str = Field("", max_length=300, description="what and why, kept with the version")


class ProductOut(ProductIn):
    public_id: str
    version: int


class CoverageRow(Schema):
    orgunit: str | None = Field(None, max_length=64, description="org unit code of this node's hierarchy")
    place: str = Field("", max_length=200, description="a place name when there is no org unit")
    clients: int | None = None
    health_workers: int | None = None
    facilities: int | None = None


class InteropRow(Schema):
    kind: str = Field(description="client_registry | hmis | health_worker_registry | lmis | lis | ... | other")
    target: str | None = Field(None, max_length=16, description="public id of a registered project")
    target_name: str = Field("", max_length=200, description="name of a system not registered")
    standard: str | None = Field(None, max_length=80, description="tag standard:<code>")


class BudgetRow(Schema):
    phase: str = Field(description="planning_development | deployment | scaling | operations")
    funder: str | None = Field(None, max_length=80, description="organisation slug")
    year: int
    amount: str | float | int = Field(description='decimal string, e.g. "120000.00" (at most 2 decimals)')
    currency: str = Field("USD", max_length=3, description="ISO 4217")
    note: str = Field("", max_length=300)


class MetricRow(Schema):
    kind: str = Field(description="usage | outcome")
    metric: str = Field(max_length=80, description="e.g. active_users")
    period_start: str = Field(max_length=10, description="YYYY-MM-DD")
    value: float
    unit: str = Field("", max_length=40)
    note: str = Field("", max_length=300)


class ProjectIn(Schema):
    public_id: str | None = Field(None, max_length=16, description="kept for a new record when free (imports)")
    name: str = Field(max_length=250)
    country: str = Field(max_length=2, description="ISO 3166-1 alpha-2")
    description: str = Field("", max_length=20_000)
    stage: str = Field(
        "planning",
        description="planning | development | pilot | deployment | scale | institutionalised | discontinued",
    )
    start_date: str | None = Field(None, max_length=10, description="YYYY-MM-DD")
    end_date: str | None = Field(None, max_length=10)
    products: list[str] = Field(default_factory=list, max_length=50, description="product slugs")
    implementers: list[str] = Field(default_factory=list, max_length=100, description="organisation slugs")
    funders: list[str] = Field(default_factory=list, max_length=100, description="organisation slugs")
    interventions: list[str] = Field(default_factory=list, max_length=200, description=TAGS)
    challenges: list[str] = Field(default_factory=list, max_length=200, description="hsc: tags")
    system_categories: list[str] = Field(default_factory=list, max_length=200, description=TAGS)
    health_areas: list[str] = Field(default_factory=list, max_length=200, description="health-area: tags")
    national_scale: bool = False
    coverage: list[CoverageRow] = Field(default_factory=list, max_length=5000)
    interop_links: list[InteropRow] = Field(default_factory=list, max_length=200)
    budget: list[BudgetRow] = Field(default_factory=list, max_length=2000)
    metrics: list[MetricRow] = Field(default_factory=list, max_length=5000)
    contact_name: str = Field("", max_length=200)
    contact_email: str = Field("", max_length=254)
    links: dict[str, str] = Field(default_factory=dict, description="repository, website, wiki, app URLs")


class ProjectPatch(Schema):
    name: str | None = Field(None, max_length=250)
    country: str | None = Field(None, max_length=2)
    description: str | None = Field(None, max_length=20_000)
    stage: str | None = None
    start_date: str | None = Field(None, max_length=10)
    end_date: str | None = Field(None, max_length=10)
    products: list[str] | None = Field(None, max_length=50)
    implementers: list[str] | None = Field(None, max_length=100)
    funders: list[str] | None = Field(None, max_length=100)
    interventions: list[str] | None = Field(None, max_length=200)
    challenges: list[str] | None = Field(None, max_length=200)
    system_categories: list[str] | None = Field(None, max_length=200)
    health_areas: list[str] | None = Field(None, max_length=200)
    national_scale: bool | None = None
    coverage: list[CoverageRow] | None = Field(None, max_length=5000)
    interop_links: list[InteropRow] | None = Field(None, max_length=200)
    budget: list[BudgetRow] | None = Field(None, max_length=2000)
    metrics: list[MetricRow] | None = Field(None, max_length=5000)
    contact_name: str | None = Field(None, max_length=200)
    contact_email: str | None = Field(None, max_length=254)
    links: dict[str, str] | None = None
    summary: str = Field("", max_length=300, description="what and why, kept with the version")


class ProjectOut(ProjectIn):
    public_id: str
    status: str
    version: int
    current: bool = Field(description="false: the last published version, while a newer one awaits approval")
    published_version: int | None


class NoteIn(Schema):
    note: str = Field("", max_length=2000, description="approve: optional note; return and archive: the reason")


class VersionOut(Schema):
    version: int
    status: str
    changed_by: str
    changed_at: dt.datetime
    summary: str


class VersionDetailOut(VersionOut):
    snapshot: dict[str, Any]


class ChangeOut(Schema):
    field: str
    before: Any
    after: Any
    added: list[Any] = Field(description="list fields: the items added")
    removed: list[Any] = Field(description="list fields: the items removed")


class DiffQuery(Schema):
    a: int = Field(ge=1, description="the earlier version")
    b: int = Field(ge=1, description="the later version")


class ProductFilter(Schema):
    q: str = Field("", max_length=100, description="in name, slug and description")


class RegistryReviewOut(Schema):
    public_id: str
    name: str
    country: str
    status: str
    version: int
    submitted_at: dt.datetime | None


class CountryAdminIn(Schema):
    username: str = Field(max_length=150)
    country: str = Field(max_length=2)


class CountryAdminOut(Schema):
    username: str
    country: str
    appointed_by: str | None
    appointed_at: dt.datetime


class TeamIn(Schema):
    usernames: list[str] = Field(max_length=100)


# --- serialisers ----------------------------------------------------------------------------------------------------


def product_out(product: Product) -> ProductOut:
    return ProductOut(**services.product_data(product))


def _body(payload: Schema) -> dict[str, Any]:
    """The fields the caller sent (a PATCH changes only those), without ``summary``."""
    data = dict(payload.model_dump(exclude_unset=True))
    data.pop("summary", None)
    return data


def version_out(row: RecordVersion) -> VersionOut:
    return VersionOut(
        version=row.version,
        status=row.status,
        changed_by=row.changed_by_name,
        changed_at=row.changed_at,
        summary=row.summary,
    )


def project_out(view: services.ProjectView) -> ProjectOut:
    return ProjectOut(**view.data, current=view.current, published_version=view.published_version)


def review_out(p: Project) -> RegistryReviewOut:
    return RegistryReviewOut(
        public_id=p.public_id,
        name=p.name,
        country=p.country,
        status=p.status,
        version=p.version,
        submitted_at=p.submitted_at,
    )


def admin_out(row: CountryAdmin) -> CountryAdminOut:
    return CountryAdminOut(
        username=row.user.username,
        country=row.country,
        appointed_by=row.appointed_by.username if row.appointed_by else None,
        appointed_at=row.appointed_at,
    )


# --- products -------------------------------------------------------------------------------------------------------


@router.get("/atlas/products", auth=None, response=list[ProductOut], summary="Software products (public)")
@public
def list_products(request: HttpRequest, filters: Query[ProductFilter]) -> list[ProductOut]:
    return [product_out(p) for p in services.list_products(_viewer(request), filters.q)]


@router.post("/atlas/products", response={200: ProductOut, 201: ProductOut}, summary="Register a product (idempotent)")
@requires(services.PRODUCT_WRITE)
def create_product(request: HttpRequest, payload: ProductIn) -> Status[ProductOut]:
    product, created = services.create_product(request_actor(request), payload.model_dump())
    return Status(201 if created else 200, product_out(product))


@router.get("/atlas/products/{ref}", auth=None, response=ProductOut, summary="One product (public id or slug)")
@public
def get_product(request: HttpRequest, ref: str) -> ProductOut:
    return product_out(services.get_product(_viewer(request), ref))


@router.patch("/atlas/products/{ref}", response=ProductOut, summary="Change a product (a new version)")
@requires(services.PRODUCT_WRITE)
def update_product(request: HttpRequest, ref: str, payload: ProductPatch) -> ProductOut:
    product = services.update_product(request_actor(request), ref, _body(payload), payload.summary)
    return product_out(product)


@router.delete("/atlas/products/{ref}", response={204: None}, summary="Delete a product no project uses")
@requires(services.REGISTRY_MANAGE)
def delete_product(request: HttpRequest, ref: str) -> Status[None]:
    services.delete_product(request_actor(request), ref)
    return Status(204, None)


@router.get("/atlas/products/{ref}/versions", auth=None, response=list[VersionOut], summary="A product's versions")
@public
def product_versions(request: HttpRequest, ref: str) -> list[VersionOut]:
    return [version_out(v) for v in services.versions(_viewer(request), "product", ref)]


@router.get(
    "/atlas/products/{ref}/versions/{number}", auth=None, response=VersionDetailOut, summary="One product version"
)
@public
def product_version(request: HttpRequest, ref: str, number: int) -> VersionDetailOut:
    row = services.version(_viewer(request), "product", ref, number)
    return VersionDetailOut(**version_out(row).model_dump(), snapshot=row.snapshot)


@router.get("/atlas/products/{ref}/diff", auth=None, response=list[ChangeOut], summary="Changes between two versions")
@public
def product_diff(request: HttpRequest, ref: str, q: Query[DiffQuery]) -> list[ChangeOut]:
    changes = services.diff(_viewer(request), "product", ref, q.a, q.b)
    return [ChangeOut(**vars(c)) for c in changes]


# --- projects -------------------------------------------------------------------------------------------------------


@router.post(
    "/atlas/projects",
    response={200: ProjectOut, 201: ProjectOut},
    summary="Register a project (a draft; retrying the same payload returns the same record)",
)
@requires(services.PROJECT_WRITE)
def create_project(request: HttpRequest, payload: ProjectIn) -> Status[ProjectOut]:
    actor = request_actor(request)
    data = payload.model_dump()
    if data.get("public_id") is None:
        data.pop("public_id")
    project = services.create_project(actor, data)
    created = bool(getattr(project, "created_now", False))
    return Status(201 if created else 200, project_out(services.project_view(actor, project.public_id)))


@router.get(
    "/atlas/projects/{pid}",
    auth=None,
    response=ProjectOut,
    summary="One project: published ones for everyone (contact e-mail to signed-in users), others to their team",
)
@public
def get_project(request: HttpRequest, pid: str) -> ProjectOut:
    return project_out(services.project_view(_viewer(request), pid))


@router.patch("/atlas/projects/{pid}", response=ProjectOut, summary="Change a project (lists replace; a new version)")
@requires(services.PROJECT_WRITE)
def update_project(request: HttpRequest, pid: str, payload: ProjectPatch) -> ProjectOut:
    actor = request_actor(request)
    project = services.update_project(actor, pid, _body(payload), payload.summary)
    return project_out(services.project_view(actor, project.public_id))


def _workflow(request: HttpRequest, pid: str, step: str, note: str) -> ProjectOut:
    actor = request_actor(request)
    if step == "submit":
        project = services.submit(actor, pid)
    elif step == "approve":
        project = services.approve(actor, pid, note)
    elif step == "publish":
        project = services.publish(actor, pid)
    elif step == "return":
        project = services.return_to_draft(actor, pid, note)
    else:
        project = services.archive(actor, pid, note)
    return project_out(services.project_view(actor, project.public_id))


@router.post("/atlas/projects/{pid}/submit", response=ProjectOut, summary="Draft -> submitted (the team)")
@requires(services.PROJECT_WRITE)
def submit(request: HttpRequest, pid: str) -> ProjectOut:
    return _workflow(request, pid, "submit", "")


@router.post("/atlas/projects/{pid}/approve", response=ProjectOut, summary="Submitted -> approved (country admin)")
@requires(services.PROJECT_APPROVE)
def approve(request: HttpRequest, pid: str, payload: NoteIn) -> ProjectOut:
    return _workflow(request, pid, "approve", payload.note)


@router.post("/atlas/projects/{pid}/publish", response=ProjectOut, summary="Approved -> published (country admin)")
@requires(services.PROJECT_APPROVE)
def publish(request: HttpRequest, pid: str) -> ProjectOut:
    return _workflow(request, pid, "publish", "")


@router.post("/atlas/projects/{pid}/return", response=ProjectOut, summary="Back to draft with a reason (admin)")
@requires(services.PROJECT_APPROVE)
def return_to_draft(request: HttpRequest, pid: str, payload: NoteIn) -> ProjectOut:
    return _workflow(request, pid, "return", payload.note)


@router.post("/atlas/projects/{pid}/archive", response=ProjectOut, summary="Archive with a reason (country admin)")
@requires(services.PROJECT_APPROVE)
def archive(request: HttpRequest, pid: str, payload: NoteIn) -> ProjectOut:
    return _workflow(request, pid, "archive", payload.note)


@router.get(
    "/atlas/projects/{pid}/versions",
    auth=None,
    response=list[VersionOut],
    summary="A project's versions (all to its team and administrators; the published ones to everyone else)",
)
@public
def project_versions(request: HttpRequest, pid: str) -> list[VersionOut]:
    return [version_out(v) for v in services.versions(_viewer(request), "project", pid)]


@router.get(
    "/atlas/projects/{pid}/versions/{number}", auth=None, response=VersionDetailOut, summary="One project version"
)
@public
def project_version(request: HttpRequest, pid: str, number: int) -> VersionDetailOut:
    row = services.version(_viewer(request), "project", pid, number)
    snapshot = dict(row.snapshot)
    if not _viewer(request).is_authenticated:
        snapshot["contact_email"] = ""
    return VersionDetailOut(**version_out(row).model_dump(), snapshot=snapshot)


@router.get("/atlas/projects/{pid}/diff", auth=None, response=list[ChangeOut], summary="Changes between two versions")
@public
def project_diff(request: HttpRequest, pid: str, q: Query[DiffQuery]) -> list[ChangeOut]:
    viewer = _viewer(request)
    changes = services.diff(viewer, "project", pid, q.a, q.b)
    hidden = () if viewer.is_authenticated else ("contact_email",)  # for signed-in users only
    return [ChangeOut(**vars(c)) for c in changes if c.field not in hidden]


@router.get("/atlas/projects/{pid}/team", response=list[str], summary="The project's team (usernames)")
@requires(services.PROJECT_WRITE)
def get_team(request: HttpRequest, pid: str) -> list[str]:
    return [u.username for u in services.team(request_actor(request), pid)]


@router.put("/atlas/projects/{pid}/team", response=list[str], summary="Replace the team (the creator stays)")
@requires(services.PROJECT_WRITE)
def set_team(request: HttpRequest, pid: str, payload: TeamIn) -> list[str]:
    return [u.username for u in services.set_team(request_actor(request), pid, payload.usernames)]


@router.get(
    "/atlas/my-projects", response=list[RegistryReviewOut], summary="Projects the caller created or is on the team of"
)
@requires(services.PROJECT_WRITE)
def my_projects(request: HttpRequest) -> list[RegistryReviewOut]:
    return [review_out(p) for p in services.my_projects(request_actor(request))]


@router.get(
    "/atlas/review", response=list[RegistryReviewOut], summary="Projects awaiting the caller's approval or publication"
)
@requires(services.PROJECT_APPROVE)
def review_queue(request: HttpRequest) -> list[RegistryReviewOut]:
    return [review_out(p) for p in services.review_queue(request_actor(request))]


# --- country administrators -----------------------------------------------------------------------------------------


@router.get("/atlas/country-admins", response=list[CountryAdminOut], summary="Country administrators")
@requires(services.REGISTRY_MANAGE)
def list_country_admins(request: HttpRequest, country: str = "") -> list[CountryAdminOut]:
    return [admin_out(r) for r in services.country_admins(request_actor(request), country or None)]


@router.post(
    "/atlas/country-admins",
    response={200: CountryAdminOut, 201: CountryAdminOut},
    summary="Appoint a country administrator (idempotent)",
)
@requires(services.REGISTRY_MANAGE)
def appoint_country_admin(request: HttpRequest, payload: CountryAdminIn) -> Status[CountryAdminOut]:
    row, created = services.appoint_country_admin(request_actor(request), payload.username, payload.country)
    return Status(201 if created else 200, admin_out(row))


@router.delete("/atlas/country-admins/{country}/{username}", response={204: None}, summary="End an appointment")
@requires(services.REGISTRY_MANAGE)
def remove_country_admin(request: HttpRequest, country: str, username: str) -> Status[None]:
    services.remove_country_admin(request_actor(request), username, country)
    return Status(204, None)
