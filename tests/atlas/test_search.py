"""Search of the registry: every filter, the disjunctive facets, the crosswalk, sort, pages, visibility and errors,
on the hand-checked registry of ``explore_world`` (counts in its docstring)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dhnet.atlas import services
from dhnet.atlas.search import ProjectFilters, search_projects
from dhnet.audit.models import AuditRecord
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid
from tests.atlas.explore_world import make_registry
from tests.platform.fixtures import actor_of

pytestmark = pytest.mark.django_db
ANON = Actor.anonymous()


@pytest.fixture
def registry(tree: Any, operator: Actor) -> dict[str, Any]:
    return make_registry(operator)


def ids(filters: ProjectFilters, actor: Actor = ANON, **kw: Any) -> list[str]:
    return [p.public_id for p in search_projects(actor, filters, per_page=100, **kw).projects]


def facet(result: Any, name: str) -> dict[str, int]:
    return {v.value: v.count for f in result.facets if f.name == name for v in f.values}


def test_no_filter_lists_published_projects_with_exact_facets(registry: Any) -> None:
    result = search_projects(ANON, ProjectFilters())
    assert result.total == 5
    assert [p.public_id for p in result.projects] == ["DE-NAT222", "DE-SRV222", "KE-EMR222", "KE-HMS222", "UG-CHW222"]
    assert facet(result, "country") == {"KE": 2, "DE": 2, "UG": 1}
    assert list(facet(result, "stage").items()) == [
        ("pilot", 1),
        ("deployment", 1),
        ("scale", 2),
        ("institutionalised", 1),
    ]
    assert facet(result, "funder") == {"gf": 3, "usaid": 1, "gavi": 1}
    assert facet(result, "product") == {"openmrs": 3, "dhis2": 2, "commcare": 1}
    assert facet(result, "standard") == {"standard:hl7-fhir": 4, "standard:adx": 2}
    assert facet(result, "licence") == {"mpl-2.0": 3, "bsd-3-clause": 2, "proprietary": 1}
    assert facet(result, "open_source") == {"true": 4, "false": 1}
    assert facet(result, "intervention") == {
        "cdhi-v1:1.1.1": 1,
        "cdhi-v1:1.1.2": 1,
        "cdhi-v1:1.4.1": 1,
        "cdhi-2023:1.1.1": 1,
        "cdhi-2023:1.4.1": 1,
    }
    assert facet(result, "challenge") == {"hsc:1.1": 2, "hsc:1.2": 1, "hsc:2.1": 1}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (ProjectFilters(countries=("KE",)), ["KE-EMR222", "KE-HMS222"]),
        (ProjectFilters(countries=("ke", "UG")), ["KE-EMR222", "KE-HMS222", "UG-CHW222"]),
        (ProjectFilters(stages=("scale",)), ["DE-SRV222", "KE-HMS222"]),
        (ProjectFilters(funders=("gf",)), ["DE-SRV222", "KE-HMS222", "UG-CHW222"]),
        (ProjectFilters(products=("openmrs",)), ["DE-NAT222", "DE-SRV222", "KE-EMR222"]),
        (ProjectFilters(standards=("standard:adx",)), ["DE-SRV222", "KE-HMS222"]),
        (ProjectFilters(licences=("MPL-2.0",)), ["DE-NAT222", "DE-SRV222", "KE-EMR222"]),
        (ProjectFilters(open_source=False), ["UG-CHW222"]),
        (ProjectFilters(open_source=True), ["DE-NAT222", "DE-SRV222", "KE-EMR222", "KE-HMS222"]),
        (ProjectFilters(challenges=("hsc:1.1",)), ["DE-SRV222", "KE-HMS222"]),
        (ProjectFilters(challenges=("hsc:1",)), ["DE-SRV222", "KE-EMR222", "KE-HMS222"]),  # a group: below it
        (ProjectFilters(countries=("KE",), stages=("scale",)), ["KE-HMS222"]),
        (ProjectFilters(countries=("DE",), funders=("gf",), products=("dhis2",)), ["DE-SRV222"]),
        (ProjectFilters(q="kenya"), ["KE-EMR222", "KE-HMS222"]),  # the draft's name says Kenya too
        (ProjectFilters(q="global fund"), ["DE-SRV222", "KE-HMS222", "UG-CHW222"]),  # a funder's name
        (ProjectFilters(q="OpenMRS"), ["DE-NAT222", "DE-SRV222", "KE-EMR222"]),  # a product's name
        (ProjectFilters(q="oslo"), ["KE-HMS222", "UG-CHW222"]),  # an implementer's name
        (ProjectFilters(q="households"), ["UG-CHW222"]),  # the description
        (ProjectFilters(q="ke-emr222"), ["KE-EMR222"]),  # the public id
        (ProjectFilters(q="kenya records"), ["KE-EMR222"]),  # every word must occur
        (ProjectFilters(q="secret"), []),  # only the draft has it
    ],
    ids=repr,
)
def test_filters(registry: Any, filters: ProjectFilters, expected: list[str]) -> None:
    assert ids(filters) == expected


def test_interventions_through_the_crosswalk_and_below(registry: Any) -> None:
    # 2023 code -> the v1 project tagged with its equivalent, and the 2023 one itself
    assert ids(ProjectFilters(interventions=("cdhi-2023:1.1.1",))) == ["DE-NAT222", "KE-HMS222"]
    assert ids(ProjectFilters(interventions=("cdhi-v1:1.1.1",))) == ["DE-NAT222", "KE-HMS222"]
    assert ids(ProjectFilters(interventions=("cdhi-v1:1.4.1",))) == ["KE-EMR222", "UG-CHW222"]
    # a category finds what is tagged below it, in both editions
    assert ids(ProjectFilters(interventions=("cdhi-v1:1.1",))) == ["DE-NAT222", "DE-SRV222", "KE-HMS222"]
    assert ids(ProjectFilters(interventions=("cdhi-2023:1.1",))) == ["DE-NAT222", "DE-SRV222", "KE-HMS222"]


def test_facets_are_disjunctive(registry: Any) -> None:
    result = search_projects(ANON, ProjectFilters(countries=("KE",), stages=("scale",)))
    assert result.total == 1
    # the country facet ignores the country filter but keeps the stage filter, and the other way round
    assert facet(result, "country") == {"KE": 1, "DE": 1}
    assert facet(result, "stage") == {"scale": 1, "pilot": 1}
    assert facet(result, "funder") == {"gf": 1}
    selected = {v.value for f in result.facets for v in f.values if v.selected}
    assert selected == {"KE", "scale"}


def test_sort_and_pages(registry: Any) -> None:
    assert ids(ProjectFilters(), sort="stage") == ["DE-NAT222", "DE-SRV222", "KE-HMS222", "UG-CHW222", "KE-EMR222"]
    assert ids(ProjectFilters(), sort="country") == ["DE-NAT222", "DE-SRV222", "KE-EMR222", "KE-HMS222", "UG-CHW222"]
    page = search_projects(ANON, ProjectFilters(), page=3, per_page=2)
    assert (page.total, page.pages, page.first, page.last) == (5, 3, 5, 5)
    assert [p.public_id for p in page.projects] == ["UG-CHW222"]
    assert search_projects(ANON, ProjectFilters(), page=4, per_page=2).projects == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"filters": ProjectFilters(stages=("bogus",))}, "stage: 'bogus'"),
        ({"filters": ProjectFilters(countries=("Kenya",))}, "country: 'KENYA'"),
        ({"filters": ProjectFilters(interventions=("hsc:1.1",))}, "intervention: 'hsc:1.1' is not a tag of cdhi-v1"),
        ({"filters": ProjectFilters(interventions=("cdhi-v1:9.9.9",))}, "intervention: unknown tag"),
        ({"filters": ProjectFilters(products=("nope",))}, "product: no product 'nope'"),
        ({"filters": ProjectFilters(funders=("nobody",))}, "funder: no funder 'nobody'"),
        ({"filters": ProjectFilters(status=("lost",))}, "status: 'lost'"),
        ({"filters": ProjectFilters(), "sort": "price"}, "sort: 'price'"),
        ({"filters": ProjectFilters(), "per_page": 0}, "per_page"),
        ({"filters": ProjectFilters(q="x" * 201)}, "q: at most 200"),
    ],
)
def test_bad_filters_name_the_field(registry: Any, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message.replace("(", r"\(").replace(".", r"\.")):
        search_projects(ANON, **kw)


def test_drafts_only_for_the_countrys_administrators(registry: Any, users: dict[str, Any], operator: Actor) -> None:
    with pytest.raises(Forbidden):
        search_projects(ANON, ProjectFilters(status=("draft",)))
    planner = actor_of(users["digital_health_planner"])
    with pytest.raises(Forbidden):  # approves nowhere until appointed
        search_projects(planner, ProjectFilters(status=("draft",)))
    services.appoint_country_admin(operator, "digital_health_planner", "DE")
    assert ids(ProjectFilters(status=("draft",)), planner) == []  # the draft is Kenya's
    services.appoint_country_admin(operator, "digital_health_planner", "KE")
    before = AuditRecord.objects.filter(action="atlas.project.search").count()
    assert ids(ProjectFilters(status=("draft",)), planner) == ["KE-DRAFT2"]
    assert ids(ProjectFilters(status=("draft", "published"), countries=("KE",)), planner) == [
        "KE-DRAFT2",
        "KE-EMR222",
        "KE-HMS222",
    ]
    assert AuditRecord.objects.filter(action="atlas.project.search").count() == before + 2
    manager = actor_of(users["knowledge_manager"])  # atlas:registry:manage: every country
    assert ids(ProjectFilters(status=("draft",)), manager) == ["KE-DRAFT2"]


def test_page_and_api(registry: Any) -> None:
    client = Client()
    page = client.get("/atlas/?country=KE&product=dhis2")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Kenya HMIS" in body
    assert "Kenya EMR" not in body
    assert "secret" not in body
    assert 'data-value="openmrs"' in body  # the product facet still offers OpenMRS (disjunctive)
    bad = client.get("/atlas/?stage=bogus")
    assert bad.status_code == 400
    assert "stage: &#x27;bogus&#x27;" in bad.content.decode()
    api = client.get("/api/v1/atlas/search?country=KE,UG&sort=name&per_page=2").json()
    assert api["total"] == 3
    assert api["pages"] == 2
    assert [p["public_id"] for p in api["projects"]] == ["KE-EMR222", "KE-HMS222"]
    assert api["projects"][1]["products"] == [{"slug": "dhis2", "name": "DHIS2"}]
    countries = next(f for f in api["facets"] if f["name"] == "country")
    assert {v["value"]: v["count"] for v in countries["values"]} == {"KE": 2, "DE": 2, "UG": 1}
    err = client.get("/api/v1/atlas/search?open_source=maybe")
    assert err.status_code == 400
    assert err.json()["detail"].startswith("open_source:")
    assert client.get("/api/v1/atlas/search?status=draft").status_code == 403


@pytest.mark.parametrize(
    "filters",
    [
        ProjectFilters(),
        ProjectFilters(countries=("KE", "DE"), open_source=True),
        ProjectFilters(interventions=("cdhi-2023:1.1",), funders=("gf",)),
        ProjectFilters(standards=("standard:hl7-fhir",), licences=("mpl-2.0",), q="germany"),
        ProjectFilters(challenges=("hsc:1",), open_source=False),
    ],
    ids=repr,
)
def test_index_agrees_with_the_database_query(registry: Any, filters: ProjectFilters) -> None:
    """The in-memory index (search) and the SQL conditions (map, portfolio) select the same projects."""
    from dhnet.atlas.search import filtered_projects

    by_sql = sorted(filtered_projects(ANON, filters).values_list("public_id", flat=True))
    assert sorted(ids(filters)) == by_sql


def test_crosswalk_of_the_index_is_the_taxonomy_services(registry: Any) -> None:
    from dhnet.atlas.search import equivalent_ids, project_index
    from dhnet.taxonomy import services as taxonomy

    index = project_index()
    for tag in ("cdhi-v1:1.1.1", "cdhi-2023:1.4.1", "cdhi-v1:2.2.1"):
        concept = taxonomy.resolve_tags([tag])[0]
        expected = {c.pk for c in taxonomy.equivalents([concept])}
        assert equivalent_ids(index, [concept.pk]) == expected, tag  # leaf interventions: nothing below


def test_the_index_follows_every_change(registry: Any, operator: Actor) -> None:
    assert ids(ProjectFilters(products=("commcare",))) == ["UG-CHW222"]
    services.update_project(operator, "KE-EMR222", {"products": ["commcare"], "name": "Kenya EMR on CommCare"})
    assert ids(ProjectFilters(products=("commcare",))) == ["KE-EMR222", "UG-CHW222"]
    assert search_projects(ANON, ProjectFilters(countries=("KE",))).hits[0].products == [
        {"slug": "commcare", "name": "CommCare"}
    ]
    services.archive(operator, "UG-CHW222", "replaced")
    assert ids(ProjectFilters(products=("commcare",))) == ["KE-EMR222"]
    services.update_product(operator, "commcare", {"licence": "Apache-2.0", "open_source": True})
    assert ids(ProjectFilters(licences=("apache-2.0",))) == ["KE-EMR222"]
