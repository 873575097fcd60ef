"""The classifications: loaded by the data migration, the service API, the public endpoints, the data files."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from dhnet.platform.errors import Invalid, NotFound
from dhnet.taxonomy import loader, services
from dhnet.taxonomy.models import Concept, Scheme

EXPECTED = {
    "cdhi-v1": 119,
    "cdhi-2023": 138,
    "system-category-v1": 25,
    "hsc": 52,
    "strategic-objective": 4,
    "standard": 30,
    "health-area": 161,
    "service-app-2023": 43,
}


def test_the_migration_loads_every_scheme(db: Any) -> None:
    assert {s.code: s.concepts.count() for s in Scheme.objects.all()} == EXPECTED
    cdhi = {c.code: c for c in services.concepts("cdhi-v1")}
    assert sum(c.kind == "group" for c in cdhi.values()) == 4
    assert sum(c.kind == "category" for c in cdhi.values()) == 28
    assert sum(c.kind == "intervention" for c in cdhi.values()) == 87
    leaf = cdhi["1.1.1"]
    assert (leaf.level, leaf.parent.code, leaf.parent.parent.code) == (3, "1.1", "1.0")  # type: ignore[union-attr]
    assert leaf.name == "Transmit health event alerts to specific population group(s)"
    hsc = services.concepts("hsc")
    assert [c.code for c in hsc if c.level == 1] == [str(i) for i in range(1, 10)]  # 9 groups, Equity included
    assert hsc.get(code="9").name == "Equity"


def test_loading_again_changes_nothing(db: Any) -> None:
    before = list(Concept.objects.order_by("pk").values_list("pk", "code", "name", "parent_id", "level", "ordinal"))
    assert loader.load(Scheme, Concept) == EXPECTED
    after = list(Concept.objects.order_by("pk").values_list("pk", "code", "name", "parent_id", "level", "ordinal"))
    assert after == before


def test_resolve_tags_in_order_without_repeats(db: Any) -> None:
    concepts = services.resolve_tags(["cdhi-v1:1.1.1", "hsc:2.1", "so:1", "strategic-objective:1", " hsc:2.1 "])
    assert [c.tag for c in concepts] == ["cdhi-v1:1.1.1", "hsc:2.1", "so:1"]
    assert concepts[2].scheme.code == "strategic-objective"
    assert services.resolve_tags([]) == []


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["cdhi-v1:1.1.1", "hsc:99.9"], "unknown tag 'hsc:99.9'"),
        (["nope:1"], "unknown tag 'nope:1'"),
        (["cdhi-v1"], "tag 'cdhi-v1' is not <scheme>:<code>"),
        ([":1"], "tag ':1' is not <scheme>:<code>"),
        (["so:7", "so:8"], "unknown tag 'so:7' (and 1 more)"),
    ],
)
def test_an_unknown_or_malformed_tag_is_invalid_naming_it(db: Any, tags: list[str], message: str) -> None:
    with pytest.raises(Invalid) as caught:
        services.resolve_tags(tags)
    assert caught.value.message.startswith(message)


def test_concept_and_scheme_not_found_name_the_code(db: Any) -> None:
    assert services.concept("so", "4").name.startswith("People-centred")
    with pytest.raises(NotFound, match=r"'9\.9\.9'"):
        services.concept("cdhi-v1", "9.9.9")
    with pytest.raises(NotFound, match="'icd-99'"):
        services.concepts("icd-99")


def test_public_api(db: Any) -> None:
    client = Client()
    schemes = client.get("/api/v1/taxonomy/schemes")
    assert schemes.status_code == 200
    assert {s["code"]: s["concepts"] for s in schemes.json()} == EXPECTED
    concepts = client.get("/api/v1/taxonomy/schemes/so/concepts").json()
    assert [c["tag"] for c in concepts] == ["so:1", "so:2", "so:3", "so:4"]
    one = client.get("/api/v1/taxonomy/schemes/cdhi-2023/concepts/2.3.1").json()
    assert (one["parent"], one["level"], one["kind"]) == ("2.3", 3, "intervention")
    missing = client.get("/api/v1/taxonomy/schemes/cdhi-v1/concepts/8.8")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no concept '8.8' in taxonomy scheme 'cdhi-v1'", "code": "not_found"}
    assert client.get("/api/v1/taxonomy/schemes/unknown").status_code == 404


def test_data_files_hold_codes_names_and_hierarchy_only() -> None:
    """The licence notes of the sources: no WHO descriptive texts, translations or alternative wordings copied."""
    for data in loader.read_files():
        assert set(data) == {"scheme", "name", "version", "source", "licence_note", "concepts"}
        assert data["licence_note"]
        for concept in data["concepts"]:
            assert set(concept) == {"code", "name", "parent", "level"}, concept
    raw = (loader.DATA_DIR / "strategic_objectives.json").read_text(encoding="utf-8")
    assert "PROMOTE GLOBAL COLLABORATION" not in raw.upper()  # our own words, not the strategy's headings
    assert json.loads(raw)["scheme"] == "strategic-objective"


def test_cli_lists_a_scheme_as_csv_and_json(db: Any) -> None:
    from click.testing import CliRunner

    from dhnet.cli import main

    runner = CliRunner()
    csv_out = runner.invoke(main, ["taxonomy", "list", "so"])
    assert csv_out.exit_code == 0, csv_out.output
    lines = csv_out.output.splitlines()
    assert lines[0] == "tag,code,name,parent,level,kind"
    assert len(lines) == 5
    assert lines[1].startswith("so:1,1,Global collaboration")
    json_out = runner.invoke(main, ["taxonomy", "list", "cdhi-v1", "--json"])
    rows = json.loads(json_out.output)
    assert len(rows) == 119
    assert rows[2] == {
        "tag": "cdhi-v1:1.1.1",
        "code": "1.1.1",
        "name": "Transmit health event alerts to specific population group(s)",
        "parent": "1.1",
        "level": 3,
        "kind": "intervention",
    }
    unknown = runner.invoke(main, ["taxonomy", "list", "nope"])
    assert unknown.exit_code == 1
    assert "no taxonomy scheme 'nope' (known: cdhi-2023, cdhi-v1, health-area, hsc" in unknown.output
