"""The business-case demo: one case of Germany — scaling electronic laboratory notification up to every local
health office — with costs by TCO phase and category over six years and benefits with their assumptions.

Every figure is an illustrative assumption written for the demo (stated in the notes and assumptions), in the
order of magnitude of public-sector IT projects and staff costs in Germany; none is an official number or taken
from a budget. The case is recorded by ``demo-planner`` (whom the atlas demo appoints administrator of DE) when that
user exists, else by the operator, and shared with every signed-in user. Idempotent: the same case again is found,
not added (``services.create_case``).
"""

from __future__ import annotations

from typing import Any

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.businesscase import services
from dhnet.platform.access import Actor

PLANNER = "demo-planner"
ASSUMED = "illustrative assumption, not an official figure"
BASE_YEAR = 2026
OPERATING_YEARS = range(2028, 2032)


def _costs() -> list[dict[str, Any]]:
    rows = [
        ("planning_development", "people", 2026, "450000", "requirements, procurement, 4 staff for a year"),
        ("planning_development", "software", 2026, "600000", "interfaces to office case-management software"),
        ("deployment", "hardware", 2026, "250000", "servers and hardware security modules"),
        ("deployment", "training", 2027, "380000", "about 1,000 per local health office, ~375 offices"),
        ("deployment", "connectivity", 2027, "120000", "secure links of the offices"),
        ("scaling", "software", 2027, "400000", "connectors for the remaining laboratories"),
        ("scaling", "people", 2027, "300000", "roll-out team"),
    ]
    for year in OPERATING_YEARS:
        rows += [
            ("operations", "maintenance", year, "350000", "software maintenance and hosting"),
            ("operations", "connectivity", year, "60000", "secure links"),
            ("operations", "people", year, "220000", "two operations staff"),
        ]
    return [
        {"phase": p, "category": c, "year": y, "amount": a, "note": f"{note} ({ASSUMED})"} for p, c, y, a, note in rows
    ]


def _benefits() -> list[dict[str, Any]]:
    hours = {2027: 15000, 2028: 30000, 2029: 40000, 2030: 40000, 2031: 40000}
    rows: list[dict[str, Any]] = [
        {
            "kind": "time_saved",
            "year": year,
            "quantity": str(n),
            "unit": "staff hours",
            "unit_value": "42",
            "assumption": (
                f"{n:,} hours a year no longer spent re-keying faxed laboratory reports in local health offices "
                f"(rising with the roll-out), at 42 EUR per staff hour ({ASSUMED})"
            ),
        }
        for year, n in hours.items()
    ]
    for year in OPERATING_YEARS:
        rows.append(
            {
                "kind": "costs_avoided",
                "year": year,
                "quantity": "375",
                "unit": "local health offices",
                "unit_value": "600",
                "assumption": f"fax lines, paper and postage no longer needed, 600 EUR per office a year ({ASSUMED})",
            }
        )
        rows.append(
            {
                "kind": "cases_detected_earlier",
                "year": year,
                "quantity": "20",
                "unit": "outbreaks",
                "unit_value": "8000",
                "assumption": (
                    "20 outbreaks a year seen two to three days earlier, each saving 8,000 EUR of response costs "
                    f"(secondary cases, contact tracing) ({ASSUMED})"
                ),
            }
        )
    return rows


CASE: dict[str, Any] = {
    "country": "DE",
    "title": "Electronic laboratory notification: scale-up to every local health office",
    "investment": (
        "Connect every laboratory and every local health office to the national electronic notification system, "
        "so that positive results of notifiable pathogens arrive as structured messages instead of faxes that are "
        "re-keyed. Covers the interfaces, the roll-out and training, and four years of operation. "
        "(Demo: every figure is an illustrative assumption.)"
    ),
    "currency": "EUR",
    "base_year": BASE_YEAR,
    "horizon_years": 6,
    "discount_rate": "0.03",
    "shared": True,
}


def _actor(operator: Actor) -> Actor:
    user = User.objects.filter(username=PLANNER).first()
    if user is None:
        return operator
    actor = accounts.actor_for_user(user, via="cli", mfa_verified=True)
    return actor if services.administers(actor, "DE") and actor.has(services.WRITE) else operator


def load_demo(operator: Actor) -> str:
    """Record the demo business case (once); a line saying what was done."""
    actor = _actor(operator)
    case, created = services.create_case(actor, CASE | {"costs": _costs(), "benefits": _benefits()})
    figures = services.figures(case)
    state = "recorded" if created else "already there"
    return (
        f"business cases: {case.public_id} of DE {state} (NPV {figures.result.npv:,.0f} {case.currency} at "
        f"{case.discount_rate * 100:.0f} %), by {actor.username}"
    )
