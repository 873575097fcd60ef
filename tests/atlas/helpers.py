"""The registry test world: organisations, concepts of the schemes the taxonomy adds in its migration 0003 (created
here when that migration has not landed), a product and a valid project payload."""

from __future__ import annotations

import copy
from typing import Any

from dhnet.atlas import services
from dhnet.network import services as network
from dhnet.platform.access import Actor
from dhnet.taxonomy.models import Concept, Scheme

EXTRA_CONCEPTS = {
    "standard": [("hl7-fhir", "HL7 FHIR"), ("adx", "ADX")],
    "health-area": [("1", "Health categories"), ("1.3", "HIV")],
    "service-app-2023": [("A", "Point of service"), ("A1", "Electronic medical record")],
}

PRODUCT: dict[str, Any] = {
    "slug": "dhis2",
    "name": "DHIS2",
    "description": "Health management information system.",
    "website": "https://dhis2.org",
    "repository": "https://github.com/dhis2/dhis2-core",
    "licence": "BSD-3-Clause",
    "open_source": True,
    "dpg_status": "dpg",
    "maturity": "mature",
    "standards": ["standard:adx", "standard:hl7-fhir"],
    "interventions": ["cdhi-v1:3.4.1"],
    "system_categories": ["system-category-v1:K"],
    "languages": ["en", "fr"],
    "offline": True,
    "owner": "uio",
}

PROJECT: dict[str, Any] = {
    "name": "National HMIS",
    "country": "DE",
    "description": "Aggregate reporting from every district.",
    "stage": "scale",
    "start_date": "2019-01-01",
    "end_date": None,
    "products": ["dhis2"],
    "implementers": ["uio"],
    "funders": ["gf"],
    "interventions": ["cdhi-v1:1.1.1", "cdhi-2023:1.1"],
    "challenges": ["hsc:1.1"],
    "system_categories": ["system-category-v1:K"],
    "health_areas": ["health-area:1.3"],
    "national_scale": False,
    "coverage": [
        {"orgunit": "D11", "place": "", "clients": 1200, "health_workers": 40, "facilities": 12},
        {"orgunit": None, "place": "Somewhere", "clients": None, "health_workers": None, "facilities": 3},
    ],
    "interop_links": [{"kind": "hmis", "target": None, "target_name": "Old HMIS", "standard": "standard:adx"}],
    "budget": [
        {"phase": "deployment", "funder": "gf", "year": 2021, "amount": "120000.00", "currency": "USD", "note": ""},
        {"phase": "operations", "funder": None, "year": 2022, "amount": "5000.50", "currency": "EUR", "note": "x"},
    ],
    "metrics": [
        {
            "kind": "usage",
            "metric": "active_users",
            "period_start": "2021-01-01",
            "value": 1200.0,
            "unit": "users",
            "note": "",
        },
        {
            "kind": "usage",
            "metric": "active_users",
            "period_start": "2022-01-01",
            "value": 1500.0,
            "unit": "users",
            "note": "",
        },
    ],
    "contact_name": "Ada",
    "contact_email": "ada@example.org",
    "links": {"repository": "https://example.org/repo"},
}


def ensure_concepts() -> None:
    """The concepts of schemes loaded by taxonomy migration 0003 (standard, health-area, service-app-2023)."""
    for code, concepts in EXTRA_CONCEPTS.items():
        scheme, _ = Scheme.objects.get_or_create(code=code, defaults={"name": code})
        for i, (ccode, name) in enumerate(concepts):
            Concept.objects.get_or_create(scheme=scheme, code=ccode, defaults={"name": name, "ordinal": 10_000 + i})


def make_world(operator: Actor) -> dict[str, Any]:
    ensure_concepts()
    for slug, name, kind in [("uio", "University of Oslo", "academia"), ("gf", "Global Fund", "development_partner")]:
        network.create_organisation(operator, {"slug": slug, "name": name, "kind": kind, "countries": []})
    product, _ = services.create_product(operator, PRODUCT)
    return {"product": product}


def project_payload(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(PROJECT)
    data.update(changes)
    return data
