"""The pages: creating a case, the editor's grid and benefit table (saved as the whole table, the same form again
makes no version), bad input shown with the row and field, upload, the result page (figures, chart, sensitivity
with negative cells marked), history with differences, copy, the roadmap-item link."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dhnet.accounts.models import User
from dhnet.businesscase import services
from dhnet.businesscase.models import BusinessCase, CostLine
from dhnet.platform.access import Actor
from tests.businesscase.helpers import BENEFITS, COSTS, FIELDS, appoint
from tests.platform.fixtures import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def planner(users: dict[str, User]) -> Client:
    appoint(users["digital_health_planner"], "KE")
    return login(Client(), users["digital_health_planner"])


def test_create_then_edit_the_grid_and_benefits(planner: Client) -> None:
    form = {
        "country": "KE",
        "title": "Laboratory notification",
        "currency": "USD",
        "base_year": "2025",
        "horizon_years": "3",
        "discount_rate_percent": "3.5",
    }
    response = planner.post("/business-cases/new", form)
    assert response.status_code == 302
    case = BusinessCase.objects.get()
    assert case.discount_rate == Decimal("0.035")
    edit = response["Location"]
    page = planner.get(edit)
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count('name="cost-') == 4 * 6 * 3  # phase x category x year
    grid = {"part": "costs", "cost-deployment-hardware-2025": "10,000", "cost-operations-connectivity-2026": "1200.50"}
    response = planner.post(edit, grid)
    assert response.status_code == 302
    assert response["Location"].endswith("?saved=1#costs")
    assert sorted(CostLine.objects.values_list("phase", "category", "year", "amount")) == [
        ("deployment", "hardware", 2025, Decimal("10000.00")),
        ("operations", "connectivity", 2026, Decimal("1200.50")),
    ]
    assert planner.post(edit, grid)["Location"].endswith("?saved=0#costs")  # the same grid: no new version
    benefits = {
        "part": "benefits",
        "benefit_rows": "2",
        "b-0-kind": "cases_detected_earlier",
        "b-0-year": "2026",
        "b-0-quantity": "12",
        "b-0-unit": "outbreaks",
        "b-0-unit_value": "5000",
        "b-0-assumption": "each outbreak found a week earlier saves 5,000 in response costs",
        "b-1-kind": "",
    }
    assert planner.post(edit, benefits).status_code == 302
    case.refresh_from_db()
    assert case.version == 3
    assert case.benefits.get().unit == "outbreaks"
    page = planner.get(edit).content.decode()
    assert 'value="10000"' in page
    assert 'value="1200.5"' in page
    assert "each outbreak found a week earlier" in page


def test_bad_input_is_shown_and_nothing_stored(planner: Client, operator: Actor) -> None:
    case, _ = services.create_case(operator, FIELDS | {"costs": COSTS})
    edit = f"/business-cases/{case.public_id}/edit"
    response = planner.post(edit, {"part": "costs", "cost-scaling-training-2026": "lots"})
    assert response.status_code == 400
    assert "row 1: amount: &#x27;lots&#x27; is not a number" in response.content.decode()
    row = {"part": "benefits", "benefit_rows": "1", "b-0-kind": "time_saved", "b-0-year": "2026"}
    response = planner.post(edit, row | {"b-0-quantity": "1", "b-0-unit": "h", "b-0-unit_value": "1"})
    assert response.status_code == 400
    assert "row 1: assumption: required" in response.content.decode()
    response = planner.post(edit, {"part": "fields", **FIELDS, "discount_rate_percent": "500"})
    assert response.status_code == 400
    assert "discount_rate: 5 is not between -0.99 and 1" in response.content.decode()
    case.refresh_from_db()
    assert case.version == 1
    assert case.costs.count() == 5


def test_upload_page(planner: Client, operator: Actor) -> None:
    case, _ = services.create_case(operator, FIELDS)
    url = f"/business-cases/{case.public_id}/upload"
    good = SimpleUploadedFile("c.csv", b"phase,category,year,amount\nscaling,training,2026,700\n")
    assert planner.post(url, {"kind": "costs", "file": good}).status_code == 302
    bad = SimpleUploadedFile("c.csv", b"phase,category,year,amount\nscaling,training,1999,700\n")
    response = planner.post(url, {"kind": "costs", "file": bad})
    assert response.status_code == 400
    assert "row 2: year: 1999 is not between 2025 and 2028" in response.content.decode()
    assert planner.post(url, {"kind": "costs"}).status_code == 400
    assert list(CostLine.objects.values_list("amount", flat=True)) == [Decimal("700.00")]


def test_result_page(planner: Client, operator: Actor) -> None:
    case, _ = services.create_case(operator, FIELDS | {"costs": COSTS, "benefits": BENEFITS})
    body = planner.get(f"/business-cases/{case.public_id}/").content.decode()
    assert "USD 38,856.49" in body
    assert "16.8 %" in body
    assert '<svg class="cashflow"' in body
    assert body.count('<table class="sensitivity">') == 5
    assert 'class="negative">-142,759.96<' in body
    assert "Discount rate 5.00 % (the case's rate)" in body
    assert "2,000 staff hours" in body or "2000 staff hours" in body


def test_history_and_copy(planner: Client, operator: Actor) -> None:
    case, _ = services.create_case(operator, FIELDS | {"costs": COSTS})
    services.update_case(operator, case.public_id, {"discount_rate": "0.07"})
    page = planner.get(f"/business-cases/{case.public_id}/history").content.decode()
    assert "From version 1 to 2" in page
    assert "<td>discount_rate</td><td>0.05</td><td>0.07</td>" in page
    assert planner.get(f"/business-cases/{case.public_id}/history?a=1&b=x").status_code == 400
    assert planner.get(f"/business-cases/{case.public_id}/history?a=1&b=7").status_code == 404
    response = planner.post(f"/business-cases/{case.public_id}/copy", {"title": "Variant"})
    assert response.status_code == 302
    copy = BusinessCase.objects.get(title="Variant")
    assert response["Location"] == f"/business-cases/{copy.public_id}/edit"
    assert copy.costs.count() == 5


def test_roadmap_item_link(planner: Client, operator: Actor, users: dict[str, Any]) -> None:
    from dhnet.maturity.models import Component, Indicator, Rubric
    from dhnet.planning.models import Roadmap, RoadmapItem

    rubric = Rubric.objects.create(code="test-rubric", name="Test rubric")
    component = Component.objects.create(rubric=rubric, position=1, name="Leadership and governance")
    indicator = Indicator.objects.create(rubric=rubric, component=component, code="1", position=1, name="Strategy")
    roadmap = Roadmap.objects.create(country="KE", rubric=rubric, title="KE roadmap")
    item = RoadmapItem.objects.create(roadmap=roadmap, indicator=indicator, title="Notification system")
    other = Roadmap.objects.create(country="UG", rubric=rubric, title="UG roadmap")
    foreign = RoadmapItem.objects.create(roadmap=other, indicator=indicator, title="Elsewhere")
    case, _ = services.create_case(operator, FIELDS | {"roadmap_item": item.pk})
    body = planner.get(f"/business-cases/{case.public_id}/").content.decode()
    assert f'href="/planning/KE/items/{item.pk}/"' in body
    assert "1 · Notification system" in body
    assert "Notification system</option>" in planner.get(f"/business-cases/{case.public_id}/edit").content.decode()
    response = planner.patch(
        f"/api/v1/business-cases/{case.public_id}", f'{{"roadmap_item": {foreign.pk}}}', "application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == f"roadmap_item: item {foreign.pk} is on the roadmap of UG, not of KE"
    response = planner.patch(f"/api/v1/business-cases/{case.public_id}", '{"roadmap_item": null}', "application/json")
    assert response.status_code == 200
    assert response.json()["roadmap_item"] is None
