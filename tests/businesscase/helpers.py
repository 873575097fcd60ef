"""Shared data of the business-case tests: a small case of Kenya (the worked example of ``test_finance.py`` in
its frame) and the upload tables."""

from __future__ import annotations

from typing import Any

from dhnet.accounts.models import User
from dhnet.atlas.models import CountryAdmin

FIELDS: dict[str, Any] = {
    "country": "KE",
    "title": "Electronic case notification, national scale-up",
    "investment": "Scale the electronic notification system to every county laboratory.",
    "currency": "USD",
    "base_year": 2025,
    "horizon_years": 4,
    "discount_rate": "0.05",
}
COSTS: list[dict[str, Any]] = [
    {"phase": "deployment", "category": "hardware", "year": 2025, "amount": "100000", "note": "servers"},
    {"phase": "planning_development", "category": "people", "year": 2025, "amount": "50000"},
    {"phase": "operations", "category": "maintenance", "year": 2026, "amount": "30000"},
    {"phase": "operations", "category": "maintenance", "year": 2027, "amount": "30000"},
    {"phase": "operations", "category": "maintenance", "year": 2028, "amount": "30000"},
]
BENEFITS: list[dict[str, Any]] = [
    {
        "kind": "time_saved",
        "year": year,
        "quantity": str(hours),
        "unit": "staff hours",
        "unit_value": "40",
        "assumption": f"{hours} hours of re-keying saved at 40 an hour (illustrative)",
    }
    for year, hours in ((2026, 2000), (2027, 2500), (2028, 3000))
]
COSTS_CSV = (
    "phase,category,year,amount,note\n"
    "deployment,hardware,2025,100000,servers\n"
    "planning_development,people,2025,50000,\n"
    "operations,maintenance,2026,30000,\n"
    "operations,maintenance,2027,30000,\n"
    "operations,maintenance,2028,30000,\n"
)


def appoint(user: User, country: str) -> CountryAdmin:
    return CountryAdmin.objects.create(user=user, country=country)
