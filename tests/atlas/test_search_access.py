"""Authorization matrix of the atlas' search, map and portfolio pages and endpoints: every role, and anonymous.

All are public over published projects. Unpublished projects (``status=``, ``include_unpublished``/``unpublished``)
only for a registry manager (``atlas:registry:manage``: system admin, knowledge manager) or a country
administrator of that country (the planner, appointed for KE here): 403 for anyone else, and for KE's
administrator asking about UG. Drafts never appear in what the public gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.atlas import services
from dhnet.platform.access import Actor
from tests.atlas.explore_world import make_registry
from tests.platform.fixtures import ROLES, login

pytestmark = pytest.mark.django_db

MANAGERS = frozenset({"system_admin", "knowledge_manager"})
KE_ADMINS = MANAGERS | {"digital_health_planner"}


@dataclass(frozen=True)
class Case:
    label: str
    url: str
    allowed: frozenset[str] | None = None  # None: everyone, anonymous too
    method: str = "get"
    draft_visible: bool = False  # whether an allowed caller sees the draft KE-DRAFT2


CASES = [
    Case("search page", "/atlas/?q=kenya"),
    Case("search page, drafts", "/atlas/?status=draft&country=KE", KE_ADMINS, draft_visible=True),
    Case("map page", "/atlas/map/?country=DE"),
    Case("map page, drafts", "/atlas/map/?status=draft", KE_ADMINS),
    Case("portfolio page", "/atlas/countries/KE/"),
    Case("portfolio page, unpublished", "/atlas/countries/KE/?unpublished=true", KE_ADMINS, draft_visible=True),
    Case("portfolio page, other country unpublished", "/atlas/countries/UG/?unpublished=true", MANAGERS),
    Case("search api", "/api/v1/atlas/search?q=kenya"),
    Case("search api, drafts", "/api/v1/atlas/search?status=draft", KE_ADMINS, draft_visible=True),
    Case("map api", "/api/v1/atlas/map?country=DE"),
    Case("map api, drafts", "/api/v1/atlas/map?status=draft&status=published", KE_ADMINS),
    Case("portfolio api", "/api/v1/atlas/countries/KE/portfolio"),
    Case(
        "portfolio api, unpublished",
        "/api/v1/atlas/countries/KE/portfolio?include_unpublished=true",
        KE_ADMINS,
        draft_visible=True,
    ),
    Case("portfolio api, other country", "/api/v1/atlas/countries/UG/portfolio?include_unpublished=true", MANAGERS),
]


@pytest.fixture
def world(tree: Any, users: dict[str, User], operator: Actor) -> dict[str, Any]:
    registry = make_registry(operator)
    services.appoint_country_admin(operator, "digital_health_planner", "KE")
    return registry


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role: str, users: dict[str, User], world: Any) -> None:
    """Every case for one role (one registry per role: building it is the slow part)."""
    client = login(Client(), users[role])
    for case in CASES:
        response = client.get(case.url)
        allowed = case.allowed is None or role in case.allowed
        assert response.status_code == (200 if allowed else 403), (role, case.label)
        if allowed:
            assert ("KE-DRAFT2" in response.content.decode()) == case.draft_visible, (role, case.label)


def test_anonymous(world: Any) -> None:
    client = Client()
    for case in CASES:
        response = client.get(case.url)
        assert response.status_code == (200 if case.allowed is None else 403), case.label
        assert "KE-DRAFT2" not in response.content.decode(), case.label
        assert "secret" not in response.content.decode(), case.label
