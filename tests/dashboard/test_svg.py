"""The pure SVG builders: coordinate detection, projection, Douglas–Peucker, paths, colour scales, map and curve."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dhnet.dashboard import svg

DATA = Path(__file__).resolve().parents[2] / "data" / "surveillance"


def _square(x0: float, y0: float, size: float) -> list[list[float]]:
    return [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]


# --- geometry and projection ------------------------------------------------------------------------------------


def test_polygons_of_reads_polygon_multipolygon_and_collections() -> None:
    poly = {"type": "Polygon", "coordinates": [_square(0, 0, 1), _square(0.2, 0.2, 0.1)]}
    multi = {"type": "MultiPolygon", "coordinates": [[_square(0, 0, 1)], [_square(5, 5, 1)]]}
    coll = {"type": "GeometryCollection", "geometries": [poly, {"type": "Point", "coordinates": [1, 2]}]}
    assert [len(p) for p in svg.polygons_of(poly)] == [2]  # outer ring and a hole
    assert len(svg.polygons_of(multi)) == 2
    assert len(svg.polygons_of(coll)) == 1
    assert svg.polygons_of(None) == []
    assert svg.polygons_of({"type": "Polygon", "coordinates": [[[0, 0], [1, "x"]]]}) == []  # malformed: skipped


def test_coordinate_kind_by_range() -> None:
    assert svg.coordinate_kind(svg.BBox(6.65, 52.0, 8.7, 53.8)) == "geographic"
    assert svg.coordinate_kind(svg.BBox(991, 17, 5678, 3656)) == "planar"
    assert svg.coordinate_kind(svg.BBox(1585386.0, 88486.0, 1926324.0, 365880.0)) == "planar"
    assert svg.coordinate_kind(svg.BBox(-179.9, -89.0, 179.9, 89.0)) == "geographic"


def test_geographic_projection_keeps_the_aspect_at_the_middle_latitude() -> None:
    # one degree by one degree at 60°N is twice as tall as wide (cos 60° = 0.5)
    proj = svg.Projection.fit(svg.BBox(10, 59.5, 11, 60.5), "geographic", width=1000, max_height=5000, pad=0)
    assert proj.aspect == pytest.approx(0.5)
    assert proj.height == pytest.approx(2000, abs=1)
    x0, y0 = proj.project(10, 60.5)
    x1, y1 = proj.project(11, 59.5)
    assert (x0, y0) == pytest.approx((0, 0), abs=1e-9)
    assert (x1, y1) == pytest.approx((1000, 2000), abs=1e-6)


def test_planar_projection_is_the_identity_scaled_and_flipped() -> None:
    proj = svg.Projection.fit(svg.BBox(0, 0, 200, 100), "planar", width=1000, pad=0)
    assert proj.aspect == 1
    assert proj.height == 500
    assert proj.project(0, 100) == pytest.approx((0, 0))  # north-west corner at the top left
    assert proj.project(200, 0) == pytest.approx((1000, 500))
    assert proj.project(100, 50) == pytest.approx((500, 250))


def test_tall_shapes_are_capped_in_height_and_centred() -> None:
    proj = svg.Projection.fit(svg.BBox(0, 0, 10, 100), "planar", width=1000, max_height=500, pad=0)
    assert proj.height == 500
    left, _ = proj.project(0, 0)
    right, _ = proj.project(10, 0)
    assert right - left == pytest.approx(50)
    assert (left + right) / 2 == pytest.approx(500)


# --- simplification -----------------------------------------------------------------------------------------------


def test_douglas_peucker_drops_points_within_the_tolerance_and_keeps_corners() -> None:
    line = [(0.0, 0.0), (1.0, 0.1), (2.0, -0.1), (3.0, 0.0), (3.0, 5.0)]
    assert svg.douglas_peucker(line, 0.5) == [(0.0, 0.0), (3.0, 0.0), (3.0, 5.0)]
    assert svg.douglas_peucker(line, 0.05) == line
    assert svg.douglas_peucker(line[:2], 10) == line[:2]


def test_douglas_peucker_keeps_every_point_farther_than_the_tolerance() -> None:
    pts = [(float(i), math.sin(i / 3) * 10) for i in range(200)]
    for tol in (0.1, 0.5, 2.0):
        kept = svg.douglas_peucker(pts, tol)
        for p in pts:  # every dropped point lies within tol of the simplified line
            d = min(svg._segment_distance(p, a, b) for a, b in itertools.pairwise(kept))
            assert d <= tol + 1e-9


def test_simplify_ring_collapses_specks_and_keeps_squares() -> None:
    square = [(0.0, 0.0), (10.0, 0.0), (10.0, 0.1), (10.0, 10.0), (0.0, 10.0), (0.0, 0.0)]
    assert sorted(svg.simplify_ring(square, 1.0)) == sorted([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)])
    speck = [(0.0, 0.0), (0.3, 0.0), (0.3, 0.3), (0.0, 0.0)]
    assert svg.simplify_ring(speck, 1.0) == []


def test_ring_path_is_compact_relative_and_closed() -> None:
    d = svg.ring_path([(10.2, 20.4), (15.0, 20.0), (15.0, 30.0), (10.0, 30.4)])
    assert d == "M10 20l5 0 0 10-5 0z"
    assert svg.ring_path([(0.1, 0.1), (0.2, 0.2), (0.3, 0.1)]) == ""  # all rounds to one point


def test_real_districts_simplify_to_a_small_valid_path() -> None:
    """The 140 Bavarian and Baden-Württemberg districts (planar) make a map of a few dozen KB."""
    data = json.loads((DATA / "bavaria_bw_districts.geojson").read_text())
    shapes = [svg.polygons_of(f["geometry"]) for f in data["features"]]
    bbox = svg.BBox.of([p for s in shapes for p in s])
    assert bbox is not None
    proj = svg.Projection.fit(bbox, svg.coordinate_kind(bbox))
    paths = [svg.polygons_path(s, proj) for s in shapes]
    assert all(re.fullmatch(r"(M-?\d+ -?\d+l[-\d ]+z)+", d) for d in paths)
    raw = sum(len(json.dumps(f["geometry"])) for f in data["features"])
    assert sum(map(len, paths)) < raw / 2
    # Lörrach (8336) lies in the south-west: bottom left of the map
    lo = paths[[f["properties"]["id"] for f in data["features"]].index("8336")]
    x, y = (int(v) for v in re.match(r"M(-?\d+) (-?\d+)", lo).groups())  # type: ignore[union-attr]
    assert x < proj.width * 0.3
    assert y > proj.height * 0.6


def test_clusters_separate_coordinate_systems_and_distant_groups() -> None:
    a = svg.BBox(0, 0, 1, 1)
    b = svg.BBox(1.1, 0, 2, 1)  # touches a
    far = svg.BBox(100, 100, 101, 101)
    geo = svg.BBox(0.5, 0.5, 1.5, 1.5)
    groups = svg.clusters([("planar", a), ("planar", b), ("planar", far), ("geographic", geo)])
    assert groups == [[0, 1], [2], [3]]


def test_label_point_is_the_centroid() -> None:
    proj = svg.Projection.fit(svg.BBox(0, 0, 10, 10), "planar", width=100, pad=0)
    polys = svg.polygons_of({"type": "Polygon", "coordinates": [_square(0, 0, 10)]})
    assert svg.label_point(polys, proj) == pytest.approx((50, 50))


# --- colour scales ------------------------------------------------------------------------------------------------


def test_small_counts_get_one_class_per_value() -> None:
    scale = svg.ColourScale.for_values([0, 1, 2, 3], integer=True)
    assert [scale.index(v) for v in (0, 1, 2, 3, 7)] == [0, 1, 2, 3, 3]
    assert [e.label for e in scale.legend()] == ["0", "1", "2", "3+", "no data"]
    assert scale.index(None) is None
    assert scale.colour(None) == svg.NO_DATA_COLOUR
    assert scale.colour(0) == svg.ZERO_COLOUR


def test_rates_get_rounded_quantile_breaks() -> None:
    values = [0.0, *[i * 1.7 for i in range(1, 101)]]
    scale = svg.ColourScale.for_values(values)
    assert list(scale.breaks) == sorted(set(scale.breaks))
    for b in scale.breaks:  # 1, 2, 2.5 or 5 times a power of ten
        mantissa = b / 10 ** math.floor(math.log10(b))
        assert mantissa in (1, 2, 2.5, 5)
    legend = scale.legend()
    assert legend[0].label == "0"
    assert legend[-1].label == "no data"
    assert legend[1].label.startswith("≤ ")
    assert legend[-2].label.startswith("> ")
    # classes grow with the value and colours darken
    idx = [scale.index(v) for v in sorted(values)]
    assert idx == sorted(idx)
    palette = [e.colour for e in legend[1:-1]]
    assert palette[-1] == svg.CLASS_COLOURS[-1]
    assert len(set(palette)) == len(palette)


def test_no_positive_value_gives_a_zero_only_scale() -> None:
    scale = svg.ColourScale.for_values([0, 0, None])
    assert scale.breaks == ()
    assert scale.index(0) == 0
    assert scale.index(3.2) == 1


@pytest.mark.parametrize(
    ("value", "up", "expected"), [(0.7, True, 1), (1.3, True, 2), (2.2, True, 2.5), (37, True, 50), (37, False, 25)]
)
def test_nice_numbers(value: float, up: bool, expected: float) -> None:
    assert svg.nice_number(value, up=up) == pytest.approx(expected)


# --- map and curve markup -----------------------------------------------------------------------------------------


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def test_map_svg_is_valid_xml_with_links_tooltips_and_escaped_text() -> None:
    scale = svg.ColourScale.for_values([0, 1, 2], integer=True)
    frame = svg.Frame(1000, 500)
    frame.areas.append(svg.MapArea("A", "Ahr & <Eifel>", "M0 0l10 0 0 10z", "c1", "/d/?unit=A&x=1", "Ahr: 1 case"))
    frame.areas.append(svg.MapArea("B", "B", "M20 0l10 0 0 10z", "c0", "/d/?unit=B", "B: 0", selected=True))
    root = _parse(svg.map_svg(frame, scale, title="Cases & <signals>", svg_id="m1"))
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("viewBox") == "0 0 1000 500"
    links = root.findall(f"{ns}a")
    assert [a.get("href") for a in links] == ["/d/?unit=A&x=1", "/d/?unit=B"]  # the selected one drawn last
    assert links[1].find(f"{ns}path").get("class") == "c0 sel"  # type: ignore[union-attr]
    assert root.find(f"{ns}title").text == "Cases & <signals>"  # type: ignore[union-attr]
    style = root.find(f"{ns}style").text or ""  # type: ignore[union-attr]
    assert "#m1 .c1{fill:" in style


def test_curve_svg_draws_bars_lines_alarms_and_iso_week_labels() -> None:
    start = dt.date(2007, 12, 31)  # ISO week 2008-W01
    points = [
        svg.CurvePoint(start + dt.timedelta(weeks=i), float(i), expected=2.0, upperbound=5.0, alarm=i == 7)
        for i in range(10)
    ]
    points[3] = svg.CurvePoint(points[3].period_start, None)  # no report that week
    points[4] = svg.CurvePoint(points[4].period_start, 1.0, sub_alarms=2)
    markup = svg.curve_svg(points, title="Flu & co", highlight=points[-1].period_start)
    root = _parse(markup)
    ns = "{http://www.w3.org/2000/svg}"
    bars = root.findall(f"{ns}rect")
    assert len(bars) == 9  # the week without a report has no bar
    assert any("al" in (b.get("class") or "").split() for b in bars)
    assert "h" in (bars[-1].get("class") or "").split()  # the chosen week
    lines = root.findall(f"{ns}polyline")
    assert {pl.get("class") for pl in lines} == {"e", "u"}
    assert len([pl for pl in lines if pl.get("class") == "e"]) == 2  # broken where there is no expected value
    labels = [t.text for t in root.findall(f"{ns}text")]
    assert "2008-W01" in labels
    assert any(re.fullmatch(r"2008-W\d\d", t or "") for t in labels)
    assert root.findall(f"{ns}path")  # alarm marker
    assert root.findall(f"{ns}circle")  # alarms below
    tips = [t.text for t in root.iter(f"{ns}title")]
    assert any("ALARM" in (t or "") for t in tips)


def test_curve_without_detection_shows_counts_only() -> None:
    points = [
        svg.CurvePoint(dt.date(2008, 1, 7) + dt.timedelta(weeks=i), 3.0, expected=1.0, upperbound=2.0, alarm=True)
        for i in range(5)
    ]
    markup = svg.curve_svg(points, title="t", show_detection=False)
    assert "polyline" not in markup
    assert "ALARM" not in markup
    assert "expected" not in markup
    assert 'class="b al"' not in markup


def test_empty_curve_is_still_valid() -> None:
    _parse(svg.curve_svg([], title="nothing"))
