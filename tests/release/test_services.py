"""Released datasets wired to the case reports: suppressed and noisy tables, the budget ledger, line lists.

Real database (SQLite and PostgreSQL), real OpenDP; the attacks on released tables use only what an API reader gets.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.audit import services as audit_services
from dhnet.audit.models import AuditRecord, AuditSubject
from dhnet.consent import services as consent
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Invalid, NotFound
from dhnet.release import kanon, services
from dhnet.release.models import BudgetSpend, LineListExport, Publication, ReleasedDataset
from dhnet.release.suppression import feasible_intervals, is_consistent
from tests.platform.fixtures import actor_of, login
from tests.release.helpers import MONDAY, add_case, add_counts, pseudonym
from tests.release.test_suppression import integer_attack


def spec(**changes: Any) -> services.DatasetSpec:
    values: dict[str, Any] = {
        "slug": "measles-w",
        "title": "Measles by district and week",
        "disease": "measles",
        "area": "DE",
        "level": 3,
        "period_start": MONDAY,
        "period_end": MONDAY + dt.timedelta(days=27),  # four ISO weeks
    }
    return services.DatasetSpec(**(values | changes))


@pytest.fixture
def epi(users: dict[str, User]) -> Actor:
    return actor_of(users["national_epidemiologist"])


# --- suppressed tables --------------------------------------------------------------------------------------------


def test_published_table_counts_cases_per_district_and_week_and_hides_small_cells(epi: Actor) -> None:
    add_counts([("D11", 0, 12), ("D11", 1, 9), ("D11", 2, 3), ("D12", 0, 8), ("D12", 1, 10), ("D12", 2, 11)])
    add_counts([("D21", 0, 6), ("D21", 1, 2), ("D21", 2, 14), ("D21", 3, 7)], start=500)
    add_case(900, "D11", onset=MONDAY - dt.timedelta(days=1))  # before the period: not counted
    add_case(901, "D11", disease="cholera")  # another disease: not counted
    services.create_dataset(epi, spec())
    publication, created = services.publish(epi, "measles-w")
    assert created
    assert publication.row_labels == [["D11", "District 11"], ["D12", "District 12"], ["D21", "District 21"]]
    assert publication.column_labels == ["2024-W10", "2024-W11", "2024-W12", "2024-W13"]
    grid = publication.grid
    assert grid[-1][-1] == 82  # the grand total is published
    assert grid[0][2] is None  # 3 cases
    assert grid[2][1] is None  # 2 cases
    assert grid[0][0] == 12
    assert publication.info["threshold"] == 5
    assert publication.info["suppressed"] == len([v for row in grid for v in row if v is None])
    assert is_consistent(grid)
    # The attack (an integer program on what a reader gets): no suppressed cell narrows below the protection width.
    attack = integer_attack(grid)
    assert len(attack) == publication.info["suppressed"]
    for lo, hi in attack.values():
        assert hi - lo >= 5
    # Which cells were small (primary) is not published, only how many cells are hidden.
    assert set(publication.info) == {"rows", "columns", "threshold", "protection", "zeros_sensitive", "suppressed"}
    detail = AuditRecord.objects.get(action="release.publication.create").detail
    assert detail["primary"] == 2


def test_publishing_an_unchanged_table_returns_the_earlier_version(epi: Actor) -> None:
    add_counts([("D11", 0, 12), ("D12", 1, 3)])
    services.create_dataset(epi, spec())
    first, created = services.publish(epi, "measles-w")
    again, created_again = services.publish(epi, "measles-w")
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert Publication.objects.count() == 1
    add_case(999, "D21")
    third, created_third = services.publish(epi, "measles-w")
    assert created_third
    assert third.version == 2


def test_zeros_can_be_declared_sensitive_and_the_three_way_table_is_flattened(epi: Actor) -> None:
    n = add_counts([("D11", 0, 10), ("D12", 0, 10), ("D21", 0, 10)])
    for i in range(6):
        add_case(n + i, "D11", sex="male", onset=MONDAY + dt.timedelta(weeks=1))
    services.create_dataset(epi, spec(by_sex=True, zeros_sensitive=True, slug="by-sex"))
    publication, _ = services.publish(epi, "by-sex")
    assert publication.column_labels[:4] == ["2024-W10 female", "2024-W10 male", "2024-W10 other", "2024-W10 unknown"]
    assert len(publication.column_labels) == 16
    flat = [v for row in publication.grid for v in row]
    assert 0 not in flat  # every zero is hidden as a small cell
    assert publication.grid[-1][-1] == 36
    for lo, hi in feasible_intervals(publication.grid).values():
        assert hi - lo >= 5


def test_region_rows_sum_their_districts(epi: Actor) -> None:
    add_counts([("D11", 0, 6), ("D12", 0, 7), ("D21", 0, 9)])
    services.create_dataset(epi, spec(level=2, slug="regions", time_unit="month"))
    publication, _ = services.publish(epi, "regions")
    assert publication.row_labels == [["R1", "Region 1"], ["R2", "Region 2"]]
    assert publication.column_labels == ["2024-03"]
    assert publication.grid == [[13, 13], [9, 9], [22, 22]]


# --- differential privacy -----------------------------------------------------------------------------------------


def test_noisy_publications_spend_the_budget_and_a_query_over_it_is_refused(epi: Actor) -> None:
    add_counts([("D11", 0, 12), ("D12", 1, 3)])
    services.create_dataset(epi, spec(method="dp", epsilon_budget=1.0, epsilon_per_release=0.4, slug="noisy"))
    first, _ = services.publish(epi, "noisy")
    assert first.info["epsilon"] == pytest.approx(0.4)
    assert first.info["noise_scale"] == pytest.approx(2.5)
    assert all(isinstance(v, int) and v >= 0 for row in first.grid for v in row)
    assert all(row[-1] == sum(row[:-1]) for row in first.grid)
    assert first.grid[-1] == [sum(r[j] for r in first.grid[:-1]) for j in range(len(first.grid[0]))]
    # unchanged data: the same noisy table again, no spend (no averaging of fresh noise)
    again, created = services.publish(epi, "noisy")
    assert not created
    assert again.pk == first.pk
    assert BudgetSpend.objects.count() == 1
    add_case(900, "D21")
    services.publish(epi, "noisy")
    ledger = services.budget(epi, "noisy")
    assert ledger.spent == pytest.approx(0.8)
    add_case(901, "D21")
    with pytest.raises(Conflict, match=r"privacy budget exhausted — 0.8 of 1 epsilon spent, this release needs 0.4"):
        services.publish(epi, "noisy")
    assert Publication.objects.filter(dataset__slug="noisy").count() == 2
    assert AuditRecord.objects.filter(action="release.publication.create").count() == 2


def test_the_api_refuses_a_query_over_budget_with_409(users: dict[str, User], epi: Actor) -> None:
    add_counts([("D11", 0, 12)])
    services.create_dataset(epi, spec(method="dp", epsilon_budget=0.5, epsilon_per_release=0.5, slug="once"))
    client = login(Client(), users["national_epidemiologist"])
    assert client.post("/api/v1/release/datasets/once/publish").status_code == 201
    add_case(900, "D21")
    answer = client.post("/api/v1/release/datasets/once/publish")
    assert answer.status_code == 409
    assert "privacy budget exhausted" in answer.json()["detail"]
    budget = client.get("/api/v1/release/datasets/once/budget").json()
    assert budget["spent"] == pytest.approx(0.5)
    assert budget["remaining"] == 0
    assert len(budget["spends"]) == 1
    page = client.post("/release/once/publish/")
    assert page.status_code == 409
    assert b"privacy budget exhausted" in page.content


def test_partners_read_published_tables_but_never_line_lists(users: dict[str, User], epi: Actor) -> None:
    add_counts([("D11", 0, 12), ("D12", 0, 2)])
    services.create_dataset(epi, spec())
    services.publish(epi, "measles-w")
    partner = login(Client(), users["partner"])
    table = partner.get("/api/v1/release/datasets/measles-w/table").json()
    assert table["grid"][1][0] is None
    assert table["info"]["suppressed"] >= 2
    assert partner.get("/api/v1/release/linelist?disease=measles").status_code == 403
    assert b"\xc3\x97" in partner.get("/release/measles-w/").content  # the x of a suppressed cell


# --- dataset definitions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"disease": "nope"}, "disease: unknown disease code 'nope'"),
        ({"area": "XX"}, "area: unknown org unit 'XX'"),
        ({"level": 4}, "level: area DE has no org unit at level 4"),
        ({"period_end": MONDAY - dt.timedelta(days=1)}, "period_end: before period_start"),
        ({"period_end": MONDAY + dt.timedelta(weeks=400)}, "period_end: the table would have"),
        ({"method": "magic"}, "method: expected one of suppression, dp"),
        ({"threshold": 0}, "threshold: must be between 1 and 100"),
        ({"epsilon_per_release": 2.0}, "epsilon_per_release: larger than epsilon_budget"),
        ({"slug": "new"}, "slug: 'new' is reserved"),
        ({"slug": "a b"}, "slug: 1 to 64 letters"),
        ({"period_start": dt.date(1, 1, 1)}, "period_start: the period must lie within the years"),
    ],
)
def test_bad_definitions_are_refused_naming_the_field(epi: Actor, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message.replace("(", r"\(")):
        services.create_dataset(epi, spec(**changes))
    assert not ReleasedDataset.objects.exists()


def test_a_retried_definition_stores_nothing_new_and_a_different_one_conflicts(
    users: dict[str, User], epi: Actor
) -> None:
    client = login(Client(), users["national_epidemiologist"])
    body = {"slug": "m", "title": "M", "disease": "measles", "area": "DE", "level": 3}
    body |= {"period_start": "2024-03-04", "period_end": "2024-03-31"}
    assert client.post("/api/v1/release/datasets", body, content_type="application/json").status_code == 201
    assert client.post("/api/v1/release/datasets", body, content_type="application/json").status_code == 200
    assert ReleasedDataset.objects.count() == 1
    other = client.post("/api/v1/release/datasets", body | {"threshold": 10}, content_type="application/json")
    assert other.status_code == 409
    bad = client.post("/api/v1/release/datasets", body | {"level": "x"}, content_type="application/json")
    assert bad.status_code == 422
    assert AuditRecord.objects.filter(action="release.dataset.create").count() == 1


def test_a_data_manager_defines_datasets_only_within_their_jurisdiction(operator: Actor, tree: Any) -> None:
    manager, _ = accounts.create_user(operator, "r2-epi", role="national_epidemiologist", orgunit_code="R2")
    actor = actor_of(manager)
    services.create_dataset(actor, spec(area="R2", slug="r2"))
    with pytest.raises(NotFound):
        services.create_dataset(actor, spec(area="R1", slug="r1"))


def test_the_create_form_shows_errors_and_defines_a_dataset(users: dict[str, User]) -> None:
    client = login(Client(), users["national_epidemiologist"])
    form = {"slug": "f", "title": "F", "disease": "measles", "area": "DE", "level": "3"}
    form |= {"period_start": "2024-03-04", "period_end": "2024-03-31", "method": "suppression"}
    bad = client.post("/release/new/", form | {"period_end": "soon"})
    assert bad.status_code == 400
    assert b"period_end: expected a date" in bad.content
    assert client.post("/release/new/", form).status_code == 302
    assert ReleasedDataset.objects.get(slug="f").threshold == 5


# --- line lists ---------------------------------------------------------------------------------------------------


def _classes(rows: list[dict[str, str]]) -> Counter[tuple[str, ...]]:
    return Counter(tuple(r[q] for q in kanon.QUASI_IDENTIFIERS) for r in rows)


def _population(start: int = 0, count: int = 120) -> None:
    sexes = ("female", "male")
    units = ("D11", "D12", "D21")
    for i in range(count):
        add_case(
            start + i,
            units[i % 3],
            onset=MONDAY + dt.timedelta(days=(i * 5) % 60),
            age=(i * 7) % 90,
            sex=sexes[(i // 3) % 2],
            outcome="recovered" if i % 4 else "died",
        )


@pytest.mark.parametrize("k", [2, 5, 11])
def test_every_equivalence_class_of_the_export_has_at_least_k_records(epi: Actor, k: int) -> None:
    _population()
    result = services.export_line_list(epi, services.LineListQuery(disease="measles", k=k))
    classes = _classes(result.rows)
    assert min(classes.values()) >= k
    meta = result.metadata
    assert meta["k_achieved"] == min(classes.values())
    assert meta["records_exported"] == len(result.rows)
    assert meta["records_exported"] + meta["records_suppressed"] == 120
    assert set(meta["generalisation"]) == {"age", "place", "date"}
    header = result.csv().splitlines()[0]
    assert header == "age_group,sex,place,period,classification,outcome,hospitalised"
    export = LineListExport.objects.get(export_id=meta["export_id"])
    assert export.info["k_achieved"] == meta["k_achieved"]


def test_the_export_is_audited_with_the_persons_exported(epi: Actor) -> None:
    _population(count=60)
    result = services.export_line_list(epi, services.LineListQuery(disease="measles", k=3))
    record = AuditRecord.objects.get(action="release.linelist.export")
    subjects = set(AuditSubject.objects.filter(record=record).values_list("subject", flat=True))
    assert len(subjects) == result.metadata["records_exported"]
    assert subjects <= {pseudonym(i) for i in range(60)}
    assert audit_services.verify().ok


def test_research_exports_include_only_consenting_persons_and_a_withdrawal_applies_at_once(
    epi: Actor, operator: Actor
) -> None:
    _population(count=40)
    grant = [consent.NewDecision(pseudonym=pseudonym(i), purpose="research", decision="grant") for i in range(30)]
    consent.store(operator, grant, channel="staff", orgunit=None, permission=None)
    query = services.LineListQuery(disease="measles", k=2, purpose="research", max_suppression=1.0)
    before = services.export_line_list(epi, query)
    assert before.metadata["excluded_without_consent"] == 10
    assert before.metadata["records_considered"] == 30
    withdraw = [consent.NewDecision(pseudonym=pseudonym(i), purpose="research", decision="withdraw") for i in range(10)]
    consent.store(operator, withdraw, channel="staff", orgunit=None, permission=None)
    after = services.export_line_list(epi, query)
    assert after.metadata["excluded_without_consent"] == 20
    record = AuditRecord.objects.filter(action="release.linelist.export").order_by("-seq").first()
    assert record is not None
    exported = set(AuditSubject.objects.filter(record=record).values_list("subject", flat=True))
    assert exported.isdisjoint({pseudonym(i) for i in range(10)} | {pseudonym(i) for i in range(30, 40)})
    surveillance = services.export_line_list(epi, services.LineListQuery(disease="measles", k=2))
    assert surveillance.metadata["excluded_without_consent"] == 0  # a legal basis, not consent


def test_an_operator_names_the_area_to_export(operator: Actor, tree: dict[str, OrgUnit]) -> None:
    _population(count=20)
    with pytest.raises(Invalid, match="area: you hold the export permission over several org units"):
        services.export_line_list(operator, services.LineListQuery(disease="measles"))
    result = services.export_line_list(operator, services.LineListQuery(disease="measles", area="DE", k=2))
    assert result.metadata["records_considered"] == 20


def test_a_regional_officer_exports_only_their_region(users: dict[str, User]) -> None:
    _population(count=60)
    officer = actor_of(users["regional_officer"])
    result = services.export_line_list(officer, services.LineListQuery(disease="measles", k=2, max_suppression=1))
    assert result.metadata["area"] == "R1"
    assert result.metadata["records_considered"] == 40  # D11 and D12
    with pytest.raises(NotFound):
        services.export_line_list(officer, services.LineListQuery(disease="measles", area="D21"))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"k": 1}, "k: must be between 2 and 1000"),
        ({"purpose": "marketing"}, "purpose: expected one of"),
        ({"disease": "nope"}, "disease: unknown disease code"),
        ({"max_suppression": 2.0}, "max_suppression: must be between 0 and 1"),
        ({"date_from": dt.date(2024, 5, 1), "date_to": dt.date(2024, 4, 1)}, "date_to: before date_from"),
    ],
)
def test_bad_line_list_queries_are_refused(epi: Actor, query: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        services.export_line_list(epi, services.LineListQuery(**({"disease": "measles"} | query)))
    assert not LineListExport.objects.exists()


def test_the_line_list_page_downloads_csv_and_metadata(users: dict[str, User]) -> None:
    _population(count=60)
    client = login(Client(), users["national_epidemiologist"])
    page = client.get("/release/linelist/?disease=measles&k=3")
    assert page.status_code == 200
    assert b"k requested 3" in page.content
    download = client.get("/release/linelist/?disease=measles&k=3&format=csv")
    assert download["Content-Type"].startswith("text/csv")
    assert download.content.decode().startswith("age_group,sex,place,period")
    meta = json.loads(client.get("/release/linelist/?disease=measles&k=3&format=json").content)
    assert meta["k_requested"] == 3
    assert client.get("/release/linelist/?disease=measles&k=x").status_code == 400
    api = client.get("/api/v1/release/linelist?disease=measles&k=3").json()
    assert api["metadata"]["k_requested"] == 3
    assert api["columns"][:4] == list(kanon.QUASI_IDENTIFIERS)
    assert len(api["rows"]) == api["metadata"]["records_exported"]
    assert client.get("/api/v1/release/linelist?disease=measles&area=ZZ").status_code == 404


def test_the_org_unit_tree_is_not_changed(tree: dict[str, OrgUnit]) -> None:
    assert OrgUnit.objects.count() == 6
