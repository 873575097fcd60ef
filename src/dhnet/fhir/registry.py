"""The resource-type dispatch: one :class:`ResourceHandler` per resource type the server accepts.

A handler validates a resource (generic R4 rules, then its profile), resolves it against the database with the
actor's jurisdiction, and says what to store: a :class:`Prepared`. The routes of :mod:`dhnet.fhir.api`, the
``CapabilityStatement`` and Bundle processing all follow :data:`HANDLERS`. Handlers of other contexts subclass
:class:`dhnet.fhir.base.ResourceHandler` (import it from there, not from here: this module imports them) and are
listed here: the case-based ``Patient``, ``Encounter``, ``Condition`` and ``Observation`` of :mod:`dhnet.cases.fhir`.
"""

from __future__ import annotations

from typing import Any

from dhnet.cases.fhir import ConditionHandler, EncounterHandler, ObservationHandler, PatientHandler
from dhnet.consent.handler import ConsentHandler
from dhnet.fhir import measurereport
from dhnet.fhir.base import Context, Prepared, ResourceHandler, checksum
from dhnet.fhir.outcome import FhirError, Issue
from dhnet.platform.access import Actor

__all__ = ["HANDLERS", "Context", "MeasureReportHandler", "Prepared", "ResourceHandler", "checksum", "handler_for"]


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


HANDLERS: dict[str, ResourceHandler] = {
    h.resource_type: h
    for h in (
        MeasureReportHandler(),
        PatientHandler(),
        EncounterHandler(),
        ConditionHandler(),
        ObservationHandler(),
        ConsentHandler(),
    )
}


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
