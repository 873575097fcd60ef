# mypy: disallow-subclassing-any=False
"""The registry: software products, and projects (deployments of products in a country).

A :class:`Project` moves through an approval workflow::

    draft -> submitted -> approved -> published -> archived
      ^---------'  (returned with a reason)          (archived also from any earlier state)

Only the country's administrator (:class:`CountryAdmin`, or a holder of ``atlas:registry:manage``) approves,
publishes and archives. Every saved change of a product or project writes a :class:`RecordVersion` (a full
snapshot, who, when, why), so that the history shows who changed what and any two versions can be compared.

Classifications (CDHI v1/2023 interventions, health-system challenges, system categories, interoperability
standards, health areas) are ``taxonomy.Concept`` rows; organisations (implementers, funders) are
``network.Organisation`` rows shared with the knowledge hub.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DpgStatus(models.TextChoices):
    NONE = "none", "Not a digital public good"
    NOMINEE = "nominee", "DPG nominee"
    DPG = "dpg", "Digital public good (DPG Alliance registry)"


class ProductMaturity(models.TextChoices):
    """Our own coarse scale, after the Global Goods Maturity Model's low/medium/high bands."""

    EMERGING = "emerging", "Emerging (pilots, small community)"
    ESTABLISHED = "established", "Established (several deployments, active community)"
    MATURE = "mature", "Mature (national scale in several countries, sustainable community)"


class Product(models.Model):
    """A software product (e.g. DHIS2, OpenMRS), with what it can do and which standards it supports."""

    public_id = models.CharField(max_length=16, unique=True, editable=False, help_text="stable, e.g. SW-4K7Q2M")
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    website = models.URLField(max_length=300, blank=True)
    repository = models.URLField(max_length=300, blank=True)
    licence = models.CharField(max_length=64, blank=True, help_text='SPDX id, or "proprietary"')
    open_source = models.BooleanField(default=False)
    dpg_status = models.CharField(max_length=10, choices=DpgStatus.choices, default=DpgStatus.NONE)
    maturity = models.CharField(max_length=12, choices=ProductMaturity.choices, default=ProductMaturity.EMERGING)
    standards = models.ManyToManyField("taxonomy.Concept", blank=True, related_name="+", help_text="scheme standard")
    interventions = models.ManyToManyField(
        "taxonomy.Concept", blank=True, related_name="+", help_text="CDHI interventions it supports (v1 or 2023)"
    )
    system_categories = models.ManyToManyField("taxonomy.Concept", blank=True, related_name="+")
    languages = models.JSONField(default=list, blank=True, help_text="ISO 639-1 codes of its user interface")
    offline = models.BooleanField(default=False, help_text="works offline or on intermittent connectivity")
    owner = models.ForeignKey(
        "network.Organisation", null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted for approval"
    APPROVED = "approved", "Approved by the country"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Stage(models.TextChoices):
    """Stage of a deployment, from planning to scale and institutionalisation (our own scale; the DHA's ten
    stages map onto it in ``dhnet.atlas.io``)."""

    PLANNING = "planning", "Planning"
    DEVELOPMENT = "development", "Development or adaptation"
    PILOT = "pilot", "Pilot"
    DEPLOYMENT = "deployment", "Deployment"
    SCALE = "scale", "At scale"
    INSTITUTIONALISED = "institutionalised", "Institutionalised (government-owned and -funded)"
    DISCONTINUED = "discontinued", "Discontinued"


#: Stages counted as "at scale" by evidence scores and analytics.
AT_SCALE = frozenset({Stage.SCALE, Stage.INSTITUTIONALISED})


class Project(models.Model):
    """A project or deployment of one or more products in one country."""

    public_id = models.CharField(max_length=16, unique=True, editable=False, help_text="<ISO2>-<6 chars>, stable")
    name = models.CharField(max_length=250)
    country = models.CharField(max_length=2, db_index=True, help_text="ISO 3166-1 alpha-2")
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.PLANNING)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    products = models.ManyToManyField(Product, blank=True, related_name="projects")
    implementers = models.ManyToManyField("network.Organisation", blank=True, related_name="implemented_projects")
    funders = models.ManyToManyField("network.Organisation", blank=True, related_name="funded_projects")
    interventions = models.ManyToManyField("taxonomy.Concept", blank=True, related_name="+")
    challenges = models.ManyToManyField("taxonomy.Concept", blank=True, related_name="+")
    system_categories = models.ManyToManyField("taxonomy.Concept", blank=True, related_name="+")
    health_areas = models.ManyToManyField("taxonomy.Concept", blank=True, related_name="+")
    national_scale = models.BooleanField(default=False, help_text="deployed nationwide")
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(max_length=254, blank=True)
    links = models.JSONField(default=dict, blank=True, help_text="repository, website, wiki, mobile app URLs")
    version = models.PositiveIntegerField(default=1)
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="atlas_projects")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    status_note = models.TextField(blank=True, help_text="reason given when returned or archived")

    class Meta:
        ordering = ("country", "name")
        indexes = (
            models.Index(fields=["status", "country"], name="atlas_project_status_country"),
            models.Index(fields=["stage"], name="atlas_project_stage"),
        )

    def __str__(self) -> str:
        return f"{self.public_id} {self.name}"


class Coverage(models.Model):
    """Where a project runs: an org unit of this node's hierarchy when it has one, else a named place."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="coverage")
    orgunit = models.ForeignKey("orgunits.OrgUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    place = models.CharField(max_length=200, blank=True, help_text="subnational place name when no org unit")
    clients = models.PositiveIntegerField(null=True, blank=True)
    health_workers = models.PositiveIntegerField(null=True, blank=True)
    facilities = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("project", "id")


class InteropLink(models.Model):
    """A data exchange of a project with another system (a registered project, or a named system)."""

    class Kind(models.TextChoices):
        CLIENT_REGISTRY = "client_registry", "Client registry"
        HMIS = "hmis", "Health management information system (HMIS)"
        HEALTH_WORKER_REGISTRY = "health_worker_registry", "Health worker registry"
        LMIS = "lmis", "Logistics management information system"
        LIS = "lis", "Laboratory information system"
        FACILITY_REGISTRY = "facility_registry", "Facility registry"
        SHARED_HEALTH_RECORD = "shared_health_record", "Shared health record"
        TERMINOLOGY = "terminology", "Terminology service"
        OTHER = "other", "Other system"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="interop_links")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    target = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target_name = models.CharField(max_length=200, blank=True)
    standard = models.ForeignKey("taxonomy.Concept", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ("project", "id")


class CostPhase(models.TextChoices):
    """Total-cost-of-ownership phases (after Digital Square's TCO guide)."""

    PLANNING = "planning_development", "Planning and development"
    DEPLOYMENT = "deployment", "Deployment"
    SCALING = "scaling", "Scaling"
    OPERATIONS = "operations", "Operations and maintenance"


class BudgetLine(models.Model):
    """Money for a project: phase, funder, year, amount (in ``currency``, ISO 4217)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="budget_lines")
    phase = models.CharField(max_length=24, choices=CostPhase.choices)
    funder = models.ForeignKey(
        "network.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    year = models.PositiveSmallIntegerField()
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("project", "year", "phase", "id")


class MetricKind(models.TextChoices):
    USAGE = "usage", "Usage"
    OUTCOME = "outcome", "Outcome"


class MetricValue(models.Model):
    """A usage or outcome measure of a project over time (active users, facilities reporting, ...)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="metrics")
    kind = models.CharField(max_length=8, choices=MetricKind.choices)
    metric = models.CharField(
        max_length=80, help_text="e.g. active_users, facilities_reporting, reporting_completeness"
    )
    period_start = models.DateField()
    value = models.FloatField()
    unit = models.CharField(max_length=40, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("project", "metric", "period_start")
        constraints = (
            models.UniqueConstraint(fields=["project", "metric", "period_start"], name="atlas_metric_unique"),
        )


class RecordVersion(models.Model):
    """One saved state of a product or project: a full snapshot in the export shape, who, when, why."""

    class RecordKind(models.TextChoices):
        PRODUCT = "product", "Product"
        PROJECT = "project", "Project"

    kind = models.CharField(max_length=8, choices=RecordKind.choices)
    public_id = models.CharField(max_length=16)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, blank=True)
    snapshot = models.JSONField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_by_name = models.CharField(max_length=150)
    changed_at = models.DateTimeField(auto_now_add=True)
    summary = models.CharField(max_length=300, blank=True, help_text="what and why, e.g. 'submitted', 'import'")

    class Meta:
        ordering = ("kind", "public_id", "version")
        constraints = (models.UniqueConstraint(fields=["kind", "public_id", "version"], name="atlas_version_unique"),)


class CountryAdmin(models.Model):
    """A user appointed administrator of the registry for one country: approves and publishes its projects."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="atlas_countries")
    country = models.CharField(max_length=2)
    appointed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    appointed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("country", "user")
        constraints = (models.UniqueConstraint(fields=["user", "country"], name="atlas_country_admin_unique"),)
