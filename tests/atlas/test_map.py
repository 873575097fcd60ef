"""The deployment map: TopoJSON decoding on a hand-made topology, the numeric -> alpha-2 table, the world map's
counts and colours, and the org-unit map's covering counts (``explore_world``'s registry)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dhnet.atlas import maps
from dhnet.atlas.search import ProjectFilters
from dhnet.dashboard.services import clear_caches
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Invalid, NotFound
from tests.atlas.explore_world import make_registry

ANON = Actor.anonymous()

# Two unit squares sharing the edge x=1, quantised (scale 10 x 5, translate 100, 50), arcs delta-encoded:
# arc 0 is the shared edge (1,0)->(1,1); arc 1 the rest of the left square; arc 2 the rest of the right one.
TOPOLOGY: dict[str, Any] = {
    "type": "Topology",
    "transform": {"scale": [10, 5], "translate": [100, 50]},
    "arcs": [
        [[1, 0], [0, 1]],
        [[1, 1], [-1, 0], [0, -1], [1, 0]],
        [[1, 0], [1, 0], [0, 1], [-1, 0]],
    ],
    "objects": {
        "countries": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "arcs": [[0, 1]], "id": "404", "properties": {"name": "Left"}},
                {"type": "MultiPolygon", "arcs": [[[-1, 2]]], "id": "800", "properties": {"name": "Right"}},
                {"type": "Point", "coordinates": [0, 0], "id": "000"},
            ],
        }
    },
}


def test_decode_quantised_topology() -> None:
    features = maps.decode_topology(TOPOLOGY, "countries")
    assert [(f.id, f.name) for f in features] == [("404", "Left"), ("800", "Right"), ("000", "")]
    left, right, point = features
    assert left.polygons == [[[(110, 50), (110, 55), (100, 55), (100, 50), (110, 50)]]]
    # the shared arc reversed (~0 = -1), then arc 2: the joining point appears once
    assert right.polygons == [[[(110, 55), (110, 50), (120, 50), (120, 55), (110, 55)]]]
    assert point.polygons == []


def test_decode_unquantised_topology_and_errors() -> None:
    topology = {
        "arcs": [[[0.5, 0.5], [2.5, 0.5], [2.5, 1.5], [0.5, 0.5]]],
        "objects": {"one": {"type": "Polygon", "arcs": [[0]], "id": "x"}},
    }
    [feature] = maps.decode_topology(topology, "one")
    assert feature.polygons == [[[(0.5, 0.5), (2.5, 0.5), (2.5, 1.5), (0.5, 0.5)]]]
    with pytest.raises(Invalid, match="no object 'countries'"):
        maps.decode_topology(topology, "countries")


def test_numeric_codes() -> None:
    table = maps.numeric_to_alpha2()
    assert table["404"] == "KE"
    assert table["800"] == "UG"
    assert table["276"] == "DE"
    assert table["004"] == "AF"


def test_world_outlines_from_world_atlas() -> None:
    world = maps.world()
    assert world is not None, "run bin/assets: the world map comes from the npm package world-atlas"
    codes = {o.code for o in world.outlines}
    assert {"KE", "UG", "DE", "BR", "FR", "XK"} <= codes
    assert "AQ" not in codes  # Antarctica left out
    assert world.width == 1000
    assert 380 < world.height < 400  # plate carrée: 360° of longitude in 992 units, 84°N to 56°S in about 386
    assert all(o.d.startswith("M") and o.d.endswith("z") for o in world.outlines)


@pytest.fixture
def registry(tree: Any, operator: Actor) -> dict[str, Any]:
    clear_caches()
    return make_registry(operator)


def _css(markup: str, code: str) -> str:
    marker = f'data-code="{code}"><path class="'
    start = markup.index(marker) + len(marker)
    return markup[start : markup.index('"', start)]


@pytest.mark.django_db
def test_world_map_counts_and_colours(registry: Any) -> None:
    data = maps.deployment_map(ANON, ProjectFilters())
    assert data.total == 5
    assert [(c.code, c.projects, c.on_map) for c in data.countries] == [
        ("DE", 2, True),
        ("KE", 2, True),
        ("UG", 1, True),
    ]
    assert data.with_coverage == ["DE"]
    # counts 1 and 2: two classes above zero
    assert _css(data.markup, "KE") == "c2"
    assert _css(data.markup, "DE") == "c2"
    assert _css(data.markup, "UG") == "c1"
    assert _css(data.markup, "FR") == "c0"
    assert 'href="/atlas/countries/KE/"' in data.markup
    assert "<title>Kenya: 2 projects</title>" in data.markup
    assert data.units is None  # no single country chosen
    filtered = maps.deployment_map(ANON, ProjectFilters(products=("commcare",)))
    assert [(c.code, c.projects) for c in filtered.countries] == [("UG", 1)]
    assert _css(filtered.markup, "KE") == "c0"


@pytest.mark.django_db
def test_unit_map_counts_projects_covering_each_unit(registry: Any) -> None:
    # DE-SRV222 covers D11 and R2; DE-NAT222 is national: it covers every unit
    units = maps.deployment_map(ANON, ProjectFilters(countries=("DE",))).units
    assert units is not None
    assert (units.area_code, units.national) == ("DE", 1)
    assert {u.code: u.projects for u in units.units} == {"R1": 2, "R2": 2}
    r1 = maps.deployment_map(ANON, ProjectFilters(countries=("DE",)), area="R1").units
    assert r1 is not None
    assert {u.code: u.projects for u in r1.units} == {"D11": 2, "D12": 1}
    assert r1.up_href == "/atlas/map/?country=DE&area=DE"
    r2 = maps.deployment_map(ANON, ProjectFilters(countries=("DE",)), area="R2").units
    assert r2 is not None
    assert {u.code: u.projects for u in r2.units} == {"D21": 2}  # R2's coverage covers its district
    assert maps.deployment_map(ANON, ProjectFilters(countries=("KE",))).units is None  # no org units named
    with pytest.raises(NotFound, match="area: no org unit 'XX9'"):
        maps.deployment_map(ANON, ProjectFilters(), area="XX9")


def _square(x: float, y: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]]}


@pytest.mark.django_db
def test_unit_map_draws_units_with_boundaries(registry: Any) -> None:
    OrgUnit.objects.filter(code="R1").update(geometry=_square(9, 50))
    OrgUnit.objects.filter(code="R2").update(geometry=_square(10, 50))
    clear_caches()
    units = maps.deployment_map(ANON, ProjectFilters(countries=("DE",))).units
    assert units is not None
    assert len(units.frames) == 1
    frame = units.frames[0]
    assert 'data-code="R1"' in frame
    assert 'data-code="R2"' in frame
    assert "<title>Region 1: 2 projects</title>" in frame
    assert all(u.has_shape for u in units.units)


@pytest.mark.django_db
def test_map_page_and_api(registry: Any) -> None:
    client = Client()
    page = client.get("/atlas/map/?country=DE")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="worldmap"' in body
    assert 'id="unit-table"' in body
    assert 'data-unit="R1"' in body
    api = client.get("/api/v1/atlas/map?country=DE&area=R1").json()
    assert api["total"] == 2
    assert api["countries"] == [
        {"code": "DE", "name": "Germany", "projects": 2, "portfolio": "/atlas/countries/DE/", "on_map": True}
    ]
    assert {u["code"]: u["projects"] for u in api["units"]["units"]} == {"D11": 2, "D12": 1}
    assert api["svg"] == ""
    assert client.get("/api/v1/atlas/map?svg=true").json()["svg"].startswith("<svg")
    assert client.get("/api/v1/atlas/map?stage=bogus").status_code == 400
    assert client.get("/atlas/map/?status=draft").status_code == 403


def test_rings_across_the_antimeridian_are_unwrapped() -> None:
    # a box from 170°E to 170°W (crossing 180°), and one that does not cross
    crossing = [[[(170.0, 10.0), (-170.0, 10.0), (-170.0, 20.0), (170.0, 20.0), (170.0, 10.0)]]]
    plain = [[[(10.0, 10.0), (20.0, 10.0), (20.0, 20.0), (10.0, 10.0)]]]
    out = maps.unwrap_antimeridian(crossing + plain)
    assert out[0] == [[(170.0, 10.0), (190.0, 10.0), (190.0, 20.0), (170.0, 20.0), (170.0, 10.0)]]
    assert out[1] == [[(-190.0, 10.0), (-170.0, 10.0), (-170.0, 20.0), (-190.0, 20.0), (-190.0, 10.0)]]
    assert out[2] == plain[0]
