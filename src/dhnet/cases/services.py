"""Case services: storing intake results, case counts into detection, the line list, a case, a person's resources.

Cases arrive through the FHIR handlers of :mod:`dhnet.cases.fhir` (which call :func:`add_cases`,
:func:`add_lab_results` and :func:`feed_counts` inside the intake transaction). Every read of case-level data is
audited with ``subjects=`` (the pseudonyms shown), so that a person's access log lists it.

Counts for detection: a case counts in the ISO week (month, for monthly diseases) of its onset date, or of its
report date when the onset is unknown, in its district; :func:`feed_counts` recounts the cells a batch touched and
writes them through :func:`dhnet.reporting.services.ingest` (source ``cases``), so that detection, the dashboard
and completeness see them like aggregate reports. Recounting makes it idempotent: a retried batch gives the same
counts. Case-based counts replace an aggregate count of the same cell (disease, district, week).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DateField, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.cases.models import Case, Classification, LabResult, PatientSubmission
from dhnet.diseases.models import Disease, ReportingFrequency
from dhnet.fhir import bulk
from dhnet.fhir.models import StoredResource
from dhnet.fhir.outcome import FhirError, Issue
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import in_jurisdiction
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from dhnet.platform.sql import rows_by_keys
from dhnet.reporting import services as reporting
from dhnet.reporting.models import Source
from dhnet.reporting.periods import monday_of

READ = "surveillance:report:read"
AGGREGATE_READ = "surveillance:aggregate:read"
MAX_LIMIT = 500
MAX_OFFSET = 2**62
MAX_CSV_ROWS = 100_000
CSV_COLUMNS = (
    "case_id",
    "pseudonym",
    "disease",
    "icd_code",
    "district",
    "classification",
    "clinical_status",
    "onset_date",
    "diagnosis_date",
    "report_date",
    "age_years",
    "age_band",
    "sex",
    "outcome",
    "hospitalised",
    "lab_results",
)


# --- intake ----------------------------------------------------------------------------------------------------------


def add_cases(cases: Sequence[Case]) -> list[Case]:
    """Insert new cases in bulk (inside the intake transaction): the cases with their keys.

    A Condition identifier stored meanwhile by a concurrent request is a 409 (the client's retry then finds it).
    """
    if not cases:
        return []
    _fill_created_at(cases)
    fields = _columns(Case)
    try:
        with transaction.atomic():
            pks = bulk.insert(Case, fields, [[getattr(c, f) for f in fields] for c in cases], returning=True)
    except IntegrityError as exc:
        raise FhirError.one(
            409, "conflict", "a Condition of this request was stored by a concurrent request meanwhile: retry"
        ) from exc
    _stored(cases, pks)
    return list(cases)


def _columns(model: type[Case] | type[LabResult]) -> tuple[str, ...]:
    """The columns of a new row (every concrete field but the primary key), by attribute name."""
    return tuple(f.attname for f in model._meta.concrete_fields if not f.primary_key)


def _fill_created_at(rows: Sequence[Case | LabResult]) -> None:
    """``created_at`` (``auto_now_add``) as ``save`` would set it (:func:`dhnet.fhir.bulk.insert` calls no
    ``pre_save``)."""
    now = timezone.now()
    for row in rows:
        if row.created_at is None:
            row.created_at = now


def _stored(rows: Sequence[Case | LabResult], pks: Sequence[int]) -> None:
    """The instances of inserted rows made what a ``save`` leaves: their ids, and known to be in the database."""
    for row, pk in zip(rows, pks, strict=True):
        row.pk = pk
        row._state.adding = False
        row._state.db = "default"


#: Keys per VALUES list (two parameters each).
SOURCE_KEYS_PER_QUERY = 400


def by_source(keys: Iterable[tuple[str, str]], column: str) -> list[tuple[Any, str, str]]:
    """(``column``, source system, source value) of the cases with these exact (source system, source value) keys:
    one search of the unique (source_system, source_value) index each (by value alone, every case was read)."""
    return [
        (row[0], row[1], row[2])
        for row in rows_by_keys(
            Case, ("source_system", "source_value"), (column, "source_system", "source_value"), keys,
            chunk=SOURCE_KEYS_PER_QUERY,
        )
    ]  # fmt: skip


def add_lab_results(results: Sequence[tuple[int | None, tuple[str, str] | None, LabResult]]) -> None:
    """Insert lab results, each given (its case id if known, else its case's Condition key, the result)."""
    missing = {key for case_id, key, _ in results if case_id is None and key is not None}
    ids: dict[tuple[str, str], int] = {}
    if missing:
        for pk, system, value in by_source(missing, "id"):
            ids[(system, value)] = pk
    rows = []
    for case_id, key, result in results:
        result.case_id = case_id if case_id is not None else ids.get(key) if key else None
        if result.case_id is None:
            raise FhirError.one(422, "not-found", f"the case of lab result {result.fhir_id} was not stored")
        rows.append(result)
    if not rows:
        return
    _fill_created_at(rows)
    fields = _columns(LabResult)
    _stored(rows, bulk.insert(LabResult, fields, [[getattr(r, f) for f in fields] for r in rows], returning=True))


def period_of(disease: Disease, day: dt.date) -> dt.date:
    """The first day of the reporting period of ``day`` for ``disease`` (the ISO week's Monday, or the month)."""
    if disease.reporting == ReportingFrequency.MONTHLY:
        return day.replace(day=1)
    return monday_of(day)


def _period_end(disease: Disease, start: dt.date) -> dt.date:
    if disease.reporting == ReportingFrequency.MONTHLY:
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=7)


def feed_counts(actor: Actor, cases: Iterable[Case]) -> reporting.IngestResult | None:
    """Recount the cells (disease, district, period of onset else report date) of ``cases`` and ingest them.

    Runs in the caller's transaction; counts are complete recounts of the cells, so the same cases give the same
    values (the reporting service then stores nothing new). Deaths (outcome ``died``) are counted alongside.
    """
    cells: set[tuple[int, int, dt.date]] = set()
    diseases: dict[int, Disease] = {}
    units: dict[int, OrgUnit] = {}
    for case in cases:
        diseases[case.disease_id] = case.disease
        units[case.orgunit_id] = case.orgunit
        day = case.onset_date or case.report_date
        cells.add((case.disease_id, case.orgunit_id, period_of(case.disease, day)))
    if not cells:
        return None
    counted = recount(cells, diseases)
    rows = []
    for index, (disease_id, unit_id, start) in enumerate(sorted(cells)):
        cases_n, deaths_n = counted.get((disease_id, unit_id, start), (0, 0))
        for measure, value in (("cases", cases_n), ("deaths", deaths_n)):
            rows.append(
                reporting.Row(
                    orgunit=units[unit_id].code,
                    disease=diseases[disease_id].code,
                    period=start,
                    value=value,
                    measure=measure,
                    ref=f"case counts of {diseases[disease_id].code} in {units[unit_id].code} from {start}",
                    index=index,
                )
            )
    payload = [(r.orgunit, r.disease, r.period.isoformat(), r.measure, r.value) for r in rows]  # type: ignore[union-attr]
    try:
        return reporting.ingest(
            actor,
            str(Source.CASES),
            rows,
            payload_checksum=reporting.checksum_of(payload),
            detail={"cells": len(cells)},
        )
    except reporting.BatchRejected as exc:
        raise FhirError(
            403 if exc.forbidden else 422, [Issue("business-rule", f"case counts: {e}") for e in exc.errors]
        ) from exc


#: Cells recounted per query (each an OR branch of the query).
RECOUNT_CELLS_PER_QUERY = 200


def recount(
    cells: set[tuple[int, int, dt.date]], diseases: dict[int, Disease]
) -> dict[tuple[int, int, dt.date], tuple[int, int]]:
    """(cases, deaths) of each cell (disease id, org unit id, period start), counted from the stored cases.

    One branch per cell, each an index range (``cases_case_onset_idx``, or ``cases_case_report_idx`` for cases
    without onset): the work follows the cells asked for, not the cases stored. (It was one range from the first
    to the last period over all their diseases and districts: a Bundle of cases spread over a year read every
    case of its districts.)"""
    result: Counter[tuple[int, int, dt.date]] = Counter()
    deaths: Counter[tuple[int, int, dt.date]] = Counter()
    ordered = sorted(cells)
    table = connection.ops.quote_name(Case._meta.db_table)
    as_date = connection.ops.adapt_datefield_value
    branch = (
        "(disease_id = %s AND orgunit_id = %s AND ((onset_date >= %s AND onset_date < %s)"
        " OR (onset_date IS NULL AND report_date >= %s AND report_date < %s)))"
    )
    for start in range(0, len(ordered), RECOUNT_CELLS_PER_QUERY):
        chunk = ordered[start : start + RECOUNT_CELLS_PER_QUERY]
        params: list[Any] = []
        for disease_id, unit_id, first in chunk:
            begin, end = as_date(first), as_date(_period_end(diseases[disease_id], first))
            params += [disease_id, unit_id, begin, end, begin, end]
        sql = (
            f"SELECT disease_id, orgunit_id, COALESCE(onset_date, report_date), outcome, COUNT(*) FROM {table}"
            f" WHERE {' OR '.join([branch] * len(chunk))} GROUP BY 1, 2, 3, 4"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for disease_id, unit_id, day, outcome, n in rows:
            day = dt.date.fromisoformat(day) if isinstance(day, str) else day
            key = (disease_id, unit_id, period_of(diseases[disease_id], day))
            if key in cells:
                result[key] += n
                if outcome == "died":
                    deaths[key] += n
    return {key: (result[key], deaths[key]) for key in cells}


def repoint(merged: str, kept: str) -> int:
    """Move the cases (and stored resources) of pseudonym ``merged`` to ``kept`` (two persons linked by a
    reviewer, in the reviewer's transaction): how many cases moved."""
    with transaction.atomic():
        StoredResource.objects.filter(subject=merged).update(subject=kept)
        PatientSubmission.objects.filter(pseudonym=merged).update(pseudonym=kept)
        return Case.objects.filter(pseudonym=merged).update(pseudonym=kept)


# --- a person's resources --------------------------------------------------------------------------------------------


def cases_of_subjects(pseudonyms: Iterable[str]) -> list[dict[str, Any]]:
    """The FHIR resources held about the persons ``pseudonyms`` (pseudonymised, as stored), oldest first.

    For the person's own export (right of access): the caller has established who asks and audits the export.
    """
    wanted = sorted({p for p in pseudonyms if p})
    if not wanted:
        return []
    order = {"Patient": 0, "Encounter": 1, "Condition": 2, "Observation": 3}
    stored = StoredResource.objects.filter(subject__in=wanted).order_by("created_at", "id")
    resources = [s.content for s in stored]
    return sorted(resources, key=lambda r: order.get(r.get("resourceType", ""), 9))


# --- the line list ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Line-list filters: disease code, district (org-unit code: it and below), date range (onset, else report
    date), classification; a page (``offset``, ``limit``)."""

    disease: str = ""
    district: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    classification: str = ""
    offset: int = 0
    limit: int = 50

    @classmethod
    def parse(cls, params: dict[str, Any]) -> Filters:
        """From query parameters (strings), or :class:`Invalid` naming the parameter."""

        def date(name: str) -> dt.date | None:
            raw = str(params.get(name) or "").strip()
            if not raw:
                return None
            try:
                return dt.date.fromisoformat(raw)
            except ValueError:
                raise Invalid(f"{name}: expected a date YYYY-MM-DD, got {raw[:40]!r}") from None

        def number(name: str, default: int, low: int, high: int) -> int:
            raw = str(params.get(name) or "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise Invalid(f"{name}: expected an integer, got {raw[:40]!r}") from None
            if not low <= value <= high:
                raise Invalid(f"{name}: must be between {low} and {high}")
            return value

        classification = str(params.get("classification") or "").strip()
        if classification and classification not in Classification.values:
            raise Invalid(f"classification: expected one of {', '.join(Classification.values)}")
        filters = cls(
            disease=str(params.get("disease") or "").strip()[:64],
            district=str(params.get("district") or "").strip()[:64],
            date_from=date("date_from"),
            date_to=date("date_to"),
            classification=classification,
            offset=number("offset", 0, 0, MAX_OFFSET),
            limit=number("limit", 50, 1, MAX_LIMIT),
        )
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise Invalid("date_from: after date_to")
        return filters


@dataclass(frozen=True)
class LineList:
    cases: list[Case]
    total: int
    filters: Filters


def _cases(actor: Actor, filters: Filters) -> QuerySet[Case]:
    if not actor.has(READ):
        raise Forbidden(f"requires {READ}")
    qs = in_jurisdiction(Case.objects.all(), actor, READ, path_field="orgunit__path")
    if filters.disease:
        qs = qs.filter(disease__code=filters.disease)
    if filters.district:
        unit = OrgUnit.objects.filter(code=filters.district).first()
        if unit is None:
            raise NotFound(f"district: org unit {filters.district!r} not found")
        qs = qs.filter(orgunit__path__startswith=unit.path)
    if filters.classification:
        qs = qs.filter(classification=filters.classification)
    if filters.date_from or filters.date_to:
        qs = qs.annotate(day=Coalesce("onset_date", "report_date", output_field=DateField()))
        if filters.date_from:
            qs = qs.filter(day__gte=filters.date_from)
        if filters.date_to:
            qs = qs.filter(day__lte=filters.date_to)
    return qs.select_related("disease", "orgunit").order_by("-report_date", "-id")


def line_list(actor: Actor, filters: Filters) -> LineList:
    """One page of the cases in the actor's jurisdiction; the read is audited with the pseudonyms shown."""
    with transaction.atomic():
        qs = _cases(actor, filters)
        total = qs.count()
        page = list(qs[filters.offset : filters.offset + filters.limit])
        audit.record(
            actor,
            "cases.case.list",
            object_type="cases.Case",
            detail={"filters": _filter_detail(filters), "shown": len(page), "total": total},
            permission=READ,
            subjects=[c.pseudonym for c in page],
        )
    return LineList(page, total, filters)


def line_list_csv(actor: Actor, filters: Filters) -> str:
    """Every case matching ``filters`` (not only a page; at most :data:`MAX_CSV_ROWS`) as CSV; audited."""
    with transaction.atomic():
        qs = _cases(actor, filters)
        cases = list(qs[:MAX_CSV_ROWS])
        labs: dict[int, list[str]] = {}
        ids = [c.pk for c in cases]
        for start in range(0, len(ids), 900):
            for case_id, loinc, interpretation in LabResult.objects.filter(
                case_id__in=ids[start : start + 900]
            ).values_list("case_id", "loinc", "interpretation"):
                labs.setdefault(case_id, []).append(f"{loinc}:{interpretation}" if interpretation else loinc)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for c in cases:
            writer.writerow(
                [
                    c.case_id,
                    c.pseudonym,
                    c.disease.code,
                    c.icd_code,
                    c.orgunit.code,
                    c.classification,
                    c.clinical_status,
                    c.onset_date or "",
                    c.diagnosis_date or "",
                    c.report_date,
                    "" if c.age_years is None else c.age_years,
                    c.age_band,
                    c.sex,
                    c.outcome,
                    "" if c.hospitalised is None else ("yes" if c.hospitalised else "no"),
                    " ".join(labs.get(c.pk, [])),
                ]
            )
        audit.record(
            actor,
            "cases.case.export",
            object_type="cases.Case",
            detail={"filters": _filter_detail(filters), "rows": len(cases)},
            permission=READ,
            subjects=[c.pseudonym for c in cases],
        )
    return out.getvalue()


def _filter_detail(filters: Filters) -> dict[str, Any]:
    return {
        "disease": filters.disease,
        "district": filters.district,
        "date_from": filters.date_from.isoformat() if filters.date_from else "",
        "date_to": filters.date_to.isoformat() if filters.date_to else "",
        "classification": filters.classification,
        "offset": filters.offset,
        "limit": filters.limit,
    }


def get_case(actor: Actor, case_id: str | uuid.UUID) -> Case:
    """One case with its lab results, if within the actor's jurisdiction (else 404); audited."""
    if not actor.has(READ):
        raise Forbidden(f"requires {READ}")
    try:
        key = uuid.UUID(str(case_id))
    except ValueError:
        raise NotFound(f"case {str(case_id)[:40]!r} not found") from None
    with transaction.atomic():
        qs = in_jurisdiction(Case.objects.all(), actor, READ, path_field="orgunit__path")
        case = qs.select_related("disease", "orgunit").prefetch_related("lab_results").filter(case_id=key).first()
        if case is None:
            raise NotFound(f"case {key} not found")
        audit.record(
            actor,
            "cases.case.read",
            object_type="cases.Case",
            object_id=str(case.case_id),
            permission=READ,
            subjects=[case.pseudonym],
        )
    return case


# --- counts ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountRow:
    disease: str
    district: str
    week: dt.date
    cases: int


def case_counts(actor: Actor, *, by: str = "onset", disease: str = "") -> list[CountRow]:
    """Cases per disease, district and ISO week (Monday) of onset (``by="onset"``: onset, else report date) or of
    report date (``by="report"``), in the actor's jurisdiction for aggregate reading (no person is shown)."""
    if by not in ("onset", "report"):
        raise Invalid("by: expected onset or report")
    if not actor.has(AGGREGATE_READ):
        raise Forbidden(f"requires {AGGREGATE_READ}")
    qs = in_jurisdiction(Case.objects.all(), actor, AGGREGATE_READ, path_field="orgunit__path")
    if disease:
        qs = qs.filter(disease__code=disease)
    day = Coalesce("onset_date", "report_date", output_field=DateField()) if by == "onset" else None
    qs = qs.annotate(day=day) if day is not None else qs.annotate(day=Coalesce("report_date", "report_date"))
    counter: Counter[tuple[str, str, dt.date]] = Counter()
    for code, unit, d, n in qs.values_list("disease__code", "orgunit__code", "day").annotate(n=Count("id")):
        counter[(code, unit, monday_of(d))] += n
    return [CountRow(k[0], k[1], k[2], n) for k, n in sorted(counter.items())]
