"""The FHIR case intake under generated and broken input.

Generated case Bundles (:mod:`dhnet.cases.generate`) are accepted, stored once, and a resent Bundle stores nothing
new; each known defect is refused with a 4xx ``OperationOutcome`` naming its element; and hypothesis mutates valid
Bundles (elements removed, retyped, overlong, references broken, dates and code systems wrong) and posts random JSON
to every case endpoint: never a 500, always an OperationOutcome with element paths, and nothing stored — not a case,
not a resource, not a vault entry, not an audit record — from a rejected request.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.cases.generate import DEFECTS, CaseGenerator
from dhnet.cases.models import Case, LabResult
from dhnet.consent.models import ConsentDecision
from dhnet.fhir.models import ResourceIdentifier, StoredResource
from dhnet.fhir.registry import HANDLERS
from dhnet.identity.models import BlindIndex, MatchCandidate, Person
from dhnet.reporting.models import CountValue, ImportBatch
from tests.platform.fixtures import login

DISTRICTS = ("D11", "D12", "D21")
FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much]
TABLES = (Case, LabResult, StoredResource, ResourceIdentifier, Person, BlindIndex, MatchCandidate, ConsentDecision,
          CountValue, ImportBatch, AuditRecord)  # fmt: skip
CASE_TYPES = ("Patient", "Condition", "Encounter", "Observation", "Consent")


def generator(seed: int = 5) -> CaseGenerator:
    """Bundles for the test tree; with Consent entries only once the server takes them."""
    return CaseGenerator(seed, districts=DISTRICTS, consent_share=0.3 if "Consent" in HANDLERS else 0.0)


def state() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data, content_type="application/fhir+json", **headers)


def expressions(response: Any) -> list[str]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"], body
    return [e for issue in body["issue"] for e in issue.get("expression", [])]


def normal(expression: str) -> str:
    """``onset.ofType(dateTime)`` and ``onsetDateTime`` name the same element."""
    return re.sub(r"\.ofType\((\w)(\w*)\)", lambda m: m.group(1).upper() + m.group(2), expression)


def names(found: str, expected: str) -> bool:
    """Whether an issue's expression names the expected element: itself, inside it, or an element of the same
    resource that holds it (``...code`` for ``...code.coding[0].system``)."""
    found, expected = normal(found), normal(expected)
    if found == expected or found.startswith((expected + ".", expected + "[")):
        return True
    resource_root = expected.split(".resource", 1)[0] + ".resource"
    return expected.startswith((found + ".", found + "[")) and found.startswith(resource_root + ".")


def check_refused(client: Client, body: Any, url: str = "/fhir", **headers: str) -> Any:
    """Posts ``body``; when refused, the answer is a 4xx OperationOutcome and nothing was stored."""
    before = state()
    response = post(client, url, body, **headers)
    assert response.status_code < 500, response.content[:2000]
    assert response["Content-Type"].startswith("application/fhir+json")
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"
        assert state() == before, response.content[:2000]
    return response


def check_retry(client: Client, body: Any, url: str = "/fhir") -> None:
    """Sending an accepted payload again stores nothing new (audit records of the reads aside)."""
    after = {k: v for k, v in state().items() if k != "AuditRecord"}
    again = post(client, url, body)
    assert again.status_code in (200, 201), again.content[:2000]
    assert {k: v for k, v in state().items() if k != "AuditRecord"} == after


@pytest.fixture
def national(users: dict[str, User]) -> Client:
    """The national epidemiologist: writes case reports in every district."""
    return login(Client(), users["national_epidemiologist"])


# --- generated bundles ---------------------------------------------------------------------------------------------


def test_generated_bundles_are_stored_once(national: Client) -> None:
    gen = generator()
    count = 40
    generated = [gen.generate(i) for i in range(count)]
    for g in generated:
        response = post(national, "/fhir", g.bundle)
        assert response.status_code == 200, (g.facts, response.content[:3000])
        statuses = {e["response"]["status"] for e in response.json()["entry"]}
        assert statuses <= {"201 Created", "200 OK"}
    assert Case.objects.count() == count
    assert LabResult.objects.count() == sum(g.facts.lab_results for g in generated)
    for g in generated[:10]:
        case = Case.objects.get(
            source_system=g.facts.condition_identifier[0], source_value=g.facts.condition_identifier[1]
        )
        assert (case.orgunit.code, case.disease.code, case.classification) == (
            g.facts.district,
            g.facts.disease,
            g.facts.classification,
        )
        assert (case.onset_date, case.sex, case.icd_code) == (g.facts.onset_date, g.facts.sex, g.facts.icd_code)
    before = {k: v for k, v in state().items() if k != "AuditRecord"}
    for g in generated:
        again = post(national, "/fhir", g.bundle)
        assert again.status_code == 200
        assert {e["response"]["status"] for e in again.json()["entry"]} == {"200 OK"}
    assert {k: v for k, v in state().items() if k != "AuditRecord"} == before


def test_returning_persons_keep_their_pseudonym(national: Client) -> None:
    gen = CaseGenerator(9, districts=DISTRICTS, returning=0.5, national_id_share=1.0, consent_share=0.0)
    by_person: dict[int, list[tuple[str, str]]] = {}
    for i in range(30):
        g = gen.generate(i)
        assert post(national, "/fhir", g.bundle).status_code == 200
        by_person.setdefault(g.facts.person, []).append(g.facts.condition_identifier)
    repeated = [keys for keys in by_person.values() if len(keys) > 1]
    assert repeated
    for keys in repeated:
        pseudonyms = {Case.objects.get(source_system=s, source_value=v).pseudonym for s, v in keys}
        assert len(pseudonyms) == 1


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_known_defects_are_refused_naming_the_element(national: Client, defect: str) -> None:
    bad = generator().invalid(3, defect)
    response = check_refused(national, bad.bundle)
    assert 400 <= response.status_code < 500, (defect, response.content[:2000])
    found = expressions(response)
    assert any(names(e, bad.expression) for e in found), (defect, bad.expression, response.content[:2000])


def test_a_defect_in_one_bundle_of_many_leaves_the_others(national: Client) -> None:
    gen = generator(8)
    for i in range(6):
        body = gen.invalid(i).bundle if i % 2 else gen.bundle(i)
        response = check_refused(national, body)
        assert (response.status_code == 200) == (i % 2 == 0), response.content[:2000]
    assert Case.objects.count() == 3


@pytest.mark.parametrize("entry", [5, True, 1.5])
def test_bundle_entry_not_an_array(national: Client, entry: Any) -> None:
    """Found by the mutation test below: a number or boolean as Bundle.entry was a 500."""
    response = check_refused(national, {"resourceType": "Bundle", "type": "transaction", "entry": entry})
    assert response.status_code == 400
    assert "Bundle.entry" in expressions(response)


@pytest.mark.parametrize(
    ("path", "value", "expression"),
    [
        (("telecom", 0, "value"), "Patient/nope", "telecom[0].value"),
        (("telecom", 0, "value"), "12", "telecom[0].value"),
        (("identifier", 0, "value"), "9" * 300, "identifier[0].value"),
    ],
)
def test_identity_checks_name_the_element(national: Client, path: tuple[Any, ...], value: str, expression: str) -> None:
    body = generator(30).bundle(0)
    _set(body["entry"][0]["resource"], path, value, remove=False)
    response = check_refused(national, body)
    assert response.status_code == 400
    assert f"Bundle.entry[0].resource.{expression}" in expressions(response)


# --- mutations -------------------------------------------------------------------------------------------------------


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every element path inside a resource (dict keys and list indexes)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*prefix, i)
            yield from paths(item, (*prefix, i))


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip
SPECIAL = st.sampled_from(
    [
        "", " ", "x" * 70_000, "2024-02-30", "2024-13-01", "0000-01-01", "1899-12-31", "3024-01-01", "2024-01-01T25:00",
        "2024-01-01T10:00:00", "24-01-01", "2024/01/01", "urn:uuid:00000000-0000-4000-8000-000000000009",
        "Patient/nope", "#missing", "Observation/x/_history/1", "http://unknown.example/system", "urn:oid:1.2.3",
        "male", "M", "final", "finished", "1F03", "A00", "ZZZ", "20479-8", "\x00", "ü" * 300, "D11", "R1", "NOPE",
        "http://hl7.org/fhir/sid/icd-10", "http://id.who.int/icd/release/11/mms", "http://loinc.org",
    ]
)  # fmt: skip


def _set(target: Any, path: tuple[Any, ...], value: Any, remove: bool) -> None:
    for part in path[:-1]:
        target = target[part]
    if remove:
        del target[path[-1]]
    else:
        target[path[-1]] = value


@given(data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURES)
def test_mutated_bundles_never_fail_and_store_nothing_when_refused(national: Client, data: st.DataObject) -> None:
    gen = generator(21)
    index = data.draw(st.integers(min_value=0, max_value=400), label="bundle")
    body = copy.deepcopy(gen.bundle(index))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        candidates = list(paths(body))  # every element of the (already mutated) Bundle, resourceType included
        path = data.draw(st.sampled_from(candidates), label="path")
        remove = data.draw(st.booleans(), label="remove")
        value = data.draw(SPECIAL | JSON, label="value")
        _set(body, path, value, remove)
    response = check_refused(national, body)
    if response.status_code >= 400:
        expressions(response)  # an OperationOutcome
        # every issue names its element, unless the body is no Bundle at all (its resourceType was mutated)
        if response.status_code != 403 and isinstance(body, dict) and body.get("resourceType") == "Bundle":
            unlocated = [i for i in response.json()["issue"] if not i.get("expression")]
            assert not unlocated, response.content[:2000]
    else:
        check_retry(national, body)


@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
def test_mutated_single_creates(national: Client, data: st.DataObject) -> None:
    gen = generator(22)
    bundle = gen.bundle(data.draw(st.integers(min_value=0, max_value=200), label="bundle"))
    entries = [e for e in bundle["entry"] if e["resource"]["resourceType"] in ("Patient", "Encounter")]
    entry = copy.deepcopy(data.draw(st.sampled_from(entries), label="entry"))
    resource = entry["resource"]
    url = f"/fhir/{resource['resourceType']}"
    candidates = list(paths(resource))
    if data.draw(st.booleans(), label="mutate"):
        path = data.draw(st.sampled_from(candidates), label="path")
        _set(resource, path, data.draw(SPECIAL | JSON, label="value"), data.draw(st.booleans(), label="remove"))
    header = data.draw(
        st.sampled_from([entry["request"]["ifNoneExist"], "", "identifier=", "name=x", "identifier=a|b&identifier=c"])
        | st.text(max_size=30),
        label="If-None-Exist",
    )
    headers = {"HTTP_IF_NONE_EXIST": header} if header else {}
    assume(all(ord(c) < 0x80 and c.isprintable() for c in header))
    response = check_refused(national, resource, url, **headers)
    if response.status_code >= 400:
        named = expressions(response) or response.status_code == 403
        assert named or "If-None-Exist" in response.content.decode() or resource.get("resourceType") != url[6:]
    else:
        check_retry(national, resource, url)


@given(body=JSON | st.fixed_dictionaries({"resourceType": st.sampled_from(CASE_TYPES)}, optional={"id": JSON}))
@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
def test_random_json_at_every_case_endpoint(national: Client, body: Any) -> None:
    for url in ("/fhir", *(f"/fhir/{t}" for t in CASE_TYPES if t in HANDLERS)):
        response = check_refused(national, body, url)
        assert response.status_code >= 400


def test_references_between_bundles_resolve_only_to_stored_resources(national: Client) -> None:
    """An Observation sent alone refers to a Patient and Encounter stored by an earlier Bundle (by their ids)."""
    gen = generator(23)
    first = post(national, "/fhir", gen.bundle(0)).json()
    ids = {e["response"]["location"].split("/")[0]: "/".join(e["response"]["location"].split("/")[:2])
           for e in first["entry"]}  # fmt: skip
    lab = copy.deepcopy(next(e for e in gen.bundle(1)["entry"] if e["resource"]["resourceType"] == "Encounter"))
    resource = lab["resource"]
    resource["subject"] = {"reference": ids["Patient"]}
    stored = check_refused(national, resource, "/fhir/Encounter")
    assert stored.status_code in (200, 201), stored.content[:2000]
    resource["identifier"][0]["value"] += "-b"
    resource["subject"] = {"reference": "Patient/does-not-exist"}
    refused = check_refused(national, resource, "/fhir/Encounter")
    assert refused.status_code in (400, 404, 422)
    assert any(
        names(e, "Encounter.subject.reference") or e.startswith("Encounter.subject") for e in expressions(refused)
    )


def test_an_overlong_name_is_refused_at_its_element(national: Client) -> None:
    """Found by the mutation test: the vault's length check of a name reached the client without the element."""
    body = generator(30).bundle(0)
    body["entry"][0]["resource"]["name"][0]["family"] = "ü" * 300
    response = check_refused(national, body)
    assert response.status_code == 400
    assert "Bundle.entry[0].resource.name[0].family" in expressions(response)
