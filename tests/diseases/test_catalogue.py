"""The IDSR catalogue loaded by the data migration, and the catalogue services (validation against the engine)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dhnet.audit.models import AuditRecord
from dhnet.diseases import catalogue, services
from dhnet.diseases.models import AlertRule, Disease
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from tests.platform.fixtures import actor_of

ICD10 = re.compile(r"^[A-Z]\d{2}(\.\d)?(-[A-Z]\d{2})?$")
ICD11 = re.compile(r"^[0-9A-Z]{4}(\.[0-9A-Z]{1,2})?(-[0-9A-Z]{4})?$")


def test_migration_loads_the_idsr_catalogue(db: Any) -> None:
    codes = set(Disease.objects.values_list("code", flat=True))
    expected = {
        "afp", "anthrax", "cholera", "dengue", "diphtheria", "ebola", "marburg", "lassa", "ili", "sari", "malaria",
        "measles", "meningitis", "mpox", "neonatal_tetanus", "plague", "rabies", "covid19", "typhoid",
        "yellow_fever", "hepatitis_a", "salmonellosis", "campylobacteriosis", "rotavirus",
    }  # fmt: skip
    assert expected <= codes
    assert 20 <= len(codes) <= 40
    for d in Disease.objects.all():
        assert d.case_definition, d.code
        assert d.reporting in ("immediate", "weekly"), d.code
        assert not d.icd10 or ICD10.match(d.icd10), (d.code, d.icd10)
        assert not d.icd11 or ICD11.match(d.icd11), (d.code, d.icd11)


@pytest.mark.parametrize(
    ("code", "icd11", "icd10"),
    [
        ("cholera", "1A00", "A00"),
        ("measles", "1F03", "B05"),
        ("ebola", "1D60.0", "A98.4"),
        ("lassa", "1D61.2", "A96.2"),
        ("covid19", "RA01.0", "U07.1"),
        ("typhoid", "1A07", "A01.0"),
        ("ili", "", ""),  # a syndrome: no ICD category
    ],
)
def test_codes(db: Any, code: str, icd11: str, icd10: str) -> None:
    d = Disease.objects.get(code=code)
    assert (d.icd11, d.icd10) == (icd11, icd10)


def test_default_rules(db: Any) -> None:
    for d in Disease.objects.prefetch_related("rules"):
        rules = list(d.rules.all())
        assert rules, d.code
        if d.reporting == "immediate":
            single = [r for r in rules if r.kind == "count"]
            assert single
            assert single[0].threshold == 1
            assert single[0].level is None
        else:
            by_level = {r.level: r for r in rules if r.kind == "detector"}
            assert by_level[3].method == "ears"
            assert by_level[3].settings == {"variant": "C2"}
            assert by_level[2].method == by_level[1].method == "farrington-flexible"
            assert by_level[1].settings == {"preset": "noufaily"}
        for rule in rules:  # every stored rule builds a valid engine control
            method, control = services.engine_control(rule)
            assert method
            assert control is not None
    rate = AlertRule.objects.get(disease__code="meningitis", kind="rate")
    assert (rate.level, rate.alert_rate, rate.epidemic_rate) == (3, 3.0, 10.0)
    method, control = services.engine_control(rate)
    assert method == "threshold"
    assert control.alert_rate == 3.0
    assert control.epidemic_rate == 10.0


def test_loading_again_changes_nothing_and_keeps_edits(db: Any) -> None:
    Disease.objects.filter(code="measles").update(name="Rougeole")
    AlertRule.objects.filter(disease__code="cholera").delete()
    before = (Disease.objects.count(), AlertRule.objects.count())
    assert catalogue.load(Disease, AlertRule) == (0, 0)
    assert (Disease.objects.count(), AlertRule.objects.count()) == before
    assert Disease.objects.get(code="measles").name == "Rougeole"


@pytest.fixture
def admin(users: dict[str, Any]) -> Actor:
    return actor_of(users["national_epidemiologist"])


@pytest.fixture
def officer(users: dict[str, Any]) -> Actor:
    return actor_of(users["district_officer"])


def test_reading_needs_no_write_and_writing_is_national(admin: Actor, officer: Actor) -> None:
    assert services.get_disease(officer, "measles").name == "Measles"
    with pytest.raises(Forbidden):
        services.update_disease(officer, "measles", {"name": "x"})
    with pytest.raises(Forbidden):
        services.create_rule(officer, "measles", {"name": "x", "kind": "count", "threshold": 2})
    with pytest.raises(NotFound):
        services.get_disease(officer, "nope")
    with pytest.raises(Forbidden):
        services.list_diseases(Actor.anonymous())


def test_create_and_update_disease(admin: Actor) -> None:
    n = AuditRecord.objects.count()
    d = services.create_disease(admin, {"code": "zika", "name": "Zika virus disease", "icd10": "U06.9"})
    assert (d.reporting, d.active) == ("weekly", True)
    with pytest.raises(Conflict, match="code: disease 'zika' exists"):
        services.create_disease(admin, {"code": "zika", "name": "again"})
    services.update_disease(admin, "zika", {"reporting": "immediate", "active": False})
    d.refresh_from_db()
    assert (d.reporting, d.active) == ("immediate", False)
    assert AuditRecord.objects.filter(action__startswith="diseases.disease").count() == 2
    assert AuditRecord.objects.count() == n + 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "Bad Code", "name": "x"}, "^code:"),
        ({"code": "new", "name": "x"}, "^code: 'new' is reserved"),
        ({"code": "x", "name": ""}, "^name: required"),
        ({"code": "x", "name": "x", "reporting": "daily"}, "^reporting:"),
        ({"code": "x", "name": "x", "icd10": "A" * 40}, "^icd10: at most 32"),
        ({"code": "x", "name": "x", "colour": "red"}, "^colour: unknown field"),
        ({"code": "x", "name": "x", "active": "yes"}, "^active:"),
    ],
)
def test_disease_validation_names_the_field(admin: Actor, data: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        services.create_disease(admin, data)
    assert not Disease.objects.filter(code="x").exists()


def test_rules_are_validated_against_the_engine(admin: Actor) -> None:
    rule = services.create_rule(
        admin,
        "malaria",
        {"name": "CUSUM", "level": 3, "kind": "detector", "method": "cusum", "settings": {"k": 1.0, "h": 5.0}},
    )
    assert services.engine_control(rule)[0] == "cusum"
    with pytest.raises(Conflict, match=r"^name:"):
        services.create_rule(admin, "malaria", {"name": "CUSUM", "kind": "count", "threshold": 1})
    updated = services.update_rule(admin, "malaria", rule.pk, {"kind": "count", "threshold": 5})
    assert (updated.kind, updated.threshold, updated.method, updated.settings) == ("count", 5, "", {})
    services.delete_rule(admin, "malaria", rule.pk)
    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    with pytest.raises(NotFound):
        services.delete_rule(admin, "malaria", rule.pk)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "detector", "method": "nope"}, r"^method: unknown method 'nope'"),
        ({"kind": "detector", "method": ""}, "^method:"),
        ({"kind": "detector", "method": "ears", "settings": {"variant": "C9"}}, "^settings.variant: must be one of"),
        ({"kind": "detector", "method": "ears", "settings": {"alpha": 2}}, r"^settings.alpha: must be a number"),
        ({"kind": "detector", "method": "ears", "settings": {"bogus": 1}}, "^settings.bogus: not a setting"),
        ({"kind": "detector", "method": "ears", "settings": [1]}, "^settings: expected a JSON object"),
        (
            {"kind": "detector", "method": "farrington-flexible", "settings": {"preset": "x"}},
            "^settings.preset: method 'farrington-flexible' has no preset 'x'",
        ),
        (
            {"kind": "detector", "method": "farrington-flexible", "settings": {"b": 0}},
            "^settings.b: must be an integer >= 1",
        ),
        ({"kind": "count", "threshold": 0}, "^threshold:"),
        ({"kind": "count"}, "^threshold:"),
        ({"kind": "rate"}, "^alert_rate:"),
        ({"kind": "rate", "alert_rate": -1}, "^alert_rate: must be > 0"),
        ({"kind": "rate", "alert_rate": 5, "epidemic_rate": 3}, "^epidemic_rate: must not be below"),
        ({"kind": "magic"}, "^kind:"),
        ({"kind": "count", "threshold": 1, "level": 0}, "^level:"),
    ],
)
def test_rule_validation_names_the_field(admin: Actor, data: dict[str, Any], message: str) -> None:
    before = AlertRule.objects.count()
    with pytest.raises(Invalid, match=message):
        services.create_rule(admin, "malaria", {"name": "bad", **data})
    assert AlertRule.objects.count() == before


def test_farrington_settings_from_json(admin: Actor) -> None:
    rule = services.create_rule(
        admin,
        "malaria",
        {
            "name": "Farrington, custom",
            "kind": "detector",
            "method": "farrington-flexible",
            "settings": {"preset": "noufaily", "limit54": [3, 2], "b": 3},
        },
    )
    _, control = services.engine_control(rule)
    assert control.limit54 == (3, 2)
    assert control.b == 3
    assert control.threshold_method != "delta"
