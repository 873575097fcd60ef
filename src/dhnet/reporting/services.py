"""Reporting services: the one way counts get in (:func:`ingest`), and IDSR completeness and timeliness.

Every intake path - the weekly web form, CSV uploads, DHIS2 ``dataValueSets``, FHIR ``MeasureReport`` (the fhir
context) and the command line - turns its payload into :class:`Row` values and calls :func:`ingest`, which

1. validates every row and collects every problem (``row 12, field cases: must be a non-negative integer``),
   including jurisdiction: the actor must hold ``surveillance:report:write`` at each row's org unit;
2. rejects the whole batch if there is any problem (:class:`BatchRejected`: 403 when a row lies outside the
   actor's jurisdiction, else 400), storing nothing;
3. otherwise, in one transaction: records an :class:`~dhnet.reporting.models.ImportBatch` (unique on source and
   payload checksum), upserts the counts in bulk, records the weekly :class:`~dhnet.reporting.models.Submission`
   of each org unit (completeness, timeliness), writes one audit record, and after the commit sends
   :data:`dhnet.reporting.events.counts_changed` (which queues detection).

A payload received again with the same checksum returns the first import's summary and stores nothing - unless
the stored counts changed since (an A -> B -> A correction), in which case it is applied again as a new batch.

Counts are stored where they are reported: at *reporting units*, the org units at
:attr:`ReportingSettings.reporting_level` or, by default, those without children; higher levels are sums.

Strategies (DHIS2's ``importStrategy``): ``CREATE_AND_UPDATE`` (default), ``CREATE`` (existing counts are left
alone: ignored), ``UPDATE`` (only existing counts change; new ones are ignored), ``DELETE`` (the rows' counts are
deleted; values are not needed). A row whose value is ``None`` deletes its count (DHIS2: an empty value).
Counts: ``imported`` (new), ``updated`` (changed), ``ignored`` (unchanged, or left alone by the strategy),
``deleted``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from django.conf import settings as django_settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.diseases.models import Disease, ReportingFrequency
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import in_jurisdiction, require_in_jurisdiction
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from dhnet.platform.sql import rows_by_keys
from dhnet.reporting import events
from dhnet.reporting.models import (
    CountValue,
    DataElementMapping,
    ImportBatch,
    Measure,
    PendingUpload,
    ReportingSettings,
    Source,
    Submission,
)
from dhnet.reporting.periods import PeriodError, monday_of, parse_week, period_start, week_label, weeks_between

CASES = "cases"
DEATHS = "deaths"
MEASURES = frozenset(Measure.values)
#: SQLite page cache (KiB) while writing a batch: a big transaction then seldom spills pages (and syncs the journal)
#: before its commit. Restored afterwards.
SQLITE_CACHE_KIB = 256 * 1024

WRITE = "surveillance:report:write"
READ = "surveillance:report:read"
AGGREGATE_READ = "surveillance:aggregate:read"
CONFIG_READ = "reporting:config:read"
CONFIG_WRITE = "reporting:config:write"

Strategy = Literal["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"]
STRATEGIES: tuple[str, ...] = ("CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE")

#: Problems kept (and shown) per rejected batch; all are counted.
MAX_ERRORS = 1000
#: Largest count a cell holds (PostgreSQL ``integer``).
MAX_VALUE = 2_147_483_647
#: Rows per INSERT ... ON CONFLICT statement batch.
WRITE_CHUNK = 5000
#: Ids per ``IN (...)`` list.
IN_CHUNK = 900
#: CSV columns (``deaths`` is optional).
CSV_COLUMNS = ("orgunit", "disease", "period_start", "cases", "deaths")
CSV_REQUIRED = ("orgunit", "disease", "period_start", "cases")
#: Largest CSV file accepted by the upload page (the command line takes any size).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
PENDING_DAYS = 7


# --- rows, results and errors ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One count as a payload states it, before validation.

    ``orgunit``: code (or DHIS2 uid, with ``orgunit_scheme="uid"``); ``disease``: catalogue code; ``period``: any
    spelling of :mod:`dhnet.reporting.periods` or a date; ``value``: a non-negative integer (``"12"`` is fine), or
    ``None`` to delete the count. ``ref`` names the row in messages (``row 12``, ``dataValues[3]``); ``index`` is
    its position in the payload; ``value_field`` names the value's field (``cases``, ``value``).
    """

    orgunit: str
    disease: str
    period: str | dt.date
    value: Any
    measure: str = CASES
    ref: str = ""
    index: int | None = None
    value_field: str = "value"


@dataclass(frozen=True)
class RowError:
    """One problem of a batch: where (``ref``, ``index``), which field, what (``message``), and the value at fault."""

    ref: str
    field: str
    message: str
    value: str = ""
    index: int | None = None
    forbidden: bool = False

    def __str__(self) -> str:
        if self.field:
            return f"{self.ref}, field {self.field}: {self.message}" if self.ref else f"{self.field}: {self.message}"
        return f"{self.ref}: {self.message}" if self.ref else self.message


class BatchRejected(ServiceError):
    """The whole batch is refused; ``errors`` lists (up to :data:`MAX_ERRORS`) problems, ``total`` counts them all.

    Status 403 when some row lies outside the actor's jurisdiction, else 400.
    """

    def __init__(self, errors: Sequence[RowError], total: int, *, values: int = 0) -> None:
        self.errors = list(errors)
        self.total = total
        self.values = values
        self.forbidden = any(e.forbidden for e in self.errors)
        self.status = 403 if self.forbidden else 400
        self.code = "forbidden" if self.forbidden else "invalid"
        shown = "; ".join(str(e) for e in self.errors[:20])
        more = f"; and {total - min(total, 20)} more" if total > 20 else ""
        noun = "problem" if total == 1 else "problems"
        super().__init__(f"batch rejected, nothing stored: {total} {noun}: {shown}{more}")

    def as_list(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.errors]


@dataclass
class IngestResult:
    """What an import did (or, for a dry run, would do)."""

    source: str
    checksum: str
    dry_run: bool = False
    duplicate: bool = False
    batch_id: int | None = None
    values: int = 0
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0
    orgunits: int = 0
    periods: list[str] = field(default_factory=list)
    received_at: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], **overrides: Any) -> IngestResult:
        known = {k: v for k, v in summary.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, **overrides})


def checksum_of(payload: Any) -> str:
    """sha256 of the canonical JSON of ``payload`` (sorted keys, compact), or of bytes as they are."""
    if isinstance(payload, bytes | bytearray):
        return hashlib.sha256(payload).hexdigest()
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --- settings -------------------------------------------------------------------------------------------------------


def reporting_settings() -> ReportingSettings:
    """The deployment's reporting settings (created with defaults on first use)."""
    row, _ = ReportingSettings.objects.get_or_create(pk=1)
    return row


def get_settings(actor: Actor) -> ReportingSettings:
    if not actor.has(CONFIG_READ):
        raise Forbidden(f"requires {CONFIG_READ}")
    return reporting_settings()


def update_settings(actor: Actor, changes: Mapping[str, Any]) -> ReportingSettings:
    """Change ``deadline_days`` (0..14) and/or ``reporting_level`` (1..32 or None: units without children)."""
    if not actor.has(CONFIG_WRITE):
        raise Forbidden(f"requires {CONFIG_WRITE}")
    unknown = sorted(set(changes) - {"deadline_days", "reporting_level"})
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown setting (settings: deadline_days, reporting_level)")
    if "deadline_days" in changes:
        days = changes["deadline_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 14:
            raise Invalid("deadline_days: expected a whole number of days after the week, 0 to 14")
    if "reporting_level" in changes:
        level = changes["reporting_level"]
        if level is not None and (isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 32):
            raise Invalid("reporting_level: expected an org-unit level 1 to 32, or null (units without children)")
    with transaction.atomic():
        row = reporting_settings()
        changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
        if changed:
            for name, value in changed.items():
                setattr(row, name, value)
            row.updated_by = actor.username[:150]
            row.save()
            audit.record(
                actor,
                "reporting.settings.update",
                object_type="reporting.settings",
                object_id=1,
                detail=changed,
                permission=CONFIG_WRITE,
            )
    return row


def deadline(week_start: dt.date, deadline_days: int | None = None) -> dt.datetime:
    """When the report of the ISO week starting ``week_start`` is due: 23:59:59.999999 local time
    (``DHNET_TIME_ZONE``) on the ``deadline_days``-th day after the week's Sunday."""
    days = reporting_settings().deadline_days if deadline_days is None else deadline_days
    tz = zoneinfo.ZoneInfo(django_settings.TIME_ZONE)
    due = week_start + dt.timedelta(days=6 + days)
    return dt.datetime.combine(due, dt.time.max, tzinfo=tz)


def today() -> dt.date:
    return timezone.localdate(timezone.now(), zoneinfo.ZoneInfo(django_settings.TIME_ZONE))


# --- reporting units ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Unit:
    id: int
    code: str
    path: str
    level: int


def _units_by(scheme: str, keys: Iterable[str]) -> dict[str, _Unit]:
    field_name = "uid" if scheme == "uid" else "code"
    keys = [k for k in set(keys) if k]
    found: dict[str, _Unit] = {}
    for i in range(0, len(keys), IN_CHUNK):
        chunk = keys[i : i + IN_CHUNK]
        for pk, code, uid, path, level in OrgUnit.objects.filter(**{f"{field_name}__in": chunk}).values_list(
            "id", "code", "uid", "path", "level"
        ):
            found[uid if scheme == "uid" else code] = _Unit(pk, code, path, level)
    return found


def _with_children(ids: Sequence[int]) -> set[int]:
    parents: set[int] = set()
    for i in range(0, len(ids), IN_CHUNK):
        parents.update(
            OrgUnit.objects.filter(parent_id__in=ids[i : i + IN_CHUNK]).values_list("parent_id", flat=True).distinct()
        )
    return parents


def _not_reporting(units: Iterable[_Unit], level: int | None) -> set[int]:
    """The ids of ``units`` that are not reporting units."""
    units = list(units)
    if level is not None:
        return {u.id for u in units if u.level != level}
    return _with_children([u.id for u in units])


def _reporting_rule(level: int | None) -> str:
    return f"units at level {level} report" if level is not None else "units without child units report"


# --- ingest ---------------------------------------------------------------------------------------------------------


_Key = tuple[int, int, dt.date, str]  # disease_id, orgunit_id, period_start, measure


def _parse_value(raw: Any) -> int | None:
    """A count from an int or a string of digits; ``ValueError`` otherwise (bool, negative, decimals, text)."""
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str) and raw.strip().isdigit() and raw.strip().isascii():
        value = int(raw.strip())
    else:
        raise ValueError
    if not 0 <= value <= MAX_VALUE:
        raise ValueError
    return value


class _Problems:
    """The problems of a batch: each told once (a CSV line gives a cases and a deaths row with the same period)."""

    def __init__(self, initial: Iterable[RowError]) -> None:
        self.kept: list[RowError] = []
        self.total = 0
        self.seen: set[tuple[str, str, str]] = set()
        for error in initial:
            self.add(error)

    def add(self, error: RowError) -> None:
        key = (error.ref, error.field, error.message)
        if error.ref and key in self.seen:
            return
        self.seen.add(key)
        self.total += 1
        if len(self.kept) < MAX_ERRORS:
            self.kept.append(error)


def ingest(
    actor: Actor,
    source: str,
    rows: Sequence[Row],
    *,
    payload_checksum: str,
    dry_run: bool = False,
    strategy: str = "CREATE_AND_UPDATE",
    orgunit_scheme: str = "code",
    field_names: Mapping[str, str] | None = None,
    errors: Sequence[RowError] = (),
    detail: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestResult:
    """Validate ``rows`` and store them all, or none (see the module documentation).

    ``source``: a :class:`~dhnet.reporting.models.Source` value. ``payload_checksum``: sha256 of the payload as
    received (:func:`checksum_of`); a retried payload with the same source and checksum stores nothing and returns
    the first import's summary (``duplicate=True``). ``dry_run``: validate and count, store nothing.
    ``orgunit_scheme``: ``code`` or ``uid`` (DHIS2 ids). ``field_names`` renames ``orgunit``, ``disease``,
    ``period`` and ``measure`` in messages (``{"orgunit": "orgUnit"}``). ``errors``: problems the caller found
    while reading its payload, reported together with the rows' own. ``detail``: stored in the batch summary
    (e.g. the file name). ``progress(done, total)`` is called while writing.

    Raises :class:`Forbidden` without ``surveillance:report:write``, :class:`BatchRejected` listing every problem,
    :class:`Invalid` for a bad argument.
    """
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    if source not in Source.values:
        raise Invalid(f"source: expected one of {', '.join(Source.values)}")
    if strategy not in STRATEGIES:
        raise Invalid(f"importStrategy: expected one of {', '.join(STRATEGIES)}")
    if orgunit_scheme not in ("code", "uid"):
        raise Invalid("orgUnitIdScheme: expected code or uid")
    if len(payload_checksum) != 64:
        raise Invalid("payload_checksum: expected a sha256 hex digest")
    names = {"orgunit": "orgunit", "disease": "disease", "period": "period", "measure": "measure"}
    names.update(field_names or {})
    problems = _Problems(errors)
    config = reporting_settings()
    current = today()

    diseases = {d.code: d for d in Disease.objects.all()}
    units = _units_by(orgunit_scheme, (r.orgunit for r in rows))
    not_reporting = _not_reporting(units.values(), config.reporting_level)
    allowed_paths = actor.paths_for(WRITE)
    allowed: dict[int, bool] = {}
    periods: dict[tuple[str | dt.date, str], dt.date | str] = {}
    seen: dict[_Key, str] = {}
    cells: list[tuple[_Key, int | None]] = []

    for row in rows:
        ok = True
        unit = units.get(row.orgunit) if isinstance(row.orgunit, str) else None
        if unit is None:
            problems.add(
                RowError(row.ref, names["orgunit"], f"unknown org unit {row.orgunit!r}", str(row.orgunit), row.index)
            )
            ok = False
        else:
            inside = allowed.get(unit.id)
            if inside is None:
                inside = allowed[unit.id] = any(unit.path.startswith(p) for p in allowed_paths)
            if not inside:
                problems.add(
                    RowError(
                        row.ref,
                        names["orgunit"],
                        f"org unit {row.orgunit!r} is outside your jurisdiction",
                        row.orgunit,
                        row.index,
                        forbidden=True,
                    )
                )
                ok = False
            elif unit.id in not_reporting:
                problems.add(
                    RowError(
                        row.ref,
                        names["orgunit"],
                        f"org unit {row.orgunit!r} is not a reporting unit ({_reporting_rule(config.reporting_level)})",
                        row.orgunit,
                        row.index,
                    )
                )
                ok = False
        disease = diseases.get(row.disease) if isinstance(row.disease, str) else None
        if disease is None:
            problems.add(
                RowError(row.ref, names["disease"], f"unknown disease {row.disease!r}", str(row.disease), row.index)
            )
            ok = False
        elif not disease.active:
            problems.add(
                RowError(row.ref, names["disease"], f"disease {row.disease!r} is not active", row.disease, row.index)
            )
            ok = False
        if row.measure not in MEASURES:
            problems.add(
                RowError(
                    row.ref,
                    names["measure"],
                    f"expected one of {', '.join(Measure.values)}",
                    str(row.measure),
                    row.index,
                )
            )
            ok = False
        start: dt.date | None = None
        if not isinstance(row.period, str | dt.date):
            problems.add(RowError(row.ref, names["period"], "expected a period such as 2024-W05", "", row.index))
            ok = False
        elif disease is not None:
            unit_kind = "month" if disease.reporting == ReportingFrequency.MONTHLY else "week"
            cache_key = (row.period, unit_kind)
            parsed = periods.get(cache_key)
            if parsed is None:
                try:
                    parsed = period_start(row.period, unit_kind)  # type: ignore[arg-type]
                    if parsed > current:
                        shown = week_label(parsed) if unit_kind == "week" else f"{parsed:%Y-%m}"
                        parsed = f"{shown} has not started yet"
                except PeriodError as exc:
                    parsed = str(exc)
                periods[cache_key] = parsed
            if isinstance(parsed, str):
                problems.add(RowError(row.ref, names["period"], parsed, str(row.period), row.index))
                ok = False
            else:
                start = parsed
        value: int | None = None
        if row.value is not None and strategy != "DELETE":
            try:
                value = _parse_value(row.value)
            except ValueError:
                problems.add(
                    RowError(
                        row.ref,
                        row.value_field,
                        "must be a non-negative integer",
                        str(row.value)[:64],
                        row.index,
                    )
                )
                ok = False
        if not ok or unit is None or disease is None or start is None:
            continue
        key = (disease.pk, unit.id, start, row.measure)
        first = seen.get(key)
        if first is not None:
            shown = start.isoformat() if disease.reporting == ReportingFrequency.MONTHLY else week_label(start)
            cell = f"{row.orgunit}, {disease.code}, {shown}, {row.measure}"
            problems.add(RowError(row.ref, "", f"repeats the count of {first} ({cell})", "", row.index))
            continue
        seen[key] = row.ref or str(row.index)
        cells.append((key, value))

    if problems.total:
        raise BatchRejected(problems.kept, problems.total, values=len(rows))

    weekly = {d.pk for d in diseases.values() if d.reporting != ReportingFrequency.MONTHLY}
    result = IngestResult(
        source=source,
        checksum=payload_checksum,
        dry_run=dry_run,
        values=len(cells),
        orgunits=len({k[1] for k, _ in cells}),
        periods=sorted({k[2].isoformat() for k, _ in cells}),
        detail=dict(detail or {}),
    )
    if not cells:
        return result
    try:
        with _write_cache():
            return _store(actor, result, cells, strategy, weekly, dry_run, progress)
    except IntegrityError:
        # The same payload committed meanwhile by a concurrent request (unique source + checksum).
        prior = ImportBatch.objects.filter(source=source, checksum=payload_checksum).first()
        if prior is None:
            raise
        return IngestResult.from_summary(prior.summary, duplicate=True, dry_run=False)


#: Cells looked up by their exact (disease, org unit, period) when the sets' cross product is this many times
#: larger than the cells (a case Bundle's scattered cells: 100 cells could otherwise read some 40,000 stored counts).
SPARSE_FACTOR = 20
SPARSE_CHUNK = 300  # cells per VALUES list (3 parameters each)


def _existing(cells: Sequence[tuple[_Key, int | None]]) -> dict[_Key, tuple[int, int]]:
    """Stored counts of the cells: key -> (id, value). Reads by (disease, period) sets and org-unit chunks, with
    plain SQL (no model instances: a batch may hold hundreds of thousands of cells); scattered cells (few compared
    with the cross product of their diseases, periods and org units) by their exact row values instead."""
    diseases = sorted({k[0] for k, _ in cells})
    periods = sorted({k[2] for k, _ in cells})
    units = sorted({k[1] for k, _ in cells})
    if len(diseases) * len(periods) * len(units) > SPARSE_FACTOR * len(cells):
        return _existing_sparse(cells)
    meta = CountValue._meta
    table = connection.ops.quote_name(meta.db_table)
    col = {f.name: connection.ops.quote_name(f.column) for f in meta.concrete_fields}
    dates = {connection.ops.adapt_datefield_value(p): p for p in periods}
    in_diseases = ", ".join(["%s"] * len(diseases))
    in_periods = ", ".join(["%s"] * len(dates))
    found: dict[_Key, tuple[int, int]] = {}
    with connection.cursor() as cursor:
        for i in range(0, len(units), IN_CHUNK):
            chunk = units[i : i + IN_CHUNK]
            in_units = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT {col['id']}, {col['disease']}, {col['orgunit']}, {col['period_start']}, {col['measure']}, "
                f"{col['value']} FROM {table} WHERE {col['disease']} IN ({in_diseases}) "
                f"AND {col['period_start']} IN ({in_periods}) AND {col['orgunit']} IN ({in_units})",
                [*diseases, *dates, *chunk],
            )
            while batch := cursor.fetchmany(10_000):
                for pk, disease, unit, start, measure, value in batch:
                    day = dates[start] if isinstance(start, str) else start
                    found[(disease, unit, day, measure)] = (pk, value)
    return found


def _existing_sparse(cells: Sequence[tuple[_Key, int | None]]) -> dict[_Key, tuple[int, int]]:
    """:func:`_existing` by the cells' exact (disease, org unit, period) values."""
    found: dict[_Key, tuple[int, int]] = {}
    rows = rows_by_keys(
        CountValue,
        ("disease", "orgunit", "period_start"),
        ("id", "disease", "orgunit", "period_start", "measure", "value"),
        {(k[0], k[1], k[2]) for k, _ in cells},
        chunk=SPARSE_CHUNK,
    )
    for pk, disease, unit, start, measure, value in rows:
        day = dt.date.fromisoformat(start) if isinstance(start, str) else start
        found[(disease, unit, day, measure)] = (pk, value)
    return found


@contextlib.contextmanager
def _write_cache() -> Iterator[None]:
    """On SQLite, a large page cache for the duration of a batch's transaction."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _store(
    actor: Actor,
    result: IngestResult,
    cells: Sequence[tuple[_Key, int | None]],
    strategy: str,
    weekly: set[int],
    dry_run: bool,
    progress: Callable[[int, int], None] | None,
) -> IngestResult:
    now = timezone.now()
    result.received_at = now.isoformat()
    with transaction.atomic():
        prior = None
        batch = None
        if not dry_run:
            prior = ImportBatch.objects.filter(source=result.source, checksum=result.checksum).first()
            if prior is None:  # claim the checksum first: an identical concurrent payload waits here
                batch = ImportBatch.objects.create(
                    source=result.source, checksum=result.checksum, actor_username=actor.username[:150]
                )
        existing = _existing(cells)
        upserts: list[tuple[_Key, int]] = []
        deletes: list[int] = []
        deleted_keys: list[_Key] = []
        reported: set[tuple[int, dt.date]] = set()
        for key, value in cells:
            stored = existing.get(key)
            if strategy == "DELETE" or value is None:
                if stored is not None and strategy != "CREATE":
                    deletes.append(stored[0])
                    deleted_keys.append(key)
                    result.deleted += 1
                else:
                    result.ignored += 1
                continue
            if key[0] in weekly:
                reported.add((key[1], key[2]))
            if stored is None:
                if strategy == "UPDATE":
                    result.ignored += 1
                else:
                    upserts.append((key, value))
                    result.imported += 1
            elif stored[1] == value or strategy == "CREATE":
                result.ignored += 1
            else:
                upserts.append((key, value))
                result.updated += 1
        changes = result.imported + result.updated + result.deleted
        if dry_run:
            audit.record(
                actor,
                "reporting.batch.validate",
                object_type="reporting.importbatch",
                detail=_audit_detail(result),
                permission=WRITE,
            )
            return result
        if prior is not None and not changes:
            audit.record(
                actor,
                "reporting.batch.duplicate",
                object_type="reporting.importbatch",
                object_id=prior.pk,
                detail={"source": result.source, "checksum": result.checksum},
                permission=WRITE,
            )
            return IngestResult.from_summary(prior.summary, duplicate=True, dry_run=False)
        if batch is None:  # the same payload again, but the counts changed since: apply it again
            result.detail["payload_checksum"] = result.checksum
            batch = ImportBatch.objects.create(
                source=result.source,
                checksum=hashlib.sha256(f"{result.checksum}:{uuid.uuid4()}".encode()).hexdigest(),
                actor_username=actor.username[:150],
            )
        result.batch_id = batch.pk
        _write_counts(upserts, batch.pk, now, progress)
        for i in range(0, len(deletes), IN_CHUNK):
            CountValue.objects.filter(id__in=deletes[i : i + IN_CHUNK]).delete()
        _write_submissions(actor, reported, result.source, now)
        ImportBatch.objects.filter(pk=batch.pk).update(
            imported=result.imported,
            updated=result.updated,
            ignored=result.ignored,
            deleted=result.deleted,
            summary=result.as_dict(),
        )
        audit.record(
            actor,
            "reporting.batch.import",
            object_type="reporting.importbatch",
            object_id=batch.pk,
            detail=_audit_detail(result),
            permission=WRITE,
        )
        if changes:
            changed = [key for key, _ in upserts] + deleted_keys
            payload = {
                "batch_id": batch.pk,
                "source": result.source,
                "disease_ids": sorted({k[0] for k in changed}),
                "orgunit_ids": sorted({k[1] for k in changed}),
                "periods": sorted({k[2] for k in changed}),
                "actor_username": actor.username,
            }
            transaction.on_commit(lambda: events.counts_changed.send(sender=ImportBatch, **payload))
    return result


def _audit_detail(result: IngestResult) -> dict[str, Any]:
    return {
        "source": result.source,
        "checksum": result.checksum,
        "values": result.values,
        "imported": result.imported,
        "updated": result.updated,
        "ignored": result.ignored,
        "deleted": result.deleted,
        "orgunits": result.orgunits,
        "periods": [result.periods[0], result.periods[-1]] if result.periods else [],
        **{k: v for k, v in result.detail.items() if isinstance(v, str | int | float | bool)},
    }


def _write_counts(
    upserts: Sequence[tuple[_Key, int]],
    batch_id: int,
    now: dt.datetime,
    progress: Callable[[int, int], None] | None,
) -> None:
    """``INSERT ... ON CONFLICT (cell) DO UPDATE`` in chunks of :data:`WRITE_CHUNK` rows.

    PostgreSQL: one statement per chunk, the rows passed as arrays (``SELECT * FROM unnest(...)``), so the server
    plans and runs one statement instead of one per row. SQLite (>= 3.24): ``executemany`` of the one-row statement,
    which runs in-process without round trips.
    """
    meta = CountValue._meta
    table = connection.ops.quote_name(meta.db_table)
    col = {f.name: connection.ops.quote_name(f.column) for f in meta.concrete_fields}
    columns = ("disease", "orgunit", "period_start", "measure", "value", "batch", "updated_at")
    cell = ", ".join(col[c] for c in ("disease", "orgunit", "period_start", "measure"))
    conflict = (
        f"ON CONFLICT ({cell}) DO UPDATE SET {col['value']} = excluded.{col['value']}, "
        f"{col['batch']} = excluded.{col['batch']}, {col['updated_at']} = excluded.{col['updated_at']}"
    )
    names = ", ".join(col[c] for c in columns)
    postgres = connection.vendor == "postgresql"
    if postgres:
        arrays = "%s::bigint[], %s::bigint[], %s::date[], %s::text[], %s::integer[], %s::bigint[], %s::timestamptz[]"
        sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {conflict}"
    else:
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}) {conflict}"
    stamp = connection.ops.adapt_datetimefield_value(now)
    adapt_date = connection.ops.adapt_datefield_value
    dates: dict[dt.date, Any] = {}
    total = len(upserts)
    with connection.cursor() as cursor:
        for i in range(0, total, WRITE_CHUNK):
            chunk = upserts[i : i + WRITE_CHUNK]
            if postgres:
                n = len(chunk)
                cursor.execute(
                    sql,
                    [
                        [k[0] for k, _ in chunk],
                        [k[1] for k, _ in chunk],
                        [k[2] for k, _ in chunk],
                        [k[3] for k, _ in chunk],
                        [v for _, v in chunk],
                        [batch_id] * n,
                        [stamp] * n,
                    ],
                )
            else:
                params = []
                for (disease, unit, start, measure), value in chunk:
                    day = dates.get(start)
                    if day is None:
                        day = dates[start] = adapt_date(start)
                    params.append((disease, unit, day, measure, value, batch_id, stamp))
                cursor.executemany(sql, params)
            if progress is not None:
                progress(min(i + WRITE_CHUNK, total), total)


def _write_submissions(actor: Actor, reported: set[tuple[int, dt.date]], source: str, now: dt.datetime) -> None:
    """Record that each (org unit, week) reported: first time with on-time status, later only the last time.

    PostgreSQL: one statement per chunk with the rows as arrays (as :func:`_write_counts`; one statement per row
    was a hundred round trips for a Bundle of case reports); SQLite: ``executemany`` of the one-row statement.
    """
    if not reported:
        return
    meta = Submission._meta
    table = connection.ops.quote_name(meta.db_table)
    col = {f.name: connection.ops.quote_name(f.column) for f in meta.concrete_fields}
    columns = ("orgunit", "period_start", "first_received_at", "last_received_at", "on_time", "source", "submitted_by")
    conflict = (
        f"ON CONFLICT ({col['orgunit']}, {col['period_start']}) DO UPDATE SET "
        f"{col['last_received_at']} = excluded.{col['last_received_at']}"
    )
    names = ", ".join(col[c] for c in columns)
    postgres = connection.vendor == "postgresql"
    if postgres:
        arrays = (
            "%s::bigint[], %s::date[], %s::timestamptz[], %s::timestamptz[], %s::boolean[], %s::text[], %s::bigint[]"
        )
        sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {conflict}"
    else:
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}) {conflict}"
    days = reporting_settings().deadline_days
    stamp = connection.ops.adapt_datetimefield_value(now)
    due: dict[dt.date, bool] = {}
    params = []
    for unit, start in sorted(reported):
        on_time = due.get(start)
        if on_time is None:
            on_time = due[start] = now <= deadline(start, days)
        params.append((unit, connection.ops.adapt_datefield_value(start), stamp, stamp, on_time, source, actor.user_id))
    with connection.cursor() as cursor:
        for i in range(0, len(params), WRITE_CHUNK):
            chunk = params[i : i + WRITE_CHUNK]
            if postgres:
                cursor.execute(sql, [list(column) for column in zip(*chunk, strict=True)])
            else:
                cursor.executemany(sql, chunk)


# --- CSV ------------------------------------------------------------------------------------------------------------


def decode_text(data: bytes, what: str = "file") -> str:
    """The UTF-8 text of an uploaded file; a NUL character (no CSV holds one; PostgreSQL text cannot store it) is
    refused naming its line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"{what}: not UTF-8 text (byte {exc.start})") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise Invalid(f"{what}: line {text.count(chr(10), 0, nul) + 1} contains a NUL character (not a text file?)")
    return text


def parse_csv(text: str) -> tuple[list[Row], list[RowError]]:
    """Rows of a CSV file ``orgunit,disease,period_start,cases[,deaths]`` (header first, any column order).

    Rows are numbered as lines of the file (the header is row 1). ``period_start`` takes any period spelling
    (``2024-01-29``, ``2024-W05``); ``cases`` is required, ``deaths`` optional (an empty cell stores nothing).
    """
    errors: list[RowError] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise Invalid("file: empty (expected a header orgunit,disease,period_start,cases[,deaths])") from None
    except csv.Error as exc:
        raise Invalid(f"row 1: {exc}") from None
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if unknown:
        raise Invalid(f"row 1: unknown column {unknown[0]!r} (columns: {', '.join(CSV_COLUMNS)}; deaths optional)")
    missing = [n for n in CSV_REQUIRED if n not in names]
    if missing:
        raise Invalid(f"row 1: missing column {missing[0]!r} (columns: {', '.join(CSV_COLUMNS)}; deaths optional)")
    if len(set(names)) != len(names):
        raise Invalid("row 1: a column repeats")
    at = {n: i for i, n in enumerate(names)}
    rows: list[Row] = []
    line = 1
    try:
        for record in reader:
            line = reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue
            ref = f"row {line}"
            if len(record) != len(names):
                errors.append(RowError(ref, "", f"expected {len(names)} fields, got {len(record)}", index=line))
                continue
            orgunit = record[at["orgunit"]].strip()
            disease = record[at["disease"]].strip()
            period = record[at["period_start"]].strip()
            cases = record[at["cases"]].strip()
            rows.append(Row(orgunit, disease, period, cases, CASES, ref, line, "cases"))
            if "deaths" in at:
                deaths = record[at["deaths"]].strip()
                if deaths:
                    rows.append(Row(orgunit, disease, period, deaths, DEATHS, ref, line, "deaths"))
    except csv.Error as exc:
        errors.append(RowError(f"row {line + 1}", "", str(exc), index=line + 1))
    if not rows and not errors:
        raise Invalid("file: no data rows after the header")
    return rows, errors


def import_csv(
    actor: Actor,
    data: bytes,
    *,
    filename: str = "",
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> IngestResult:
    """Import a CSV file (see :func:`parse_csv`); the checksum is that of the file's bytes."""
    rows, errors = parse_csv(decode_text(data))
    return ingest(
        actor,
        "csv",
        rows,
        payload_checksum=checksum_of(data),
        dry_run=dry_run,
        field_names={"period": "period_start"},
        errors=errors,
        detail={"filename": filename[:255]} if filename else None,
        progress=progress,
    )


def _purge_pending() -> None:
    PendingUpload.objects.filter(created_at__lt=timezone.now() - dt.timedelta(days=PENDING_DAYS)).delete()


def stage_upload(actor: Actor, filename: str, data: bytes) -> PendingUpload:
    """Parse and validate an uploaded CSV file (a dry run) and keep it for the preview, keyed by its checksum."""
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    if actor.user_id is None:
        raise Forbidden("uploads belong to a user account")
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid(f"file: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; use the command line for big files")
    checksum = checksum_of(data)
    text = decode_text(data)
    report: dict[str, Any]
    try:
        result = import_csv(actor, data, filename=filename, dry_run=True)
        report = {"ok": True, "summary": result.as_dict()}
    except BatchRejected as exc:
        report = {"ok": False, "status": exc.status, "total": exc.total, "errors": [str(e) for e in exc.errors]}
    except Invalid as exc:
        report = {"ok": False, "status": exc.status, "total": 1, "errors": [exc.message]}
    with transaction.atomic():
        _purge_pending()
        upload, _ = PendingUpload.objects.update_or_create(
            user_id=actor.user_id,
            checksum=checksum,
            defaults={"filename": filename[:255], "content": text, "report": report, "batch": None},
        )
    return upload


def get_upload(actor: Actor, checksum: str) -> PendingUpload:
    """One of the actor's own pending uploads (else :class:`NotFound`)."""
    upload = PendingUpload.objects.filter(user_id=actor.user_id, checksum=checksum).first()
    if upload is None or actor.user_id is None:
        raise NotFound("upload not found (expired after 7 days, or not yours)")
    return upload


def preview_rows(upload: PendingUpload, limit: int = 200) -> tuple[list[Row], int]:
    """The first ``limit`` rows of a pending upload and how many it has."""
    try:
        rows, _ = parse_csv(upload.content)
    except Invalid:
        return [], 0
    return rows[:limit], len(rows)


def confirm_upload(actor: Actor, checksum: str) -> IngestResult:
    """Store a pending upload (validated again: data may have changed since the preview)."""
    upload = get_upload(actor, checksum)
    rows, errors = parse_csv(upload.content)
    result = ingest(
        actor,
        "csv",
        rows,
        payload_checksum=upload.checksum,
        errors=errors,
        detail={"filename": upload.filename} if upload.filename else None,
    )
    PendingUpload.objects.filter(pk=upload.pk).update(
        batch_id=result.batch_id, report={"ok": True, "stored": True, "summary": result.as_dict()}
    )
    return result


# --- generic JSON rows ------------------------------------------------------------------------------------------------


def rows_from_records(records: Sequence[Mapping[str, Any]], what: str = "rows") -> list[Row]:
    """Rows of ``[{"orgunit", "disease", "period", "cases", "deaths"?}, ...]`` (deaths optional, null: none)."""
    rows: list[Row] = []
    for i, record in enumerate(records):
        ref = f"{what}[{i}]"
        rows.append(
            Row(
                str(record.get("orgunit", "")),
                str(record.get("disease", "")),
                record.get("period", ""),
                record.get("cases"),
                CASES,
                ref,
                i,
                "cases",
            )
        )
        if record.get("deaths") is not None:
            rows.append(
                Row(
                    str(record.get("orgunit", "")),
                    str(record.get("disease", "")),
                    record.get("period", ""),
                    record.get("deaths"),
                    DEATHS,
                    ref,
                    i,
                    "deaths",
                )
            )
    return rows


# --- weekly form ----------------------------------------------------------------------------------------------------


@dataclass
class FormLine:
    disease: Disease
    cases: int | None
    deaths: int | None
    previous_cases: int | None
    previous_deaths: int | None


@dataclass
class WeeklyForm:
    unit: OrgUnit
    week: dt.date
    label: str
    lines: list[FormLine]
    submitted: Submission | None
    due: dt.datetime


def form_diseases() -> list[Disease]:
    """The diseases of the weekly aggregate form: active, reported weekly or immediately (IDSR weekly summary)."""
    return list(
        Disease.objects.filter(
            active=True, reporting__in=(ReportingFrequency.WEEKLY, ReportingFrequency.IMMEDIATE)
        ).order_by("name")
    )


def reporting_units(actor: Actor, permission: str = WRITE) -> list[OrgUnit]:
    """The reporting units where ``actor`` holds ``permission``, by path."""
    qs = in_jurisdiction(OrgUnit.objects.defer("geometry"), actor, permission).order_by("path")
    level = reporting_settings().reporting_level
    if level is not None:
        return list(qs.filter(level=level))
    return list(qs.filter(children__isnull=True))


def _form_unit(actor: Actor, code: str) -> OrgUnit:
    unit = OrgUnit.objects.defer("geometry").filter(code=code).first()
    if unit is None:
        raise NotFound(f"org unit {code!r} not found")
    require_in_jurisdiction(actor, WRITE, unit)
    if unit.pk in _not_reporting(
        [_Unit(unit.pk, unit.code, unit.path, unit.level)], reporting_settings().reporting_level
    ):
        raise Invalid(
            f"orgunit: {code!r} is not a reporting unit ({_reporting_rule(reporting_settings().reporting_level)})"
        )
    return unit


def weekly_form(actor: Actor, orgunit_code: str, week: str | dt.date) -> WeeklyForm:
    """The weekly form of a reporting unit: this week's counts and last week's (an audited read)."""
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    start = _week(week)
    with transaction.atomic():
        unit = _form_unit(actor, orgunit_code)
        previous = start - dt.timedelta(weeks=1)
        values: dict[tuple[int, dt.date, str], int] = {
            (d, p, m): v
            for d, p, m, v in CountValue.objects.filter(orgunit=unit, period_start__in=[start, previous]).values_list(
                "disease_id", "period_start", "measure", "value"
            )
        }
        lines = [
            FormLine(
                disease=d,
                cases=values.get((d.pk, start, CASES)),
                deaths=values.get((d.pk, start, DEATHS)),
                previous_cases=values.get((d.pk, previous, CASES)),
                previous_deaths=values.get((d.pk, previous, DEATHS)),
            )
            for d in form_diseases()
        ]
        submitted = Submission.objects.filter(orgunit=unit, period_start=start).first()
        audit.record(
            actor,
            "reporting.count.read",
            object_type="orgunits.orgunit",
            object_id=unit.code,
            detail={"week": week_label(start), "form": True},
            permission=WRITE,
        )
    return WeeklyForm(unit, start, week_label(start), lines, submitted, deadline(start))


def _week(week: str | dt.date) -> dt.date:
    try:
        start = parse_week(week) if isinstance(week, str) else period_start(week, "week")
    except PeriodError as exc:
        raise Invalid(f"week: {exc}") from None
    if start > today():
        raise Invalid(f"week: {week_label(start)} has not started yet")
    return start


def submit_form(actor: Actor, orgunit_code: str, week: str | dt.date, fields: Mapping[str, str]) -> IngestResult:
    """Store the weekly form: ``fields`` holds ``cases_<disease code>`` and ``deaths_<disease code>``.

    An empty field stores nothing, or deletes the count that was there (enter 0 for zero cases).
    """
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    start = _week(week)
    unit = _form_unit(actor, orgunit_code)
    stored = {
        (d, m)
        for d, m in CountValue.objects.filter(orgunit=unit, period_start=start).values_list("disease__code", "measure")
    }
    rows: list[Row] = []
    for disease in form_diseases():
        for measure in (CASES, DEATHS):
            raw = str(fields.get(f"{measure}_{disease.code}", "")).strip()
            if not raw and (disease.code, measure) not in stored:
                continue
            rows.append(Row(unit.code, disease.code, start, raw or None, measure, disease.name, None, measure))
    if not rows:
        raise Invalid("form: enter at least one count (0 for none)")
    payload = {
        "orgunit": unit.code,
        "week": week_label(start),
        "values": sorted((r.disease, r.measure, r.value) for r in rows if r.value is not None),
        "cleared": sorted((r.disease, r.measure) for r in rows if r.value is None),
    }
    return ingest(actor, "form", rows, payload_checksum=checksum_of(payload), detail={"orgunit": unit.code})


# --- completeness and timeliness ------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One org unit and week: reporting units expected, reports received, received by the deadline."""

    expected: int = 0
    received: int = 0
    on_time: int = 0

    @property
    def completeness(self) -> float | None:
        return round(100.0 * self.received / self.expected, 1) if self.expected else None

    @property
    def timeliness(self) -> float | None:
        return round(100.0 * self.on_time / self.expected, 1) if self.expected else None


@dataclass
class CompletenessRow:
    code: str
    name: str
    level: int
    depth: int
    has_children: bool
    weeks: list[Cell]
    total: Cell


@dataclass
class CompletenessTable:
    weeks: list[dt.date]
    rows: list[CompletenessRow]
    root: str | None
    deadline_days: int

    @property
    def labels(self) -> list[str]:
        return [week_label(w) for w in self.weeks]


MAX_WEEKS = 104


def _weeks(first: str | dt.date, last: str | dt.date | None) -> list[dt.date]:
    try:
        start = parse_week(first) if isinstance(first, str) else monday_of(first)
        end = (parse_week(last) if isinstance(last, str) else monday_of(last)) if last else start
    except PeriodError as exc:
        raise Invalid(f"week: {exc}") from None
    if end < start:
        raise Invalid("to: before from")
    weeks = weeks_between(start, end)
    if len(weeks) > MAX_WEEKS:
        raise Invalid(f"to: at most {MAX_WEEKS} weeks at a time")
    return weeks


def _subtree(
    actor: Actor, permission: str, root: str | None
) -> tuple[list[tuple[int, int | None, str, int, str, str]], OrgUnit | None]:
    """(id, parent_id, path, level, code, name) of the units within the jurisdiction (under ``root``)."""
    qs = in_jurisdiction(OrgUnit.objects.all(), actor, permission)
    top = None
    if root:
        top = OrgUnit.objects.defer("geometry").filter(code=root).first()
        if top is None:
            raise NotFound(f"org unit {root!r} not found")
        require_in_jurisdiction(actor, permission, top)
        qs = qs.filter(path__startswith=top.path)
    return list(qs.order_by("path").values_list("id", "parent_id", "path", "level", "code", "name")), top


def _reporting_ids(units: Sequence[tuple[int, int | None, str, int, str, str]], level: int | None) -> list[int]:
    if level is not None:
        return [u[0] for u in units if u[3] == level]
    parents = {u[1] for u in units}
    # A unit whose children lie outside the actor's view still has children: ask the database for those.
    candidates = [u[0] for u in units if u[0] not in parents]
    hidden = _with_children(candidates)
    return [pk for pk in candidates if pk not in hidden]


def completeness(
    actor: Actor,
    first: str | dt.date,
    last: str | dt.date | None = None,
    *,
    root: str | None = None,
    depth: int = 1,
) -> CompletenessTable:
    """IDSR completeness and timeliness per org unit and ISO week, rolled up the hierarchy.

    For each unit and week: ``expected`` reporting units below (or at) it, ``received`` reports (a
    :class:`Submission`), ``on_time`` reports received by the deadline; completeness = received / expected and
    timeliness = on time / expected, in percent. Rows: ``root`` (default: the top units of the actor's
    jurisdiction) and ``depth`` levels below it, in tree order. Needs ``surveillance:aggregate:read``.
    """
    if not actor.has(AGGREGATE_READ):
        raise Forbidden(f"requires {AGGREGATE_READ}")
    if not 0 <= depth <= 10:
        raise Invalid("depth: between 0 and 10 levels below the root")
    weeks = _weeks(first, last)
    config = reporting_settings()
    with transaction.atomic():
        units, top = _subtree(actor, AGGREGATE_READ, root)
        reporting = _reporting_ids(units, config.reporting_level)
        received: dict[tuple[int, dt.date], bool] = {}
        for i in range(0, len(reporting), IN_CHUNK):
            for unit, start, on_time in Submission.objects.filter(
                orgunit_id__in=reporting[i : i + IN_CHUNK], period_start__in=weeks
            ).values_list("orgunit_id", "period_start", "on_time"):
                received[(unit, start)] = on_time
        by_id = {u[0]: u for u in units}
        cells: dict[int, list[Cell]] = defaultdict(lambda: [Cell() for _ in weeks])
        for unit_id in reporting:
            ancestors = [int(p) for p in by_id[unit_id][2].strip("/").split("/")]
            states = [received.get((unit_id, w)) for w in weeks]
            for ancestor in ancestors:
                if ancestor not in by_id:
                    continue
                row = cells[ancestor]
                for i, state in enumerate(states):
                    row[i].expected += 1
                    if state is not None:
                        row[i].received += 1
                        if state:
                            row[i].on_time += 1
        top_level = top.level if top is not None else min((u[3] for u in units), default=1)
        parents = {u[1] for u in units}
        rows = []
        for pk, _parent, _path, level, code, name in units:
            if level - top_level > depth:
                continue
            week_cells = cells.get(pk) or [Cell() for _ in weeks]
            total = Cell(
                sum(c.expected for c in week_cells),
                sum(c.received for c in week_cells),
                sum(c.on_time for c in week_cells),
            )
            rows.append(CompletenessRow(code, name, level, level - top_level, pk in parents, week_cells, total))
        audit.record(
            actor,
            "reporting.completeness.read",
            object_type="orgunits.orgunit",
            object_id=root or "",
            detail={"from": week_label(weeks[0]), "to": week_label(weeks[-1]), "depth": depth, "rows": len(rows)},
            permission=AGGREGATE_READ,
        )
    return CompletenessTable(weeks, rows, root, config.deadline_days)


@dataclass(frozen=True)
class MissingReport:
    """A reporting unit without a report for the week (notifications send reminders from these)."""

    code: str
    name: str
    path: str
    level: int
    parent_code: str | None
    week: dt.date
    deadline: dt.datetime


def missing_reports(actor: Actor, week: str | dt.date, *, root: str | None = None) -> list[MissingReport]:
    """The reporting units within the actor's jurisdiction (under ``root``) with no report for ``week``.

    Needs ``surveillance:aggregate:read``; the notifications context calls it with a system actor holding it at
    the top of the tree. Audited.
    """
    if not actor.has(AGGREGATE_READ):
        raise Forbidden(f"requires {AGGREGATE_READ}")
    try:
        start = parse_week(week) if isinstance(week, str) else monday_of(week)
    except PeriodError as exc:
        raise Invalid(f"week: {exc}") from None
    config = reporting_settings()
    due = deadline(start, config.deadline_days)
    with transaction.atomic():
        units, _top = _subtree(actor, AGGREGATE_READ, root)
        reporting = _reporting_ids(units, config.reporting_level)
        reported: set[int] = set()
        for i in range(0, len(reporting), IN_CHUNK):
            reported.update(
                Submission.objects.filter(orgunit_id__in=reporting[i : i + IN_CHUNK], period_start=start).values_list(
                    "orgunit_id", flat=True
                )
            )
        by_id = {u[0]: u for u in units}
        codes = {u[0]: u[4] for u in units}
        missing = []
        for pk in reporting:
            if pk in reported:
                continue
            _, parent, path, level, code, name = by_id[pk]
            missing.append(MissingReport(code, name, path, level, codes.get(parent) if parent else None, start, due))
        audit.record(
            actor,
            "reporting.missing.read",
            object_type="orgunits.orgunit",
            object_id=root or "",
            detail={"week": week_label(start), "missing": len(missing), "expected": len(reporting)},
            permission=AGGREGATE_READ,
        )
    return missing


# --- DHIS2 data element mappings ------------------------------------------------------------------------------------


MAPPING_FIELDS = (
    "data_element",
    "data_element_code",
    "category_option_combo",
    "category_option_combo_code",
    "disease",
    "measure",
)


def list_mappings(actor: Actor) -> list[DataElementMapping]:
    if not actor.has(CONFIG_READ):
        raise Forbidden(f"requires {CONFIG_READ}")
    return list(DataElementMapping.objects.select_related("disease"))


def _clean_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(MAPPING_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (fields: {', '.join(MAPPING_FIELDS)})")
    clean: dict[str, Any] = {}
    for name in MAPPING_FIELDS[:4]:
        value = data.get(name) or ""
        if not isinstance(value, str) or len(value.strip()) > 64:
            raise Invalid(f"{name}: expected an identifier of at most 64 characters")
        clean[name] = value.strip()
    if not clean["data_element"] and not clean["data_element_code"]:
        raise Invalid("data_element: give the data element's uid, its code, or both")
    code = data.get("disease")
    disease = Disease.objects.filter(code=code).first() if isinstance(code, str) else None
    if disease is None:
        raise Invalid(f"disease: unknown disease {code!r}")
    clean["disease"] = disease
    measure = data.get("measure", CASES)
    if measure not in Measure.values:
        raise Invalid(f"measure: expected one of {', '.join(Measure.values)}")
    clean["measure"] = measure
    return clean


def _mapping_detail(m: DataElementMapping) -> dict[str, Any]:
    return {**{name: getattr(m, name) for name in MAPPING_FIELDS[:4]}, "disease": m.disease.code, "measure": m.measure}


def create_mapping(actor: Actor, data: Mapping[str, Any]) -> DataElementMapping:
    if not actor.has(CONFIG_WRITE):
        raise Forbidden(f"requires {CONFIG_WRITE}")
    clean = _clean_mapping(data)
    try:
        with transaction.atomic():
            mapping = DataElementMapping.objects.create(**clean)
            audit.record(
                actor,
                "reporting.mapping.create",
                object_type="reporting.dataelementmapping",
                object_id=mapping.pk,
                detail=_mapping_detail(mapping),
                permission=CONFIG_WRITE,
            )
    except IntegrityError:
        raise Conflict("data_element: this data element and category option combo are mapped already") from None
    return mapping


def update_mapping(actor: Actor, mapping_id: int, changes: Mapping[str, Any]) -> DataElementMapping:
    if not actor.has(CONFIG_WRITE):
        raise Forbidden(f"requires {CONFIG_WRITE}")
    try:
        with transaction.atomic():
            mapping = DataElementMapping.objects.select_related("disease").filter(pk=mapping_id).first()
            if mapping is None:
                raise NotFound(f"mapping {mapping_id} not found")
            merged = {**_mapping_detail(mapping), **changes}
            clean = _clean_mapping(merged)
            for name, value in clean.items():
                setattr(mapping, name, value)
            mapping.save()
            audit.record(
                actor,
                "reporting.mapping.update",
                object_type="reporting.dataelementmapping",
                object_id=mapping.pk,
                detail=_mapping_detail(mapping),
                permission=CONFIG_WRITE,
            )
    except IntegrityError:
        raise Conflict("data_element: this data element and category option combo are mapped already") from None
    return mapping


def delete_mapping(actor: Actor, mapping_id: int) -> None:
    if not actor.has(CONFIG_WRITE):
        raise Forbidden(f"requires {CONFIG_WRITE}")
    with transaction.atomic():
        mapping = DataElementMapping.objects.select_related("disease").filter(pk=mapping_id).first()
        if mapping is None:
            raise NotFound(f"mapping {mapping_id} not found")
        detail = _mapping_detail(mapping)
        mapping.delete()
        audit.record(
            actor,
            "reporting.mapping.delete",
            object_type="reporting.dataelementmapping",
            object_id=mapping_id,
            detail=detail,
            permission=CONFIG_WRITE,
        )
