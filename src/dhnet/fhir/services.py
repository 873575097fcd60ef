"""FHIR interactions: create (and conditional create), read/vread, transaction and batch Bundles, capabilities.

Every function takes the acting :class:`~dhnet.platform.access.Actor`, checks permission and jurisdiction, works
in one transaction and writes its audit record in it. Aggregate counts are written by
:func:`dhnet.reporting.services.ingest` (one import batch per request, identified by the payload checksum), never
here; this context stores the resources themselves (:class:`~dhnet.fhir.models.StoredResource`).

Idempotency: a resource whose content (without ``id``/``meta``) was stored before is answered with the stored one
(200, nothing new stored); ``If-None-Exist: identifier=system|value`` (or ``ifNoneExist`` of a Bundle entry)
answers the one match (200), refuses several (412), and creates otherwise.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from django.db import IntegrityError, router, transaction
from django.db.models import QuerySet
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.fhir import bulk, capability
from dhnet.fhir.base import Context, Prepared, ResourceHandler, checksum
from dhnet.fhir.measurereport import Row
from dhnet.fhir.models import ResourceIdentifier, StoredResource
from dhnet.fhir.outcome import FhirError, Issue, operation_outcome
from dhnet.fhir.registry import handler_for
from dhnet.fhir.validation import validate
from dhnet.platform.access import Actor
from dhnet.reporting import services as reporting
from dhnet.reporting.models import Source

BUNDLE_TYPES = ("transaction", "batch")
MAX_ENTRIES = 5000
STATUS_TEXT = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    403: "403 Forbidden",
    404: "404 Not Found",
    409: "409 Conflict",
    412: "412 Precondition Failed",
    422: "422 Unprocessable Entity",
}


@dataclass(frozen=True)
class Result:
    """What one create did: 201 (stored) or 200 (found: a retry or a conditional-create match)."""

    status: int
    resource_type: str
    logical_id: str
    version: int
    resource: dict[str, Any] | None  # None when the actor may not read the match
    last_modified: dt.datetime
    issues: tuple[Issue, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.resource_type}/{self.logical_id}/_history/{self.version}"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'


@dataclass
class _Planned:
    prepared: Prepared
    handler: ResourceHandler
    if_none_exist: str | None
    existing: StoredResource | None = None
    duplicate_of: int | None = None  # index of an identical entry earlier in the same request
    stored: StoredResource | None = field(default=None)


# --- create -------------------------------------------------------------------------------------------------------


def create(actor: Actor, resource_type: str, data: Any, *, if_none_exist: str | None = None) -> Result:
    """``POST [base]/[type]``: validate, resolve, store the counts and the resource (or find it)."""
    handler = handler_for(resource_type)
    _require(actor, handler.write_permission)
    if isinstance(data, dict) and data.get("resourceType") not in (None, resource_type):
        raise FhirError.one(
            400,
            "invalid",
            f"the body is a {data.get('resourceType')!r}, but was posted to {resource_type}",
            str(data.get("resourceType")) if isinstance(data.get("resourceType"), str) else None,
        )
    with transaction.atomic():
        context = Context()
        context.state["fhir.if_none_exist"] = if_none_exist
        prepared = handler.prepare(actor, data, resource_type, context)
        plan = [_Planned(prepared, handler, if_none_exist)]
        _find_existing(actor, plan)
        _store(actor, plan, prepared.checksum, action=f"fhir.{resource_type.lower()}.create")
        _after_store(actor, plan, context)
    return _result(actor, plan[0])


def _require(actor: Actor, permission: str) -> None:
    if not actor.has(permission):
        raise FhirError.one(403, "forbidden", f"requires {permission}")


def identifier_query(value: str, expression: str | None) -> tuple[str | None, str]:
    """(system or None for any, value) of ``identifier=system|value`` (``If-None-Exist``)."""
    params = parse_qsl(value.lstrip("?"), keep_blank_values=True)
    names = sorted({name for name, _ in params})
    if names != ["identifier"] or len(params) != 1 or not params[0][1]:
        raise FhirError.one(
            400,
            "not-supported",
            ("" if expression else "If-None-Exist: ")
            + f"conditional create supports one parameter, identifier=[system|]value; got {value!r}",
            expression,
        )
    token = params[0][1]
    if "|" in token:
        system, _, ident = token.partition("|")
        return system, ident
    return None, token


def _answering() -> QuerySet[StoredResource]:
    """Stored resources a request may answer with: their org unit read along (:func:`_may_read` checks it for each;
    a retried Bundle of hundreds of resources made one query per resource)."""
    return StoredResource.objects.select_related("orgunit")


def _find_existing(
    actor: Actor, plan: list[_Planned], index: dict[tuple[str, str], list[tuple[str, str]]] | None = None
) -> None:
    """Mark retries (same content) and conditional-create matches; refuse ambiguous conditions (412).

    ``index``: the Bundle's ``ifNoneExist`` matches looked up at once (:func:`_if_none_exist_index`); the stored
    resources named are then read in one query."""
    first_by_checksum: dict[tuple[str, str], int] = {}
    chosen = {item.prepared.logical_id: k for k, item in enumerate(plan) if item.prepared.logical_id}
    known: dict[tuple[str, str], StoredResource] = {}
    by_content: dict[tuple[str, str], StoredResource] | None = None
    if index is not None:
        by_content = {}
        wanted = {(i.prepared.resource_type, i.prepared.existing_id) for i in plan if i.prepared.existing_id}
        wanted |= {(rtype, lid) for (rtype, _), found in index.items() for _, lid in found}
        by_type: dict[str, list[str]] = {}
        for rtype, lid in sorted(wanted):
            by_type.setdefault(rtype, []).append(lid)
        for rtype, ids in by_type.items():
            for start in range(0, len(ids), 500):
                for row in _answering().filter(resource_type=rtype, logical_id__in=ids[start : start + 500]):
                    known[(rtype, row.logical_id)] = row
        # the content of resources whose handler did not choose an id (unique per type: one query per type)
        sums: dict[str, list[str]] = {}
        for i in plan:
            if i.prepared.logical_id is None and i.prepared.existing_id is None:
                sums.setdefault(i.prepared.resource_type, []).append(i.prepared.checksum)
        for rtype, digests in sums.items():
            for start in range(0, len(digests), 500):
                for row in _answering().filter(resource_type=rtype, checksum__in=digests[start : start + 500]):
                    by_content[(rtype, row.checksum)] = row
    for index_, item in enumerate(plan):
        p = item.prepared
        key = (p.resource_type, p.checksum)
        if p.existing_id is not None and p.existing_id in chosen:  # a repeat of an entry of this request
            item.duplicate_of = chosen[p.existing_id]
            continue
        if p.existing_id is not None:  # the handler resolved the conditional create itself
            item.existing = known.get((p.resource_type, p.existing_id)) or _answering().get(
                resource_type=p.resource_type, logical_id=p.existing_id
            )
            continue
        if item.if_none_exist and p.logical_id is None:
            where = None if p.root == p.resource_type else p.root.rsplit(".resource", 1)[0] + ".request.ifNoneExist"
            system, value = identifier_query(item.if_none_exist, where)
            found = None if index is None else index.get((p.resource_type, value), [])
            if found is not None and all((p.resource_type, lid) in known for _, lid in found):
                ids = sorted({lid for s, lid in found if system is None or s == system})[:2]
                matches = [known[(p.resource_type, lid)] for lid in ids]
            else:
                qs = _answering().filter(resource_type=p.resource_type, identifiers__value=value)
                if system is not None:
                    qs = qs.filter(identifiers__system=system)
                matches = list(qs.distinct()[:2])
            if len(matches) > 1:
                raise FhirError.one(
                    412, "multiple-matches", f"If-None-Exist {item.if_none_exist!r} matches several resources", where
                )
            if matches:
                item.existing = matches[0]
                continue
        if key in first_by_checksum:
            item.duplicate_of = first_by_checksum[key]
            continue
        if p.logical_id is None and by_content is not None:
            item.existing = by_content.get(key)
        elif p.logical_id is None:  # (a handler that chose the id looked for the content itself)
            item.existing = _answering().filter(resource_type=p.resource_type, checksum=p.checksum).first()
        if item.existing is None:
            first_by_checksum[key] = index_


def _store(
    actor: Actor, plan: list[_Planned], payload_checksum: str, *, action: str, context: Context | None = None
) -> None:
    """Ingest the counts of the new resources (one batch), then store the resources (in bulk) and audit them: one
    record for a single resource, one record listing every stored resource (and every person concerned) for a
    Bundle, so that the cost of the audit chain does not grow with the entries. With ``context`` (a transaction
    Bundle) that listing goes into the request's one audit record instead (``context.audit``/``subjects``)."""
    new = [item for item in plan if item.existing is None and item.duplicate_of is None]
    _check_cells(new)
    rows = [row for item in new for row in item.prepared.rows]
    batch_id = _ingest(actor, rows, payload_checksum) if rows else None
    now = timezone.now()
    rows_of = {id(item): _row(actor, item.prepared, batch_id, now) for item in new}
    try:
        with transaction.atomic():
            pks = bulk.insert(
                StoredResource, STORED_FIELDS, [_values(rows_of[id(item)]) for item in new], returning=True
            )
        for item, pk in zip(new, pks, strict=True):
            item.stored = rows_of[id(item)]
            item.stored.pk = pk
            item.stored._state.adding, item.stored._state.db = False, router.db_for_write(StoredResource)
    except IntegrityError:  # some content stored concurrently meanwhile: one by one, answering those
        for item in new:
            try:
                with transaction.atomic():
                    row = rows_of[id(item)]
                    row.pk = None
                    row.save(force_insert=True)
                item.stored = row
            except IntegrityError:
                p = item.prepared
                item.existing = _answering().get(resource_type=p.resource_type, checksum=p.checksum)
    stored = [item for item in new if item.stored is not None]
    if stored and any(item.stored.pk is None for item in stored if item.stored):  # no ids back from bulk inserts
        ids = dict(
            StoredResource.objects.filter(logical_id__in=[i.stored.logical_id for i in stored if i.stored]).values_list(
                "logical_id", "pk"
            )
        )
        for item in stored:
            assert item.stored is not None
            item.stored.pk = ids[item.stored.logical_id]
    bulk.insert(
        ResourceIdentifier,
        ("resource_id", "system", "value"),
        [
            (item.stored.pk, s[:255], v[:255])
            for item in stored
            if item.stored is not None
            for s, v in item.prepared.identifiers
        ],
    )
    if context is not None:
        if stored:
            created_ids: dict[str, list[str]] = {}
            for item in stored:
                created_ids.setdefault(item.prepared.resource_type, []).append(
                    item.stored.logical_id if item.stored else ""
                )
            context.audit.update({"resources": created_ids, "checksum": payload_checksum, "batch": batch_id})
            context.subjects.update(item.prepared.subject for item in stored if item.prepared.subject)
    elif len(stored) == 1:
        item = stored[0]
        p = item.prepared
        audit.record(
            actor,
            action,
            object_type=f"fhir.{p.resource_type}",
            object_id=item.stored.logical_id if item.stored else "",
            detail={**p.summary, "checksum": p.checksum, "batch": batch_id},
            permission=item.handler.write_permission,
            subjects=[p.subject] if p.subject else (),
        )
    elif stored:
        # One record for the resources of one request (the person index still lists every person concerned).
        created: dict[str, list[str]] = {}
        for item in stored:
            created.setdefault(item.prepared.resource_type, []).append(item.stored.logical_id if item.stored else "")
        audit.record(
            actor,
            action,
            object_type="fhir.Bundle",
            detail={"created": created, "checksum": payload_checksum, "batch": batch_id},
            permission=stored[0].handler.write_permission,
            subjects=sorted({item.prepared.subject for item in stored if item.prepared.subject}),
        )
    for item in plan:
        if item.duplicate_of is not None:
            item.existing = plan[item.duplicate_of].stored or plan[item.duplicate_of].existing


#: The columns of a new :class:`StoredResource` (:func:`_values`), inserted by :func:`dhnet.fhir.bulk.insert`.
STORED_FIELDS = (
    "resource_type",
    "logical_id",
    "version",
    "checksum",
    "content",
    "orgunit_id",
    "batch_id",
    "subject",
    "created_by",
    "created_at",
)


def _values(row: StoredResource) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in STORED_FIELDS)


def _row(actor: Actor, p: Prepared, batch_id: int | None, now: dt.datetime) -> StoredResource:
    """The row of a new resource, with its server-assigned id and meta."""
    logical_id = p.logical_id or str(uuid.uuid4())
    content = dict(p.data)
    content["id"] = logical_id
    content["meta"] = {"versionId": "1", "lastUpdated": now.isoformat(timespec="milliseconds")}
    return StoredResource(
        resource_type=p.resource_type,
        logical_id=logical_id,
        checksum=p.checksum,
        content=content,
        orgunit=p.orgunit,
        batch_id=batch_id,
        subject=p.subject,
        created_by=actor.username[:150],
        created_at=now,
    )


def _after_store(actor: Actor, plan: Sequence[_Planned], context: Context) -> None:
    """The handlers' hooks: :meth:`~ResourceHandler.after_store` with the resources each stored (rank order), then
    :meth:`~ResourceHandler.finish` of every handler that took part (same transaction)."""
    handlers = sorted({id(i.handler): i.handler for i in plan}.values(), key=lambda h: h.rank)
    for handler in handlers:
        stored = [(i.prepared, i.stored) for i in plan if i.handler is handler and i.stored is not None]
        if stored:
            handler.after_store(actor, stored, context)
    for handler in handlers:
        handler.finish(actor, context)


def _check_cells(plan: Sequence[_Planned]) -> None:
    """Two resources of one request must not give different values for the same count."""
    seen: dict[tuple[Any, ...], tuple[int, str]] = {}
    issues = []
    for item in plan:
        for row in item.prepared.rows:
            key = (row.disease, row.orgunit, row.period_start, row.measure)
            if key in seen and seen[key][0] != row.value:
                issues.append(
                    Issue(
                        "conflict",
                        f"{row.value} {row.measure} of {row.disease} in {row.orgunit} for {row.period_start} "
                        f"contradicts {seen[key][0]} at {seen[key][1]}",
                        row.path,
                    )
                )
            seen.setdefault(key, (row.value, row.path))
    if issues:
        raise FhirError(422, issues)


def _ingest(actor: Actor, rows: Sequence[Row], payload_checksum: str) -> int | None:
    """Write the counts through the reporting service (validation, upsert, import batch, audit): the batch id.

    The service checks again what :mod:`dhnet.fhir.measurereport` checked (and what only it knows, such as
    reporting units); its row errors come back as issues naming the element of the row.
    """
    unique = list({(r.disease, r.orgunit, r.period_start, r.measure): r for r in rows}.values())
    service_rows = [
        reporting.Row(
            orgunit=r.orgunit,
            disease=r.disease,
            period=r.period_start,
            value=r.value,
            measure=r.measure,
            ref=r.path,
            index=i,
            value_field="count",
        )
        for i, r in enumerate(unique)
    ]
    try:
        result = reporting.ingest(actor, str(Source.FHIR), service_rows, payload_checksum=payload_checksum)
    except reporting.BatchRejected as exc:
        raise FhirError(403 if exc.forbidden else 422, [_row_issue(unique, e) for e in exc.errors]) from exc
    return result.batch_id


def _row_issue(rows: Sequence[Row], error: Any) -> Issue:
    row = rows[error.index] if error.index is not None and 0 <= error.index < len(rows) else None
    where = {
        "orgunit": row.orgunit_path if row else None,
        "disease": row.disease_path if row else None,
        "period": row.period_path if row else None,
    }.get(error.field) or (row.path if row else None)
    code = "forbidden" if error.forbidden else ("not-found" if "unknown" in error.message else "business-rule")
    return Issue(code, error.message, where)


def _result(actor: Actor, item: _Planned) -> Result:
    if item.stored is not None:
        new = item.stored
        return Result(201, new.resource_type, new.logical_id, new.version, new.content, new.created_at)
    s = item.existing
    assert s is not None
    readable = _may_read(actor, item.handler, s)
    note = (
        "a resource with this content exists already: nothing stored"
        if item.if_none_exist is None
        else f"If-None-Exist {item.if_none_exist!r} matches an existing resource: nothing stored"
    )
    return Result(
        200,
        s.resource_type,
        s.logical_id,
        s.version,
        s.content if readable else None,
        s.created_at,
        (Issue("informational", note, severity="information"),),
    )


def _may_read(actor: Actor, handler: ResourceHandler, stored: StoredResource) -> bool:
    if stored.orgunit is None:
        return actor.has(handler.read_permission)
    return any(stored.orgunit.is_within(p) for p in actor.paths_for(handler.read_permission))


# --- read -----------------------------------------------------------------------------------------------------------


def read(actor: Actor, resource_type: str, logical_id: str, version: str | None = None) -> StoredResource:
    """``GET [base]/[type]/[id]`` (and ``/_history/[vid]``): the stored resource, if within the jurisdiction."""
    handler = handler_for(resource_type)
    _require(actor, handler.read_permission)
    missing = FhirError.one(404, "not-found", f"{resource_type}/{logical_id} is not known")
    with transaction.atomic():
        stored: StoredResource | None = (
            StoredResource.objects.select_related("orgunit")
            .filter(resource_type=resource_type, logical_id=logical_id)
            .first()
        )
        if stored is None or not _may_read(actor, handler, stored):
            raise missing
        if version is not None and version != str(stored.version):
            raise FhirError.one(404, "not-found", f"{resource_type}/{logical_id} has no version {version!r}")
        audit.record(
            actor,
            f"fhir.{resource_type.lower()}.read",
            object_type=f"fhir.{resource_type}",
            object_id=logical_id,
            permission=handler.read_permission,
            subjects=[stored.subject] if stored.subject else (),
        )
    return stored


# --- Bundles --------------------------------------------------------------------------------------------------------


def bundle(actor: Actor, data: Any) -> dict[str, Any]:
    """``POST [base]`` with a transaction (all or nothing) or batch (entry by entry) Bundle: the response Bundle."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        rtype = data.get("resourceType") if isinstance(data, dict) else None
        raise FhirError.one(400, "invalid", f"expected a Bundle (transaction or batch), got {rtype!r}")
    btype = data.get("type")
    if btype not in BUNDLE_TYPES:
        raise FhirError.one(
            422 if isinstance(btype, str) else 400,
            "not-supported" if isinstance(btype, str) else "required",
            f"Bundle.type {btype!r}: expected transaction or batch",
            "Bundle.type",
        )
    entries: list[Any] = data["entry"] if isinstance(data.get("entry"), list) else []
    if isinstance(entries, list) and len(entries) > MAX_ENTRIES:
        raise FhirError.one(413, "too-costly", f"at most {MAX_ENTRIES} entries per Bundle", "Bundle.entry")
    generic = validate(data, expected={"Bundle"})
    errors = [i for i in generic.issues if i.is_error]
    if btype == "transaction":
        return _transaction(actor, data, errors)
    return _batch(actor, data, errors)


def _entry_request(entry: Any, index: int) -> tuple[ResourceHandler, dict[str, Any], str | None]:
    """The handler, resource and ifNoneExist of a POST entry, or :class:`FhirError` naming the element."""
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict):
        raise FhirError.one(400, "structure", "an entry is an object", where)
    request = entry.get("request")
    resource = entry.get("resource")
    if not isinstance(request, dict):
        raise FhirError.one(400, "required", "entry.request is required", f"{where}.request")
    method = request.get("method")
    if method != "POST":
        raise FhirError.one(
            422, "not-supported", f"method {method!r}: only POST (create) is supported", f"{where}.request.method"
        )
    url = request.get("url")
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(resource, dict):
        raise FhirError.one(400, "required", "a POST entry needs a resource", f"{where}.resource")
    if not isinstance(url, str) or url.split("?", 1)[0].strip("/") != rtype:
        raise FhirError.one(
            400, "invalid", f"request.url {url!r} must be the resource type {rtype!r}", f"{where}.request.url"
        )
    handler = handler_for(str(rtype), f"{where}.resource.resourceType")
    if_none_exist = request.get("ifNoneExist")
    return handler, resource, if_none_exist if isinstance(if_none_exist, str) else None


def _combined(failures: Sequence[FhirError]) -> FhirError:
    statuses = [f.status for f in failures]
    status = next((s for s in (400, 403, 422, 412, 409, 413, 404) if s in statuses), statuses[0])
    return FhirError(status, [i for f in failures for i in f.issues])


def _transaction(actor: Actor, data: dict[str, Any], generic: list[Issue]) -> dict[str, Any]:
    entries: list[Any] = data["entry"] if isinstance(data.get("entry"), list) else []
    failures: list[FhirError] = [FhirError(400, generic)] if generic else []
    requests = []
    for i, entry in enumerate(entries):
        try:
            requests.append(_entry_request(entry, i))
        except FhirError as exc:
            failures.append(exc)
    if failures:
        raise _combined(failures)
    for handler in {id(h): h for h, _, _ in requests}.values():
        _require(actor, handler.write_permission)
    # The request's audit records are chained when its work is done: the chain head is locked from there to the
    # commit only, not while the Bundle's persons, resources and counts are written (concurrent server processes).
    with transaction.atomic(), audit.chained_at_end():
        context = Context()
        context.state["fhir.assigned"] = {
            e["fullUrl"]: str(uuid.uuid4())
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("fullUrl"), str) and e["fullUrl"]
        }
        context.state["fhir.if_none_exist_index"] = _if_none_exist_index(requests)
        by_handler: dict[int, tuple[ResourceHandler, list[tuple[Any, str]]]] = {}
        for i, (handler, resource, _) in enumerate(requests):
            by_handler.setdefault(id(handler), (handler, []))[1].append((resource, f"Bundle.entry[{i}].resource"))
        for handler, items in sorted(by_handler.values(), key=lambda hi: hi[0].rank):
            handler.prepare_all(actor, items, context)
        planned: dict[int, _Planned] = {}
        # Entries are prepared in the handlers' rank order (a Patient before the Condition that references it);
        # the plan and the answers keep the Bundle's order.
        for i in sorted(range(len(requests)), key=lambda k: (requests[k][0].rank, k)):
            handler, resource, if_none_exist = requests[i]
            full_url = entries[i].get("fullUrl")
            context.full_url = full_url if isinstance(full_url, str) else None
            context.state["fhir.if_none_exist"] = if_none_exist
            try:
                prepared = handler.prepare(actor, resource, f"Bundle.entry[{i}].resource", context, validated=True)
            except FhirError as exc:
                failures.append(exc)
                continue
            planned[i] = _Planned(prepared, handler, if_none_exist)
        if failures:
            raise _combined(sorted(failures, key=_first_entry))
        plan = [planned[i] for i in range(len(requests))]
        _find_existing(actor, plan, context.state.get("fhir.if_none_exist_index"))
        _store(actor, plan, checksum(data), action="fhir.bundle.transaction.create", context=context)
        _after_store(actor, plan, context)
        results = [_result(actor, item) for item in plan]
        audit.record(
            actor,
            "fhir.bundle.transaction",
            object_type="fhir.Bundle",
            detail={
                "entries": len(plan),
                "created": sum(r.status == 201 for r in results),
                "existing": sum(r.status == 200 for r in results),
                **context.audit,
            },
            permission=plan[0].handler.write_permission if plan else None,
            subjects=sorted(context.subjects),
        )
    return _response_bundle("transaction-response", [(r, None) for r in results])


def _if_none_exist_index(
    requests: Sequence[tuple[ResourceHandler, dict[str, Any], str | None]],
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """The stored resources the ``ifNoneExist`` conditions of a Bundle's entries may match, in one query:
    (resource type, identifier value) -> [(identifier system, logical id)]. Handlers consult it (as
    ``context.state["fhir.if_none_exist_index"]``) instead of one query per entry; a malformed condition is left
    to them to report."""
    wanted: dict[str, set[str]] = {}
    for handler, _, query in requests:
        if not query:
            continue
        try:
            _, value = identifier_query(query, None)
        except FhirError:
            continue
        wanted.setdefault(handler.resource_type, set()).add(value)
    index: dict[tuple[str, str], list[tuple[str, str]]] = {}
    values = sorted({v for vs in wanted.values() for v in vs})
    # By value alone, the types checked here: with ``resource_type IN (...)`` in the query, SQLite's planner walked
    # the (resource_type, checksum) index, every stored resource of those types, for each Bundle.
    for start in range(0, len(values), 500):
        rows = ResourceIdentifier.objects.filter(value__in=values[start : start + 500]).values_list(
            "resource__resource_type", "value", "system", "resource__logical_id"
        )
        for rtype, value, system, logical_id in rows:
            if value in wanted.get(rtype, ()):
                index.setdefault((rtype, value), []).append((system, logical_id))
    return index


def _first_entry(error: FhirError) -> int:
    """The entry number of an error's first issue (to report issues in the Bundle's order)."""
    expression = error.issues[0].expression or ""
    if expression.startswith("Bundle.entry["):
        number = expression[len("Bundle.entry[") :].split("]", 1)[0]
        if number.isdigit():
            return int(number)
    return -1


def _batch(actor: Actor, data: dict[str, Any], generic: list[Issue]) -> dict[str, Any]:
    entries: list[Any] = data["entry"] if isinstance(data.get("entry"), list) else []
    envelope = [i for i in generic if not (i.expression or "").startswith("Bundle.entry[")]
    if envelope:
        raise FhirError(400, envelope)
    answers: list[tuple[Result | None, FhirError | None]] = []
    context = Context()
    for i, entry in enumerate(entries):
        prefix = f"Bundle.entry[{i}]"
        mine = [g for g in generic if (g.expression or "").startswith((prefix + ".", prefix + "["))]
        mine += [g for g in generic if g.expression == prefix]
        try:
            if mine:
                raise FhirError(400, mine)
            handler, resource, if_none_exist = _entry_request(entry, i)
            _require(actor, handler.write_permission)
            with transaction.atomic():
                context = Context(catalogue=context.catalogue)
                full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
                context.full_url = full_url if isinstance(full_url, str) else None
                context.state["fhir.if_none_exist"] = if_none_exist
                prepared = handler.prepare(actor, resource, f"{prefix}.resource", context, validated=True)
                plan = [_Planned(prepared, handler, if_none_exist)]
                _find_existing(actor, plan)
                _store(actor, plan, prepared.checksum, action=f"fhir.{handler.resource_type.lower()}.create")
                _after_store(actor, plan, context)
            answers.append((_result(actor, plan[0]), None))
        except FhirError as exc:
            answers.append((None, exc))
    return _response_bundle("batch-response", answers)


def _response_bundle(btype: str, answers: Sequence[tuple[Result | None, FhirError | None]]) -> dict[str, Any]:
    entries = []
    for result, error in answers:
        if result is not None:
            response: dict[str, Any] = {
                "status": STATUS_TEXT[result.status],
                "location": result.location,
                "etag": result.etag,
                "lastModified": result.last_modified.isoformat(timespec="milliseconds"),
            }
            if result.issues:
                response["outcome"] = operation_outcome(result.issues)
            entries.append({"response": response})
        elif error is not None:
            entries.append(
                {"response": {"status": STATUS_TEXT.get(error.status, str(error.status)), "outcome": error.outcome()}}
            )
    response_bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": btype,
        "timestamp": timezone.now().isoformat(timespec="milliseconds"),
    }
    if entries:  # FHIR JSON has no empty arrays
        response_bundle["entry"] = entries
    return response_bundle


def capability_statement(base_url: str) -> dict[str, Any]:
    """The server's ``CapabilityStatement`` (public)."""
    return capability.statement(base_url)
