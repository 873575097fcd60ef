"""Page weight: the first load of the dashboard (HTML plus every stylesheet and script it links) stays under 300 KB
with the largest real map (the 140 districts of Bavaria and Baden-Württemberg) and a signal in every district."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.dashboard import services as dashboard
from dhnet.diseases.models import AlertRule, Disease
from dhnet.orgunits import services as orgunits
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.reporting.models import CountValue
from dhnet.signals.models import Detection, Signal, SignalSource
from tests.platform.fixtures import login

DATA = Path(__file__).resolve().parents[2] / "data" / "surveillance"
BUDGET = 300_000  # bytes, uncompressed
VENDOR = Path(__file__).resolve().parents[2] / "src" / "dhnet" / "dashboard" / "static" / "vendor" / "htmx.min.js"


@pytest.fixture
def bavaria(tree: dict[str, OrgUnit], operator: Actor) -> Disease:
    """The real influenza districts under R1, their last 52 weeks of counts, detections and one signal each."""
    dashboard.clear_caches()
    data = json.loads((DATA / "bavaria_bw_districts.geojson").read_text())
    for feature in data["features"]:
        feature["properties"]["id"] = "F" + feature["properties"]["id"]
    incoming = orgunits.parse_geojson(data, orgunits.GeoJsonMapping())
    orgunits.import_units(operator, incoming, default_parent="R1", source="test")
    units = {u.code: u for u in OrgUnit.objects.filter(code__startswith="F")}
    disease = Disease.objects.get(code="ili")
    rule = AlertRule.objects.filter(disease=disease).first()
    last = dt.date(2008, 12, 15)
    first = last - dt.timedelta(weeks=51)
    counts = []
    with (DATA / "influenza_bavaria_bw_districts_weekly.csv").open() as fh:
        for row in csv.DictReader(fh):
            day = dt.date.fromisoformat(row["period_start"])
            if first <= day <= last:
                unit = units["F" + row["series"]]
                counts.append(CountValue(disease=disease, orgunit=unit, period_start=day, value=int(row["count"])))
    CountValue.objects.bulk_create(counts)
    OrgUnit.objects.filter(code__startswith="F").update(population=150_000)
    region = OrgUnit.objects.get(code="R1")
    Detection.objects.bulk_create(
        Detection(
            rule=rule,
            disease=disease,
            orgunit=region,
            period_start=first + dt.timedelta(weeks=i),
            observed=10,
            expected=5.5,
            upperbound=12.25,
            alarm=i % 7 == 0,
        )
        for i in range(52)
    )
    Signal.objects.bulk_create(
        Signal(
            source=SignalSource.DETECTION,
            disease=disease,
            orgunit=unit,
            rule=rule,
            first_period=last,
            last_period=last,
            title=f"Influenza-like illness: 12 cases in {unit.name} (period starting {last})",
            max_observed=12,
        )
        for unit in units.values()
    )
    return disease


def _weight(client: Client, url: str) -> tuple[int, dict[str, int]]:
    response = client.get(url)
    assert response.status_code == 200
    html = response.content
    sizes = {url: len(html)}
    text = html.decode()
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', text) + re.findall(r'<script src="([^"]+)"', text)
    assert any("htmx" in a for a in assets)
    for asset in assets:
        got = client.get(asset)
        assert got.status_code == 200, asset
        body = b"".join(got.streaming_content) if got.streaming else got.content  # type: ignore[attr-defined]
        sizes[asset] = len(body)
    return sum(sizes.values()), sizes


@pytest.mark.skipif(not VENDOR.exists(), reason="front-end assets not installed (bin/assets)")
def test_first_load_of_the_dashboard_is_under_300_kb(users: dict[str, User], bavaria: Disease) -> None:
    client = login(Client(), users["national_epidemiologist"])
    total, sizes = _weight(client, "/?disease=ili&week=2008-W51")
    html = client.get("/?disease=ili&week=2008-W51").content.decode()
    assert len(set(re.findall(r'data-code="([^"]+)"', html))) == 140
    assert total <= BUDGET, f"first load {total:,} bytes > {BUDGET:,}: {sizes}"


@pytest.mark.skipif(not VENDOR.exists(), reason="front-end assets not installed (bin/assets)")
def test_other_pages_stay_light(users: dict[str, User], bavaria: Disease) -> None:
    client = login(Client(), users["national_epidemiologist"])
    for url in ("/dashboard/signals/?status=all", "/dashboard/?disease=ili&measure=incidence&unit=F9162"):
        total, sizes = _weight(client, url)
        assert total <= BUDGET, f"{url}: {total:,} bytes > {BUDGET:,}: {sizes}"
    bulletin = client.get("/dashboard/bulletin/?week=2008-W51")
    assert len(bulletin.content) <= BUDGET
