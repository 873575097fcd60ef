"""``data/indicator_concepts.json``: both GDHM rubrics complete, every tag resolves, each list in its own scheme."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dhnet.maturity.models import Indicator
from dhnet.planning import services
from dhnet.taxonomy.services import resolve_tags

SCHEMES = {"interventions": "cdhi-v1", "system_categories": "system-category-v1", "challenges": "hsc"}


def table() -> dict[str, Any]:
    return json.loads(services.CONCEPTS_FILE.read_text(encoding="utf-8"))["rubrics"]  # type: ignore[no-any-return]


@pytest.mark.django_db
@pytest.mark.parametrize("rubric", ["gdhm-classic", "gdhm-current"])
def test_every_indicator_of_the_rubric_and_nothing_else(rubric: str) -> None:
    indicators = dict(Indicator.objects.filter(rubric__code=rubric).values_list("code", "name"))
    assert len(indicators) == {"gdhm-classic": 30, "gdhm-current": 31}[rubric]
    rows = table()[rubric]
    assert set(rows) == set(indicators)
    for code, row in rows.items():
        assert row["name"] == indicators[code], code  # the GDHM name, as the rubric has it


@pytest.mark.django_db
@pytest.mark.parametrize("rubric", ["gdhm-classic", "gdhm-current"])
def test_every_tag_resolves_in_its_own_scheme_and_every_indicator_names_a_challenge(rubric: str) -> None:
    for code, row in table()[rubric].items():
        assert row["challenges"], f"{rubric} {code}: no health-system challenge (opening a need needs one)"
        for kind, scheme in SCHEMES.items():
            tags = row[kind]
            assert len(tags) == len(set(tags)), (rubric, code, kind)
            concepts = resolve_tags(tags)  # raises Invalid naming an unknown tag
            assert [c.scheme.code for c in concepts] == [scheme] * len(tags), (rubric, code, kind)
            if kind == "challenges":
                assert all(c.level == 2 for c in concepts), (rubric, code)  # challenges, not their groups


def test_indicator_tags_reads_the_table_and_is_empty_for_an_unknown_code() -> None:
    assert services.indicator_tags("gdhm-current", "21b") == {
        "interventions": ["cdhi-v1:3.4.1", "cdhi-v1:3.4.2", "cdhi-v1:3.4.3"],
        "system_categories": ["system-category-v1:B"],
        "challenges": ["hsc:1.1", "hsc:1.7"],
    }
    assert services.indicator_tags("gdhm-current", "99") == {
        "interventions": [],
        "system_categories": [],
        "challenges": [],
    }
