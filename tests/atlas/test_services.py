"""The registry services: create, idempotency, update, workflow, visibility, versions and diff."""

from __future__ import annotations

from typing import Any

import pytest

from dhnet.atlas import services
from dhnet.atlas.models import CountryAdmin, Project, RecordVersion
from dhnet.audit.models import AuditRecord
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from tests.atlas.helpers import PRODUCT, make_world, project_payload
from tests.platform.fixtures import actor_of


@pytest.fixture
def world(operator: Actor, users: dict[str, Any]) -> dict[str, Any]:
    world = make_world(operator)
    CountryAdmin.objects.create(user=users["digital_health_planner"], country="DE")
    world["partner"] = actor_of(users["partner"])
    world["planner"] = actor_of(users["digital_health_planner"])
    world["epi"] = actor_of(users["national_epidemiologist"])
    world["viewer"] = actor_of(users["viewer"])
    world["manager"] = actor_of(users["knowledge_manager"])
    return world


def test_create_project_round_trips_the_canonical_shape(world: dict[str, Any]) -> None:
    project = services.create_project(world["partner"], project_payload())
    data = services.project_data(project)
    assert data["public_id"].startswith("DE-")
    assert len(data["public_id"]) == 9
    assert services.PUBLIC_ID_RE.match(data["public_id"])
    assert data["status"] == "draft"
    assert data["version"] == 1
    sent = project_payload()
    for key, value in sent.items():
        if key in ("interventions",):
            assert data[key] == sorted(value)
        else:
            assert data[key] == value, key
    assert RecordVersion.objects.filter(kind="project", public_id=project.public_id).count() == 1
    assert AuditRecord.objects.filter(action="atlas.project.create", object_id=project.public_id).count() == 1
    assert project.team.filter(username="partner").exists()


def test_create_project_again_is_idempotent_and_a_different_one_conflicts(world: dict[str, Any]) -> None:
    first = services.create_project(world["partner"], project_payload())
    again = services.create_project(world["partner"], project_payload())
    assert again.pk == first.pk
    assert Project.objects.count() == 1
    assert RecordVersion.objects.filter(kind="project").count() == 1
    with pytest.raises(Conflict, match=first.public_id):
        services.create_project(world["partner"], project_payload(name="national hmis", stage="pilot"))


def test_update_identical_is_a_noop_and_a_change_is_a_new_version(world: dict[str, Any]) -> None:
    project = services.create_project(world["partner"], project_payload())
    same = services.update_project(world["partner"], project.public_id, {"name": "National HMIS"})
    assert same.version == 1
    changed = services.update_project(world["partner"], project.public_id, {"stage": "pilot", "funders": []})
    assert changed.version == 2
    changes = {c.field: c for c in services.diff(world["partner"], "project", project.public_id, 1, 2)}
    assert set(changes) == {"stage", "funders"}
    assert changes["stage"].before == "scale"
    assert changes["stage"].after == "pilot"
    assert changes["funders"].removed == ["gf"]
    assert changes["funders"].added == []


def test_product_create_is_idempotent_on_slug(world: dict[str, Any], operator: Actor) -> None:
    product, created = services.create_product(operator, PRODUCT)
    assert not created
    assert product.pk == world["product"].pk
    assert services.product_data(product)["public_id"].startswith("SW-")
    with pytest.raises(Conflict, match="dhis2"):
        services.create_product(operator, {**PRODUCT, "name": "Other"})
    updated = services.update_product(world["partner"], product.public_id, {"languages": ["en"]})
    assert updated.version == 2
    assert [v.version for v in services.versions(world["viewer"], "product", product.public_id)] == [1, 2]


def test_workflow_and_visibility(world: dict[str, Any]) -> None:
    partner, planner, epi = world["partner"], world["planner"], world["epi"]
    project = services.create_project(partner, project_payload())
    pid = project.public_id
    anonymous = Actor.anonymous()
    for outsider in (anonymous, epi, world["viewer"]):
        with pytest.raises(NotFound):
            services.get_project(outsider, pid)
    assert services.get_project(planner, pid).pk == project.pk  # the DE administrator
    with pytest.raises(Forbidden):
        services.approve(partner, pid)
    services.submit(partner, pid)
    with pytest.raises(Forbidden):
        services.update_project(partner, pid, {"stage": "pilot"})  # frozen for the team
    with pytest.raises(Conflict):
        services.publish(planner, pid)  # needs approval first
    services.approve(planner, pid, "fine")
    published = services.publish(planner, pid)
    assert published.status == "published"
    assert published.version == 4
    assert services.get_project(anonymous, pid).pk == project.pk
    # The team edits the published record: back to submitted; the public still sees the published snapshot.
    edited = services.update_project(partner, pid, {"stage": "pilot"})
    assert edited.status == "submitted"
    assert edited.version == 5
    view = services.project_view(anonymous, pid)
    assert not view.current
    assert view.data["stage"] == "scale"
    assert view.data["version"] == 4
    assert view.data["contact_email"] == ""
    assert [v.version for v in services.versions(anonymous, "project", pid)] == [4]
    assert [v.version for v in services.versions(partner, "project", pid)] == [1, 2, 3, 4, 5]
    with pytest.raises(NotFound):
        services.diff(anonymous, "project", pid, 1, 4)
    returned = services.return_to_draft(planner, pid, "please add the budget for 2023")
    assert returned.status == "draft"
    assert returned.status_note.startswith("please")
    with pytest.raises(Invalid, match="reason"):
        services.archive(planner, pid, "")
    archived = services.archive(planner, pid, "ended")
    assert archived.status == "archived"
    with pytest.raises(NotFound):
        services.project_view(anonymous, pid)


def test_country_admin_of_another_country_is_denied(world: dict[str, Any], users: dict[str, Any]) -> None:
    project = services.create_project(world["partner"], project_payload())
    CountryAdmin.objects.filter(user=users["digital_health_planner"]).update(country="KE")
    services.submit(world["partner"], project.public_id)
    with pytest.raises(NotFound):
        services.approve(world["planner"], project.public_id)
    assert services.approve(world["manager"], project.public_id).status == "approved"


def test_appoint_country_admin(world: dict[str, Any], operator: Actor, users: dict[str, Any]) -> None:
    _, created = services.appoint_country_admin(world["manager"], "digital_health_planner", "ke")
    assert created
    _, again = services.appoint_country_admin(world["manager"], "digital_health_planner", "KE")
    assert not again
    with pytest.raises(Invalid, match="username"):
        services.appoint_country_admin(world["manager"], "viewer", "KE")
    with pytest.raises(Forbidden):
        services.appoint_country_admin(world["planner"], "digital_health_planner", "FR")
    assert services.may_administer(world["planner"], "KE")
    assert not services.may_administer(world["planner"], "FR")


def test_canonical_shape_revalidates_to_itself_and_snapshots_match(world: dict[str, Any]) -> None:
    """The export shape is the input shape: validating a stored project's data gives back the same content."""
    project = services.create_project(world["partner"], project_payload())
    fresh = Project.objects.get(pk=project.pk)
    data = services.project_data(fresh)
    assert services.validate_project(data).data == services._project_content(fresh)
    snapshot = RecordVersion.objects.get(kind="project", public_id=project.public_id, version=1).snapshot
    assert snapshot == data
    target = services.create_project(world["partner"], project_payload(name="Target", coverage=[]))
    links = [{"kind": "client_registry", "target": target.public_id, "target_name": "", "standard": None}]
    services.update_project(world["partner"], project.public_id, {"interop_links": links, "metrics": []})
    latest = RecordVersion.objects.get(kind="project", public_id=project.public_id, version=2).snapshot
    assert latest == services.project_data(Project.objects.get(pk=project.pk))
    assert latest["interop_links"] == links


def test_public_ids_given_are_kept_when_free_and_never_reused(world: dict[str, Any]) -> None:
    kept = services.create_project(world["partner"], project_payload(public_id="DE-ABCDEF"))
    assert kept.public_id == "DE-ABCDEF"
    other = services.create_project(world["partner"], project_payload(name="Other", public_id="DE-ABCDEF"))
    assert other.public_id != "DE-ABCDEF"
    wrong_country = services.create_project(world["partner"], project_payload(name="Third", public_id="KE-ABCDEF"))
    assert wrong_country.public_id.startswith("DE-")
    spare, _ = services.create_product(world["manager"], {**PRODUCT, "slug": "spare", "name": "Spare", "owner": None})
    services.delete_product(world["manager"], spare.public_id)
    assert services.new_public_id("SW") != spare.public_id
    assert services._given_or_new_id(spare.public_id, "SW") != spare.public_id  # its versions keep it taken
    with pytest.raises(Conflict, match="used by"):
        services.delete_product(world["manager"], "dhis2")


def test_team_and_my_projects(world: dict[str, Any], users: dict[str, Any]) -> None:
    project = services.create_project(world["partner"], project_payload())
    members = services.set_team(world["partner"], project.public_id, ["national_epidemiologist"])
    assert [u.username for u in members] == ["national_epidemiologist", "partner"]  # the creator stays
    assert [p.public_id for p in services.my_projects(world["epi"])] == [project.public_id]
    edited = services.update_project(world["epi"], project.public_id, {"stage": "pilot"})  # now on the team
    assert edited.version == 2
    with pytest.raises(Invalid, match=r"team\[0\]"):
        services.set_team(world["partner"], project.public_id, ["nobody"])
    with pytest.raises(NotFound):
        services.set_team(world["viewer"], project.public_id, [])
