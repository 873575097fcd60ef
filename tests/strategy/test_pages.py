"""What the strategy pages show (the matrix in test_access checks who may see them)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.platform.access import Actor
from dhnet.strategy import charts, demo
from dhnet.strategy.models import Target
from tests.platform.fixtures import login
from tests.strategy.helpers import published

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(operator: Actor) -> None:
    published("DE", 2024, {"5": 3}, 3)
    published("FR", 2024, {"5": 2}, 2)
    demo.load_demo(operator)


def test_framework_page_lists_objectives_outputs_and_filtered_actions(world: None) -> None:
    page = Client().get("/strategy/").content.decode()
    for n in range(1, 5):
        assert f'id="objective-{n}"' in page
    assert "Integrate the template business case in the Dynamic Digital Maturity Model." not in page  # secretariat
    assert "150 proposed actions" not in page
    everything = Client().get("/strategy/?actor=").content.decode()
    assert "150 proposed actions." in everything
    filtered = Client().get("/strategy/?objective=2&actor=secretariat&term=long").content.decode()
    assert "Integrate the template business case in the Dynamic Digital Maturity Model." in filtered
    assert 'id="objective-1"' not in filtered
    assert "4 proposed actions." in filtered
    assert "CC BY-NC-SA 3.0 IGO" in filtered


def test_indicator_page_draws_values_against_baseline_and_target(world: None) -> None:
    page = Client().get("/strategy/indicators/SO4.3-EHR/").content.decode()
    assert '<svg class="strategy-chart"' in page
    assert "<title>baseline 2020: 35" in page
    assert "<title>target 2025: 70" in page
    assert "<title>2025: 56.33" in page  # the mean of the three countries that reported in 2025
    assert "Off track" in page
    assert "3 reporting countries" in page
    de = Client().get("/strategy/indicators/SO4.3-EHR/?country=DE").content.decode()
    assert "<title>2024: 62" in de
    assert "No target for this country set." in de
    derived = Client().get("/strategy/indicators/SO2.1-NDHS/?region=EUR").content.decode()
    assert "<title>2024: 50" in derived  # DE yes, FR no
    assert "1 meeting it" in derived


def test_progress_page_has_a_bar_per_indicator(world: None) -> None:
    page = Client().get("/strategy/progress/?year=2025").content.decode()
    assert page.count('<svg class="progress-bar"') == 12
    assert "Population with an electronic patient health record" in page
    assert "60.9 %" in page


def test_the_reports_for_the_world_health_assembly(world: None) -> None:
    md = Client().get("/strategy/report/?year=2025&format=md")
    assert md["Content-Type"].startswith("text/markdown")
    text = md.content.decode()
    assert text.startswith("# Global strategy on digital health 2020-2025: progress report 2025")
    assert "## Strategic objective 4: Advocate people-centred health systems" in text
    line = next(row for row in text.splitlines() if "(SO4.3-EHR" in row)
    assert "| 35 (2020) | 56.33 (2025) | 70 (2025) | 56.33 (3) | 60.9 % | off_track |" in line
    rows = list(csv.DictReader(io.StringIO(Client().get("/strategy/report/?year=2024&format=csv").content.decode())))
    assert {r["kind"] for r in rows} == {"recorded", "derived"}
    assert {"indicator": "SO2.3-FUNDING", "country": "DE", "value": "2.9", "source": demo.DEMO_SOURCE}.items() <= next(
        r for r in rows if r["indicator"] == "SO2.3-FUNDING" and r["country"] == "DE"
    ).items()
    data = json.loads(Client().get("/strategy/report/?year=2024&format=json").content)
    assert data == json.loads(Client().get("/api/v1/strategy/report/2024").content)
    html = Client().get("/strategy/report/?year=2024").content.decode()
    assert "Country values, 2024" in html
    assert Client().get("/strategy/report/?year=2024&format=pdf").status_code == 404


def test_api_series_and_actions(world: None) -> None:
    series = Client().get("/api/v1/strategy/indicators/SO2.1-NDHS/series").json()
    assert series == [{"period": 2024, "value": "50", "reporting_countries": 2, "meeting": 1}]
    actions = Client().get("/api/v1/strategy/actions/for-indicator?rubric=gdhm-current&code=5").json()
    assert actions[0]["key"] == "SO2-MS-04"
    assert Client().get("/api/v1/strategy/indicators/SO2%00").status_code == 404  # a NUL: not a 500 on PostgreSQL
    assert Client().get("/strategy/indicators/SO2%00/").status_code == 404
    bad = Client().get("/api/v1/strategy/actions?actor=ministers")
    assert bad.status_code == 400
    assert "actor" in bad.json()["detail"]


def test_indicator_chart_and_bar_are_plain_svg_with_their_values_as_text() -> None:
    svg = charts.indicator_chart(
        [(2021, Decimal(3)), (2022, Decimal("4.5"))],
        title="T",
        unit="%",
        baseline=(2020, Decimal(2)),
        target=(2025, Decimal(10)),
    )
    assert svg.startswith('<svg class="strategy-chart"')
    assert svg.endswith("</svg>")
    assert "<title>2022: 4.5 %</title>" in svg
    assert "stroke-dasharray" in svg  # the path from baseline to target
    assert charts.indicator_chart([], title="T") == ""
    only_target = charts.indicator_chart([], title="T", target=(2025, Decimal(1)))
    assert "target 2025: 1" in only_target
    bar = charts.progress_bar(Decimal("150"), "achieved", label="x")
    assert 'width="160.0"' in bar  # capped at the full width
    assert "150 %" in bar
    assert "no data" in charts.progress_bar(None, "no_data", label="x")


def test_the_indicator_manager_sets_a_target_from_the_page(users: dict[str, User]) -> None:
    manager = login(Client(), users["knowledge_manager"])
    page = manager.get("/strategy/indicators/SO4.3-EHR/").content.decode()
    assert 'id="target-form"' in page
    form = {
        "country": "de",
        "baseline_value": "38",
        "baseline_year": "2020",
        "target_value": "80",
        "target_year": "2027",
    }
    response = manager.post("/strategy/indicators/SO4.3-EHR/target", form)
    assert (response.status_code, response["Location"]) == (302, "/strategy/indicators/SO4.3-EHR/?country=DE")
    target = Target.objects.get(indicator__code="SO4.3-EHR", country="DE")
    assert (target.baseline_value, target.target_year) == (Decimal(38), 2027)
    bad = manager.post("/strategy/indicators/SO4.3-EHR/target", form | {"target_value": "lots"})
    assert bad.status_code == 400
    assert "target_value: &#x27;lots&#x27; is not a number" in bad.content.decode()
    assert (
        'id="target-form"'
        not in login(Client(), users["digital_health_planner"]).get("/strategy/indicators/SO4.3-EHR/").content.decode()
    )
