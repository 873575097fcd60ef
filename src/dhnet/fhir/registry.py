"""The resource-type dispatch: one :class:`ResourceHandler` per resource type the server accepts.

A handler validates a resource (generic R4 rules, then its profile), resolves it against the database with the
actor's jurisdiction, and says what to store: a :class:`Prepared`. The routes of :mod:`dhnet.fhir.api`, the
``CapabilityStatement`` and Bundle processing all follow :data:`HANDLERS`; a case-based resource (``Patient``,
``Condition``...) is added by writing its handler and registering it here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from dhnet.fhir import measurereport
from dhnet.fhir.outcome import FhirError, Issue
from dhnet.fhir.validation import validate
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.reporting import services as reporting


def checksum(data: dict[str, Any]) -> str:
    """The reporting service's payload checksum of a resource without ``id`` and ``meta`` (server-managed), so
    that a retry is recognised whatever id the client put in."""
    return reporting.checksum_of({k: v for k, v in data.items() if k not in ("id", "meta")})


@dataclass
class Context:
    """What handlers share while one request is processed (caches)."""

    catalogue: measurereport.Catalogue | None = None

    def diseases(self) -> measurereport.Catalogue:
        if self.catalogue is None:
            self.catalogue = measurereport.Catalogue.load()
        return self.catalogue


@dataclass
class Prepared:
    """A resource that passed every check, ready to store."""

    resource_type: str
    data: dict[str, Any]
    root: str
    checksum: str
    orgunit: OrgUnit | None
    identifiers: list[tuple[str, str]]
    rows: list[measurereport.Row] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


class ResourceHandler:
    """Base class: what a resource type needs (override :meth:`profile_check`)."""

    resource_type: ClassVar[str]
    write_permission: ClassVar[str]
    read_permission: ClassVar[str]
    interactions: ClassVar[tuple[str, ...]] = ("create", "read", "vread")
    #: search parameters supported in conditional create (``If-None-Exist``)
    conditional_params: ClassVar[tuple[str, ...]] = ("identifier",)
    documentation: ClassVar[str] = ""

    def prepare(self, actor: Actor, data: Any, root: str, context: Context, *, validated: bool = False) -> Prepared:
        """Validate and resolve ``data``, or raise :class:`FhirError` (400 generic, 422 profile, 403 jurisdiction).

        ``validated``: the generic R4 validation passed already (the entry of a Bundle validated as a whole).
        """
        if not validated:
            generic = validate(data, root=root, expected={self.resource_type})
            if not generic.ok:
                raise FhirError(400, [i for i in generic.issues if i.is_error])
        return self.profile_check(actor, data, root, context)

    def profile_check(self, actor: Actor, data: dict[str, Any], root: str, context: Context) -> Prepared:
        raise NotImplementedError


class MeasureReportHandler(ResourceHandler):
    resource_type = "MeasureReport"
    write_permission = measurereport.WRITE
    read_permission = "surveillance:aggregate:read"
    documentation = (
        "IDSR aggregate counts (cases, deaths) per disease, org unit and ISO week or month: measure "
        f"{measurereport.MEASURE_WEEKLY} or {measurereport.MEASURE_MONTHLY}; org unit by identifier "
        f"({measurereport.ORGUNIT_CODE_SYSTEM}); diseases in ICD-11 MMS, ICD-10 or {measurereport.DISEASE_SYSTEM}; "
        f"populations coded {measurereport.POPULATION_SYSTEM} cases|deaths. Idempotent: an identical report "
        "stores nothing new."
    )

    def profile_check(self, actor: Actor, data: dict[str, Any], root: str, context: Context) -> Prepared:
        report, issues = measurereport.check(data, root)
        if report is None:
            raise FhirError(422, issues)
        resolved, issues, forbidden = measurereport.resolve(actor, report, context.diseases())
        if forbidden:
            raise FhirError(403, forbidden)
        if resolved is None:
            raise FhirError(422, issues or [Issue("processing", "the report could not be resolved", root)])
        return Prepared(
            resource_type=self.resource_type,
            data=data,
            root=root,
            checksum=checksum(data),
            orgunit=resolved.orgunit,
            identifiers=report.identifiers,
            rows=resolved.rows,
            summary={
                "orgunit": resolved.orgunit.code,
                "period_start": report.period_start.isoformat(),
                "frequency": report.frequency,
                "rows": len(resolved.rows),
            },
        )


HANDLERS: dict[str, ResourceHandler] = {h.resource_type: h for h in (MeasureReportHandler(),)}


def handler_for(resource_type: str, expression: str | None = None) -> ResourceHandler:
    handler = HANDLERS.get(resource_type)
    if handler is None:
        raise FhirError.one(
            404 if expression is None else 400,
            "not-supported",
            f"resource type {resource_type!r} is not supported here (supported: {', '.join(sorted(HANDLERS))})",
            expression,
        )
    return handler
