"""The maturity pages' pure chart builders: radar, trend and histogram of phases (values in the SVG as text and as
data attributes, escaping, empty and partial inputs)."""

from __future__ import annotations

import re

import pytest

from dhnet.maturity import charts
from dhnet.maturity.charts import Axis, Series


def _attrs(svg: str, attr: str) -> list[str]:
    return re.findall(rf'{attr}="([^"]*)"', svg)


def test_radar_draws_each_component_with_its_score_as_text() -> None:
    axes = [Axis("Leadership & governance", 3.5), Axis("Strategy", 2.0), Axis("Workforce", None), Axis("Infra", 4.25)]
    svg = charts.radar_svg(axes, title="DE <2024>")
    assert svg.startswith('<svg id="radar" class="radar"')
    assert '<title id="radar-t">DE &lt;2024&gt;</title>' in svg
    # the points of the scored components only, with their values (one decimal)
    assert _attrs(svg, "data-score") == ["3.5", "2.0", "4.2"]
    assert _attrs(svg, "data-component") == ["Leadership &amp; governance", "Strategy", "Infra"]
    # every value written out in the desc and the labels; the component without a score says so
    assert "Leadership &amp; governance: 3.5; Strategy: 2.0; Workforce: no score; Infra: 4.2" in svg
    assert "score no score" in svg
    assert svg.count('class="ring"') == 5
    assert svg.count('class="spoke"') == 4
    # the value polygon goes through the three scored points only
    polygon = re.search(r'<polygon class="value" points="([^"]*)"', svg)
    assert polygon is not None
    assert len(polygon.group(1).split()) == 3
    assert 'class="compare"' not in svg


def test_radar_point_lies_at_its_score_on_the_rings() -> None:
    svg = charts.radar_svg([Axis("A", 5.0), Axis("B", 2.5), Axis("C", 0.0)], title="t", size=400)
    # first axis points up from the centre (60 + 200, 200); radius = 400/2 - 92 = 108 at phase 5
    circle = re.search(r'<circle class="pt" cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert circle is not None
    assert (float(circle.group(1)), float(circle.group(2))) == (260.0, 92.0)


def test_radar_with_a_comparison_draws_a_dashed_second_polygon() -> None:
    axes = [Axis("A", 3.0, 2.0), Axis("B", 4.0, None), Axis("C", 2.0, 3.5)]
    svg = charts.radar_svg(axes, title="t", compare_label="region mean")
    assert re.search(r'<polyline class="compare"[^>]*stroke-dasharray', svg)  # two comparison values: a line
    assert _attrs(svg, "data-compare") == ["2.0", "3.5"]
    assert "A: 3.0 (region mean 2.0)" in svg
    assert "B: 4.0 (region mean no score)" in svg
    full = charts.radar_svg([Axis("A", 3.0, 2.0), Axis("B", 4.0, 1.0), Axis("C", 2.0, 3.5)], title="t")
    assert re.search(r'<polygon class="compare"[^>]*fill="none"', full)


def test_radar_of_nothing_is_empty_and_of_two_axes_still_draws() -> None:
    assert charts.radar_svg([], title="t") == ""
    two = charts.radar_svg([Axis("A", 1.0), Axis("B", 2.0)], title="t")
    assert two.count('class="ring"') == 5
    assert '<circle class="ring"' in two
    assert _attrs(two, "data-score") == ["1.0", "2.0"]
    assert charts.radar_svg([Axis("A", None)], title="t").count('class="pt"') == 0


def test_trend_draws_every_year_of_every_series() -> None:
    years = [2022, 2023, 2024]
    series = [
        Series("Overall", (2.1, None, 3.0), overall=True),
        Series("Workforce", (1.0, 2.0, 3.0)),
        Series("Infra", (None, None, 4.5)),
    ]
    svg = charts.trend_svg(years, series, title="Trend")
    points = re.findall(r'data-series="([^"]+)" data-year="(\d+)" data-score="([\d.]+)"', svg)
    assert sorted(points) == sorted(
        [
            ("Overall", "2022", "2.1"),
            ("Overall", "2024", "3.0"),
            ("Workforce", "2022", "1.0"),
            ("Workforce", "2023", "2.0"),
            ("Workforce", "2024", "3.0"),
            ("Infra", "2024", "4.5"),
        ]
    )
    # a gap breaks the overall line: no polyline for it (single points on either side); Workforce has one
    assert svg.count("<polyline points=") == 1
    assert "Overall: 2022 2.1, 2023 no score, 2024 3.0" in svg
    assert "Overall: 3.0" in svg  # the legend shows the latest value
    for year in years:
        assert f">{year}</text>" in svg


def test_trend_single_year_and_bad_input() -> None:
    svg = charts.trend_svg([2024], [Series("Overall", (2.5,), overall=True)], title="t")
    assert svg.count("<circle") == 1
    assert "<polyline" not in svg
    assert charts.trend_svg([], [], title="t") == ""
    with pytest.raises(ValueError, match="'X': 1 values for 2 years"):
        charts.trend_svg([2023, 2024], [Series("X", (1.0,))], title="t")


def test_histogram_counts_each_phase_and_marks_the_highlight() -> None:
    svg = charts.phase_histogram_svg({1: 2, 3: 5, 5: 1}, title="Countries by phase", highlight=3)
    bars = re.findall(r'data-phase="(\d)" data-count="(\d+)"', svg)
    assert bars == [("1", "2"), ("2", "0"), ("3", "5"), ("4", "0"), ("5", "1")]
    assert "Phase 3: 5 countries; this country&#x27;s phase" in svg
    assert "phase 2: 0 countries" in svg
    assert "phase 5: 1 country" in svg
    assert "(8 in all)" in svg
    assert svg.count('stroke-width="3"') == 1
    empty = charts.phase_histogram_svg({}, title="none")
    assert "(0 in all)" in empty
    assert len(re.findall(r'data-count="0"', empty)) == 5


def test_score_text_and_phase_colours() -> None:
    assert charts.score_text(None) == "no score"
    assert charts.score_text(2.25) == "2.2"  # the display rounding (half-even on the float), not the phase rule
    assert set(charts.PHASE_COLOURS) == {1, 2, 3, 4, 5}
    assert charts.NO_PHASE_COLOUR not in charts.PHASE_COLOURS.values()


class _Outline:
    def __init__(self, code: str, name: str, d: str) -> None:
        self.code, self.name, self.d = code, name, d


OUTLINES = [
    _Outline("DE", "Germany", "M100 50l10 0 0 10-10 0z"),
    _Outline("FR", "France", "M80 60l10 0 0 10-10 0z"),
    _Outline("KE", "Kenya", "M300 200l5 0 0 5-5 0zM310 210l2 0 0 2z"),
    _Outline("", "Somaliland", "M320 190l3 0 0 3z"),
]


def test_path_bbox_follows_relative_moves_of_every_ring() -> None:
    assert charts.path_bbox("M300 200l5 0 0 5-5 0zM310 210l2 0 0 2z") == (300.0, 200.0, 312.0, 212.0)
    assert charts.path_bbox("") is None


def test_phase_map_colours_countries_by_phase_and_links_them() -> None:
    svg = charts.phase_map_svg(
        400, 300, OUTLINES, {"DE": 3, "KE": 1}, title="Phases", names={"DE": "Germany (WHO)"}, href=lambda c: f"/c/{c}/"
    )
    assert 'viewBox="0 0 400 300"' in svg
    assert '<a href="/c/DE/" data-code="DE" data-phase="3"><path class="p3"' in svg
    assert "<title>Germany (WHO): phase 3</title>" in svg
    assert '<a href="/c/FR/" data-code="FR" data-phase=""><path class="nd"' in svg
    assert "France: no published assessment" in svg
    assert '<a href="#" data-code=""' in svg  # a shape without an ISO code is drawn, links nowhere
    assert [label for label, _, _ in charts.phase_legend()] == [
        "Phase 1",
        "Phase 2",
        "Phase 3",
        "Phase 4",
        "Phase 5",
        "No published assessment",
    ]


def test_phase_map_of_a_region_crops_to_it_and_fades_the_others() -> None:
    svg = charts.phase_map_svg(400, 300, OUTLINES, {"DE": 2}, title="EUR", focus=frozenset({"DE", "FR"}))
    box = re.search(r'viewBox="([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)"', svg)
    assert box is not None
    x, y, w, h = (float(v) for v in box.groups())
    assert (x, y) == (75.0, 45.0)  # the two countries (80..110, 50..70) with a margin of 5
    assert (x + w, y + h) == (115.0, 75.0)
    assert '<path class="nd out"' in svg  # Kenya: drawn faded, not a link
    assert 'data-code="KE"' not in svg


def test_phase_map_crop_ignores_a_shape_across_the_whole_map() -> None:
    outlines = [*OUTLINES, _Outline("RU", "Russia", "M0 20l400 0 0 20-400 0z")]
    svg = charts.phase_map_svg(400, 300, outlines, {}, title="EUR", focus=frozenset({"DE", "FR", "RU"}))
    assert 'viewBox="75 45 40 30"' in svg  # as without Russia, which is still drawn
    assert 'data-code="RU"' in svg
