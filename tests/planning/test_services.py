"""Targets, the gap list from the published assessment, suggestions, the roadmap, needs, milestones, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.needs.models import Need
from dhnet.network.models import Organisation
from dhnet.planning import services
from dhnet.planning.models import Milestone, Roadmap, RoadmapItem, Target
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from tests.planning.helpers import RUBRIC, TARGETS, publish_de, world


@pytest.fixture
def w(users: dict[str, User]) -> dict[str, Any]:
    return world(users)


def planner(w: dict[str, Any]) -> Any:
    return w["actors"]["digital_health_planner"]


def test_the_gap_list_is_computed_from_the_latest_publication(w: dict[str, Any]) -> None:
    gaps = services.gaps("DE", RUBRIC)
    assert [(g.code, g.current, g.target, g.gap, g.priority) for g in gaps] == [
        ("21", 1, 4, 3, Decimal(6)),
        ("5", 3, 4, 1, Decimal(3)),  # priority 3 like 17: by code, 5 before 17
        ("17", 0, 3, 3, Decimal(3)),  # not available counts as 0
        ("21b", 1, 3, 2, Decimal("1.00")),
        ("1", 4, 3, 0, Decimal(0)),
    ]
    assert not next(g for g in gaps if g.code == "17").assessed
    # A newer year's publication moves the current phases.
    a = w["actors"]
    publish_de(a["digital_health_planner"], a["system_admin"], 2026, {str(n): 3 for n in range(1, 24)})
    assert [(g.code, g.current, g.gap) for g in services.gaps("DE", RUBRIC)][:2] == [("5", 3, 1), ("21", 3, 1)]


def test_targets_without_a_publication_count_every_phase_as_zero(w: dict[str, Any]) -> None:
    services.set_targets(planner(w), "DE", "gdhm-classic", [{"indicator": "3", "target_phase": 2, "target_year": 2026}])
    [gap] = services.gaps("DE", "classic")
    assert (gap.code, gap.current, gap.assessed, gap.gap) == ("3", 0, False, 2)


def test_set_targets_changes_only_what_differs_and_removes_with_an_empty_phase(w: dict[str, Any]) -> None:
    p = planner(w)
    before = AuditRecord.objects.filter(action="planning.target.set").count()
    assert services.set_targets(p, "DE", RUBRIC, TARGETS) == []  # the same again: nothing written
    assert AuditRecord.objects.filter(action="planning.target.set").count() == before
    changed = services.set_targets(
        p,
        "DE",
        RUBRIC,
        [
            {"indicator": "21", "target_phase": 5, "target_year": 2028, "weight": 2},
            {"indicator": "1", "target_phase": ""},
        ],
    )
    assert changed == ["21", "1"]
    assert Target.objects.filter(country="DE", rubric__code=RUBRIC).count() == 4
    assert Target.objects.get(country="DE", indicator__code="21", rubric__code=RUBRIC).target_phase == 5
    assert AuditRecord.objects.filter(action="planning.target.set").count() == before + 1


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"indicator": "99", "target_phase": 3, "target_year": 2026}],
            r"rows\[0\].indicator: '99' is not an indicator of gdhm-current",
        ),
        (
            [{"indicator": "2", "target_phase": 3, "target_year": 2026}, {"indicator": "3", "target_phase": 6}],
            r"rows\[1\].target_phase \(indicator 3\): 6 is not between 1 and 5",
        ),
        ([{"indicator": "2", "target_phase": 3}], r"rows\[0\].target_year \(indicator 2\): expected a whole number"),
        (
            [{"indicator": "2", "target_phase": 3, "target_year": 2026, "weight": "-1"}],
            r"rows\[0\].weight \(indicator 2\): '-1' is not a weight",
        ),
        ([{"indicator": "2", "target_phase": "x", "target_year": 2026}], r"target_phase \(indicator 2\): 'x' is not"),
        ([{"indicator": "2", "target_phase": 3, "target_year": 2026, "colour": 1}], r"rows\[0\].colour: unknown field"),
        (
            [{"indicator": "2", "target_phase": 3, "target_year": 2026}, {"indicator": "2", "target_phase": 4}],
            r"rows\[1\].indicator: 2 is also in rows\[0\]",
        ),
        ("nope", "targets: expected a list of rows"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_stored(w: dict[str, Any], rows: Any, message: str) -> None:
    before = list(Target.objects.order_by("id").values_list("indicator__code", "target_phase", "weight"))
    with pytest.raises(Invalid, match=message):
        services.set_targets(planner(w), "DE", RUBRIC, rows)
    assert list(Target.objects.order_by("id").values_list("indicator__code", "target_phase", "weight")) == before


def test_writing_needs_the_permission_and_the_country(w: dict[str, Any]) -> None:
    a = w["actors"]
    row = [{"indicator": "2", "target_phase": 3, "target_year": 2026}]
    with pytest.raises(Forbidden, match="requires planning:roadmap:write"):
        services.set_targets(a["knowledge_manager"], "DE", RUBRIC, row)  # administers, may not write roadmaps
    with pytest.raises(Forbidden, match="country: you do not administer KE"):
        services.set_targets(a["digital_health_planner"], "KE", RUBRIC, row)
    with pytest.raises(Invalid, match="country: 'XX' is not"):
        services.set_targets(a["digital_health_planner"], "XX", RUBRIC, row)
    with pytest.raises(Invalid, match="rubric: no rubric 'nope'"):
        services.set_targets(a["digital_health_planner"], "DE", "nope", row)
    services.set_targets(a["system_admin"], "KE", RUBRIC, row)  # a registry manager with the permission


def test_reading_is_for_the_country_admins_then_signed_in_users_once_shared(w: dict[str, Any]) -> None:
    a = w["actors"]
    assert services.targets(a["knowledge_manager"], "DE")  # registry manager: administers every country
    with pytest.raises(NotFound):
        services.gap_list(a["viewer"], "DE", RUBRIC)
    services.update_roadmap(planner(w), "DE", RUBRIC, {"shared": True})
    assert services.gap_list(a["viewer"], "DE", RUBRIC)[0].code == "21"
    with pytest.raises(NotFound):
        services.roadmap_view(services.Actor.anonymous(), "DE", RUBRIC)
    assert AuditRecord.objects.filter(action="planning.roadmap.read", object_id="DE/gdhm-current").exists()


def test_suggestions_country_first_then_region_then_others(w: dict[str, Any]) -> None:
    s = services.suggest("DE", RUBRIC, "21b")
    assert [(x.project.public_id, x.reach, x.matched) for x in s.projects] == [
        ("DE-AAAAAA", "country", 2),
        ("AT-BBBBBB", "region", 3),
        ("KE-CCCCCC", "other", 4),
    ]  # the draft DE project is never suggested
    assert [(x.product.slug, x.matched) for x in s.products] == [("crvs-suite", 2)]
    assert all(a.key.startswith("SO") for a in s.actions)


def test_a_project_tagged_in_the_2023_classification_counts_through_the_crosswalk(w: dict[str, Any]) -> None:
    from tests.needs.helpers import v2023_of
    from tests.planning.helpers import project

    project("FR-EEEEEE", "FR", [v2023_of("cdhi-v1:2.8.1")])  # workforce indicators name cdhi-v1:2.8.1
    assert "FR-EEEEEE" in [x.project.public_id for x in services.suggest("DE", RUBRIC, "11").projects]


def test_items_links_and_idempotent_retries(w: dict[str, Any]) -> None:
    p = planner(w)
    data = {
        "indicator": "21b",
        "title": "Electronic birth registration",
        "projects": ["DE-AAAAAA"],
        "products": ["crvs-suite"],
        "actions": ["SO1-MS-01"],
    }
    item, created = services.add_item(p, "DE", RUBRIC, data)
    assert created
    assert Roadmap.objects.filter(country="DE").count() == 1
    again, created = services.add_item(p, "DE", RUBRIC, data)
    assert (again.pk, created) == (item.pk, False)
    with pytest.raises(Conflict, match="already has an item 'Electronic birth registration' for indicator 21b"):
        services.add_item(p, "DE", RUBRIC, data | {"products": []})
    with pytest.raises(Invalid, match=r"projects\[0\]: no published atlas project 'DE-DDDDDD'"):
        services.add_item(p, "DE", RUBRIC, data | {"title": "Other", "projects": ["DE-DDDDDD"]})
    with pytest.raises(Invalid, match=r"actions\[1\]: no proposed action 'SO9-XX-01'"):
        services.add_item(p, "DE", RUBRIC, data | {"title": "Other", "actions": ["SO1-MS-01", "SO9-XX-01"]})
    assert RoadmapItem.objects.count() == 1
    services.update_item(p, "DE", item.pk, {"status": "in_progress", "projects": ["AT-BBBBBB", "DE-AAAAAA"]})
    data_now = services.item_data(RoadmapItem.objects.get(pk=item.pk))
    assert (data_now["status"], data_now["projects"]) == ("in_progress", ["AT-BBBBBB", "DE-AAAAAA"])
    with pytest.raises(Invalid, match="indicator: an item stays about its indicator"):
        services.update_item(p, "DE", item.pk, {"indicator": "21"})
    with pytest.raises(NotFound):
        services.update_item(w["actors"]["system_admin"], "KE", item.pk, {"status": "done"})  # DE's item


def test_open_need_records_a_maturity_gap_need_once(w: dict[str, Any]) -> None:
    p = planner(w)
    item, _ = services.add_item(p, "DE", RUBRIC, {"indicator": "21b", "description": "All births, online."})
    need, created = services.open_need(p, "DE", item.pk)
    assert created
    assert need.source == "maturity_gap"
    assert not need.public
    assert sorted(c.tag for c in need.challenges.all()) == ["hsc:1.1", "hsc:1.7"]
    assert need.title.startswith("Maturity gap 21b: ")
    assert services.open_need(p, "DE", item.pk) == (need, False)
    assert Need.objects.count() == 1
    assert RoadmapItem.objects.get(pk=item.pk).need_id == need.pk


def test_milestones_owners_progress_and_late(w: dict[str, Any], users: dict[str, User]) -> None:
    p = planner(w)
    item, _ = services.add_item(p, "DE", RUBRIC, {"indicator": "21"})
    org = Organisation.objects.create(slug="rki", name="Robert Koch Institute", kind="other")
    past, future = dt.date.today() - dt.timedelta(days=30), dt.date.today() + dt.timedelta(days=60)
    late, _ = services.add_milestone(
        p, "DE", item.pk, {"title": "Law drafted", "owner_name": "A. Jurist", "due_date": past.isoformat()}
    )
    done, _ = services.add_milestone(
        p,
        "DE",
        item.pk,
        {"title": "MPI chosen", "owner_organisation": "rki", "due_date": past.isoformat(), "done": True},
    )
    open_, _ = services.add_milestone(
        p, "DE", item.pk, {"title": "Pilot", "owner_user": "digital_health_planner", "due_date": future, "progress": 40}
    )
    assert (late.late, done.late, open_.late) == (True, False, False)
    assert (done.progress, done.owner, open_.owner) == (100, org.name, "digital_health_planner")
    with pytest.raises(Invalid, match="owner_name: name an owner"):
        services.add_milestone(p, "DE", item.pk, {"title": "No one", "due_date": future.isoformat()})
    with pytest.raises(Invalid, match="due_date: '2026-13-01' is not a date"):
        services.add_milestone(p, "DE", item.pk, {"title": "X", "owner_name": "Y", "due_date": "2026-13-01"})
    with pytest.raises(Invalid, match="progress: 120 is not between 0 and 100"):
        services.update_milestone(p, "DE", open_.pk, {"progress": 120})
    services.update_milestone(p, "DE", late.pk, {"done": True})
    view = services.roadmap_view(p, "DE", RUBRIC)
    s = view.summary
    assert (s.items, s.milestones, s.done, s.late, s.share_done) == (1, 3, 2, 0, 66.7)
    assert s.mean_progress == round((100 + 100 + 40) / 3, 1)
    assert Milestone.objects.get(pk=late.pk).done_at is not None


def test_exports(w: dict[str, Any]) -> None:
    p = planner(w)
    item, _ = services.add_item(p, "DE", RUBRIC, {"indicator": "21", "title": "=HYPERLINK(1)"})
    services.add_item(p, "DE", RUBRIC, {"indicator": "5"})
    services.add_milestone(p, "DE", item.pk, {"title": "Step", "owner_name": "Ana", "due_date": "2020-01-31"})
    view = services.roadmap_view(p, "DE", RUBRIC)
    data = services.export_data(view)
    assert data["assessment"]["year"] == 2025
    assert [g["indicator"] for g in data["gaps"]] == ["21", "5", "17", "21b", "1"]
    assert data["items"][0]["milestones"][0]["late"] is True
    assert data["summary"]["late"] == 1
    rows = list(csv.reader(io.StringIO(services.export_csv(view))))
    assert rows[0] == list(services.CSV_COLUMNS)
    assert rows[1][:3] == ["21", "'=HYPERLINK(1)", "planned"]  # no formula
    assert rows[1][7:] == ["Step", "Ana", "2020-01-31", "0", "no", "yes"]
    assert rows[2][0] == "5"
    assert rows[2][7:] == [""] * 6
