"""Import and export of the registry: round trips of a generated registry (500 projects, 30 countries) in JSON,
CSV and the DHA shape with zero loss; bad rows reported by row and field with nothing stored; re-import stores
nothing."""

from __future__ import annotations

import copy
import csv
import io
import json
from typing import Any

import pytest

from dhnet.atlas import services
from dhnet.atlas.generate import MARK, generate_registry, load_generated
from dhnet.atlas.io import CSV_FIELDS, RowError, export_projects, import_projects, project_records
from dhnet.atlas.models import BudgetLine, InteropLink, MetricValue, Product, Project, RecordVersion
from dhnet.audit.models import AuditRecord
from dhnet.network.models import Organisation
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid
from tests.platform.fixtures import actor_of

SMALL = 40


@pytest.fixture
def manager(users: dict[str, Any]) -> Actor:
    return actor_of(users["knowledge_manager"])


@pytest.fixture(scope="module")
def registry() -> dict[str, Any]:
    return generate_registry(500, 30, seed=1)


def _file(reg: dict[str, Any], n: int | None = None) -> bytes:
    doc = copy.deepcopy(reg)
    if n is not None:
        keep = doc["projects"][:n]
        ids = {p["public_id"] for p in keep}
        for p in keep:
            p["interop_links"] = [x for x in p["interop_links"] if x["target"] is None or x["target"] in ids]
        doc["projects"] = keep
    return json.dumps(doc).encode()


def _empty_registry() -> None:
    """Forget every registry record (an empty database for the next import): projects, products, versions and the
    organisations they named."""
    Project.objects.all().delete()
    Product.objects.all().delete()
    RecordVersion.objects.all().delete()
    Organisation.objects.all().delete()


def _everything() -> dict[str, int]:
    return {
        "projects": Project.objects.count(),
        "products": Product.objects.count(),
        "versions": RecordVersion.objects.count(),
        "organisations": Organisation.objects.count(),
        "budget": BudgetLine.objects.count(),
        "metrics": MetricValue.objects.count(),
        "links": InteropLink.objects.count(),
    }


def _stored(public_id: str) -> dict[str, Any]:
    return services.project_data(Project.objects.get(public_id=public_id))


def test_generated_registry_round_trips_in_json_with_zero_loss(manager: Actor, registry: dict[str, Any]) -> None:
    report = import_projects(manager, _file(registry), "json", publish=True)
    assert report.errors == []
    assert (report.created, report.updated, report.unchanged) == (500, 0, 0)
    assert report.products_created == len(registry["products"])
    assert len(report.organisations_created) == len(registry["organisations"])
    assert len({p.country for p in Project.objects.all()}) == 30
    # field by field: what was generated is what is stored
    for generated in registry["projects"]:
        stored = _stored(generated["public_id"])
        assert stored["status"] == "published"
        assert stored["version"] == 1
        for name, value in generated.items():
            assert stored[name] == value, (generated["public_id"], name)
    for org in registry["organisations"]:
        row = Organisation.objects.get(slug=org["slug"])
        assert (row.name, row.kind, row.countries) == (org["name"], org["kind"], org["countries"])
    # the bulk read of the export builds exactly the registry's project_data (values and key order)
    one_by_one = [services.project_data(p) for p in Project.objects.order_by("public_id")]
    bulk = project_records(Project.objects.all())
    assert bulk == one_by_one
    assert [list(r) for r in bulk] == [list(r) for r in one_by_one]
    first = export_projects(manager, Project.objects.all(), "json")
    doc = json.loads(first)
    assert len(doc["projects"]) == 500
    assert [p["public_id"] for p in doc["projects"]] == sorted(p["public_id"] for p in registry["projects"])
    # the same file again stores nothing
    before = _everything()
    audit = AuditRecord.objects.count()
    again = import_projects(manager, first, "json", publish=True)
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 500, [])
    assert again.products_unchanged == len(registry["products"])
    assert _everything() == before
    assert AuditRecord.objects.count() == audit
    # into an empty registry, then out again: the same bytes
    _empty_registry()
    assert import_projects(manager, first, "json", publish=True).created == 500
    assert export_projects(manager, Project.objects.all(), "json") == first


def test_csv_round_trip_is_byte_identical(manager: Actor, registry: dict[str, Any]) -> None:
    load_generated(manager, registry)  # stores what the import path stores (tests/atlas/test_generate.py), faster
    first = export_projects(manager, Project.objects.all(), "csv")
    rows = list(csv.DictReader(io.StringIO(first.decode())))
    assert len(rows) == 500
    assert tuple(rows[0]) == CSV_FIELDS
    Project.objects.all().delete()
    RecordVersion.objects.filter(kind="project").delete()
    report = import_projects(manager, first, "csv", publish=True)
    assert report.errors == []
    assert report.created == 500
    assert export_projects(manager, Project.objects.all(), "csv") == first
    for generated in registry["projects"][:50]:
        stored = _stored(generated["public_id"])
        assert all(stored[k] == v for k, v in generated.items())


def test_dha_round_trip_is_byte_identical(manager: Actor, registry: dict[str, Any]) -> None:
    load_generated(manager, registry)
    first = export_projects(manager, Project.objects.all(), "dha")
    records = json.loads(first)
    assert len(records) == 500
    sample = next(r for r in records if r["donors"] and r["hsc_challenges"] and r["dhis"])
    assert all(isinstance(i, int) for i in sample["dhis"] + sample["hsc_challenges"])
    assert any(name.startswith("Ministry of Health of") for r in records for name in r["donors"])
    Project.objects.all().delete()
    RecordVersion.objects.filter(kind="project").delete()
    report = import_projects(manager, first, "dha", publish=True)
    assert report.errors == []
    assert report.created == 500
    assert export_projects(manager, Project.objects.all(), "dha") == first
    for generated in registry["projects"][:50]:
        stored = _stored(generated["public_id"])
        assert all(stored[k] == v for k, v in generated.items())


def test_a_dha_record_without_the_extension_maps_the_dha_fields(manager: Actor, registry: dict[str, Any]) -> None:
    assert import_projects(manager, _file(registry, SMALL), "json").errors == []
    record = {
        "public_id": "KE8f3a1c",  # the DHA's own kind of identifier: dropped
        "name": "Malaria SMS reporting",
        "country": "KE",
        "implementation_overview": "Weekly SMS reports of malaria cases.",
        "contact_name": "A",
        "contact_email": "a@example.org",
        "software": ["DHIS2", "RapidPro"],
        "dhis": [113],
        "hsc_challenges": [2, 15],
        "hsc_challenges_other": ["Burden of manual processes"],
        "his_bucket": [13],
        "health_focus_areas": [1],
        "implementing_partners": ["Health Informatics NGO (example)"],
        "donors": ["A new donor"],
        "start_date": "2020-01-01",
        "stages": [{"id": 6, "date": "2020-01-01"}, {"id": 9, "date": "2022-01-01"}],
        "interoperability_links": [{"id": "Health Management Information System (HMIS)", "selected": True, "link": ""}],
        "coverage": [{"district": "Kisumu", "clients": 10, "health_workers": 2, "facilities": 1}],
        "wiki": "https://example.org/wiki",
    }
    report = import_projects(manager, json.dumps([record]).encode(), "dha")
    assert report.errors == []
    assert report.organisations_created == ["a-new-donor"]
    data = _stored(report.public_ids[0])
    assert data["public_id"].startswith("KE-")
    assert data["products"] == ["dhis2", "rapidpro"]
    assert data["interventions"] == ["cdhi-v1:1.1.1"]
    assert data["challenges"] == ["hsc:1.2", "hsc:3.5", "hsc:6.6"]
    assert data["system_categories"] == ["system-category-v1:N"]
    assert data["health_areas"] == ["health-area:1.1"]
    assert data["stage"] == "scale"
    assert data["implementers"] == ["health-informatics-ngo-example"]
    assert data["funders"] == ["a-new-donor"]
    assert data["interop_links"][0]["kind"] == "hmis"
    assert data["coverage"][0]["place"] == "Kisumu"
    assert data["links"] == {"wiki": "https://example.org/wiki"}


def test_bad_rows_are_each_reported_and_nothing_is_stored(manager: Actor, registry: dict[str, Any]) -> None:
    doc = json.loads(_file(registry, SMALL))
    projects = doc["projects"]
    projects[2]["budget"][0]["year"] = 1890
    projects[5]["products"] = ["no-such-product"]
    projects[7]["interventions"] = ["cdhi-v1:9.9.9"]
    projects[9]["country"] = "XX"
    projects[11]["metrics"] = [projects[11]["metrics"][0]] * 2 if projects[11]["metrics"] else [{"kind": "x"}]
    projects[13]["name"] = projects[12]["name"]
    projects[13]["country"] = projects[12]["country"]
    projects[15]["coverage"] = [{"orgunit": "NOWHERE", "place": ""}]
    doc["products"][0]["licence"] = "not a licence!"
    before = _everything()
    audit = AuditRecord.objects.count()
    report = import_projects(manager, json.dumps(doc).encode(), "json", publish=True)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    where = {(e.row, e.field) for e in report.errors}
    assert (3, "budget[0].year") in where
    assert (6, "products[0]") in where
    assert (8, "interventions[0]") in where
    assert (10, "country") in where
    assert any(row == 12 and f.startswith("metrics") for row, f in where)
    assert (14, "name") in where
    assert (16, "coverage[0].orgunit") in where
    assert (1, "products[0].licence") in where
    assert all(e.message for e in report.errors)
    assert _everything() == before
    assert AuditRecord.objects.count() == audit


def test_bad_csv_rows_are_named_by_line_and_column(manager: Actor, registry: dict[str, Any]) -> None:
    assert import_projects(manager, _file(registry, SMALL), "json").errors == []
    text = export_projects(manager, Project.objects.all(), "csv").decode()
    Project.objects.all().delete()
    lines = text.splitlines()
    header = lines[0].split(",")
    rows = list(csv.reader(io.StringIO(text)))
    rows[3][header.index("budget")] = "[{broken"
    rows[5][header.index("national_scale")] = "perhaps"
    rows[7][header.index("stage")] = "finished"
    rows[9][header.index("start_date")] = "2020-13-45"
    rows[11] = rows[11][:5]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    before = _everything()
    report = import_projects(manager, out.getvalue().encode(), "csv")
    where = {(e.row, e.field) for e in report.errors}
    assert {(4, "budget"), (6, "national_scale"), (8, "stage"), (10, "start_date"), (12, "")} <= where
    assert _everything() == before


def test_unreadable_files_are_invalid(manager: Actor) -> None:
    for data, fmt in [(b"\xff\xfe", "json"), (b"{", "json"), (b"[]", "json"), (b"", "csv"), (b"nope,x\n", "csv")]:
        with pytest.raises(Invalid):
            import_projects(manager, data, fmt)
    with pytest.raises(Invalid):
        import_projects(manager, b"{}", "xml")
    assert import_projects(manager, b'{"format": "dhnet-atlas-1"}', "json").created == 0


def test_import_needs_project_write_and_publishing_needs_the_country(
    users: dict[str, Any], manager: Actor, registry: dict[str, Any]
) -> None:
    data = _file(registry, 5)
    with pytest.raises(Forbidden):
        import_projects(actor_of(users["viewer"]), data, "json")
    assert import_projects(manager, json.dumps({"products": registry["products"]}).encode(), "json").ok
    partner = actor_of(users["partner"])
    refused = import_projects(partner, data, "json", publish=True)
    assert refused.errors
    assert refused.errors[0].field == "country"
    assert Project.objects.count() == 0
    drafts = import_projects(partner, data, "json")
    assert drafts.created == 5
    assert set(Project.objects.values_list("status", flat=True)) == {"draft"}
    reads = AuditRecord.objects.filter(action="atlas.project.read").count()
    assert len(json.loads(export_projects(partner, services.visible_projects(partner), "json"))["projects"]) == 5
    assert AuditRecord.objects.filter(action="atlas.project.read").count() == reads + 1  # drafts read: audited
    # a draft is the partner's; the anonymous export shows published projects only, without contact e-mails
    anonymous = Actor.anonymous()
    assert json.loads(export_projects(anonymous, services.visible_projects(anonymous), "json"))["projects"] == []


def test_anonymous_export_leaves_contact_emails_out(manager: Actor, registry: dict[str, Any]) -> None:
    assert import_projects(manager, _file(registry, SMALL), "json", publish=True).ok
    anonymous = Actor.anonymous()
    doc = json.loads(export_projects(anonymous, services.visible_projects(anonymous), "json"))
    assert len(doc["projects"]) == SMALL
    assert {p["contact_email"] for p in doc["projects"]} == {""}
    assert all(MARK in p["description"] for p in doc["projects"])
    signed_in = json.loads(export_projects(manager, Project.objects.all(), "json"))
    assert all(p["contact_email"] for p in signed_in["projects"])


def test_update_through_import_is_a_new_version(manager: Actor, registry: dict[str, Any]) -> None:
    assert import_projects(manager, _file(registry, SMALL), "json", publish=True).ok
    doc = json.loads(export_projects(manager, Project.objects.all(), "json"))
    doc["projects"][0]["stage"] = "discontinued"
    doc["projects"][0]["end_date"] = "2025-06-01"
    report = import_projects(manager, json.dumps(doc).encode(), "json", publish=True)
    assert (report.created, report.updated, report.unchanged) == (0, 1, SMALL - 1)
    pid = doc["projects"][0]["public_id"]
    assert _stored(pid)["version"] == 2
    assert [v.summary for v in RecordVersion.objects.filter(public_id=pid).order_by("version")] == ["import", "import"]


def test_row_error_is_a_value() -> None:
    assert RowError(3, "budget[0].year", "x") == RowError(3, "budget[0].year", "x")


@pytest.mark.parametrize(
    ("fmt", "doc"),
    [
        ("json", {"projects": [{"name": "x", "country": "KE", "budget": 5, "coverage": "here", "funders": 3}]}),
        ("json", {"projects": [7, None, [], {"name": {"a": 1}}], "products": [{"slug": 5}, "dhis2"]}),
        ("json", {"organisations": [{"slug": 1}, 5], "projects": []}),
        ("dha", [{"name": "x", "country": "KE", "x_dhnet": [1], "stages": "soon"}]),
        ("dha", [{"name": "x", "country": "KE", "software": 5, "coverage": [1, {"district": 2}], "dhis": ["a"]}]),
        ("dha", [{"interoperability_links": [5, {"id": None, "link": 7}], "stages": [{"id": "x"}, 3]}, "junk"]),
    ],
)
def test_junk_structures_are_row_errors_not_crashes(manager: Actor, fmt: str, doc: Any) -> None:
    report = import_projects(manager, json.dumps(doc).encode(), fmt)
    assert report.errors
    assert all(isinstance(e.row, int) and e.message for e in report.errors)
    assert Project.objects.count() == 0
