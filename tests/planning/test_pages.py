"""The planning pages: the gap chart and table, the targets form (rows named on error, nothing stored), the roadmap
with its timeline and progress, linking suggestions on an item, milestones, exports; all without JavaScript."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.planning import services
from dhnet.planning.models import Milestone, RoadmapItem, Target
from tests.planning.helpers import RUBRIC, world
from tests.platform.fixtures import login


@pytest.fixture
def w(users: dict[str, User]) -> dict[str, Any]:
    return world(users)


@pytest.fixture
def client(users: dict[str, User], w: dict[str, Any]) -> Client:
    return login(Client(), users["digital_health_planner"])


def test_gap_page_shows_the_chart_and_the_table_by_priority(client: Client) -> None:
    page = client.get("/planning/DE/").content.decode()
    assert '<svg class="gap-chart"' in page
    assert re.findall(r'<tr data-code="([^"]+)">', page) == ["21", "5", "17", "21b", "1"]
    assert "published assessment of 2025" in page
    assert page.count("Add to the roadmap") == 4  # every open gap; the met one has none
    assert 'href="/planning/"' in page  # the navigation line (base.html)


def test_targets_form_shows_current_phases_and_saves(client: Client) -> None:
    page = client.get("/planning/DE/targets").content.decode()
    assert 'name="phase_23"' in page
    assert 'name="phase_21a"' in page
    assert re.search(r"<span class=\"mono\">17</span>[^<]*</td><td>n/a</td>", page)  # not available
    assert 'name="phase_21"' in page
    assert re.search(r'name="phase_21"[^>]*>.*?<option value="4" selected>', page, re.S)
    form = {f"phase_{t.indicator.code}": "" for t in Target.objects.all()}
    form |= {"phase_2": "4", "year_2": "2027", "weight_2": "1.5", "phase_21": "4", "year_21": "2027", "weight_21": "2"}
    response = client.post("/planning/DE/targets", form)
    assert response.status_code == 302
    assert sorted(Target.objects.values_list("indicator__code", flat=True)) == ["2", "21"]  # blank rows removed


def test_a_bad_form_row_is_named_and_nothing_is_stored(client: Client) -> None:
    before = list(Target.objects.order_by("id").values_list("indicator__code", "target_phase"))
    response = client.post("/planning/DE/targets", {"phase_2": "4", "year_2": "1999"})
    assert response.status_code == 400
    assert "target_year (indicator 2): 1999 is not between 2000 and 2100" in response.content.decode()
    response = client.post("/planning/DE/targets", {"json": '[{"indicator": "2", "target_phase": 9}'})
    assert response.status_code == 400
    assert "json: not JSON" in response.content.decode()
    rows = json.dumps([{"indicator": "2", "target_phase": 3, "target_year": 2027}, {"indicator": "zz"}])
    response = client.post("/planning/DE/targets", {"json": rows})
    assert response.status_code == 400
    assert "rows[1].indicator: &#x27;zz&#x27; is not an indicator of gdhm-current" in response.content.decode()
    assert list(Target.objects.order_by("id").values_list("indicator__code", "target_phase")) == before


def test_roadmap_item_links_milestones_and_timeline(client: Client, w: dict[str, Any]) -> None:
    response = client.post("/planning/DE/items/new", {"indicator": "21b", "rubric": RUBRIC})
    assert response.status_code == 302
    item = RoadmapItem.objects.get()
    assert response["Location"] == f"/planning/DE/items/{item.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert re.findall(r'name="projects" value="([^"]+)"', page) == ["DE-AAAAAA", "AT-BBBBBB", "KE-CCCCCC"]
    assert 'name="products" value="crvs-suite"' in page
    form = {
        "title": item.title,
        "status": "in_progress",
        "projects": ["DE-AAAAAA", "KE-CCCCCC"],
        "products": ["crvs-suite"],
    }
    assert client.post(f"/planning/DE/items/{item.pk}/edit", form).status_code == 302
    assert services.item_data(RoadmapItem.objects.get())["projects"] == ["DE-AAAAAA", "KE-CCCCCC"]
    past = (dt.date.today() - dt.timedelta(days=5)).isoformat()
    milestone = {"title": "Registry pilot", "owner_name": "Registry office", "due_date": past, "progress": "20"}
    assert client.post(f"/planning/DE/items/{item.pk}/milestones", milestone).status_code == 302
    page = client.get("/planning/DE/roadmap").content.decode()
    assert '<svg class="timeline"' in page
    assert '<g class="milestone late"' in page
    assert "1 late" in page
    m = Milestone.objects.get()
    assert client.post(f"/planning/DE/milestones/{m.pk}", {"progress": "100", "done": "on"}).status_code == 302
    page = client.get("/planning/DE/roadmap").content.decode()
    assert '<g class="milestone done"' in page
    assert "(<strong>100.0 %</strong>)" in page


def test_open_a_need_from_an_item(client: Client) -> None:
    client.post("/planning/DE/items/new", {"indicator": "22", "title": "Patient feedback service"})
    item = RoadmapItem.objects.get()
    response = client.post(f"/planning/DE/items/{item.pk}/need")
    assert response.status_code == 302
    item.refresh_from_db()
    assert response["Location"] == f"/needs/{item.need.public_id}/"  # type: ignore[union-attr]
    assert client.get(response["Location"]).status_code == 200


def test_a_bad_milestone_shows_the_field(client: Client) -> None:
    client.post("/planning/DE/items/new", {"indicator": "5"})
    item = RoadmapItem.objects.get()
    response = client.post(f"/planning/DE/items/{item.pk}/milestones", {"title": "X", "due_date": "2027-01-01"})
    assert response.status_code == 400
    assert "owner_name: name an owner" in response.content.decode()
    assert not Milestone.objects.exists()


def test_exports_and_settings(client: Client, users: dict[str, User]) -> None:
    client.post("/planning/DE/items/new", {"indicator": "21"})
    response = client.get("/planning/DE/roadmap.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "indicator"
    assert rows[1][0] == "21"
    data = json.loads(client.get("/planning/DE/roadmap.json").content)
    assert data["items"][0]["indicator"] == "21"
    assert data["gaps"][0] == {
        "indicator": "21",
        "name": data["gaps"][0]["name"],
        "current": 1,
        "assessed": True,
        "target": 4,
        "target_year": 2027,
        "weight": "2.00",
        "gap": 3,
        "priority": "6.00",
    }
    viewer = login(Client(), users["viewer"])
    assert viewer.get("/planning/DE/roadmap").status_code == 404
    assert client.post("/planning/DE/roadmap/settings", {"title": "Plan", "shared": "on"}).status_code == 302
    assert "Plan" in viewer.get("/planning/DE/roadmap").content.decode()
    assert "DE" in viewer.get("/planning/").content.decode()


def test_unknown_rubric_and_country_are_400(client: Client) -> None:
    response = client.get("/planning/DE/?rubric=nope")
    assert response.status_code == 400
    assert "rubric: no rubric &#x27;nope&#x27;" in response.content.decode()
    assert client.get("/planning/ZZ/roadmap").status_code == 400
