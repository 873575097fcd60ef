"""``/api/v1/maturity/countries/{country}/profile``, ``/maturity/compare`` and ``/maturity/map``: the published
scores as JSON (hand-computed values), bad parameters 400/404 with the parameter named."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dhnet.maturity.models import Assessment
from dhnet.platform.access import Actor
from tests.maturity import profile_world as w


@pytest.fixture
def world(db: Any, operator: Actor) -> dict[str, Assessment]:
    return w.world(operator)


def test_profile_endpoint(client: Client, world: Any) -> None:
    body = client.get("/api/v1/maturity/countries/DE/profile").json()
    assert body["years"] == [2023, 2024, 2025]
    assert body["year"] == 2025
    current = body["current"]
    assert current["score"] == pytest.approx(w.DE_2025_SCORE)
    assert current["phase"] == 3
    assert [c["score"] for c in current["components"]] == pytest.approx(w.DE_2025_COMPONENTS)
    assert current["components"][1] == {"name": "Strategy & Investment", "score": None, "phase": None}
    assert current["synthetic"] is False
    assert [h["score"] for h in body["history"]] == pytest.approx([2.0, 3.0, w.DE_2025_SCORE])
    assert body["rank"] == 2
    assert body["ranked_total"] == 4
    assert body["same_phase"] == ["PL"]
    assert body["region"] == "EUR"
    assert body["region_count"] == 3
    assert body["region_mean"][5] == pytest.approx(4.0)  # Infrastructure: (5 + 4 + 3) / 3
    first = body["indicators"][0]
    assert (first["code"], first["phase"], first["evidence"], first["sub_indicator"]) == ("1", 3, 2, False)
    assert first["definition"]
    assert {i["code"]: i["phase"] for i in body["indicators"]}["5"] == -1
    earlier = client.get("/api/v1/maturity/countries/de/profile?year=2023").json()
    assert earlier["current"]["score"] == 2.0


def test_profile_endpoint_without_publications_and_bad_input(client: Client, world: Any) -> None:
    body = client.get("/api/v1/maturity/countries/BR/profile").json()
    assert body["current"] is None
    assert body["indicators"] == []
    assert body["region"] == "AMR"
    bad = client.get("/api/v1/maturity/countries/ZZ/profile")
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("country: 'ZZ'")
    missing = client.get("/api/v1/maturity/countries/DE/profile?year=2020")
    assert missing.status_code == 404
    assert "published: 2023, 2024, 2025" in missing.json()["detail"]
    assert client.get("/api/v1/maturity/countries/DE/profile?rubric=x").status_code == 400


def test_compare_endpoint(client: Client, world: Any) -> None:
    body = client.get("/api/v1/maturity/compare?country=PL").json()
    assert [(c["rank"], c["country"]) for c in body["countries"]] == [(1, "FR"), (2, "DE"), (3, "PL"), (4, "KE")]
    assert body["position"]["rank"] == 3
    assert body["phase_counts"] == {"1": 1, "2": 0, "3": 2, "4": 1, "5": 0}
    assert len(body["components"]) == 7
    afr = client.get("/api/v1/maturity/compare?region=AFRO").json()
    assert afr["region"] == "AFR"
    assert [c["country"] for c in afr["countries"]] == ["KE"]
    by_region = client.get("/api/v1/maturity/compare?sort=region").json()
    assert [c["country"] for c in by_region["countries"]] == ["KE", "FR", "DE", "PL"]
    for query, word in (("phase=9", "phase"), ("sort=-size", "sort"), ("region=ZZZ", "region"), ("year=20x", "year")):
        response = client.get(f"/api/v1/maturity/compare?{query}")
        assert response.status_code == 400, query
        assert response.json()["detail"].startswith(f"{word}:"), query


def test_map_endpoint(client: Client, world: Any) -> None:
    body = client.get("/api/v1/maturity/map?region=EUR").json()
    assert {c["country"]: c["phase"] for c in body["countries"]} == {"DE": 3, "FR": 4, "PL": 3}
    assert "IT" in body["missing"]
    assert body["svg"] == ""
    drawn = client.get("/api/v1/maturity/map?svg=true").json()
    assert drawn["svg"].startswith('<svg id="phasemap"')
    assert drawn["missing"] == []
    assert client.get("/api/v1/maturity/map?year=2023").json()["countries"][0]["country"] == "DE"
