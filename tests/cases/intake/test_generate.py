"""The case-bundle generator: reproducible, valid R4 (``fhir.resources`` R4B models and the platform's own generic
validation), realistic (catalogue codes, plausible dates, conditional-create keys), and defects that break exactly
the element they name."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from dhnet.cases import generate
from dhnet.cases.generate import DEFECTS, CaseGenerator
from dhnet.diseases.catalogue import DISEASES
from dhnet.fhir.measurereport import icd_match
from dhnet.fhir.validation import validate

DISTRICTS = ("D11", "D12", "D21")


def _gen(seed: int = 11, **options: Any) -> CaseGenerator:
    return CaseGenerator(seed, districts=DISTRICTS, **options)


def test_same_seed_same_bundles_other_seed_other_bundles() -> None:
    a, b, c = _gen(3), _gen(3), _gen(4)
    first = [json.dumps(a.bundle(i), sort_keys=True) for i in range(50)]
    assert first == [json.dumps(b.bundle(i), sort_keys=True) for i in range(50)]
    # random access: bundle 37 alone is bundle 37 of the sequence (a client retrying one bundle resends it exactly)
    assert json.dumps(_gen(3).bundle(37), sort_keys=True) == first[37]
    assert not set(first) & {json.dumps(c.bundle(i), sort_keys=True) for i in range(50)}


def test_generated_bundles_are_valid_r4() -> None:
    gen = _gen()
    types: Counter[str] = Counter()
    for i in range(300):
        bundle = gen.bundle(i)
        Bundle.model_validate(bundle)  # the R4B models (raises on any error)
        result = validate(bundle)
        assert result.ok, (i, [(x.expression, x.diagnostics) for x in result.issues if x.is_error])
        types.update(e["resource"]["resourceType"] for e in bundle["entry"])
    assert types["Patient"] == types["Condition"] == types["Encounter"] == 300
    assert 100 < types["Observation"] < 600
    assert 40 < types["Consent"] < 150


def test_codes_come_from_the_catalogue() -> None:
    gen = _gen()
    catalogue = {code: (icd11, icd10) for code, _, icd11, icd10, _, _ in DISEASES}
    seen = set()
    for i in range(600):
        facts = gen.generate(i).facts
        icd11, icd10 = catalogue[facts.disease]
        ours = icd11 if facts.icd_system == generate.ICD11 else icd10
        assert icd_match(ours, facts.icd_code) > 0, facts
        seen.add(facts.disease)
    coded = {code for code, _, icd11, icd10, _, _ in DISEASES if icd11 or icd10}
    assert seen == coded  # every codable disease occurs


def test_dates_and_people_are_plausible() -> None:
    gen = _gen(start=dt.date(2024, 1, 1), end=dt.date(2024, 6, 30))
    ages = []
    sexes: Counter[str] = Counter()
    for i in range(1000):
        g = gen.generate(i)
        f = g.facts
        assert dt.date(2024, 1, 1) <= f.report_date <= dt.date(2024, 6, 30)
        assert f.birth_date < f.onset_date <= f.report_date
        assert (f.report_date - f.onset_date).days <= 20
        encounter = g.bundle["entry"][2]["resource"]
        assert f.onset_date.isoformat() <= encounter["period"]["start"] <= f.report_date.isoformat()
        for entry in g.bundle["entry"][3:]:
            if entry["resource"]["resourceType"] == "Observation":
                assert encounter["period"]["start"] <= entry["resource"]["effectiveDateTime"]
        ages.append((f.onset_date - f.birth_date).days / 365.25)
        sexes[f.sex] += 1
    assert 0 <= min(ages) < 5
    assert 70 < max(ages) < 101
    assert sexes["female"] > 400
    assert sexes["male"] > 400


def test_patients_carry_the_direct_identifiers_the_vault_must_take() -> None:
    gen = _gen(national_id_system="urn:oid:1.2.3")
    with_national = 0
    for i in range(200):
        patient = gen.bundle(i)["entry"][0]["resource"]
        assert patient["name"][0]["family"]
        assert patient["name"][0]["given"]
        assert patient["birthDate"]
        assert patient["address"][0]["line"]
        assert patient["address"][0]["district"] in DISTRICTS
        assert any(t["system"] == "phone" for t in patient["telecom"])
        with_national += any(x["system"] == "urn:oid:1.2.3" for x in patient["identifier"])
    assert 150 < with_national < 200  # most, not all, have a national identifier


def test_every_entry_is_a_conditional_create_on_its_own_identifier() -> None:
    gen = _gen()
    condition_keys = set()
    for i in range(300):
        g = gen.generate(i)
        for entry in g.bundle["entry"]:
            resource, request = entry["resource"], entry["request"]
            assert request["method"] == "POST"
            assert request["url"] == resource["resourceType"]
            system, value = request["ifNoneExist"].removeprefix("identifier=").split("|", 1)
            assert {"system": system, "value": value}.items() <= next(
                x for x in resource["identifier"] if x["system"] == system
            ).items()
        condition = g.bundle["entry"][1]["resource"]["identifier"][0]
        condition_keys.add((condition["system"], condition["value"]))
        assert g.facts.condition_identifier == (condition["system"], condition["value"])
    assert len(condition_keys) == 300  # one case per bundle


def test_some_persons_return_with_the_same_identity() -> None:
    """A returning person has the same national identifier (so the same Patient key) and the same name and birth
    date; without a national identifier, another facility knows them by its own record number (matched by the
    vault on name, birth date, sex and district)."""
    gen = _gen(returning=0.2)
    persons: dict[int, tuple[Any, ...]] = {}
    returns = 0
    for i in range(300):
        g = gen.generate(i)
        patient = g.bundle["entry"][0]["resource"]
        who = (g.facts.national_id, patient["name"], patient["birthDate"], patient["gender"])
        if g.facts.person in persons:
            returns += 1
            assert persons[g.facts.person][0] == who
            if g.facts.national_id:
                assert persons[g.facts.person][1] == g.bundle["entry"][0]["request"]["ifNoneExist"]
        persons.setdefault(g.facts.person, (who, g.bundle["entry"][0]["request"]["ifNoneExist"]))
    assert 30 < returns < 100


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_breaks_what_it_names(defect: str) -> None:
    gen = _gen()
    for index in (0, 1, 2):
        bad = gen.invalid(index, defect)
        good = gen.bundle(index)
        assert bad.defect == defect
        assert bad.description
        assert bad.bundle != good
        assert bad.expression.startswith("Bundle.entry[")
        # the element named, or the one holding it when the defect removed it, exists in the broken bundle
        parent = bad.expression.rsplit(".", 1)[0]
        assert _resolve(bad.bundle, bad.expression) is not _MISSING or _resolve(bad.bundle, parent) is not _MISSING
    assert gen.invalid(7).defect in DEFECTS  # drawn when not named
    with pytest.raises(ValueError, match="unknown defect"):
        gen.invalid(0, "nope")


def test_structural_defects_fail_generic_validation_at_the_named_element() -> None:
    """The defects the R4 rules alone catch: the platform's generic validator names the same element."""
    gen = _gen()
    generic = {
        "bad-gender", "bad-encounter-status", "bad-observation-status", "impossible-onset", "birth-date-retyped",
        "missing-subject", "missing-observation-code", "unknown-element", "name-retyped",
    }  # fmt: skip
    for defect in sorted(generic):
        bad = gen.invalid(4, defect)
        result = validate(bad.bundle)
        errors = [i.expression for i in result.issues if i.is_error]
        assert any(e == bad.expression or (e or "").startswith(bad.expression) for e in errors), (defect, errors)


def test_demo_districts_are_the_demo_tree_districts() -> None:
    districts = generate.demo_districts(subset=True)
    assert len([d for d in districts if d.startswith("09")]) == 23  # Upper Bavaria only
    assert {"09162", "DE-BE-frkr"} <= set(districts)
    assert len(generate.demo_districts()) > 150
    g = CaseGenerator(1, districts=districts).generate(0)
    assert g.facts.district in districts


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="district"):
        CaseGenerator(1, districts=[])
    with pytest.raises(ValueError, match="before"):
        CaseGenerator(1, districts=DISTRICTS, start=dt.date(2024, 2, 1), end=dt.date(2024, 1, 1))


_MISSING = object()


def _resolve(data: Any, expression: str) -> Any:
    """The value at a FHIRPath-like expression ``Bundle.entry[1].resource.code.coding[0]`` (or ``_MISSING``)."""
    import re

    current = data
    for part in re.split(r"\.(?!ofType)", expression)[1:]:
        m = re.fullmatch(r"(\w+)(?:\[(\d+)\]|\.ofType\((\w+)\))?", part)
        assert m, part
        key = m.group(1) + (m.group(3)[0].upper() + m.group(3)[1:] if m.group(3) else "")
        if not isinstance(current, dict) or key not in current:
            return _MISSING
        current = current[key]
        if m.group(2) is not None:
            if not isinstance(current, list) or int(m.group(2)) >= len(current):
                return _MISSING
            current = current[int(m.group(2))]
    return current
