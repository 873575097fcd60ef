"""A country's portfolio on ``explore_world``'s registry: stages, products, funders with totals per currency,
budget by TCO phase x year (one table per currency), interoperability links, coverage; drafts never counted for
the public; pages and API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from dhnet.atlas import services
from dhnet.atlas.portfolio import country_portfolio
from dhnet.audit.models import AuditRecord
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid
from tests.atlas.explore_world import make_registry
from tests.platform.fixtures import actor_of

pytestmark = pytest.mark.django_db
ANON = Actor.anonymous()
D = Decimal


@pytest.fixture
def registry(tree: Any, operator: Actor) -> dict[str, Any]:
    return make_registry(operator)


def test_kenya_totals_by_phase_year_funder_and_currency(registry: Any) -> None:
    p = country_portfolio(ANON, "ke")
    assert (p.country, p.country_name, p.unpublished) == ("KE", "Kenya", False)
    assert [h.public_id for h in p.projects] == ["KE-EMR222", "KE-HMS222"]  # the draft is not public
    assert [(s.stage, s.projects) for s in p.stages] == [("pilot", 1), ("scale", 1)]
    assert [(u.slug, u.projects, u.stages) for u in p.products] == [("dhis2", 1, ["scale"]), ("openmrs", 1, ["pilot"])]
    assert [(f.slug, f.name, f.projects, f.totals) for f in p.funders] == [
        ("gf", "Global Fund", 1, {"USD": D("150000.00")}),
        ("usaid", "USAID", 1, {"USD": D("30000.00"), "EUR": D("10000.00")}),
        ("", "funder not stated", 0, {"USD": D("20000.00")}),
    ]
    eur, usd = p.budgets  # one table per currency, never summed across
    assert (eur.currency, eur.total, eur.years) == ("EUR", D("10000.00"), [2021])
    assert eur.cells == {2021: {"deployment": D("10000.00")}}
    assert (usd.currency, usd.total, usd.years) == ("USD", D("200000.00"), [2020, 2021, 2022])
    assert usd.year_totals == {2020: D("20000.00"), 2021: D("130000.00"), 2022: D("50000.00")}
    assert usd.phase_totals == {
        "planning_development": D("20000.00"),
        "deployment": D("130000.00"),
        "operations": D("50000.00"),
    }
    assert usd.rows()[1] == (2021, [D(0), D("130000.00"), D(0), D(0)], D("130000.00"))
    assert usd.phase_row() == [D("20000.00"), D("130000.00"), D(0), D("50000.00")]
    assert usd.chart.startswith('<svg class="bars"')
    assert "2021, Deployment: 130,000.00 USD" in usd.chart
    assert [(link.source, link.kind, link.target, link.standard) for link in p.links] == [
        ("KE-EMR222", "hmis", "KE-HMS222", "standard:adx")
    ]
    assert p.coverage is None  # Kenya's coverage names no org unit of this node


def test_germany_coverage_and_places(registry: Any) -> None:
    p = country_portfolio(ANON, "DE")
    assert p.coverage is not None
    assert {u.code: u.projects for u in p.coverage.units} == {"R1": 2, "R2": 2}
    assert p.places == [("DE-SRV222", "Germany surveillance", "Helgoland")]
    assert p.budgets == []
    assert [(f.slug, f.projects, f.totals) for f in p.funders] == [("gf", 1, {})]


def test_empty_and_bad_country(registry: Any) -> None:
    empty = country_portfolio(ANON, "FR")
    assert (empty.projects, empty.budgets, empty.funders, empty.country_name) == ([], [], [], "France")
    with pytest.raises(Invalid, match="country: 'Kenya'"):
        country_portfolio(ANON, "Kenya")


def test_unpublished_for_the_countrys_administrator_only(registry: Any, users: dict[str, Any], operator: Actor) -> None:
    planner = actor_of(users["digital_health_planner"])
    with pytest.raises(Forbidden, match="include_unpublished: you are not a registry administrator of KE"):
        country_portfolio(planner, "KE", include_unpublished=True)
    services.appoint_country_admin(operator, "digital_health_planner", "KE")
    before = AuditRecord.objects.filter(action="atlas.portfolio.read").count()
    p = country_portfolio(planner, "KE", include_unpublished=True)
    assert [h.public_id for h in p.projects] == ["KE-DRAFT2", "KE-EMR222", "KE-HMS222"]  # by name, any case
    usd = next(b for b in p.budgets if b.currency == "USD")
    assert usd.year_totals[2021] == D("1129999.00")
    assert AuditRecord.objects.filter(action="atlas.portfolio.read").count() == before + 1
    with pytest.raises(Forbidden):
        country_portfolio(planner, "UG", include_unpublished=True)


def test_page_and_api(registry: Any) -> None:
    client = Client()
    page = client.get("/atlas/countries/KE/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Kenya: digital health portfolio" in body
    assert 'data-currency="USD"' in body
    assert 'data-currency="EUR"' in body
    assert "999" not in body.split('id="portfolio-title"')[1]  # nothing of the draft's budget
    assert 'href="/atlas/export.csv?country=KE"' in body
    assert client.get("/atlas/countries/Kenya/").status_code == 400
    assert client.get("/atlas/countries/KE/?unpublished=true").status_code == 403
    api = client.get("/api/v1/atlas/countries/KE/portfolio").json()
    assert [h["public_id"] for h in api["projects"]] == ["KE-EMR222", "KE-HMS222"]
    usd = next(b for b in api["budgets"] if b["currency"] == "USD")
    assert usd["total"] == "200000.00"
    assert usd["year_totals"] == {"2020": "20000.00", "2021": "130000.00", "2022": "50000.00"}
    assert {(c["year"], c["phase"]): c["amount"] for c in usd["cells"]} == {
        (2020, "planning_development"): "20000.00",
        (2021, "deployment"): "130000.00",
        (2022, "operations"): "50000.00",
    }
    assert api["funders"][1]["totals"] == {"USD": "30000.00", "EUR": "10000.00"}
    assert client.get("/api/v1/atlas/countries/KE/portfolio?include_unpublished=true").status_code == 403
