"""The schemes of issue 6 (standards, health areas, CDISAH 2023 services and applications) and the crosswalk CDHI v1
(2018) <-> CDISAH 2023: counts, hand-checked pairs, the services, the public endpoints and the CLI line."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner
from django.test import Client

from dhnet.cli import main
from dhnet.platform.errors import NotFound
from dhnet.taxonomy import crosswalk, loader, services
from dhnet.taxonomy.models import Concept, Mapping, Scheme

#: Pairs read by hand against the two editions' names (v1 code, 2023 code, relation of the 2023 concept).
HAND_CHECKED = [
    ("1.1.1", "1.1.1", "equivalent"),  # identical wording
    ("1.0", "1", "equivalent"),  # Clients -> Persons (group)
    ("2.1.1", "2.1.1", "equivalent"),  # Verify client unique identity / Verify a person's unique identity
    ("2.7.1", "2.7.1", "equivalent"),  # smart-base v1 wording "Identify client(s) in need of services"
    ("4.3", "4.3", "equivalent"),  # Location mapping -> Geospatial information management (same interventions)
    ("3.4.2", "3.4.1", "broader"),  # Register birth event -> Notify, register and certify birth event
    ("3.4.6", "3.4.2", "broader"),  # Certify death event -> Notify, register and certify death event
    ("4.4.1", "4.4.2", "narrower"),  # Data exchange across systems -> Standards-compliant interoperability
    ("4.1.1", "4.1.1", "related"),  # Non-routine data collection / Form creation for data acquisition
]


def test_the_new_schemes_are_loaded_with_codes_and_names(db: Any) -> None:
    standards = {c.code: c.name for c in services.concepts("standard")}
    assert len(standards) == 30
    assert standards["hl7-fhir"] == "HL7 FHIR"
    assert standards["adx"] == "ADX - Aggregate Data Exchange"
    assert standards["ihe-pix"] == "PIX or PIXm - (Mobile) Patient Identifier Cross Reference"
    areas = services.concepts("health-area")
    assert [c.code for c in areas if c.level == 1] == [str(i) for i in range(1, 20)]
    assert areas.get(code="1.3").name == "Safe abortion care"
    assert areas.get(code="1.3").parent.code == "1"  # type: ignore[union-attr]
    assert areas.get(code="19.7").name == "Surveillance"
    assert not areas.filter(parent__code="4").exists()  # the eMTCT category has no focus areas of its own
    apps = services.concepts("service-app-2023")
    assert [c.code for c in apps if c.level == 1] == ["A", "B", "C", "D", "E"]
    assert apps.get(code="D6").name == "Health Management Information systems (HMIS)"
    assert apps.get(code="C10").parent.code == "C"  # type: ignore[union-attr]
    assert [c.tag for c in services.resolve_tags(["standard:adx", "health-area:1.3", "service-app-2023:A1"])] == [
        "standard:adx",
        "health-area:1.3",
        "service-app-2023:A1",
    ]


def test_the_data_file_is_what_the_method_computes() -> None:
    stored = json.loads(crosswalk.OUTPUT.read_text(encoding="utf-8"))
    assert stored == crosswalk.document(crosswalk.build())


def test_crosswalk_counts() -> None:
    pairs = crosswalk.build()
    assert Counter(p.relation for p in pairs) == {"equivalent": 110, "broader": 6, "narrower": 3, "related": 2}
    v1 = {c["code"]: c["level"] for c in json.loads((loader.DATA_DIR / "cdhi_v1.json").read_text())["concepts"]}
    v2 = json.loads((loader.DATA_DIR / "cdisah_2023.json").read_text())["concepts"]
    equivalent_sources = {p.source for p in pairs if p.relation == "equivalent"}
    assert Counter(v1[code] for code in equivalent_sources) == {"group": 4, "category": 28, "intervention": 78}
    assert {p.source for p in pairs} == set(v1)  # every v1 concept is mapped one way or another
    new = crosswalk.new_in_2023(v2)
    levels = {c["code"]: c["level"] for c in v2}
    assert Counter(levels[code] for code in new) == {"category": 4, "intervention": 19}
    equivalent_targets = [p.target for p in pairs if p.relation == "equivalent"]
    assert len(equivalent_targets) == len(set(equivalent_targets))  # one-to-one
    assert not new & set(equivalent_targets)
    assert sum(1 for p in pairs if p.method == "renumbered, same normalised name") == 0


def test_renumbered_interventions_are_matched_by_normalised_name() -> None:
    """Rule 4 on a made-up pair of editions: an intervention moved to another code keeps its equivalent."""
    v1 = [
        {"code": "1.0", "name": "Clients", "parent": None, "level": "group"},
        {"code": "1.1", "name": "Targeted client communication", "parent": "1.0", "level": "category"},
        {"code": "1.1.1", "name": "Transmit alerts to clients", "parent": "1.1", "level": "intervention"},
        {"code": "1.1.2", "name": "Peer group for clients", "parent": "1.1", "level": "intervention"},
    ]
    v2 = [
        {"code": "1", "name": "Persons", "parent": None, "level": "group"},
        {"code": "1.1", "name": "Targeted communication to persons", "parent": "1", "level": "category"},
        {"code": "1.1.1", "name": "Peer group for individuals", "parent": "1.1", "level": "intervention"},
        {"code": "1.1.2", "name": "Transmit alerts to person(s)", "parent": "1.1", "level": "intervention"},
    ]
    pairs = {(p.source, p.target): p for p in crosswalk.build(v1, v2)}
    assert pairs[("1.1.1", "1.1.2")].method == "renumbered, same normalised name"
    assert pairs[("1.1.2", "1.1.1")].relation == "equivalent"
    assert pairs[("1.0", "1")].relation == "equivalent"


def test_normalisation() -> None:
    assert crosswalk.normalise("Manage client\u2019s structured clinical records") == crosswalk.normalise(
        "Manage person-centred structured clinical records"
    )
    assert crosswalk.similarity("Peer group for health workers", "Peer group for healthcare providers") == 1.0
    assert crosswalk.similarity("Register birth event", "Notify, register and certify death event") < 0.5


@pytest.mark.parametrize(("v1", "v2", "relation"), HAND_CHECKED)
def test_hand_checked_pairs(db: Any, v1: str, v2: str, relation: str) -> None:
    assert (services.concept("cdhi-2023", v2), relation) in services.crosswalk("cdhi-v1", v1)
    reverse = {"broader": "narrower", "narrower": "broader"}.get(relation, relation)
    assert (services.concept("cdhi-v1", v1), reverse) in services.crosswalk("cdhi-2023", v2)


def test_the_migration_stores_the_crosswalk_and_reloading_changes_nothing(db: Any) -> None:
    assert Mapping.objects.count() == 121
    before = list(Mapping.objects.order_by("pk").values_list("pk", "source_id", "target_id", "relation", "method"))
    assert loader.load_crosswalk(Scheme, Concept, Mapping) == 121
    after = list(Mapping.objects.order_by("pk").values_list("pk", "source_id", "target_id", "relation", "method"))
    assert after == before


def test_a_mapping_no_longer_in_the_file_is_removed_on_reload(db: Any) -> None:
    stale = Mapping.objects.create(
        source=services.concept("cdhi-v1", "1.1.1"), target=services.concept("cdhi-2023", "1.8.1"), relation="related"
    )
    loader.load_crosswalk(Scheme, Concept, Mapping)
    assert not Mapping.objects.filter(pk=stale.pk).exists()


def test_equivalents_in_either_direction(db: Any) -> None:
    v1 = services.concept("cdhi-v1", "2.2.1")
    v2 = services.concept("cdhi-2023", "2.2.1")
    assert services.equivalents([v1]) == {v1, v2}
    assert services.equivalents([v2]) == {v1, v2}
    crvs = services.concept("cdhi-2023", "3.4.1")  # only broader/narrower links: no equivalent
    assert services.equivalents([crvs]) == {crvs}
    new = services.concept("cdhi-2023", "2.5.6")  # Generative AI, new in 2023
    assert services.equivalents([new]) == {new}
    hsc = services.concept("hsc", "2.1")  # a scheme without mappings
    many = services.equivalents([v1, new, hsc, services.concept("cdhi-v1", "1.1.1")])
    assert {c.tag for c in many} == {
        "cdhi-v1:2.2.1",
        "cdhi-2023:2.2.1",
        "cdhi-2023:2.5.6",
        "hsc:2.1",
        "cdhi-v1:1.1.1",
        "cdhi-2023:1.1.1",
    }
    assert services.equivalents([]) == set()


def test_crosswalk_of_a_new_or_unknown_concept(db: Any) -> None:
    assert services.crosswalk("cdhi-2023", "1.6.2") == []
    with pytest.raises(NotFound, match=r"'9\.9\.9'"):
        services.crosswalk("cdhi-v1", "9.9.9")
    merged = services.crosswalk("cdhi-2023", "3.4.1")
    assert [(c.tag, r) for c, r in merged] == [
        ("cdhi-v1:3.4.1", "narrower"),
        ("cdhi-v1:3.4.2", "narrower"),
        ("cdhi-v1:3.4.3", "narrower"),
    ]


def test_crosswalk_table_oriented_as_asked(db: Any) -> None:
    forward = services.crosswalk_table("cdhi-v1", "cdhi-2023")
    backward = services.crosswalk_table("cdhi-2023", "cdhi-v1")
    assert len(forward) == len(backward) == 121
    assert all(a.scheme.code == "cdhi-v1" and b.scheme.code == "cdhi-2023" for a, b, _, _ in forward)
    assert Counter(row[2] for row in backward) == {"equivalent": 110, "narrower": 6, "broader": 3, "related": 2}


def test_public_api(db: Any) -> None:
    client = Client()
    one = client.get("/api/v1/taxonomy/schemes/cdhi-v1/concepts/4.4.1/crosswalk")
    assert one.status_code == 200
    body = one.json()
    assert [(row["concept"]["tag"], row["relation"]) for row in body] == [
        ("cdhi-2023:4.4.1", "narrower"),
        ("cdhi-2023:4.4.2", "narrower"),
        ("cdhi-2023:4.4.3", "narrower"),
    ]
    assert body[0]["method"] == "reviewed"
    assert "splits" in body[0]["note"]
    back = client.get("/api/v1/taxonomy/schemes/cdhi-2023/concepts/2.7.1/crosswalk").json()
    assert [(row["concept"]["tag"], row["relation"]) for row in back] == [("cdhi-v1:2.7.1", "equivalent")]
    assert client.get("/api/v1/taxonomy/schemes/cdhi-v1/concepts/8.8/crosswalk").status_code == 404
    table = client.get("/api/v1/taxonomy/crosswalk").json()
    assert len(table) == 121
    assert table[0]["source"]["tag"] == "cdhi-v1:1.0"
    assert table[0]["target"]["tag"] == "cdhi-2023:1"
    reverse = client.get("/api/v1/taxonomy/crosswalk?source=cdhi-2023&target=cdhi-v1").json()
    assert reverse[0]["source"]["tag"] == "cdhi-2023:1"
    unknown = client.get("/api/v1/taxonomy/crosswalk?source=nope")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no taxonomy scheme 'nope'"


def test_cli_crosswalk(db: Any) -> None:
    runner = CliRunner()
    text = runner.invoke(main, ["taxonomy", "crosswalk", "cdhi-v1:3.4.5"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == "cdhi-v1:3.4.5 Register death event"
    assert lines[1].split()[:2] == ["broader", "cdhi-2023:3.4.2"]
    bare = runner.invoke(main, ["taxonomy", "crosswalk", "2.2.1", "--json"])
    assert [(r["tag"], r["relation"]) for r in json.loads(bare.output)] == [("cdhi-2023:2.2.1", "equivalent")]
    other = runner.invoke(main, ["taxonomy", "crosswalk", "1.6.2", "--scheme", "cdhi-2023"])
    assert "no mapping" in other.output
    missing = runner.invoke(main, ["taxonomy", "crosswalk", "cdhi-v1:9.9"])
    assert missing.exit_code == 1
    assert "no concept '9.9' in taxonomy scheme 'cdhi-v1'" in missing.output
