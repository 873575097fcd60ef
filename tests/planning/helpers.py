"""The world of the planning tests: DE's published gdhm-current assessment, a small atlas registry, DE's targets.

DE's published phases (2025): every top-level indicator 2, except 1 -> 4, 5 -> 3, 21 -> 1 and 17 "not available";
sub-indicator 21b -> 1. The digital health planner is DE's country administrator; the knowledge manager manages the
registry (administers every country) but may not write roadmaps; the system administrator holds everything.

Atlas: published projects tagged for indicator 21b (birth registry: CDHI v1 3.4.2 / system category B) in DE, AT
(same WHO region, EUR) and KE (another region), one in DE in draft (never suggested); products ``crvs-suite``
(3.4.1 and B) and ``unrelated`` (1.1.1).
"""

from __future__ import annotations

from typing import Any

from dhnet.accounts.models import User
from dhnet.atlas.models import CountryAdmin, Product, Project
from dhnet.maturity import services as maturity
from dhnet.maturity.models import Assessment, Indicator
from dhnet.planning import services
from dhnet.platform.access import Actor
from dhnet.taxonomy.services import resolve_tags
from tests.platform.fixtures import actor_of

RUBRIC = "gdhm-current"
PHASES: dict[str, int] = {str(n): 2 for n in range(1, 24)} | {"1": 4, "5": 3, "21": 1, "17": -1, "21b": 1}

TARGETS = [
    {"indicator": "21", "target_phase": 4, "target_year": 2027, "weight": "2"},  # gap 3, priority 6
    {"indicator": "17", "target_phase": 3, "target_year": 2026, "weight": "1"},  # not available: gap 3, priority 3
    {"indicator": "5", "target_phase": 4, "target_year": 2026, "weight": "3"},  # gap 1, priority 3
    {"indicator": "1", "target_phase": 3, "target_year": 2026},  # met: gap 0
    {"indicator": "21b", "target_phase": 3, "target_year": 2027, "weight": "0.5"},  # gap 2, priority 1.00
]


def people(users: dict[str, User]) -> dict[str, Actor]:
    CountryAdmin.objects.get_or_create(user=users["digital_health_planner"], country="DE")
    return {role: actor_of(user) for role, user in users.items()}


def publish_de(planner: Actor, approver: Actor, year: int = 2025, phases: dict[str, int] = PHASES) -> Assessment:
    """DE's assessment of ``year`` filled by ``planner``, approved and published by ``approver``."""
    assessment, _ = maturity.open_assessment(planner, "DE", year, RUBRIC)
    maturity.answer(planner, assessment.public_id, phases)
    maturity.submit(planner, assessment.public_id)
    maturity.approve(approver, assessment.public_id)
    maturity.publish(approver, assessment.public_id)
    return assessment


def project(public_id: str, country: str, tags: list[str], status: str = "published") -> Project:
    p = Project.objects.create(public_id=public_id, name=f"Project {public_id}", country=country, status=status)
    concepts = resolve_tags(tags)
    p.interventions.set([c for c in concepts if c.scheme.code.startswith("cdhi")])
    p.system_categories.set([c for c in concepts if c.scheme.code == "system-category-v1"])
    return p


def registry() -> dict[str, Any]:
    crvs = Product.objects.create(public_id="SW-CRVS01", slug="crvs-suite", name="CRVS suite")
    crvs.interventions.set(resolve_tags(["cdhi-v1:3.4.1"]))
    crvs.system_categories.set(resolve_tags(["system-category-v1:B"]))
    other = Product.objects.create(public_id="SW-OTHER1", slug="unrelated", name="Unrelated")
    other.interventions.set(resolve_tags(["cdhi-v1:1.1.1"]))
    return {
        "de": project("DE-AAAAAA", "DE", ["cdhi-v1:3.4.2", "system-category-v1:B"]),
        "at": project("AT-BBBBBB", "AT", ["cdhi-v1:3.4.2", "cdhi-v1:3.4.1", "system-category-v1:B"]),
        "ke": project("KE-CCCCCC", "KE", ["cdhi-v1:3.4.2", "cdhi-v1:3.4.1", "cdhi-v1:3.4.3", "system-category-v1:B"]),
        "draft": project("DE-DDDDDD", "DE", ["cdhi-v1:3.4.2"], status="draft"),
        "crvs": crvs,
        "other": other,
    }


def world(users: dict[str, User]) -> dict[str, Any]:
    """People, DE's 2025 publication, the registry and DE's targets (set by the planner)."""
    actors = people(users)
    publish_de(actors["digital_health_planner"], actors["system_admin"])
    services.set_targets(actors["digital_health_planner"], "DE", RUBRIC, TARGETS)
    return {"actors": actors, **registry()}


def indicator(code: str) -> Indicator:
    return Indicator.objects.get(rubric__code=RUBRIC, code=code)
