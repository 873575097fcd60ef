"""The generated registry: deterministic, realistic (real products with their licences, CDHI/HSC tags consistent
with the products, a stage mix, budgets by TCO phase, metrics, links within a country), and the fast bulk loader
that stores exactly what the import path stores."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from dhnet.atlas import services
from dhnet.atlas.generate import (
    COUNTRIES,
    ID_ALPHABET,
    MARK,
    PRODUCTS,
    generate_registry,
    load_generated,
)
from dhnet.atlas.models import Project, RecordVersion
from dhnet.audit.models import AuditRecord
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden
from tests.platform.fixtures import actor_of


def test_same_seed_same_registry_other_seed_other_registry() -> None:
    a = json.dumps(generate_registry(300, 20, seed=7))
    assert a == json.dumps(generate_registry(300, 20, seed=7))
    assert a != json.dumps(generate_registry(300, 20, seed=8))


def test_the_registry_is_realistic() -> None:
    reg = generate_registry(500, 30, seed=1)
    projects = reg["projects"]
    assert len(projects) == 500
    assert {p["country"] for p in projects} == {code for code, _ in COUNTRIES[:30]}
    assert len({p["public_id"] for p in projects}) == 500
    assert len({(p["country"], p["name"].lower()) for p in projects}) == 500
    assert ID_ALPHABET == services.ID_ALPHABET
    assert all(services.PUBLIC_ID_RE.match(p["public_id"]) for p in projects)
    stages = Counter(p["stage"] for p in projects)
    assert set(stages) == {
        "planning",
        "development",
        "pilot",
        "deployment",
        "scale",
        "institutionalised",
        "discontinued",
    }
    assert stages["scale"] > stages["planning"]
    specs = {s.slug: s for s in PRODUCTS}
    dhis2 = specs["dhis2"]
    assert (dhis2.licence, dhis2.dpg_status, dhis2.open_source) == ("BSD-3-Clause", "dpg", True)
    for p in projects:
        assert MARK in p["description"]
        offered = {t for s in p["products"] for t in specs[s].interventions}
        assert set(p["interventions"]) <= offered  # consistent with the products
        assert set(p["challenges"]) <= {t for s in p["products"] for t in specs[s].challenges}
        assert p["products"] == sorted(p["products"])
        phases = {b["phase"] for b in p["budget"]}
        assert "planning_development" in phases
        if p["stage"] in ("scale", "institutionalised"):
            assert phases == {"planning_development", "deployment", "scaling", "operations"}
        assert all(b["funder"] in p["funders"] for b in p["budget"])
        assert f"moh-{p['country'].lower()}" in p["funders"]
        if p["stage"] in ("planning", "development"):
            assert p["metrics"] == []
        ids_here = {q["public_id"] for q in projects if q["country"] == p["country"]}
        assert all(link["target"] in ids_here for link in p["interop_links"] if link["target"])
    assert sum(len(p["interop_links"]) for p in projects) > 100
    assert all("(example)" in o["name"] or o["name"].startswith("Ministry of Health of") for o in reg["organisations"])


def test_ten_thousand_projects_are_generated_fast() -> None:
    t0 = time.perf_counter()
    reg = generate_registry(10_000, 40, seed=1)
    assert len(reg["projects"]) == 10_000
    assert time.perf_counter() - t0 < 10


@pytest.fixture
def manager(users: dict[str, Any]) -> Actor:
    return actor_of(users["knowledge_manager"])


def test_bulk_loader_stores_what_the_import_path_stores(manager: Actor) -> None:
    reg = generate_registry(300, 30, seed=3)
    audit = AuditRecord.objects.count()
    counts = load_generated(manager, reg)
    assert counts == {"organisations": len(reg["organisations"]), "products": len(reg["products"]), "projects": 300}
    assert AuditRecord.objects.count() - audit == 1 + len(reg["products"])  # one for the batch, one per product
    for generated in reg["projects"]:
        project = Project.objects.get(public_id=generated["public_id"])
        stored = services.project_data(project)
        assert stored == {**stored, **generated}
        assert (stored["status"], stored["version"]) == ("published", 1)
        snapshot = RecordVersion.objects.get(kind="project", public_id=project.public_id).snapshot
        assert snapshot == stored  # (key order is the database's: PostgreSQL's jsonb keeps its own)
    assert services.get_project(Actor.anonymous(), reg["projects"][0]["public_id"]).status == "published"
    # again: nothing new
    assert load_generated(manager, reg) == {"organisations": 0, "products": 0, "projects": 0}
    assert Project.objects.count() == 300


def test_bulk_loader_as_drafts_and_only_for_registry_managers(users: dict[str, Any], manager: Actor) -> None:
    reg = generate_registry(20, 5, seed=2)
    with pytest.raises(Forbidden):
        load_generated(actor_of(users["digital_health_planner"]), reg)
    load_generated(manager, reg, publish=False)
    assert set(Project.objects.values_list("status", flat=True)) == {"draft"}
    assert services.visible_projects(Actor.anonymous()).count() == 0
