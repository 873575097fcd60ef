"""Org-unit hierarchy, jurisdiction filter, and imports from the real GeoJSON files and DHIS2 JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dhnet.audit.models import AuditRecord
from dhnet.audit.services import verify
from dhnet.cli import main
from dhnet.orgunits import services
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from tests.platform.fixtures import actor_of


def _load(data_dir: Path, name: str) -> Any:
    return json.loads((data_dir / name).read_text(encoding="utf-8"))


@pytest.fixture
def germany(db: Any, operator: Any) -> OrgUnit:
    return services.create_unit(operator, code="DE", name="Germany")


def test_materialised_paths_and_levels(tree: dict[str, OrgUnit]) -> None:
    de, r1, d11 = tree["DE"], tree["R1"], tree["D11"]
    assert de.path == f"/{de.pk}/"
    assert d11.path == f"/{de.pk}/{r1.pk}/{d11.pk}/"
    assert (de.level, r1.level, d11.level) == (1, 2, 3)
    subtree = OrgUnit.objects.filter(path__startswith=r1.path).values_list("code", flat=True)
    assert sorted(subtree) == ["D11", "D12", "R1"]


def test_geojson_import_of_bavaria_bw(data_dir: Path, germany: OrgUnit, operator: Any) -> None:
    incoming = services.parse_geojson(_load(data_dir, "bavaria_bw_districts.geojson"))
    result = services.import_units(operator, incoming, default_parent="DE", source="bavaria_bw")
    assert len(result.created) == 140
    munich = OrgUnit.objects.get(code="9162")
    assert munich.name == "SK Muenchen"
    assert munich.level == 2
    assert munich.parent == germany
    assert munich.geometry["type"] == "Polygon"
    # Idempotent: a second import changes nothing and creates no duplicates.
    again = services.import_units(operator, incoming, default_parent="DE", source="bavaria_bw")
    assert (len(again.created), len(again.updated), len(again.unchanged)) == (0, 0, 140)
    assert OrgUnit.objects.count() == 141
    assert verify().ok


def test_geojson_import_with_population(data_dir: Path, germany: OrgUnit, operator: Any) -> None:
    incoming = services.parse_geojson(_load(data_dir, "weser_ems_districts.geojson"))
    services.import_units(operator, incoming, default_parent="DE")
    delmenhorst = OrgUnit.objects.get(code="03401")
    assert (delmenhorst.name, delmenhorst.population) == ("SK Delmenhorst", 75986)
    assert delmenhorst.geometry["type"] == "MultiPolygon"


def test_geojson_reimport_updates(data_dir: Path, germany: OrgUnit, operator: Any) -> None:
    data = _load(data_dir, "berlin_districts.geojson")
    services.import_units(operator, services.parse_geojson(data), default_parent="DE")
    data["features"][0]["properties"]["name"] = "Charlottenburg-Wilmersdorf (renamed)"
    result = services.import_units(operator, services.parse_geojson(data), default_parent="DE")
    assert result.updated == ["chwi"]
    assert len(result.unchanged) == 11
    assert OrgUnit.objects.get(code="chwi").name.endswith("(renamed)")
    assert AuditRecord.objects.filter(action="orgunits.orgunit.update", object_id="chwi").count() == 1


def test_geojson_parent_property_and_custom_names(germany: OrgUnit, operator: Any) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"C": "D1", "N": "District", "P": "R", "POP": 10}, "geometry": None},
            {"type": "Feature", "properties": {"C": "R", "N": "Region", "P": "DE"}, "geometry": None},
        ],
    }
    mapping = services.GeoJsonMapping(code="C", name="N", parent="P", population="POP")
    services.import_units(operator, services.parse_geojson(fc, mapping))
    district = OrgUnit.objects.get(code="D1")
    assert district.parent.code == "R"
    assert district.level == 3
    assert district.population == 10


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda fc: fc["features"][2]["properties"].pop("name"), "features[2].properties.name: missing name"),
        (lambda fc: fc["features"][1]["properties"].__setitem__("id", ""), "features[1].properties.id: missing code"),
        (
            lambda fc: fc["features"][3]["properties"].__setitem__("population", -5),
            "features[3].properties.population: expected a non-negative integer",
        ),
        (
            lambda fc: fc["features"][4].__setitem__("geometry", {"type": "Circle", "coordinates": []}),
            "features[4].geometry.type: expected one of",
        ),
        (
            lambda fc: fc["features"][5]["properties"].__setitem__("id", fc["features"][0]["properties"]["id"]),
            "features[5].code: '03401' repeats feature 0",
        ),
        (
            lambda fc: fc["features"][6]["properties"].__setitem__("parent", "nowhere"),
            "features[6].parent: unknown org unit 'nowhere'",
        ),
    ],
)
def test_geojson_errors_name_feature_and_field(
    data_dir: Path, germany: OrgUnit, operator: Any, mutate: Any, message: str
) -> None:
    fc = _load(data_dir, "weser_ems_districts.geojson")
    mutate(fc)
    with pytest.raises(Invalid) as info:
        services.import_units(operator, services.parse_geojson(fc), default_parent="DE")
    assert str(info.value).startswith(message)
    assert OrgUnit.objects.count() == 1  # atomic: nothing imported


def test_import_is_atomic(data_dir: Path, germany: OrgUnit, operator: Any) -> None:
    fc = _load(data_dir, "weser_ems_districts.geojson")
    fc["features"][-1]["properties"]["parent"] = "nowhere"  # fails after 16 units were written
    audit_before = AuditRecord.objects.count()
    with pytest.raises(Invalid, match=r"features\[16\]\.parent"):
        services.import_units(operator, services.parse_geojson(fc), default_parent="DE")
    assert OrgUnit.objects.count() == 1
    assert AuditRecord.objects.count() == audit_before


DHIS2 = {
    "organisationUnits": [
        {"id": "ImspTQPwCqd", "code": "OU_525", "name": "Sierra Leone", "level": 1},
        {"id": "fdc6uOvgoji", "code": "OU_193190", "name": "Bombali", "level": 2, "parent": {"id": "ImspTQPwCqd"}},
        {
            "id": "at6UHUQatSo",
            "name": "Biriwa",
            "level": 3,
            "parent": {"id": "fdc6uOvgoji"},
            "geometry": {"type": "Polygon", "coordinates": [[[-12.0, 9.0], [-11.9, 9.1], [-11.8, 9.0], [-12.0, 9.0]]]},
        },
    ]
}


def test_dhis2_import(db: Any, operator: Any) -> None:
    # Children before parents in the file: order does not matter.
    data = {"organisationUnits": list(reversed(DHIS2["organisationUnits"]))}
    result = services.import_units(operator, services.parse_dhis2(data), parent_by="uid")
    assert len(result.created) == 3
    biriwa = OrgUnit.objects.get(uid="at6UHUQatSo")
    assert biriwa.code == "at6UHUQatSo"  # no code in DHIS2: the id stands in
    assert biriwa.parent.code == "OU_193190"
    assert biriwa.level == 3
    assert biriwa.geometry["type"] == "Polygon"
    again = services.import_units(operator, services.parse_dhis2(DHIS2), parent_by="uid")
    assert len(again.unchanged) == 3
    assert OrgUnit.objects.count() == 3


def test_dhis2_errors(db: Any, operator: Any) -> None:
    with pytest.raises(Invalid, match=r"^organisationUnits: expected a list"):
        services.parse_dhis2({"units": []})
    bad = {"organisationUnits": [{"id": "a", "name": "A"}, {"id": "b", "name": "B", "parent": "a"}]}
    with pytest.raises(Invalid, match=r"^organisationUnits\[1\]\.parent\.id"):
        services.parse_dhis2(bad)
    bad = {"organisationUnits": [{"id": "a", "name": "A"}, {"id": "b", "parent": {"id": "a"}}]}
    with pytest.raises(Invalid, match=r"^organisationUnits\[1\]\.name: missing"):
        services.parse_dhis2(bad)
    cyc = {
        "organisationUnits": [
            {"id": "a", "name": "A", "parent": {"id": "b"}},
            {"id": "b", "name": "B", "parent": {"id": "a"}},
        ]
    }
    with pytest.raises(Invalid, match="cycle"):
        services.import_units(operator, services.parse_dhis2(cyc), parent_by="uid")


def test_reparenting_moves_the_subtree(tree: dict[str, OrgUnit], operator: Any) -> None:
    incoming = [services.Incoming(index=0, where="features[0].", code="R1", name="Region 1", parent_key="R2")]
    services.import_units(operator, incoming)
    r1, r2, d11 = (OrgUnit.objects.get(code=c) for c in ("R1", "R2", "D11"))
    assert r1.parent == r2
    assert r1.path == f"{r2.path}{r1.pk}/"
    assert d11.path == f"{r1.path}{d11.pk}/"
    assert (r1.level, d11.level) == (3, 4)
    cycle = [services.Incoming(index=0, where="features[0].", code="R2", name="Region 2", parent_key="D11")]
    with pytest.raises(Invalid, match="would create a cycle"):
        services.import_units(operator, cycle)


def test_writes_are_limited_to_the_jurisdiction(users: dict[str, Any], tree: dict[str, OrgUnit]) -> None:
    admin = actor_of(users["system_admin"])
    services.create_unit(admin, code="D13", name="District 13", parent_code="R1")
    with pytest.raises(Forbidden):
        services.create_unit(admin, code="XX", name="Another country")  # roots: operators only
    with pytest.raises(Forbidden):
        services.create_unit(actor_of(users["regional_officer"]), code="D14", name="D14", parent_code="R1")


def test_jurisdiction_helpers(users: dict[str, Any], tree: dict[str, OrgUnit]) -> None:
    officer = actor_of(users["regional_officer"])
    codes = services.in_jurisdiction(OrgUnit.objects.all(), officer, services.READ).values_list("code", flat=True)
    assert sorted(codes) == ["D11", "D12", "R1"]
    assert not services.in_jurisdiction(OrgUnit.objects.all(), officer, "audit:record:read").exists()
    with pytest.raises(NotFound):
        services.require_in_jurisdiction(officer, services.READ, tree["D21"])
    services.require_in_jurisdiction(officer, services.READ, tree["D12"])
    with pytest.raises(NotFound):
        services.get_unit(officer, "nonexistent")


def test_reads_are_audited(users: dict[str, Any], tree: dict[str, OrgUnit]) -> None:
    officer = actor_of(users["district_officer"])
    services.get_unit(officer, "D11")
    record = AuditRecord.objects.get(action="orgunits.orgunit.read")
    assert (record.actor_username, record.object_id, record.actor_role) == (
        "district_officer",
        "D11",
        "district_officer@D11",
    )
    assert record.ip == "127.0.0.1"


def test_cli_add_and_import(data_dir: Path, db: Any) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["orgunits", "add", "DE", "Germany"]).exit_code == 0
    path = str(data_dir / "berlin_districts.geojson")
    result = runner.invoke(main, ["orgunits", "import", path, "--parent", "DE"])
    assert result.exit_code == 0, result.output
    assert "12 created, 0 updated, 0 unchanged" in result.stderr
    result = runner.invoke(main, ["orgunits", "import", path, "--parent", "DE"])
    assert "0 created, 0 updated, 12 unchanged" in result.stderr
    result = runner.invoke(main, ["orgunits", "import", path, "--parent", "XX"])
    assert result.exit_code == 1
    assert "org unit 'XX' not found" in result.stderr
    result = runner.invoke(main, ["orgunits", "import", path, "--name-property", "label", "--parent", "DE"])
    assert result.exit_code == 1
    assert "features[0].properties.label: missing name" in result.stderr


def test_cli_import_dhis2(tmp_path: Path, db: Any) -> None:
    path = tmp_path / "ou.json"
    path.write_text(json.dumps(DHIS2))
    result = CliRunner().invoke(main, ["orgunits", "import", str(path), "--format", "dhis2"])
    assert result.exit_code == 0, result.output
    assert OrgUnit.objects.get(code="OU_525").level == 1
