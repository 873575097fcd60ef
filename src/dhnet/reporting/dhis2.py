"""DHIS2-compatible aggregate import: ``POST /api/dataValueSets`` (JSON), as DHIS2 clients send it.

The payload is DHIS2's data value set::

    {"dataSet": "...", "completeDate": "2024-02-05", "period": "2024W5", "orgUnit": "...",
     "attributeOptionCombo": "...",
     "dataValues": [{"dataElement": "...", "categoryOptionCombo": "...", "period": "2024W5", "orgUnit": "...",
                     "value": "12", "comment": "..."}, ...]}

``period`` and ``orgUnit`` of a data value default to the set's. Each data value is matched to a disease and
measure through the :class:`~dhnet.reporting.models.DataElementMapping` table (by data element and category option
combo); values of several combos mapped to the same disease and measure are summed into one count (all of them must
be present). ``dataSet``, ``completeDate``, ``attributeOptionCombo`` and ``comment`` are accepted and not used
(the data set and complete date are kept in the batch summary).

Query parameters (as DHIS2's): ``idScheme``, ``dataElementIdScheme``, ``orgUnitIdScheme``,
``categoryOptionComboIdScheme`` = ``uid`` (default) | ``code``; ``dryRun`` = ``true`` | ``false``;
``importStrategy`` = ``CREATE_AND_UPDATE`` (default) | ``CREATE`` | ``UPDATE`` | ``DELETE`` (DHIS2's older
``NEW_AND_UPDATES``, ``NEW``, ``UPDATES``, ``DELETES`` too); ``atomicMode`` = ``ALL`` (the only mode: a data value
set is stored whole or not at all). Periods: weekly ``2024W5``, monthly ``202401``, daily ``20240129`` (a day only
where it starts the disease's period), and the ISO spellings of :mod:`dhnet.reporting.periods`. An empty value
deletes the count, as in DHIS2.

The answer imitates DHIS2 (2.38 and later): a ``WebMessage`` wrapping an ``ImportSummary``
(``responseType``, ``status``, ``importOptions``, ``description``, ``importCount`` {imported, updated, ignored,
deleted}, ``conflicts`` [{object, objects, value, property, indexes}], ``rejectedIndexes``, ``dataSetComplete``).
Unlike DHIS2, which imports the valid values and reports the others as conflicts, any conflict rejects the whole
set: HTTP 409 with status ``ERROR`` and every value counted as ignored (DHIS2 answers 409 too when it imports
nothing); HTTP 403 when a value is for an org unit outside the caller's jurisdiction. Unchanged values count as
``ignored``, as DHIS2 counts them since 2.41 (dhis2-core pull request 15900). A retried identical request stores
nothing and answers the first import's counts. Counts are of stored counts: values of several category option
combos summed into one count are counted once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, ServiceError
from dhnet.reporting import services
from dhnet.reporting.models import DataElementMapping
from dhnet.reporting.services import BatchRejected, IngestResult, Row, RowError

SCHEMES = ("uid", "code")
STRATEGY_ALIASES = {
    "CREATE_AND_UPDATE": "CREATE_AND_UPDATE",
    "NEW_AND_UPDATES": "CREATE_AND_UPDATE",
    "CREATE": "CREATE",
    "NEW": "CREATE",
    "UPDATE": "UPDATE",
    "UPDATES": "UPDATE",
    "DELETE": "DELETE",
    "DELETES": "DELETE",
}
FIELD_NAMES = {"orgunit": "orgUnit", "disease": "dataElement", "period": "period", "measure": "dataElement"}
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


@dataclass(frozen=True)
class Options:
    """Import options from the query string (DHIS2 names)."""

    data_element_scheme: str = "uid"
    orgunit_scheme: str = "uid"
    coc_scheme: str = "uid"
    dry_run: bool = False
    strategy: str = "CREATE_AND_UPDATE"

    def as_json(self) -> dict[str, Any]:
        return {
            "idSchemes": {
                "dataElementIdScheme": self.data_element_scheme.upper(),
                "orgUnitIdScheme": self.orgunit_scheme.upper(),
                "categoryOptionComboIdScheme": self.coc_scheme.upper(),
            },
            "dryRun": self.dry_run,
            "async": False,
            "importStrategy": self.strategy,
            "atomicMode": "ALL",
            "mergeMode": "REPLACE",
            "reportMode": "FULL",
        }


def _scheme(params: Mapping[str, str], name: str, default: str) -> str:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value not in SCHEMES:
        raise Invalid(f"{name}: expected UID or CODE, got {raw!r}")
    return value


def parse_options(params: Mapping[str, str]) -> Options:
    """Read DHIS2's import options; :class:`Invalid` names the parameter at fault."""
    id_scheme = _scheme(params, "idScheme", "uid")
    dry = str(params.get("dryRun", "")).strip().lower()
    if dry not in _TRUE | _FALSE:
        raise Invalid(f"dryRun: expected true or false, got {params.get('dryRun')!r}")
    raw_strategy = str(params.get("importStrategy", "") or "CREATE_AND_UPDATE").strip().upper()
    strategy = STRATEGY_ALIASES.get(raw_strategy)
    if strategy is None:
        raise Invalid(f"importStrategy: expected CREATE_AND_UPDATE, CREATE, UPDATE or DELETE, got {raw_strategy!r}")
    atomic = str(params.get("atomicMode", "") or "ALL").strip().upper()
    if atomic != "ALL":
        raise Invalid("atomicMode: only ALL is supported (a data value set is stored whole or not at all)")
    return Options(
        data_element_scheme=_scheme(params, "dataElementIdScheme", id_scheme),
        orgunit_scheme=_scheme(params, "orgUnitIdScheme", id_scheme),
        coc_scheme=_scheme(params, "categoryOptionComboIdScheme", id_scheme),
        dry_run=dry in _TRUE,
        strategy=strategy,
    )


@dataclass
class ImportSummary:
    """DHIS2's ImportSummary of one data value set."""

    status: str
    description: str
    options: Options
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected_indexes: list[int] = field(default_factory=list)
    data_set_complete: str = "false"
    batch_id: int | None = None
    duplicate: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "responseType": "ImportSummary",
            "status": self.status,
            "importOptions": self.options.as_json(),
            "description": self.description,
            "importCount": {
                "imported": self.imported,
                "updated": self.updated,
                "ignored": self.ignored,
                "deleted": self.deleted,
            },
            "conflicts": self.conflicts,
            "rejectedIndexes": self.rejected_indexes,
            "dataSetComplete": self.data_set_complete,
        }


class Dhis2Rejected(ServiceError):
    """A data value set refused whole: 409 (conflicts) or 403 (outside the jurisdiction), with its summary."""

    def __init__(self, summary: ImportSummary, status: int, message: str) -> None:
        super().__init__(message)
        self.summary = summary
        self.status = status
        self.code = "forbidden" if status == 403 else "conflict"


def checksum(options: Options, raw: bytes) -> str:
    """sha256 of the import options and the body exactly as sent (a client's retry matches it)."""
    head = json.dumps(options.as_json(), sort_keys=True, separators=(",", ":")).encode()
    return services.checksum_of(head + b"\n" + raw)


def web_message(status: int, message: str, summary: ImportSummary | None = None) -> dict[str, Any]:
    """DHIS2's WebMessage envelope (``httpStatus``, ``httpStatusCode``, ``status``, ``message``, ``response``)."""
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
    body: dict[str, Any] = {
        "httpStatus": reason.get(status, "Conflict"),
        "httpStatusCode": status,
        "status": "OK" if status == 200 else "ERROR",
        "message": message,
    }
    if summary is not None:
        body["response"] = summary.as_json()
    return body


# --- mapping data values to counts ----------------------------------------------------------------------------------


class _Mappings:
    """Data element mappings indexed under the request's id schemes."""

    def __init__(self, options: Options) -> None:
        self.index: dict[tuple[str, str], DataElementMapping] = {}
        #: (data element key, disease id, measure) -> ids of the combo-specific mappings summed into that count
        self.parts: dict[tuple[str, int, str], set[int]] = {}
        for m in DataElementMapping.objects.select_related("disease"):
            de = m.data_element if options.data_element_scheme == "uid" else m.data_element_code
            if not de:
                continue
            has_coc = bool(m.category_option_combo or m.category_option_combo_code)
            coc = m.category_option_combo if options.coc_scheme == "uid" else m.category_option_combo_code
            if has_coc and not coc:
                continue  # not addressable under this scheme
            self.index[(de, coc)] = m
            if has_coc:
                self.parts.setdefault((de, m.disease_id, m.measure), set()).add(m.pk)

    def find(self, de: str, coc: str) -> DataElementMapping | None:
        return self.index.get((de, coc)) or self.index.get((de, ""))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


@dataclass
class _Cell:
    data_element: str
    first: int
    orgunit: str
    period: str
    disease: str
    measure: str
    disease_id: int
    parts: dict[int, tuple[int, str]] = field(default_factory=dict)  # mapping id -> (index, value)


def to_rows(body: Any, options: Options) -> tuple[list[Row], list[RowError], dict[str, Any]]:
    """The counts of a data value set, the problems found reading it, and what to keep in the batch summary."""
    if not isinstance(body, dict):
        raise Invalid("body: expected a JSON object (a DHIS2 data value set)")
    values = body.get("dataValues", [])
    if not isinstance(values, list):
        raise Invalid("dataValues: expected a list")
    top_period = _text(body.get("period")) or ""
    top_orgunit = _text(body.get("orgUnit")) or ""
    for name, text in (("period", top_period), ("orgUnit", top_orgunit)):
        if "\x00" in text:  # no identifier holds one; PostgreSQL refuses it in a query (and in a stored summary)
            raise Invalid(f"{name}: contains a NUL character")
    detail = {k: v for k in ("dataSet", "completeDate") if isinstance(v := body.get(k), str) and v}
    for field_name, text in detail.items():
        if "\x00" in text:  # kept in the batch summary, which PostgreSQL cannot store with a NUL
            raise Invalid(f"{field_name}: contains a NUL character")
    mappings = _Mappings(options)
    errors: list[RowError] = []
    cells: dict[tuple[str, str, int, str], _Cell] = {}
    deleting = options.strategy == "DELETE"

    def error(i: int, prop: str, message: str, value: str = "") -> None:
        errors.append(RowError(f"dataValues[{i}]", prop, message, value, i))

    for i, dv in enumerate(values):
        if not isinstance(dv, dict):
            error(i, "", "expected an object")
            continue
        de = _text(dv.get("dataElement"))
        if not de:
            error(i, "dataElement", "missing")
            continue
        coc = _text(dv.get("categoryOptionCombo")) or ""
        period = _text(dv.get("period")) or top_period
        orgunit = _text(dv.get("orgUnit")) or top_orgunit
        nul = next(
            (
                n
                for n, t in (
                    ("dataElement", de),
                    ("categoryOptionCombo", coc),
                    ("period", period),
                    ("orgUnit", orgunit),
                )
                if "\x00" in t
            ),
            None,
        )
        if nul is not None:  # the value is not echoed: the conflict list is kept with the batch's audit record
            error(i, nul, "contains a NUL character")
            continue
        ok = True
        if not period:
            error(i, "period", "missing (on the data value or the data value set)")
            ok = False
        if not orgunit:
            error(i, "orgUnit", "missing (on the data value or the data value set)")
            ok = False
        raw = dv.get("value")
        value = _text(raw)
        if raw is not None and value is None:
            error(i, "value", "must be a non-negative integer", str(raw)[:64])
            ok = False
        elif value and not deleting:
            try:
                services._parse_value(value)
            except ValueError:
                error(i, "value", "must be a non-negative integer", value[:64])
                ok = False
        mapping = mappings.find(de, coc)
        if mapping is None:
            what = f"data element {de!r}" + (f" with category option combo {coc!r}" if coc else "")
            error(i, "dataElement", f"{what} is not mapped to a disease (see the data element mappings)", de)
            continue
        if not ok:
            continue
        key = (orgunit, period, mapping.disease_id, mapping.measure)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _Cell(de, i, orgunit, period, mapping.disease.code, mapping.measure, mapping.disease_id)
        elif cell.data_element != de:
            error(
                i,
                "dataElement",
                f"{de!r} and {cell.data_element!r} (dataValues[{cell.first}]) report the same count "
                f"({mapping.disease.code} {mapping.measure}, {orgunit}, {period})",
                de,
            )
            continue
        if mapping.pk in cell.parts:
            error(i, "categoryOptionCombo", f"repeats dataValues[{cell.parts[mapping.pk][0]}]", coc)
            continue
        cell.parts[mapping.pk] = (i, value or "")

    rows: list[Row] = []
    for cell in cells.values():
        required = mappings.parts.get((cell.data_element, cell.disease_id, cell.measure))
        if required and not set(cell.parts) <= required:
            required = None  # the catch-all mapping of the data element took part: one value, no sum
        if required and set(cell.parts) != required:
            names = sorted(
                m.category_option_combo if options.coc_scheme == "uid" else m.category_option_combo_code
                for m in mappings.index.values()
                if m.pk in required - set(cell.parts)
            )
            error(
                cell.first,
                "categoryOptionCombo",
                f"{cell.disease} {cell.measure} is the sum of {len(required)} category option combos of "
                f"{cell.data_element!r}; missing: {', '.join(names)}",
                cell.data_element,
            )
            continue
        parts = [v for _, v in cell.parts.values()]
        given = [int(v) for v in parts if v]
        total: int | None = sum(given) if given else None
        if deleting:
            total = None
        rows.append(
            Row(cell.orgunit, cell.disease, cell.period, total, cell.measure, f"dataValues[{cell.first}]", cell.first)
        )
    return rows, errors, detail


def _conflicts(errors: Sequence[RowError]) -> tuple[list[dict[str, Any]], list[int]]:
    """DHIS2 conflicts: one per (property, object, message), with the indexes of the data values concerned."""
    grouped: dict[tuple[str, str, str], list[int]] = {}
    for e in errors:
        grouped.setdefault((e.field, e.value, e.message), []).append(e.index if e.index is not None else -1)
    conflicts = []
    for (prop, obj, message), indexes in grouped.items():
        conflict: dict[str, Any] = {
            "object": obj,
            "objects": {prop: obj} if prop and obj else {},
            "value": f"{prop}: {message}" if prop else message,
            "property": prop,
            "indexes": sorted(i for i in indexes if i >= 0),
        }
        conflicts.append(conflict)
    rejected = sorted({e.index for e in errors if e.index is not None})
    return conflicts, rejected


def import_data_value_set(actor: Actor, body: Any, options: Options, *, checksum: str) -> ImportSummary:
    """Import one DHIS2 data value set through :func:`dhnet.reporting.services.ingest`.

    Returns the ImportSummary of an accepted set (also for a dry run or a retried identical set); raises
    :class:`Dhis2Rejected` (409 or 403, with the summary) for a refused one, :class:`Invalid` for a body that is
    not a data value set, :class:`~dhnet.platform.errors.Forbidden` without ``surveillance:report:write``.
    """
    if not actor.has(services.WRITE):
        raise Forbidden(f"requires {services.WRITE}")
    rows, errors, detail = to_rows(body, options)
    count = len(body.get("dataValues") or [])
    complete = detail.get("completeDate") or "false"
    try:
        result: IngestResult = services.ingest(
            actor,
            "dhis2",
            rows,
            payload_checksum=checksum,
            dry_run=options.dry_run,
            strategy=options.strategy,
            orgunit_scheme=options.orgunit_scheme,
            field_names=FIELD_NAMES,
            errors=errors,
            detail=detail,
        )
    except BatchRejected as exc:
        conflicts, rejected = _conflicts(exc.errors)
        more = f" (the first {len(exc.errors)} are listed)" if exc.total > len(exc.errors) else ""
        summary = ImportSummary(
            status="ERROR",
            description=f"Import rejected, nothing stored: {exc.total} conflict{'s' if exc.total != 1 else ''}"
            f"{more}; a data value set is imported whole or not at all. First: {exc.errors[0]}",
            options=options,
            ignored=count,
            conflicts=conflicts,
            rejected_indexes=rejected,
            data_set_complete=complete,
        )
        if exc.forbidden:
            message = "A data value is for an org unit outside your jurisdiction; nothing was stored."
            raise Dhis2Rejected(summary, 403, message) from None
        raise Dhis2Rejected(summary, 409, "An error occurred, please check import summary.") from None
    if result.duplicate:
        description = "Import process completed successfully (identical data value set received before; nothing stored)"
    elif result.dry_run:
        description = "Dry run completed successfully; nothing was stored"
    else:
        description = "Import process completed successfully"
    return ImportSummary(
        status="SUCCESS",
        description=description,
        options=options,
        imported=result.imported,
        updated=result.updated,
        ignored=result.ignored,
        deleted=result.deleted,
        data_set_complete=complete,
        batch_id=result.batch_id,
        duplicate=result.duplicate,
    )
