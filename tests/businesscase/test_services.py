"""Business-case services: creating (the same request again is the same case), editing with a version per save,
lines in bulk (form rows, JSON, CSV) — a bad row is a 400 naming the row and field with nothing stored, the same
table again changes nothing —, copies, differences between versions, audit records."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from dhnet.audit.models import AuditRecord
from dhnet.businesscase import services
from dhnet.businesscase.models import BenefitLine, BusinessCase, CaseVersion, CostLine
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from tests.businesscase.helpers import BENEFITS, COSTS, COSTS_CSV, FIELDS

pytestmark = pytest.mark.django_db


def _case(operator: Actor, **extra: Any) -> BusinessCase:
    case, _ = services.create_case(operator, FIELDS | {"costs": COSTS, "benefits": BENEFITS} | extra)
    return case


def test_create_stores_lines_a_version_and_an_audit_record(operator: Actor) -> None:
    case = _case(operator)
    assert case.public_id.startswith("BC-")
    assert (case.costs.count(), case.benefits.count(), case.version) == (5, 3, 1)
    version = CaseVersion.objects.get(case=case)
    assert version.change == "created"
    assert version.snapshot == services.snapshot(case)
    assert AuditRecord.objects.filter(action="businesscase.case.create", object_id=case.public_id).count() == 1
    figures = services.figures(case)
    assert str(figures.result.npv.quantize(Decimal("0.01"))) == "38856.49"  # the worked example of test_finance


def test_the_same_create_again_is_the_same_case(operator: Actor) -> None:
    first, created = services.create_case(operator, FIELDS | {"costs": COSTS})
    again, created_again = services.create_case(operator, FIELDS | {"costs": list(reversed(COSTS))})
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert BusinessCase.objects.count() == 1
    other, created_other = services.create_case(operator, FIELDS | {"costs": COSTS[:1]})
    assert created_other
    assert other.pk != first.pk


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"country": "XX"}, "country: 'XX' is not an ISO 3166-1 alpha-2 country code"),
        ({"currency": "ABC"}, "currency: 'ABC' is not an ISO 4217 currency code"),
        ({"title": " "}, "title: required"),
        ({"horizon_years": 31}, "horizon_years: 31 is not between 1 and 30"),
        ({"horizon_years": "five"}, "horizon_years: 'five' is not a whole number"),
        ({"discount_rate": "-1"}, "discount_rate: -1 is not between -0.99 and 1"),
        ({"discount_rate": "abc"}, "discount_rate: 'abc' is not a number"),
        ({"discount_rate": "0.123456"}, "discount_rate: 0.123456 has more than 5 decimal places"),
        ({"shared": "maybe"}, "shared: expected true or false"),
        ({"colour": "red"}, "colour: unknown field"),
    ],
)
def test_bad_fields_are_named(operator: Actor, change: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as exc:
        services.create_case(operator, FIELDS | change)
    assert exc.value.message.startswith(message)
    assert not BusinessCase.objects.exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"phase": "design"}, "row 2: phase: 'design' is not one of planning_development, deployment"),
        ({"category": "coffee"}, "row 2: category: 'coffee' is not one of hardware"),
        ({"year": 2030}, "row 2: year: 2030 is not between 2025 and 2028"),
        ({"amount": "-1"}, "row 2: amount: -1 is not between 0 and"),
        ({"amount": "1.234"}, "row 2: amount: 1.234 has more than 2 decimal places"),
        ({"amount": "ten"}, "row 2: amount: 'ten' is not a number"),
        ({"extra": 1}, "row 2: extra: unknown field"),
        ({"phase": "deployment", "category": "hardware", "year": 2025}, "row 2: the same phase, category and year"),
    ],
)
def test_a_bad_cost_row_is_named_and_nothing_is_stored(operator: Actor, row: dict[str, Any], message: str) -> None:
    case = _case(operator)
    rows = [COSTS[0], COSTS[1] | row, COSTS[2]]
    with pytest.raises(Invalid) as exc:
        services.set_lines(operator, case.public_id, costs=rows)
    assert exc.value.message.startswith(message), exc.value.message
    case.refresh_from_db()
    assert case.version == 1
    assert CostLine.objects.filter(case=case).count() == 5


def test_a_benefit_needs_its_assumption(operator: Actor) -> None:
    case = _case(operator)
    rows = [BENEFITS[0], BENEFITS[1] | {"assumption": ""}]
    with pytest.raises(Invalid, match="row 2: assumption: required"):
        services.set_lines(operator, case.public_id, benefits=rows)
    with pytest.raises(Invalid, match="row 1: quantity: -3 is not between 0"):
        services.set_lines(operator, case.public_id, benefits=[BENEFITS[0] | {"quantity": "-3"}])
    assert BenefitLine.objects.filter(case=case).count() == 3


def test_the_same_lines_again_change_nothing(operator: Actor) -> None:
    case = _case(operator)
    _, changed = services.set_lines(operator, case.public_id, costs=COSTS, benefits=BENEFITS)
    assert not changed
    case.refresh_from_db()
    assert case.version == 1
    assert CaseVersion.objects.filter(case=case).count() == 1
    _, changed = services.set_lines(operator, case.public_id, costs=COSTS[:2])
    assert changed
    case.refresh_from_db()
    assert (case.version, case.costs.count(), case.benefits.count()) == (2, 2, 3)


def test_csv_upload_is_idempotent_and_round_trips(operator: Actor) -> None:
    case = _case(operator, costs=[])
    case, changed = services.upload_lines(operator, case.public_id, "costs", COSTS_CSV.encode(), "costs.csv")
    assert changed
    assert case.version == 2
    assert case.costs.count() == 5
    for _ in range(2):
        case, changed = services.upload_lines(operator, case.public_id, "costs", COSTS_CSV.encode(), "costs.csv")
        assert not changed
    assert (case.version, CostLine.objects.filter(case=case).count()) == (2, 5)
    from dhnet.businesscase import exports

    exported = exports.csv_table(case, services.figures(case), "costs")
    _, changed = services.upload_lines(operator, case.public_id, "costs", exported.encode(), "x.csv")
    assert not changed  # an export uploaded again is the same table


def test_json_upload_of_benefits(operator: Actor) -> None:
    case = _case(operator, benefits=[])
    body = json.dumps({"benefits": BENEFITS}).encode()
    case, changed = services.upload_lines(operator, case.public_id, "benefits", body)
    assert changed
    assert [b.quantity for b in case.benefits.order_by("position")] == [Decimal(2000), Decimal(2500), Decimal(3000)]
    _, changed = services.upload_lines(operator, case.public_id, "benefits", json.dumps(BENEFITS).encode())
    assert not changed  # a bare list is the same table


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"phase,category,year,amount\ndeployment,hardware,2025,abc\n", "row 2: amount: 'abc' is not a number"),
        (b"phase,category,year,amount\ndeployment,hardware,2025,1\nscaling,people,2040,5\n", "row 3: year: 2040"),
        (b"phase,category,amount\n", "row 1: column 'year' missing from the CSV header"),
        (b"phase,category,year,amount,colour\n", "row 1: column 'colour' is not one of"),
        (b"phase,category,year,amount\ndeployment,hardware,2025,1,9\n", "row 2: more cells than header columns"),
        (b"", "file: empty"),
        (b"\xff\xfe", "file: not UTF-8 text"),
        (b"[1, 2", "file: not valid JSON"),
        (b'{"benefits": []}', "file: a JSON object needs a 'costs' list"),
        (b'[{"phase": "deployment"}]', "row 1: category: required"),
        (b"[3]", "row 1: expected an object"),
    ],
)
def test_a_bad_upload_is_named_and_nothing_is_stored(operator: Actor, content: bytes, message: str) -> None:
    case = _case(operator)
    with pytest.raises(Invalid) as exc:
        services.upload_lines(operator, case.public_id, "costs", content, "")
    assert exc.value.message.startswith(message), exc.value.message
    assert CostLine.objects.filter(case=case).count() == 5
    assert CaseVersion.objects.filter(case=case).count() == 1


def test_update_makes_a_version_and_diff_names_the_changes(operator: Actor) -> None:
    case = _case(operator)
    case, changed = services.update_case(operator, case.public_id, {"discount_rate": "0.03", "shared": True})
    assert changed
    assert case.version == 2
    services.set_lines(operator, case.public_id, costs=[COSTS[0] | {"amount": "120000"}, *COSTS[1:]])
    services.set_lines(operator, case.public_id, benefits=BENEFITS[:2])
    _, rows = services.versions(operator, case.public_id)
    assert [v.version for v in rows] == [4, 3, 2, 1]
    assert rows[0].change == "benefits replaced (form)"
    _, changes = services.diff(operator, case.public_id, 1, 4)
    found = {c.what: (c.before, c.after) for c in changes}
    assert found["discount_rate"] == ("0.05", "0.03")
    assert found["shared"] == ("False", "True")
    assert found["cost deployment/hardware/2025"] == ("100000.00 (servers)", "120000.00 (servers)")
    assert found["benefit 3"][1] == ""
    assert "benefit 1" not in found
    _, same = services.diff(operator, case.public_id, 2, 2)
    assert same == []
    with pytest.raises(NotFound, match=r"version: .* has no version 9"):
        services.diff(operator, case.public_id, 1, 9)
    # nothing to change: no version
    _, changed = services.update_case(operator, case.public_id, {"discount_rate": "0.030"})
    assert not changed


def test_a_new_horizon_may_not_cut_off_lines(operator: Actor) -> None:
    case = _case(operator)
    with pytest.raises(Invalid, match="horizon_years: cost operations/maintenance of 2028 would be outside 2025-2027"):
        services.update_case(operator, case.public_id, {"horizon_years": 3})
    case.refresh_from_db()
    assert case.horizon_years == 4


def test_copy(operator: Actor) -> None:
    case = _case(operator, shared=True)
    copy = services.copy_case(operator, case.public_id, {"title": "Variant at 3 %", "discount_rate": "0.03"})
    assert copy.public_id != case.public_id
    assert (copy.title, copy.shared, copy.version, copy.discount_rate) == ("Variant at 3 %", False, 1, Decimal("0.03"))
    assert services.snapshot(copy)["costs"] == services.snapshot(case)["costs"]
    assert CaseVersion.objects.get(case=copy).change == f"copied from {case.public_id} version 1"
    with pytest.raises(Invalid, match="year: 2025 is not between 2030 and 2033"):
        services.copy_case(operator, case.public_id, {"base_year": 2030})


def test_country_binding_and_visibility(operator: Actor, users: dict[str, Any]) -> None:
    from dhnet.accounts import services as accounts
    from tests.businesscase.helpers import appoint

    case = _case(operator)
    partner = accounts.actor_for_user(users["partner"], via="session", mfa_verified=True)
    planner = accounts.actor_for_user(users["digital_health_planner"], via="session", mfa_verified=True)
    with pytest.raises(NotFound):
        services.get_case(planner, case.public_id)
    with pytest.raises(Forbidden, match="country: you do not administer KE"):
        services.create_case(planner, FIELDS)
    appoint(users["digital_health_planner"], "KE")
    assert services.get_case(planner, case.public_id).pk == case.pk
    assert AuditRecord.objects.filter(action="businesscase.case.read", actor_username=planner.username).count() == 1
    mine, _ = services.create_case(partner, FIELDS | {"country": ""})
    assert services.may_write(partner, mine)
    assert not services.may_write(planner, mine)
    assert [c.public_id for c in services.list_cases(partner)] == [mine.public_id]
    with pytest.raises(Forbidden):
        services.update_case(partner, mine.public_id, {"country": "KE"})  # moving it to a country needs the country
