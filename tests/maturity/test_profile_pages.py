"""The public pages of where countries stand: profile, comparison (same phase, region), region page, map and the
comparison downloads — values on the pages and in the SVG match the hand-computed scores, empty states, bad
parameters are 4xx naming the parameter."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from django.test import Client

from dhnet.maturity.models import Assessment
from dhnet.platform.access import Actor
from tests.maturity import profile_world as w


@pytest.fixture
def world(db: Any, operator: Actor) -> dict[str, Assessment]:
    return w.world(operator)


def _scores(svg: str) -> dict[str, str]:
    return dict(re.findall(r'data-component="([^"]+)" data-score="([\d.]+)"', svg))


def _radar(html: str) -> str:
    match = re.search(r'<svg id="radar".*?</svg>', html, re.S)
    assert match is not None, "no radar on the page"
    return match.group(0)


def test_profile_shows_the_newest_year_with_radar_trend_and_indicators(client: Client, world: Any) -> None:
    response = client.get("/maturity/countries/de/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="overall-score">3.0<' in html
    assert 'id="overall-phase" class="phase p3">3<' in html
    radar = _radar(html)
    # six scored components with their values; Strategy & Investment (all not available) has none
    assert _scores(radar) == {
        "Leadership &amp; Governance": "3.0",
        "Legislation, Policy, &amp; Compliance": "2.5",
        "Workforce": "3.8",
        "Standards &amp; Interoperability": "1.5",
        "Infrastructure": "5.0",
        "Services &amp; Applications": "2.4",
    }
    assert "Strategy &amp; Investment: no score" in radar
    # the EUR mean (DE 2025, FR, PL) is the dashed comparison: Workforce (3.75 + 4 + 3) / 3 = 3.58
    compare = dict(re.findall(r'data-component="([^"]+)" data-compare="([\d.]+)"', radar))
    assert compare["Workforce"] == "3.6"
    assert compare["Strategy &amp; Investment"] == "3.5"  # DE has no score: (4 + 3) / 2
    # the trend: overall 2.0, 3.0, 3.0 (3.025) over three years
    trend = re.findall(r'data-series="Overall" data-year="(\d+)" data-score="([\d.]+)"', html)
    assert trend == [("2023", "2.0"), ("2024", "3.0"), ("2025", "3.0")]
    # rank among 4 countries: FR 4.0, DE 3.025, PL 3.0, KE 1.0
    assert 'id="rank">2<' in html
    # the indicator table: phase, the text of that phase, evidence counted, sub-indicators and not available
    row = re.search(r'<tr data-indicator="1">.*?</tr>', html, re.S)
    assert row is not None
    assert 'class="phase p3">3<' in row.group(0)
    assert '<td class="num">2</td>' in row.group(0)
    assert re.search(r'<tr data-indicator="2a" class="sub">', html)
    assert re.search(r'<tr data-indicator="5">.*?not available', html, re.S)
    # same phase: PL (3.0); the region's countries listed with their rank among all
    peers = html[html.index('id="peers"') : html.index('id="region"')]
    assert 'data-country="PL"' in peers
    assert 'data-country="FR"' not in peers


def test_profile_of_an_earlier_year_and_the_classic_rubric(client: Client, world: Any) -> None:
    html = client.get("/maturity/countries/DE/?year=2023").content.decode()
    assert 'id="overall-score">2.0<' in html
    assert set(_scores(_radar(html)).values()) == {"2.0"}
    empty = client.get("/maturity/countries/DE/?rubric=classic")
    assert empty.status_code == 200
    assert 'id="empty"' in empty.content.decode()


def test_profile_without_publications_says_so(client: Client, world: Any) -> None:
    html = client.get("/maturity/countries/BR/").content.decode()
    assert "Brazil has no published assessment" in html
    assert '<svg id="radar"' not in html


BAD = [
    ("/maturity/countries/XX/", 400, "country: &#x27;XX&#x27; is not an ISO 3166-1 alpha-2 country code"),
    ("/maturity/countries/DE/?year=abc", 400, "year: &#x27;abc&#x27; is not a year"),
    ("/maturity/countries/DE/?year=2019", 404, "no published current assessment for 2019"),
    ("/maturity/countries/DE/?rubric=gdhi", 400, "rubric: &#x27;gdhi&#x27; is not one of current, classic"),
    ("/maturity/compare/?phase=7", 400, "phase: &#x27;7&#x27; is not a phase from 1 to 5"),
    ("/maturity/compare/?sort=size", 400, "sort: &#x27;size&#x27; is not one of"),
    ("/maturity/compare/?region=MARS", 400, "region: &#x27;MARS&#x27; is not a WHO region"),
    ("/maturity/compare/?country=D1", 400, "country: &#x27;D1&#x27;"),
    ("/maturity/compare/?year=2019", 404, "no country has a published current assessment for 2019"),
    ("/maturity/regions/MARS/", 400, "is not a WHO region"),
    ("/maturity/map/?region=x", 400, "is not a WHO region"),
    ("/maturity/map/?year=1800", 400, "year: &#x27;1800&#x27;"),
]


def test_bad_parameters_are_4xx_naming_them(client: Client, world: Any) -> None:
    for url, status, message in BAD:
        response = client.get(url)
        assert response.status_code == status, url
        assert message in response.content.decode(), url


def test_compare_ranks_all_countries_sorts_and_filters(client: Client, world: Any) -> None:
    html = client.get("/maturity/compare/?country=DE").content.decode()
    order = re.findall(r'<tr data-country="([A-Z]{2})"', html)
    assert order == ["FR", "DE", "PL", "KE"]
    assert 'id="position-rank">2<' in html
    assert re.findall(r'data-phase="(\d)" data-count="(\d+)"', html) == [
        ("1", "1"),
        ("2", "0"),
        ("3", "2"),
        ("4", "1"),
        ("5", "0"),
    ]
    # sortable headers: the current column says its order and links to the reverse; others sort by themselves
    assert re.search(r'<th aria-sort="descending" class="num"><a href="\?country=DE&amp;sort=score">Score</a>', html)
    assert '<a href="?country=DE&amp;sort=name">Country</a>' in html
    assert '<a href="/maturity/compare.csv?country=DE">CSV</a>' in html
    by_name = re.findall(r'<tr data-country="([A-Z]{2})"', client.get("/maturity/compare/?sort=name").content.decode())
    assert by_name == ["FR", "DE", "KE", "PL"]  # France, Germany, Kenya, Poland
    ascending = client.get("/maturity/compare/?sort=score").content.decode()
    assert re.findall(r'<tr data-country="([A-Z]{2})"', ascending) == ["KE", "PL", "DE", "FR"]
    same = client.get("/maturity/compare/?phase=3&country=DE").content.decode()
    assert re.findall(r'<tr data-country="([A-Z]{2})"', same) == ["DE", "PL"]
    eur = client.get("/maturity/compare/?region=eur").content.decode()
    assert re.findall(r'<tr data-country="([A-Z]{2})"', eur) == ["FR", "DE", "PL"]
    none = client.get("/maturity/compare/?phase=5").content.decode()
    assert 'id="no-rows"' in none


def test_compare_of_a_year_uses_that_year(client: Client, world: Any) -> None:
    html = client.get("/maturity/compare/?year=2023").content.decode()
    assert re.findall(r'<tr data-country="([A-Z]{2})"', html) == ["DE"]


def test_compare_downloads_csv_and_json(client: Client, world: Any) -> None:
    response = client.get("/maturity/compare.csv?region=EUR")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:9] == ["rank", "country", "name", "region", "year", "version", "score", "phase", "synthetic"]
    assert len(rows[0]) == 9 + 7
    de = next(r for r in rows if r[1] == "DE")
    assert de[:9] == ["2", "DE", "Germany", "EUR", "2025", "1", "3.025", "3", "false"]
    assert de[9:] == ["3", "", "2.5", "3.75", "1.5", "5", "2.4"]
    data = json.loads(client.get("/maturity/compare.json?country=KE").content)
    assert data["position"]["rank"] == 4
    assert data["phase_counts"] == {"1": 1, "2": 0, "3": 2, "4": 1, "5": 0}
    assert [c["country"] for c in data["countries"]] == ["FR", "DE", "PL", "KE"]
    bad = client.get("/maturity/compare.csv?phase=0")
    assert bad.status_code == 400
    assert b"phase: '0'" in bad.content
    assert client.get("/maturity/compare.json?sort=x").status_code == 400


def test_region_page_has_the_mean_radar_the_map_and_the_members(client: Client, world: Any) -> None:
    html = client.get("/maturity/regions/EUR/").content.decode()
    assert re.findall(r'<tr data-country="([A-Z]{2})"', html) == ["FR", "DE", "PL"]
    radar = _radar(html)
    # the EUR mean of Infrastructure: (5 + 4 + 3) / 3 = 4.0; all countries' mean: (5 + 4 + 3 + 1) / 4 = 3.25
    assert _scores(radar)["Infrastructure"] == "4.0"
    compare = dict(re.findall(r'data-component="([^"]+)" data-compare="([\d.]+)"', radar))
    assert compare["Infrastructure"] == "3.2"
    assert 'data-code="DE" data-phase="3"' in html
    assert 'data-code="KE"' not in html  # outside the region: faded, not a link
    assert "Member States without a published assessment" in html
    empty = client.get("/maturity/regions/SEAR/").content.decode()
    assert "No country of the region has a published assessment" in empty


def test_map_colours_countries_by_phase(client: Client, world: Any) -> None:
    html = client.get("/maturity/map/").content.decode()
    assert re.search(r'<a href="/maturity/countries/DE/" data-code="DE" data-phase="3"><path class="p3"', html)
    assert 'data-code="KE" data-phase="1"' in html
    assert 'data-code="BR" data-phase=""><path class="nd"' in html
    assert "Brazil: no published assessment" in html
    assert "No published assessment" in html  # the legend
    assert re.findall(r'<tr data-country="([A-Z]{2})"', html) == ["FR", "DE", "KE", "PL"]
    classic = client.get("/maturity/map/?rubric=classic").content.decode()
    assert 'data-phase="3"' not in classic
    assert '<a href="/maturity/countries/DE/?rubric=classic"' in classic


def test_pages_without_any_publication(client: Client, db: Any) -> None:
    html = client.get("/maturity/compare/").content.decode()
    assert 'id="no-rows"' in html
    assert "(0 in all)" in html
    assert client.get("/maturity/map/").status_code == 200
    assert client.get("/maturity/compare.csv").content.decode().count("\r\n") == 1  # the header only
