"""The ``CapabilityStatement`` of ``/fhir/``, built from the resource handlers (what they accept is what it says)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dhnet import __version__
from dhnet.fhir.registry import HANDLERS

FHIR_VERSION = "4.0.1"
SECURITY = (
    "Send an API token as `Authorization: Bearer dhn_...` (created at /api/v1/tokens or with `dhnet token create`), "
    "or use a logged-in browser session. Writing a MeasureReport needs surveillance:report:write at the org unit "
    "it reports for (a role holds at an org unit and everything below it); reading needs "
    "surveillance:aggregate:read there. GET /fhir/metadata is public."
)


def statement(base_url: str) -> dict[str, Any]:
    resources = []
    for handler in sorted(HANDLERS.values(), key=lambda h: h.resource_type):
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
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": dt.date.today().isoformat(),
        "publisher": "dhnet",
        "kind": "instance",
        "software": {"name": "dhnet", "version": __version__},
        "implementation": {"description": "dhnet FHIR R4 intake (IDSR aggregate reports)", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Aggregate surveillance reports as MeasureReport; transaction and batch Bundles.",
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
