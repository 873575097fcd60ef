"""Match scores computed by hand on the small registry of ``helpers`` (each part's value and the total), the
ranking, co-occurrence counted across the CDHI v1 / 2023 crosswalk, and the constraints."""

from __future__ import annotations

from typing import Any

import pytest

from dhnet.needs import matching, services
from dhnet.needs.models import Need
from dhnet.platform.access import Actor
from dhnet.platform.errors import Invalid, NotFound
from tests.needs.helpers import NEED, make_registry, project, rate, v2023_of

PART_NAMES = [
    "interventions",
    "standards",
    "evidence",
    "feedback",
    "openness",
    "similar_countries",
    "languages",
    "connectivity",
    "cost",
]

#: Hand-computed part values (see helpers' docstring; weights 0.30 0.15 0.15 0.10 0.10 0.05 0.05 0.05 0.05).
EXPECTED = {
    # 1 of 2 challenges (1.2 via 2.2.4); ADX+FHIR; at scale + outcome; mean 4 -> 0.75; open+DPG; in KE;
    # en of en,sw; offline; USD 80,000 <= 100,000
    "project:KE-AAAAAA": ([0.5, 1.0, 1.0, 0.75, 1.0, 1.0, 0.5, 1.0, 1.0], 80.0),
    # 1 of 2; both standards; 1 at scale of 3, 1 with outcomes of 3; 5 ratings of KE-A (UG-C's 4 do not count);
    # KE and UG of AFR -> 2/3; en; offline; median of one budget 80,000
    "product:dhis2": ([0.5, 1.0, 1 / 3, 0.75, 1.0, 2 / 3, 0.5, 1.0, 1.0], 68.3),
    # 1 of 2; both; deployment stage, no outcomes; 4 ratings: neutral; open+DPG; same region; en; offline;
    # no budget known: neutral
    "project:UG-CCCCCC": ([0.5, 1.0, 0.0, 0.5, 1.0, 0.5, 0.5, 1.0, 0.5], 57.5),
    # 1 of 2 (2.1 via 3.2.1); FHIR only; pilot; neutral; open+DPG; in KE; en; offline; 100,000 / 150,000
    "project:KE-BBBBBB": ([0.5, 0.5, 0.0, 0.5, 1.0, 1.0, 0.5, 1.0, 2 / 3], 53.3),
    # 1 of 2; FHIR; no deployment at scale or with outcomes; neutral; open+DPG; KE only -> 1/3; en of en,sw;
    # offline; 100,000 / 150,000
    "product:openlmis": ([0.5, 0.5, 0.0, 0.5, 1.0, 1 / 3, 0.5, 1.0, 2 / 3], 50.0),
    # 2.1 only through co-occurrence (1.1.1 tagged with 2.1 in three BR projects, one in 2023 codes); nothing
    # else; no languages stated: neutral; not offline; no cost known: neutral. Its draft KE project counts nowhere.
    "product:closedsys": ([0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.5, 0.0, 0.5], 25.0),
}


@pytest.fixture
def world(db: Any, operator: Actor) -> dict[str, Any]:
    registry = make_registry()
    need, created = services.create_need(operator, NEED)
    assert created
    return registry | {"need": need}


def _by_key(matches: list[matching.Match]) -> dict[str, matching.Match]:
    return {m.key: m for m in matches}


def test_weights_are_data_and_add_up_to_one() -> None:
    weights = matching.weights()
    assert list(weights) == PART_NAMES
    assert sum(weights.values()) == pytest.approx(1.0)


def test_hand_computed_scores(world: dict[str, Any], operator: Actor) -> None:
    found = _by_key(services.match(operator, world["need"].public_id))
    assert set(found) == set(EXPECTED), sorted(found)
    weights = matching.weights()
    for key, (values, total) in EXPECTED.items():
        match = found[key]
        assert [p.name for p in match.parts] == PART_NAMES, key
        for part, value in zip(match.parts, values, strict=True):
            assert part.value == pytest.approx(value, abs=1e-4), (key, part.name, part.reason)
            assert part.weight == weights[part.name]
            assert part.points == pytest.approx(part.weight * part.value, abs=1e-4)
            assert part.reason, (key, part.name)
        assert match.score == total, (key, [(p.name, p.points) for p in match.parts])


def test_ranking_order_and_limit(world: dict[str, Any], operator: Actor) -> None:
    ranked = services.match(operator, world["need"].public_id)
    assert [m.key for m in ranked] == list(EXPECTED)
    assert [m.key for m in services.match(operator, world["need"].public_id, limit=2)] == list(EXPECTED)[:2]


def test_reasons_name_what_counts(world: dict[str, Any], operator: Actor) -> None:
    found = _by_key(services.match(operator, world["need"].public_id))
    ke_a = {p.name: p.reason for p in found["project:KE-AAAAAA"].parts}
    assert ke_a["interventions"].startswith("addresses 1 of 2 challenges: hsc:1.2 via cdhi-v1:2.2.4")
    assert "not hsc:2.1" in ke_a["interventions"]
    assert ke_a["cost"] == "this deployment's cost USD 80,000, within the budget of USD 100,000"
    assert ke_a["feedback"] == "mean rating 4.00 of 5 from 5 users"
    closed = {p.name: p.reason for p in found["product:closedsys"].parts}
    assert "tagged together in published projects" in closed["interventions"]
    assert closed["feedback"] == "fewer than 5 ratings of its deployments: neutral"
    assert closed["connectivity"] == "does not work offline, and connectivity is intermittent"
    openlmis = {p.name: p.reason for p in found["product:openlmis"].parts}
    assert openlmis["standards"] == "supports 1 of 2 required standards (standard:hl7-fhir); lacks standard:adx"
    assert openlmis["languages"] == "offers 1 of 2 languages needed (en); lacks sw"
    ug = {p.name: p.reason for p in found["project:UG-CCCCCC"].parts}
    assert ug["feedback"] == "fewer than 5 ratings of this deployment: neutral"


def test_fifth_rating_brings_feedback_in(world: dict[str, Any], operator: Actor) -> None:
    rate(world["ug_c"], [1], "late")  # UG-C: four 5s and one 1 -> mean 4.2 -> (4.2 - 1) / 4 = 0.8
    found = _by_key(services.match(operator, world["need"].public_id))
    feedback = found["project:UG-CCCCCC"].parts[3]
    assert feedback.value == pytest.approx(0.8)
    assert feedback.reason == "mean rating 4.20 of 5 from 5 users"
    # dhis2 now pools KE-A (5 x 4) and UG-C (mean 4.2): (5 * 4 + 5 * 4.2) / 10 = 4.1 -> 0.775
    assert found["product:dhis2"].parts[3].value == pytest.approx(0.775)
    assert found["product:dhis2"].parts[3].reason == "mean rating 4.10 of 5 from 10 users over 2 deployments"


def test_co_occurrence_needs_the_minimum_and_counts_2023_tags_alike(world: dict[str, Any], operator: Actor) -> None:
    pid = world["need"].public_id
    assert "product:closedsys" in _by_key(services.match(operator, pid))
    world["br"][2].delete()  # the 2023-tagged one: two projects left, under the minimum of three
    assert "product:closedsys" not in _by_key(services.match(operator, pid))


def test_a_2023_tagged_deployment_addresses_the_challenge(world: dict[str, Any], operator: Actor) -> None:
    project("KE-FFFFFF", "KE", "pilot", [], [v2023_of("cdhi-v1:3.2.2")], [])
    found = _by_key(services.match(operator, world["need"].public_id))
    fit = found["project:KE-FFFFFF"].parts[0]
    assert fit.value == 0.5
    assert fit.reason.startswith("addresses 1 of 2 challenges: hsc:2.1 via cdhi-2023:")


def test_constraints_follow_the_need(world: dict[str, Any], operator: Actor) -> None:
    pid = world["need"].public_id
    services.update_need(operator, pid, {"connectivity": "broadband", "languages": [], "budget": None, "standards": []})
    found = _by_key(services.match(operator, pid))
    closed = {p.name: p for p in found["product:closedsys"].parts}
    assert closed["connectivity"].value == 1.0
    assert closed["languages"].value == 1.0
    assert closed["languages"].reason == "the need names no language"
    assert closed["cost"].value == 1.0
    assert closed["cost"].reason == "the need states no budget"
    assert closed["standards"].value == 1.0
    assert closed["standards"].reason == "the need requires no standard"
    # 0.30 * 0.5 + 0.15 + 0.10 * 0.5 + 0.05 * 3 = 0.50
    assert found["product:closedsys"].score == 50.0


def test_match_checks_its_arguments(world: dict[str, Any], operator: Actor) -> None:
    with pytest.raises(Invalid, match="limit"):
        services.match(operator, world["need"].public_id, limit=0)
    with pytest.raises(NotFound):
        services.match(operator, "KE-N222222")
    with pytest.raises(NotFound):
        services.match(operator, "../etc")


def test_matching_reads_a_fixed_number_of_queries(
    world: dict[str, Any], operator: Actor, django_assert_max_num_queries: Any
) -> None:
    """No query per candidate: more products and projects do not add queries."""
    need = Need.objects.get(pk=world["need"].pk)
    with django_assert_max_num_queries(30) as small:
        matching.rank(need)
    for i in range(20):
        project(f"KE-G{i:05d}", "KE", "pilot", [world["dhis2"]], ["cdhi-v1:2.2.4"], ["hsc:1.2"])
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(matching.rank(need, limit=100)) == 26


def test_registry_changes_reach_the_next_match(world: dict[str, Any], operator: Actor) -> None:
    """The registry snapshot kept between matches is rebuilt after any change made through the atlas services: a
    project published, edited (stage, budget) and archived."""
    from dhnet.atlas import services as atlas

    pid = world["need"].public_id
    assert "project:KE-AAAAAA" in _by_key(services.match(operator, pid))
    new = atlas.create_project(
        operator,
        {
            "name": "County stock tracker",
            "country": "KE",
            "stage": "pilot",
            "products": ["openlmis"],
            "interventions": ["cdhi-v1:3.2.2"],
        },
    )
    assert f"project:{new.public_id}" not in _by_key(services.match(operator, pid))  # a draft counts nowhere
    atlas.submit(operator, new.public_id)
    atlas.approve(operator, new.public_id)
    atlas.publish(operator, new.public_id)
    found = _by_key(services.match(operator, pid))[f"project:{new.public_id}"]
    assert found.parts[2].value == 0.0  # pilot, no outcomes
    assert found.parts[8].reason == "no USD budget known for this deployment's: neutral"
    atlas.update_project(
        operator,
        new.public_id,
        {"stage": "scale", "budget": [{"phase": "deployment", "year": 2024, "amount": "40000", "currency": "USD"}]},
    )
    found = _by_key(services.match(operator, pid))[f"project:{new.public_id}"]
    assert found.parts[2].value == 0.5  # at scale now
    assert found.parts[8].reason == "this deployment's cost USD 40,000, within the budget of USD 100,000"
    # openlmis: KE-B (150,000) and the new one (40,000): median 95,000; one deployment at scale
    openlmis = _by_key(services.match(operator, pid))["product:openlmis"]
    assert openlmis.parts[8].value == 1.0
    assert openlmis.parts[2].reason == "1 published deployments at scale, 0 with outcome data"
    atlas.archive(operator, new.public_id, "replaced")
    after = _by_key(services.match(operator, pid))
    assert f"project:{new.public_id}" not in after
    assert after["product:openlmis"].parts[2].reason == "0 published deployments at scale, 0 with outcome data"


def test_the_challenge_table_covers_every_challenge_with_existing_codes(db: Any) -> None:
    import json

    from dhnet.taxonomy.models import Concept

    data = json.loads((matching.DATA / "challenge_interventions.json").read_text(encoding="utf-8"))
    assert "it is NOT a WHO publication" in data["authorship"]
    challenges = set(Concept.objects.filter(scheme__code="hsc", level=2).values_list("code", flat=True))
    assert set(data["challenges"]) == challenges
    assert len(challenges) == 43
    interventions = set(Concept.objects.filter(scheme__code="cdhi-v1", level=3).values_list("code", flat=True))
    for code, entry in data["challenges"].items():
        assert entry["rationale"], code
        assert entry["interventions"], code
        assert set(entry["interventions"]) <= interventions, code
    table = matching.challenge_table()
    assert sum(len(v) for v in table.values()) == sum(len(e["interventions"]) for e in data["challenges"].values())


def test_the_values_only_pass_agrees_with_the_explained_parts(db: Any, operator: Actor) -> None:
    """On a generated registry, every candidate ranked (all of them: limit 200) has the score its parts add up to,
    within rounding of the raw sum the fast values-only pass computed, and the order is by that score."""
    from dhnet.atlas.generate import generate_registry, load_generated

    registry = generate_registry(300, 12, 7)
    load_generated(operator, registry)
    country = registry["projects"][0]["country"]
    tagged = [t for p in registry["projects"] if p["country"] == country for t in p["challenges"]]
    need, _ = services.create_need(
        operator,
        {
            "country": country,
            "title": "generated",
            "challenges": sorted(set(tagged))[:3],
            "standards": ["standard:hl7-fhir"],
            "languages": ["fr"],
            "connectivity": "none",
            "budget": "120000",
        },
    )
    ranked = services.match(operator, need.public_id, limit=200)
    assert len(ranked) > 20
    for m in ranked:
        assert m.score == round(100 * sum(p.points for p in m.parts), 1)
        assert abs(m.score - 100 * m.detail["raw"]) <= 0.1, (m.key, m.score, m.detail["raw"])
    assert [m.score for m in ranked] == sorted((m.score for m in ranked), reverse=True)
    top = services.match(operator, need.public_id, limit=7)
    assert [m.key for m in top] == [m.key for m in ranked[:7]]
