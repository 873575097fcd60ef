"""The atlas demo: Germany's public-health surveillance systems, hand-written, and a generated registry of 500
example deployments in 30 other countries.

:func:`load_demo` appoints ``demo-planner`` administrator of Germany's registry, imports three German systems through
the normal import path (published) — DEMIS, SORMAS and SurvNet, described in our own words, with coverage on the demo's
org units (the states) — and stores a generated registry with the bulk loader. Every budget and metric figure of the
German records is illustrative (said in each note), not an official number; the generated projects say
"(generated example)" in their descriptions. Idempotent: running it again adds nothing.
"""

from __future__ import annotations

import json
from typing import Any

from dhnet.atlas import io, services
from dhnet.atlas.generate import generate_registry, load_generated
from dhnet.orgunits.models import OrgUnit

PLANNER = "demo-planner"
ILLUSTRATIVE = "illustrative figure, not an official number"
#: The demo's states where the German systems run (coverage rows for those that exist in this node's hierarchy).
STATES = ("DE-BW", "DE-BY", "DE-BE", "DE-HH", "DE-NW", "DE-SN")

ORGANISATIONS = [
    {"slug": "rki", "name": "Robert Koch Institute", "kind": "other", "countries": ["DE"]},
    {"slug": "hzi", "name": "Helmholtz Centre for Infection Research", "kind": "academia", "countries": ["DE"]},
    {
        "slug": "demo-moh-germany",
        "name": "Federal Health Ministry, Germany (demo)",
        "kind": "member_state",
        "countries": ["DE"],
    },
]

PRODUCTS = [
    {
        "slug": "demis",
        "name": "DEMIS",
        "description": "Germany's electronic notification system for infectious diseases: laboratories and "
        "physicians send notifications electronically (HL7 FHIR) and they reach the responsible local health office.",
        "website": "https://www.rki.de/DEMIS",
        "repository": "",
        "licence": "",
        "open_source": False,
        "dpg_status": "none",
        "maturity": "established",
        "standards": ["standard:hl7-fhir", "standard:loinc", "standard:snomed"],
        "interventions": ["cdhi-v1:3.3.1", "cdhi-v1:2.10.1", "cdhi-v1:4.4.1"],
        "system_categories": ["system-category-v1:V", "system-category-v1:G"],
        "languages": ["de"],
        "offline": False,
        "owner": "rki",
    },
    {
        "slug": "survnet",
        "name": "SurvNet",
        "description": "Software of the public-health service for managing notifiable disease cases and passing "
        "them from local health offices through the states to the national level.",
        "website": "https://www.rki.de",
        "repository": "",
        "licence": "proprietary",
        "open_source": False,
        "dpg_status": "none",
        "maturity": "mature",
        "standards": [],
        "interventions": ["cdhi-v1:3.3.1", "cdhi-v1:4.1.2", "cdhi-v1:4.1.3"],
        "system_categories": ["system-category-v1:V"],
        "languages": ["de"],
        "offline": False,
        "owner": "rki",
    },
]


def _coverage(clients: int) -> list[dict[str, Any]]:
    present = set(OrgUnit.objects.filter(code__in=STATES).values_list("code", flat=True))
    return [
        {"orgunit": code, "place": "", "clients": clients, "health_workers": None, "facilities": None}
        for code in STATES
        if code in present
    ] or [{"orgunit": None, "place": "Germany", "clients": clients, "health_workers": None, "facilities": None}]


def _metric(metric: str, year: int, value: float, unit: str) -> dict[str, Any]:
    return {
        "kind": "usage",
        "metric": metric,
        "period_start": f"{year}-01-01",
        "value": value,
        "unit": unit,
        "note": ILLUSTRATIVE,
    }


def _budget(phase: str, year: int, amount: str) -> dict[str, Any]:
    return {
        "phase": phase,
        "funder": "demo-moh-germany",
        "year": year,
        "amount": amount,
        "currency": "EUR",
        "note": ILLUSTRATIVE,
    }


def german_projects() -> list[dict[str, Any]]:
    """The three German deployments in the canonical shape (public ids fixed so that they can link)."""
    common = {"country": "DE", "funders": ["demo-moh-germany"], "health_areas": ["health-area:19.7"], "links": {}}
    return [
        {
            **common,
            "public_id": "DE-DEM7S2",
            "name": "DEMIS: electronic notification of infectious diseases",
            "description": "Laboratories and physicians notify cases of notifiable diseases electronically instead of "
            "by fax; the notifications are routed to the responsible local health office. Budget and usage figures "
            "are illustrative.",
            "stage": "scale",
            "start_date": "2020-06-01",
            "end_date": None,
            "products": ["demis"],
            "implementers": ["rki"],
            "interventions": ["cdhi-v1:2.10.1", "cdhi-v1:3.3.1", "cdhi-v1:4.4.1"],
            "challenges": ["hsc:1.2", "hsc:1.3", "hsc:6.6"],
            "system_categories": ["system-category-v1:G", "system-category-v1:V"],
            "national_scale": True,
            "coverage": _coverage(0),
            "interop_links": [
                {"kind": "other", "target": "DE-SVN3T9", "target_name": "", "standard": "standard:hl7-fhir"}
            ],
            "budget": [_budget("deployment", 2020, "12000000.00"), _budget("operations", 2023, "8000000.00")],
            "metrics": [_metric("laboratories_connected", 2022, 900.0, "laboratories")],
            "contact_name": "DEMIS team (demo contact)",
            "contact_email": "demis-demo@example.org",
        },
        {
            **common,
            "public_id": "DE-SRM4S8",
            "name": "SORMAS in local health offices",
            "description": "Local health offices manage cases and contacts and follow up contact persons with "
            "SORMAS, introduced widely during the COVID-19 pandemic. Budget and usage figures are illustrative.",
            "stage": "deployment",
            "start_date": "2020-04-01",
            "end_date": None,
            "products": ["sormas"],
            "implementers": ["hzi"],
            "interventions": ["cdhi-v1:2.2.1", "cdhi-v1:3.3.1", "cdhi-v1:4.3.2"],
            "challenges": ["hsc:1.2", "hsc:3.8"],
            "system_categories": ["system-category-v1:I", "system-category-v1:V"],
            "national_scale": False,
            "coverage": _coverage(0)[:3],
            "interop_links": [{"kind": "other", "target": "DE-SVN3T9", "target_name": "", "standard": None}],
            "budget": [_budget("deployment", 2020, "4000000.00"), _budget("scaling", 2021, "6000000.00")],
            "metrics": [_metric("health_offices_using", 2021, 300.0, "offices")],
            "contact_name": "SORMAS team (demo contact)",
            "contact_email": "sormas-demo@example.org",
        },
        {
            **common,
            "public_id": "DE-SVN3T9",
            "name": "SurvNet: transmission of notifiable disease data",
            "description": "Local health offices record notified cases and transmit them, anonymised, to the state "
            "authorities and the national public health institute, where they are analysed and published. Budget "
            "and usage figures are illustrative.",
            "stage": "institutionalised",
            "start_date": "2001-01-01",
            "end_date": None,
            "products": ["survnet"],
            "implementers": ["rki"],
            "interventions": ["cdhi-v1:3.3.1", "cdhi-v1:4.1.2", "cdhi-v1:4.1.3"],
            "challenges": ["hsc:1.2", "hsc:1.6"],
            "system_categories": ["system-category-v1:V"],
            "national_scale": True,
            "coverage": _coverage(0),
            "interop_links": [],
            "budget": [_budget("operations", 2022, "2500000.00")],
            "metrics": [_metric("health_offices_reporting", 2022, 375.0, "offices")],
            "contact_name": "SurvNet team (demo contact)",
            "contact_email": "survnet-demo@example.org",
        },
    ]


def load_demo(actor: Any) -> str:
    """Appoint ``demo-planner`` country administrator of DE (when that user exists), import the German systems
    (published) and store the generated registry (500 projects, 30 countries). Returns one line for the demo's
    output."""
    from dhnet.accounts.models import User

    appointed = ""
    if User.objects.filter(username=PLANNER).exists():
        services.appoint_country_admin(actor, PLANNER, "DE")
        appointed = f"{PLANNER} administers DE; "
    registry = generate_registry(500, 30, seed=1)
    load_generated(actor, {"organisations": registry["organisations"], "products": registry["products"]})
    doc = {
        "format": io.JSON_FORMAT,
        "organisations": ORGANISATIONS,
        "products": PRODUCTS,
        "projects": german_projects(),
    }
    report = io.import_projects(actor, json.dumps(doc).encode(), "json", publish=True)
    if not report.ok:
        first = report.errors[0]
        raise RuntimeError(f"atlas demo: row {first.row} {first.field}: {first.message}")
    counts = load_generated(actor, registry)
    return (
        f"atlas: {appointed}German systems {report.created} new, {report.unchanged} unchanged; "
        f"generated registry {counts['projects']} new project(s)"
    )
