"""A small hand-made registry whose match scores are computed by hand in ``test_matching.py``.

Need (KE): challenges hsc:1.2 (delayed reporting) and hsc:2.1 (insufficient supply of commodities); standards
HL7 FHIR and ADX required; languages en, sw; intermittent connectivity; budget USD 100,000.

Products: ``dhis2`` (2.2.4, 4.1.3; ADX + FHIR; en; offline; open source, DPG), ``openlmis`` (3.2.1, 3.2.2; FHIR;
en, fr; offline; open source, DPG), ``closedsys`` (1.1.1; nothing else; proprietary).

Published projects: KE-AAAAAA (dhis2, KE, at scale, 2.2.4, tagged hsc:1.2, outcome data, USD 80,000, five
ratings of 4), KE-BBBBBB (openlmis, KE, pilot, 3.2.1, tagged hsc:2.1, USD 150,000), UG-CCCCCC (dhis2, UG,
deployment, 2.2.4, four ratings), three BR projects without products tagged hsc:2.1 with intervention 1.1.1 (two
in v1, one in its CDISAH 2023 equivalent: co-occurrence), and a draft KE project that must count nowhere.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from dhnet.accounts.models import User
from dhnet.atlas.models import BudgetLine, CountryAdmin, Coverage, MetricValue, Product, Project
from dhnet.feedback.models import Rating
from dhnet.orgunits.models import OrgUnit
from dhnet.taxonomy.models import Concept
from dhnet.taxonomy.services import crosswalk, resolve_tags


def concepts(*tags: str) -> list[Concept]:
    return resolve_tags(tags)


def product(slug: str, interventions: list[str], standards: list[str], **fields: Any) -> Product:
    p = Product.objects.create(public_id=f"SW-{slug[:6].upper()}", slug=slug, name=slug.upper(), **fields)
    p.interventions.set(concepts(*interventions))
    p.standards.set(concepts(*standards))
    return p


def project(
    public_id: str,
    country: str,
    stage: str,
    products: list[Product],
    interventions: list[str],
    challenges: list[str],
    *,
    status: str = "published",
    budget: list[tuple[str, int, str]] = (),  # type: ignore[assignment]
    outcome: bool = False,
    places: list[str] = (),  # type: ignore[assignment]
    orgunits: list[OrgUnit] = (),  # type: ignore[assignment]
    national: bool = False,
) -> Project:
    p = Project.objects.create(
        public_id=public_id,
        name=f"Project {public_id}",
        country=country,
        stage=stage,
        status=status,
        national_scale=national,
    )
    p.products.set(products)
    p.interventions.set(concepts(*interventions))
    p.challenges.set(concepts(*challenges))
    for phase, year, amount in budget:
        BudgetLine.objects.create(project=p, phase=phase, year=year, amount=Decimal(amount), currency="USD")
    if outcome:
        MetricValue.objects.create(
            project=p, kind="outcome", metric="stockout_rate", period_start=dt.date(2024, 1, 1), value=0.1
        )
    for place in places:
        Coverage.objects.create(project=p, place=place)
    for unit in orgunits:
        Coverage.objects.create(project=p, orgunit=unit)
    return p


def rate(p: Project, scores: list[int], prefix: str) -> None:
    for i, score in enumerate(scores):
        user = User.objects.create(username=f"{prefix}{i}")
        Rating.objects.create(
            project=p,
            user=user,
            audience="health_worker",
            usability=score,
            reliability=score,
            fit=score,
            support=score,
            data_value=score,
        )


def v2023_of(tag: str) -> str:
    """The CDISAH 2023 concept the crosswalk says is equivalent to a CDHI v1 tag."""
    scheme, code = tag.split(":")
    found = [c.tag for c, relation in crosswalk(scheme, code) if relation == "equivalent"]
    assert found, f"no 2023 equivalent of {tag}"
    return found[0]


def make_registry() -> dict[str, Any]:
    dhis2 = product(
        "dhis2",
        ["cdhi-v1:2.2.4", "cdhi-v1:4.1.3"],
        ["standard:adx", "standard:hl7-fhir"],
        licence="BSD-3-Clause",
        open_source=True,
        dpg_status="dpg",
        languages=["en"],
        offline=True,
    )
    openlmis = product(
        "openlmis",
        ["cdhi-v1:3.2.1", "cdhi-v1:3.2.2"],
        ["standard:hl7-fhir"],
        licence="AGPL-3.0",
        open_source=True,
        dpg_status="dpg",
        languages=["en", "fr"],
        offline=True,
    )
    closedsys = product("closedsys", ["cdhi-v1:1.1.1"], [], licence="proprietary")
    ke_a = project(
        "KE-AAAAAA",
        "KE",
        "scale",
        [dhis2],
        ["cdhi-v1:2.2.4"],
        ["hsc:1.2"],
        budget=[("deployment", 2022, "50000"), ("operations", 2023, "30000")],
        outcome=True,
        places=["Kisumu"],
    )
    ke_b = project(
        "KE-BBBBBB",
        "KE",
        "pilot",
        [openlmis],
        ["cdhi-v1:3.2.1"],
        ["hsc:2.1"],
        budget=[("deployment", 2023, "150000")],
        places=["Kisumu"],
    )
    ug_c = project("UG-CCCCCC", "UG", "deployment", [dhis2], ["cdhi-v1:2.2.4"], [])
    v2023 = v2023_of("cdhi-v1:1.1.1")
    br = [
        project("BR-DDDDD1", "BR", "pilot", [], ["cdhi-v1:1.1.1"], ["hsc:2.1"]),
        project("BR-DDDDD2", "BR", "pilot", [], ["cdhi-v1:1.1.1"], ["hsc:2.1"]),
        project("BR-DDDDD3", "BR", "pilot", [], [v2023], ["hsc:2.1"]),
    ]
    draft = project(
        "KE-EEEEEE", "KE", "scale", [closedsys], ["cdhi-v1:3.2.1"], ["hsc:2.1"], status="draft", outcome=True
    )
    rate(ke_a, [4, 4, 4, 4, 4], "ka")
    rate(ug_c, [5, 5, 5, 5], "uc")
    return {
        "dhis2": dhis2,
        "openlmis": openlmis,
        "closedsys": closedsys,
        "ke_a": ke_a,
        "ke_b": ke_b,
        "ug_c": ug_c,
        "br": br,
        "draft": draft,
    }


NEED = {
    "country": "KE",
    "title": "Stock-outs and late reports in western Kenya",
    "description": "Facilities run out of essential medicines; monthly reports arrive weeks late.",
    "challenges": ["hsc:2.1", "hsc:1.2"],
    "level": "subnational",
    "places": ["Kisumu", "Siaya"],
    "languages": ["en", "sw"],
    "connectivity": "intermittent",
    "standards": ["standard:hl7-fhir", "standard:adx"],
    "budget": "100000",
    "currency": "USD",
}


def appoint(user: User, country: str) -> CountryAdmin:
    return CountryAdmin.objects.create(user=user, country=country)
