"""The ``CapabilityStatement`` of ``/fhir/``, built from the resource handlers (what they accept is what it says)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dhnet import __version__
from dhnet.fhir.registry import HANDLERS

FHIR_VERSION = "4.0.1"
SECURITY = (
    "Send an API token as `Authorization: Bearer dhn_...` (created at /api/v1/tokens or with `dhnet token create`), "
    "or use a logged-in browser session. Writing a MeasureReport or a case report needs surveillance:report:write at "
    "the org unit it reports for (a role holds at an org unit and everything below it); reading needs "
    "surveillance:aggregate:read (aggregates) or surveillance:report:read (case reports) there; a Consent needs "
    "consent:consent:write; AuditEvent search needs audit:record:read. GET /fhir/metadata is public."
)

#: Searches answered outside the resource handlers (the audit trail; a person's Consents).
SEARCHES: list[dict[str, Any]] = [
    {
        "type": "AuditEvent",
        "documentation": "The platform's hash-chained audit trail, read only (audit:record:read); each search is "
        "itself audited.",
        "interaction": [{"code": "search-type"}],
        "searchParam": [
            {"name": "patient", "type": "reference", "documentation": "Patient/<id> or the person's pseudonym"},
            {"name": "agent", "type": "string", "documentation": "the user name of who acted"},
            {"name": "date", "type": "date", "documentation": "eq, ge, gt, le, lt prefixes"},
            {"name": "action", "type": "token", "documentation": "C, R, U, D or E"},
            {"name": "_count", "type": "number"},
            {"name": "_offset", "type": "number"},
        ],
    }
]


def statement(base_url: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [dict(search) for search in SEARCHES]
    for handler in HANDLERS.values():
        resources.append(
            {
                "type": handler.resource_type,
                "documentation": handler.documentation,
                "interaction": [{"code": code} for code in handler.interactions],
                "versioning": "versioned",
                "readHistory": False,
                "updateCreate": False,
                "conditionalCreate": True,
                "conditionalUpdate": False,
                "conditionalDelete": "not-supported",
            }
        )
    resources.sort(key=lambda r: str(r["type"]))
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": dt.date.today().isoformat(),
        "publisher": "dhnet",
        "kind": "instance",
        "software": {"name": "dhnet", "version": __version__},
        "implementation": {
            "description": "dhnet FHIR R4 intake (IDSR aggregate reports, case reports with pseudonymisation)",
            "url": base_url,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Aggregate surveillance reports as MeasureReport; case reports as Patient, Condition, "
                "Encounter, Observation and Consent (direct identifiers go to the identity vault); transaction and "
                "batch Bundles; a person's Consents at Patient/<id>/Consent; the audit trail as AuditEvent.",
                "security": {
                    "cors": False,
                    "service": [{"text": "Bearer API tokens"}],
                    "description": SECURITY,
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
            }
        ],
    }
