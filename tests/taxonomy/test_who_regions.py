"""Country reference (``dhnet.network.services``): the 194 WHO Member States by WHO region and country names.

Pure lookups in ``network/data/who_regions.json``; the expected values below were checked by hand against the WHO
regional offices' lists (Indonesia in the Western Pacific since WHA78, May 2025).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from dhnet.network import services, timezones
from dhnet.platform.errors import Invalid


def test_194_member_states_in_six_regions() -> None:
    data = json.loads(services.WHO_REGIONS_FILE.read_text(encoding="utf-8"))
    assert data["source"]
    sizes = {code: len(region["countries"]) for code, region in data["regions"].items()}
    assert sizes == {"AFR": 47, "AMR": 35, "SEAR": 10, "EUR": 53, "EMR": 21, "WPR": 28}
    codes = [c for region in data["regions"].values() for c in region["countries"]]
    assert len(codes) == len(set(codes)) == 194
    iso = timezones.countries()
    assert not [c for c in codes if c not in iso]  # every code is an ISO 3166-1 alpha-2 code
    assert services.who_regions() == {
        "AFR": "African Region",
        "AMR": "Region of the Americas",
        "SEAR": "South-East Asia Region",
        "EUR": "European Region",
        "EMR": "Eastern Mediterranean Region",
        "WPR": "Western Pacific Region",
    }


@pytest.mark.parametrize(
    ("code", "region"),
    [
        ("KE", "AFR"),
        ("DZ", "AFR"),  # North Africa: Algeria is African Region ...
        ("EG", "EMR"),  # ... Egypt, Morocco, Tunisia, Libya are Eastern Mediterranean
        ("MA", "EMR"),
        ("SD", "EMR"),
        ("SS", "AFR"),
        ("SO", "EMR"),
        ("DJ", "EMR"),
        ("PK", "EMR"),
        ("AF", "EMR"),
        ("IL", "EUR"),
        ("TR", "EUR"),
        ("KZ", "EUR"),
        ("DE", "EUR"),
        ("IN", "SEAR"),
        ("KP", "SEAR"),
        ("TL", "SEAR"),
        ("ID", "WPR"),  # reassigned from SEAR in May 2025
        ("CN", "WPR"),
        ("MN", "WPR"),
        ("CK", "WPR"),
        ("NU", "WPR"),
        ("BR", "AMR"),
        ("US", "AMR"),
        ("ke", "AFR"),
        (" br ", "AMR"),
    ],
)
def test_who_region(code: str, region: str) -> None:
    assert services.who_region(code) == region


@pytest.mark.parametrize("code", ["PS", "PR", "LI", "XK", "TW", "HK", "XX", "", "KEN"])
def test_not_a_member_state_has_no_region(code: str) -> None:
    assert services.who_region(code) is None


def test_countries_in_region_by_code_office_or_name() -> None:
    sear = services.countries_in_region("SEAR")
    assert sear == ["BD", "BT", "IN", "KP", "LK", "MM", "MV", "NP", "TH", "TL"]
    assert services.countries_in_region("searo") == sear
    assert services.countries_in_region("South-East Asia Region") == sear
    assert services.countries_in_region("PAHO") == services.countries_in_region("amr")
    assert "ID" in services.countries_in_region("WPR")
    everyone = Counter(c for r in services.who_regions() for c in services.countries_in_region(r))
    assert len(everyone) == 194
    assert set(everyone.values()) == {1}
    for region in services.who_regions():
        assert all(services.who_region(c) == region for c in services.countries_in_region(region))


def test_an_unknown_region_is_invalid_naming_it() -> None:
    with pytest.raises(Invalid) as caught:
        services.countries_in_region("Antarctica")
    assert caught.value.message == "region: 'Antarctica' is not a WHO region (one of AFR, AMR, SEAR, EUR, EMR, WPR)"


def test_country_name() -> None:
    assert services.country_name("TZ") == "United Republic of Tanzania"
    assert services.country_name("tr") == "Türkiye"
    assert services.country_name("CI") == "Côte d’Ivoire"
    assert services.country_name("PR") == "Puerto Rico"  # not a Member State: the ISO 3166 name
    assert services.country_name("QQ") == "QQ"
