"""Safe-release services: datasets, publications (suppressed or noisy tables), the budget ledger, line-list exports.

Every function takes the acting :class:`~dhnet.platform.access.Actor` first, checks its permission (and, where an
org unit is concerned, its jurisdiction), works inside one transaction and writes its audit record in it.

Who sees what:

* ``release:dataset:write`` (data managers) define datasets for an area within their jurisdiction and publish them.
* ``release:dataset:read`` (everyone from district officers to partners) reads the *published* tables of every
  dataset: these are protected aggregates meant for partners and the public, so they are not limited to the
  reader's jurisdiction. A dataset whose audience is ``public`` is also shown on the public pages without login.
* ``release:linelist:export`` exports k-anonymous line lists of the cases within the actor's jurisdiction.

Publishing is idempotent: the table computed from the case reports is fingerprinted (a keyed HMAC of the source
counts and the definition, so the fingerprint reveals nothing about the counts); publishing an unchanged table
returns the publication made before, without spending privacy budget again or drawing new noise (which would let a
caller average the noise away).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.cases.models import Case
from dhnet.consent.purposes import CONSENT_BASED, PURPOSES
from dhnet.consent.services import permits
from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import require_in_jurisdiction
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from dhnet.release import kanon, noise, suppression
from dhnet.release.models import (
    Audience,
    BudgetSpend,
    DateBasis,
    LineListExport,
    Method,
    Publication,
    ReleasedDataset,
    TimeUnit,
)

READ = "release:dataset:read"
WRITE = "release:dataset:write"
EXPORT = "release:linelist:export"

DP = "dp"
SEXES = ("female", "male", "other", "unknown")
#: Bounds that keep a table's audit (two LPs per suppressed cell) and a page small.
MAX_ROWS = 500
MAX_COLUMNS = 160
MAX_THRESHOLD = 100
MAX_K = 1000
MAX_BUDGET = 100.0
RESERVED_SLUGS = frozenset({"new", "linelist", "public"})
YEARS = (1900, 2200)
#: Largest line list exported at once.
MAX_LINES = 200_000


def _require(actor: Actor, permission: str) -> None:
    if not actor.has(permission):
        raise Forbidden(f"requires {permission}")


# --- dataset definitions --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset as a data manager defines it (strings as received; checked by :func:`create_dataset`)."""

    slug: str
    title: str
    disease: str
    area: str
    level: int
    period_start: dt.date
    period_end: dt.date
    time_unit: str = "week"
    date_basis: str = "onset"
    by_sex: bool = False
    method: str = "suppression"
    threshold: int = suppression.DEFAULT_THRESHOLD
    protection: int | None = None
    zeros_sensitive: bool = False
    epsilon_budget: float = 1.0
    epsilon_per_release: float = 0.5
    audience: str = "partners"


def _choice(value: str, choices: Any, field_name: str) -> str:
    allowed = [str(c) for c in choices.values]
    if value not in allowed:
        raise Invalid(f"{field_name}: expected one of {', '.join(allowed)}, got {str(value)[:40]!r}")
    return value


def _check_spec(spec: DatasetSpec) -> tuple[Disease, OrgUnit]:
    if not spec.slug or len(spec.slug) > 64 or not all(c.isalnum() or c in "-_" for c in spec.slug):
        raise Invalid("slug: 1 to 64 letters, digits, '-' or '_'")
    if spec.slug in RESERVED_SLUGS:
        raise Invalid(f"slug: {spec.slug!r} is reserved (a page of its own)")
    if not (YEARS[0] <= spec.period_start.year and spec.period_end.year <= YEARS[1]):
        raise Invalid(f"period_start: the period must lie within the years {YEARS[0]} to {YEARS[1]}")
    if not spec.title.strip() or len(spec.title) > 255:
        raise Invalid("title: required, at most 255 characters")
    disease = Disease.objects.filter(code=spec.disease).first()
    if disease is None:
        raise Invalid(f"disease: unknown disease code {spec.disease[:64]!r}")
    area = OrgUnit.objects.filter(code=spec.area).first()
    if area is None:
        raise Invalid(f"area: unknown org unit {spec.area[:64]!r}")
    if not area.level <= spec.level <= 20:
        raise Invalid(f"level: must be between the area's level ({area.level}) and 20, got {spec.level}")
    if not OrgUnit.objects.filter(path__startswith=area.path, level=spec.level).exists():
        raise Invalid(f"level: area {area.code} has no org unit at level {spec.level}")
    if spec.period_end < spec.period_start:
        raise Invalid("period_end: before period_start")
    _choice(spec.time_unit, TimeUnit, "time_unit")
    _choice(spec.date_basis, DateBasis, "date_basis")
    _choice(spec.method, Method, "method")
    _choice(spec.audience, Audience, "audience")
    if not 1 <= spec.threshold <= MAX_THRESHOLD:
        raise Invalid(f"threshold: must be between 1 and {MAX_THRESHOLD}, got {spec.threshold}")
    if spec.protection is not None and not 1 <= spec.protection <= MAX_THRESHOLD:
        raise Invalid(f"protection: must be between 1 and {MAX_THRESHOLD}, got {spec.protection}")
    for name in ("epsilon_budget", "epsilon_per_release"):
        value = getattr(spec, name)
        if not math.isfinite(value) or not 0 < value <= MAX_BUDGET:
            raise Invalid(f"{name}: must be a number above 0 and at most {MAX_BUDGET}, got {value}")
    if spec.method == DP and not noise.MIN_EPSILON <= spec.epsilon_per_release <= noise.MAX_EPSILON:
        raise Invalid(
            f"epsilon_per_release: must be between {noise.MIN_EPSILON} and {noise.MAX_EPSILON}, "
            f"got {spec.epsilon_per_release}"
        )
    if spec.epsilon_per_release > spec.epsilon_budget:
        raise Invalid("epsilon_per_release: larger than epsilon_budget (no release could ever be made)")
    columns = len(periods(spec.period_start, spec.period_end, spec.time_unit)) * (len(SEXES) if spec.by_sex else 1)
    if columns > MAX_COLUMNS:
        raise Invalid(f"period_end: the table would have {columns} columns (at most {MAX_COLUMNS})")
    rows = OrgUnit.objects.filter(path__startswith=area.path, level=spec.level).count()
    if rows > MAX_ROWS:
        raise Invalid(f"level: the table would have {rows} rows (at most {MAX_ROWS})")
    return disease, area


_DEFINITION_FIELDS = (
    "title",
    "level",
    "period_start",
    "period_end",
    "time_unit",
    "date_basis",
    "by_sex",
    "method",
    "threshold",
    "protection",
    "zeros_sensitive",
    "epsilon_budget",
    "epsilon_per_release",
    "audience",
)


def definition(dataset: ReleasedDataset) -> dict[str, Any]:
    """The dataset's definition as JSON-ready values."""
    out: dict[str, Any] = {"slug": dataset.slug, "disease": dataset.disease.code, "area": dataset.area.code}
    for name in _DEFINITION_FIELDS:
        value = getattr(dataset, name)
        out[name] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def create_dataset(actor: Actor, spec: DatasetSpec) -> tuple[ReleasedDataset, bool]:
    """Define a dataset (``release:dataset:write`` at its area). ``(dataset, created)``.

    Sending the same definition again returns the existing dataset (a retry); a different definition under an
    existing slug is a :class:`Conflict`.
    """
    _require(actor, WRITE)
    disease, area = _check_spec(spec)
    require_in_jurisdiction(actor, WRITE, area)
    values = {name: getattr(spec, name) for name in _DEFINITION_FIELDS}
    try:
        with transaction.atomic():
            existing = ReleasedDataset.objects.select_related("disease", "area").filter(slug=spec.slug).first()
            if existing is not None:
                wanted = {"slug": spec.slug, "disease": disease.code, "area": area.code, **values}
                wanted = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in wanted.items()}
                if definition(existing) != wanted:
                    raise Conflict(f"slug: dataset {spec.slug!r} exists with another definition")
                return existing, False
            dataset = ReleasedDataset.objects.create(
                slug=spec.slug, disease=disease, area=area, created_by=actor.username[:150], **values
            )
            audit.record(
                actor,
                "release.dataset.create",
                object_type="release.dataset",
                object_id=dataset.slug,
                detail=definition(dataset),
                permission=WRITE,
            )
    except IntegrityError:  # a concurrent create of the same slug won the race
        raise Conflict(f"slug: dataset {spec.slug!r} was created meanwhile; send it again") from None
    return dataset, True


def list_datasets(actor: Actor) -> list[ReleasedDataset]:
    """Every dataset (their published tables are protected aggregates, readable by partners)."""
    _require(actor, READ)
    with transaction.atomic():
        datasets = list(ReleasedDataset.objects.select_related("disease", "area").order_by("slug"))
        audit.record(
            actor,
            "release.dataset.list",
            object_type="release.dataset",
            detail={"returned": len(datasets)},
            permission=READ,
        )
    return datasets


def _dataset(slug: str) -> ReleasedDataset:
    dataset = ReleasedDataset.objects.select_related("disease", "area").filter(slug=slug).first()
    if dataset is None:
        raise NotFound(f"dataset {slug[:64]!r} not found")
    return dataset


def get_dataset(actor: Actor, slug: str) -> ReleasedDataset:
    _require(actor, READ)
    with transaction.atomic():
        dataset = _dataset(slug)
        audit.record(actor, "release.dataset.read", object_type="release.dataset", object_id=slug, permission=READ)
    return dataset


# --- the source table -----------------------------------------------------------------------------------------------


def periods(start: dt.date, end: dt.date, unit: str) -> list[tuple[str, dt.date, dt.date]]:
    """The periods covering ``start``..``end``: ``(label, first day, last day)``, ISO weeks or months."""
    out: list[tuple[str, dt.date, dt.date]] = []
    if unit == "week":
        day = start - dt.timedelta(days=start.weekday())
        while day <= end and len(out) <= MAX_COLUMNS:
            year, week, _ = day.isocalendar()
            out.append((f"{year}-W{week:02d}", day, day + dt.timedelta(days=6)))
            day += dt.timedelta(days=7)
        return out
    day = start.replace(day=1)
    while day <= end and len(out) <= MAX_COLUMNS:
        following = (day + dt.timedelta(days=32)).replace(day=1)
        out.append((f"{day.year}-{day.month:02d}", day, following - dt.timedelta(days=1)))
        day = following
    return out


@dataclass(frozen=True)
class SourceTable:
    """The true counts of a dataset (never stored nor returned): rows, columns and cells."""

    row_labels: list[list[str]]
    column_labels: list[str]
    cells: list[list[int]]


def _ancestor_id(path: str, level: int) -> int | None:
    ids = [p for p in path.split("/") if p]
    return int(ids[level - 1]) if len(ids) >= level else None


def source_table(dataset: ReleasedDataset) -> SourceTable:
    """Count the dataset's cases per row unit and column (period, or period × sex)."""
    units = list(
        OrgUnit.objects.filter(path__startswith=dataset.area.path, level=dataset.level)
        .order_by("code")
        .only("id", "code", "name")
    )
    row_of = {u.id: i for i, u in enumerate(units)}
    spans = periods(dataset.period_start, dataset.period_end, dataset.time_unit)
    first, last = spans[0][1], spans[-1][2]
    first, last = max(first, dataset.period_start), min(last, dataset.period_end)
    sexes = SEXES if dataset.by_sex else ("",)
    labels = [f"{label} {sex}".strip() for label, _, _ in spans for sex in sexes]
    qs = Case.objects.filter(disease_id=dataset.disease_id, orgunit__path__startswith=dataset.area.path)
    basis = "report_date" if dataset.date_basis == "report" else "basis"
    if basis == "basis":
        qs = qs.annotate(basis=Coalesce("onset_date", "report_date"))
    qs = qs.filter(**{f"{basis}__gte": first, f"{basis}__lte": last})
    cells = [[0] * len(labels) for _ in units]
    starts = [s for _, s, _ in spans]
    for path, day, sex in qs.values_list("orgunit__path", basis, "sex").iterator(chunk_size=5000):
        unit_id = _ancestor_id(path, dataset.level)
        row = row_of.get(unit_id) if unit_id is not None else None
        if row is None:  # a case recorded above the dataset's level cannot be placed in a row
            continue
        column = _period_index(starts, day)
        if dataset.by_sex:
            column = column * len(SEXES) + SEXES.index(sex if sex in SEXES else "unknown")
        cells[row][column] += 1
    return SourceTable([[u.code, u.name] for u in units], labels, cells)


def _period_index(starts: Sequence[dt.date], day: dt.date) -> int:
    low, high = 0, len(starts) - 1
    while low < high:  # the last start <= day
        middle = (low + high + 1) // 2
        if starts[middle] <= day:
            low = middle
        else:
            high = middle - 1
    return low


def _fingerprint(dataset: ReleasedDataset, table: SourceTable) -> str:
    content = json.dumps(
        {"definition": definition(dataset), "rows": table.row_labels, "cells": table.cells}, sort_keys=True
    ).encode()
    key = hashlib.sha256(b"dhnet.release.fingerprint:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, content, hashlib.sha256).hexdigest()


# --- publishing -----------------------------------------------------------------------------------------------------


def spent(dataset: ReleasedDataset) -> float:
    return float(BudgetSpend.objects.filter(dataset=dataset).aggregate(total=Sum("epsilon"))["total"] or 0.0)


def publish(actor: Actor, slug: str) -> tuple[Publication, bool]:
    """Compute, protect and store the dataset's table. ``(publication, created)``.

    Suppression: :func:`dhnet.release.suppression.suppress` with the dataset's threshold, protection and zero
    policy. Differential privacy: :func:`dhnet.release.noise.noisy_counts` with ``epsilon_per_release``, refused
    with :class:`Conflict` (409) when it would exceed the dataset's budget. An unchanged table returns the earlier
    publication (no new spend, no new noise).

    The table is counted and protected before the write transaction (the LP audit can take seconds on a large
    table; SQLite would hold its write lock, and so every case intake, meanwhile); the transaction then locks the
    dataset row, checks again that no publication of the same table was stored meanwhile, checks the budget and
    stores. A table computed from a snapshot that changes meanwhile is simply the table of that snapshot.
    """
    _require(actor, WRITE)
    dataset = _dataset(slug)
    require_in_jurisdiction(actor, WRITE, dataset.area)
    table = source_table(dataset)
    fingerprint = _fingerprint(dataset, table)
    earlier = Publication.objects.filter(dataset=dataset, fingerprint=fingerprint).first()
    protected = None if earlier is not None else _protect(dataset, table)
    with transaction.atomic():
        # Serialise publications of one dataset: the budget check and the version number read-then-write.
        dataset = ReleasedDataset.objects.select_for_update().select_related("disease", "area").get(pk=dataset.pk)
        earlier = Publication.objects.filter(dataset=dataset, fingerprint=fingerprint).first()
        if earlier is None and protected is None:  # publications are never deleted; guard all the same
            raise Conflict(f"dataset {slug!r}: its publications changed meanwhile; publish again")
        if earlier is not None:
            audit.record(
                actor,
                "release.publication.unchanged",
                object_type="release.publication",
                object_id=f"{slug}/{earlier.version}",
                permission=WRITE,
            )
            return earlier, False
        assert protected is not None  # for mypy: computed whenever no earlier publication was found
        grid, info, private = protected
        if dataset.method == DP:
            already = spent(dataset)
            if already + info["epsilon"] > dataset.epsilon_budget + 1e-9:
                raise Conflict(
                    f"dataset {slug!r}: privacy budget exhausted — {already:g} of {dataset.epsilon_budget:g} "
                    f"epsilon spent, this release needs {info['epsilon']:g}"
                )
            info["spent_after"] = already + info["epsilon"]
        version = (Publication.objects.filter(dataset=dataset).aggregate(v=Max("version"))["v"] or 0) + 1
        publication = Publication.objects.create(
            dataset=dataset,
            version=version,
            method=dataset.method,
            row_labels=table.row_labels,
            column_labels=table.column_labels,
            grid=grid,
            info=info,
            fingerprint=fingerprint,
            created_by=actor.username[:150],
        )
        if dataset.method == DP:
            BudgetSpend.objects.create(
                dataset=dataset,
                publication=publication,
                epsilon=info["epsilon"],
                scale=info["noise_scale"],
                spent_by=actor.username[:150],
            )
        audit.record(
            actor,
            "release.publication.create",
            object_type="release.publication",
            object_id=f"{slug}/{version}",
            detail={k: v for k, v in info.items() if k not in ("rows", "columns")}
            | private
            | {"method": dataset.method},
            permission=WRITE,
        )
    return publication, True


def _protect(
    dataset: ReleasedDataset, table: SourceTable
) -> tuple[list[list[int | None]], dict[str, Any], dict[str, Any]]:
    """The protected grid, what the release states about it, and what only the audit trail keeps."""
    info: dict[str, Any] = {"rows": len(table.row_labels), "columns": len(table.column_labels)}
    if dataset.method == DP:
        noisy = noise.noisy_counts(table.cells, dataset.epsilon_per_release)
        info |= {
            "mechanism": "discrete Laplace (OpenDP make_laplace), L1 sensitivity 1 per case",
            "epsilon": noisy.epsilon,
            "noise_scale": noisy.scale,
            "post_processing": "negative counts set to 0; totals summed from the noisy cells",
            "budget": dataset.epsilon_budget,
        }
        return [list(row) for row in noisy.grid], info, {}
    result = suppression.suppress(
        table.cells, threshold=dataset.threshold, protection=dataset.protection, zeros_sensitive=dataset.zeros_sensitive
    )
    info |= {
        "threshold": result.threshold,
        "protection": result.protection,
        "zeros_sensitive": result.zeros_sensitive,
        "suppressed": len(result.suppressed),
    }
    # Which cells were small is not published (that would point at them); the audit trail keeps the counts.
    return result.grid, info, {"primary": len(result.primary), "complementary": len(result.complementary)}


def _latest(dataset: ReleasedDataset) -> Publication:
    publication = Publication.objects.filter(dataset=dataset).order_by("-version").first()
    if publication is None:
        raise NotFound(f"dataset {dataset.slug!r} has no published table yet")
    return publication


def latest_table(actor: Actor, slug: str) -> Publication:
    """The latest published table of a dataset (protected values only)."""
    _require(actor, READ)
    with transaction.atomic():
        dataset = _dataset(slug)
        publication = _latest(dataset)
        audit.record(
            actor,
            "release.publication.read",
            object_type="release.publication",
            object_id=f"{slug}/{publication.version}",
            permission=READ,
        )
    return publication


def public_datasets() -> QuerySet[ReleasedDataset]:
    """Datasets released to the public that have a published table (public pages; no actor, nothing personal)."""
    return (
        ReleasedDataset.objects.filter(audience=Audience.PUBLIC, publications__isnull=False)
        .select_related("disease", "area")
        .distinct()
        .order_by("slug")
    )


def public_table(slug: str) -> tuple[ReleasedDataset, Publication]:
    dataset = public_datasets().filter(slug=slug).first()
    if dataset is None:
        raise NotFound(f"dataset {slug[:64]!r} not found")
    return dataset, _latest(dataset)


@dataclass(frozen=True)
class Budget:
    budget: float
    spent: float
    spends: list[BudgetSpend] = field(default_factory=list)

    @property
    def remaining(self) -> float:
        return max(0.0, self.budget - self.spent)


def budget(actor: Actor, slug: str) -> Budget:
    """The dataset's privacy-budget ledger."""
    _require(actor, READ)
    with transaction.atomic():
        dataset = _dataset(slug)
        spends = list(BudgetSpend.objects.filter(dataset=dataset).select_related("publication"))
        audit.record(actor, "release.budget.read", object_type="release.dataset", object_id=slug, permission=READ)
    return Budget(budget=dataset.epsilon_budget, spent=sum(s.epsilon for s in spends), spends=spends)


# --- line lists -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineListQuery:
    disease: str
    area: str = ""
    k: int = 5
    purpose: str = "surveillance"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    max_suppression: float = 0.05


CSV_COLUMNS = (*kanon.QUASI_IDENTIFIERS, "classification", "outcome", "hospitalised")


@dataclass(frozen=True)
class LineList:
    export_id: str
    metadata: dict[str, Any]
    rows: list[dict[str, str]]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()


def _export_area(actor: Actor, code: str) -> OrgUnit:
    if code:
        unit = OrgUnit.objects.filter(code=code).first()
        if unit is None:
            raise NotFound(f"org unit {code[:64]!r} not found")
        require_in_jurisdiction(actor, EXPORT, unit)
        return unit
    paths = actor.paths_for(EXPORT)
    unit = OrgUnit.objects.filter(path=paths[0]).first() if len(paths) == 1 else None
    if unit is None:  # several places, or an operator's grant over every tree (path "/")
        raise Invalid("area: you hold the export permission over several org units; name the one to export")
    return unit


def _age(case_age: int | None, band: str) -> int | None:
    if case_age is not None:
        return case_age
    head = band.split("-")[0].rstrip("+")
    return int(head) if head.isdigit() else None


def export_line_list(actor: Actor, query: LineListQuery) -> LineList:
    """A k-anonymous line list of the cases of ``query.disease`` within an area of the actor's jurisdiction.

    For the consent-based purposes (research, secondary use) only the persons whose consent permits it at this
    moment are included (a withdrawal applies at once); for surveillance (legal basis) and care everyone the
    consent register allows. Audited with the pseudonyms of the persons whose (de-identified) lines were exported.
    """
    _require(actor, EXPORT)
    if query.purpose not in PURPOSES:
        raise Invalid(f"purpose: expected one of {', '.join(PURPOSES)}, got {query.purpose[:40]!r}")
    if not 2 <= query.k <= MAX_K:
        raise Invalid(f"k: must be between 2 and {MAX_K}, got {query.k}")
    if not 0 <= query.max_suppression <= 1:
        raise Invalid(f"max_suppression: must be between 0 and 1, got {query.max_suppression}")
    if query.date_from and query.date_to and query.date_to < query.date_from:
        raise Invalid("date_to: before date_from")
    disease = Disease.objects.filter(code=query.disease).first()
    if disease is None:
        raise Invalid(f"disease: unknown disease code {query.disease[:64]!r}")
    area = _export_area(actor, query.area)
    with transaction.atomic():
        qs = Case.objects.filter(disease=disease, orgunit__path__startswith=area.path).annotate(
            basis=Coalesce("onset_date", "report_date")
        )
        if query.date_from:
            qs = qs.filter(basis__gte=query.date_from)
        if query.date_to:
            qs = qs.filter(basis__lte=query.date_to)
        cases = list(
            qs.values_list(
                "id",
                "pseudonym",
                "age_years",
                "age_band",
                "sex",
                "orgunit__path",
                "basis",
                "classification",
                "outcome",
                "hospitalised",
            ).order_by("id")[: MAX_LINES + 1]
        )
        if len(cases) > MAX_LINES:
            raise Invalid(f"the export would hold more than {MAX_LINES} cases; narrow the dates or the area")
        allowed = permits({c[1] for c in cases}, query.purpose)
        excluded = sum(1 for c in cases if c[1] not in allowed)
        cases = [c for c in cases if c[1] in allowed]
        codes = _codes_on_paths(c[5] for c in cases)
        records = []
        pseudonym_of: dict[str, str] = {}
        for cid, pseudonym, age, band, sex, path, day, classification, outcome, hospitalised in cases:
            ids = [int(p) for p in path.split("/") if p]
            district = codes[ids[-1]]
            region = codes[ids[-2]] if len(ids) >= 2 else district
            key = str(cid)
            pseudonym_of[key] = pseudonym
            records.append(
                kanon.Record(
                    key=key,
                    age_years=_age(age, band),
                    sex=sex,
                    district=district,
                    region=region,
                    country=codes[ids[0]],
                    date=day,
                    payload=(
                        ("classification", classification),
                        ("outcome", outcome),
                        ("hospitalised", "" if hospitalised is None else ("yes" if hospitalised else "no")),
                    ),
                )
            )
        result = kanon.anonymise(records, query.k, max_suppression=query.max_suppression)
        export = LineListExport.objects.create(
            disease=disease,
            area=area,
            purpose=query.purpose,
            k=query.k,
            exported_by=actor.username[:150],
            info={},
        )
        metadata: dict[str, Any] = {
            "export_id": str(export.export_id),
            "generated_at": timezone.now().isoformat(timespec="seconds"),
            "disease": disease.code,
            "area": area.code,
            "purpose": query.purpose,
            "consent_based": query.purpose in CONSENT_BASED,
            "date_from": query.date_from.isoformat() if query.date_from else None,
            "date_to": query.date_to.isoformat() if query.date_to else None,
            "date_basis": "onset date (report date when unknown)",
            "quasi_identifiers": list(kanon.QUASI_IDENTIFIERS),
            "k_requested": query.k,
            "k_achieved": result.k_achieved,
            "generalisation": result.levels.describe(),
            "records_considered": len(cases),
            "records_exported": len(result.rows),
            "records_suppressed": result.suppressed,
            "excluded_without_consent": excluded,
            "equivalence_classes": result.classes,
            "max_suppression": query.max_suppression,
        }
        export.info = metadata
        export.save(update_fields=["info"])
        audit.record(
            actor,
            "release.linelist.export",
            object_type="release.linelist",
            object_id=str(export.export_id),
            detail={k: metadata[k] for k in ("disease", "area", "purpose", "k_requested", "k_achieved")}
            | {"exported": len(result.rows), "suppressed": result.suppressed},
            permission=EXPORT,
            subjects=[pseudonym_of[key] for key in result.kept],
        )
    return LineList(export_id=str(export.export_id), metadata=metadata, rows=result.rows)


def _codes_on_paths(paths: Any) -> dict[int, str]:
    ids = {int(p) for path in set(paths) for p in path.split("/") if p}
    return dict(OrgUnit.objects.filter(id__in=ids).values_list("id", "code"))
