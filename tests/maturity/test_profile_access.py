"""The authorization matrix of the public maturity views (profile, comparison and downloads, region, map, and
their API): every role, an API token and an anonymous visitor get the published scores; none of these pages shows
an unpublished assessment (a draft of another country is not counted)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.maturity import services
from dhnet.platform.access import Actor
from tests.maturity import profile_world as w
from tests.platform.fixtures import ROLES, login


@dataclass(frozen=True)
class Case:
    """``permission`` None: public."""

    label: str
    method: str
    url: str
    permission: str | None = None
    ok: int = 200


CASES = [
    Case("maturity profile page", "get", "/maturity/countries/DE/"),
    Case("maturity compare page", "get", "/maturity/compare/?country=DE"),
    Case("maturity compare csv", "get", "/maturity/compare.csv"),
    Case("maturity compare json", "get", "/maturity/compare.json"),
    Case("maturity region page", "get", "/maturity/regions/EUR/"),
    Case("maturity map page", "get", "/maturity/map/"),
    Case("maturity profile api", "get", "/api/v1/maturity/countries/DE/profile"),
    Case("maturity compare api", "get", "/api/v1/maturity/compare"),
    Case("maturity map api", "get", "/api/v1/maturity/map"),
]


@pytest.fixture
def published(db: Any, operator: Actor) -> None:
    w.publish(operator, "DE", 2025, w.DE_2025)
    draft, _ = services.open_assessment(operator, "FR", 2025, "gdhm-current")
    services.answer(operator, draft.public_id, w.uniform(5))


def _check(client: Client) -> None:
    for case in CASES:
        response = getattr(client, case.method)(case.url)
        assert response.status_code == case.ok, case.label
        text = response.content.decode()
        assert 'data-country="FR"' not in text, case.label  # the draft is not counted anywhere
        assert '"country": "FR"' not in text.replace('"country":"FR"', '"country": "FR"'), case.label


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_public_views(role: str, users: dict[str, User], published: None) -> None:
    _check(login(Client(), users[role]))


def test_anonymous_reads_the_public_views(published: None) -> None:
    _check(Client())
    body = Client().get("/api/v1/maturity/compare").json()
    assert [c["country"] for c in body["countries"]] == ["DE"]  # the FR draft is not there
