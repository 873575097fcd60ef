"""The registry of digital health products and projects: validation, saving, workflow, versions (docs/atlas-design.md).

Who may do what:

- Products and published projects are public (reading them needs nothing and is not audited). A project's
  ``contact_email`` is for signed-in users; the pages and API hide it from anonymous visitors.
- Holders of ``atlas:product:write`` register and edit products (a shared catalogue: any of them may edit any
  product; every change is a new version). Holders of ``atlas:registry:manage`` may delete a product no project
  uses.
- Holders of ``atlas:project:write`` register projects (a draft; the creator joins its team). The creator and the
  team edit the project while it is a draft (also a draft returned to them with a reason) and submit it. Submitted
  and approved projects are frozen for the team.
- A country's administrator (a :class:`~dhnet.atlas.models.CountryAdmin` appointment plus
  ``atlas:project:approve``) or a holder of ``atlas:registry:manage`` (:func:`may_administer`) approves,
  publishes, returns (with a reason) and archives (with a reason), and may edit the country's projects in any
  state but archived.
- A published project edited by its team goes back through approval: the edit is saved as version n+1 with status
  ``submitted``, and until it is published again the public sees the last published snapshot (from
  :class:`~dhnet.atlas.models.RecordVersion`, see :func:`project_view`). An administrator's edit of a published
  project stays published.
- Drafts, submitted, approved and archived projects are visible to their creator, their team, the country's
  administrators and registry managers; anyone else gets 404. Those reads are audited (``atlas.project.read``).

Every saved change (data or status) bumps ``version``, writes a full snapshot (:func:`project_data` /
:func:`product_data`, the canonical shapes) as a ``RecordVersion`` and an audit record, in one transaction.
Saving data identical to the stored record writes nothing, so retrying a request never duplicates.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.atlas.models import (
    BudgetLine,
    CostPhase,
    CountryAdmin,
    Coverage,
    DpgStatus,
    InteropLink,
    MetricKind,
    MetricValue,
    Product,
    ProductMaturity,
    Project,
    ProjectStatus,
    RecordVersion,
    Stage,
)
from dhnet.audit.services import record
from dhnet.network import timezones
from dhnet.network.models import Organisation
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from dhnet.taxonomy.models import Concept

PRODUCT_WRITE = "atlas:product:write"
PROJECT_WRITE = "atlas:project:write"
PROJECT_APPROVE = "atlas:project:approve"
REGISTRY_MANAGE = "atlas:registry:manage"

#: Workflow states (the values of ``ProjectStatus``, as plain strings).
DRAFT, SUBMITTED, APPROVED, PUBLISHED, ARCHIVED = "draft", "submitted", "approved", "published", "archived"

DATA_DIR = Path(__file__).resolve().parent / "data"

#: Which taxonomy schemes each classification field accepts.
TAG_SCHEMES: dict[str, tuple[str, ...]] = {
    "interventions": ("cdhi-v1", "cdhi-2023"),
    "challenges": ("hsc",),
    "system_categories": ("system-category-v1", "service-app-2023"),
    "health_areas": ("health-area",),
    "standards": ("standard",),
}
PROJECT_TAG_FIELDS = ("interventions", "challenges", "system_categories", "health_areas")
PRODUCT_TAG_FIELDS = ("standards", "interventions", "system_categories")

#: Caps on list lengths (a record beyond these is a mistake, not a registry entry).
MAX_PRODUCTS = 50
MAX_ORGS = 100
MAX_TAGS = 200
MAX_COVERAGE = 5000
MAX_INTEROP = 200
MAX_BUDGET = 2000
MAX_METRICS = 5000
MAX_LINKS = 20
MAX_LANGUAGES = 100
MAX_TEXT = 20_000
MAX_COUNT = 2_147_483_647
MAX_AMOUNT = Decimal("99999999999999.99")  # 16 digits, 2 decimals (BudgetLine.amount)
EARLIEST_DATE = dt.date(1970, 1, 1)
EARLIEST_BUDGET_YEAR = 1990

#: Fields of the canonical shapes that are output only (ignored on input).
OUTPUT_ONLY = ("public_id", "status", "version")
PROJECT_FIELDS = (
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
PRODUCT_FIELDS = (
    "slug",
    "name",
    "description",
    "website",
    "repository",
    "licence",
    "open_source",
    "dpg_status",
    "maturity",
    "standards",
    "interventions",
    "system_categories",
    "languages",
    "offline",
    "owner",
)

#: Public identifiers: random, from an alphabet without look-alikes (no 0/O, 1/I/L, U).
ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 6
PUBLIC_ID_RE = re.compile(rf"^(SW|[A-Z]{{2}})-[{ID_ALPHABET}]{{{ID_LENGTH}}}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
METRIC_RE = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
LINK_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LICENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*( (AND|OR|WITH) [A-Za-z0-9][A-Za-z0-9.+-]*)*$")


class FieldInvalid(Invalid):
    """``Invalid`` for one field of a record: ``field`` is its path (``budget[2].year``), ``problem`` the rest.

    The message is ``"<field>: <problem>"``; the importer reports ``field`` and ``problem`` in its row errors.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@cache
def currencies() -> frozenset[str]:
    """ISO 4217 alphabetic currency codes (``data/iso4217.txt``)."""
    return _code_file("iso4217.txt")


@cache
def languages() -> frozenset[str]:
    """ISO 639-1 two-letter language codes (``data/iso639-1.txt``)."""
    return _code_file("iso639-1.txt")


def _code_file(name: str) -> frozenset[str]:
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


# --- field validators (pure) ----------------------------------------------------------------------------------------


class _Checker:
    """Validates one record; ``path(name)`` prefixes field names with ``where`` (``projects[3].budget[2].year``)."""

    def __init__(self, where: str) -> None:
        self.where = where

    def path(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def fail(self, name: str, problem: str) -> FieldInvalid:
        return FieldInvalid(self.path(name), problem)

    def text(self, raw: Any, name: str, *, max_length: int, required: bool = False) -> str:
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raise self.fail(name, "expected text")
        value = raw.strip()
        if "\x00" in value:
            raise self.fail(name, "contains a NUL character")
        if required and not value:
            raise self.fail(name, "required")
        if len(value) > max_length:
            raise self.fail(name, f"longer than {max_length} characters")
        return value

    def choice(self, raw: Any, choices: Any, name: str, default: str | None = None) -> str:
        if (raw is None or raw == "") and default is not None:
            return default
        value = self.text(raw, name, max_length=40, required=True)
        allowed = [c.value for c in choices]
        if value not in allowed:
            raise self.fail(name, f"{value[:40]!r} is not one of {', '.join(allowed)}")
        return value

    def boolean(self, raw: Any, name: str) -> bool:
        if raw is None:
            return False
        if not isinstance(raw, bool):
            raise self.fail(name, "expected true or false")
        return raw

    def url(self, raw: Any, name: str) -> str:
        value = self.text(raw, name, max_length=300)
        if value:
            try:
                URLValidator(schemes=["http", "https"])(value)
            except ValidationError:
                raise self.fail(name, f"{value[:60]!r} is not an http(s) URL") from None
        return value

    def email(self, raw: Any, name: str) -> str:
        value = self.text(raw, name, max_length=254)
        if value:
            try:
                validate_email(value)
            except ValidationError:
                raise self.fail(name, f"{value[:60]!r} is not an e-mail address") from None
        return value

    def date(self, raw: Any, name: str) -> dt.date | None:
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str):
            raise self.fail(name, "expected a date YYYY-MM-DD")
        try:
            value = dt.date.fromisoformat(raw.strip())
        except ValueError:
            raise self.fail(name, f"{raw[:30]!r} is not a date YYYY-MM-DD") from None
        latest = dt.date(timezone.now().year + 10, 12, 31)
        if value < EARLIEST_DATE:
            raise self.fail(name, f"{value.isoformat()} is before {EARLIEST_DATE.isoformat()}")
        if value > latest:
            raise self.fail(name, f"{value.isoformat()} is more than ten years ahead")
        return value

    def items(self, raw: Any, name: str, cap: int) -> list[Any]:
        if raw is None:
            return []
        if not isinstance(raw, list | tuple):
            raise self.fail(name, "expected a list")
        if len(raw) > cap:
            raise self.fail(name, f"more than {cap} entries ({len(raw)})")
        return list(raw)

    def mapping(self, raw: Any, name: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(name, "expected an object")
        return raw

    def count(self, raw: Any, name: str) -> int | None:
        if raw is None or raw == "":
            return None
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self.fail(name, "expected a whole number")
        if raw < 0:
            raise self.fail(name, f"{raw} is negative")
        if raw > MAX_COUNT:
            raise self.fail(name, f"{raw} is too large")
        return raw

    def slugs(self, raw: Any, name: str, cap: int) -> list[str]:
        values: list[str] = []
        for i, item in enumerate(self.items(raw, name, cap)):
            slug = self.text(item, f"{name}[{i}]", max_length=80, required=True)
            if not SLUG_RE.match(slug):
                raise self.fail(f"{name}[{i}]", f"{slug[:40]!r} is not a slug (lower-case letters, digits and -)")
            if slug not in values:
                values.append(slug)
        return values

    def country(self, raw: Any, name: str = "country") -> str:
        value = self.text(raw, name, max_length=10, required=True).upper()
        if value not in timezones.countries():
            raise self.fail(name, f"{value[:10]!r} is not an ISO 3166-1 alpha-2 country code")
        return value

    def tags(self, raw: Any, name: str) -> list[Concept]:
        """Concepts named by tags, each in one of the schemes ``TAG_SCHEMES[name]`` allows."""
        from dhnet.taxonomy.services import parse_tag, resolve_tags

        allowed = TAG_SCHEMES[name]
        tags: list[str] = []
        for i, item in enumerate(self.items(raw, name, MAX_TAGS)):
            tag = self.text(item, f"{name}[{i}]", max_length=80, required=True)
            try:
                scheme_code, _ = parse_tag(tag)
            except Invalid as exc:
                raise self.fail(f"{name}[{i}]", exc.message) from None
            if scheme_code not in allowed:
                raise self.fail(f"{name}[{i}]", f"{tag!r} is not in scheme {' or '.join(allowed)}")
            tags.append(tag)
        try:
            return resolve_tags(tags)
        except Invalid:
            for i, tag in enumerate(tags):
                try:
                    resolve_tags([tag])
                except Invalid as exc:
                    raise self.fail(f"{name}[{i}]", exc.message) from None
            raise

    def tag(self, raw: Any, name: str, scheme_field: str) -> Concept | None:
        if raw is None or raw == "":
            return None
        from dhnet.taxonomy.services import parse_tag, resolve_tags

        tag = self.text(raw, name, max_length=80, required=True)
        allowed = TAG_SCHEMES[scheme_field]
        try:
            scheme_code, _ = parse_tag(tag)
            if scheme_code not in allowed:
                raise Invalid(f"{tag!r} is not in scheme {' or '.join(allowed)}")
            return resolve_tags([tag])[0]
        except Invalid as exc:
            raise self.fail(name, exc.message) from None


def _organisations(check: _Checker, named: list[tuple[str, str]]) -> dict[str, Organisation]:
    """Organisations by slug for (path, slug) pairs; ``FieldInvalid`` naming the first path with an unknown slug."""
    from dhnet.network.services import organisations_by_slug

    slugs = list(dict.fromkeys(slug for _, slug in named))
    try:
        return {o.slug: o for o in organisations_by_slug(slugs)}
    except Invalid:
        known = set(Organisation.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        for path, slug in named:
            if slug not in known:
                raise check.fail(path, f"unknown organisation {slug!r}") from None
        raise


# --- the validated inputs -------------------------------------------------------------------------------------------


@dataclass
class ProjectInput:
    """A validated project with its references resolved; ``data`` is its canonical shape (no output-only fields).

    ``public_id`` is the identifier given in the input (``None`` if none): the importer's "update that record".
    """

    data: dict[str, Any]
    public_id: str | None
    values: dict[str, Any]
    products: list[Product]
    implementers: list[Organisation]
    funders: list[Organisation]
    tags: dict[str, list[Concept]]
    coverage: list[Coverage]
    interop_links: list[InteropLink]
    budget: list[BudgetLine]
    metrics: list[MetricValue]


@dataclass
class ProductInput:
    """A validated product with its references resolved; ``data`` is its canonical shape (no output-only fields)."""

    data: dict[str, Any]
    public_id: str | None
    values: dict[str, Any]
    tags: dict[str, list[Concept]]


def _unknown_fields(check: _Checker, data: Any, allowed: Sequence[str], what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid(f"{check.where or what}: expected a JSON object")
    unknown = sorted(set(data) - set(allowed) - set(OUTPUT_ONLY))
    if unknown:
        raise check.fail(unknown[0], f"not a field of a {what}")
    return data


def _public_id_in(check: _Checker, data: dict[str, Any]) -> str | None:
    raw = data.get("public_id")
    if raw is None or raw == "":
        return None
    value = check.text(raw, "public_id", max_length=16).upper()
    if not PUBLIC_ID_RE.match(value):
        raise check.fail("public_id", f"{value!r} is not a registry identifier (e.g. KE-7K3P9Q, SW-4K7Q2M)")
    return value


def validate_project(data: Any, *, where: str = "") -> ProjectInput:
    """Check every field of a project in the canonical shape and resolve its references (pure: writes nothing).

    Every error is a :class:`FieldInvalid` naming the field's path, prefixed by ``where`` when given
    (``validate_project(row, where="projects[3]")`` -> ``"projects[3].budget[2].year: 1890 is before 1990"``).
    Output-only fields (``status``, ``version``) are ignored; ``public_id`` is checked and returned.
    """
    check = _Checker(where)
    data = _unknown_fields(check, data, PROJECT_FIELDS, "project")
    values: dict[str, Any] = {
        "name": check.text(data.get("name"), "name", max_length=250, required=True),
        "country": check.country(data.get("country")),
        "description": check.text(data.get("description"), "description", max_length=MAX_TEXT),
        "stage": check.choice(data.get("stage"), Stage, "stage", default="planning"),
        "start_date": check.date(data.get("start_date"), "start_date"),
        "end_date": check.date(data.get("end_date"), "end_date"),
        "national_scale": check.boolean(data.get("national_scale"), "national_scale"),
        "contact_name": check.text(data.get("contact_name"), "contact_name", max_length=200),
        "contact_email": check.email(data.get("contact_email"), "contact_email"),
    }
    if values["start_date"] and values["end_date"] and values["end_date"] < values["start_date"]:
        raise check.fail(
            "end_date", f"{values['end_date'].isoformat()} is before start_date {values['start_date'].isoformat()}"
        )
    links: dict[str, str] = {}
    raw_links = data.get("links") or {}
    for key, url in check.mapping(raw_links, "links").items():
        if len(links) >= MAX_LINKS:
            raise check.fail("links", f"more than {MAX_LINKS} links")
        if not isinstance(key, str) or not LINK_KEY_RE.match(key):
            raise check.fail("links", f"{str(key)[:40]!r} is not a link name (a-z, 0-9, _)")
        links[key] = check.url(url, f"links.{key}")
    values["links"] = dict(sorted(links.items()))

    product_slugs = check.slugs(data.get("products"), "products", MAX_PRODUCTS)
    found_products = {p.slug: p for p in Product.objects.filter(slug__in=product_slugs)}
    for i, slug in enumerate(product_slugs):
        if slug not in found_products:
            raise check.fail(f"products[{i}]", f"unknown product {slug!r}")
    products = [found_products[s] for s in product_slugs]

    implementer_slugs = check.slugs(data.get("implementers"), "implementers", MAX_ORGS)
    funder_slugs = check.slugs(data.get("funders"), "funders", MAX_ORGS)
    tags = {name: check.tags(data.get(name), name) for name in PROJECT_TAG_FIELDS}

    coverage_rows = check.items(data.get("coverage"), "coverage", MAX_COVERAGE)
    coverage: list[Coverage] = []
    orgunit_codes: list[tuple[str, str]] = []
    for i, raw in enumerate(coverage_rows):
        at = f"coverage[{i}]"
        row = check.mapping(raw, at)
        extra = sorted(set(row) - {"orgunit", "place", "clients", "health_workers", "facilities"})
        if extra:
            raise check.fail(f"{at}.{extra[0]}", "not a field of a coverage row")
        code = check.text(row.get("orgunit"), f"{at}.orgunit", max_length=64)
        place = check.text(row.get("place"), f"{at}.place", max_length=200)
        if not code and not place:
            raise check.fail(at, "give an orgunit code or a place name")
        if code:
            orgunit_codes.append((f"{at}.orgunit", code))
        coverage.append(
            Coverage(
                place=place,
                clients=check.count(row.get("clients"), f"{at}.clients"),
                health_workers=check.count(row.get("health_workers"), f"{at}.health_workers"),
                facilities=check.count(row.get("facilities"), f"{at}.facilities"),
            )
        )
        coverage[-1]._code = code
    units = {u.code: u for u in OrgUnit.objects.filter(code__in={c for _, c in orgunit_codes})}
    for path, code in orgunit_codes:
        if code not in units:
            raise FieldInvalid(check.path(path), f"unknown org unit {code!r}")
    for cov in coverage:
        code = cov._code
        cov.orgunit = units[code] if code else None

    interop: list[InteropLink] = []
    target_ids: list[tuple[str, str]] = []
    for i, raw in enumerate(check.items(data.get("interop_links"), "interop_links", MAX_INTEROP)):
        at = f"interop_links[{i}]"
        row = check.mapping(raw, at)
        extra = sorted(set(row) - {"kind", "target", "target_name", "standard"})
        if extra:
            raise check.fail(f"{at}.{extra[0]}", "not a field of an interoperability link")
        target = check.text(row.get("target"), f"{at}.target", max_length=16).upper()
        if target and not PUBLIC_ID_RE.match(target):
            raise check.fail(f"{at}.target", f"{target!r} is not a project identifier (e.g. KE-7K3P9Q)")
        target_name = check.text(row.get("target_name"), f"{at}.target_name", max_length=200)
        if not target and not target_name:
            raise check.fail(at, "give a target project identifier or a target_name")
        link = InteropLink(
            kind=check.choice(row.get("kind"), InteropLink.Kind, f"{at}.kind"),
            target_name=target_name,
            standard=check.tag(row.get("standard"), f"{at}.standard", "standards"),
        )
        link._target = target
        if target:
            target_ids.append((f"{at}.target", target))
        interop.append(link)
    targets = {p.public_id: p for p in Project.objects.filter(public_id__in={t for _, t in target_ids})}
    for path, target in target_ids:
        if target not in targets:
            raise FieldInvalid(check.path(path), f"unknown project {target!r}")
    for link in interop:
        tid = link._target
        link.target = targets[tid] if tid else None

    budget: list[BudgetLine] = []
    budget_funders: list[tuple[str, str]] = []
    latest_year = timezone.now().year + 10
    for i, raw in enumerate(check.items(data.get("budget"), "budget", MAX_BUDGET)):
        at = f"budget[{i}]"
        row = check.mapping(raw, at)
        extra = sorted(set(row) - {"phase", "funder", "year", "amount", "currency", "note"})
        if extra:
            raise check.fail(f"{at}.{extra[0]}", "not a field of a budget line")
        year = row.get("year")
        if isinstance(year, bool) or not isinstance(year, int):
            raise check.fail(f"{at}.year", "expected a year (a whole number)")
        if year < EARLIEST_BUDGET_YEAR:
            raise check.fail(f"{at}.year", f"{year} is before {EARLIEST_BUDGET_YEAR}")
        if year > latest_year:
            raise check.fail(f"{at}.year", f"{year} is after {latest_year}")
        funder = check.text(row.get("funder"), f"{at}.funder", max_length=80)
        if funder:
            if not SLUG_RE.match(funder):
                raise check.fail(f"{at}.funder", f"{funder[:40]!r} is not an organisation slug")
            budget_funders.append((f"{at}.funder", funder))
        currency = check.text(row.get("currency") or "USD", f"{at}.currency", max_length=3).upper()
        if currency not in currencies():
            raise check.fail(f"{at}.currency", f"{currency!r} is not an ISO 4217 currency code")
        line = BudgetLine(
            phase=check.choice(row.get("phase"), CostPhase, f"{at}.phase"),
            year=year,
            amount=_amount(check, row.get("amount"), f"{at}.amount"),
            currency=currency,
            note=check.text(row.get("note"), f"{at}.note", max_length=300),
        )
        line._funder = funder
        budget.append(line)

    named = [(f"implementers[{i}]", s) for i, s in enumerate(implementer_slugs)]
    named += [(f"funders[{i}]", s) for i, s in enumerate(funder_slugs)] + budget_funders
    orgs = _organisations(check, named)
    for line in budget:
        slug = line._funder
        line.funder = orgs[slug] if slug else None

    metrics: list[MetricValue] = []
    seen_metrics: dict[tuple[str, dt.date], int] = {}
    for i, raw in enumerate(check.items(data.get("metrics"), "metrics", MAX_METRICS)):
        at = f"metrics[{i}]"
        row = check.mapping(raw, at)
        extra = sorted(set(row) - {"kind", "metric", "period_start", "value", "unit", "note"})
        if extra:
            raise check.fail(f"{at}.{extra[0]}", "not a field of a metric value")
        metric = check.text(row.get("metric"), f"{at}.metric", max_length=80, required=True)
        if not METRIC_RE.match(metric):
            raise check.fail(f"{at}.metric", f"{metric[:40]!r} is not a metric name (a-z, 0-9, _)")
        period = check.date(row.get("period_start"), f"{at}.period_start")
        if period is None:
            raise check.fail(f"{at}.period_start", "required")
        if (metric, period) in seen_metrics:
            raise check.fail(
                at, f"{metric} for {period.isoformat()} is given twice (also metrics[{seen_metrics[(metric, period)]}])"
            )
        seen_metrics[(metric, period)] = i
        value = row.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise check.fail(f"{at}.value", "expected a number")
        if not math.isfinite(value) or abs(value) > 1e15:
            raise check.fail(f"{at}.value", f"{value!r} is not a finite number")
        metrics.append(
            MetricValue(
                kind=check.choice(row.get("kind"), MetricKind, f"{at}.kind"),
                metric=metric,
                period_start=period,
                value=float(value),
                unit=check.text(row.get("unit"), f"{at}.unit", max_length=40),
                note=check.text(row.get("note"), f"{at}.note", max_length=300),
            )
        )

    inp = ProjectInput(
        data={},
        public_id=_public_id_in(check, data),
        values=values,
        products=products,
        implementers=[orgs[s] for s in implementer_slugs],
        funders=[orgs[s] for s in funder_slugs],
        tags=tags,
        coverage=coverage,
        interop_links=interop,
        budget=budget,
        metrics=metrics,
    )
    inp.data = _project_shape(
        values,
        products=[p.slug for p in products],
        implementers=implementer_slugs,
        funders=funder_slugs,
        tags={k: [c.tag for c in v] for k, v in tags.items()},
        coverage=coverage,
        interop=interop,
        budget=budget,
        metrics=metrics,
    )
    return inp


def _amount(check: _Checker, raw: Any, name: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise check.fail(name, 'expected an amount (a decimal string such as "1200.50")')
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise check.fail(name, f"{str(raw)[:30]!r} is not an amount") from None
    if not value.is_finite():
        raise check.fail(name, f"{str(raw)[:30]!r} is not a finite amount")
    if value < 0:
        raise check.fail(name, f"{value} is negative")
    if value != value.quantize(Decimal("0.01")):
        raise check.fail(name, f"{str(raw)[:30]} has more than 2 decimals")
    if value > MAX_AMOUNT:
        raise check.fail(name, f"{value} is too large")
    return value.quantize(Decimal("0.01"))


def validate_product(data: Any, *, where: str = "") -> ProductInput:
    """Check every field of a product in the canonical shape and resolve its references (pure: writes nothing).

    Errors are :class:`FieldInvalid` naming the field (prefixed by ``where``); ``version`` is ignored.
    """
    check = _Checker(where)
    data = _unknown_fields(check, data, PRODUCT_FIELDS, "product")
    name = check.text(data.get("name"), "name", max_length=200, required=True)
    slug = check.text(data.get("slug"), "slug", max_length=80, required=True)
    if not SLUG_RE.match(slug):
        raise check.fail("slug", f"{slug[:40]!r} is not a slug (lower-case letters, digits and -)")
    licence = check.text(data.get("licence"), "licence", max_length=64)
    if licence and not LICENCE_RE.match(licence):
        raise check.fail("licence", f"{licence!r} is not an SPDX licence id or expression (or 'proprietary')")
    langs: list[str] = []
    for i, item in enumerate(check.items(data.get("languages"), "languages", MAX_LANGUAGES)):
        code = check.text(item, f"languages[{i}]", max_length=20, required=True).lower()
        if code not in languages():
            raise check.fail(f"languages[{i}]", f"{code!r} is not an ISO 639-1 language code")
        if code not in langs:
            langs.append(code)
    owner_slug = check.text(data.get("owner"), "owner", max_length=80)
    owner = None
    if owner_slug:
        if not SLUG_RE.match(owner_slug):
            raise check.fail("owner", f"{owner_slug[:40]!r} is not an organisation slug")
        owner = _organisations(check, [("owner", owner_slug)])[owner_slug]
    values: dict[str, Any] = {
        "slug": slug,
        "name": name,
        "description": check.text(data.get("description"), "description", max_length=MAX_TEXT),
        "website": check.url(data.get("website"), "website"),
        "repository": check.url(data.get("repository"), "repository"),
        "licence": licence,
        "open_source": check.boolean(data.get("open_source"), "open_source"),
        "dpg_status": check.choice(data.get("dpg_status"), DpgStatus, "dpg_status", default="none"),
        "maturity": check.choice(data.get("maturity"), ProductMaturity, "maturity", default="emerging"),
        "languages": langs,
        "offline": check.boolean(data.get("offline"), "offline"),
        "owner": owner,
    }
    tags = {name: check.tags(data.get(name), name) for name in PRODUCT_TAG_FIELDS}
    shape = {k: v for k, v in values.items() if k != "owner"}
    shape.update({k: sorted(c.tag for c in v) for k, v in tags.items()})
    shape["owner"] = owner.slug if owner else None
    return ProductInput(
        data=_ordered(shape, PRODUCT_FIELDS), public_id=_public_id_in(check, data), values=values, tags=tags
    )


# --- canonical shapes -----------------------------------------------------------------------------------------------


def _ordered(shape: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {name: shape[name] for name in fields}


def _money(value: Decimal) -> str:
    return f"{Decimal(value).quantize(Decimal('0.01'))}"


def _project_shape(
    values: dict[str, Any],
    *,
    products: list[str],
    implementers: list[str],
    funders: list[str],
    tags: dict[str, list[str]],
    coverage: Iterable[Coverage],
    interop: Iterable[InteropLink],
    budget: Iterable[BudgetLine],
    metrics: Iterable[MetricValue],
) -> dict[str, Any]:
    """The canonical project shape without output-only fields (sets of references sorted, rows in their order)."""
    shape: dict[str, Any] = {
        "name": values["name"],
        "country": values["country"],
        "description": values["description"],
        "stage": values["stage"],
        "start_date": values["start_date"].isoformat() if values["start_date"] else None,
        "end_date": values["end_date"].isoformat() if values["end_date"] else None,
        "products": sorted(products),
        "implementers": sorted(implementers),
        "funders": sorted(funders),
        **{name: sorted(tags[name]) for name in PROJECT_TAG_FIELDS},
        "national_scale": values["national_scale"],
        "coverage": [
            {
                "orgunit": c.orgunit.code if c.orgunit_id else None,
                "place": c.place,
                "clients": c.clients,
                "health_workers": c.health_workers,
                "facilities": c.facilities,
            }
            for c in coverage
        ],
        "interop_links": [
            {
                "kind": link.kind,
                "target": link.target.public_id if link.target_id else None,
                "target_name": link.target_name,
                "standard": link.standard.tag if link.standard_id else None,
            }
            for link in interop
        ],
        "budget": [
            {
                "phase": line.phase,
                "funder": line.funder.slug if line.funder_id else None,
                "year": line.year,
                "amount": _money(line.amount),
                "currency": line.currency,
                "note": line.note,
            }
            for line in budget
        ],
        "metrics": [
            {
                "kind": m.kind,
                "metric": m.metric,
                "period_start": m.period_start.isoformat(),
                "value": float(m.value),
                "unit": m.unit,
                "note": m.note,
            }
            for m in metrics
        ],
        "contact_name": values["contact_name"],
        "contact_email": values["contact_email"],
        "links": dict(sorted((values["links"] or {}).items())),
    }
    return shape


def _project_content(project: Project) -> dict[str, Any]:
    values = {name: getattr(project, name) for name in PROJECT_FIELDS if hasattr(Project, name)}
    return _project_shape(
        values,
        products=[p.slug for p in project.products.all()],
        implementers=[o.slug for o in project.implementers.all()],
        funders=[o.slug for o in project.funders.all()],
        tags={name: [c.tag for c in getattr(project, name).select_related("scheme")] for name in PROJECT_TAG_FIELDS},
        coverage=project.coverage.select_related("orgunit").order_by("id"),
        interop=project.interop_links.select_related("target", "standard__scheme").order_by("id"),
        budget=project.budget_lines.select_related("funder").order_by("id"),
        metrics=project.metrics.order_by("id"),
    )


def project_data(project: Project) -> dict[str, Any]:
    """The canonical shape of a project (docs/atlas-design.md): what the API, export and versions hold."""
    return _with_head(project, _project_content(project))


def _with_head(project: Project, content: dict[str, Any]) -> dict[str, Any]:
    """The canonical shape from a project's content and its output-only fields (identifier, status, version)."""
    head = {"public_id": project.public_id, "name": content["name"], "country": content["country"]}
    head.update({"description": content["description"], "status": project.status})
    rest = {k: v for k, v in content.items() if k not in head}
    return {**head, **rest, "version": project.version}


def _product_content(product: Product) -> dict[str, Any]:
    shape = {name: getattr(product, name) for name in PRODUCT_FIELDS if name not in PRODUCT_TAG_FIELDS}
    shape["languages"] = list(product.languages or [])
    shape["owner"] = product.owner.slug if product.owner_id else None
    for name in PRODUCT_TAG_FIELDS:
        shape[name] = sorted(c.tag for c in getattr(product, name).select_related("scheme"))
    return _ordered(shape, PRODUCT_FIELDS)


def product_data(product: Product) -> dict[str, Any]:
    """The canonical shape of a product (docs/atlas-design.md)."""
    return {"public_id": product.public_id, **_product_content(product), "version": product.version}


# --- public identifiers, versions -----------------------------------------------------------------------------------


def new_public_id(prefix: str) -> str:
    """A random identifier ``<prefix>-XXXXXX`` used by no record, now or before (versions keep deleted ones)."""
    for _ in range(50):
        candidate = f"{prefix}-{''.join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))}"
        taken = (
            Product.objects.filter(public_id=candidate).exists()
            or Project.objects.filter(public_id=candidate).exists()
            or RecordVersion.objects.filter(public_id=candidate).exists()
        )
        if not taken:
            return candidate
    raise Conflict(f"could not draw a free identifier with prefix {prefix}")  # 30^6 ids: practically unreachable


def _given_or_new_id(given: str | None, prefix: str) -> str:
    """The identifier an input carries when it is free (never used) and has the right prefix — so that a registry
    exported from one node and imported into another keeps its identifiers — else a new one."""
    if given and given.startswith(f"{prefix}-"):
        taken = (
            Product.objects.filter(public_id=given).exists()
            or Project.objects.filter(public_id=given).exists()
            or RecordVersion.objects.filter(public_id=given).exists()
        )
        if not taken:
            return given
    return new_public_id(prefix)


def _snapshot(
    actor: Actor, kind: str, public_id: str, version: int, status: str, data: dict[str, Any], summary: str
) -> None:
    RecordVersion.objects.create(
        kind=kind,
        public_id=public_id,
        version=version,
        status=status,
        snapshot=data,
        changed_by_id=actor.user_id,
        changed_by_name=actor.username[:150],
        summary=summary[:300],
    )


def _changed_fields(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    if before is None:
        return sorted(after)
    return [name for name in after if before.get(name) != after[name]]


# --- permissions ----------------------------------------------------------------------------------------------------


def may_administer(actor: Actor, country: str) -> bool:
    """Whether ``actor`` approves, publishes, returns and archives projects of ``country``."""
    if actor.has(REGISTRY_MANAGE):
        return True
    if actor.user_id is None or not actor.has(PROJECT_APPROVE):
        return False
    return CountryAdmin.objects.filter(user_id=actor.user_id, country=country).exists()


def administered_countries(actor: Actor) -> list[str]:
    """The countries ``actor`` administers by appointment (a registry manager administers all; not listed)."""
    if actor.user_id is None or not actor.has(PROJECT_APPROVE):
        return []
    return list(CountryAdmin.objects.filter(user_id=actor.user_id).values_list("country", flat=True))


def _on_team(actor: Actor, project: Project) -> bool:
    if actor.user_id is None:
        return False
    if project.created_by_id == actor.user_id:
        return True
    return project.team.filter(pk=actor.user_id).exists()


def visible_projects(actor: Actor) -> QuerySet[Project]:
    """The projects ``actor`` may see in their current state: published ones, plus their own, their team's and
    (for country administrators and registry managers) their countries'."""
    projects = Project.objects.all()
    if actor.has(REGISTRY_MANAGE):
        return projects
    visible = Q(status=PUBLISHED)
    if actor.user_id is not None:
        visible |= Q(created_by_id=actor.user_id) | Q(team__id=actor.user_id)
        countries = administered_countries(actor)
        if countries:
            visible |= Q(country__in=countries)
        return projects.filter(pk__in=Project.objects.filter(visible).values("pk"))
    return projects.filter(visible)


def _project(actor: Actor, public_id: str, *, lock: bool = False) -> Project:
    pid = str(public_id).strip().upper()
    found = None
    if PUBLIC_ID_RE.match(pid) and not pid.startswith("SW-"):
        rows = visible_projects(actor).filter(public_id=pid)
        found = rows.first()
        if found is not None and lock:
            found = Project.objects.select_for_update().get(pk=found.pk)
    if found is None:
        raise NotFound(f"no project {str(public_id)[:20]!r}")
    return found


def get_project(actor: Actor, public_id: str) -> Project:
    """A project ``actor`` may see in its current state (404 otherwise); reads of unpublished ones are audited."""
    project = _project(actor, public_id)
    if project.status != PUBLISHED:
        record(
            actor,
            "atlas.project.read",
            object_type="atlas.project",
            object_id=project.public_id,
            detail={"status": project.status},
        )
    return project


def may_edit(actor: Actor, project: Project) -> bool:
    """Whether ``actor`` may change ``project``'s data now (see the module docstring)."""
    if project.status == ARCHIVED:
        return False
    if may_administer(actor, project.country):
        return True
    if not actor.has(PROJECT_WRITE) or not _on_team(actor, project):
        return False
    return project.status in (DRAFT, PUBLISHED)


def _get_product(public_id_or_slug: str, *, lock: bool = False) -> Product:
    key = str(public_id_or_slug).strip()
    rows = Product.objects.select_for_update() if lock else Product.objects.all()
    found = None
    if "\x00" not in key:
        found = rows.filter(Q(public_id=key.upper()) | Q(slug=key)).first()
    if found is None:
        raise NotFound(f"no product {key[:40]!r}")
    return found


def get_product(actor: Actor, public_id_or_slug: str) -> Product:
    """A product by public id or slug (products are public)."""
    return _get_product(public_id_or_slug)


def list_products(actor: Actor, q: str = "") -> list[Product]:
    """Products by name, those matching ``q`` (name, slug or description) when given (public: not audited)."""
    rows = Product.objects.select_related("owner").order_by("name")
    text = _Checker("").text(q, "q", max_length=100)
    if text:
        rows = rows.filter(Q(name__icontains=text) | Q(slug__icontains=text) | Q(description__icontains=text))
    return list(rows)


# --- products -------------------------------------------------------------------------------------------------------


def _write_product(actor: Actor, product: Product, inp: ProductInput) -> None:
    for name, value in inp.values.items():
        setattr(product, name, value)
    product.save()
    for name in PRODUCT_TAG_FIELDS:
        getattr(product, name).set(inp.tags[name])


def create_product(actor: Actor, data: dict[str, Any], *, summary: str = "") -> tuple[Product, bool]:
    """Register a product; returns it and whether it is new.

    Idempotent on ``slug``: the same data again returns the stored product and writes nothing; different data
    under a slug already taken is a ``Conflict`` naming it (use :func:`update_product`).
    """
    if not actor.has(PRODUCT_WRITE):
        raise Forbidden(f"requires {PRODUCT_WRITE}")
    inp = validate_product(data)
    with transaction.atomic():
        existing = Product.objects.select_for_update().filter(slug=inp.values["slug"]).first()
        if existing is not None:
            if _product_content(existing) == inp.data:
                return existing, False
            raise Conflict(f"slug: a product {existing.slug!r} exists already ({existing.public_id})")
        product = Product(public_id=_given_or_new_id(inp.public_id, "SW"), created_by_id=actor.user_id, version=1)
        _write_product(actor, product, inp)
        snapshot = product_data(product)
        _snapshot(actor, "product", product.public_id, 1, "", snapshot, summary or "created")
        record(
            actor,
            "atlas.product.create",
            object_type="atlas.product",
            object_id=product.public_id,
            detail={"slug": product.slug, "version": 1},
            permission=PRODUCT_WRITE,
        )
    return product, True


def update_product(actor: Actor, public_id: str, changes: dict[str, Any], summary: str = "") -> Product:
    """Change the fields given (lists replace); no change writes nothing, else version n+1."""
    if not actor.has(PRODUCT_WRITE):
        raise Forbidden(f"requires {PRODUCT_WRITE}")
    if not isinstance(changes, dict):
        raise Invalid("expected a JSON object of the fields to change")
    with transaction.atomic():
        product = _get_product(public_id, lock=True)
        before = _product_content(product)
        merged = {**before, **{k: v for k, v in changes.items() if k not in OUTPUT_ONLY}}
        inp = validate_product(merged)
        if inp.values["slug"] != product.slug and Product.objects.filter(slug=inp.values["slug"]).exists():
            raise Conflict(f"slug: a product {inp.values['slug']!r} exists already")
        if inp.data == before:
            return product
        product.version += 1
        _write_product(actor, product, inp)
        _snapshot(actor, "product", product.public_id, product.version, "", product_data(product), summary or "edited")
        record(
            actor,
            "atlas.product.update",
            object_type="atlas.product",
            object_id=product.public_id,
            detail={"version": product.version, "fields": _changed_fields(before, inp.data)},
            permission=PRODUCT_WRITE,
        )
    return product


def delete_product(actor: Actor, public_id: str) -> None:
    """Remove a product no project uses (registry managers); its versions stay, its identifier is never reused."""
    if not actor.has(REGISTRY_MANAGE):
        raise Forbidden(f"requires {REGISTRY_MANAGE}")
    with transaction.atomic():
        product = _get_product(public_id, lock=True)
        used = list(product.projects.values_list("public_id", flat=True)[:5])
        if used:
            raise Conflict(f"product {product.slug!r} is used by project(s) {', '.join(used)}: it cannot be deleted")
        record(
            actor,
            "atlas.product.delete",
            object_type="atlas.product",
            object_id=product.public_id,
            detail={"slug": product.slug, "version": product.version},
            permission=REGISTRY_MANAGE,
        )
        product.delete()


# --- projects -------------------------------------------------------------------------------------------------------


def _write_project_rows(project: Project, inp: ProjectInput, *, fresh: bool = False) -> None:
    """Write the project's related rows from ``inp`` (replacing the stored ones unless ``fresh``: a new project)."""
    project.products.set(inp.products)
    project.implementers.set(inp.implementers)
    project.funders.set(inp.funders)
    for name in PROJECT_TAG_FIELDS:
        getattr(project, name).set(inp.tags[name])
    if not fresh:
        project.coverage.all().delete()
        project.interop_links.all().delete()
        project.budget_lines.all().delete()
        project.metrics.all().delete()
    for rows in (inp.coverage, inp.interop_links, inp.budget, inp.metrics):
        for row in rows:
            row.pk = None
            row.project = project
    Coverage.objects.bulk_create(inp.coverage)
    InteropLink.objects.bulk_create(inp.interop_links)
    BudgetLine.objects.bulk_create(inp.budget)
    MetricValue.objects.bulk_create(inp.metrics)


def save_project_input(
    actor: Actor,
    inp: ProjectInput,
    existing: Project | None = None,
    summary: str = "",
    *,
    status: str | None = None,
) -> Project:
    """Write a validated project: a new one (``existing`` None, a draft with ``actor`` on its team) or over
    ``existing``. Identical data (and status) writes nothing; otherwise rows are replaced, ``version`` +1, a
    ``RecordVersion`` and an audit record are written — all in one transaction.

    ``status`` (administrators only: :func:`may_administer` of the country) sets the status directly, e.g. the
    importer's ``publish=True``. Without it, a team member's edit of a published project becomes ``submitted``.
    """
    country = inp.values["country"]
    admin = may_administer(actor, country)
    if status is not None:
        if status not in ProjectStatus.values:
            raise Invalid(f"status: {status!r} is not one of {', '.join(ProjectStatus.values)}")
        if not admin:
            raise Forbidden(f"setting the status of a project of {country} requires its country administrator")
    with transaction.atomic():
        if existing is None:
            if not actor.has(PROJECT_WRITE) and not admin:
                raise Forbidden(f"requires {PROJECT_WRITE}")
            project = Project(
                public_id=_given_or_new_id(inp.public_id, country),
                created_by_id=actor.user_id,
                version=1,
                status=status or DRAFT,
            )
            before = None
            action = "atlas.project.create"
        else:
            project = Project.objects.select_for_update().get(pk=existing.pk)
            if not may_edit(actor, project):
                raise Forbidden(f"project {project.public_id} is {project.status}: you may not edit it now")
            if country != project.country and not may_administer(actor, project.country):
                raise Forbidden(f"moving project {project.public_id} to {country} requires its administrator")
            before = _project_content(project)
            new_status = status or project.status
            if status is None and project.status == PUBLISHED and not admin:
                new_status = SUBMITTED
            if before == inp.data and new_status == project.status:
                return project
            if new_status != project.status and new_status == SUBMITTED:
                project.submitted_at = timezone.now()
            project.status = new_status
            project.version += 1
            action = "atlas.project.update"
        if project.status == PUBLISHED and project.published_at is None:
            project.published_at = timezone.now()
        for name, value in inp.values.items():
            setattr(project, name, value)
        project.save()
        project.created_now = existing is None  # the API answers 201 for a new record, 200 for a retried one
        if existing is None and actor.user_id is not None:
            project.team.add(actor.user_id)
        _write_project_rows(project, inp, fresh=existing is None)
        snapshot = _with_head(project, inp.data)  # what was written (tests check it equals project_data reread)
        _snapshot(
            actor,
            "project",
            project.public_id,
            project.version,
            project.status,
            snapshot,
            summary or ("created" if before is None else "edited"),
        )
        record(
            actor,
            action,
            object_type="atlas.project",
            object_id=project.public_id,
            detail={
                "version": project.version,
                "status": project.status,
                "fields": _changed_fields(before, inp.data),
                "summary": summary[:300],
            },
            permission=PROJECT_WRITE if actor.has(PROJECT_WRITE) else REGISTRY_MANAGE,
        )
    return project


def find_duplicate(country: str, name: str) -> Project | None:
    """A project of ``country`` with ``name`` (case-insensitive): the natural key of retries and imports."""
    return Project.objects.filter(country=country, name__iexact=name).order_by("id").first()


def create_project(actor: Actor, data: dict[str, Any], *, summary: str = "") -> Project:
    """Register a project (a draft; ``actor`` joins its team).

    Retrying is safe: a project of the same country and name (case-insensitive) with the same data is returned
    unchanged; with different data it is a ``Conflict`` naming the existing identifier.
    """
    if not actor.has(PROJECT_WRITE):
        raise Forbidden(f"requires {PROJECT_WRITE}")
    inp = validate_project(data)
    with transaction.atomic():
        same = find_duplicate(inp.values["country"], inp.values["name"])
        if same is not None:
            if _project_content(same) == inp.data:
                visible = visible_projects(actor).filter(pk=same.pk).exists()
                if visible:
                    return same
            raise Conflict(
                f"name: a project {same.name!r} exists in {same.country} already ({same.public_id}); edit that one"
            )
        return save_project_input(actor, inp, None, summary)


def update_project(actor: Actor, public_id: str, changes: dict[str, Any], summary: str = "") -> Project:
    """Change the fields given (partial; lists replace). No change writes nothing; else version n+1."""
    if not isinstance(changes, dict):
        raise Invalid("expected a JSON object of the fields to change")
    with transaction.atomic():
        project = _project(actor, public_id, lock=True)
        if not may_edit(actor, project):
            raise Forbidden(f"project {project.public_id} is {project.status}: you may not edit it now")
        current = _project_content(project)
        merged = {**current, **{k: v for k, v in changes.items() if k not in OUTPUT_ONLY}}
        inp = validate_project(merged)
        if inp.values["name"].lower() != project.name.lower() or inp.values["country"] != project.country:
            other = find_duplicate(inp.values["country"], inp.values["name"])
            if other is not None and other.pk != project.pk:
                raise Conflict(f"name: a project {other.name!r} exists in {other.country} already ({other.public_id})")
        return save_project_input(actor, inp, project, summary)


# --- workflow -------------------------------------------------------------------------------------------------------


def _transition(
    actor: Actor,
    public_id: str,
    action: str,
    allowed_from: Iterable[str],
    to: str,
    *,
    admin_only: bool,
    note: str = "",
    apply: Callable[[Project], None] | None = None,
) -> Project:
    with transaction.atomic():
        project = _project(actor, public_id, lock=True)
        if admin_only:
            if not may_administer(actor, project.country):
                raise Forbidden(f"{action} of a project of {project.country} requires its country administrator")
        elif not (may_administer(actor, project.country) or (actor.has(PROJECT_WRITE) and _on_team(actor, project))):
            raise Forbidden(f"only the project's team or the country administrator may {action} it")
        allowed = tuple(allowed_from)
        if project.status not in allowed:
            raise Conflict(
                f"status: project {project.public_id} is {project.status}; {action} needs {' or '.join(allowed)}"
            )
        before = project.status
        project.status = to
        project.status_note = note
        if apply is not None:
            apply(project)
        project.version += 1
        project.save()
        _snapshot(
            actor,
            "project",
            project.public_id,
            project.version,
            to,
            project_data(project),
            action + (f": {note}" if note else ""),
        )
        record(
            actor,
            f"atlas.project.{action}",
            object_type="atlas.project",
            object_id=project.public_id,
            detail={"from": before, "to": to, "version": project.version, "note": note[:500]},
            permission=PROJECT_APPROVE if admin_only and not actor.has(REGISTRY_MANAGE) else None,
        )
    return project


def _reason(check_name: str, reason: Any, required: bool) -> str:
    value = _Checker("").text(reason, check_name, max_length=2000, required=required)
    return value


def submit(actor: Actor, public_id: str) -> Project:
    """Draft -> submitted (the team or the administrator): asks the country's administrator to approve."""

    def stamp(project: Project) -> None:
        project.submitted_at = timezone.now()

    return _transition(actor, public_id, "submit", [DRAFT], SUBMITTED, admin_only=False, apply=stamp)


def approve(actor: Actor, public_id: str, note: str = "") -> Project:
    """Submitted -> approved (the country's administrator)."""
    note = _reason("note", note, False)

    def stamp(project: Project) -> None:
        project.approved_by_id = actor.user_id
        project.approved_at = timezone.now()

    return _transition(
        actor,
        public_id,
        "approve",
        [SUBMITTED],
        APPROVED,
        admin_only=True,
        note=note,
        apply=stamp,
    )


def publish(actor: Actor, public_id: str) -> Project:
    """Approved -> published (the country's administrator): the record becomes public."""

    def stamp(project: Project) -> None:
        project.published_at = timezone.now()

    return _transition(actor, public_id, "publish", [APPROVED], PUBLISHED, admin_only=True, apply=stamp)


def return_to_draft(actor: Actor, public_id: str, reason: str) -> Project:
    """Submitted, approved, published or archived -> draft, with a reason for the team (the administrator)."""
    reason = _reason("reason", reason, True)
    return _transition(
        actor,
        public_id,
        "return",
        [SUBMITTED, APPROVED, PUBLISHED, ARCHIVED],
        DRAFT,
        admin_only=True,
        note=reason,
    )


def archive(actor: Actor, public_id: str, reason: str) -> Project:
    """Any state -> archived, with a reason (the administrator): kept, no longer public."""
    reason = _reason("reason", reason, True)
    return _transition(
        actor,
        public_id,
        "archive",
        [DRAFT, SUBMITTED, APPROVED, PUBLISHED],
        ARCHIVED,
        admin_only=True,
        note=reason,
    )


def review_queue(actor: Actor) -> list[Project]:
    """Projects awaiting ``actor``'s decision: submitted or approved ones of the countries they administer."""
    waiting = Project.objects.filter(status__in=[SUBMITTED, APPROVED])
    if not actor.has(REGISTRY_MANAGE):
        countries = administered_countries(actor)
        if not countries:
            return []
        waiting = waiting.filter(country__in=countries)
    return list(waiting.order_by("submitted_at", "country", "name"))


def my_projects(actor: Actor) -> list[Project]:
    """The projects ``actor`` created or is on the team of, in any state (their drafts and returned drafts first)."""
    if actor.user_id is None:
        return []
    mine = Project.objects.filter(Q(created_by_id=actor.user_id) | Q(team__id=actor.user_id)).distinct()
    order = {DRAFT: 0, SUBMITTED: 1, APPROVED: 2, PUBLISHED: 3, ARCHIVED: 4}
    return sorted(mine, key=lambda p: (order.get(p.status, 9), p.country, p.name.lower()))


# --- country administrators -----------------------------------------------------------------------------------------


def appoint_country_admin(actor: Actor, username: str, country: str) -> tuple[CountryAdmin, bool]:
    """Appoint ``username`` administrator of ``country``'s registry (registry managers); again is a no-op.

    The user must hold ``atlas:project:approve`` for the appointment to take effect; appointing one who does not is
    refused so that the list of administrators shows only people who can act.
    """
    if not actor.has(REGISTRY_MANAGE):
        raise Forbidden(f"requires {REGISTRY_MANAGE}")
    check = _Checker("")
    code = check.country(country)
    name = check.text(username, "username", max_length=150, required=True)
    user = User.objects.filter(username=name, is_active=True).first()
    if user is None:
        raise FieldInvalid("username", f"no user {name!r}")
    from dhnet.accounts.services import actor_for_user

    if not actor_for_user(user).has(PROJECT_APPROVE):
        raise FieldInvalid("username", f"{name!r} does not hold {PROJECT_APPROVE} (a planner or knowledge manager)")
    with transaction.atomic():
        row, created = CountryAdmin.objects.get_or_create(
            user=user, country=code, defaults={"appointed_by_id": actor.user_id}
        )
        if created:
            record(
                actor,
                "atlas.country_admin.appoint",
                object_type="atlas.country_admin",
                object_id=f"{code}:{name}",
                detail={"country": code, "username": name},
                permission=REGISTRY_MANAGE,
            )
    return row, created


def remove_country_admin(actor: Actor, username: str, country: str) -> bool:
    """End an appointment (registry managers); returns whether there was one."""
    if not actor.has(REGISTRY_MANAGE):
        raise Forbidden(f"requires {REGISTRY_MANAGE}")
    code = _Checker("").country(country)
    with transaction.atomic():
        deleted, _ = CountryAdmin.objects.filter(user__username=str(username), country=code).delete()
        if deleted:
            record(
                actor,
                "atlas.country_admin.remove",
                object_type="atlas.country_admin",
                object_id=f"{code}:{username}",
                detail={"country": code, "username": str(username)},
                permission=REGISTRY_MANAGE,
            )
    return bool(deleted)


def country_admins(actor: Actor, country: str | None = None) -> list[CountryAdmin]:
    """The appointments (registry managers), by country."""
    if not actor.has(REGISTRY_MANAGE):
        raise Forbidden(f"requires {REGISTRY_MANAGE}")
    rows = CountryAdmin.objects.select_related("user", "appointed_by")
    if country:
        rows = rows.filter(country=_Checker("").country(country))
    return list(rows.order_by("country", "user__username"))


# --- versions and diff ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One field's change between two versions; for a list, ``added`` and ``removed`` hold the items (``before``
    and ``after`` the whole lists), for ``links`` one change per link name (``links.repository``)."""

    field: str
    before: Any
    after: Any
    added: list[Any] = dc_field(default_factory=list)
    removed: list[Any] = dc_field(default_factory=list)

    @property
    def is_list(self) -> bool:
        return isinstance(self.before, list) or isinstance(self.after, list)


def _kind(kind: str) -> str:
    if kind not in RecordVersion.RecordKind.values:
        raise NotFound(f"no record kind {str(kind)[:20]!r} (product or project)")
    return kind


def _full_history_visible(actor: Actor, kind: str, public_id: str) -> tuple[str, bool]:
    """The normalised id and whether ``actor`` sees every version (else only published ones); 404 if neither."""
    pid = str(public_id).strip().upper()
    if "\x00" in pid:
        raise NotFound(f"no {kind} {str(public_id)[:20]!r}")
    if kind == "product":
        if not RecordVersion.objects.filter(kind="product", public_id=pid).exists():
            product = Product.objects.filter(slug=str(public_id).strip()).first() if "\x00" not in pid else None
            if product is None:
                raise NotFound(f"no product {str(public_id)[:40]!r}")
            pid = product.public_id
        return pid, True
    project = Project.objects.filter(public_id=pid).first() if "\x00" not in pid else None
    if project is None:
        raise NotFound(f"no project {str(public_id)[:20]!r}")
    if may_administer(actor, project.country) or _on_team(actor, project):
        return pid, True  # the team and administrators see drafts; everyone else only what was published
    if project.status != PUBLISHED and visible_projects(actor).filter(pk=project.pk).exists():
        return pid, True
    if RecordVersion.objects.filter(kind="project", public_id=pid, status=PUBLISHED).exists():
        return pid, False
    raise NotFound(f"no project {str(public_id)[:20]!r}")


def versions(actor: Actor, kind: str, public_id: str) -> list[RecordVersion]:
    """The saved versions of a record, oldest first.

    Products: all (public). Projects: all for the team and the country's administrators; the published
    versions only for everyone else (a published record's history is public, its drafts are not).
    """
    pid, full = _full_history_visible(actor, _kind(kind), public_id)
    rows = RecordVersion.objects.filter(kind=kind, public_id=pid).order_by("version")
    if not full:
        rows = rows.filter(status=PUBLISHED)
    return list(rows)


def version(actor: Actor, kind: str, public_id: str, number: int) -> RecordVersion:
    """One version (404 when it does not exist or ``actor`` may not see it)."""
    for row in versions(actor, kind, public_id):
        if row.version == number:
            return row
    raise NotFound(f"{kind} {str(public_id)[:20]} has no version {number} you may see")


def _row_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Field-level differences of two snapshots (lists as added/removed items; links per name)."""
    changes: list[Change] = []
    for name in [*before, *(k for k in after if k not in before)]:
        if name == "version":
            continue
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name == "links" and isinstance(old, dict | None) and isinstance(new, dict | None):
            old, new = old or {}, new or {}
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    changes.append(Change(f"links.{key}", old.get(key), new.get(key)))
            continue
        if isinstance(old, list) or isinstance(new, list):
            old_list, new_list = list(old or []), list(new or [])
            old_keys = [_row_key(x) for x in old_list]
            new_keys = [_row_key(x) for x in new_list]
            added = [x for x, k in zip(new_list, new_keys, strict=True) if k not in old_keys]
            removed = [x for x, k in zip(old_list, old_keys, strict=True) if k not in new_keys]
            changes.append(Change(name, old_list, new_list, added=added, removed=removed))
            continue
        changes.append(Change(name, old, new))
    return changes


def diff(actor: Actor, kind: str, public_id: str, a: int, b: int) -> list[Change]:
    """What changed from version ``a`` to version ``b`` of a record (both must be visible to ``actor``)."""
    first = version(actor, kind, public_id, a)
    second = version(actor, kind, public_id, b)
    return compare(first.snapshot, second.snapshot)


# --- display --------------------------------------------------------------------------------------------------------


@dataclass
class ProjectView:
    """What a project page or GET shows to one actor.

    ``data`` is the canonical shape: the current state when ``actor`` may see it (``current`` True), else the last
    published snapshot (a published project whose new version awaits approval). ``contact_email`` is blanked for
    anonymous visitors. ``project`` is the row (for its id and workflow fields).
    """

    project: Project
    data: dict[str, Any]
    current: bool
    can_edit: bool = False
    can_submit: bool = False
    can_administer: bool = False
    published_version: int | None = None


def project_view(actor: Actor, public_id: str) -> ProjectView:
    """A project as ``actor`` may see it (see :class:`ProjectView`); 404 when they may see no version of it."""
    pid = str(public_id).strip().upper()
    project = Project.objects.filter(public_id=pid).first() if PUBLIC_ID_RE.match(pid) else None
    if project is None:
        raise NotFound(f"no project {str(public_id)[:20]!r}")
    last_published = (
        RecordVersion.objects.filter(kind="project", public_id=pid, status=PUBLISHED).order_by("-version").first()
    )
    if visible_projects(actor).filter(pk=project.pk).exists():
        project = get_project(actor, pid)
        data = project_data(project)
        current = True
    elif last_published is not None and project.status != ARCHIVED:
        data = dict(last_published.snapshot)
        current = False
    else:
        raise NotFound(f"no project {str(public_id)[:20]!r}")
    if not actor.is_authenticated:
        data["contact_email"] = ""
    admin = may_administer(actor, project.country)
    return ProjectView(
        project=project,
        data=data,
        current=current,
        can_edit=current and may_edit(actor, project),
        can_submit=current
        and project.status == DRAFT
        and (admin or (actor.has(PROJECT_WRITE) and _on_team(actor, project))),
        can_administer=current and admin,
        published_version=last_published.version if last_published else None,
    )


def team(actor: Actor, public_id: str) -> list[User]:
    """The project's team (those who may see it)."""
    project = _project(actor, public_id)
    return list(project.team.order_by("username"))


def set_team(actor: Actor, public_id: str, usernames: Sequence[str]) -> list[User]:
    """Replace the team of a project (its team members and administrators); the creator always stays on it."""
    with transaction.atomic():
        project = _project(actor, public_id, lock=True)
        if not (may_administer(actor, project.country) or (actor.has(PROJECT_WRITE) and _on_team(actor, project))):
            raise Forbidden("only the project's team or the country administrator may change the team")
        check = _Checker("")
        names = []
        for i, raw in enumerate(check.items(list(usernames), "team", MAX_ORGS)):
            name = check.text(raw, f"team[{i}]", max_length=150, required=True)
            if name not in names:
                names.append(name)
        users = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
        for i, name in enumerate(names):
            if name not in users:
                raise FieldInvalid(f"team[{i}]", f"no user {name!r}")
        members = [users[n] for n in names]
        if project.created_by_id and all(u.pk != project.created_by_id for u in members):
            creator = User.objects.filter(pk=project.created_by_id).first()
            if creator is not None:
                members.append(creator)
        before = sorted(project.team.values_list("username", flat=True))
        project.team.set(members)
        after = sorted(u.username for u in members)
        if before != after:
            record(
                actor,
                "atlas.project.team",
                object_type="atlas.project",
                object_id=project.public_id,
                detail={"before": before, "after": after},
                permission=PROJECT_WRITE if actor.has(PROJECT_WRITE) else REGISTRY_MANAGE,
            )
    return sorted(members, key=lambda u: u.username)


# --- names for display (public reference data; unknown references are simply left out) -----------------------------


def tag_names(tags: Iterable[str]) -> dict[str, str]:
    """Tag -> the concept's official name, for the tags that resolve."""
    from dhnet.taxonomy.services import parse_tag

    keys: dict[tuple[str, str], str] = {}
    for tag in tags:
        try:
            keys[parse_tag(tag)] = tag
        except Invalid:
            continue
    if not keys:
        return {}
    rows = Concept.objects.filter(scheme__code__in={s for s, _ in keys}, code__in={c for _, c in keys}).select_related(
        "scheme"
    )
    return {keys[(c.scheme.code, c.code)]: c.name for c in rows if (c.scheme.code, c.code) in keys}


def organisation_names(slugs: Iterable[str]) -> dict[str, str]:
    """Organisation slug -> name."""
    return dict(Organisation.objects.filter(slug__in=set(slugs)).values_list("slug", "name"))


def product_names(slugs: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Product slug -> (name, public id)."""
    rows = Product.objects.filter(slug__in=set(slugs)).values_list("slug", "name", "public_id")
    return {slug: (name, pid) for slug, name, pid in rows}


def orgunit_names(codes: Iterable[str]) -> dict[str, str]:
    """Org unit code -> name."""
    return dict(OrgUnit.objects.filter(code__in=set(codes)).values_list("code", "name"))
