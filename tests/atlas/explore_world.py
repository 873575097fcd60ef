"""A small registry whose every count is checked by hand, for the search, map and portfolio tests.

Projects (all published except KE-DRAFT2)::

    public id  country stage              products          funders      interventions           challenges
    KE-HMS222  KE      scale              dhis2             gf           cdhi-v1:1.1.1           hsc:1.1
    KE-EMR222  KE      pilot              openmrs           usaid        cdhi-2023:1.4.1         hsc:1.2
    UG-CHW222  UG      deployment         commcare          gavi, gf     cdhi-v1:1.4.1           hsc:2.1
    DE-SRV222  DE      scale              dhis2, openmrs    gf           cdhi-v1:1.1.2           hsc:1.1
    DE-NAT222  DE      institutionalised  openmrs           (none)       cdhi-2023:1.1.1         (none)
    KE-DRAFT2  KE      planning           dhis2             gf           cdhi-v1:1.1.1           hsc:1.1   (draft)

Products: dhis2 (BSD-3-Clause, open source, standards adx + hl7-fhir), openmrs (MPL-2.0, open source, hl7-fhir),
commcare (proprietary, no standard). DE-SRV222 covers D11 and R2; DE-NAT222 is national scale.

Budgets: KE-HMS222 deployment/gf/2021 100000 USD, operations/gf/2022 50000 USD, planning_development/no funder/2020
20000 USD; KE-EMR222 deployment/usaid/2021 30000 USD and 10000 EUR; UG-CHW222 operations/gavi/2022 5000 USD;
KE-DRAFT deployment/gf/2021 999999 USD (never in a public figure).
"""

from __future__ import annotations

from typing import Any

from dhnet.atlas import services
from dhnet.atlas.models import Project
from dhnet.network import services as network
from dhnet.platform.access import Actor
from tests.atlas.helpers import ensure_concepts

ORGS = [
    ("uio", "University of Oslo", "academia"),
    ("gf", "Global Fund", "development_partner"),
    ("usaid", "USAID", "development_partner"),
    ("gavi", "Gavi", "development_partner"),
]

PRODUCTS: list[dict[str, Any]] = [
    {
        "slug": "dhis2",
        "name": "DHIS2",
        "licence": "BSD-3-Clause",
        "open_source": True,
        "standards": ["standard:adx", "standard:hl7-fhir"],
    },
    {
        "slug": "openmrs",
        "name": "OpenMRS",
        "licence": "MPL-2.0",
        "open_source": True,
        "standards": ["standard:hl7-fhir"],
    },
    {"slug": "commcare", "name": "CommCare", "licence": "proprietary", "open_source": False, "standards": []},
]


def _budget(phase: str, funder: str | None, year: int, amount: str, currency: str = "USD") -> dict[str, Any]:
    return {"phase": phase, "funder": funder, "year": year, "amount": amount, "currency": currency, "note": ""}


PROJECTS: list[dict[str, Any]] = [
    {
        "public_id": "KE-HMS222",
        "name": "Kenya HMIS",
        "country": "KE",
        "description": "Aggregate reporting from every county.",
        "stage": "scale",
        "products": ["dhis2"],
        "implementers": ["uio"],
        "funders": ["gf"],
        "interventions": ["cdhi-v1:1.1.1"],
        "challenges": ["hsc:1.1"],
        "budget": [
            _budget("deployment", "gf", 2021, "100000.00"),
            _budget("operations", "gf", 2022, "50000.00"),
            _budget("planning_development", None, 2020, "20000.00"),
        ],
    },
    {
        "public_id": "KE-EMR222",
        "name": "Kenya EMR",
        "country": "KE",
        "description": "Electronic medical records in clinics.",
        "stage": "pilot",
        "products": ["openmrs"],
        "funders": ["usaid"],
        "interventions": ["cdhi-2023:1.4.1"],
        "challenges": ["hsc:1.2"],
        "budget": [
            _budget("deployment", "usaid", 2021, "30000.00"),
            _budget("deployment", "usaid", 2021, "10000.00", "EUR"),
        ],
        "interop_links": [{"kind": "hmis", "target": "KE-HMS222", "target_name": "", "standard": "standard:adx"}],
    },
    {
        "public_id": "UG-CHW222",
        "name": "Uganda community health app",
        "country": "UG",
        "description": "Community health workers register households.",
        "stage": "deployment",
        "products": ["commcare"],
        "implementers": ["uio"],
        "funders": ["gavi", "gf"],
        "interventions": ["cdhi-v1:1.4.1"],
        "challenges": ["hsc:2.1"],
        "budget": [_budget("operations", "gavi", 2022, "5000.00")],
    },
    {
        "public_id": "DE-SRV222",
        "name": "Germany surveillance",
        "country": "DE",
        "description": "Notifiable diseases.",
        "stage": "scale",
        "products": ["dhis2", "openmrs"],
        "funders": ["gf"],
        "interventions": ["cdhi-v1:1.1.2"],
        "challenges": ["hsc:1.1"],
        "coverage": [
            {"orgunit": "D11", "place": "", "clients": 10, "health_workers": None, "facilities": None},
            {"orgunit": "R2", "place": "", "clients": None, "health_workers": None, "facilities": None},
            {"orgunit": None, "place": "Helgoland", "clients": None, "health_workers": None, "facilities": 1},
        ],
    },
    {
        "public_id": "DE-NAT222",
        "name": "Germany national registry",
        "country": "DE",
        "description": "A national client registry.",
        "stage": "institutionalised",
        "products": ["openmrs"],
        "interventions": ["cdhi-2023:1.1.1"],
        "national_scale": True,
    },
]

DRAFT: dict[str, Any] = {
    "public_id": "KE-DRAFT2",
    "name": "Kenya draft secret",
    "country": "KE",
    "description": "Not yet approved.",
    "stage": "planning",
    "products": ["dhis2"],
    "funders": ["gf"],
    "interventions": ["cdhi-v1:1.1.1"],
    "challenges": ["hsc:1.1"],
    "budget": [_budget("deployment", "gf", 2021, "999999.00")],
}


def make_registry(operator: Actor) -> dict[str, Project]:
    """The registry of the module docstring (needs the ``tree`` fixture for the org units)."""
    ensure_concepts()
    for slug, name, kind in ORGS:
        network.create_organisation(operator, {"slug": slug, "name": name, "kind": kind, "countries": []})
    for product in PRODUCTS:
        services.create_product(operator, dict(product))
    projects = {}
    for data in [*PROJECTS, DRAFT]:
        project = services.create_project(operator, dict(data))
        projects[project.public_id] = project
    # Published through the workflow, as a country administrator would (the operator administers every country).
    for data in PROJECTS:
        pid = data["public_id"]
        services.submit(operator, pid)
        services.approve(operator, pid)
        services.publish(operator, pid)
    return {pid: Project.objects.get(public_id=pid) for pid in projects}
