"""Page offsets beyond the databases' 64-bit integers are refused (found by tests/apischema: a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dhnet.orgunits import services
from dhnet.platform.errors import Invalid
from tests.platform.fixtures import actor_of, login


def test_huge_offsets_are_4xx_and_the_largest_one_is_an_empty_page(users: dict[str, Any]) -> None:
    client = login(Client(), users["viewer"])
    for offset in (2**63, 2**64, 10**38):
        response = client.get("/api/v1/orgunits", {"offset": str(offset)})
        assert response.status_code == 422, offset
    response = client.get("/api/v1/orgunits", {"offset": str(services.MAX_OFFSET), "limit": "1000"})
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["count"] == 3  # R1, D11, D12


def test_the_service_refuses_them_too(users: dict[str, Any]) -> None:
    with pytest.raises(Invalid, match="offset"):
        services.list_units(actor_of(users["viewer"]), services.UnitQuery(offset=services.MAX_OFFSET + 1))
