"""Shared fixtures of the platform tests (imported by the conftest of each platform test package).

The tree::

    DE (country)
    ├── R1 (region)
    │   ├── D11 (district)
    │   └── D12 (district)
    └── R2 (region)
        └── D21 (district)

and one user per role, named after the role, holding it at ``HOMES[role]``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dhnet.accounts import services as accounts
from dhnet.accounts.middleware import MFA_SESSION_KEY
from dhnet.accounts.models import User
from dhnet.accounts.roles import Role
from dhnet.orgunits import services as orgunits
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor

TREE = [("DE", "Germany", None), ("R1", "Region 1", "DE"), ("R2", "Region 2", "DE")]
TREE += [("D11", "District 11", "R1"), ("D12", "District 12", "R1"), ("D21", "District 21", "R2")]

HOMES = {
    Role.SYSTEM_ADMIN: "DE",
    Role.NATIONAL_EPIDEMIOLOGIST: "DE",
    Role.REGIONAL_OFFICER: "R1",
    Role.DISTRICT_OFFICER: "D11",
    Role.VIEWER: "R1",
    Role.PARTNER: "DE",
    Role.KNOWLEDGE_MANAGER: "DE",
    Role.DIGITAL_HEALTH_PLANNER: "DE",
    Role.EXPERT_REVIEWER: "DE",
}
ROLES = [str(r) for r in HOMES]


@pytest.fixture
def operator() -> Actor:
    return accounts.operator_actor("cli:test")


@pytest.fixture
def tree(db: Any, operator: Actor) -> dict[str, OrgUnit]:
    units = {}
    for code, name, parent in TREE:
        units[code] = orgunits.create_unit(operator, code=code, name=name, parent_code=parent, population=1000)
    return units


@pytest.fixture
def users(tree: dict[str, OrgUnit], operator: Actor) -> dict[str, User]:
    """One password-less user per role (fast: no argon2 hashing)."""
    return {
        str(role): accounts.create_user(operator, str(role), role=str(role), orgunit_code=home)[0]
        for role, home in HOMES.items()
    }


def login(client: Client, user: User, *, mfa: bool = True) -> Client:
    """Log ``user`` in as if both factors had passed."""
    client.force_login(user)
    session = client.session
    session[MFA_SESSION_KEY] = mfa
    session.save()
    return client


def actor_of(user: User) -> Actor:
    return accounts.actor_for_user(user, ip="127.0.0.1", mfa_verified=True)
