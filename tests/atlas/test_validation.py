"""validate_project / validate_product: every field's error names the field (its path), nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from dhnet.atlas import services
from dhnet.atlas.models import Project, RecordVersion
from dhnet.platform.access import Actor
from tests.atlas.helpers import PRODUCT, PROJECT, make_world, project_payload


@pytest.fixture
def world(operator: Actor, users: dict[str, Any]) -> dict[str, Any]:
    return make_world(operator)


def _row(name: str, index: int, **changes: Any) -> list[dict[str, Any]]:
    rows = [dict(r) for r in PROJECT[name]]
    rows[index].update(changes)
    return rows


BAD_PROJECTS = [
    ({"name": ""}, "name", "required"),
    ({"name": "x" * 251}, "name", "longer than 250"),
    ({"name": 5}, "name", "expected text"),
    ({"country": "XX"}, "country", "ISO 3166-1"),
    ({"country": None}, "country", "required"),
    ({"stage": "finished"}, "stage", "not one of"),
    ({"start_date": "2019-13-01"}, "start_date", "not a date"),
    ({"start_date": "1890-01-01"}, "start_date", "before 1970"),
    ({"end_date": "2090-01-01"}, "end_date", "ten years ahead"),
    ({"end_date": "2018-01-01"}, "end_date", "before start_date"),
    ({"national_scale": "yes"}, "national_scale", "true or false"),
    ({"contact_email": "not-an-address"}, "contact_email", "e-mail"),
    ({"links": {"repository": "ftp://x"}}, "links.repository", "http(s) URL"),
    ({"links": {"Bad Key": "https://x.org"}}, "links", "link name"),
    ({"links": ["https://x.org"]}, "links", "expected an object"),
    ({"products": ["nope"]}, "products[0]", "unknown product"),
    ({"products": "dhis2"}, "products", "expected a list"),
    ({"products": ["dhis2"] * 51}, "products", "more than 50"),
    ({"implementers": ["uio", "ghost"]}, "implementers[1]", "unknown organisation"),
    ({"funders": ["Not A Slug"]}, "funders[0]", "not a slug"),
    ({"interventions": ["hsc:1.1"]}, "interventions[0]", "cdhi-v1 or cdhi-2023"),
    ({"interventions": ["cdhi-v1:9.9.9"]}, "interventions[0]", "unknown tag"),
    ({"interventions": ["nocolon"]}, "interventions[0]", "<scheme>:<code>"),
    ({"challenges": ["cdhi-v1:1.1.1"]}, "challenges[0]", "hsc"),
    ({"system_categories": ["hsc:1.1"]}, "system_categories[0]", "system-category-v1"),
    ({"health_areas": ["standard:adx"]}, "health_areas[0]", "health-area"),
    ({"coverage": _row("coverage", 0, orgunit="NOPE")}, "coverage[0].orgunit", "unknown org unit"),
    ({"coverage": _row("coverage", 1, place="")}, "coverage[1]", "orgunit code or a place"),
    ({"coverage": _row("coverage", 0, clients=-1)}, "coverage[0].clients", "negative"),
    ({"coverage": _row("coverage", 0, facilities=1.5)}, "coverage[0].facilities", "whole number"),
    ({"coverage": _row("coverage", 0, colour="red")}, "coverage[0].colour", "not a field"),
    ({"interop_links": _row("interop_links", 0, kind="fax")}, "interop_links[0].kind", "not one of"),
    ({"interop_links": _row("interop_links", 0, target="KE-AAAAAA")}, "interop_links[0].target", "unknown project"),
    ({"interop_links": _row("interop_links", 0, target="KE-1")}, "interop_links[0].target", "identifier"),
    ({"interop_links": _row("interop_links", 0, target_name="")}, "interop_links[0]", "target"),
    ({"interop_links": _row("interop_links", 0, standard="hsc:1.1")}, "interop_links[0].standard", "standard"),
    ({"budget": _row("budget", 1, year=1890)}, "budget[1].year", "1890 is before 1990"),
    ({"budget": _row("budget", 1, year=2999)}, "budget[1].year", "is after"),
    ({"budget": _row("budget", 1, year="2020")}, "budget[1].year", "expected a year"),
    ({"budget": _row("budget", 0, amount="-1")}, "budget[0].amount", "negative"),
    ({"budget": _row("budget", 0, amount="1.005")}, "budget[0].amount", "more than 2 decimals"),
    ({"budget": _row("budget", 0, amount="lots")}, "budget[0].amount", "not an amount"),
    ({"budget": _row("budget", 0, amount="NaN")}, "budget[0].amount", "finite"),
    ({"budget": _row("budget", 0, amount="1e20")}, "budget[0].amount", "too large"),
    ({"budget": _row("budget", 0, currency="XYZ")}, "budget[0].currency", "ISO 4217"),
    ({"budget": _row("budget", 0, phase="maintenance")}, "budget[0].phase", "not one of"),
    ({"budget": _row("budget", 0, funder="ghost")}, "budget[0].funder", "unknown organisation"),
    ({"metrics": _row("metrics", 0, value=float("inf"))}, "metrics[0].value", "finite"),
    ({"metrics": _row("metrics", 0, value="12")}, "metrics[0].value", "expected a number"),
    ({"metrics": _row("metrics", 0, kind="impact")}, "metrics[0].kind", "not one of"),
    ({"metrics": _row("metrics", 0, metric="Active Users")}, "metrics[0].metric", "metric name"),
    ({"metrics": _row("metrics", 0, period_start=None)}, "metrics[0].period_start", "required"),
    ({"metrics": _row("metrics", 1, period_start="2021-01-01")}, "metrics[1]", "given twice"),
    ({"colour": "red"}, "colour", "not a field of a project"),
    ({"public_id": "nonsense"}, "public_id", "registry identifier"),
]


@pytest.mark.parametrize(("changes", "path", "problem"), BAD_PROJECTS, ids=[c[1] + ":" + c[2] for c in BAD_PROJECTS])
def test_every_project_field_error_is_named(
    world: dict[str, Any], operator: Actor, changes: dict[str, Any], path: str, problem: str
) -> None:
    with pytest.raises(services.FieldInvalid) as caught:
        services.validate_project(project_payload(**changes), where="projects[3]")
    assert caught.value.field == f"projects[3].{path}"
    assert problem in caught.value.problem
    assert caught.value.message.startswith(f"projects[3].{path}: ")
    with pytest.raises(services.FieldInvalid):
        services.create_project(operator, project_payload(**changes))
    assert Project.objects.count() == 0
    assert not RecordVersion.objects.filter(kind="project").exists()


def test_output_only_fields_are_ignored_and_defaults_apply(world: dict[str, Any]) -> None:
    inp = services.validate_project({"name": "Minimal", "country": "ke", "status": "published", "version": 9})
    assert inp.values["country"] == "KE"
    assert inp.data["stage"] == "planning"
    assert inp.data["budget"] == []
    assert inp.public_id is None


def test_lists_are_capped(world: dict[str, Any]) -> None:
    rows = [{"place": f"p{i}"} for i in range(services.MAX_COVERAGE + 1)]
    with pytest.raises(services.FieldInvalid, match=r"^coverage: more than 5000"):
        services.validate_project(project_payload(coverage=rows))


BAD_PRODUCTS = [
    ({"slug": "Not A Slug"}, "slug", "not a slug"),
    ({"name": ""}, "name", "required"),
    ({"licence": "GPL 3 ++ weird!"}, "licence", "SPDX"),
    ({"website": "javascript:alert(1)"}, "website", "http(s) URL"),
    ({"dpg_status": "maybe"}, "dpg_status", "not one of"),
    ({"maturity": "old"}, "maturity", "not one of"),
    ({"standards": ["cdhi-v1:1.1.1"]}, "standards[0]", "standard"),
    ({"languages": ["english"]}, "languages[0]", "ISO 639-1"),
    ({"offline": 1}, "offline", "true or false"),
    ({"owner": "ghost"}, "owner", "unknown organisation"),
]


@pytest.mark.parametrize(("changes", "path", "problem"), BAD_PRODUCTS, ids=[c[1] for c in BAD_PRODUCTS])
def test_every_product_field_error_is_named(
    world: dict[str, Any], changes: dict[str, Any], path: str, problem: str
) -> None:
    with pytest.raises(services.FieldInvalid) as caught:
        services.validate_product({**PRODUCT, "slug": "other", **changes})
    assert caught.value.field == path
    assert problem in caught.value.problem


def test_valid_licence_expressions(world: dict[str, Any]) -> None:
    for licence in (
        "proprietary",
        "Apache-2.0",
        "GPL-2.0-or-later WITH Classpath-exception-2.0",
        "MIT OR BSD-3-Clause",
    ):
        assert services.validate_product({**PRODUCT, "licence": licence}).values["licence"] == licence
