"""``dhnet atlas generate|import|export`` and the atlas demo (``dhnet.atlas.demo.load_demo``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dhnet.atlas import services
from dhnet.atlas.demo import german_projects, load_demo
from dhnet.atlas.models import CountryAdmin, Product, Project, RecordVersion
from dhnet.audit.models import AuditRecord
from dhnet.cli import main
from dhnet.platform.access import Actor

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["atlas", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_generate_import_export_from_the_command_line(tmp_path: Path) -> None:
    file = tmp_path / "registry.json"
    code, _, err = _run("generate", "--projects", "60", "--countries", "6", "--seed", "4", "-o", str(file))
    assert code == 0, err
    assert len(json.loads(file.read_text())["projects"]) == 60
    code, out, err = _run("import", str(file), "--publish")
    assert code == 0, err
    assert "projects: 60 created, 0 updated, 0 unchanged" in out
    assert AuditRecord.objects.filter(action="atlas.project.create", actor_username__startswith="cli:").exists()
    code, out, _ = _run("import", str(file), "--publish")
    assert "projects: 0 created, 0 updated, 60 unchanged" in out
    exported = tmp_path / "out.csv"
    code, _, err = _run("export", "--format", "csv", "-o", str(exported), "--country", "KE")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(exported.read_text())))
    assert len(rows) == 10
    assert {r["country"] for r in rows} == {"KE"}
    code, out, _ = _run("export", "--format", "dha")
    assert len(json.loads(out)) == 60


def test_a_bad_file_is_a_table_of_problems_and_exit_status_1(tmp_path: Path) -> None:
    file = tmp_path / "bad.csv"
    file.write_text("name,country,stage\nA,KE,pilot\nB,KE,finished\n,UG,pilot\n")
    code, _, err = _run("import", str(file))
    assert code == 1
    assert "nothing imported: 2 problem(s)" in err
    assert "3\tstage\t" in err
    assert "4\tname\t" in err
    assert Project.objects.count() == 0


def test_import_as_a_user_without_the_permission_fails(tmp_path: Path, users: dict[str, Any]) -> None:
    file = tmp_path / "r.json"
    assert _run("generate", "--projects", "3", "--countries", "1", "-o", str(file))[0] == 0
    result = CliRunner().invoke(main, ["atlas", "import", str(file), "--as", "viewer"])
    assert result.exit_code == 1
    assert "requires atlas:project:write" in result.stderr
    result = CliRunner().invoke(main, ["atlas", "import", str(file), "--as", "nobody"])
    assert "no active user 'nobody'" in result.stderr


def test_generate_load_stores_with_the_bulk_loader() -> None:
    code, _, err = _run("generate", "--projects", "40", "--countries", "4", "--load")
    assert code == 0, err
    assert "stored: 40 project(s)" in err
    assert Project.objects.filter(status="published").count() == 40


def test_demo_loads_germany_and_the_generated_registry_once(operator: Actor, users: dict[str, Any]) -> None:
    from dhnet.accounts import services as accounts
    from dhnet.orgunits import services as orgunits

    accounts.create_user(operator, "demo-planner", role="digital_health_planner", orgunit_code="DE")
    for code, name in [("DE-BY", "Bavaria"), ("DE-BE", "Berlin")]:
        orgunits.create_unit(operator, code=code, name=name, parent_code="DE", population=1000)
    line = load_demo(operator)
    assert "demo-planner administers DE" in line
    assert "German systems 3 new" in line
    assert "generated registry 500 new project(s)" in line
    assert CountryAdmin.objects.filter(user__username="demo-planner", country="DE").exists()
    assert Product.objects.filter(slug__in=["demis", "survnet", "sormas"]).count() == 3
    german = {p["public_id"] for p in german_projects()}
    anonymous = Actor.anonymous()
    visible = set(services.visible_projects(anonymous).filter(country="DE").values_list("public_id", flat=True))
    assert visible == german
    demis = services.project_data(Project.objects.get(public_id="DE-DEM7S2"))
    assert demis["interop_links"][0]["target"] == "DE-SVN3T9"
    assert [c["orgunit"] for c in demis["coverage"]] == ["DE-BY", "DE-BE"]  # the demo's states that exist here
    assert all("illustrative" in b["note"] for b in demis["budget"])
    assert Project.objects.count() == 503
    before = (Project.objects.count(), RecordVersion.objects.count())
    again = load_demo(operator)
    assert "German systems 0 new, 3 unchanged" in again
    assert "generated registry 0 new project(s)" in again
    assert (Project.objects.count(), RecordVersion.objects.count()) == before
