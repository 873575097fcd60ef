"""Monitoring: indicators, targets, values (recorded and derived), aggregation, progress, export."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid
from dhnet.strategy import services
from dhnet.strategy.models import Indicator, Target, Value
from tests.strategy.helpers import people, published, rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def actors(users: dict[str, User]) -> dict[str, Actor]:
    return people(users)


def _manual(actors: dict[str, Actor], code: str, aggregation: str, **extra: Any) -> Indicator:
    data = {
        "code": code,
        "name": f"Test {code}",
        "definition": "for the tests",
        "objective": 2,
        "aggregation": aggregation,
        **extra,
    }
    return services.define_indicator(actors["knowledge_manager"], data)[0]


# --- defining indicators and targets --------------------------------------------------------------------------------


def test_the_starting_indicators_cover_the_four_objectives_and_cite_the_strategy() -> None:
    starting = services.indicators()
    assert len(starting) == 12
    assert {i.objective.number for i in starting} == {1, 2, 3, 4}
    assert all(i.source_text for i in starting)
    ndhs = Indicator.objects.get(code="SO2.1-NDHS")
    assert ndhs.maturity_rule == {"rubric": "gdhm-current", "indicator": "5", "min_phase": 3}
    assert ndhs.output is not None
    assert ndhs.output.code == "2.1"


def test_defining_an_indicator_needs_the_permission_and_is_idempotent(actors: dict[str, Actor]) -> None:
    data = {"code": "T-1", "name": "Trained", "definition": "d", "objective": 3, "aggregation": "sum", "unit": "people"}
    with pytest.raises(Forbidden, match="strategy:indicator:manage"):
        services.define_indicator(actors["digital_health_planner"], data)
    ind, created = services.define_indicator(actors["knowledge_manager"], data)
    assert created
    audits = AuditRecord.objects.filter(action="strategy.indicator.define").count()
    assert services.define_indicator(actors["knowledge_manager"], data) == (ind, False)
    assert AuditRecord.objects.filter(action="strategy.indicator.define").count() == audits
    ind2, created2 = services.define_indicator(actors["knowledge_manager"], {**data, "name": "Trained workers"})
    assert (ind2.pk, created2, ind2.name) == (ind.pk, False, "Trained workers")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": ""}, "code: required"),
        ({"code": "a b"}, "code: 'a b' may hold"),
        ({"objective": 7}, "objective: '7'"),
        ({"output": "1.1"}, "output: '1.1' is not an output of objective 2"),
        ({"aggregation": "median"}, "aggregation: 'median'"),
        ({"direction": "sideways"}, "direction"),
        ({"source": "maturity"}, "maturity_rule: required"),
        ({"source": "maturity", "maturity_rule": {"rubric": "gdhm-current", "indicator": "99"}}, "indicator: '99'"),
        (
            {
                "source": "maturity",
                "aggregation": "share_countries",
                "maturity_rule": {"rubric": "current", "indicator": "5"},
            },
            "min_phase: required",
        ),
        ({"source": "maturity", "maturity_rule": {"rubric": "current", "indicator": "5", "min_phase": 6}}, "6 is not"),
        ({"maturity_rule": {"rubric": "current"}}, "only a derived indicator"),
    ],
)
def test_a_bad_definition_names_the_field(actors: dict[str, Actor], change: dict[str, Any], message: str) -> None:
    data = {"code": "T-2", "name": "n", "definition": "d", "objective": 2, "aggregation": "mean", **change}
    with pytest.raises(Invalid, match=message):
        services.define_indicator(actors["knowledge_manager"], data)
    assert not Indicator.objects.filter(code="T-2").exists()


def test_targets_global_and_per_country(actors: dict[str, Actor]) -> None:
    km = actors["knowledge_manager"]
    t, created = services.set_target(
        km, "SO2.1-NDHS", {"baseline_value": "40", "baseline_year": 2020, "target_value": "80", "target_year": 2025}
    )
    assert created
    assert t.country == ""
    again = {"baseline_value": 40, "baseline_year": "2020", "target_value": "80.0", "target_year": 2025}
    assert services.set_target(km, "SO2.1-NDHS", again)[1] is False
    services.set_target(km, "SO2.1-NDHS", {**again, "country": "de", "baseline_value": "0", "target_value": "1"})
    assert Target.objects.filter(indicator__code="SO2.1-NDHS").count() == 2
    with pytest.raises(Invalid, match="target_year: 2019 is not after"):
        services.set_target(km, "SO2.1-NDHS", {**again, "target_year": 2019})
    with pytest.raises(Invalid, match="country: 'XX'"):
        services.set_target(km, "SO2.1-NDHS", {**again, "country": "XX"})
    with pytest.raises(Invalid, match="baseline_value: 'many'"):
        services.set_target(km, "SO2.1-NDHS", {**again, "baseline_value": "many"})
    with pytest.raises(Forbidden):
        services.set_target(actors["digital_health_planner"], "SO2.1-NDHS", again)


# --- recording values -----------------------------------------------------------------------------------------------


def test_recording_needs_the_permission_and_the_country(actors: dict[str, Actor]) -> None:
    planner = actors["digital_health_planner"]
    result = services.record_value(planner, "SO2.3-FUNDING", "de", 2024, "2.5", source="MoH budget 2024")
    assert (result.created, result.updated, result.unchanged) == (1, 0, 0)
    value = Value.objects.get()
    assert (value.country, value.period, value.value, value.source) == ("DE", 2024, Decimal("2.5"), "MoH budget 2024")
    with pytest.raises(Forbidden, match="row 1, country: you do not administer FR"):
        services.record_value(planner, "SO2.3-FUNDING", "FR", 2024, "3")
    with pytest.raises(Forbidden, match="strategy:value:write"):
        services.record_value(actors["knowledge_manager"], "SO2.3-FUNDING", "DE", 2024, "3")
    with pytest.raises(Forbidden):
        services.record_value(actors["viewer"], "SO2.3-FUNDING", "DE", 2024, "3")
    # the system administrator holds everything, including atlas:registry:manage (every country)
    services.record_value(actors["system_admin"], "SO2.3-FUNDING", "FR", 2024, "3")
    assert Value.objects.count() == 2


def test_the_same_value_again_changes_nothing_and_a_new_one_replaces_it(actors: dict[str, Actor]) -> None:
    planner = actors["digital_health_planner"]
    services.record_value(planner, "SO2.3-FUNDING", "DE", 2024, "2.5")
    audits = AuditRecord.objects.filter(action="strategy.values.record").count()
    assert services.record_value(planner, "SO2.3-FUNDING", "DE", 2024, "2.50").unchanged == 1
    assert AuditRecord.objects.filter(action="strategy.values.record").count() == audits
    assert services.record_value(planner, "SO2.3-FUNDING", "DE", 2024, "3").updated == 1
    assert Value.objects.get().value == Decimal(3)


CSV = """indicator,country,period,value,source,note
SO2.3-FUNDING,DE,2023,2.1,budget law,
SO2.3-FUNDING,DE,2024,2.5,budget law,
SO1.3-SURVCENTRE,DE,2024,1,,opened in March
SO4.3-EHR,DE,2024,61.5,registry,
"""


def test_a_csv_upload_is_stored_once(actors: dict[str, Actor]) -> None:
    planner = actors["digital_health_planner"]
    first = services.upload_values(planner, CSV.encode(), "csv")
    assert (first.created, first.updated, first.unchanged, first.countries) == (4, 0, 0, ["DE"])
    second = services.upload_values(planner, CSV.encode(), "csv")
    assert (second.created, second.updated, second.unchanged) == (0, 0, 4)
    assert Value.objects.count() == 4
    assert Value.objects.get(indicator__code="SO1.3-SURVCENTRE").note == "opened in March"


def test_a_json_upload_in_either_shape(actors: dict[str, Actor]) -> None:
    planner = actors["digital_health_planner"]
    items = rows(("SO2.3-FUNDING", "DE", 2022, 1.5), ("SO2.3-FUNDING", "DE", 2021, "1"))
    assert services.upload_values(planner, json.dumps(items), "json").created == 2
    assert services.upload_values(planner, json.dumps({"values": items}), "json").unchanged == 2


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        (CSV.replace("DE,2024,61.5", "DE,2024,many"), "csv", "row 4, value: 'many' is not a number"),
        (CSV.replace("SO4.3-EHR,DE", "SO4.3-EHR,ZZ"), "csv", "row 4, country: 'ZZ'"),
        (CSV.replace("SO4.3-EHR,DE,2024", "SO4.3-EHR,DE,24"), "csv", "row 4, period: 24 is outside"),
        (CSV.replace("SO1.3-SURVCENTRE,DE,2024,1", "SO1.3-SURVCENTRE,DE,2024,2"), "csv", "row 3, value: .* yes/no"),
        (CSV.replace("SO4.3-EHR", "NOPE"), "csv", "row 4, indicator: 'NOPE'"),
        (CSV.replace("SO4.3-EHR", "SO2.1-NDHS"), "csv", "row 4, indicator: SO2.1-NDHS is derived"),
        (CSV + "SO2.3-FUNDING,DE,2024,9,budget law,\n", "csv", "row 5: .* already given a different value in row 2"),
        (CSV.replace("value,source", "amount,source"), "csv", "header: missing column"),
        (CSV.replace(",note", ",note,extra"), "csv", "header: unknown column"),
        (CSV + "SO2.3-FUNDING,DE,2020,1,,,x\n", "csv", "row 5: more cells than columns"),
        ("indicator,country,period,value\n", "csv", "file: no values"),
        ("[{]", "json", "file: not JSON"),
        ('{"rows": []}', "json", "expected a list"),
        (
            '[{"indicator": "SO2.3-FUNDING", "country": "DE", "period": 2024, "value": 1, "colour": 1}]',
            "json",
            "row 1: unknown",
        ),
        ('[{"indicator": "SO2.3-FUNDING", "country": "DE", "period": 2024, "value": "NaN"}]', "json", "not a finite"),
        ('[{"indicator": "SO2.3-FUNDING", "country": "DE", "period": 2024, "value": 1.23456}]', "json", "4 decimal"),
        ('[{"indicator": "SO2.3-FUNDING", "country": "DE", "period": 2024}]', "json", "row 1, value: required"),
        ("x", "xml", "format"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_stored(
    actors: dict[str, Actor], content: str, fmt: str, message: str
) -> None:
    with pytest.raises(Invalid, match=message):
        services.upload_values(actors["digital_health_planner"], content.encode(), fmt)
    assert Value.objects.count() == 0


def test_a_country_not_administered_rejects_the_whole_upload(actors: dict[str, Actor]) -> None:
    content = CSV + "SO2.3-FUNDING,AT,2024,3,,\n"
    with pytest.raises(Forbidden, match="row 5, country: you do not administer AT"):
        services.upload_values(actors["digital_health_planner"], content.encode(), "csv")
    assert Value.objects.count() == 0


# --- derived values, aggregation, progress --------------------------------------------------------------------------


def _maturity_world() -> None:
    """Published scores: 2023 DE (5 -> 2), FR (5 -> 3); 2024 DE v1 (5 -> 3) corrected by v2 (5 -> 4), FR (5 -> -1),
    KE (5 -> 4), and one classic-rubric publication that the current-rubric indicators ignore."""
    published("DE", 2023, {"1": 2, "5": 2}, 2)
    published("FR", 2023, {"1": 3, "5": 3}, 3)
    published("DE", 2024, {"1": 3, "5": 3}, 3)
    published("DE", 2024, {"1": 4, "5": 4}, 4, version=2)
    published("FR", 2024, {"1": 3, "5": -1}, 2)
    published("KE", 2024, {"1": 1, "5": 4}, 3)
    published("US", 2024, {"3": 5}, 5, rubric="gdhm-classic")


def test_derived_values_follow_the_newest_publication_of_each_year() -> None:
    _maturity_world()
    ndhs = Indicator.objects.get(code="SO2.1-NDHS")  # gdhm-current 5 >= 3
    got = [(v.country, v.period, v.value) for v in services.values_of(ndhs)]
    assert got == [("DE", 2023, 0), ("DE", 2024, 1), ("FR", 2023, 1), ("FR", 2024, 0), ("KE", 2024, 1)]
    mean = Indicator.objects.get(code="SO2.2-MATURITY")  # overall phase
    assert [(v.country, v.period, v.value) for v in services.values_of(mean, period=2024)] == [
        ("DE", 2024, 4),
        ("FR", 2024, 2),
        ("KE", 2024, 3),
    ]
    shared = Indicator.objects.get(code="SO1.2-MATURITYSHARED")
    assert services.aggregate(shared, 2024).value == 3


def test_aggregation_states_its_denominator() -> None:
    _maturity_world()
    ndhs = Indicator.objects.get(code="SO2.1-NDHS")
    a2024 = services.aggregate(ndhs, 2024)  # DE yes, FR not available (no), KE yes -> 2 of 3
    assert (a2024.value, a2024.meeting, a2024.reporting) == (Decimal("66.7"), 2, 3)
    assert a2024.denominator == "3 reporting countries"
    eur = services.aggregate(ndhs, 2024, region="EUR")  # DE, FR
    assert (eur.value, eur.meeting, eur.reporting) == (Decimal("50.0"), 1, 2)
    body = Indicator.objects.get(code="SO1.1-GOVBODY")  # count of countries at phase >= 3 on indicator 1
    assert services.aggregate(body, 2024).value == 2
    assert services.aggregate(body, 2030) == services.Aggregate(2030, None, 0, 0)
    assert services.aggregate(Indicator.objects.get(code="SO2.2-MATURITY"), 2024).value == Decimal("3.00")


def test_sum_and_mean_of_recorded_values(actors: dict[str, Actor]) -> None:
    admin = actors["system_admin"]
    total = _manual(actors, "T-SUM", "sum")
    services.record_values(admin, rows(("T-SUM", "DE", 2024, 10), ("T-SUM", "FR", 2024, 5), ("T-SUM", "KE", 2024, 1)))
    assert services.aggregate(total, 2024).value == 16
    assert services.aggregate(total, 2024, region="AFR").value == 1
    mean = Indicator.objects.get(code="SO4.3-EHR")
    services.record_values(admin, rows(("SO4.3-EHR", "DE", 2024, 60), ("SO4.3-EHR", "FR", 2024, 75)))
    assert services.aggregate(mean, 2024).value == Decimal("67.50")
    with pytest.raises(Invalid, match="region"):
        services.aggregate(mean, 2024, region="Atlantis")


def test_progress_against_a_global_target_hand_computed(actors: dict[str, Actor]) -> None:
    """Baseline 40 (2020), target 80 (2025). 2024: 2 of 3 countries = 66.7 % -> (66.7-40)/(80-40) = 66.8 % of the
    way; a straight line would be at 40 + 40 x 4/5 = 72 by 2024, so it is off track. In 2023: 50 % (1 of 2) ->
    25.0 % of the way, the line at 64: off track as well."""
    _maturity_world()
    km = actors["knowledge_manager"]
    services.set_target(
        km, "SO2.1-NDHS", {"baseline_value": 40, "baseline_year": 2020, "target_value": 80, "target_year": 2025}
    )
    ndhs = Indicator.objects.get(code="SO2.1-NDHS")
    p = services.indicator_progress(ndhs)
    assert p.latest is not None
    assert (p.latest.period, p.latest.value, p.percent, p.expected, p.status, p.bar) == (
        2024,
        Decimal("66.7"),
        Decimal("66.8"),
        Decimal(72),
        "off_track",
        66,
    )
    p2023 = services.indicator_progress(ndhs, year=2023)
    assert (p2023.percent, p2023.expected, p2023.on_track) == (Decimal("25.0"), Decimal(64), False)
    services.set_target(
        km, "SO2.1-NDHS", {"baseline_value": 40, "baseline_year": 2020, "target_value": 60, "target_year": 2025}
    )
    assert services.indicator_progress(ndhs).status == "achieved"


def test_progress_of_a_falling_indicator_and_of_a_country(actors: dict[str, Actor]) -> None:
    """Direction down: baseline 20 (2020), target 10 (2030). DE: 2022 -> 17: (17-20)/(10-20) = 30 % of the way;
    the line is at 20 - 10 x 2/10 = 18: 17 is below it, on track."""
    admin = actors["system_admin"]
    down = _manual(actors, "T-DOWN", "mean", direction="down")
    services.set_target(
        actors["knowledge_manager"],
        "T-DOWN",
        {"country": "DE", "baseline_value": 20, "baseline_year": 2020, "target_value": 10, "target_year": 2030},
    )
    services.record_values(
        admin, rows(("T-DOWN", "DE", 2021, 19), ("T-DOWN", "DE", 2022, 17), ("T-DOWN", "FR", 2022, 30))
    )
    p = services.indicator_progress(down, country="DE")
    assert (p.percent, p.expected, p.status) == (Decimal("30.0"), Decimal(18), "on_track")
    assert services.indicator_progress(down).status == "no_target"  # no global target
    empty = _manual(actors, "T-EMPTY", "sum")
    services.set_target(
        actors["knowledge_manager"],
        "T-EMPTY",
        {"baseline_value": 0, "baseline_year": 2020, "target_value": 5, "target_year": 2025},
    )
    assert services.indicator_progress(empty).status == "no_data"


def test_progress_report_per_objective_and_the_export(actors: dict[str, Actor]) -> None:
    _maturity_world()
    services.set_target(
        actors["knowledge_manager"],
        "SO2.1-NDHS",
        {"baseline_value": 40, "baseline_year": 2020, "target_value": 80, "target_year": 2025},
    )
    services.upload_values(actors["digital_health_planner"], CSV.encode(), "csv")
    report = services.progress(2)
    assert [r.indicator.code for r in report.rows] == ["SO2.1-NDHS", "SO2.2-MATURITY", "SO2.3-FUNDING"]
    assert report.counts["off_track"] == 1
    assert report.counts["no_target"] == 2
    data = services.export_report(2024)
    so2 = next(o for o in data["objectives"] if o["number"] == 2)
    ndhs = so2["indicators"][0]
    assert ndhs["year"] == {"value": "66.7", "reporting_countries": 3, "meeting": 2}
    assert (ndhs["percent_of_way"], ndhs["status"], ndhs["baseline"]) == (
        "66.8",
        "off_track",
        {"value": "40", "year": 2020},
    )
    assert {"indicator": "SO2.3-FUNDING", "country": "DE", "value": "2.5", "kind": "recorded"}.items() <= next(
        v for v in data["values"] if v["indicator"] == "SO2.3-FUNDING"
    ).items()
    csv_text = services.export_csv(2024)
    assert csv_text.splitlines()[0] == "indicator,objective,country,period,value,kind,source,note"
    assert "SO2.1-NDHS,2,KE,2024,1,derived,maturity MA-KE2401 v1," in csv_text
    assert len(csv_text.splitlines()) == 1 + len(data["values"])
