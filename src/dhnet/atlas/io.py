"""Import and export of the registry: JSON (our canonical shapes), CSV (projects), and the WHO DHA project shape.

Formats (``fmt``):

``json``
    ``{"format": "dhnet-atlas-1", "organisations": [...], "products": [...], "projects": [...]}``: products and
    projects in the canonical shapes of ``docs/atlas-design.md``, plus the organisations they name
    (``{slug, name, kind, countries}``) so that a file imported into an empty registry loses nothing.
``csv``
    Projects only, one row per project (columns :data:`CSV_FIELDS`): list fields ``;``-separated, the nested lists
    (coverage, interop_links, budget, metrics) and ``links`` as JSON in their cells. Products are named by slug only:
    they must be registered already (import them with a JSON file). Organisations named but not registered are
    created (kind ``other``, named after the slug) and reported.
``dha``
    A JSON array of WHO Digital Health Atlas project records (field names of the DHA's published-project serializer,
    ``dha_project_schema.json``), mapped field by field with ``data/dha_mapping.json`` (see ``data/README.md``).
    What the DHA shape cannot hold (our stage, budget lines, metrics, coverage by org unit code, interoperability
    links with their targets, CDHI 2023 and health-area tags, organisation slugs) travels in an extension object
    ``x_dhnet`` that DHA readers ignore; a DHA record without it is imported from the DHA fields alone.

Import (:func:`import_projects`) validates every record with the registry's ``validate_product`` /
``validate_project`` first, inside one transaction: any error and the transaction is rolled back, nothing is stored,
and the report lists every bad row (``RowError(row, field, message)``; for CSV the row is the file's line number,
for JSON and DHA the position in the ``projects`` list, from 1). Records are matched on ``public_id``, else on
(country, case-insensitive name) for projects and on slug for products; a record equal to the stored one is
``unchanged``, so importing the same file twice stores nothing the second time. A ``public_id`` not registered on
this node is kept (the record keeps its identity from the node it came from), and interoperability links may point
at projects created by the same file.

Export (:func:`export_projects`) writes records sorted (projects by public id, products and organisations by
slug; JSON keys sorted), so exporting, importing into an empty registry and exporting again gives the same bytes.
A project's contact e-mail is left out for anonymous callers (it is for signed-in users only).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from dhnet.atlas import services as registry
from dhnet.atlas.models import (
    BudgetLine,
    Coverage,
    InteropLink,
    MetricValue,
    Product,
    Project,
    ProjectStatus,
    RecordVersion,
)
from dhnet.audit.services import record
from dhnet.network.models import Organisation, OrganisationKind
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, ServiceError
from dhnet.taxonomy.models import Concept

FORMATS = ("json", "csv", "dha")
JSON_FORMAT = "dhnet-atlas-1"
CSV_FIELDS = (
    "public_id",
    "status",
    "version",
    "name",
    "country",
    "description",
    "stage",
    "start_date",
    "end_date",
    "products",
    "implementers",
    "funders",
    "interventions",
    "challenges",
    "system_categories",
    "health_areas",
    "national_scale",
    "coverage",
    "interop_links",
    "budget",
    "metrics",
    "contact_name",
    "contact_email",
    "links",
)
CSV_LIST_FIELDS = (
    "products",
    "implementers",
    "funders",
    "interventions",
    "challenges",
    "system_categories",
    "health_areas",
)
CSV_JSON_FIELDS = ("coverage", "interop_links", "budget", "metrics")
MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 20_000
MAX_REPORTED = 1000
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class RowError:
    """One defect of an imported file: the row (CSV line number, else position from 1; 0 for the file as a
    whole), the field's path within the record, and what is wrong."""

    row: int
    field: str
    message: str


@dataclass
class ImportReport:
    """What an import did (or, with ``errors``, why it stored nothing)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    organisations_created: list[str] = field(default_factory=list)
    public_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "products_created": self.products_created,
            "products_updated": self.products_updated,
            "products_unchanged": self.products_unchanged,
            "organisations_created": self.organisations_created,
            "public_ids": self.public_ids,
            "errors": [{"row": e.row, "field": e.field, "message": e.message} for e in self.errors],
        }


class _Rejected(Exception):
    """Raised inside the import transaction to roll it back once errors were collected."""


@dataclass
class _Parsed:
    organisations: list[dict[str, Any]] = field(default_factory=list)
    products: list[tuple[int, Any]] = field(default_factory=list)
    projects: list[tuple[int, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


# --- export ---------------------------------------------------------------------------------------------------------


def project_records(projects: QuerySet[Project]) -> list[dict[str, Any]]:
    """``project_data`` of every project of ``projects`` (by public id), read with a dozen queries in all instead
    of a dozen per project: the same shape, built by the registry's own ``_project_shape`` (a test compares)."""
    tags = [Prefetch(name, queryset=Concept.objects.select_related("scheme")) for name in registry.PROJECT_TAG_FIELDS]
    rows = projects.order_by("public_id").prefetch_related(
        "products",
        "implementers",
        "funders",
        *tags,
        Prefetch("coverage", queryset=Coverage.objects.select_related("orgunit").order_by("id")),
        Prefetch(
            "interop_links", queryset=InteropLink.objects.select_related("target", "standard__scheme").order_by("id")
        ),
        Prefetch("budget_lines", queryset=BudgetLine.objects.select_related("funder").order_by("id")),
        Prefetch("metrics", queryset=MetricValue.objects.order_by("id")),
    )
    out = []
    for project in rows.iterator(chunk_size=500):
        values = {name: getattr(project, name) for name in registry.PROJECT_FIELDS if hasattr(Project, name)}
        content = registry._project_shape(
            values,
            products=[p.slug for p in project.products.all()],
            implementers=[o.slug for o in project.implementers.all()],
            funders=[o.slug for o in project.funders.all()],
            tags={name: [c.tag for c in getattr(project, name).all()] for name in registry.PROJECT_TAG_FIELDS},
            coverage=project.coverage.all(),
            interop=project.interop_links.all(),
            budget=project.budget_lines.all(),
            metrics=project.metrics.all(),
        )
        head = {"public_id": project.public_id, "name": content["name"], "country": content["country"]}
        head.update({"description": content["description"], "status": project.status})
        rest = {k: v for k, v in content.items() if k not in head}
        out.append({**head, **rest, "version": project.version})
    return out


def _project_records(actor: Actor, projects: QuerySet[Project]) -> list[dict[str, Any]]:
    rows = project_records(projects)
    if not actor.is_authenticated:
        for row in rows:
            row["contact_email"] = ""
    return rows


def _organisation_records(slugs: Iterable[str]) -> list[dict[str, Any]]:
    orgs = Organisation.objects.filter(slug__in=set(slugs)).order_by("slug")
    return [{"slug": o.slug, "name": o.name, "kind": o.kind, "countries": list(o.countries or [])} for o in orgs]


def _org_slugs(projects: Iterable[dict[str, Any]], products: Iterable[dict[str, Any]] = ()) -> set[str]:
    slugs: set[str] = set()
    for p in projects:
        slugs.update(p["implementers"], p["funders"], (b["funder"] for b in p["budget"] if b["funder"]))
    slugs.update(p["owner"] for p in products if p.get("owner"))
    return slugs


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")


def export_projects(actor: Actor, qs: QuerySet[Project], fmt: str = "json") -> bytes:
    """The projects of ``qs`` (the caller has limited it to what ``actor`` may see) in format ``fmt``, sorted.

    Published projects are public; an export that includes unpublished ones (the actor's team's, a country
    administrator's, a registry manager's) is audited as one ``atlas.project.read`` naming them.
    """
    if fmt not in FORMATS:
        raise Invalid(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    projects = _project_records(actor, qs)
    unpublished = [p["public_id"] for p in projects if p["status"] != ProjectStatus.PUBLISHED]
    if unpublished:
        record(
            actor,
            "atlas.project.read",
            object_type="atlas.project",
            object_id=f"export:{len(unpublished)}",
            detail={"export": fmt, "count": len(unpublished), "public_ids": unpublished[:MAX_REPORTED]},
        )
    if fmt == "csv":
        return _to_csv(projects)
    slugs = sorted({s for p in projects for s in p["products"]})
    products = [registry.product_data(p) for p in Product.objects.filter(slug__in=slugs).order_by("slug")]
    if fmt == "dha":
        return _dumps([to_dha(p, _Names.load(projects, products)) for p in projects])
    return _dumps(
        {
            "format": JSON_FORMAT,
            "organisations": _organisation_records(_org_slugs(projects, products)),
            "products": products,
            "projects": projects,
        }
    )


def _to_csv(projects: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for p in projects:
        row: dict[str, Any] = {}
        for name in CSV_FIELDS:
            value = p.get(name)
            if name in CSV_LIST_FIELDS:
                row[name] = ";".join(value or [])
            elif name in CSV_JSON_FIELDS or name == "links":
                row[name] = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            elif name == "national_scale":
                row[name] = "true" if value else "false"
            else:
                row[name] = "" if value is None else value
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


# --- parsing --------------------------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise Invalid(f"file: {len(data)} bytes is more than the {MAX_BYTES // (1024 * 1024)} MiB accepted")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"file: not UTF-8 text (byte {exc.start})") from None


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"file: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def _parse_json(text: str) -> _Parsed:
    doc = _load_json(text)
    parsed = _Parsed()
    if not isinstance(doc, dict):
        raise Invalid(
            f'file: expected a JSON object {{"format": "{JSON_FORMAT}", "products": [...], "projects": [...]}}'
        )
    if doc.get("format") not in (None, JSON_FORMAT):
        raise Invalid(f"format: {str(doc.get('format'))[:40]!r} is not {JSON_FORMAT!r}")
    unknown = sorted(set(doc) - {"format", "organisations", "products", "projects"})
    if unknown:
        raise Invalid(f"{unknown[0]}: not a part of a registry file (format, organisations, products, projects)")
    for name in ("organisations", "products", "projects"):
        if not isinstance(doc.get(name, []), list):
            raise Invalid(f"{name}: expected a list")
    for i, org in enumerate(doc.get("organisations", [])):
        if not isinstance(org, dict) or not isinstance(org.get("slug"), str):
            parsed.errors.append(RowError(i + 1, f"organisations[{i}]", "expected an object with a slug"))
            continue
        parsed.organisations.append(org)
    parsed.products = [(i + 1, p) for i, p in enumerate(doc.get("products", []))]
    parsed.projects = [(i + 1, p) for i, p in enumerate(doc.get("projects", []))]
    return parsed


_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}


def _parse_csv(text: str) -> _Parsed:
    parsed = _Parsed()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise Invalid("file: empty (expected a header row naming the columns)") from None
    except csv.Error as exc:
        raise Invalid(f"line 1: {exc}") from None
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in CSV_FIELDS]
    if unknown:
        raise Invalid(f"line 1: unknown column {unknown[0]!r} (columns: {', '.join(CSV_FIELDS)})")
    if "name" not in header or "country" not in header:
        raise Invalid("line 1: the columns name and country are required")
    last = reader.line_num
    while True:
        start = last + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            parsed.errors.append(RowError(start, "", str(exc)))
            break
        last = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            parsed.errors.append(RowError(start, "", f"{len(cells)} cells where the header has {len(header)}"))
            continue
        row: dict[str, Any] = {}
        bad = False
        for name, cell in zip(header, cells, strict=True):
            if name in ("status", "version"):
                continue
            value: Any = cell
            if name in CSV_LIST_FIELDS:
                value = [v.strip() for v in cell.split(";") if v.strip()]
            elif name in CSV_JSON_FIELDS or name == "links":
                if cell.strip():
                    try:
                        value = json.loads(cell)
                    except json.JSONDecodeError as exc:
                        parsed.errors.append(RowError(start, name, f"not JSON: {exc.msg} at column {exc.colno}"))
                        bad = True
                        continue
                else:
                    value = {} if name == "links" else []
            elif name == "national_scale":
                word = cell.strip().lower()
                if word not in _TRUE | _FALSE:
                    parsed.errors.append(RowError(start, name, f"{cell[:20]!r} is not true or false"))
                    bad = True
                    continue
                value = word in _TRUE
            elif name in ("start_date", "end_date", "public_id"):
                value = cell.strip() or None
            row[name] = value
        if not bad:
            parsed.projects.append((start, row))
        if len(parsed.projects) > MAX_ROWS:
            raise Invalid(f"file: more than {MAX_ROWS} rows")
    return parsed


# --- the DHA shape --------------------------------------------------------------------------------------------------


@cache
def dha_mapping() -> dict[str, Any]:
    """``data/dha_mapping.json`` with reverse tables added (code -> DHA id)."""
    m: dict[str, Any] = json.loads((DATA / "dha_mapping.json").read_text(encoding="utf-8"))
    for name in ("cdhi", "hsc", "his_bucket", "focus_areas"):
        m[name + "_ids"] = {code: int(dha_id) for dha_id, code in m[name].items()}
    m["interop_names"] = {kind: name for name, kind in m["interop_links"].items()}
    return m


@dataclass
class _Names:
    """Display names the DHA shape uses instead of our slugs and tags."""

    products: dict[str, str]
    organisations: dict[str, str]
    concepts: dict[str, str]

    @classmethod
    def load(cls, projects: list[dict[str, Any]], products: list[dict[str, Any]]) -> _Names:
        orgs = {o.slug: o.name for o in Organisation.objects.filter(slug__in=_org_slugs(projects))}
        tags = {
            t
            for p in projects
            for t in [*p["challenges"], *(link["standard"] for link in p["interop_links"] if link["standard"])]
        }
        concepts = {c.tag: c.name for c in _concepts_by_tag(tags)}
        return cls({p["slug"]: p["name"] for p in products}, orgs, concepts)


def _concepts_by_tag(tags: Iterable[str]) -> list[Concept]:
    wanted = list(tags)
    if not wanted:
        return []
    codes = {t.partition(":")[2] for t in wanted}
    rows = Concept.objects.filter(code__in=codes).select_related("scheme")
    return [c for c in rows if c.tag in set(wanted)]


def to_dha(p: dict[str, Any], names: _Names) -> dict[str, Any]:
    """One project in the DHA published-project shape, with ``x_dhnet`` for what that shape cannot hold."""
    m = dha_mapping()
    tags_of = {s: [t.partition(":")[2] for t in p[f] if t.startswith(s + ":")] for s, f in _DHA_TAGS}
    hsc_known = [c for c in tags_of["hsc"] if c in m["hsc_ids"]]
    hsc_other = [names.concepts.get(f"hsc:{c}", f"hsc:{c}") for c in tags_of["hsc"] if c not in m["hsc_ids"]]
    stage_id = m["stage_out"][p["stage"]]
    national = p["national_scale"]
    totals = {k: sum((c.get(k) or 0) for c in p["coverage"]) for k in ("clients", "health_workers", "facilities")}
    return {
        "public_id": p["public_id"],
        "name": p["name"],
        "country": p["country"],
        "organisation": names.organisations.get(p["implementers"][0], "") if p["implementers"] else "",
        "geographic_scope": "; ".join(c["place"] or c["orgunit"] or "" for c in p["coverage"]),
        "implementation_overview": p["description"],
        "contact_name": p["contact_name"],
        "contact_email": p["contact_email"],
        "software": [names.products.get(s, s) for s in p["products"]],
        "dhis": sorted(m["cdhi_ids"][c] for c in tags_of["cdhi-v1"] if c in m["cdhi_ids"]),
        "health_focus_areas": sorted(
            m["focus_areas_ids"][c] for c in tags_of["health-area"] if c in m["focus_areas_ids"]
        ),
        "hsc_challenges": sorted(m["hsc_ids"][c] for c in hsc_known),
        "hsc_challenges_other": hsc_other,
        "his_bucket": sorted(m["his_bucket_ids"][c] for c in tags_of["system-category-v1"] if c in m["his_bucket_ids"]),
        "coverage": [
            {
                "district": c["place"] or c["orgunit"],
                "clients": c["clients"],
                "health_workers": c["health_workers"],
                "facilities": c["facilities"],
                "facilities_list": [],
            }
            for c in p["coverage"]
        ],
        "national_level_deployment": {**totals, "facilities_list": []} if national else None,
        "implementing_partners": [names.organisations.get(s, s) for s in p["implementers"]],
        "donors": [names.organisations.get(s, s) for s in p["funders"]],
        "start_date": p["start_date"],
        "end_date": p["end_date"],
        "end_date_note": "discontinued" if p["stage"] == "discontinued" else "",
        "stages": [{"id": stage_id, "date": p["start_date"], "note": m["stage_names"][str(stage_id)]}]
        if stage_id
        else [],
        "repository": p["links"].get("repository", ""),
        "mobile_application": p["links"].get("mobile_application", ""),
        "wiki": p["links"].get("wiki", ""),
        "interoperability_links": [
            {
                "id": m["interop_names"].get(link["kind"], "Other"),
                "selected": True,
                "link": link["target"] or link["target_name"],
            }
            for link in p["interop_links"]
        ],
        "interoperability_standards": sorted(
            {names.concepts.get(link["standard"], link["standard"]) for link in p["interop_links"] if link["standard"]}
        ),
        "x_dhnet": {
            "stage": p["stage"],
            "products": p["products"],
            "implementers": p["implementers"],
            "funders": p["funders"],
            "interventions": p["interventions"],
            "challenges": p["challenges"],
            "system_categories": p["system_categories"],
            "health_areas": p["health_areas"],
            "national_scale": national,
            "coverage": p["coverage"],
            "interop_links": p["interop_links"],
            "budget": p["budget"],
            "metrics": p["metrics"],
            "links": p["links"],
        },
    }


_DHA_TAGS: tuple[tuple[str, str], ...] = (
    ("cdhi-v1", "interventions"),
    ("hsc", "challenges"),
    ("system-category-v1", "system_categories"),
    ("health-area", "health_areas"),
)


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "organisation"


def from_dha(rec: Any, *, org_slug: Callable[[str], str], product_slug: Callable[[str], str]) -> dict[str, Any]:
    """A DHA project record -> our canonical project shape (the fields ``x_dhnet`` carries win over the DHA
    fields they refine). Unknown DHA ids are kept as tags that fail validation, so the report names them."""
    if not isinstance(rec, dict):
        raise Invalid("expected a JSON object (a DHA project record)")
    m = dha_mapping()
    x = rec.get("x_dhnet") or {}
    if not isinstance(x, dict):
        raise registry.FieldInvalid("x_dhnet", "expected an object")

    def ids(name: str) -> list[Any]:
        raw = rec.get(name) or []
        if not isinstance(raw, list):
            raise registry.FieldInvalid(name, "expected a list")
        return raw

    def mapped(name: str, table: str, scheme: str) -> list[str]:
        return [f"{scheme}:{m[table].get(str(i), f'dha-{i}')}" for i in ids(name)]

    stage = "planning"
    stage_ids = [s.get("id") for s in ids("stages") if isinstance(s, dict)]
    known = [int(str(i)) for i in stage_ids if str(i) in m["stages_in"]]
    if known:
        stage = m["stages_in"][str(max(known))]
    if str(rec.get("end_date_note") or "").lower().startswith("discontinued"):
        stage = "discontinued"
    hsc = mapped("hsc_challenges", "hsc", "hsc")
    if rec.get("hsc_challenges_other"):
        by_name = {c.name.lower(): c.tag for c in Concept.objects.filter(scheme__code="hsc")}
        hsc += [by_name.get(str(n).lower(), f"hsc:{n}") for n in ids("hsc_challenges_other")]
    coverage = [
        {
            "orgunit": None,
            "place": str(c.get("district") or ""),
            "clients": c.get("clients"),
            "health_workers": c.get("health_workers"),
            "facilities": c.get("facilities"),
        }
        for c in ids("coverage")
        if isinstance(c, dict)
    ]
    links = {k: rec[k] for k in ("repository", "mobile_application", "wiki") if rec.get(k)}
    interop = []
    for link in ids("interoperability_links"):
        if isinstance(link, dict) and link.get("selected", True):
            target = str(link.get("link") or "")
            is_id = bool(registry.PUBLIC_ID_RE.match(target.upper())) if target else False
            interop.append(
                {
                    "kind": m["interop_links"].get(str(link.get("id")), "other"),
                    "target": target.upper() if is_id else None,
                    "target_name": "" if is_id else target or str(link.get("id") or ""),
                    "standard": None,
                }
            )
    data = {
        "name": rec.get("name"),
        "country": rec.get("country"),
        "description": rec.get("implementation_overview") or "",
        "stage": stage,
        "start_date": rec.get("start_date") or None,
        "end_date": rec.get("end_date") or None,
        "products": [product_slug(str(s)) for s in ids("software")],
        "implementers": [org_slug(str(s)) for s in ids("implementing_partners")],
        "funders": [org_slug(str(s)) for s in ids("donors")],
        "interventions": mapped("dhis", "cdhi", "cdhi-v1"),
        "challenges": hsc,
        "system_categories": mapped("his_bucket", "his_bucket", "system-category-v1"),
        "health_areas": mapped("health_focus_areas", "focus_areas", "health-area"),
        "national_scale": bool(rec.get("national_level_deployment")),
        "coverage": coverage,
        "interop_links": interop,
        "budget": [],
        "metrics": [],
        "contact_name": rec.get("contact_name") or "",
        "contact_email": rec.get("contact_email") or "",
        "links": links,
    }
    if isinstance(rec.get("public_id"), str) and registry.PUBLIC_ID_RE.match(rec["public_id"].upper()):
        data["public_id"] = rec["public_id"]  # ours; the DHA's own "<ISO2><hashid>" ids are dropped (name matches)
    for name, value in x.items():
        if name not in data or name in ("name", "country"):
            raise registry.FieldInvalid(f"x_dhnet.{name}", "not a field the extension carries")
        data[name] = value
    return data


def _parse_dha(text: str) -> _Parsed:
    doc = _load_json(text)
    if isinstance(doc, dict) and isinstance(doc.get("projects"), list):
        doc = doc["projects"]
    if not isinstance(doc, list):
        raise Invalid("file: expected a JSON array of DHA project records")
    return _Parsed(projects=[(i + 1, rec) for i, rec in enumerate(doc)])


# --- import ---------------------------------------------------------------------------------------------------------


def _field_error(row: int, exc: ServiceError, prefix: str = "") -> RowError:
    if isinstance(exc, registry.FieldInvalid):
        return RowError(row, prefix + exc.field, exc.problem)
    return RowError(row, prefix.rstrip("."), exc.message)


class _Importer:
    """One import, inside one transaction (see :func:`import_projects`)."""

    def __init__(
        self, actor: Actor, parsed: _Parsed, fmt: str, publish: bool, progress: Callable[[int, int], None] | None
    ) -> None:
        self.actor = actor
        self.progress = progress
        self.done = 0
        self.parsed = parsed
        self.fmt = fmt
        self.status: str | None = str(ProjectStatus.PUBLISHED) if publish else None
        self.report = ImportReport(errors=list(parsed.errors))
        self.org_names = {o["slug"]: o for o in parsed.organisations}

    def step(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, 2 * len(self.parsed.projects))

    def error(self, row: int, field_name: str, message: str) -> None:
        self.report.errors.append(RowError(row, field_name, message))

    # organisations named but not registered: created (kind other unless the file says), reported
    def organisations(self, records: list[tuple[int, dict[str, Any]]], products: list[tuple[int, Any]]) -> None:
        wanted: set[str] = set()
        for _, p in records:
            for name in ("implementers", "funders"):
                if isinstance(p.get(name), list):
                    wanted.update(s for s in p[name] if isinstance(s, str))
            budget = p.get("budget")
            for line in budget if isinstance(budget, list) else []:
                if isinstance(line, dict) and isinstance(line.get("funder"), str):
                    wanted.add(line["funder"])
        for _, prod in products:
            if isinstance(prod, dict) and isinstance(prod.get("owner"), str):
                wanted.add(prod["owner"])
        wanted.update(self.org_names)
        wanted = {s for s in wanted if SLUG_RE.match(s)}
        known = set(Organisation.objects.filter(slug__in=wanted).values_list("slug", flat=True))
        new = []
        for slug in sorted(wanted - known):
            given = self.org_names.get(slug, {})
            kind = given.get("kind") if given.get("kind") in OrganisationKind.values else OrganisationKind.OTHER
            raw_countries = given.get("countries")
            countries: list[Any] = raw_countries if isinstance(raw_countries, list) else []
            name = str(given.get("name") or slug.replace("-", " ").capitalize())[:200]
            new.append(
                Organisation(
                    slug=slug,
                    name=name,
                    kind=kind,
                    countries=[str(c)[:2].upper() for c in countries],
                    created_by_id=self.actor.user_id,
                    description="Created by a registry import.",
                )
            )
        Organisation.objects.bulk_create(new)
        self.report.organisations_created = [o.slug for o in new]

    def products(self) -> None:
        for row, data in self.parsed.products:
            where = f"products[{row - 1}]."
            try:
                inp = registry.validate_product(data)
            except ServiceError as exc:
                self.report.errors.append(_field_error(row, exc, where))
                continue
            existing = None
            if inp.public_id:
                existing = Product.objects.filter(public_id=inp.public_id).first()
            if existing is None:
                existing = Product.objects.filter(slug=inp.values["slug"]).first()
            try:
                if existing is None:
                    registry.create_product(self.actor, data, summary="import")
                    self.report.products_created += 1
                elif registry._product_content(existing) == inp.data:
                    self.report.products_unchanged += 1
                else:
                    registry.update_product(self.actor, existing.public_id, inp.data, summary="import")
                    self.report.products_updated += 1
            except ServiceError as exc:
                self.report.errors.append(_field_error(row, exc, where))

    def projects(self, records: list[tuple[int, dict[str, Any]]]) -> None:
        given_ids = {str(p.get("public_id") or "").upper() for _, p in records} - {""}
        stored = set(Project.objects.filter(public_id__in=given_ids).values_list("public_id", flat=True))
        incoming = given_ids - stored  # created by this file: links to them are set once they exist
        seen_keys: dict[tuple[str, str], int] = {}
        seen_ids: dict[str, int] = {}
        plans: list[tuple[int, dict[str, Any], registry.ProjectInput, Project | None, list[tuple[int, dict]]]] = []
        for row, data in records:
            self.step()
            deferred: list[tuple[int, dict[str, Any]]] = []
            body = dict(data)
            links = body.get("interop_links")
            if isinstance(links, list):
                kept = []
                for i, link in enumerate(links):
                    target = link.get("target") if isinstance(link, dict) else None
                    if isinstance(target, str) and target.upper() in incoming:
                        deferred.append((i, link))
                    else:
                        kept.append(link)
                body["interop_links"] = kept
            try:
                inp = registry.validate_project(body)
                for i, link in deferred:
                    _check_link(i, link)
            except ServiceError as exc:
                self.report.errors.append(_field_error(row, exc))
                continue
            key = (inp.values["country"], inp.values["name"].lower())
            if key in seen_keys:
                self.error(row, "name", f"{inp.values['name']!r} in {key[0]} is also row {seen_keys[key]}")
                continue
            seen_keys[key] = row
            existing = None
            if inp.public_id:
                if inp.public_id in seen_ids:
                    self.error(row, "public_id", f"{inp.public_id} is also row {seen_ids[inp.public_id]}")
                    continue
                seen_ids[inp.public_id] = row
                if inp.public_id[:2] != inp.values["country"]:
                    self.error(row, "public_id", f"{inp.public_id} does not start with the country {key[0]}")
                    continue
                existing = Project.objects.filter(public_id=inp.public_id).first()
                if existing is None and not _free(inp.public_id):
                    self.error(row, "public_id", f"{inp.public_id} was used by a record that no longer exists")
                    continue
            if existing is None:
                existing = registry.find_duplicate(key[0], inp.values["name"])
                if existing is not None and inp.public_id and existing.public_id != inp.public_id:
                    self.error(row, "name", f"a project {existing.name!r} exists as {existing.public_id} already")
                    continue
            if existing is None and self.status and not registry.may_administer(self.actor, key[0]):
                self.error(row, "country", f"publishing a project of {key[0]} requires its country administrator")
                continue
            if existing is None and not self.actor.has(registry.PROJECT_WRITE):
                self.error(row, "", f"registering a project requires {registry.PROJECT_WRITE}")
                continue
            plans.append((row, data, inp, existing, deferred))
        if self.report.errors:
            return
        created: list[tuple[int, Project, registry.ProjectInput, list[tuple[int, dict]]]] = []
        for row, _data, inp, existing, deferred in plans:
            self.step()
            if existing is None:
                created.append((row, self._create_rows(inp), inp, deferred))
        by_id = {p.public_id: p for _, p, _, _ in created}
        for _row, project, _inp, deferred in created:
            _add_links(project, deferred, by_id)
        snapshots = project_records(Project.objects.filter(pk__in=[p.pk for _, p, _, _ in created]))
        RecordVersion.objects.bulk_create(
            [
                RecordVersion(
                    kind="project",
                    public_id=snap["public_id"],
                    version=1,
                    status=snap["status"],
                    snapshot=snap,
                    changed_by_id=self.actor.user_id,
                    changed_by_name=self.actor.username[:150],
                    summary="import",
                )
                for snap in snapshots
            ]
        )
        for _row, project, _inp, _ in created:
            self.report.created += 1
            self.report.public_ids.append(project.public_id)
        current = {
            r["public_id"]: {k: v for k, v in r.items() if k not in registry.OUTPUT_ONLY}
            for r in project_records(Project.objects.filter(pk__in=[e.pk for _, _, _, e, _ in plans if e is not None]))
        }
        for row, data, inp, existing, deferred in plans:
            if existing is None:
                continue
            if deferred:  # the targets exist now
                try:
                    inp = registry.validate_project(data)
                except ServiceError as exc:
                    self.report.errors.append(_field_error(row, exc))
                    continue
            status = self.status if self.status and self.status != existing.status else None
            if current[existing.public_id] == inp.data and status is None:
                self.report.unchanged += 1
                self.report.public_ids.append(existing.public_id)
                continue
            try:
                project = registry.save_project_input(self.actor, inp, existing, "import", status=status)
            except ServiceError as exc:
                self.report.errors.append(_field_error(row, exc))
                continue
            self.report.updated += 1
            self.report.public_ids.append(project.public_id)
        if created:
            record(
                self.actor,
                "atlas.project.create",
                object_type="atlas.project",
                object_id=f"import:{len(created)}",
                detail={
                    "summary": "import",
                    "format": self.fmt,
                    "status": self.status or ProjectStatus.DRAFT,
                    "public_ids": sorted(p.public_id for _, p, _, _ in created)[:MAX_REPORTED],
                },
                permission=registry.PROJECT_WRITE if self.actor.has(registry.PROJECT_WRITE) else None,
            )

    def _create_rows(self, inp: registry.ProjectInput) -> Project:
        country = inp.values["country"]
        pid = inp.public_id if inp.public_id and inp.public_id[:2] == country else None
        project = Project(
            public_id=pid or registry.new_public_id(country),
            created_by_id=self.actor.user_id,
            version=1,
            status=self.status or ProjectStatus.DRAFT,
        )
        for name, value in inp.values.items():
            setattr(project, name, value)
        if self.status == str(ProjectStatus.PUBLISHED):
            project.published_at = project.approved_at = timezone.now()
            project.approved_by_id = self.actor.user_id
        project.save()
        if self.actor.user_id is not None:
            project.team.add(self.actor.user_id)
        registry._write_project_rows(project, inp)
        return project


def _free(public_id: str) -> bool:
    """Whether no record holds or held ``public_id``."""
    return not (
        Project.objects.filter(public_id=public_id).exists()
        or Product.objects.filter(public_id=public_id).exists()
        or RecordVersion.objects.filter(public_id=public_id).exists()
    )


def _check_link(i: int, link: dict[str, Any]) -> None:
    """The checks ``validate_project`` makes of an interoperability link whose target is created by the same file."""
    check = registry._Checker("")
    at = f"interop_links[{i}]"
    extra = sorted(set(link) - {"kind", "target", "target_name", "standard"})
    if extra:
        raise check.fail(f"{at}.{extra[0]}", "not a field of an interoperability link")
    check.choice(link.get("kind"), InteropLink.Kind, f"{at}.kind")
    check.text(link.get("target_name"), f"{at}.target_name", max_length=200)
    check.tag(link.get("standard"), f"{at}.standard", "standards")


def _add_links(project: Project, deferred: list[tuple[int, dict[str, Any]]], by_id: dict[str, Project]) -> None:
    """Insert the deferred links at their places in the file's order (the stored order is the id order)."""
    if not deferred:
        return
    from dhnet.taxonomy.services import resolve_tags

    existing = list(project.interop_links.order_by("id"))
    project.interop_links.all().delete()
    rows: list[InteropLink] = [
        InteropLink(
            project=project,
            kind=link.kind,
            target_id=link.target_id,
            target_name=link.target_name,
            standard_id=link.standard_id,
        )
        for link in existing
    ]
    for i, raw in deferred:
        standard = resolve_tags([raw["standard"]])[0] if raw.get("standard") else None
        rows.insert(
            i,
            InteropLink(
                project=project,
                kind=raw["kind"],
                target=by_id[str(raw["target"]).upper()],
                target_name=raw.get("target_name") or "",
                standard=standard,
            ),
        )
    InteropLink.objects.bulk_create(rows)


def _parse(data: bytes, fmt: str) -> _Parsed:
    text = _decode(data)
    if fmt == "json":
        return _parse_json(text)
    if fmt == "csv":
        return _parse_csv(text)
    return _parse_dha(text)


def _dha_records(importer: _Importer) -> list[tuple[int, dict[str, Any]]]:
    """DHA records -> canonical shapes; donors and partners by organisation name (or slug), software by product
    name (or slug); organisations not registered get a slug made from their name and are created."""
    orgs = {o.name.lower(): o.slug for o in Organisation.objects.all()}
    orgs.update({o.slug: o.slug for o in Organisation.objects.all()})
    products = {p.name.lower(): p.slug for p in Product.objects.all()}
    products.update({p.slug: p.slug for p in Product.objects.all()})
    out = []
    for row, rec in importer.parsed.projects:
        if not isinstance(rec, dict):
            continue
        try:
            out.append(
                (
                    row,
                    from_dha(
                        rec,
                        org_slug=lambda n: orgs.get(n.lower(), orgs.get(n, _slugify(n))),
                        product_slug=lambda n: products.get(n.lower(), products.get(n, _slugify(n))),
                    ),
                )
            )
        except ServiceError as exc:
            importer.report.errors.append(_field_error(row, exc))
    return out


def import_projects(
    actor: Actor,
    data: bytes,
    fmt: str,
    *,
    publish: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a registry file (see the module docstring); all or nothing.

    Needs ``atlas:project:write`` (or ``atlas:registry:manage``); registering products needs
    ``atlas:product:write``; ``publish=True`` stores new and changed projects as published and needs the
    administration of each project's country (:func:`dhnet.atlas.services.may_administer`; registry managers
    administer every country). A rejected file is a report with ``errors`` (nothing stored), not an exception;
    a file that cannot be read at all is ``Invalid``. ``progress(done, total)`` is called as project rows are
    checked and then stored (the command line's progress bar): ``total`` is twice the number of rows.
    """
    if not (actor.has(registry.PROJECT_WRITE) or actor.has(registry.REGISTRY_MANAGE)):
        raise Forbidden(f"importing requires {registry.PROJECT_WRITE}")
    if fmt not in FORMATS:
        raise Invalid(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    parsed = _parse(data, fmt)
    if len(parsed.projects) > MAX_ROWS:
        raise Invalid(f"file: {len(parsed.projects)} projects is more than the {MAX_ROWS} accepted at once")
    report = ImportReport()
    try:
        with transaction.atomic():
            importer = _Importer(actor, parsed, fmt, publish, progress)
            report = importer.report
            for row, p in parsed.projects:
                if not isinstance(p, dict):
                    importer.error(row, "", "expected a JSON object (a project)")
            if fmt == "dha":
                records = _dha_records(importer)
            else:
                records = [(row, p) for row, p in parsed.projects if isinstance(p, dict)]
            importer.organisations(records, parsed.products)
            importer.products()
            importer.projects(records)
            if report.errors:
                raise _Rejected
            report.organisations_created = sorted(report.organisations_created)
    except _Rejected:
        report = ImportReport(errors=sorted(set(report.errors), key=lambda e: (e.row, e.field, e.message)))
    return report
